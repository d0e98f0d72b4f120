"""servicekit.lease against the real local store: of many contenders exactly one wins; an expired
lease goes to the next holder with a higher term; a deposed holder's renewal fails; a release
hands over at once; a restarted incarnation of the same holder takes its lease back with a new term."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from servicekit.lease import Lease

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def db(store, request: pytest.FixtureRequest) -> AsyncIterator[AsyncDatabase]:
    client = AsyncMongoClient(store.url, tz_aware=True, serverSelectionTimeoutMS=5000)
    name = "t_" + re.sub(r"[^A-Za-z0-9_]", "_", request.node.name)[:50]
    await client.drop_database(name)
    try:
        yield client[name]
    finally:
        await client.drop_database(name)
        await client.close()


async def test_of_concurrent_contenders_exactly_one_wins(db: AsyncDatabase) -> None:
    for round_ in range(5):  # a fresh lease (insert race) and taken-over leases (update race)
        leases = [Lease(db.leases, f"writer-{round_}", f"holder-{i}", ttl=30) for i in range(12)]
        won = await asyncio.gather(*(lease.acquire() for lease in leases))
        assert sum(won) == 1, won
        winner = leases[won.index(True)]
        assert winner.term == 1 and winner.held
        doc = await winner.current()
        assert doc["holder"] == winner.holder and doc["term"] == 1
        # The losers stay out while it is held.
        assert not any(await asyncio.gather(*(lease.acquire() for lease in leases if lease is not winner)))


async def test_expired_lease_is_taken_with_a_higher_term(db: AsyncDatabase) -> None:
    a = Lease(db.leases, "writer", "a", ttl=0.6)
    b = Lease(db.leases, "writer", "b", ttl=0.6)
    assert await a.acquire() and a.term == 1
    assert not await b.acquire()
    await asyncio.sleep(0.8)  # a stops renewing: expired
    assert not a.held  # a's own view: no longer counts on it
    contenders = [Lease(db.leases, "writer", f"c{i}", ttl=30) for i in range(6)] + [b]
    won = await asyncio.gather(*(c.acquire() for c in contenders))
    assert sum(won) == 1
    winner = contenders[won.index(True)]
    assert winner.term == 2
    assert (await winner.current())["holder"] == winner.holder


async def test_deposed_holder_cannot_renew(db: AsyncDatabase) -> None:
    a = Lease(db.leases, "writer", "a", ttl=0.5)
    b = Lease(db.leases, "writer", "b", ttl=30)
    assert await a.acquire()
    assert await a.renew()  # still ours
    await asyncio.sleep(0.7)
    assert await b.acquire() and b.term == 2
    assert not await a.renew()  # deposed: it must stop writing
    assert a.term is None and not a.held
    assert not await a.release()  # and cannot free b's lease either
    doc = await b.current()
    assert doc["holder"] == "b" and doc["term"] == 2
    assert await b.renew()


async def test_release_hands_over_at_once_with_a_higher_term(db: AsyncDatabase) -> None:
    a = Lease(db.leases, "writer", "a", ttl=30)
    b = Lease(db.leases, "writer", "b", ttl=30)
    assert await a.acquire()
    assert not await b.acquire()
    assert await a.release()
    assert await b.acquire() and b.term == 2


async def test_a_restarted_incarnation_of_the_holder_takes_it_back_at_once(db: AsyncDatabase) -> None:
    old = Lease(db.leases, "writer", "audit-8105", ttl=30)
    assert await old.acquire() and old.term == 1
    new = Lease(db.leases, "writer", "audit-8105", ttl=30)  # the same instance, restarted
    assert await new.acquire() and new.term == 2  # no wait for the expiry
    assert not await old.renew()  # the earlier incarnation is deposed by the term
    assert await new.renew()
