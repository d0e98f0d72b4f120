"""A referral from another agency at this agency's intake (Art. 36(5)), on the real local store:
accepted once, with its own tracking number and date of receipt, published as application.received."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import pytest
import pytest_asyncio
from pymongo import AsyncMongoClient

from contracts.envelope import decode
from contracts.events import ApplicationReceived, registry_of
from contracts.events_routing import CaseReferred
from services.intake import referrals
from services.intake.store import IntakeStore

pytestmark = pytest.mark.asyncio

TODAY = date(2026, 11, 25)
NOW = datetime(2026, 11, 25, 2, 30, tzinfo=UTC)


def referred(referral_id: str = "r1", target: str = "km-gov") -> CaseReferred:
    return CaseReferred(
        case_id="orig-1", tracking_number="YN-20261120-00007", referral_id=referral_id,
        from_agency_code="yn-gov-office", from_agency_name="云南省人民政府办公厅", target_agency_code=target,
        target_agency_name="昆明市人民政府", description="请公开昆明市某片区2025年征收补偿方案",
        applicant_ref="app-abc", applicant_type="natural_person", channel="online", delivery_form="electronic",
        delivery_method="email", received_on=date(2026, 11, 20), reason="属昆明市人民政府职责",
    )


@pytest_asyncio.fixture
async def intake(store, request: pytest.FixtureRequest) -> AsyncIterator[IntakeStore]:
    client = AsyncMongoClient(store.url, tz_aware=True, serverSelectionTimeoutMS=5000)
    name = "t_" + re.sub(r"[^A-Za-z0-9_]", "_", request.node.name)[:50]
    await client.drop_database(name)
    s = IntakeStore(client[name])
    await s.setup()
    try:
        yield s
    finally:
        await client.drop_database(name)
        await client.close()


async def accept(store: IntakeStore, r: CaseReferred, agency: str = "km-gov"):  # noqa: ANN201
    return await referrals.accept(store, r, event_id=f"ev-{r.referral_id}", agency_code=agency, tracking_prefix="KM",
                                  source="/gongkai/intake", now=NOW, today=TODAY)


async def test_accepted_once_with_its_own_number_and_receipt_date(intake):
    doc, created = await accept(intake, referred())
    again, created_again = await accept(intake, referred())  # the event redelivered
    assert created and not created_again
    assert again["_id"] == doc["_id"] == referrals.referred_case_id("r1")
    assert doc["tracking_number"] == "KM-20261125-00001"
    assert doc["received_on"] == "2026-11-25"  # this agency's receipt (Art. 31), not the original 11-20
    assert doc["referral"]["original_received_on"] == "2026-11-20"
    assert doc["referral"]["original_tracking_number"] == "YN-20261120-00007"
    assert doc["contact"] == "pending" and doc["applicant"] is None
    assert [d["_id"] for d in await intake.by_referral("r1")] == [doc["_id"]]
    # The redelivery drew no tracking number: the next referral gets the next one.
    other, _ = await accept(intake, referred("r2"))
    assert other["tracking_number"] == "KM-20261125-00002"


async def test_published_as_application_received_of_this_agency(intake):
    doc, _ = await accept(intake, referred())
    stored = await intake.get(doc["_id"])
    assert stored["outbox_pending"] is True
    [record] = stored["outbox"]
    assert record["topic"] == "gongkai.applications.received"
    [record] = doc["outbox"]
    event = decode(record["value"], registry_of(ApplicationReceived))
    data = event.data
    assert event.subject == doc["_id"] and event.causationid == "ev-r1"
    assert (data.agency_code, data.tracking_number, data.received_on) == ("km-gov", "KM-20261125-00001", TODAY)
    assert data.applicant_ref == "app-abc" and data.description == "请公开昆明市某片区2025年征收补偿方案"
    # No contact.registered: no personal data came with the referral.
    assert all(r["topic"] != "gongkai.private.contacts" for r in stored["outbox"])


async def test_a_referral_to_another_agency_is_ignored(intake):
    assert await accept(intake, referred(target="qj-gov")) is None
    assert await intake.by_referral("r1") == []


async def test_a_tracking_number_already_taken_is_passed_over(intake):
    # E.g. restored data above the counter: the referral still gets a number, the next free one.
    await intake.applications.insert_one({"_id": "restored", "tracking_number": "KM-20261125-00001"})
    doc, created = await accept(intake, referred())
    assert created and doc["tracking_number"] == "KM-20261125-00002"
    event = decode(doc["outbox"][0]["value"], registry_of(ApplicationReceived))
    assert event.data.tracking_number == "KM-20261125-00002"  # the event carries the number stored
