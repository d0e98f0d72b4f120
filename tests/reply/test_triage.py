"""The five questions (补不补 / 该不该 / 有没有 / 给不给 / 当不当) and the next step they lead to."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from contracts.decisions import BY_CODE
from services.reply.clock.triage import (
    Answer,
    Next,
    Question,
    Step,
    Triage,
    TriageRefused,
    next_step,
    record,
)

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
Q = Question


def run(*answers: tuple) -> Triage:
    t = Triage()
    for i, a in enumerate(answers):
        q, ans, *rest = a
        kw = rest[0] if rest else {}
        t = record(t, Answer(question=q, answer=ans, by=f"officer-{i}", at=AT, **kw))
    return t


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        ((), Next(Step.ANSWER, Q.CORRECTION)),
        (((Q.CORRECTION, "needs_correction"),), Next(Step.REQUEST_CORRECTION)),
        (((Q.CORRECTION, "clear"),), Next(Step.ANSWER, Q.SCOPE)),
        (
            ((Q.CORRECTION, "clear"), (Q.SCOPE, "not_ogi", {"outcome_codes": ("not_processed.petition",)})),
            Next(Step.CLOSE_NOT_OGI, outcome_codes=("not_processed.petition",)),
        ),
        (((Q.CORRECTION, "clear"), (Q.SCOPE, "ogi")), Next(Step.ANSWER, Q.EXISTENCE)),
        (
            (
                (Q.CORRECTION, "clear"),
                (Q.SCOPE, "ogi"),
                (Q.EXISTENCE, "not_this_agency", {"outcome_codes": ("unavailable.not_this_agency",), "referral_agency": "市住房和城乡建设局"}),
            ),
            Next(Step.REFER, outcome_codes=("unavailable.not_this_agency",), referral_agency="市住房和城乡建设局"),
        ),
        (
            ((Q.CORRECTION, "clear"), (Q.SCOPE, "ogi"), (Q.EXISTENCE, "not_held", {"outcome_codes": ("unavailable.not_held",)})),
            Next(Step.UNAVAILABLE, outcome_codes=("unavailable.not_held",)),
        ),
        (((Q.CORRECTION, "clear"), (Q.SCOPE, "ogi"), (Q.EXISTENCE, "unknown")), Next(Step.SEARCH)),
        (((Q.CORRECTION, "clear"), (Q.SCOPE, "ogi"), (Q.EXISTENCE, "held")), Next(Step.ANSWER, Q.DISCLOSURE)),
        (
            ((Q.CORRECTION, "clear"), (Q.SCOPE, "ogi"), (Q.EXISTENCE, "held"), (Q.DISCLOSURE, "disclose")),
            Next(Step.ANSWER, Q.PROPRIETY),
        ),
        (
            ((Q.CORRECTION, "clear"), (Q.SCOPE, "ogi"), (Q.EXISTENCE, "held"), (Q.DISCLOSURE, "disclose"), (Q.PROPRIETY, "proper")),
            Next(Step.ISSUE_REPLY, outcome_codes=("disclosed",)),
        ),
        (
            (
                (Q.CORRECTION, "clear"),
                (Q.SCOPE, "ogi"),
                (Q.EXISTENCE, "held"),
                (Q.DISCLOSURE, "partial", {"outcome_codes": ("withheld.third_party", "withheld.deliberative")}),
                (Q.PROPRIETY, "proper"),
            ),
            Next(Step.ISSUE_REPLY, outcome_codes=("partial", "withheld.third_party", "withheld.deliberative")),
        ),
        (
            (
                (Q.CORRECTION, "clear"),
                (Q.SCOPE, "ogi"),
                (Q.EXISTENCE, "held"),
                (Q.DISCLOSURE, "withhold", {"outcome_codes": ("withheld.state_secret",)}),
                (Q.PROPRIETY, "revise"),
            ),
            Next(Step.REVISE, outcome_codes=("withheld.state_secret",)),
        ),
    ],
)
def test_next_step(answers, expected):
    assert next_step(run(*answers)) == expected
    for code in expected.outcome_codes:
        assert code in BY_CODE


def test_still_unclear_after_correction_is_unavailable_not_a_second_notice():
    t = run((Q.CORRECTION, "needs_correction"))
    assert next_step(t, correction_received=True) == Next(Step.UNAVAILABLE, outcome_codes=("unavailable.still_unclear",))


def test_answers_keep_who_and_when_and_a_later_answer_supersedes():
    t = run((Q.CORRECTION, "needs_correction"), (Q.CORRECTION, "clear"))
    assert [a.by for a in t.answers] == ["officer-0", "officer-1"]
    assert t.current()[Q.CORRECTION].answer == "clear" and t.current()[Q.CORRECTION].at == AT
    assert next_step(t).question is Q.SCOPE


@pytest.mark.parametrize(
    ("answers", "fragment"),
    [
        (((Q.SCOPE, "ogi"),), "请先回答“补不补”"),
        (((Q.CORRECTION, "maybe"),), "答案无效"),
        (((Q.CORRECTION, "clear"), (Q.SCOPE, "not_ogi")), "须注明理由"),
        (((Q.CORRECTION, "clear"), (Q.SCOPE, "not_ogi", {"outcome_codes": ("withheld.state_secret",)})), "不符"),
        (((Q.CORRECTION, "clear"), (Q.SCOPE, "not_ogi", {"outcome_codes": ("nonsense",)})), "未知"),
        (
            ((Q.CORRECTION, "clear"), (Q.SCOPE, "ogi"), (Q.EXISTENCE, "not_this_agency", {"outcome_codes": ("unavailable.not_this_agency",)})),
            "负责机关",
        ),
        (((Q.CORRECTION, "clear", {"outcome_codes": ("disclosed",)}),), "不符"),
    ],
)
def test_refusals(answers, fragment):
    with pytest.raises(TriageRefused) as exc:
        run(*answers)
    assert fragment in exc.value.message


def test_every_step_has_chinese_text():
    assert Next(Step.ANSWER, Q.EXISTENCE).text_zh() == "请回答“有没有”"
    assert all(Next(s).text_zh() for s in Step)
