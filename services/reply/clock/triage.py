"""The "five questions" triage of an application (五问: 补不补 / 该不该 / 有没有 / 给不给 / 当不当).

The OGI office answers them in order; each answer is recorded with who answered and when, and the
answers decide the next step:

1. 补不补 — does the application need correction (Art. 30)? yes → request a correction.
2. 该不该 — is it an OGI application at all (Arts. 38–39, 36(6)(7))? no → close as not-OGI with
   the matching outcome (petition, publication, repeat, other law…).
3. 有没有 — does this agency hold the information (Arts. 10, 36(4)(5))? not this agency → refer to
   the responsible one; not held / needs compiling → 无法提供; unknown → search the departments.
4. 给不给 — may it be disclosed (Arts. 14–16, 37)? → disclose, partially disclose or withhold,
   with the reason code(s) of ``contracts.decisions``.
5. 当不当 — is the reply proper (form, delivery, reasons, time limit)? yes → issue the reply;
   no → revise.

The outcome codes are those of ``contracts.decisions`` (each mapped to one annual-report row).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from contracts.decisions import BY_CODE


class Question(StrEnum):
    CORRECTION = "correction"  # 补不补
    SCOPE = "scope"  # 该不该
    EXISTENCE = "existence"  # 有没有
    DISCLOSURE = "disclosure"  # 给不给
    PROPRIETY = "propriety"  # 当不当


QUESTION_ZH = {
    Question.CORRECTION: "补不补",
    Question.SCOPE: "该不该",
    Question.EXISTENCE: "有没有",
    Question.DISCLOSURE: "给不给",
    Question.PROPRIETY: "当不当",
}
ORDER = tuple(Question)

# The answers each question allows.
ANSWERS: dict[Question, frozenset[str]] = {
    Question.CORRECTION: frozenset({"needs_correction", "clear"}),
    Question.SCOPE: frozenset({"ogi", "not_ogi"}),
    Question.EXISTENCE: frozenset({"held", "not_this_agency", "not_held", "unknown"}),
    Question.DISCLOSURE: frozenset({"disclose", "partial", "withhold"}),
    Question.PROPRIETY: frozenset({"proper", "revise"}),
}
# Outcome codes an answer may carry (None: no outcome code for that answer).
_OUTCOME_PREFIX = {
    ("scope", "not_ogi"): ("not_processed.", "withheld.inquiry_matter", "other.other_law"),
    ("existence", "not_this_agency"): ("unavailable.not_this_agency",),
    ("existence", "not_held"): ("unavailable.not_held", "unavailable.needs_compiling"),
    ("disclosure", "withhold"): ("withheld.",),
    ("disclosure", "partial"): ("withheld.",),  # one reason per withheld part (Art. 37)
}


class TriageRefused(ValueError):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Answer:
    question: Question
    answer: str
    by: str  # the officer's display name (from the verified token)
    at: datetime
    outcome_codes: tuple[str, ...] = ()  # contracts.decisions codes
    note: str = ""
    referral_agency: str | None = None  # for not_this_agency
    by_subject: str | None = None  # the officer's subject (OIDC ``sub``)


@dataclass(frozen=True)
class Triage:
    answers: tuple[Answer, ...] = ()  # every answer recorded, latest last (history kept)

    def current(self) -> dict[Question, Answer]:
        out: dict[Question, Answer] = {}
        for a in self.answers:
            out[a.question] = a
        return out


def record(triage: Triage, answer: Answer) -> Triage:
    """Record an answer (a later answer to the same question supersedes the earlier one)."""
    if answer.answer not in ANSWERS[answer.question]:
        raise TriageRefused(f"“{QUESTION_ZH[answer.question]}”的答案无效：{answer.answer}")
    if not answer.by.strip():
        raise TriageRefused("请注明作答人")
    allowed = _OUTCOME_PREFIX.get((answer.question.value, answer.answer))
    for code in answer.outcome_codes:
        if code not in BY_CODE:
            raise TriageRefused(f"未知的处理结果代码：{code}")
        if allowed is None or not any(code == p or (p.endswith(".") and code.startswith(p)) for p in allowed):
            raise TriageRefused(f"处理结果代码{code}与“{QUESTION_ZH[answer.question]}”的答案不符")
    if allowed is not None and not answer.outcome_codes:
        raise TriageRefused(f"“{QUESTION_ZH[answer.question]}”的该答案须注明理由（处理结果代码）")
    if answer.answer == "not_this_agency" and not (answer.referral_agency or "").strip():
        raise TriageRefused("不属于本机关负责公开的，应当告知负责机关的名称和联系方式（《条例》第三十六条第五项）")
    cur = triage.current()
    for q in ORDER[: ORDER.index(answer.question)]:
        if q not in cur:
            raise TriageRefused(f"请先回答“{QUESTION_ZH[q]}”")
    return replace(triage, answers=(*triage.answers, answer))


class Step(StrEnum):
    ANSWER = "answer"  # answer the question named in Next.question
    REQUEST_CORRECTION = "request_correction"
    CLOSE_NOT_OGI = "close_not_ogi"
    REFER = "refer"
    UNAVAILABLE = "unavailable"
    SEARCH = "search"
    DISCLOSE = "disclose"
    PARTIAL = "partial"
    WITHHOLD = "withhold"
    REVISE = "revise"
    ISSUE_REPLY = "issue_reply"


STEP_ZH = {
    Step.ANSWER: "请回答",
    Step.REQUEST_CORRECTION: "一次性告知申请人补正（《条例》第三十条）",
    Step.CLOSE_NOT_OGI: "不作为政府信息公开申请处理，告知相应渠道",
    Step.REFER: "告知申请人负责公开的机关（《条例》第三十六条第五项）",
    Step.UNAVAILABLE: "告知申请人无法提供（《条例》第三十六条第四项、第三十八条）",
    Step.SEARCH: "交相关部门检索",
    Step.DISCLOSE: "予以公开",
    Step.PARTIAL: "部分公开，逐项说明不予公开的理由（《条例》第三十七条）",
    Step.WITHHOLD: "不予公开，说明理由（《条例》第三十六条第三项）",
    Step.REVISE: "修改答复",
    Step.ISSUE_REPLY: "出具答复书",
}


@dataclass(frozen=True)
class Next:
    step: Step
    question: Question | None = None
    outcome_codes: tuple[str, ...] = ()
    referral_agency: str | None = None

    def text_zh(self) -> str:
        if self.step is Step.ANSWER and self.question is not None:
            return f"{STEP_ZH[self.step]}“{QUESTION_ZH[self.question]}”"
        return STEP_ZH[self.step]


def next_step(triage: Triage, *, correction_received: bool = False) -> Next:
    """The next step the recorded answers lead to.

    ``correction_received``: once the corrected application is in, 补不补 is asked again (a
    second correction notice is not allowed, so "needs correction" after it means the content is
    still unclear → 无法提供, outcome ``unavailable.still_unclear``).
    """
    cur = triage.current()
    a = cur.get(Question.CORRECTION)
    if a is None:
        return Next(Step.ANSWER, Question.CORRECTION)
    if a.answer == "needs_correction":
        if correction_received:
            return Next(Step.UNAVAILABLE, outcome_codes=("unavailable.still_unclear",))
        return Next(Step.REQUEST_CORRECTION)
    a = cur.get(Question.SCOPE)
    if a is None:
        return Next(Step.ANSWER, Question.SCOPE)
    if a.answer == "not_ogi":
        return Next(Step.CLOSE_NOT_OGI, outcome_codes=a.outcome_codes)
    a = cur.get(Question.EXISTENCE)
    if a is None:
        return Next(Step.ANSWER, Question.EXISTENCE)
    if a.answer == "not_this_agency":
        return Next(Step.REFER, outcome_codes=a.outcome_codes, referral_agency=a.referral_agency)
    if a.answer == "not_held":
        return Next(Step.UNAVAILABLE, outcome_codes=a.outcome_codes)
    if a.answer == "unknown":
        return Next(Step.SEARCH)
    a = cur.get(Question.DISCLOSURE)
    if a is None:
        return Next(Step.ANSWER, Question.DISCLOSURE)
    decided = {"disclose": Step.DISCLOSE, "partial": Step.PARTIAL, "withhold": Step.WITHHOLD}[a.answer]
    p = cur.get(Question.PROPRIETY)
    if p is None:
        # The decision is known; 当不当 checks the reply before it is issued.
        return Next(Step.ANSWER, Question.PROPRIETY, outcome_codes=a.outcome_codes)
    if p.answer == "revise":
        return Next(Step.REVISE, outcome_codes=a.outcome_codes)
    codes = {
        Step.DISCLOSE: ("disclosed",),
        Step.PARTIAL: ("partial", *a.outcome_codes),
        Step.WITHHOLD: a.outcome_codes,
    }[decided]
    return Next(Step.ISSUE_REPLY, outcome_codes=codes)
