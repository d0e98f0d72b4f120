"""A lease in the store: one holder at a time, each new holder with a higher term (a fencing token).

One document per lease, ``{_id: name, holder, term, expires_at, acquired_at, renewed_at}``. Every
change is one conditional single-document update (``find_one_and_update`` with a filter on holder,
term and expiry), never a read followed by a write, so two contenders cannot both win:

- ``acquire()`` takes the lease when it is free (no document yet, released, or expired) or held by
  an earlier incarnation of this same instance (``holder`` is the instance's stable name, e.g. the
  pod's; a restarted process takes its lease back at once instead of waiting for it to expire).
  Each taking sets ``term = previous term + 1``; calling it again while holding it only renews.
- ``renew()`` extends it only while it is still ours at our term; False means deposed (or expired
  and taken): stop writing at once.
- ``release()`` (clean shutdown) leaves the term and frees it, so a standby takes over without
  waiting for the expiry.

The term is what guards the protected resource (the audit ledger checks it on its write path,
services/audit/ledger.py): a lease alone cannot stop a holder that was paused past its expiry from
writing once more, the term checked on the write path can. ``valid_until`` is the holder's own,
conservative view (monotonic clock, counted from *before* the last successful renewal was sent):
the holder stops writing then, even when the store cannot be reached to learn it was deposed.
Expiry is judged by the wall clocks of the contenders: their skew must be small against the ttl.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

log = structlog.get_logger("servicekit.lease")

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Lease:
    def __init__(self, collection: AsyncCollection, name: str, holder: str, ttl: float) -> None:
        if ttl <= 0:
            raise ValueError("lease ttl must be positive")
        self.collection = collection
        self.name = name
        self.holder = holder
        self.ttl = ttl
        self.term: int | None = None  # our term while we hold it
        self.valid_until = 0.0  # time.monotonic() after which we no longer count on holding it

    @property
    def held(self) -> bool:
        return self.term is not None and time.monotonic() < self.valid_until

    def _now(self) -> datetime:
        return datetime.now(UTC)

    async def current(self) -> dict[str, Any] | None:
        """The lease document as stored (for /health and the tests); no decision is made on it."""
        return await self.collection.find_one({"_id": self.name})

    async def acquire(self) -> bool:
        """Take the lease if it is free, expired, or an earlier incarnation's of this holder."""
        if self.term is not None and await self.renew():
            return True
        sent = time.monotonic()
        now = self._now()
        expires = now + timedelta(seconds=self.ttl)
        try:
            await self.collection.insert_one({"_id": self.name, "holder": self.holder, "term": 1,
                                              "expires_at": expires, "acquired_at": now, "renewed_at": now})
            doc: dict[str, Any] | None = {"term": 1}
        except DuplicateKeyError:
            doc = await self.collection.find_one_and_update(
                {"_id": self.name, "$or": [{"expires_at": {"$lte": now}}, {"holder": self.holder}]},
                {"$inc": {"term": 1},
                 "$set": {"holder": self.holder, "expires_at": expires, "acquired_at": now, "renewed_at": now}},
                return_document=ReturnDocument.AFTER)
        if doc is None:
            self.term = None
            return False
        self.term = int(doc["term"])
        self.valid_until = sent + self.ttl
        log.info("lease_acquired", lease=self.name, holder=self.holder, term=self.term, ttl=self.ttl)
        return True

    async def renew(self) -> bool:
        """Extend the lease while it is still ours at our term. False: deposed."""
        if self.term is None:
            return False
        sent = time.monotonic()
        now = self._now()
        doc = await self.collection.find_one_and_update(
            {"_id": self.name, "holder": self.holder, "term": self.term},
            {"$set": {"expires_at": now + timedelta(seconds=self.ttl), "renewed_at": now}},
            return_document=ReturnDocument.AFTER)
        if doc is None:
            log.warning("lease_lost", lease=self.name, holder=self.holder, term=self.term)
            self.term = None
            self.valid_until = 0.0
            return False
        self.valid_until = sent + self.ttl
        return True

    async def release(self) -> bool:
        """Free the lease (clean shutdown), if still ours at our term; the term stays, so the next
        holder's is higher."""
        if self.term is None:
            return False
        term, self.term, self.valid_until = self.term, None, 0.0
        res = await self.collection.update_one({"_id": self.name, "holder": self.holder, "term": term},
                                               {"$set": {"holder": None, "expires_at": EPOCH}})
        if res.modified_count:
            log.info("lease_released", lease=self.name, holder=self.holder, term=term)
        return bool(res.modified_count)
