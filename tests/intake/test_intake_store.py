"""IntakeStore.insert_numbered on the real local store: the unique keys that collide (tracking
number, the applicant's rank in the month, the case id of a replay), told apart by the store's
error without further queries, and the normalised description stored with the application."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import pytest
import pytest_asyncio
from pymongo import AsyncMongoClient
from pymongo.errors import DuplicateKeyError

from services.intake.repeats import normalise
from services.intake.store import IntakeStore, _collided, rank_key

DAY = date(2026, 12, 3)


@pytest_asyncio.fixture
async def intake_store(store, request: pytest.FixtureRequest) -> AsyncIterator[IntakeStore]:
    client = AsyncMongoClient(store.url, tz_aware=True, serverSelectionTimeoutMS=5000)
    name = "is_" + re.sub(r"[^A-Za-z0-9_]", "_", request.node.name)[:50]
    await client.drop_database(name)
    s = IntakeStore(client[name])
    await s.setup()
    try:
        yield s
    finally:
        await client.drop_database(name)
        await client.close()


def doc_of(case_id: str, ranked: bool = True) -> Any:  # noqa: ANN401
    def make(number: str, rank: int | None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        doc: dict[str, Any] = {"_id": case_id, "tracking_number": number, "applicant_ref": "a1", "agency_code": "ag",
                               "received_on": DAY.isoformat(), "application": {"description": "请公开2023年预算！"}}
        if ranked:
            doc.update(rank_month="2026-12", rank=rank, rank_key=rank_key("a1", "ag", "2026-12", rank or 0))
        return doc, []
    return make


def number_of(n: int) -> str:
    return f"T-{n:05d}"


async def test_concurrent_submissions_of_one_applicant_get_distinct_numbers_and_ranks(intake_store):
    results = await asyncio.gather(*(intake_store.insert_numbered("ag", DAY, number_of, doc_of(f"c{i}"),
                                                                  ranked=("a1", "2026-12")) for i in range(8)))
    assert all(created for _, created in results)
    assert sorted(d["rank"] for d, _ in results) == list(range(1, 9))
    assert len({d["tracking_number"] for d, _ in results}) == 8
    stored = await intake_store.get("c0")
    assert stored["repeat_text"] == normalise("请公开2023年预算！")


async def test_a_taken_tracking_number_is_passed_over_and_a_replay_returns_the_stored_one(intake_store):
    first, created = await intake_store.insert_numbered("ag", DAY, number_of, doc_of("c1", ranked=False))
    assert created and first["tracking_number"] == "T-00001"
    await intake_store.counters.delete_many({})  # the counters reset below the stored numbers
    second, created = await intake_store.insert_numbered("ag", DAY, number_of, doc_of("c2", ranked=False))
    assert created and second["tracking_number"] == "T-00002"
    again, created = await intake_store.insert_numbered("ag", DAY, number_of, doc_of("c1", ranked=False))
    assert not created and again["tracking_number"] == "T-00001"


async def test_the_collided_key_is_read_from_the_error(intake_store):
    await intake_store.applications.insert_one({"_id": "x", "tracking_number": "T-1", "rank_key": "r"})
    for doc, key in (({"_id": "x", "tracking_number": "T-2"}, "_id"), ({"_id": "y", "tracking_number": "T-1"},
                     "tracking_number"), ({"_id": "z", "tracking_number": "T-3", "rank_key": "r"}, "rank_key")):
        with pytest.raises(DuplicateKeyError) as exc:
            await intake_store.applications.insert_one(doc)
        assert _collided(exc.value) == key
    assert _collided(DuplicateKeyError("E11000 duplicate key", 11000, {"keyPattern": {"rank_key": 1}})) == "rank_key"
    assert _collided(DuplicateKeyError("something else", 11000, {})) is None


async def test_a_mass_applicants_many_submissions_at_once_to_two_instances_all_get_a_rank(intake_store):
    # 120 at once, split over two processes (two IntakeStores on one database): each process ranks
    # its own one at a time; the other's collide and are counted again. None runs out of draws.
    other = IntakeStore(intake_store.db)
    stores = (intake_store, other)
    results = await asyncio.gather(*(stores[i % 2].insert_numbered("ag", DAY, number_of, doc_of(f"c{i}"),
                                                                   ranked=("a1", "2026-12")) for i in range(120)))
    assert all(created for _, created in results)
    assert sorted(d["rank"] for d, _ in results) == list(range(1, 121))
    assert len({d["tracking_number"] for d, _ in results}) == 120
    assert intake_store._ranking == {} and other._ranking == {}  # no lock left behind
