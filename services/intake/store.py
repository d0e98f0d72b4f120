"""Intake's storage: applications (with their outbox) and the daily tracking-number counters.

Nothing a person is told depends on a write that a crash can undo or leave half done:
- a tracking number is unique by the store's unique index (a number already taken is passed over);
  a number drawn by a submission that then crashed is a gap, never a number shared by two;
- the applicant's rank in the month (国办函〔2020〕109号, which drafts the fee notice) is derived from
  the stored applications: one more than the applicant's applications of the month already stored,
  and a unique index on (applicant, agency, month, rank) makes two concurrent submissions of one
  applicant draw again instead of sharing a rank. A submission that crashed stored nothing, so it
  used up no rank (a counter incremented before the insert did).
"""

from __future__ import annotations

import asyncio
import random

import re
from collections.abc import Callable
from datetime import date
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.intake.repeats import normalise
from servicekit import outbox
from servicekit.versioned import Change, Versioned

# Tracking numbers drawn for one application before giving up (each collision draws the next one).
NUMBER_ATTEMPTS = 20


class NumbersExhausted(Exception):
    """Every tracking number drawn was taken (the counters were reset below the stored numbers)."""


class IntakeStore:
    def __init__(self, db: AsyncDatabase) -> None:
        self.db = db
        self.applications = db["applications"]
        # Every change of an application is one write with its events (servicekit.versioned); each
        # is guarded by the application's state (a step taken once), not by the revision read.
        self.versioned = Versioned(self.applications)
        self.counters = db["counters"]
        # (applicant_ref, agency, month) -> [lock, holders]: this process ranks one submission of
        # an applicant's month at a time (another instance's still collide, and are drawn again).
        self._ranking: dict[tuple[str, str, str], list[Any]] = {}

    async def setup(self) -> None:
        await self.applications.create_index("tracking_number", unique=True)
        await self.applications.create_index([("applicant_ref", 1), ("agency_code", 1)])
        await self.applications.create_index("referral.referral_id")
        # Only applications ranked in the applicant's month carry ``rank_key`` (referrals do not).
        await self.applications.create_index("rank_key", unique=True, sparse=True)
        await self.applications.create_index([("applicant_ref", 1), ("agency_code", 1), ("rank_month", 1)])
        await outbox.ensure_indexes(self.applications)

    async def earlier_applications(self, applicant_ref: str, agency_code: str, limit: int = 500) -> list[dict[str, Any]]:
        """The applicant's earlier applications to the agency (newest first), for repeat detection:
        only what it needs (the description, its normalised text ``repeat_text`` where stored, the
        date and the tracking number), not the whole application."""
        cursor = self.applications.find(
            {"applicant_ref": applicant_ref, "agency_code": agency_code},
            {"_id": 1, "application.description": 1, "repeat_text": 1, "received_on": 1, "tracking_number": 1},
            sort=[("received_on", -1)],
            limit=limit,
        )
        return await cursor.to_list()

    async def rank_in_month(self, applicant_ref: str, agency_code: str, month: str) -> int:
        """The rank a new application of the applicant to the agency would have in the month: one
        more than the stored ones of that month (the unique ``rank_key`` settles a race)."""
        stored = await self.applications.count_documents(
            {"applicant_ref": applicant_ref, "agency_code": agency_code, "rank_month": month})
        return stored + 1

    async def confirm_fee_notice(self, case_id: str, change: Change) -> bool:
        """Mark the drafted fee notice confirmed (once), with the change's outbox records."""
        return await self.versioned.write_if(case_id, {"screening.fee_notice.confirmed": False}, change)

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
                              doc_of: Callable[[str, int | None], tuple[dict[str, Any], list[dict[str, Any]]]],
                              ranked: tuple[str, str] | None = None) -> tuple[dict[str, Any], bool]:
        """Store a new application (``doc_of``: its fields and its first outbox records, stored in
        the same insert) under the next tracking number of the agency's day; a number
        already taken (the unique index says so) is passed over for the next one, never an error.
        ``ranked`` (applicant_ref, month): the application also takes the next rank of the
        applicant's month (``doc_of`` gets it and stores ``rank_key``); a rank taken meanwhile by a
        concurrent submission of the same applicant is drawn again, the number kept.
        On a replay of the case (same ``_id``) return the one already stored. Returns (the
        application as stored, created?).

        Which unique key collided is read from the store's error (``_collided``), so a collision
        costs no look-ups of what collided; when the error does not say, the store is asked (the
        application by its id, then the tracking number).

        One applicant's submissions to this process are ranked one at a time: counted and stored
        under a lock of the applicant's month, so that they do not collide with each other (a mass
        applicant's hundreds at once starved before: 20 draws used up by the concurrent ones)."""
        if ranked is None:
            return await self._insert_numbered(agency, on, number_of, doc_of, None)
        key = (ranked[0], agency, ranked[1])
        entry = self._ranking.setdefault(key, [asyncio.Lock(), 0])
        entry[1] += 1
        try:
            async with entry[0]:
                return await self._insert_numbered(agency, on, number_of, doc_of, ranked)
        finally:
            entry[1] -= 1
            if entry[1] == 0:
                self._ranking.pop(key, None)

    async def _insert_numbered(self, agency: str, on: date, number_of: Callable[[int], str],
                               doc_of: Callable[[str, int | None], tuple[dict[str, Any], list[dict[str, Any]]]],
                               ranked: tuple[str, str] | None) -> tuple[dict[str, Any], bool]:
        number: str | None = None
        rank: int | None = None
        for attempt in range(NUMBER_ATTEMPTS):
            if number is None:
                number = number_of(await self.next_sequence(agency, on))
            if ranked is not None and rank is None:
                rank = await self.rank_in_month(ranked[0], agency, ranked[1])
            doc, records = doc_of(number, rank)
            doc = with_repeat_text(doc)
            stored = {**doc, self.versioned.rev_field: 0, **outbox.new_doc_fields(records)}
            try:
                await self.applications.insert_one(stored)
                return stored, True
            except DuplicateKeyError as exc:
                collided = _collided(exc)
            if collided in ("_id", None):
                existing = await self.get(doc["_id"])
                if existing is not None:
                    return existing, False
            if collided == "tracking_number" or (collided is None and await self.applications.find_one(
                    {"tracking_number": number}, {"_id": 1}) is not None):
                number = None  # the tracking number collided: draw the next one (the rank kept)
            else:
                # The rank was taken by a concurrent submission of the applicant: count again (the
                # ranks stored meanwhile included), keep the number. (Not ``rank + 1``: under
                # steady concurrency a submission trying the next rank each time falls behind the
                # others, which count, and runs out of attempts.) A random pause, longer each time,
                # so that the same submissions do not collide again in lockstep (one applicant's
                # many submissions at once: one wins per round, the others must not starve).
                rank = None
                await asyncio.sleep(random.uniform(0, 0.003 * (attempt + 1)))
        raise NumbersExhausted(agency)


_INDEX_OF_ERROR = re.compile(r"index: (\S+) dup key")


def _collided(exc: DuplicateKeyError) -> str | None:
    """The unique key a refused insert collided on (``_id``, ``tracking_number``, ``rank_key``),
    from the store's error (``keyPattern``, else the index named in its message); None: not said."""
    details = exc.details or {}
    pattern = details.get("keyPattern")
    if isinstance(pattern, dict) and len(pattern) == 1:
        return str(next(iter(pattern)))
    found = _INDEX_OF_ERROR.search(str(details.get("errmsg") or exc))
    if found is None:
        return None
    name = found.group(1)
    if name == "_id_":
        return "_id"
    for key in ("tracking_number", "rank_key"):
        if name == f"{key}_1":
            return key
    return None


def with_repeat_text(doc: dict[str, Any]) -> dict[str, Any]:
    """The application with its description normalised for repeat detection (``repeat_text``,
    ``repeats.normalise``), computed once when it is stored instead of at every later submission."""
    description = (doc.get("application") or {}).get("description")
    if not isinstance(description, str) or "repeat_text" in doc:
        return doc
    return {**doc, "repeat_text": normalise(description)}


def rank_key(applicant_ref: str, agency_code: str, month: str, rank: int) -> str:
    return f"{applicant_ref}:{agency_code}:{month}:{rank}"
