"""Shared helpers of the routing tests: received applications and the outbox records of a case."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from contracts.envelope import CloudEvent, decode, deterministic_id, new_event
from contracts.events import REGISTRY, ApplicationReceived

AT = datetime(2026, 11, 23, 8, 30, tzinfo=UTC)
ON = date(2026, 11, 23)


def received(case_id: str, description: str, targets: list[str] | None = None) -> CloudEvent[ApplicationReceived]:
    data = ApplicationReceived(
        case_id=case_id, tracking_number=f"YN-20261123-{abs(hash(case_id)) % 100000:05d}", agency_code="yn-gov-office",
        channel="online", received_on=ON, applicant_ref=f"app-{case_id}", applicant_type="natural_person",
        description=description, target_departments=targets or [], delivery_form="electronic",
        delivery_method="email", accepted_at=AT,
    )
    return new_event(data, source="/gongkai/intake", subject=case_id,
                     event_id=deterministic_id("application.received", case_id), time=AT)


async def outbox_of(collection: Any, case_id: str) -> list[dict[str, Any]]:
    """The case's outbox records, each with its decoded event under "event"."""
    doc = await collection.find_one({"_id": case_id})
    assert doc is not None
    assert doc["outbox_len"] == len(doc["outbox"])
    out = []
    for rec in doc["outbox"]:
        event = decode(rec["value"], REGISTRY)
        assert rec["event_id"] == event.id and rec["key"] == case_id == event.subject
        assert rec["headers"]["ce_type"] == event.type
        out.append({**rec, "event": event})
    return out

