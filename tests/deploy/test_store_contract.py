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


async def test_id_plus_other_fields_filters(db: AsyncDatabase) -> None:
    # The services' conditional writes: {_id: X, rev: n}, {_id: X, outbox_len: n}, {_id: X, status: s}.
    # GongkaiStore looks such filters up by _id and matches the rest on that document only: a
    # document matches only if every part of the filter holds.
    await db.c.insert_many([{"_id": i, "rev": 1, "status": "new" if i % 2 else "sending"} for i in range(20)])
    # find: match / no match (right _id, wrong field; wrong _id, right field)
    assert await db.c.find_one({"_id": 3, "rev": 1}) == {"_id": 3, "rev": 1, "status": "new"}
    assert await db.c.find_one({"_id": 3, "rev": 2}) is None
    assert await db.c.find_one({"_id": 99, "rev": 1}) is None
    assert await db.c.find_one({"_id": 3, "status": "new", "rev": {"$gte": 1}}) is not None
    assert await db.c.find_one({"_id": 3, "status": "new", "rev": {"$gt": 1}}) is None
    assert await db.c.find_one({"_id": {"$eq": 4}, "status": "sending"}) is not None
    assert await db.c.find_one({"_id": {"$eq": 4}, "status": "new"}) is None
    # numbers compare by value, as for {_id: v} alone
    assert (await db.c.find_one({"_id": 5.0, "rev": 1}))["_id"] == 5
    # $in on _id, with and without other conditions
    ids = [d["_id"] async for d in db.c.find({"_id": {"$in": [1, 2, 3, 4, 99]}, "status": "new"})]
    assert sorted(ids) == [1, 3]
    assert await db.c.count_documents({"_id": {"$in": [1, 2, 3, 4, 99]}}) == 4
    assert await db.c.count_documents({"_id": {"$in": []}, "rev": 1}) == 0
    assert await db.c.count_documents({"_id": {"$in": [1, 2]}, "rev": 1, "status": {"$ne": "new"}}) == 1
    # a range on _id plus another field (no key look-up) still works
    assert await db.c.count_documents({"_id": {"$lt": 10}, "status": "new"}) == 5
    # update: a guarded write applies once; the stale one matches nothing
    res = await db.c.update_one({"_id": 6, "rev": 1}, {"$set": {"rev": 2}})
    assert (res.matched_count, res.modified_count) == (1, 1)
    res = await db.c.update_one({"_id": 6, "rev": 1}, {"$set": {"rev": 3}})
    assert (res.matched_count, res.modified_count) == (0, 0)
    assert (await db.c.find_one({"_id": 6}))["rev"] == 2
    res = await db.c.update_many({"_id": {"$in": [7, 8, 9]}, "status": "new"}, {"$set": {"status": "sent"}})
    assert (res.matched_count, res.modified_count) == (2, 2)
    assert await db.c.count_documents({"status": "sent"}) == 2
    # upsert: an absent _id is inserted from the filter; an existing _id whose other fields do not
    # match is a duplicate key (as in MongoDB), and the document is left alone
    res = await db.c.update_one({"_id": 50, "rev": 1}, {"$set": {"status": "made"}}, upsert=True)
    assert res.upserted_id == 50
    assert await db.c.find_one({"_id": 50}) == {"_id": 50, "rev": 1, "status": "made"}
    with pytest.raises(DuplicateKeyError):
        await db.c.update_one({"_id": 6, "rev": 1}, {"$set": {"status": "x"}}, upsert=True)
    assert await db.c.find_one({"_id": 6}) == {"_id": 6, "rev": 2, "status": "sending"}
    # findAndModify: matches, refuses, upserts
    doc = await db.c.find_one_and_update(
        {"_id": 10, "status": "sending"}, {"$inc": {"rev": 1}}, return_document=ReturnDocument.AFTER
    )
    assert doc == {"_id": 10, "rev": 2, "status": "sending"}
    assert await db.c.find_one_and_update({"_id": 10, "status": "new"}, {"$inc": {"rev": 1}}) is None
    doc = await db.c.find_one_and_update(
        {"_id": 60, "status": "new"}, {"$set": {"rev": 0}}, upsert=True, return_document=ReturnDocument.AFTER
    )
    assert doc == {"_id": 60, "status": "new", "rev": 0}
    assert await db.c.find_one_and_delete({"_id": 60, "rev": 1}) is None
    assert (await db.c.find_one_and_delete({"_id": 60, "rev": 0}))["_id"] == 60
    # delete: only when everything holds
    assert (await db.c.delete_one({"_id": 11, "status": "sending"})).deleted_count == 0
    assert (await db.c.delete_one({"_id": 11, "status": "new"})).deleted_count == 1
    assert (await db.c.delete_many({"_id": {"$in": [12, 13, 14]}, "rev": 1, "status": "sending"})).deleted_count == 2
    assert await db.c.count_documents({"_id": {"$in": [11, 12, 13, 14]}}) == 1
    assert await db.c.count_documents({}) == 21 - 3


async def test_equality_index_on_polled_fields(db: AsyncDatabase) -> None:
    # The outbox relay's poll {outbox_pending: true} (sorted by outbox_at) and the like are answered
    # from an in-memory equality index on the first field of a non-unique index; the answers must
    # stay those of a scan through inserts, updates, deletes and arrays.
    await db.c.insert_many(
        [{"_id": f"d{i:02}", "outbox_pending": i % 3 == 0, "outbox_at": 100 - i, "tags": ["all", f"t{i % 4}"]}
         for i in range(30)]
    )
    # Built over the existing documents, and for fields of other types too.
    await db.c.create_index([("outbox_pending", ASCENDING), ("outbox_at", ASCENDING)])
    await db.c.create_index("tags")
    await db.c.create_index("kind")

    async def pending() -> list[str]:
        return [d["_id"] async for d in db.c.find({"outbox_pending": True}, sort=[("outbox_at", ASCENDING)])]

    assert await pending() == [f"d{i:02}" for i in (27, 24, 21, 18, 15, 12, 9, 6, 3, 0)]
    assert [d["_id"] async for d in db.c.find({"outbox_pending": True}).sort("outbox_at", ASCENDING).limit(2)] == [
        "d27",
        "d24",
    ]
    await db.c.update_one({"_id": "d27", "outbox_pending": True}, {"$set": {"outbox_pending": False}})
    await db.c.update_one({"_id": "d01"}, {"$set": {"outbox_pending": True}})
    await db.c.insert_one({"_id": "new", "outbox_pending": True, "outbox_at": 0, "tags": "solo"})
    await db.c.delete_one({"_id": "d00"})
    assert await pending() == ["new"] + [f"d{i:02}" for i in (24, 21, 18, 15, 12, 9, 6, 3, 1)]
    assert await db.c.count_documents({"outbox_pending": False}) == 20
    assert await db.c.count_documents({"outbox_pending": {"$eq": True}, "outbox_at": {"$gt": 90}}) == 4
    assert await db.c.count_documents({"outbox_pending": {"$in": [True, False]}}) == 30
    assert await db.c.count_documents({"outbox_pending": {"$ne": True}}) == 20
    # arrays: {f: v} matches an array containing v; a plain value too
    assert await db.c.count_documents({"tags": "all"}) == 29
    assert await db.c.count_documents({"tags": "t1"}) == 8
    assert await db.c.count_documents({"tags": {"$in": ["t1", "solo"]}}) == 9
    assert await db.c.count_documents({"tags": "solo"}) == 1
    await db.c.update_one({"_id": "d05"}, {"$pull": {"tags": "t1"}})
    assert await db.c.count_documents({"tags": "t1"}) == 7
    assert await db.c.count_documents({"tags": ["all", "t1"]}) == 7  # whole-array equality: scanned
    # values of other types on an indexed field are answered by a scan, correctly
    await db.c.insert_many([{"_id": "k1", "kind": 1}, {"_id": "k2", "kind": 1.0}, {"_id": "k3", "kind": "1"}])
    assert await db.c.count_documents({"kind": 1}) == 2
    assert await db.c.count_documents({"kind": "1"}) == 1
    await db.c.update_many({"kind": "1"}, {"$set": {"kind": "one"}})
    assert await db.c.count_documents({"kind": "1"}) == 0
    assert await db.c.count_documents({"kind": {"$in": ["one", "two"]}}) == 1
    await db.c.delete_many({"outbox_pending": True})
    assert await pending() == []
    await db.c.drop_index("outbox_pending_1_outbox_at_1")
    assert await db.c.count_documents({"outbox_pending": False}) == 20  # scanned again
    assert await db.c.count_documents({}) == 23


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


async def test_equality_index_is_rebuilt_on_start(new_store) -> None:
    inst = new_store()
    client = client_for(inst.url)
    try:
        await client.gk.c.create_index([("outbox_pending", ASCENDING), ("outbox_at", ASCENDING)])
        await client.gk.c.insert_many([{"_id": i, "outbox_pending": i < 3, "outbox_at": -i} for i in range(10)])
    finally:
        await client.close()

    inst.stop()
    inst.start()

    client = client_for(inst.url)
    try:
        found = [d["_id"] async for d in client.gk.c.find({"outbox_pending": True}).sort("outbox_at", ASCENDING)]
        assert found == [2, 1, 0]
        await client.gk.c.update_one({"_id": 1, "outbox_pending": True}, {"$set": {"outbox_pending": False}})
        assert await client.gk.c.count_documents({"outbox_pending": True}) == 2
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
