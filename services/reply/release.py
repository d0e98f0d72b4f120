"""What happens to a case in the reply service, as pure functions: the changes and the events.

Given the case document (collection ``cases``, see ``services.reply.cases``) and one input, a
``plan_*`` function says what changes (``Plan.set`` / ``Plan.push``), which events follow
(``Plan.emits``: event data, deterministic id, cause, topics) and the outcome; it raises the
refusal when the input cannot be accepted. Nothing here does I/O: ``services.reply.cases`` loads
the case, applies a plan in one write conditional on the case's ``reply_rev`` with its outbox
records (a lost race: planned again from a fresh read) and renders the reply's documents.

- answers: ``plan_answer`` (a draft, a signed-off answer, a draft replaced, the sign-off of the
  same answer, duplicates ignored), ``plan_sign_off`` (the 保密审查 of a draft, four eyes),
  ``plan_refusal`` (``answer.refused``);
- the routing: ``plan_reroute`` (``case.rerouted``: the open tasks), ``plan_referral``
  (``referral.recorded``: a part, or the whole case, is another agency's);
- the OGI office: ``plan_close`` (closed with answers missing), ``plan_resolve`` (a contradiction);
- the release: ``plan_advance`` — flag new contradictions, hold while one is unresolved, issue
  the one reply when ready (``services.reply.aggregation.readiness``), amend it with late answers,
  or nothing. A reply or amendment comes with its ``Release``: what the store renders and stores.

``open_departments`` is the one definition of a department still to act on a case: its task is
open until its answer is signed off. The case's ``open_depts`` (the departments' listings) and
the clock's overdue and due-soon lists both use it.

Event ids are derived from the case, the task, the answer's content hash or the sequence number,
so planning the same input again (a retry, a redelivery) plans the same events.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from contracts import events_routing as er
from contracts import topics
from contracts.envelope import EventData, deterministic_id
from contracts.events import (
    Answer,
    AnswerRecorded,
    AnswerRefused,
    CaseClosed,
    ConfidentialityReview,
    ContradictionEntry,
    ContradictionFlagged,
    ContradictionResolved,
    MissingAnswer,
    ReplyAmended,
    ReplyIssued,
    ReopenedTask,
    ReplyPart,
    ResponsibleAgencyRef,
)
from contracts.vocabulary import ReplyType
from services.reply import aggregation as agg

CHINA = ZoneInfo("Asia/Shanghai")
OGI_DEPT = "ogi-office"  # the "department" of a referral part: the OGI office itself
DEFAULT_OFFICE = "政府信息公开工作机构"
ANSWERS = topics.ANSWERS_RECORDED.name

# Outcomes of ``plan_advance``.
FLAG, HOLD, ISSUE, AMEND, NOTHING = "flagged", "held", "issued", "amended", "nothing"


class AnswerRefusal(Exception):
    """An answer (or sign-off) that cannot be accepted; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class RecordRefusal(Exception):
    """A refusal to record on the case (``answer.refused``, see ``plan_refusal``) before raising it;
    ``detail`` tells apart refusals of different inputs (the answer's content hash)."""

    def __init__(self, refusal: AnswerRefusal, detail: str) -> None:
        super().__init__(refusal.message)
        self.refusal = refusal
        self.detail = detail


class OgiRefusal(Exception):
    """A change the OGI office cannot make; ``status`` is the HTTP status, ``message`` Chinese."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Officer:
    """Who acted, from the verified token: the subject (OIDC ``sub``) and the display name."""

    subject: str
    name: str

    def dump(self) -> dict[str, str]:
        return {"subject": self.subject, "name": self.name}


@dataclass(frozen=True)
class Emit:
    """An event a change produces: its data, deterministic id and cause, and the topics it goes to
    (each one an outbox record of the same event)."""

    data: EventData
    event_id: str
    causation_id: str | None = None
    topics: tuple[str, ...] = (ANSWERS,)


@dataclass
class Release:
    """The reply (``kind`` "reply") or an amendment ("amendment") to issue. The store renders the
    document of ``parts`` / ``decision`` / ``notes`` (``services.reply.reply_docs``), stores it as
    ``document_id``, adds its hash (``add_document``) and writes the plan with ``document.issued``
    (``document_kind``, caused by ``emit``) next to the reply's event."""

    kind: str
    document_kind: str  # consolidated_reply | reply_amendment (document.issued ``kind``)
    document_id: str
    seq: int
    parts: list[ReplyPart]  # the parts the document shows (an amendment: the late ones)
    decision: ReplyType  # the decision the document states
    notes: list[str]
    received_on: date
    issued_on: date
    entry: dict[str, Any]  # the case's ``reply``, or the new ``amendments`` entry (the very dict in ``Plan.set``)
    emit: Emit

    def add_document(self, sha256: str) -> None:
        """The stored PDF's hash goes with the reply (or amendment) entry."""
        self.entry["sha256"] = sha256


@dataclass
class Plan:
    """One change of one case: ``outcome`` (what happened), the fields to set and arrays to push to,
    the events, an extra condition of the write (``guard``), what the caller gets (``result``) and,
    to issue a reply or amendment, its ``Release``."""

    outcome: str
    set: dict[str, Any] = field(default_factory=dict)
    push: dict[str, Any] = field(default_factory=dict)
    emits: list[Emit] = field(default_factory=list)
    guard: dict[str, Any] | None = None
    result: Any = None  # noqa: ANN401
    release: Release | None = None

    @property
    def writes(self) -> bool:
        return bool(self.set or self.push or self.emits)


# --------------------------------------------------------------------------- the case's tasks


def signed_off(answers: Iterable[Mapping[str, Any]]) -> set[str]:
    """The tasks whose answer is signed off (保密审查): done for their departments."""
    return {a["task_id"] for a in answers if a.get("review") is not None}


def open_departments(tasks: Iterable[Mapping[str, Any]], answers: Iterable[Mapping[str, Any]]) -> list[str]:
    """The departments (codes, sorted) with an open task whose answer is not yet signed off
    (保密审查): a draft, or an answer awaiting its sign-off, keeps the department open."""
    signed = signed_off(answers)
    return sorted({t["dept_code"] for t in tasks if t["task_id"] not in signed})


def derived(tasks: list[dict[str, Any]], answers: list[dict[str, Any]]) -> dict[str, Any]:
    """The case fields that follow from its tasks and answers: ``open_depts`` (the departments'
    listings) and ``answered_count``."""
    answered = {a["task_id"] for a in answers}
    return {
        "open_depts": open_departments(tasks, answers),
        "answered_count": sum(1 for t in tasks if t["task_id"] in answered),
    }


def task_of(case: dict[str, Any], task_id: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(the open task, the withdrawn task) of that id: at most one of them is not None."""
    task = next((t for t in case["tasks"] if t["task_id"] == task_id), None)
    gone = next((w for w in case.get("withdrawn") or [] if w["task_id"] == task_id), None)
    return task, gone


def answer_of(case: dict[str, Any], task_id: str) -> dict[str, Any] | None:
    return next((a for a in case["answers"] if a["task_id"] == task_id), None)


def content_hash(answer: Answer) -> str:
    raw = json.dumps(answer.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


# --------------------------------------------------------------------------- answers


def plan_refusal(case: dict[str, Any], task_id: str, dept_code: str, via: str, refusal: AnswerRefusal,
                 detail: str, now: datetime) -> Plan | None:
    """The trace of a refused answer (``refused`` entry + ``answer.refused``); None: recorded already."""
    event_id = deterministic_id("answer.refused", task_id, dept_code, refusal.code, detail)
    if any(r.get("event_id") == event_id for r in case.get("refused") or []):
        return None
    data = AnswerRefused(case_id=case["_id"], task_id=task_id, dept_code=dept_code, via=via, code=refusal.code,
                         status=refusal.status, message=refusal.message)
    entry = {"task_id": task_id, "dept_code": dept_code, "code": refusal.code, "via": via,
             "event_id": event_id, "at": now}
    return Plan("refused", push={"refused": entry}, emits=[Emit(data, event_id)], result=refusal)


def plan_answer(case: dict[str, Any], task_id: str, dept_code: str, answer: Answer, via: str, now: datetime, *,
                causation_id: str | None = None, review: ConfidentialityReview | None = None,
                author: Officer | None = None) -> Plan:
    """A department's answer to its task: recorded (signed off when ``review`` is given, else a
    draft), a draft replaced, the sign-off of the very answer recorded as a draft, or nothing (the
    same answer again). ``result``: recorded | draft_recorded | signed_off | already_recorded.
    Raises ``RecordRefusal`` (another department's task, a withdrawn one, an incoherent answer, a
    different answer after the sign-off) or ``AnswerRefusal`` (four eyes)."""
    task, gone = task_of(case, task_id)
    owner = task or gone
    assert owner is not None
    detail = content_hash(answer)
    if owner["dept_code"] != dept_code:
        raise RecordRefusal(AnswerRefusal(403, "not_your_task", f"任务 {task_id} 不属于部门 {dept_code}，不能答复"), detail)
    if task is None:
        raise RecordRefusal(AnswerRefusal(409, "task_withdrawn", f"任务 {task_id} 已由政府信息公开工作机构撤回，不能答复"),
                            detail)
    try:
        agg.check_answer(answer)
    except agg.AnswerInvalid as exc:
        raise RecordRefusal(AnswerRefusal(422, "invalid_answer", str(exc)), detail) from None
    previous = answer_of(case, task_id)
    if previous is not None and previous.get("hash") == detail:
        if review is None or previous.get("review") is not None:
            return Plan("already_recorded", result="already_recorded")
        return plan_signature(case, previous, review, via)  # the same answer, now with its sign-off
    if previous is not None and previous.get("review") is not None:
        raise RecordRefusal(AnswerRefusal(409, "conflicting_answer", "该任务已有经保密审查的不同答复，不能重复答复"), detail)
    # A new answer, or a draft replaced before its sign-off.
    late = bool(case["reply_issued"])
    again = _answering_again(case, task_id)
    event_id = (deterministic_id("answer.recorded", task_id, *again) if previous is None and review is not None
                else deterministic_id("answer.recorded", task_id, detail, "signed" if review else "draft", *again))
    data = AnswerRecorded(case_id=case["_id"], task_id=task_id, dept_code=dept_code, via=via, answer=answer,
                          review=review, draft=review is None, late=late,
                          answered_by=author.name if author else None,
                          answered_by_subject=author.subject if author else None)
    entry = {"task_id": task_id, "dept_code": dept_code, "dept_name": task["dept_name"],
             "answer": answer.model_dump(mode="json"), "hash": detail,
             "review": review.model_dump(mode="json") if review else None, "via": via,
             "author": author.dump() if author else None, "at": now, "event_id": event_id, "late": late}
    answers = [a for a in case["answers"] if a["task_id"] != task_id] + [entry]
    status = "recorded" if review else "draft_recorded"
    return Plan(status, set={"answers": answers, **derived(case["tasks"], answers)},
                emits=[Emit(data, event_id, causation_id or deterministic_id("task.assigned", task_id))],
                result=status)


def plan_signature(case: dict[str, Any], previous: dict[str, Any], review: ConfidentialityReview, via: str) -> Plan:
    """The sign-off (保密审查) of the recorded draft ``previous``: by a second person (four eyes)."""
    author = previous.get("author") or {}
    if review.reviewer_subject is not None and review.reviewer_subject == author.get("subject"):
        # Four eyes: the 保密审查 is a second person's (checked on the very draft being signed).
        raise AnswerRefusal(403, "four_eyes", "保密审查须由撰写答复者以外的本部门审查人进行，不能审查本人撰写的答复")
    late = bool(case["reply_issued"])
    event_id = deterministic_id("answer.recorded", previous["task_id"], previous["hash"], "signed",
                                *_answering_again(case, previous["task_id"]))
    data = AnswerRecorded(case_id=case["_id"], task_id=previous["task_id"], dept_code=previous["dept_code"], via=via,
                          answer=Answer.model_validate(previous["answer"]), review=review, draft=False, late=late,
                          answered_by=author.get("name"), answered_by_subject=author.get("subject"))
    answers = [a if a["task_id"] != previous["task_id"]
               else {**a, "review": review.model_dump(mode="json"), "event_id": event_id, "late": late}
               for a in case["answers"]]
    return Plan("signed_off", set={"answers": answers, **derived(case["tasks"], answers)},
                emits=[Emit(data, event_id, previous.get("event_id"))], result="signed_off")


def _answering_again(case: dict[str, Any], task_id: str) -> tuple[str, ...]:
    """The part of an answer's event id that tells the rounds apart: empty for the first answer of
    a task, ``("reopened-<n>",)`` after the OGI office set its answer aside ``n`` times
    (``plan_resolve``), so an answer given again (even the same one) is a new fact, not a
    duplicate of the set-aside one to the ledger and the consumers."""
    n = sum(1 for c in case.get("contradictions") or [] if c.get("resolved") and task_id in (c.get("reopened") or []))
    return (f"reopened-{n}",) if n else ()


def plan_sign_off(case: dict[str, Any], task_id: str, dept_code: str, review: ConfidentialityReview,
                  via: str) -> Plan:
    """The reviewer's sign-off of the task's draft; ``result`` signed_off | already_recorded."""
    task, gone = task_of(case, task_id)
    owner = task or gone
    assert owner is not None
    if owner["dept_code"] != dept_code:
        raise RecordRefusal(AnswerRefusal(403, "not_your_task", f"任务 {task_id} 不属于部门 {dept_code}，不能签署"),
                            "sign-off")
    if task is None:
        raise AnswerRefusal(409, "task_withdrawn", f"任务 {task_id} 已撤回")
    previous = answer_of(case, task_id)
    if previous is None:
        raise AnswerRefusal(409, "no_answer", "该任务尚无答复，无法进行保密审查签署")
    if previous.get("review") is not None:
        return Plan("already_recorded", result="already_recorded")
    if previous.get("sent_back"):
        raise AnswerRefusal(409, "sent_back", "该答复草稿已退回撰写人修改，须待其重新提交后再审查签署")
    return plan_signature(case, previous, review, via)


# --------------------------------------------------------------------------- the routing


def plan_reroute(case: dict[str, Any], ev: er.CaseRerouted) -> Plan | None:
    """The OGI office changed the departments: the open tasks become ``ev.tasks``, the others are
    withdrawn (a task given back is open again). None: this change (or a later one) is applied."""
    if ev.change_seq <= case.get("route_seq", 0):
        return None
    new_tasks = [t.model_dump() for t in ev.tasks]
    new_ids = {t["task_id"] for t in new_tasks}
    withdrawn = list(case.get("withdrawn") or [])
    known = {w["task_id"] for w in withdrawn}
    gone = [t for t in case["tasks"] if t["task_id"] not in new_ids]
    gone += [w.model_dump() for w in ev.withdrawn]
    for t in gone:
        if t["task_id"] not in known and t["task_id"] not in new_ids:
            withdrawn.append({"task_id": t["task_id"], "dept_code": t["dept_code"], "dept_name": t["dept_name"]})
            known.add(t["task_id"])
    withdrawn = [w for w in withdrawn if w["task_id"] not in new_ids]  # reassigned back
    return Plan("rerouted", set={"tasks": new_tasks, "withdrawn": withdrawn, "route_seq": ev.change_seq,
                                 "expected": len(new_tasks), **derived(new_tasks, case["answers"])}, result=True)


def plan_referral(case: dict[str, Any], ev: er.ReferralRecorded) -> Plan | None:
    """A referral (Art. 36(5)): its withdrawn tasks leave the case; the referral becomes a part of
    the reply (partial) or the reply itself (whole case). None: recorded already."""
    if any(r["referral_id"] == ev.referral_id for r in case.get("referrals") or []):
        return None
    gone = {w.task_id for w in ev.withdrawn}
    tasks = [t for t in case["tasks"] if t["task_id"] not in gone]
    withdrawn = list(case.get("withdrawn") or [])
    withdrawn += [w.model_dump() for w in ev.withdrawn if w.task_id not in {x["task_id"] for x in withdrawn}]
    contact = ev.target_contact
    referral = {
        "referral_id": ev.referral_id, "whole_case": ev.whole_case, "part": ev.part, "reason": ev.reason,
        "message": ev.message, "agency_name": ev.target_agency_name,
        "address": contact.address or "（未登记）", "phone": contact.phone or "（未登记）",
        "recorded_by": ev.recorded_by,
    }
    return Plan("referred", set={"tasks": tasks, "withdrawn": withdrawn,
                                 "referrals": [*(case.get("referrals") or []), referral],
                                 "expected": len(tasks), **derived(tasks, case["answers"])}, result=True)


# --------------------------------------------------------------------------- the OGI office


def plan_close(case: dict[str, Any], by: str, reason: str, now: datetime, by_subject: str | None = None,
               office: str = DEFAULT_OFFICE) -> Plan:
    """The OGI office closes the case with the missing answers stated (``case.closed``; the reply
    follows). ``result``: the ``closed`` entry (the existing one when closed already)."""
    if case["reply_issued"]:
        raise OgiRefusal(409, "该案件已作出答复，无需结案")
    if case.get("closed"):
        return Plan("already_closed", result=case["closed"])
    parts, _ = reply_parts(case, office)
    if not parts:
        raise OgiRefusal(409, "尚无经保密审查的部门答复，不能结案答复；如需转送其他机关，请通过转送办理")
    signed = {p.task_id for p in parts}
    missing = [MissingAnswer(task_id=t["task_id"], dept_code=t["dept_code"], dept_name=t["dept_name"])
               for t in case["tasks"] if t["task_id"] not in signed]
    statement = agg.missing_statement(missing)
    event_id = deterministic_id("case.closed", case["_id"])
    data = CaseClosed(case_id=case["_id"], tracking_number=case["tracking_number"], closed_by=by, reason=reason,
                      missing=missing, statement=statement or "各承办部门均已答复。", closed_by_subject=by_subject)
    closed = {"by": by, "by_subject": by_subject, "reason": reason, "missing": [m.model_dump() for m in missing],
              "statement": statement, "at": now, "event_id": event_id}
    return Plan("closed", set={"closed": closed}, emits=[Emit(data, event_id)], result=closed)


def plan_resolve(case: dict[str, Any], contradiction_id: str, by: str, note: str, reopen: list[str],
                 now: datetime, by_subject: str | None = None) -> Plan:
    """The OGI office resolves a flagged contradiction: the answers stand (with a note), or the
    answers of ``reopen`` tasks are set aside for their departments to answer again; with its
    ``contradiction.resolved`` (the audit ledger's record of the decision; the case clock counts
    the reopened departments open again). ``result``: the resolved contradiction (the existing one
    when resolved already: nothing is written nor emitted again)."""
    items = list(case.get("contradictions") or [])
    found = next((c for c in items if c["id"] == contradiction_id), None)
    if found is None:
        raise OgiRefusal(404, "未找到该矛盾标记")
    if found.get("resolved"):
        return Plan("already_resolved", result=found)
    depts = {e["task_id"]: e["dept_code"] for e in found["entries"]}
    if not set(reopen) <= set(depts):
        raise OgiRefusal(409, "只能退回与该矛盾有关的部门答复")
    reopen = list(dict.fromkeys(reopen))  # each task once, in the order given
    event_id = deterministic_id("contradiction.resolved", case["_id"], contradiction_id)
    resolved = {**found, "resolved": True, "resolved_by": by, "resolved_by_subject": by_subject,
                "note": note, "reopened": reopen, "resolved_at": now, "event_id": event_id}
    items = [resolved if c["id"] == contradiction_id else c for c in items]
    answers = [a for a in case["answers"] if a["task_id"] not in set(reopen)]
    data = ContradictionResolved(case_id=case["_id"], contradiction_id=contradiction_id, resolved_by=by,
                                 resolved_by_subject=by_subject, note=note,
                                 reopened=[ReopenedTask(task_id=t, dept_code=depts[t]) for t in reopen],
                                 resolved_at=now)
    cause = deterministic_id("contradiction.flagged", contradiction_id)
    return Plan("resolved", set={"contradictions": items, "answers": answers, **derived(case["tasks"], answers)},
                emits=[Emit(data, event_id, cause)], result=resolved)


# --------------------------------------------------------------------------- the release


def reply_parts(case: dict[str, Any], office: str = DEFAULT_OFFICE) -> tuple[list[ReplyPart], list[ReplyPart]]:
    """(the signed-off answers of open tasks in reply order, the referral parts). ``office``: the
    OGI office's name, the "department" of a referral part."""
    open_ids = {t["task_id"] for t in case["tasks"]}
    parts = []
    for a in case["answers"]:
        if a["task_id"] in open_ids and a.get("review") is not None:
            answer = Answer.model_validate(a["answer"])
            parts.append(ReplyPart(task_id=a["task_id"], dept_code=a["dept_code"], dept_name=a["dept_name"],
                                   answer=answer, outcome_code=agg.check_answer(answer),
                                   review=ConfidentialityReview.model_validate(a["review"])))
    extras = []
    for r in case.get("referrals") or []:
        what = "您申请公开的政府信息" if r["whole_case"] else f"您申请中“{r['part']}”部分的政府信息"
        answer = Answer(
            reply_type=ReplyType.NOT_THIS_AGENCY, text=f"{what}不属于本机关负责公开。{r['message']}",
            reason=r["reason"],
            responsible_agency=ResponsibleAgencyRef(name=r["agency_name"], address=r["address"], phone=r["phone"]))
        extras.append(ReplyPart(task_id=f"referral-{r['referral_id']}", dept_code=OGI_DEPT, dept_name=office,
                                answer=answer, outcome_code="unavailable.not_this_agency"))
    return agg.order_parts(parts), extras


def reply_topics(cc: Iterable[str]) -> tuple[str, ...]:
    """The reply (or amendment) on gongkai.replies.issued, then the same event copied (抄送) to the
    replies topic of each department it names: their own systems read only their own topics."""
    return (topics.REPLIES_ISSUED.name, *(topics.department_replies(code).name for code in cc))


def covered_tasks(case: dict[str, Any]) -> set[str]:
    """The tasks whose answers the reply or an amendment carried."""
    covered = set((case.get("reply") or {}).get("task_ids") or [])
    for a in case.get("amendments") or []:
        covered |= set(a["task_ids"])
    return covered


def plan_advance(case: dict[str, Any], today: date, now: datetime, office: str = DEFAULT_OFFICE) -> Plan:
    """The next step of the case's release: flag new contradictions (``FLAG``), hold while one is
    unresolved (``HOLD``), issue the reply when ready (``ISSUE``: all open tasks signed off, or the
    case closed, or referred as a whole), amend it with answers signed off after it (``AMEND``),
    or ``NOTHING`` (answers missing or unsigned, or all released). ``today``: the reply's date."""
    parts, extras = reply_parts(case, office)
    if any(r["whole_case"] for r in case.get("referrals") or []) and not case["reply_issued"]:
        return _issue(case, extras, [], today, now)
    found = agg.contradictions(parts)
    known = {c["signature"]: c for c in case.get("contradictions") or []}
    new = [c for c in found if c.signature not in known]
    if new:
        return _flag(case, new, now)
    unresolved = [c.signature for c in found if not known[c.signature].get("resolved")]
    if unresolved:
        return Plan(HOLD)
    if not case["reply_issued"]:
        signed = [p.task_id for p in parts]
        ready = agg.readiness([t["task_id"] for t in case["tasks"]], signed, [a["task_id"] for a in case["answers"]],
                              unresolved, bool(case.get("closed")), len(extras))
        if not ready.ready:
            return Plan(NOTHING)
        missing = [MissingAnswer.model_validate(m) for m in (case.get("closed") or {}).get("missing", [])]
        missing = [m for m in missing if m.task_id not in set(signed)]
        return _issue(case, parts + extras, missing, today, now)
    covered = covered_tasks(case)
    late = [p for p in parts if p.task_id not in covered]
    if late:
        return _amend(case, parts + extras, late, today, now)
    return Plan(NOTHING)


def _flag(case: dict[str, Any], new: list[agg.Contradiction], now: datetime) -> Plan:
    case_id = case["_id"]
    emits, items = [], list(case.get("contradictions") or [])
    for c in new:
        cid = deterministic_id("contradiction", case_id, c.signature)
        entries = [ContradictionEntry(task_id=e.task_id, dept_code=e.dept_code, dept_name=e.dept_name, stance=e.stance)
                   for e in c.entries]
        emits.append(Emit(ContradictionFlagged(case_id=case_id, tracking_number=case["tracking_number"],
                                               contradiction_id=cid, item_key=c.item_key, entries=entries,
                                               message=c.message()),
                          deterministic_id("contradiction.flagged", cid)))
        items.append({"id": cid, "signature": c.signature, "item_key": c.item_key,
                      "entries": [e.model_dump() for e in entries], "message": c.message(),
                      "resolved": False, "flagged_at": now})
    return Plan(FLAG, set={"contradictions": items}, emits=emits)


def _issue(case: dict[str, Any], parts: list[ReplyPart], missing: list[MissingAnswer], today: date,
           now: datetime) -> Plan:
    case_id = case["_id"]
    decision = agg.combined_decision([p.answer.reply_type for p in parts])
    outcome = agg.overall_outcome(decision, parts)
    received_on = date.fromisoformat(case["received_on"])
    text = agg.reply_document(tracking_number=case["tracking_number"], agency_name=case["agency_name"],
                              received_on=received_on, issued_on=today, parts=parts, decision=decision, missing=missing)
    document_id = deterministic_id("reply.document", case_id, "reply")
    cc = sorted({p.dept_code for p in parts if p.dept_code != OGI_DEPT})
    last = max(case["answers"], key=lambda a: a["at"], default=None)
    cause = (case.get("closed") or {}).get("event_id") or (last or {}).get("event_id")
    event_id = deterministic_id("reply.issued", case_id)
    emit = Emit(ReplyIssued(case_id=case_id, tracking_number=case["tracking_number"], agency_code=case["agency_code"],
                            decision=decision, parts=parts, document_text=text, outcome=outcome,
                            document_id=document_id, cc=cc, missing=missing),
                event_id, cause, reply_topics(cc))
    reply = {"decision": decision.value, "outcome": outcome, "document": text, "document_id": document_id,
             "issued_at": now, "event_id": event_id, "task_ids": [p.task_id for p in parts], "cc": cc,
             "missing": [m.model_dump() for m in missing]}
    release = Release("reply", "consolidated_reply", document_id, 1, parts, decision,
                      [agg.missing_statement(missing)] if missing else [], received_on, today, reply, emit)
    return Plan(ISSUE, set={"reply_issued": True, "reply": reply}, emits=[emit], guard={"reply_issued": False},
                release=release)


def amendment_note(case: dict[str, Any], seq: int) -> str:
    """The amendment's opening: which reply it completes (its date in China) and its number."""
    issued_at = case["reply"]["issued_at"]
    issued_at = issued_at if issued_at.tzinfo else issued_at.replace(tzinfo=UTC)
    first_on = issued_at.astimezone(CHINA).date()
    return (f"本答复是对本机关于{first_on.year}年{first_on.month}月{first_on.day}日就同一申请（受理编号"
            f"{case['tracking_number']}）所作答复的补充答复（第{seq}次），补充此前尚未答复部门的答复。")


def _amend(case: dict[str, Any], all_parts: list[ReplyPart], late: list[ReplyPart], today: date,
           now: datetime) -> Plan:
    case_id = case["_id"]
    seq = len(case.get("amendments") or []) + 1
    decision = agg.combined_decision([p.answer.reply_type for p in all_parts])
    outcome = agg.overall_outcome(decision, all_parts)
    received_on = date.fromisoformat(case["received_on"])
    note = amendment_note(case, seq)
    text = agg.reply_document(tracking_number=case["tracking_number"], agency_name=case["agency_name"],
                              received_on=received_on, issued_on=today, parts=late, decision=decision,
                              title="政府信息公开申请补充答复书")
    text = text.replace("\n申请人：\n", f"\n申请人：\n    {note}\n", 1)
    document_id = deterministic_id("reply.document", case_id, "amendment", str(seq))
    cc = sorted({p.dept_code for p in all_parts if p.dept_code != OGI_DEPT})
    late_ids = {p.task_id for p in late}
    last = max((a for a in case["answers"] if a["task_id"] in late_ids), key=lambda a: a["at"])
    event_id = deterministic_id("reply.amended", case_id, str(seq))
    emit = Emit(ReplyAmended(case_id=case_id, tracking_number=case["tracking_number"], agency_code=case["agency_code"],
                             amendment_seq=seq, reply_event_id=case["reply"]["event_id"], parts=late,
                             decision=decision, outcome=outcome, document_id=document_id, document_text=text, cc=cc),
                event_id, last.get("event_id"), reply_topics(cc))
    amendment = {"seq": seq, "task_ids": [p.task_id for p in late], "document_id": document_id,
                 "document": text, "decision": decision.value, "outcome": outcome, "event_id": event_id,
                 "issued_at": now}
    release = Release("amendment", "reply_amendment", document_id, seq, late,
                      agg.combined_decision([p.answer.reply_type for p in late]), [note], received_on, today,
                      amendment, emit)
    return Plan(AMEND, set={"amendments": [*(case.get("amendments") or []), amendment]}, emits=[emit],
                release=release)
