"""The shapes the outbox writes into a document (the relay itself needs a store: not here)."""

from __future__ import annotations

import copy
import json
import time
from datetime import UTC, date, datetime

import pytest

from contracts.envelope import CONTENT_TYPE, decode, new_event
from contracts.events import REGISTRY, ApplicationReceived, ContactRegistered
from servicekit import outbox


def received_event(case_id: str = "case-1"):
    data = ApplicationReceived(
        case_id=case_id,
        tracking_number="YN-20261123-00001",
        agency_code="yn-gov-office",
        channel="online",
        received_on=date(2026, 11, 23),
        applicant_ref="app-0123456789abcdef01234567",
        applicant_type="natural_person",
        description="请公开征地补偿款的发放情况",
        delivery_form="electronic",
        delivery_method="email",
        accepted_at=datetime(2026, 11, 23, 1, 2, 3, tzinfo=UTC),
    )
    return new_event(data, source="/gongkai/intake", subject=case_id, event_id=f"ev-{case_id}")


def contact_event(case_id: str = "case-1"):
    data = ContactRegistered(case_id=case_id, applicant_ref="app-x", name="张三", email="a@example.com")
    return new_event(data, source="/gongkai/intake", subject=case_id, event_id=f"contact-{case_id}")


def test_record_is_a_ready_kafka_record():
    event = received_event("case-42")
    rec = outbox.record("gongkai.applications.received", event)
    assert set(rec) == {"topic", "key", "value", "headers", "event_id"}
    assert rec["topic"] == "gongkai.applications.received"
    assert rec["key"] == "case-42"  # keyed by case id: per-case order
    assert rec["event_id"] == "ev-case-42"
    assert isinstance(rec["value"], str)  # stored as text in the document
    assert decode(rec["value"], REGISTRY) == event
    assert rec["headers"] == {
        "content-type": CONTENT_TYPE,
        "ce_type": "cn.gongkai.application.received.v1",
        "ce_id": "ev-case-42",
    }
    json.dumps(rec)  # BSON-friendly: only plain JSON types


def test_new_doc_fields_with_records():
    recs = [outbox.record("t1", received_event()), outbox.record("t2", contact_event())]
    before = time.time_ns()
    fields = outbox.new_doc_fields(recs)
    after = time.time_ns()
    assert fields["outbox"] == recs
    assert fields["outbox"] is not recs  # a copy: later changes to the caller's list do not leak
    assert fields["outbox_len"] == 2
    assert fields["outbox_sent"] == 0
    assert fields["outbox_pending"] is True
    assert before <= fields["outbox_at"] <= after


def test_new_doc_fields_without_records_is_not_pending():
    fields = outbox.new_doc_fields([])
    assert fields["outbox"] == []
    assert fields["outbox_len"] == 0
    assert fields["outbox_sent"] == 0
    assert fields["outbox_pending"] is False


@pytest.mark.parametrize("n", [1, 3])
def test_append_update(n):
    recs = [outbox.record("t", received_event(f"c{i}")) for i in range(n)]
    before = time.time_ns()
    upd = outbox.append_update(recs)
    assert set(upd) == {"$push", "$inc", "$set"}
    assert upd["$push"] == {"outbox": {"$each": recs}}
    assert upd["$inc"] == {"outbox_len": n}
    assert upd["$set"]["outbox_pending"] is True
    assert upd["$set"]["outbox_at"] >= before
    # outbox_sent is the relay's: an append never moves it.
    assert "outbox_sent" not in json.dumps(upd)


def test_merge_keeps_both_push_and_both_inc_fields():
    entry = {"task_id": "t-1", "answer": {"reply_type": "disclosed"}}
    domain = {"$push": {"answers": entry}, "$inc": {"answered_count": 1}, "$set": {"updated": True}}
    recs = [outbox.record("t", received_event())]
    append = outbox.append_update(recs)
    domain_copy, append_copy = copy.deepcopy(domain), copy.deepcopy(append)

    merged = outbox.merge_updates(domain, append)

    assert merged["$push"] == {"answers": entry, "outbox": {"$each": recs}}
    assert merged["$inc"] == {"answered_count": 1, "outbox_len": 1}
    assert merged["$set"] == {"updated": True, "outbox_pending": True, "outbox_at": append["$set"]["outbox_at"]}
    assert set(merged) == {"$push", "$inc", "$set"}
    # The inputs are left as they were.
    assert domain == domain_copy and append == append_copy


def test_merge_of_disjoint_operators_and_of_nothing():
    assert outbox.merge_updates() == {}
    assert outbox.merge_updates({"$set": {"a": 1}}, {"$unset": {"b": ""}}) == {"$set": {"a": 1}, "$unset": {"b": ""}}
    assert outbox.merge_updates({"$set": {"a": 1}}) == {"$set": {"a": 1}}
