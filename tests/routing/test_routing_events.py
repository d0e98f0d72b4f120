"""The routing events: registered, round-trip through the envelope, schemas committed and current."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest

from contracts import jsonschema_export
from contracts.envelope import decode, deterministic_id, encode, new_event
from contracts.events import ALL_EVENTS, REGISTRY
from contracts.events_routing import (
    EVENTS,
    AgencyContact,
    CaseReferred,
    CaseRerouted,
    ReferralRecorded,
    RoutedTask,
    TaskReopened,
    TaskWithdrawn,
    WithdrawnTaskRef,
)

AT = datetime(2026, 11, 23, 8, 30, tzinfo=UTC)
TASK = RoutedTask(task_id="t2", dept_code="czt", dept_name="云南省财政厅", rule="manual:reassign")
GONE = WithdrawnTaskRef(task_id="t1", dept_code="ogi", dept_name="云南省人民政府办公厅政府信息公开办公室")

# Samples (also for tests/contracts/test_contracts.py SAMPLES, which the lead owns).
SAMPLES = {
    TaskWithdrawn: TaskWithdrawn(case_id="c1", task_id="t1", tracking_number="YN-20261123-00001", dept_code="ogi",
                                 dept_name=GONE.dept_name, reason="经核实由财政厅办理", withdrawn_by="王五",
                                 replaced_by=["czt"]),
    TaskReopened: TaskReopened(case_id="c1", task_id="t2", tracking_number="YN-20261123-00001", dept_code="czt",
                               dept_name="云南省财政厅", contradiction_id="k1", reason="以自然资源厅意见为准，请财政厅重新答复",
                               reopened_by="公开办李经办", reopened_at=AT),
    CaseRerouted: CaseRerouted(case_id="c1", tracking_number="YN-20261123-00001", agency_code="yn-gov-office",
                               change_seq=1, operation="reassign", directory_version="1", added=[TASK],
                               withdrawn=[GONE], tasks=[TASK], triage_resolved=True, reason="经核实由财政厅办理",
                               changed_by="王五"),
    ReferralRecorded: ReferralRecorded(case_id="c1", tracking_number="YN-20261123-00001", referral_id="r1",
                                       agency_code="yn-gov-office", target_agency_code="km-gov",
                                       target_agency_name="昆明市人民政府",
                                       target_contact=AgencyContact(address="昆明市呈贡区", phone="0871-60000200"),
                                       handed_over=True, whole_case=True, reason="属昆明市", withdrawn=[GONE],
                                       message="……", recorded_by="王五"),
    CaseReferred: CaseReferred(case_id="c1", tracking_number="YN-20261123-00001", referral_id="r1",
                               from_agency_code="yn-gov-office", from_agency_name="云南省人民政府办公厅",
                               target_agency_code="km-gov", target_agency_name="昆明市人民政府", description="征地补偿标准",
                               applicant_ref="app-1", applicant_type="natural_person", channel="online",
                               delivery_form="electronic", delivery_method="email", received_on=date(2026, 11, 23),
                               reason="属昆明市"),
}


def test_registered():
    assert set(SAMPLES) == set(EVENTS)
    for model in EVENTS:
        assert model in ALL_EVENTS and REGISTRY[model.ce_type()] is model


@pytest.mark.parametrize("model", EVENTS, ids=lambda m: m.event_name)
def test_round_trip(model):
    event = new_event(SAMPLES[model], source="/gongkai/routing", subject="c1",
                      event_id=deterministic_id("test", model.event_name), time=AT)
    assert decode(encode(event), REGISTRY) == event


@pytest.mark.parametrize("model", EVENTS, ids=lambda m: m.event_name)
def test_committed_schema_is_current(model):
    name = f"{model.event_name}.v{model.schema_version}.json"
    committed = json.loads((jsonschema_export.DEFAULT_DIR / name).read_text(encoding="utf-8"))
    assert committed == json.loads(jsonschema_export.render(jsonschema_export.schemas()[name]))


def test_rerouted_needs_an_open_task_and_a_valid_operation():
    data = SAMPLES[CaseRerouted].model_dump()
    with pytest.raises(ValueError):
        CaseRerouted(**{**data, "tasks": []})
    with pytest.raises(ValueError):
        CaseRerouted(**{**data, "operation": "guess"})
