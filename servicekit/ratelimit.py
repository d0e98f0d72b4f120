"""Counting failed attempts in the shared store, so that several instances of a service count
together (e.g. wrong query codes: 5 per tracking number and 5 per client in 15 minutes).

The strategy is the ``limits`` package's (``limits.aio.strategies.FixedWindowRateLimiter``, limits
written as ``limits.parse("5/15 minutes")``); the storage is ours: ``limits``' own async MongoDB
storage needs Motor and update pipelines, and we use PyMongo's async API over a store that has no
pipelines. ``MongoWindowStorage`` uses only single-document atomic ``find_one_and_update`` with
``$inc``/``$set``/``$setOnInsert`` (and upsert) on a unique ``_id`` per window: the window's end is
kept in the document and checked on every read and write, so an expired counter is never counted
(a TTL index, where the store has them, only tidies up). It is registered under the scheme
``async+gongkai-mongodb`` (``limits.storage.storage_from_string("async+gongkai-mongodb://host:port/db")``).

``AttemptLimiter`` is the facade handlers use: ``check(keys)`` before an attempt (refuse once any
key is exhausted), ``hit(keys)`` for each failed attempt; both answer ``(allowed, retry_after)``
with ``retry_after`` in whole seconds (for the ``Retry-After`` header). Identifiers (a tracking
number, a client address) are stored hashed, never as given.
"""

from __future__ import annotations

import hashlib
import math
import time
import urllib.parse
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import limits
from limits.aio.storage import Storage
from limits.aio.strategies import FixedWindowRateLimiter
from pymongo import AsyncMongoClient, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError, PyMongoError

DEFAULT_COLLECTION = "rate_limits"
# Two concurrent writers can each lose one race (window created / reset by the other): a few
# rounds always settle it.
_ROUNDS = 5


def _epoch(value: Any) -> float:  # noqa: ANN401 - a stored datetime, aware or naive (UTC)
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    return float(value)


class MongoWindowStorage(Storage):
    """A ``limits`` async storage over one collection of the shared store (fixed windows)."""

    STORAGE_SCHEME = ["async+gongkai-mongodb"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, *,
                 collection: AsyncCollection | None = None, clock: Callable[[], float] = time.time,
                 **options: Any) -> None:  # noqa: ANN401
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self.clock = clock
        self._client: AsyncMongoClient | None = None
        if collection is None:
            if not uri:
                raise ValueError("MongoWindowStorage needs a collection or a storage URI")
            parsed = urllib.parse.urlsplit(uri)
            db_name = parsed.path.strip("/") or "gongkai_rate_limits"
            name = str(options.get("collection_name") or DEFAULT_COLLECTION)
            url = urllib.parse.urlunsplit(("mongodb", parsed.netloc, "", parsed.query, ""))
            self._client = AsyncMongoClient(url, tz_aware=True, serverSelectionTimeoutMS=5000)
            collection = self._client[db_name][name]
        self.collection = collection

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return PyMongoError

    async def setup(self) -> None:
        """Optional tidying: a TTL index on the window's end (counters are correct without it)."""
        try:
            await self.collection.create_index("expires_at", expireAfterSeconds=0)
        except PyMongoError:  # a store without TTL indexes: expired windows are ignored on read
            pass

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """Add ``amount`` to the key's current window (opening a new one of ``expiry`` seconds if
        there is none or it has ended); the count after the addition."""
        for _ in range(_ROUNDS):
            now = self._now()
            ends = datetime.fromtimestamp(now.timestamp() + expiry, UTC)
            try:
                # The current window, or a new document when the key has none.
                doc = await self.collection.find_one_and_update(
                    {"_id": key, "expires_at": {"$gt": now}},
                    {"$inc": {"count": amount}, "$setOnInsert": {"expires_at": ends}},
                    upsert=True, return_document=ReturnDocument.AFTER)
            except DuplicateKeyError:
                # The key's document exists but its window has ended: start a new window, unless
                # another writer just did (then the first step counts into theirs).
                doc = await self.collection.find_one_and_update(
                    {"_id": key, "expires_at": {"$lte": now}},
                    {"$set": {"count": amount, "expires_at": ends}},
                    return_document=ReturnDocument.AFTER)
                if doc is None:
                    continue
            return int(doc["count"])
        raise PyMongoError(f"rate-limit counter {key!r}: too much contention")

    async def _current(self, key: str) -> dict[str, Any] | None:
        doc = await self.collection.find_one({"_id": key})
        if doc is None or _epoch(doc["expires_at"]) <= self.clock():
            return None
        return doc

    async def get(self, key: str) -> int:
        doc = await self._current(key)
        return 0 if doc is None else int(doc["count"])

    async def get_expiry(self, key: str) -> float:
        """When the key's current window ends (epoch seconds); now if it has none."""
        doc = await self._current(key)
        return self.clock() if doc is None else _epoch(doc["expires_at"])

    async def check(self) -> bool:
        try:
            await self.collection.database.command("ping")
            return True
        except PyMongoError:
            return False

    async def reset(self) -> int | None:
        return (await self.collection.delete_many({})).deleted_count

    async def clear(self, key: str) -> None:
        await self.collection.delete_one({"_id": key})

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:32]


class AttemptLimiter:
    """At most ``limit`` failed attempts per key and window (e.g. "5/15 minutes"), counted in the
    shared store. ``keys`` are (kind, identifier) pairs, e.g. [("tracking", number), ("client", ip)]."""

    def __init__(self, storage: Storage, limit: str = "5/15 minutes", namespace: str = "attempts") -> None:
        self.storage = storage
        self.item = limits.parse(limit)
        self.limiter = FixedWindowRateLimiter(storage)
        self.namespace = namespace

    def _ids(self, kind: str, value: str) -> tuple[str, str, str]:
        return (self.namespace, kind, _digest(value))

    async def _retry_after(self, exhausted: list[tuple[str, str]]) -> int:
        now = getattr(self.storage, "clock", time.time)()
        resets = [(await self.limiter.get_window_stats(self.item, *self._ids(k, v))).reset_time for k, v in exhausted]
        return max(1, math.ceil(max(resets) - now))

    async def check(self, keys: Iterable[tuple[str, str]]) -> tuple[bool, int]:
        """(True, 0) when another attempt may be made; else (False, seconds until one may)."""
        exhausted = [(k, v) for k, v in keys if not await self.limiter.test(self.item, *self._ids(k, v))]
        return (True, 0) if not exhausted else (False, await self._retry_after(exhausted))

    async def hit(self, keys: Iterable[tuple[str, str]]) -> tuple[bool, int]:
        """Count one failed attempt on every key: (still within the limit on all keys, retry_after)."""
        exhausted = [(k, v) for k, v in keys if not await self.limiter.hit(self.item, *self._ids(k, v))]
        return (True, 0) if not exhausted else (False, await self._retry_after(exhausted))

    async def clear(self, keys: Iterable[tuple[str, str]]) -> None:
        for k, v in keys:
            await self.limiter.clear(self.item, *self._ids(k, v))
