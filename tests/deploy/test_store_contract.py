"""The store contract: the MongoDB semantics the Gongkai services rely on, checked against the
local store (mongo-java-server + H2 file backend) as deploy/local/infra.sh runs it.

Each test uses its own database on a shared private store (see conftest.py); the persistence tests
start stores of their own. The client is configured as servicekit.mongo.connect does.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio
from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError
from pymongo.operations import DeleteOne, InsertOne, ReplaceOne, UpdateMany, UpdateOne

from deploy.local.readiness import sigkill

pytestmark = pytest.mark.asyncio


def client_for(url: str) -> AsyncMongoClient:
    # Same options as servicekit.mongo.connect.
    return AsyncMongoClient(url, tz_aware=True, serverSelectionTimeoutMS=5000, uuidRepresentation="standard")


@pytest_asyncio.fixture
async def db(store, request: pytest.FixtureRequest) -> AsyncIterator[AsyncDatabase]:
    client = client_for(store.url)
    name = "t_" + re.sub(r"[^A-Za-z0-9_]", "_", request.node.name)[:50]
    await client.drop_database(name)
    try:
        yield client[name]
    finally:
        await client.drop_database(name)
        await client.close()


# ------------------------------------------------------------------ connection


async def test_ping_and_server_version(db: AsyncDatabase) -> None:
    assert (await db.command("ping"))["ok"] == 1
    hello = await db.client.admin.command("hello")
    # PyMongo 4.20 needs wire version >= 9; GongkaiStore announces MongoDB 4.4 (wire 9).
    assert hello["maxWireVersion"] >= 9


# ------------------------------------------------------------------ unique keys


async def test_duplicate_id_raises_duplicate_key_error(db: AsyncDatabase) -> None:
    await db.c.insert_one({"_id": "case-1", "n": 1})
    with pytest.raises(DuplicateKeyError) as exc:
        await db.c.insert_one({"_id": "case-1", "n": 2})
    assert exc.value.code == 11000
    assert (await db.c.find_one({"_id": "case-1"}))["n"] == 1


async def test_unique_index_raises_duplicate_key_error(db: AsyncDatabase) -> None:
    await db.c.create_index("event_id", unique=True)
    await db.c.insert_one({"event_id": "e1"})
    with pytest.raises(DuplicateKeyError) as exc:
        await db.c.insert_one({"event_id": "e1"})
    assert exc.value.code == 11000
    # An update that would create a duplicate is refused too.
    await db.c.insert_one({"event_id": "e2"})
    with pytest.raises(DuplicateKeyError):
        await db.c.update_one({"event_id": "e2"}, {"$set": {"event_id": "e1"}})
    assert await db.c.count_documents({}) == 2


async def test_create_index_is_idempotent(db: AsyncDatabase) -> None:
    # Every service calls its setup() (create_index) at each start.
    for _ in range(2):
        assert await db.c.create_index("tracking_number", unique=True) == "tracking_number_1"
        await db.c.create_index([("status", ASCENDING), ("next_at", ASCENDING)])
        await db.c.create_index("tasks.task_id")
    names = {ix["name"] async for ix in await db.c.list_indexes()}
    assert {"_id_", "tracking_number_1", "status_1_next_at_1", "tasks.task_id_1"} <= names
    info = await db.c.index_information()
    assert info["tracking_number_1"].get("unique") is True


async def test_compound_unique_index(db: AsyncDatabase) -> None:
    await db.c.create_index([("case_id", ASCENDING), ("dept_code", ASCENDING)], unique=True)
    await db.c.insert_one({"case_id": "c1", "dept_code": "fgw"})
    await db.c.insert_one({"case_id": "c1", "dept_code": "czt"})  # other dept: fine
    await db.c.insert_one({"case_id": "c2", "dept_code": "fgw"})  # other case: fine
    with pytest.raises(DuplicateKeyError):
        await db.c.insert_one({"case_id": "c1", "dept_code": "fgw"})
    assert await db.c.count_documents({}) == 3


# ------------------------------------------------------------------ upserts and updates


async def test_find_one_and_update_upsert_returns_document_after(db: AsyncDatabase) -> None:
    # The intake counter: one document per agency and day, $inc with upsert.
    async def next_seq(key: str) -> int:
        doc = await db.counters.find_one_and_update(
            {"_id": key}, {"$inc": {"n": 1}}, upsert=True, return_document=ReturnDocument.AFTER
        )
        return int(doc["n"])

    assert [await next_seq("yn:2026-01-01") for _ in range(3)] == [1, 2, 3]
    assert await next_seq("yn:2026-01-02") == 1
    before = await db.counters.find_one_and_update(
        {"_id": "yn:2026-01-01"}, {"$inc": {"n": 1}}, return_document=ReturnDocument.BEFORE
    )
    assert before["n"] == 3
    # No match and no upsert: None, nothing created.
    assert await db.counters.find_one_and_update({"_id": "nope"}, {"$inc": {"n": 1}}) is None
    assert await db.counters.count_documents({}) == 2


async def test_find_one_and_update_upsert_is_atomic_under_concurrency(store, db: AsyncDatabase) -> None:
    # Tracking numbers come from this counter: concurrent callers (two clients, so two connection
    # pools) must get distinct values.
    client = client_for(store.url)
    try:
        other = client[db.name]

        async def next_seq(coll) -> int:
            doc = await coll.find_one_and_update(
                {"_id": "seq"},
                {"$inc": {"n": 1}},
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
            return int(doc["n"])

        await db.counters.find_one_and_update({"_id": "seq"}, {"$inc": {"n": 1}}, upsert=True)
        results = await asyncio.gather(
            *[next_seq(db.counters if i % 2 else other.counters) for i in range(60)]
        )
    finally:
        await client.close()
    assert sorted(results) == list(range(2, 62))
    assert (await db.counters.find_one({"_id": "seq"}))["n"] == 61


async def test_concurrent_first_upserts_create_one_document(db: AsyncDatabase) -> None:
    # Many racing upserts of a key that does not exist yet: one document, no lost increment.
    results = await asyncio.gather(
        *[
            db.counters.find_one_and_update(
                {"_id": "fresh"},
                {"$inc": {"n": 1}},
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
            for _ in range(30)
        ],
        return_exceptions=True,
    )
    errors = [r for r in results if isinstance(r, Exception)]
    assert not errors, errors
    assert sorted(r["n"] for r in results) == list(range(1, 31))
    assert await db.counters.count_documents({}) == 1


async def test_set_on_insert_applies_only_on_insert(db: AsyncDatabase) -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    upd = {"$setOnInsert": {"created_at": t0, "status": "new"}, "$set": {"seen": 1}}
    res = await db.c.update_one({"_id": "k"}, upd, upsert=True)
    assert res.upserted_id == "k" and res.matched_count == 0
    doc = await db.c.find_one({"_id": "k"})
    assert doc == {"_id": "k", "created_at": t0, "status": "new", "seen": 1}

    later = {"$setOnInsert": {"created_at": t0 + timedelta(days=1), "status": "other"}, "$set": {"seen": 2}}
    res = await db.c.update_one({"_id": "k"}, later, upsert=True)
    assert res.upserted_id is None and res.matched_count == 1 and res.modified_count == 1
    doc = await db.c.find_one({"_id": "k"})
    assert doc == {"_id": "k", "created_at": t0, "status": "new", "seen": 2}

    # With find_one_and_update too (returns the inserted document).
    doc = await db.c.find_one_and_update(
        {"_id": "k2"},
        {"$setOnInsert": {"status": "new"}},
        upsert=True,
        return_document=ReturnDocument.AFTER,
    )
    assert doc == {"_id": "k2", "status": "new"}


async def test_update_one_inc(db: AsyncDatabase) -> None:
    await db.c.insert_one({"_id": 1, "n": 5})
    res = await db.c.update_one({"_id": 1}, {"$inc": {"n": 2, "m": 1}})
    assert (res.matched_count, res.modified_count) == (1, 1)
    assert await db.c.find_one({"_id": 1}) == {"_id": 1, "n": 7, "m": 1}
    res = await db.c.update_one({"_id": 1}, {"$inc": {"n": -10}})
    assert (await db.c.find_one({"_id": 1}))["n"] == -3
    res = await db.c.update_one({"_id": 2}, {"$inc": {"n": 1}})
    assert (res.matched_count, res.modified_count, res.upserted_id) == (0, 0, None)
    res = await db.c.update_one({"_id": 2}, {"$inc": {"n": 1}}, upsert=True)
    assert res.upserted_id == 2
    assert await db.c.find_one({"_id": 2}) == {"_id": 2, "n": 1}


async def test_update_many_and_delete_many(db: AsyncDatabase) -> None:
    await db.c.insert_many([{"_id": i, "status": "pending" if i < 4 else "sent"} for i in range(6)])
    res = await db.c.update_many({"status": "pending"}, {"$set": {"status": "sent"}})
    assert (res.matched_count, res.modified_count) == (4, 4)
    res = await db.c.update_many({"status": "sent"}, {"$set": {"status": "sent"}})
    assert res.matched_count == 6
    res = await db.c.delete_many({"_id": {"$gte": 3}})
    assert res.deleted_count == 3
    assert await db.c.count_documents({}) == 3


async def test_outbox_append_and_conditional_mark(db: AsyncDatabase) -> None:
    # servicekit.outbox: $push/$each + $inc + $set in one write, then a mark filtered on outbox_len.
    await db.c.insert_one(
        {
            "_id": "case",
            "outbox": [{"k": 1}],
            "outbox_len": 1,
            "outbox_sent": 0,
            "outbox_pending": True,
            "outbox_at": 1,
        }
    )
    await db.c.update_one(
        {"_id": "case"},
        {
            "$push": {"outbox": {"$each": [{"k": 2}, {"k": 3}]}},
            "$inc": {"outbox_len": 2},
            "$set": {"outbox_pending": True, "outbox_at": 2},
        },
    )
    doc = await db.c.find_one({"outbox_pending": True}, {"outbox": 1, "outbox_len": 1, "outbox_sent": 1})
    assert doc == {"_id": "case", "outbox": [{"k": 1}, {"k": 2}, {"k": 3}], "outbox_len": 3, "outbox_sent": 0}
    # A stale mark (the document grew meanwhile) matches nothing ...
    res = await db.c.update_one(
        {"_id": "case", "outbox_len": 1}, {"$set": {"outbox_sent": 1, "outbox_pending": False}}
    )
    assert res.matched_count == 0
    # ... but progress with $lt still applies, and the flag stays set.
    res = await db.c.update_one({"_id": "case", "outbox_sent": {"$lt": 1}}, {"$set": {"outbox_sent": 1}})
    assert res.modified_count == 1
    assert await db.c.count_documents({"outbox_pending": True}) == 1
    res = await db.c.update_one(
        {"_id": "case", "outbox_len": 3}, {"$set": {"outbox_sent": 3, "outbox_pending": False}}
    )
    assert res.modified_count == 1
    assert await db.c.count_documents({"outbox_pending": True}) == 0


async def test_find_one_and_update_guarded_by_array_ne(db: AsyncDatabase) -> None:
    # services.reply: record an answer once; the filter refuses a task already answered.
    await db.cases.insert_one({"_id": "c1", "answers": [], "answered_count": 0})

    async def record(task_id: str):
        return await db.cases.find_one_and_update(
            {"_id": "c1", "answers.task_id": {"$ne": task_id}},
            {"$push": {"answers": {"task_id": task_id}}, "$inc": {"answered_count": 1}},
            return_document=ReturnDocument.AFTER,
        )

    first = await record("t1")
    assert first["answered_count"] == 1 and first["answers"] == [{"task_id": "t1"}]
    assert await record("t1") is None
    second = await record("t2")
    assert second["answered_count"] == 2
    # Concurrent duplicates of one answer: exactly one wins.
    results = await asyncio.gather(*[record("t3") for _ in range(10)])
    assert sum(r is not None for r in results) == 1
    doc = await db.cases.find_one({"_id": "c1"})
    assert doc["answered_count"] == 3 and [a["task_id"] for a in doc["answers"]] == ["t1", "t2", "t3"]


# ------------------------------------------------------------------ bulk writes


async def test_insert_many_unordered_with_duplicates_inserts_the_rest(db: AsyncDatabase) -> None:
    await db.c.create_index("event_id", unique=True)
    await db.c.insert_one({"_id": 0, "event_id": "e0"})
    docs = [
        {"_id": 1, "event_id": "e1"},
        {"_id": 2, "event_id": "e0"},  # duplicate event_id (unique index)
        {"_id": 3, "event_id": "e3"},
        {"_id": 1, "event_id": "e4"},  # duplicate _id
        {"_id": 5, "event_id": "e5"},
    ]
    with pytest.raises(BulkWriteError) as exc:
        await db.c.insert_many(docs, ordered=False)
    details = exc.value.details
    assert details["nInserted"] == 3
    assert sorted(e["index"] for e in details["writeErrors"]) == [1, 3]
    assert all(e["code"] == 11000 for e in details["writeErrors"])
    assert sorted([d["_id"] async for d in db.c.find({}, {"_id": 1})]) == [0, 1, 3, 5]


async def test_insert_many_ordered_stops_at_first_error(db: AsyncDatabase) -> None:
    docs = [{"_id": 1}, {"_id": 1}, {"_id": 2}]
    with pytest.raises(BulkWriteError) as exc:
        await db.c.insert_many(docs)  # ordered=True is the default
    assert exc.value.details["nInserted"] == 1
    assert [e["index"] for e in exc.value.details["writeErrors"]] == [1]
    assert await db.c.count_documents({}) == 1


async def test_bulk_write_mixed_operations(db: AsyncDatabase) -> None:
    await db.c.insert_many([{"_id": i, "v": i} for i in range(4)])
    res = await db.c.bulk_write(
        [
            InsertOne({"_id": 10, "v": 10}),
            UpdateOne({"_id": 0}, {"$set": {"v": 100}}),
            UpdateOne({"_id": 20}, {"$set": {"v": 20}}, upsert=True),
            UpdateMany({"v": {"$lt": 3}}, {"$inc": {"v": 1000}}),
            ReplaceOne({"_id": 3}, {"v": 33}),
            DeleteOne({"_id": 10}),
        ]
    )
    assert res.inserted_count == 1
    assert res.upserted_count == 1 and res.upserted_ids == {2: 20}
    assert res.matched_count == 1 + 2 + 1  # UpdateOne, UpdateMany (1 and 2), ReplaceOne
    assert res.modified_count == 4
    assert res.deleted_count == 1
    got = {d["_id"]: d["v"] async for d in db.c.find()}
    assert got == {0: 100, 1: 1001, 2: 1002, 3: 33, 20: 20}


async def test_bulk_write_unordered_reports_duplicates(db: AsyncDatabase) -> None:
    await db.c.insert_one({"_id": 1})
    with pytest.raises(BulkWriteError) as exc:
        await db.c.bulk_write(
            [InsertOne({"_id": 1}), InsertOne({"_id": 2}), UpdateOne({"_id": 2}, {"$set": {"x": 1}})],
            ordered=False,
        )
    details = exc.value.details
    assert [e["index"] for e in details["writeErrors"]] == [0]
    assert details["nInserted"] == 1
    assert await db.c.find_one({"_id": 2}) == {"_id": 2, "x": 1}


# ------------------------------------------------------------------ queries


async def test_find_sort_limit_skip_and_projection(db: AsyncDatabase) -> None:
    base = datetime(2026, 3, 1, tzinfo=UTC)
    await db.n.insert_many(
        [
            {
                "_id": i,
                "status": ["pending", "sent", "awaiting"][i % 3],
                "next_at": base + timedelta(minutes=i),
                "outbox": ["big"],
            }
            for i in range(20)
        ]
    )
    # services.notify's due query: $in + $lte on datetimes, sorted, limited, outbox excluded.
    cursor = (
        db.n.find(
            {"status": {"$in": ["pending", "awaiting"]}, "next_at": {"$lte": base + timedelta(minutes=10)}},
            {"outbox": 0},
        )
        .sort("next_at", ASCENDING)
        .limit(4)
    )
    docs = [d async for d in cursor]
    assert [d["_id"] for d in docs] == [0, 2, 3, 5]
    assert all("outbox" not in d for d in docs)
    assert docs[0]["next_at"] == base and docs[0]["next_at"].tzinfo is not None

    desc = [d["_id"] async for d in db.n.find({}, {"_id": 1}).sort("_id", DESCENDING).skip(2).limit(3)]
    assert desc == [17, 16, 15]
    # The audit ledger's head: find_one with a descending sort and an inclusion projection.
    head = await db.n.find_one({}, {"_id": 1, "status": 1}, sort=[("_id", DESCENDING)])
    assert head == {"_id": 19, "status": "sent"}
    # Compound sort.
    two = [
        (d["status"], d["_id"])
        async for d in db.n.find().sort([("status", ASCENDING), ("_id", DESCENDING)]).limit(2)
    ]
    assert two == [("awaiting", 17), ("awaiting", 14)]


async def test_query_on_array_fields(db: AsyncDatabase) -> None:
    await db.cases.create_index("tasks.dept_code")
    await db.cases.insert_many(
        [
            {
                "_id": "c1",
                "reply_issued": False,
                "tasks": [{"task_id": "a", "dept_code": "fgw"}, {"task_id": "b", "dept_code": "czt"}],
            },
            {"_id": "c2", "reply_issued": True, "tasks": [{"task_id": "c", "dept_code": "fgw"}]},
            {"_id": "c3", "reply_issued": False, "tasks": [{"task_id": "d", "dept_code": "slt"}]},
        ]
    )
    open_fgw = [d["_id"] async for d in db.cases.find({"tasks.dept_code": "fgw", "reply_issued": False})]
    assert open_fgw == ["c1"]
    assert await db.cases.count_documents({"tasks.task_id": {"$in": ["b", "d"]}}) == 2
    assert (
        await db.cases.count_documents({"tasks": {"$elemMatch": {"task_id": "a", "dept_code": "fgw"}}}) == 1
    )
    assert (
        await db.cases.count_documents({"tasks": {"$elemMatch": {"task_id": "a", "dept_code": "czt"}}}) == 0
    )


async def test_count_documents(db: AsyncDatabase) -> None:
    await db.c.insert_many([{"_id": i, "even": i % 2 == 0, "tag": "x" if i < 7 else None} for i in range(10)])
    assert await db.c.count_documents({}) == 10
    assert await db.c.count_documents({"even": True}) == 5
    assert await db.c.count_documents({"_id": {"$gte": 2, "$lt": 8}}) == 6
    assert await db.c.count_documents({"even": True}, limit=2) == 2
    assert await db.c.count_documents({"even": True}, skip=4) == 1
    assert await db.c.count_documents({"missing": {"$exists": True}}) == 0
    assert await db.c.count_documents({"tag": None}) == 3
    assert await db.c.count_documents({"nope": 1}) == 0
    assert await db.c.estimated_document_count() == 10


async def test_types_round_trip(db: AsyncDatabase) -> None:
    # tz-aware datetimes (millisecond precision, UTC) and standard UUIDs, as servicekit configures.
    at = datetime(2026, 5, 4, 3, 2, 1, 123000, tzinfo=UTC)
    uid = uuid.uuid4()
    await db.c.insert_one({"_id": uid, "at": at, "big": 2**40, "f": 1.5, "nested": {"a": [1, {"b": None}]}})
    doc = await db.c.find_one({"_id": uid})
    assert doc == {"_id": uid, "at": at, "big": 2**40, "f": 1.5, "nested": {"a": [1, {"b": None}]}}
    assert doc["at"].tzinfo is not None


# ------------------------------------------------------------------ persistence


async def test_data_survives_stop_and_start(new_store) -> None:
    inst = new_store()
    client = client_for(inst.url)
    try:
        await client.gk.c.create_index("event_id", unique=True)
        await client.gk.c.insert_many([{"_id": i, "event_id": f"e{i}"} for i in range(100)])
        await client.gk.counters.find_one_and_update({"_id": "seq"}, {"$inc": {"n": 7}}, upsert=True)
    finally:
        await client.close()

    inst.stop()
    inst.start()

    client = client_for(inst.url)
    try:
        assert await client.gk.c.count_documents({}) == 100
        assert (await client.gk.counters.find_one({"_id": "seq"}))["n"] == 7
        # The unique index survived too.
        with pytest.raises(DuplicateKeyError):
            await client.gk.c.insert_one({"event_id": "e5"})
    finally:
        await client.close()


@pytest.mark.parametrize("durability", [None, "fsync"])
async def test_every_acknowledged_write_survives_a_kill(new_store, durability) -> None:
    # The chaos run's finding: the store acknowledged writes it committed to disk only once a second
    # (1,000 acknowledged inserts, SIGKILL, restart: 978 left). Now each write is committed (and, with
    # fsync, forced to the disk) before its reply: the kill comes right after the last reply.
    inst = new_store(durability)
    client = client_for(inst.url)
    try:
        async def writer(w: int) -> None:
            for i in range(100):
                await client.gk.c.insert_one({"_id": w * 100 + i})
                await client.gk.counters.find_one_and_update({"_id": "n"}, {"$inc": {"n": 1}}, upsert=True)
        await asyncio.gather(*(writer(w) for w in range(10)))
        await client.gk.c.update_one({"_id": 999}, {"$set": {"last": True}})
    finally:
        await client.close()
    sigkill(inst.pid())
    inst.start()
    client = client_for(inst.url)
    try:
        assert await client.gk.c.count_documents({}) == 1000
        assert (await client.gk.counters.find_one({"_id": "n"}))["n"] == 1000
        assert (await client.gk.c.find_one({"_id": 999}))["last"] is True
    finally:
        await client.close()
