"""The quiet hours (防打扰时间) the OGI office sets, in notify's own store (issue #17).

One settings document (``settings``, ``_id: "sms_quiet_hours"``) holds the window the office set
(canonical "HH:MM-HH:MM", or "" for none), who set it (``set_by``: the officer's display name,
``set_by_subject``) and when (``set_at``), and the earlier values (``history``); it changes only by
a versioned write (``servicekit.versioned``: of two heads saving at once, both are recorded, the
later one wins). Until the office sets one, ``NOTIFY_SMS_QUIET_HOURS`` is the window
(``source: "default"``).

The dispatcher asks ``window()`` once per round; it reads the store at most every
``cache_seconds`` (the setting changes a few times a year; a round may run many times a second),
and at once after this process wrote it (``forget``). Another notify instance sees a change within
``cache_seconds``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from services.notify.quiet import QuietHours, canonical
from servicekit.versioned import Change, Conflict, Versioned

KEY = "sms_quiet_hours"
ATTEMPTS = 20


@dataclass(frozen=True)
class Current:
    """The window in force and where it comes from."""

    quiet_hours: str  # canonical "21:00-08:00", or "" (none)
    source: str  # "default" (the environment's NOTIFY_SMS_QUIET_HOURS) or "set" (by the OGI office)
    set_by: str | None = None
    set_by_subject: str | None = None
    set_at: datetime | None = None
    rev: int = 0

    @property
    def window(self) -> QuietHours | None:
        return QuietHours.parse(self.quiet_hours)


class QuietHoursSetting:
    def __init__(self, db: AsyncDatabase, default: str, cache_seconds: float = 5.0) -> None:
        self.versioned = Versioned(db["settings"])
        self.default = canonical(default)  # invalid: the service refuses to start
        self.cache_seconds = cache_seconds
        self._cached: Current | None = None
        self._read_at = float("-inf")

    def _of(self, doc: dict[str, Any] | None) -> Current:
        if doc is None:
            return Current(self.default, "default")
        return Current(doc.get("quiet_hours") or "", "set", doc.get("set_by"), doc.get("set_by_subject"),
                       _aware(doc.get("set_at")), int(doc.get("rev") or 0))

    async def current(self) -> Current:
        """The setting as stored now (a read of the store)."""
        found = self._of(await self.versioned.load(KEY, {"history": 0}))
        self._cached, self._read_at = found, time.monotonic()
        return found

    async def cached(self) -> Current:
        """The setting, read again only when the last read is ``cache_seconds`` old."""
        if self._cached is None or time.monotonic() - self._read_at >= self.cache_seconds:
            return await self.current()
        return self._cached

    def forget(self) -> None:
        """The next ``cached()`` reads the store (this process just changed it)."""
        self._cached = None

    async def put(self, quiet_hours: str, *, by: str, by_subject: str, at: datetime | None = None) -> Current:
        """Store the office's window (``InvalidWindow`` if it is none); who and when recorded,
        the value it replaces kept in ``history``. Returns the setting as written."""
        value = canonical(quiet_hours)
        at = at or datetime.now(UTC)
        fields = {"quiet_hours": value, "set_by": by, "set_by_subject": by_subject, "set_at": at}
        for _ in range(ATTEMPTS):
            doc = await self.versioned.load(KEY, {"history": 0})
            if doc is None:
                if await self.versioned.insert({"_id": KEY, **fields, "history": []}):
                    break
                continue
            before = {k: doc.get(k) for k in ("quiet_hours", "set_by", "set_by_subject", "set_at")}
            if await self.versioned.write(doc, Change(set=fields, push={"history": before})):
                break
        else:
            raise Conflict(f"{KEY}: changed concurrently {ATTEMPTS} times")
        self.forget()
        return await self.current()


def _aware(at: datetime | None) -> datetime | None:
    return at if at is None or at.tzinfo else at.replace(tzinfo=UTC)
