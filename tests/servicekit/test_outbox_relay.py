"""servicekit.outbox.OutboxRelay against the real local store: while busy it drains again at once,
but only the collections where it found records; a wake or the poll drains every collection."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from servicekit import outbox
from servicekit.outbox import OutboxRelay

pytestmark = pytest.mark.asyncio


class Finds:
    """A collection that counts the relay's scans (``find``)."""

    def __init__(self, collection: Any) -> None:  # noqa: ANN401
        self.collection, self.finds = collection, 0

    def __getattr__(self, name: str) -> Any:  # noqa: ANN401
        return getattr(self.collection, name)

    def find(self, *args: Any, **kwargs: Any) -> Any:  # noqa: ANN401
        self.finds += 1
        return self.collection.find(*args, **kwargs)


def rec(n: int) -> dict[str, Any]:
    return {"topic": "gongkai.t", "key": f"k{n}", "value": f'{{"n": {n}}}', "headers": {}, "event_id": f"e{n}"}


async def pending(coll: Any, n: int, start: int = 0) -> None:  # noqa: ANN401
    for i in range(start, start + n):
        await coll.insert_one({"_id": f"d{i}", **outbox.new_doc_fields([rec(i)])})


async def test_drain_once_names_the_collections_it_published_from(db: AsyncDatabase) -> None:
    a, b = db.a, db.b
    await pending(a, 2)
    published: list[Any] = []

    async def publish_many(batch: Any) -> None:  # noqa: ANN401
        published.extend(batch)

    relay = OutboxRelay([a, b], publish_many)
    assert await relay.drain_once([b]) == [] and published == []  # only b was looked at
    assert [c.name for c in await relay.drain_once()] == ["a"] and len(published) == 2
    assert await relay.drain_once() == []  # each record once


async def test_a_busy_relay_rescans_only_where_records_were_and_every_collection_on_a_wake(db: AsyncDatabase) -> None:
    a, b = Finds(db.a), Finds(db.b)
    await pending(db.a, 450)  # three batches of 200 at most
    published: list[Any] = []

    async def publish_many(batch: Any) -> None:  # noqa: ANN401
        published.extend(batch)

    relay = OutboxRelay([a, b], publish_many, poll_seconds=30, batch=200)  # type: ignore[list-item]
    task = asyncio.create_task(relay.run())
    try:
        for _ in range(200):
            if len(published) == 450:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)  # the round that finds nothing more
        assert len(published) == 450
        # a: 3 batches and the empty round after them; b: only the first round (no wake, no poll).
        assert (a.finds, b.finds) == (4, 1)
        # A write elsewhere wakes it: every collection is drained, b's record goes out at once.
        await pending(db.b, 1, start=1000)
        relay.wake()
        for _ in range(100):
            if len(published) == 451:
                break
            await asyncio.sleep(0.05)
        assert [r[1] for r in published[-1:]] == [b"k1000"] and b.finds >= 2
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
