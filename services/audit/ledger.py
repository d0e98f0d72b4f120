"""The append-only ledger: every event of every shared topic, stored once, each a leaf of the
Merkle tree (RFC 9162) and a link of the hash chain.

There is no update or delete path in this module, nor anywhere in the audit service (a test greps
for them). One audit process appends (single writer): ``seq`` is the ledger position and the
``_id`` (so unique); ``leaf_index`` (= seq - 1) is the leaf's index in the tree; ``event_id`` is
unique too, so a redelivered event is not appended twice. The leaf is the exact bytes of the event as
it was on the bus (``value``, UTF-8); ``leaf_hash`` is H(0x00 || value). The tree's complete-subtree
hashes are kept in memory (rebuilt from the stored leaf hashes at start), so roots and proofs cost
O(log n).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from contracts.envelope import CloudEvent
from services.audit import chain
from services.audit.merkle import MerkleTree, leaf_hash

LEDGER = "ledger"


@dataclass(frozen=True)
class LeafProblem:
    index: int
    event_id: str
    reason: str


@dataclass(frozen=True)
class LedgerVerdict:
    ok: bool
    checked: int
    first_bad_seq: int | None = None
    reason: str | None = None
    first_bad_leaf: LeafProblem | None = None


def _data_field(event: CloudEvent[Any], name: str) -> Any:
    return getattr(event.data, name, None)


class Ledger:
    def __init__(self, db: AsyncDatabase) -> None:
        self.entries = db[LEDGER]
        self.lock = asyncio.Lock()
        self._head: tuple[int, str] | None = None
        self._tree: MerkleTree | None = None

    async def setup(self) -> None:
        await self.entries.create_index("event_id", unique=True)
        await self.entries.create_index([("subject", ASCENDING), ("_id", ASCENDING)])
        await self.entries.create_index("tracking_number")
        await self.entries.create_index("type")
        async with self.lock:
            await self._load()

    async def _load(self) -> None:
        """Rebuild the head of the chain and the tree from the stored entries."""
        tree, head = MerkleTree(), (0, chain.GENESIS)
        cursor = self.entries.find({}, {"_id": 1, "hash": 1, "leaf_hash": 1}).sort("_id", ASCENDING)
        async for doc in cursor:
            seq = int(doc["_id"])
            if seq != len(tree) + 1:
                raise RuntimeError(f"ledger entry {len(tree) + 1} is missing")
            if "leaf_hash" not in doc:  # an entry written before the tree existed
                full = await self.entries.find_one({"_id": doc["_id"]}, {"value": 1})
                doc["leaf_hash"] = leaf_hash(full["value"].encode("utf-8")).hex()
            tree.append_hash(bytes.fromhex(doc["leaf_hash"]))
            head = (seq, doc["hash"])
        self._tree, self._head = tree, head

    async def tree(self) -> MerkleTree:
        if self._tree is None:
            async with self.lock:
                if self._tree is None:
                    await self._load()
        assert self._tree is not None
        return self._tree

    async def append(self, event: CloudEvent[Any], raw: bytes, topic: str, partition: int, offset: int) -> int | None:
        """Append one event; returns its seq, or None if it was already in the ledger."""
        async with self.lock:
            if self._head is None or self._tree is None:
                await self._load()
            assert self._head is not None and self._tree is not None
            seq, prev = self._head
            lh = leaf_hash(raw)
            doc = {
                "_id": seq + 1,
                "leaf_index": seq,
                "event_id": event.id,
                "type": event.type,
                "subject": event.subject,
                "source": event.source,
                "time": event.time,
                "causationid": event.causationid,
                "tracking_number": _data_field(event, "tracking_number"),
                "topic": topic,
                "partition": partition,
                "offset": offset,
                "value": raw.decode("utf-8"),
                "leaf_hash": lh.hex(),
                "prev_hash": prev,
                "hash": chain.entry_hash(prev, raw),
                "recorded_at": datetime.now(UTC),
            }
            try:
                await self.entries.insert_one(doc)
            except DuplicateKeyError:
                if await self.entries.find_one({"event_id": event.id}, {"_id": 1}):
                    return None  # a redelivered event: nothing was written, the head stands
                self._head, self._tree = None, None  # the position was taken: reload, retry
                raise
            except BaseException:
                # Written or not (a lost acknowledgement), reload the head and the tree next time.
                self._head, self._tree = None, None
                raise
            self._tree.append_hash(lh)
            self._head = (seq + 1, doc["hash"])
            return seq + 1

    async def snapshot(self) -> tuple[int, bytes]:
        """(size, root) of the tree now, consistent with the stored entries."""
        async with self.lock:
            if self._tree is None:
                await self._load()
            assert self._tree is not None
            return len(self._tree), self._tree.root()

    async def by_event_id(self, event_id: str) -> dict[str, Any] | None:
        return await self.entries.find_one({"event_id": event_id})

    async def case_events(self, case_id: str, with_value: bool = False) -> list[dict[str, Any]]:
        projection = None if with_value else {"value": 0}
        cursor = self.entries.find({"subject": case_id}, projection).sort("_id", ASCENDING)
        return [doc async for doc in cursor]

    async def application_of(self, case_id: str) -> dict[str, Any] | None:
        """The case's (first) application.received event, decoded, or None."""
        doc = await self.entries.find_one({"subject": case_id, "type": "cn.gongkai.application.received.v1"},
                                          {"value": 1}, sort=[("_id", ASCENDING)])
        return json.loads(doc["value"]) if doc else None

    async def case_of_tracking_number(self, tracking_number: str) -> str | None:
        doc = await self.entries.find_one({"tracking_number": tracking_number}, {"subject": 1},
                                          sort=[("_id", ASCENDING)])
        return doc["subject"] if doc else None

    async def iter_entries(self, limit: int | None = None, batch: int = 2000) -> AsyncIterator[dict[str, Any]]:
        """Entries in ledger order (all, or the first ``limit``)."""
        after = 0
        while limit is None or after < limit:
            hi = after + batch if limit is None else min(after + batch, limit)
            cursor = self.entries.find({"_id": {"$gt": after, "$lte": hi}}).sort("_id", ASCENDING)
            docs = [d async for d in cursor]
            if not docs:
                return
            for d in docs:
                yield d
            after = int(docs[-1]["_id"])

    async def events_of_types(self, types: tuple[str, ...]) -> list[dict[str, Any]]:
        """Decoded events of the given CloudEvents types, in ledger order (for statistics)."""
        cursor = self.entries.find({"type": {"$in": list(types)}}, {"value": 1}).sort("_id", ASCENDING)
        return [json.loads(d["value"]) async for d in cursor]

    async def verify(self, checkpoints: Sequence[tuple[int, bytes]] = ()) -> LedgerVerdict:
        """Check every stored entry: positions contiguous, leaf hash = H(0x00 || value), hash chain,
        and the roots recomputed from the values equal the signed roots (size, root) given."""
        tree = MerkleTree()
        prev, n = chain.GENESIS, 0
        roots = dict(checkpoints)
        chain_bad: tuple[int, str] | None = None
        async for d in self.iter_entries():
            seq, value = int(d["_id"]), d["value"].encode("utf-8")
            index, event_id = seq - 1, d.get("event_id", "?")
            if seq != n + 1 or d.get("leaf_index", index) != index:
                return LedgerVerdict(False, n, n + 1, f"entry {n + 1} is missing or out of place",
                                     LeafProblem(n, event_id, "missing or out of place"))
            lh = leaf_hash(value)
            if lh.hex() != d.get("leaf_hash", lh.hex()):
                return LedgerVerdict(False, n, seq, "leaf hash does not match the event",
                                     LeafProblem(index, event_id, "leaf hash does not match the stored event"))
            if json.loads(value).get("id") != event_id:
                return LedgerVerdict(False, n, seq, "event id does not match the event",
                                     LeafProblem(index, event_id, "event id does not match the stored event"))
            if chain_bad is None:
                if d.get("prev_hash") != prev:
                    chain_bad = (seq, "previous hash does not match")
                elif chain.entry_hash(prev, value) != d.get("hash"):
                    chain_bad = (seq, "hash does not match the event")
            prev = d.get("hash", "")
            tree.append_hash(lh)
            n += 1
            if n in roots and tree.root() != roots[n]:
                # Values and leaf hashes were both rewritten: the signed root tells it is within
                # the first n leaves; the chain tells where, unless it was rewritten too.
                where = chain_bad[0] if chain_bad else None
                bad = None if where is None else LeafProblem(where - 1, "?", "hash chain broken here")
                return LedgerVerdict(False, n, where, f"root of the first {n} leaves differs from the signed checkpoint", bad)
        if chain_bad:
            return LedgerVerdict(False, n, chain_bad[0], chain_bad[1], LeafProblem(chain_bad[0] - 1, "?", chain_bad[1]))
        return LedgerVerdict(True, n)
