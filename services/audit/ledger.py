"""The append-only ledger: every event of every shared topic, hash-chained, stored once.

There is no update or delete path in this module, nor anywhere in the audit service. One audit
process appends (single writer); ``seq`` is the ledger position and the ``_id``; ``event_id`` is
unique, so a redelivered event is not appended twice.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from contracts.envelope import CloudEvent
from services.audit.chain import GENESIS, Verdict, entry_hash, verify


class Ledger:
    def __init__(self, db: AsyncDatabase) -> None:
        self.entries = db["ledger"]
        self._lock = asyncio.Lock()
        self._head: tuple[int, str] | None = None

    async def setup(self) -> None:
        await self.entries.create_index("event_id", unique=True)
        await self.entries.create_index([("subject", ASCENDING), ("_id", ASCENDING)])

    async def _load_head(self) -> tuple[int, str]:
        last = await self.entries.find_one({}, {"_id": 1, "hash": 1}, sort=[("_id", DESCENDING)])
        return (0, GENESIS) if last is None else (int(last["_id"]), last["hash"])

    async def append(self, event: CloudEvent[Any], raw: bytes, topic: str, partition: int, offset: int) -> int | None:
        """Append one event; returns its seq, or None if it was already in the ledger."""
        async with self._lock:
            if await self.entries.find_one({"event_id": event.id}, {"_id": 1}):
                return None
            if self._head is None:
                self._head = await self._load_head()
            seq, prev = self._head
            doc = {
                "_id": seq + 1,
                "event_id": event.id,
                "type": event.type,
                "subject": event.subject,
                "source": event.source,
                "time": event.time,
                "causationid": event.causationid,
                "topic": topic,
                "partition": partition,
                "offset": offset,
                "value": raw.decode("utf-8"),
                "prev_hash": prev,
                "hash": entry_hash(prev, raw),
                "recorded_at": datetime.now(UTC),
            }
            try:
                await self.entries.insert_one(doc)
            except DuplicateKeyError:
                self._head = None  # another writer or a lost ack: reload the head and let it retry
                raise
            self._head = (seq + 1, doc["hash"])
            return seq + 1

    async def case_events(self, case_id: str) -> list[dict[str, Any]]:
        cursor = self.entries.find({"subject": case_id}, {"value": 0}).sort("_id", ASCENDING)
        return [doc async for doc in cursor]

    async def verify(self) -> Verdict:
        cursor = self.entries.find({}, {"_id": 1, "prev_hash": 1, "hash": 1, "value": 1}).sort("_id", ASCENDING)
        entries = [(int(d["_id"]), d["prev_hash"], d["hash"], d["value"].encode("utf-8")) async for d in cursor]
        return verify(entries)
