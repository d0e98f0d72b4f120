"""servicekit.ratelimit over the real local store: fixed windows counted atomically in one shared
collection (so two limiter instances — two service instances — count together), expired windows
never counted, Retry-After from the window's end, identifiers stored hashed."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from limits.storage import storage_from_string
from pymongo import AsyncMongoClient

from servicekit.ratelimit import AttemptLimiter, MongoWindowStorage

pytestmark = pytest.mark.asyncio


class Clock:
    def __init__(self, t: float = 1_800_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest_asyncio.fixture
async def db(store) -> AsyncIterator:  # noqa: F811
    client: AsyncMongoClient = AsyncMongoClient(store.url, tz_aware=True, serverSelectionTimeoutMS=10000)
    name = f"rl_{uuid.uuid4().hex[:10]}"
    try:
        yield client[name]
    finally:
        await client.drop_database(name)
        await client.close()


async def test_counts_within_a_window_and_starts_a_new_one_after_it(db):
    clock = Clock()
    s = MongoWindowStorage(collection=db["rate_limits"], clock=clock)
    await s.setup()
    assert [await s.incr("k", 60) for _ in range(3)] == [1, 2, 3]
    assert await s.get("k") == 3 and await s.get("other") == 0
    assert await s.get_expiry("k") == pytest.approx(clock.t + 60)
    clock.t += 30
    assert await s.incr("k", 60, amount=2) == 5  # same window: its end does not move
    assert await s.get_expiry("k") == pytest.approx(clock.t + 30)
    clock.t += 31  # the window has ended: read as empty, and the next hit opens a new one
    assert await s.get("k") == 0
    assert await s.incr("k", 60) == 1
    assert await s.get_expiry("k") == pytest.approx(clock.t + 60)
    await s.clear("k")
    assert await s.get("k") == 0
    assert await s.check() is True


async def test_concurrent_hits_are_each_counted_once(db):
    s = MongoWindowStorage(collection=db["rate_limits"])
    results = await asyncio.gather(*(s.incr("hot", 900) for _ in range(40)))
    assert sorted(results) == list(range(1, 41))  # every caller saw its own count
    assert await s.get("hot") == 40


async def test_sixth_failure_is_refused_with_retry_after(db):
    clock = Clock()
    lim = AttemptLimiter(MongoWindowStorage(collection=db["rate_limits"], clock=clock), "5/15 minutes")
    keys = [("tracking", "YN-20260302-00001"), ("client", "203.0.113.9")]
    for _ in range(5):
        assert await lim.check(keys) == (True, 0)
        assert (await lim.hit(keys))[0] is True
    clock.t += 100
    allowed, retry = await lim.check(keys)
    assert allowed is False and retry == 15 * 60 - 100
    # Another client on the same number: still refused (the number's own limit) ...
    assert (await lim.check([("tracking", "YN-20260302-00001"), ("client", "198.51.100.1")]))[0] is False
    # ... and the same client on another number too (the client's limit); a fresh pair passes.
    assert (await lim.check([("tracking", "YN-20260302-00002"), ("client", "203.0.113.9")]))[0] is False
    assert await lim.check([("tracking", "YN-20260302-00002"), ("client", "198.51.100.1")]) == (True, 0)
    clock.t += 15 * 60  # the window is over
    assert await lim.check(keys) == (True, 0)


async def test_two_limiter_instances_on_one_store_count_together(db, store):  # noqa: F811
    # Two "service instances": their own clients, their own storages, the same collection.
    other_client: AsyncMongoClient = AsyncMongoClient(store.url, tz_aware=True)
    try:
        a = AttemptLimiter(MongoWindowStorage(collection=db["rate_limits"]), "5/15 minutes")
        b = AttemptLimiter(MongoWindowStorage(collection=other_client[db.name]["rate_limits"]), "5/15 minutes")
        keys = [("tracking", "YN-1")]
        for lim in (a, b, a, b, a):
            assert (await lim.hit(keys))[0] is True
        assert (await a.check(keys))[0] is False and (await b.check(keys))[0] is False
        assert (await b.hit(keys))[0] is False  # the sixth, on either instance
    finally:
        await other_client.close()


async def test_registered_scheme_and_hashed_identifiers(db, store):  # noqa: F811
    host = store.url.removeprefix("mongodb://")
    s = storage_from_string(f"async+gongkai-mongodb://{host}/{db.name}")
    assert isinstance(s, MongoWindowStorage)
    try:
        lim = AttemptLimiter(s, "2/1 minute")
        assert (await lim.hit([("client", "203.0.113.9")]))[0] is True
        [doc] = await db["rate_limits"].find({}).to_list()
        assert "203.0.113.9" not in str(doc) and doc["count"] == 1
    finally:
        await s.close()
