"""A transactional outbox without transactions.

The store has no multi-document transactions (FerretDB v1 and the local server lack them), so the
events a change produces are written *inside the same document* as the change, in the same
single-document (atomic) write: ``outbox`` is an array of Kafka records, ``outbox_len`` counts them,
``outbox_sent`` counts those published, ``outbox_pending`` flags documents with work to do.

The relay publishes ``outbox[outbox_sent:]`` in order and then advances ``outbox_sent`` with a
filter on ``outbox_len``: if another write appended meanwhile, the flag stays set and the next round
publishes the rest. A crash between publishing and marking republishes the same records with the
same event ids; consumers are idempotent on event ids, so nobody sees a duplicate.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import structlog
from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection

from contracts.envelope import CloudEvent, encode, kafka_headers

from servicekit.metrics import EVENTS_PUBLISHED, OUTBOX_PENDING

log = structlog.get_logger()

PublishMany = Callable[[Sequence[tuple[str, bytes, bytes, dict[str, str]]]], Awaitable[None]]


def record(topic: str, event: CloudEvent[Any]) -> dict[str, Any]:
    """One outbox entry: a Kafka record ready to publish."""
    return {
        "topic": topic,
        "key": event.subject,
        "value": encode(event).decode("utf-8"),
        "headers": kafka_headers(event),
        "event_id": event.id,
    }


def new_doc_fields(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Fields to put in a new document so that its records get published."""
    return {
        "outbox": list(records),
        "outbox_len": len(records),
        "outbox_sent": 0,
        "outbox_pending": bool(records),
        "outbox_at": time.time_ns(),
    }


def append_update(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Update operators that append records to an existing document's outbox."""
    return {
        "$push": {"outbox": {"$each": list(records)}},
        "$inc": {"outbox_len": len(records)},
        "$set": {"outbox_pending": True, "outbox_at": time.time_ns()},
    }


def merge_updates(*updates: dict[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for update in updates:
        for op, fields in update.items():
            merged.setdefault(op, {}).update(fields)
    return merged


async def ensure_indexes(collection: AsyncCollection) -> None:
    await collection.create_index([("outbox_pending", ASCENDING), ("outbox_at", ASCENDING)])


class OutboxRelay:
    """Publishes the outbox records of some collections, in order, until stopped."""

    def __init__(
        self,
        collections: Sequence[AsyncCollection],
        publish_many: PublishMany,
        poll_seconds: float = 1.0,
        batch: int = 200,
    ) -> None:
        self._collections = list(collections)
        self._publish_many = publish_many
        self._poll = poll_seconds
        self._batch = batch
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Call after a write that added records, so they go out without waiting for the poll."""
        self._wake.set()

    async def run(self) -> None:
        backoff = self._poll
        only: list[AsyncCollection] | None = None  # None: every collection
        while True:
            self._wake.clear()  # before draining: a wake-up during the drain is not lost
            try:
                busy = await self.drain_once(only)
                backoff = self._poll
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - broker or store down: keep trying
                OUTBOX_PENDING.inc()
                log.warning("outbox_publish_failed", error=repr(exc), retry_in=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            if busy:
                # Again at once, but only where records were found (more may have come behind a
                # full batch, or been appended meanwhile) unless a write woke the relay meanwhile:
                # a wake names no collection, so then every one (and every one at each poll).
                only = None if self._wake.is_set() else busy
                continue
            only = None
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self._poll)
            except TimeoutError:
                pass

    async def drain_once(self, collections: Sequence[AsyncCollection] | None = None) -> list[AsyncCollection]:
        """Publish what is pending now (a batch per collection; all of them, or ``collections``);
        the collections where records were published (empty: nothing was pending)."""
        published: list[AsyncCollection] = []
        for coll in self._collections if collections is None else collections:
            docs = await coll.find(
                {"outbox_pending": True},
                {"outbox": 1, "outbox_len": 1, "outbox_sent": 1},
                sort=[("outbox_at", ASCENDING)],
                limit=self._batch,
            ).to_list()
            records = [
                (rec["topic"], rec["key"].encode(), rec["value"].encode(), rec["headers"])
                for doc in docs
                for rec in doc.get("outbox", [])[doc.get("outbox_sent", 0):doc.get("outbox_len", 0)]
            ]
            if records:
                await self._publish_many(records)
                for rec in records:
                    EVENTS_PUBLISHED.labels(rec[0]).inc()
                published.append(coll)
            for doc in docs:
                total = doc.get("outbox_len", 0)
                done = await coll.update_one(
                    {"_id": doc["_id"], "outbox_len": total},
                    {"$set": {"outbox_sent": total, "outbox_pending": False}},
                )
                if done.modified_count == 0:
                    # The document grew meanwhile: record the progress; the rest goes next round.
                    await coll.update_one(
                        {"_id": doc["_id"], "outbox_sent": {"$lt": total}}, {"$set": {"outbox_sent": total}}
                    )
        return published
