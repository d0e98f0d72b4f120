"""The procedure events: a sample of each, round trip, registry, topics and committed schemas.

``SAMPLES`` is meant to be merged into tests/contracts/test_contracts.py's SAMPLES by the lead."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from contracts import events_procedure as ep
from contracts import jsonschema_export
from contracts.envelope import decode, deterministic_id, encode, new_event
from contracts.events import ALL_EVENTS, REGISTRY

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ON = date(2026, 3, 2)

SAMPLES = {
    ep.CorrectionRequested: ep.CorrectionRequested(
        case_id="c1", received_on=ON, issued_on=date(2026, 3, 4), items=["请明确所需信息的年份"],
        due_on=date(2026, 3, 18), issued_by="u-1",
    ),
    ep.CorrectionReceived: ep.CorrectionReceived(case_id="c1", received_on=date(2026, 3, 10), new_due_on=date(2026, 4, 8)),
    ep.ApplicationAbandoned: ep.ApplicationAbandoned(case_id="c1", correction_due=date(2026, 3, 18), abandoned_on=date(2026, 3, 19)),
    ep.ExtensionApproved: ep.ExtensionApproved(
        case_id="c1", approved_on=date(2026, 3, 20), workdays=20, approver="u-head", approver_role="ogi_head",
        reason="涉及部门多", old_due_on=date(2026, 3, 30), new_due_on=date(2026, 4, 28),
    ),
    ep.ConsultationStarted: ep.ConsultationStarted(
        case_id="c1", number=1, party_kind="third_party", party="某公司", sent_on=ON,
        consultation_due=date(2026, 3, 23), started_by="u-1",
    ),
    ep.ConsultationEnded: ep.ConsultationEnded(
        case_id="c1", number=1, end="silent", ended_on=date(2026, 3, 23), paused_workdays=15, new_due_on=date(2026, 4, 20),
    ),
    ep.DeadlineChanged: ep.DeadlineChanged(
        case_id="c1", old_due_on=date(2027, 1, 7), new_due_on=date(2027, 1, 8), reason="calendar_changed",
        calendar_version="abcd", provisional=False,
    ),
    ep.DeadlineWarning: ep.DeadlineWarning(
        case_id="c1", due_on=date(2026, 3, 30), workdays_left=2, threshold=2, open_departments=["zrzy"]
    ),
    ep.CaseOverdue: ep.CaseOverdue(case_id="c1", due_on=date(2026, 3, 30), detected_on=date(2026, 3, 31)),
    ep.TriageRecorded: ep.TriageRecorded(
        case_id="c1", question="disclosure", answer="partial", outcome_codes=["withheld.third_party"],
        answered_by="u-1", answered_at=AT, next_step="answer",
    ),
    ep.RepeatFlagged: ep.RepeatFlagged(
        case_id="c2", applicant_ref="app-1", agency_code="ag-1", threshold=0.78,
        matches=[ep.RepeatMatchPart(case_id="c1", similarity=0.91, received_on=ON, status="replied")],
    ),
    ep.FeeNoticeIssued: ep.FeeNoticeIssued(
        case_id="c1", applicant_ref="app-1", agency_code="ag-1", method="per_application", amount_yuan=100,
        month="2026-03", rank_in_month=11, confirmed_by="u-1", issued_on=ON,
    ),
    ep.CorrectionSubmitted: ep.CorrectionSubmitted(case_id="c1", received_on=date(2026, 3, 10), submitted_at=AT,
                                                   attachment_count=1),
    ep.FeePaid: ep.FeePaid(case_id="c1", paid_on=date(2026, 3, 9), amount_yuan=100, fee_notice_issued_on=ON,
                           recorded_by="u-1", recorded_by_subject="sub-1"),
    ep.FeeWaived: ep.FeeWaived(case_id="c1", waived_on=date(2026, 3, 9), reason="申请人享受最低生活保障",
                               fee_notice_issued_on=ON, recorded_by="u-1"),
}  # fmt: skip


def test_every_procedure_event_has_a_sample_and_is_registered():
    assert set(SAMPLES) == set(ep.EVENTS)
    for m in ep.EVENTS:
        assert m in ALL_EVENTS and REGISTRY[m.ce_type()] is m


@pytest.mark.parametrize("model", ep.EVENTS, ids=lambda m: m.event_name)
def test_round_trip(model):
    event = new_event(SAMPLES[model], source="/gongkai/reply", subject="c1", event_id=deterministic_id("t", model.event_name), time=AT)
    back = decode(encode(event), REGISTRY)
    assert back == event and type(back.data) is model


def test_each_event_travels_on_exactly_one_procedure_topic():
    carried = [et for t in ep.TOPICS for et in t.event_types]
    assert sorted(carried) == sorted(m.event_name for m in ep.EVENTS)
    assert all(t.key == "case id" and not t.restricted for t in ep.TOPICS)


def test_committed_schemas_are_current():
    rendered = jsonschema_export.schemas()
    for m in ep.EVENTS:
        name = f"{m.event_name}.v{m.schema_version}.json"
        committed = (jsonschema_export.DEFAULT_DIR / name).read_text(encoding="utf-8")
        assert committed == jsonschema_export.render(rendered[name])


@pytest.mark.parametrize(
    ("model", "bad"),
    [
        (ep.ExtensionApproved, {"workdays": 21}),
        (ep.ExtensionApproved, {"approver_role": "ogi_officer"}),
        (ep.CorrectionRequested, {"items": []}),
        (ep.RepeatFlagged, {"matches": []}),
        (ep.ConsultationStarted, {"party_kind": "someone"}),
    ],
)
def test_invalid_data_is_refused(model, bad):
    data = json.loads(SAMPLES[model].model_dump_json()) | bad
    with pytest.raises(ValidationError):
        model.model_validate(data)
