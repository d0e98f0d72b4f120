"""Signed checkpoints, stored and published (Mongo/Kafka adapter over services.audit.checkpoints).

``checkpoints`` is append-only: ``_id`` is the tree size, so there is at most one checkpoint per
size and a checkpoint is only signed when the tree grew. ``checkpoint_publications`` records, also
by insert only, each checkpoint published on the checkpoints topic; a loop publishes in size order
whatever is not recorded yet (at-least-once; the event id is deterministic).
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pymongo import DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from contracts.envelope import deterministic_id, encode, kafka_headers, new_event
from contracts.events_ledger import LEDGER_CHECKPOINTS, CheckpointSigned
from services.audit import checkpoints as cps
from services.audit.ledger import CHECKPOINTS, Ledger

PUBLICATIONS = "checkpoint_publications"
SOURCE = "/gongkai/audit"

PublishMany = Callable[[Sequence[tuple[str, bytes, bytes, dict[str, str]]]], Awaitable[None]]


@dataclass
class Signer:
    key: Ed25519PrivateKey
    origin: str

    @property
    def key_id(self) -> str:
        return cps.key_id(self.origin, self.key.public_key()).hex()


def public_doc(doc: dict[str, Any]) -> dict[str, Any]:
    return {"origin": doc["origin"], "tree_size": doc["tree_size"], "root_hash": doc["root_hash"],
            "signed_at": doc["signed_at"].astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "key_id": doc["key_id"], "note": doc["note"]}


class CheckpointLog:
    def __init__(self, db: AsyncDatabase, ledger: Ledger, signer: Signer) -> None:
        self.checkpoints = db[CHECKPOINTS]
        self.publications = db[PUBLICATIONS]
        self.ledger = ledger
        self.signer = signer
        self.signed = asyncio.Event()  # set when a checkpoint is created: the publisher wakes

    async def latest(self) -> dict[str, Any] | None:
        return await self.checkpoints.find_one({}, sort=[("_id", DESCENDING)])

    async def at_size(self, size: int) -> dict[str, Any] | None:
        return await self.checkpoints.find_one({"_id": size})

    async def all_roots(self) -> list[tuple[int, bytes]]:
        cursor = self.checkpoints.find({}, {"_id": 1, "root_hash": 1}).sort("_id", 1)
        return [(int(d["_id"]), base64.b64decode(d["root_hash"])) async for d in cursor]

    async def notes(self) -> list[str]:
        return [d["note"] async for d in self.checkpoints.find({}, {"note": 1}).sort("_id", 1)]

    async def sign_now(self, allow_empty: bool = True, full_check: bool = False) -> tuple[dict[str, Any] | None, bool]:
        """Sign the tree as it is now, unless a checkpoint of this size exists: (checkpoint, created).
        The tree is checked against the store first (Ledger.snapshot): nothing is signed over
        entries the store no longer holds."""
        size, root = await self.ledger.snapshot(full_check=full_check)
        existing = await self.at_size(size)
        if existing is not None:
            return existing, False
        if size == 0 and not allow_empty:
            return None, False
        cp = cps.Checkpoint(self.signer.origin, size, root, datetime.now(UTC).replace(microsecond=0))
        doc = {"_id": size, "origin": cp.origin, "tree_size": size, "root_hash": base64.b64encode(root).decode(),
               "signed_at": cp.time, "key_id": self.signer.key_id, "note": cps.sign(cp, self.signer.key)}
        try:
            await self.checkpoints.insert_one(doc)
        except DuplicateKeyError:
            return await self.at_size(size), False
        self.signed.set()
        return doc, True

    async def publish_pending(self, publish_many: PublishMany) -> int:
        """Publish the checkpoints not yet recorded as published, in size order; returns how many."""
        last = await self.publications.find_one({}, sort=[("_id", DESCENDING)])
        after = -1 if last is None else int(last["_id"])
        n = 0
        async for doc in self.checkpoints.find({"_id": {"$gt": after}}).sort("_id", 1):
            event = new_event(
                CheckpointSigned(origin=doc["origin"], tree_size=doc["tree_size"], root_hash=doc["root_hash"],
                                 signed_at=doc["signed_at"], key_id=doc["key_id"], note=doc["note"]),
                source=SOURCE, subject=doc["origin"],
                # The root is part of the id: after a heal (services/audit/ledger.py) a checkpoint of
                # the same size may be signed again over other leaves; it is another event.
                event_id=deterministic_id("ledger.checkpoint", doc["origin"], str(doc["tree_size"]), doc["root_hash"]),
                time=doc["signed_at"])
            await publish_many([(LEDGER_CHECKPOINTS.name, doc["origin"].encode(), encode(event), kafka_headers(event))])
            try:
                await self.publications.insert_one({"_id": doc["_id"], "event_id": event.id,
                                                    "published_at": datetime.now(UTC)})
            except DuplicateKeyError:
                pass
            n += 1
        return n
