"""servicekit.versioned against the real local store: a change is one conditional write with its
outbox records; a lost race is decided again from a fresh read (the result is the winner's state
plus this change); after ``attempts`` lost races, Conflict; an insert of an existing id stores
nothing; a decision of nothing writes nothing; ``write_if`` is guarded by state, not revision."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from servicekit.outbox import OutboxRelay
from servicekit.versioned import Change, Conflict, Versioned

pytestmark = pytest.mark.asyncio


def rec(n: int, topic: str = "gongkai.test") -> dict[str, Any]:
    """An outbox record (the shape ``outbox.record`` makes; Versioned does not look inside)."""
    return {"topic": topic, "key": "c1", "value": f'{{"n": {n}}}', "headers": {"ce_id": f"e{n}"}, "event_id": f"e{n}"}


async def raw(db: AsyncDatabase, key: str = "c1", coll: str = "docs") -> dict[str, Any] | None:
    return await db[coll].find_one({"_id": key})


async def test_insert_stores_revision_zero_and_its_records_once(db: AsyncDatabase) -> None:
    docs = Versioned(db.docs, rev_field="case_rev")
    assert await docs.insert({"_id": "c1", "status": "new"}, [rec(1), rec(2)]) is True
    stored = await raw(db)
    assert stored["status"] == "new" and stored["case_rev"] == 0 and "rev" not in stored
    assert [r["event_id"] for r in stored["outbox"]] == ["e1", "e2"]
    assert stored["outbox_len"] == 2 and stored["outbox_sent"] == 0 and stored["outbox_pending"] is True
    # The same id again: False, and the stored document is untouched (no second record either).
    assert await docs.insert({"_id": "c1", "status": "other"}, [rec(3)]) is False
    again = await raw(db)
    assert again["status"] == "new" and again["outbox_len"] == 2 and len(again["outbox"]) == 2
    assert await db.docs.count_documents({}) == 1


async def test_insert_without_records_is_not_pending(db: AsyncDatabase) -> None:
    docs = Versioned(db.docs)
    assert await docs.insert({"_id": "c1"})
    stored = await raw(db)
    assert stored["outbox"] == [] and stored["outbox_len"] == 0 and stored["outbox_pending"] is False


async def test_change_sets_bumps_and_appends_records_in_one_write(db: AsyncDatabase) -> None:
    docs = Versioned(db.docs, rev_field="case_rev")
    await docs.insert({"_id": "c1", "status": "new", "log": [], "n": 1, "gone": "x"}, [rec(1)])
    seen: list[dict[str, Any] | None] = []

    def decide(doc: dict[str, Any] | None) -> Change:
        seen.append(doc)
        return Change(set={"status": "closed"}, push={"log": "closed"}, inc={"n": 2}, unset=["gone"],
                      records=[rec(2), rec(3)], result="closed")

    assert await docs.change("c1", decide) == "closed"
    assert "outbox" not in seen[0]  # a decision never sees the records waiting to be published
    stored = await raw(db)
    assert stored["status"] == "closed" and stored["log"] == ["closed"] and stored["n"] == 3
    assert "gone" not in stored
    assert stored["case_rev"] == 1
    assert [r["event_id"] for r in stored["outbox"]] == ["e1", "e2", "e3"]
    assert stored["outbox_len"] == 3 and stored["outbox_pending"] is True and stored["outbox_sent"] == 0


async def test_records_written_by_a_change_are_published_by_the_relay(db: AsyncDatabase) -> None:
    docs = Versioned(db.docs)
    await docs.ensure_indexes()
    await docs.insert({"_id": "c1", "n": 0})
    await docs.change("c1", lambda d: Change(set={"n": 1}, records=[rec(7, "gongkai.t7")]))
    published: list[tuple[str, bytes, bytes, dict[str, str]]] = []

    async def publish_many(batch: Any) -> None:  # noqa: ANN401
        published.extend(batch)

    assert await OutboxRelay([db.docs], publish_many).drain_once()
    assert [(t, k, v) for t, k, v, _ in published] == [("gongkai.t7", b"c1", b'{"n": 7}')]
    stored = await raw(db)
    assert stored["outbox_sent"] == 1 and stored["outbox_pending"] is False


async def test_decide_returning_none_writes_nothing(db: AsyncDatabase) -> None:
    docs = Versioned(db.docs)
    await docs.insert({"_id": "c1", "status": "closed"}, [rec(1)])
    before = await raw(db)
    assert await docs.change("c1", lambda d: None) is None
    assert await raw(db) == before  # not even the revision moved


async def test_missing_document_is_given_to_decide_as_none(db: AsyncDatabase) -> None:
    docs = Versioned(db.docs)
    seen: list[Any] = []

    def decide(doc: dict[str, Any] | None) -> None:
        seen.append(doc)
        if doc is None:
            raise LookupError("no such case")

    with pytest.raises(LookupError):
        await docs.change("nope", decide)
    assert seen == [None]
    assert await db.docs.count_documents({}) == 0


async def test_a_lost_race_is_decided_again_from_a_fresh_read(db: AsyncDatabase) -> None:
    docs = Versioned(db.docs)
    await docs.insert({"_id": "c1", "n": 0, "by": []})
    seen: list[int] = []

    async def decide(doc: dict[str, Any] | None) -> Change:  # a coroutine decision
        seen.append(doc["n"])
        if len(seen) == 1:
            # Another writer wins between this read and this write.
            assert await docs.write(dict(doc), Change(set={"n": 10}, push={"by": "winner"}, records=[rec(1)]))
        return Change(set={"n": doc["n"] + 1}, push={"by": "me"}, records=[rec(2)], result=doc["n"] + 1)

    assert await docs.change("c1", decide) == 11
    assert seen == [0, 10]  # the second decision saw the winner's state
    stored = await raw(db)
    assert stored["n"] == 11 and stored["by"] == ["winner", "me"] and stored["rev"] == 2
    # The loser's first decision left no record behind: one record per write that happened.
    assert [r["event_id"] for r in stored["outbox"]] == ["e1", "e2"] and stored["outbox_len"] == 2


async def test_after_attempts_lost_races_conflict_and_nothing_of_it_is_written(db: AsyncDatabase) -> None:
    docs = Versioned(db.docs)
    await docs.insert({"_id": "c1", "n": 0})
    calls = 0

    async def decide(doc: dict[str, Any] | None) -> Change:
        nonlocal calls
        calls += 1
        assert await db.docs.update_one({"_id": "c1"}, {"$inc": {"rev": 1, "n": 100}})  # always first
        return Change(set={"n": -1, "mine": True}, records=[rec(calls)])

    with pytest.raises(Conflict):
        await docs.change("c1", decide, attempts=3)
    assert calls == 3
    stored = await raw(db)
    assert stored["n"] == 300 and "mine" not in stored and stored["outbox"] == []


async def test_concurrent_changes_lose_no_update(db: AsyncDatabase) -> None:
    docs = Versioned(db.docs)
    await docs.insert({"_id": "c1", "n": 0})

    def incr(doc: dict[str, Any] | None) -> Change:
        return Change(set={"n": doc["n"] + 1}, records=[rec(doc["n"] + 1)], result=doc["n"] + 1)

    results = await asyncio.gather(*(docs.change("c1", incr, attempts=100) for _ in range(12)))
    assert sorted(results) == list(range(1, 13))
    stored = await raw(db)
    assert stored["n"] == 12 and stored["rev"] == 12
    assert sorted(r["event_id"] for r in stored["outbox"]) == sorted(f"e{i}" for i in range(1, 13))
    assert stored["outbox_len"] == 12


async def test_write_is_conditional_on_the_revision_read_and_on_extra_filter(db: AsyncDatabase) -> None:
    docs = Versioned(db.docs)
    await docs.insert({"_id": "c1", "status": "open"})
    doc = await docs.load("c1")
    assert await docs.write(doc, Change(set={"status": "held"}))
    assert not await docs.write(doc, Change(set={"status": "stale"}, records=[rec(1)]))  # read before the write
    fresh = await docs.load("c1")
    assert not await docs.write(fresh, Change(set={"status": "x"}), extra_filter={"status": "open"})
    stored = await raw(db)
    assert stored["status"] == "held" and stored["rev"] == 1 and stored["outbox"] == []


async def test_a_document_without_revision_counter_matches_revision_zero(db: AsyncDatabase) -> None:
    await db.docs.insert_one({"_id": "old", "n": 5})  # written before it had a revision
    docs = Versioned(db.docs, rev_field="routing_rev")
    assert await docs.change("old", lambda d: Change(set={"n": d["n"] + 1}, result="ok")) == "ok"
    stored = await raw(db, "old")
    assert stored["n"] == 6 and stored["routing_rev"] == 1


async def test_write_if_is_guarded_by_state_not_by_revision(db: AsyncDatabase) -> None:
    docs = Versioned(db.docs)
    await docs.insert({"_id": "c1", "claim": "sending", "other": 0})
    await docs.write(await docs.load("c1"), Change(set={"other": 1}))  # an unrelated change: rev 1
    assert await docs.write_if("c1", {"claim": "sending"}, Change(set={"claim": "delivered"}, records=[rec(1)]))
    stored = await raw(db)
    assert stored["claim"] == "delivered" and stored["other"] == 1 and stored["rev"] == 2
    assert stored["outbox_len"] == 1 and stored["outbox_pending"] is True
    # The condition no longer holds: nothing written, no record.
    assert not await docs.write_if("c1", {"claim": "sending"}, Change(set={"claim": "again"}, records=[rec(2)]))
    assert not await docs.write_if("other-id", {}, Change(set={"claim": "x"}))
    stored = await raw(db)
    assert stored["claim"] == "delivered" and stored["rev"] == 2 and stored["outbox_len"] == 1
    assert await db.docs.count_documents({}) == 1  # never an upsert


async def test_write_if_on_a_document_without_revision_and_push_only(db: AsyncDatabase) -> None:
    await db.docs.insert_one({"_id": "c1", "log": []})
    docs = Versioned(db.docs)
    assert await docs.write_if("c1", {}, Change(push={"log": "a"}))
    stored = await raw(db)
    assert stored["log"] == ["a"] and stored["rev"] == 1 and "outbox" not in stored
