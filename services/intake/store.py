"""Intake's storage: applications (with their outbox) and the daily tracking-number counters."""

from __future__ import annotations

from datetime import date
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from servicekit import outbox


class IntakeStore:
    def __init__(self, db: AsyncDatabase) -> None:
        self.db = db
        self.applications = db["applications"]
        self.counters = db["counters"]

    async def setup(self) -> None:
        await self.applications.create_index("tracking_number", unique=True)
        await outbox.ensure_indexes(self.applications)

    async def next_sequence(self, agency: str, on: date) -> int:
        doc = await self.counters.find_one_and_update(
            {"_id": f"{agency}:{on.isoformat()}"},
            {"$inc": {"n": 1}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        return int(doc["n"])

    async def get(self, case_id: str) -> dict[str, Any] | None:
        return await self.applications.find_one({"_id": case_id})

    async def insert(self, doc: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Store a new application with its outbox; on a replay return the one already stored."""
        try:
            await self.applications.insert_one(doc)
            return doc, True
        except DuplicateKeyError:
            existing = await self.get(doc["_id"])
            if existing is None:  # the tracking number collided, not the case: let it surface
                raise
            return existing, False
