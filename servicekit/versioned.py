"""State and the events it causes, written together: one conditional update per change.

Every stateful service keeps its documents the same way: a document carries a revision counter
and an outbox (``servicekit.outbox``); a change is read → decide → one ``update_one`` conditional
on the revision read, which sets the new state, bumps the revision and appends the change's event
records to the outbox. A concurrent change makes the update match nothing, and the change is
decided again from a fresh read. The outbox relay publishes the records afterwards, so the state
and its events are stored together or not at all.

::

    cases = Versioned(db["cases"], rev_field="reply_rev")
    await cases.insert({"_id": case_id, ...}, records)          # False: it exists already

    def decide(doc):                                           # pure: the service's domain module
        if doc is None:
            raise NotFound(case_id)
        if already_done(doc):
            return None                                        # nothing to write
        return Change(set={"status": "closed"}, records=[outbox.record(topic, event)], result="closed")

    outcome = await cases.change(case_id, decide)              # Change.result, or None

``decide`` may be a coroutine function (a decision that needs another read). It is called once per
attempt with the fresh document (``None`` when there is none) and must not write anything itself.
After ``attempts`` lost races, ``Conflict`` (a 409 to an HTTP caller, a redelivery to a consumer).

A change guarded by the document's state rather than by what was read (a claim still held, a step
taken once) is ``write_if(key, condition, change)``: one write while ``condition`` holds, whatever
the revision (which it bumps all the same).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from servicekit import outbox

DEFAULT_ATTEMPTS = 20
NO_OUTBOX = {"outbox": 0}  # a decision never needs the records waiting to be published


class Conflict(Exception):
    """The document kept changing under this change: every attempt lost the race."""


@dataclass
class Change:
    """One change of one document: fields to set, arrays to push to, counters to add to, fields
    to remove, event records for the outbox, and what the caller gets back."""

    set: dict[str, Any] = field(default_factory=dict)
    push: dict[str, Any] = field(default_factory=dict)
    inc: dict[str, Any] = field(default_factory=dict)
    unset: Sequence[str] = ()
    records: Sequence[dict[str, Any]] = ()
    result: Any = None  # noqa: ANN401

    def update(self, rev_field: str, rev: int) -> dict[str, Any]:
        update: dict[str, Any] = {"$set": {**self.set, rev_field: rev + 1}}
        if self.push:
            update["$push"] = dict(self.push)
        if self.inc:
            update["$inc"] = dict(self.inc)
        if self.unset:
            update["$unset"] = {name: "" for name in self.unset}
        if self.records:
            update = outbox.merge_updates(update, outbox.append_update(self.records))
        return update


Decide = Callable[[dict[str, Any] | None], "Change | None | Awaitable[Change | None]"]


class Versioned:
    """A collection whose documents change only through conditional writes with their events."""

    def __init__(self, collection: AsyncCollection, rev_field: str = "rev") -> None:
        self.collection = collection
        self.rev_field = rev_field

    async def ensure_indexes(self) -> None:
        await outbox.ensure_indexes(self.collection)

    def _filter(self, doc: dict[str, Any], extra: dict[str, Any] | None) -> dict[str, Any]:
        rev = int(doc.get(self.rev_field) or 0)
        # A document written before it had a revision counter matches revision 0.
        return {"_id": doc["_id"], self.rev_field: rev if rev else {"$in": [0, None]}, **(extra or {})}

    async def insert(self, doc: dict[str, Any], records: Sequence[dict[str, Any]] = ()) -> bool:
        """Store a new document with its first events; False when one with this ``_id`` exists."""
        try:
            await self.collection.insert_one({**doc, self.rev_field: 0, **outbox.new_doc_fields(records)})
            return True
        except DuplicateKeyError:
            return False

    async def load(self, key: Any, projection: dict[str, Any] | None = None) -> dict[str, Any] | None:  # noqa: ANN401
        return await self.collection.find_one({"_id": key}, projection or NO_OUTBOX)

    async def write(self, doc: dict[str, Any], change: Change, extra_filter: dict[str, Any] | None = None) -> bool:
        """Apply ``change`` to ``doc`` if nobody changed it since it was read (False: somebody did,
        or ``extra_filter`` no longer holds)."""
        rev = int(doc.get(self.rev_field) or 0)
        done = await self.collection.update_one(self._filter(doc, extra_filter), change.update(self.rev_field, rev))
        return done.matched_count == 1

    async def write_if(self, key: Any, condition: dict[str, Any], change: Change) -> bool:  # noqa: ANN401
        """Apply ``change`` to the document ``key`` if it matches ``condition`` now, whatever its
        revision (which is bumped all the same): one write, no retry; False when the condition does
        not hold. For a change guarded by the document's state rather than by a read - a claim held
        (``{"deliveries.email.status": "sending"}``), a step taken once (``{"correction.submitted":
        None}``) - where a concurrent change of other fields must not make it fail."""
        update = change.update(self.rev_field, 0)
        del update["$set"][self.rev_field]
        if not update["$set"]:
            del update["$set"]
        update["$inc"] = {**update.get("$inc", {}), self.rev_field: 1}
        done = await self.collection.update_one({**condition, "_id": key}, update)
        return done.matched_count == 1

    async def change(self, key: Any, decide: Decide, *, attempts: int = DEFAULT_ATTEMPTS,  # noqa: ANN401
                     projection: dict[str, Any] | None = None, what: str = "change") -> Any:  # noqa: ANN401
        """Read the document, decide, write; again from a fresh read when the write lost a race.
        Returns the change's ``result`` (``None`` when ``decide`` found nothing to do)."""
        for _ in range(attempts):
            doc = await self.load(key, projection)
            change = decide(doc)
            if inspect.isawaitable(change):
                change = await change
            if change is None:
                return None
            assert doc is not None, "a change needs a document: insert() makes one"
            if await self.write(doc, change):
                return change.result
        raise Conflict(f"{what}: {key} changed concurrently {attempts} times")
