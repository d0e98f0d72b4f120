"""Intake's storage: applications (with their outbox) and the daily tracking-number counters."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from servicekit import outbox

# Tracking numbers drawn for one application before giving up (each collision draws the next one).
NUMBER_ATTEMPTS = 20


class NumbersExhausted(Exception):
    """Every tracking number drawn was taken (the counters were reset below the stored numbers)."""


class IntakeStore:
    def __init__(self, db: AsyncDatabase) -> None:
        self.db = db
        self.applications = db["applications"]
        self.counters = db["counters"]

    async def setup(self) -> None:
        await self.applications.create_index("tracking_number", unique=True)
        await self.applications.create_index([("applicant_ref", 1), ("agency_code", 1)])
        await self.applications.create_index("referral.referral_id")
        await outbox.ensure_indexes(self.applications)

    async def earlier_applications(self, applicant_ref: str, agency_code: str, limit: int = 500) -> list[dict[str, Any]]:
        """The applicant's earlier applications to the agency (newest first), for repeat detection."""
        cursor = self.applications.find(
            {"applicant_ref": applicant_ref, "agency_code": agency_code},
            {"_id": 1, "application": 1, "received_on": 1, "tracking_number": 1},
            sort=[("received_on", -1)],
            limit=limit,
        )
        return await cursor.to_list()

    async def next_in_month(self, applicant_ref: str, agency_code: str, month: str) -> int:
        """The rank of a new application among the applicant's applications to the agency in the
        month (国办函〔2020〕109号 counts per applicant per calendar month). Atomic."""
        doc = await self.counters.find_one_and_update(
            {"_id": f"monthly:{applicant_ref}:{agency_code}:{month}"},
            {"$inc": {"n": 1}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        return int(doc["n"])

    async def confirm_fee_notice(self, case_id: str, update: dict[str, Any]) -> bool:
        """Mark the drafted fee notice confirmed (once), with the update's outbox records."""
        result = await self.applications.update_one(
            {"_id": case_id, "screening.fee_notice.confirmed": False}, update
        )
        return result.modified_count == 1

    async def next_sequence(self, agency: str, on: date) -> int:
        doc = await self.counters.find_one_and_update(
            {"_id": f"{agency}:{on.isoformat()}"},
            {"$inc": {"n": 1}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        return int(doc["n"])

    async def by_referral(self, referral_id: str) -> list[dict[str, Any]]:
        """The applications created for a referral from another agency (one, once accepted)."""
        cursor = self.applications.find({"referral.referral_id": referral_id}, {"outbox": 0})
        return await cursor.to_list()

    async def get(self, case_id: str) -> dict[str, Any] | None:
        return await self.applications.find_one({"_id": case_id})

    async def insert_numbered(self, agency: str, on: date, number_of: Callable[[int], str],
                              doc_of: Callable[[str], dict[str, Any]]) -> tuple[dict[str, Any], bool]:
        """Store a new application under the next tracking number of the agency's day; a number
        already taken (the unique index says so) is passed over for the next one, never an error.
        On a replay of the case (same ``_id``) return the one already stored."""
        for _ in range(NUMBER_ATTEMPTS):
            doc = doc_of(number_of(await self.next_sequence(agency, on)))
            try:
                await self.applications.insert_one(doc)
                return doc, True
            except DuplicateKeyError:
                existing = await self.get(doc["_id"])
                if existing is not None:
                    return existing, False
                # The tracking number collided, not the case: draw the next one.
        raise NumbersExhausted(agency)
