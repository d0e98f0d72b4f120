"""The append-only ledger: every event of every shared topic, stored once, each a leaf of the
Merkle tree (RFC 9162) and a link of the hash chain.

There is no update or delete path in this module (a test greps the audit service for them; the one
exception is services/audit/repair.py, see below). One audit process appends (single writer):
``seq`` is the ledger position and the ``_id`` (so unique); ``leaf_index`` (= seq - 1) is the
leaf's index in the tree; ``event_id`` is unique too, so a redelivered event is not appended twice.
The leaf is the exact bytes of the event as it was on the bus (``value``, UTF-8); ``leaf_hash`` is
H(0x00 || value). The tree's complete-subtree hashes are kept in memory (rebuilt from the stored
leaf hashes at start), so roots and proofs cost O(log n).

The ledger heals (issue 16). What is in memory is only a copy of what the store holds, and a store
can lose acknowledged writes. So the head in memory is checked against the store: every insert is
itself a check (``_id`` = head + 1 is unique: an entry beyond the head, written by someone else, makes
it fail, and then the head is checked at once), and the head entry is looked up by its ``_id`` (it is
there, with its hash) before an append at most every ``head_check_seconds`` (0: before every append)
and before every checkpoint (with a count of the entries). On a gap or a mismatch the
ledger stops appending and re-reads its committed state (``restore``): the durable ledger is the
contiguous prefix 1..k whose chain links and signed roots check. Entries after the first gap
(orphans, written after entries that were lost) and checkpoints signed over more than k leaves are
no part of it: they are moved aside (copied into ``ledger_quarantine`` / ``checkpoints_superseded``
and then removed; services/audit/repair.py, the only code that removes anything) and the heal is
recorded in ``ledger_heals``. Every entry records its topic, partition and offset, so the consumer
then re-reads each partition from just after the last offset the durable ledger holds for it
(``LedgerHealed``; ``resume_positions``): the lost events are appended again, the ones already
there are skipped by their event id. A chain or a signed root that does not check *inside* the
prefix cannot be healed (the entries were altered): the ledger refuses to append (``LedgerUnusable``,
named on /health and in the log) and keeps serving what it holds.

Two processes may run (a leader and a standby, issue 12), but only one appends: the leader holds a
lease in the store (servicekit.lease) whose term is the fencing token. The leader inserts its term
into ``ledger_writers`` when it takes over (``take_over``; insert only, ``_id`` = term, so the
collection is the record of every takeover), and the write path checks that no higher term is there
(one query): before every checkpoint and every heal, after an insert that found its position taken,
and before an append when the last check is older than ``fence_check_seconds`` (0: before every
append). A writer whose term was passed stops there (``LedgerFenced``) and its process exits. A
deposed writer can thus append only within ``fence_check_seconds`` of the takeover and only at a
position its successor has not written yet (a correct entry, in order, that the successor takes in). A standby (``stand_by``) never writes, heals or moves anything aside: it follows the store
(``follow``) to serve reads, and refuses appends and signing.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog
from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from contracts.envelope import CloudEvent
from services.audit import chain
from services.audit.merkle import MerkleTree, leaf_hash

LEDGER = "ledger"
CHECKPOINTS = "checkpoints"  # signed checkpoints (services.audit.checkpoint_log), _id = tree size
HEALS = "ledger_heals"  # one insert-only record per heal: what was found and what was done
WRITERS = "ledger_writers"  # {_id: term, holder, at}: one insert per takeover; the highest term appends

Position = tuple[str, int]  # (topic, partition)


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


class LedgerUnusable(RuntimeError):
    """The stored ledger fails a check that no heal can mend (an altered entry inside the durable
    prefix, or orphans that cannot be moved aside): nothing is appended until it is resolved."""


class LedgerFenced(RuntimeError):
    """This process may not append or sign: it is a standby, or another writer took over with a
    higher term (the process then stops writing and exits; it comes back as a standby)."""


class LedgerHealed(RuntimeError):
    """The ledger re-read its durable state (entries were lost or changed under it): the event was
    not appended; the consumer must seek back to ``Ledger.resume_positions()`` and read again."""


@dataclass
class LedgerScan:
    """What the store holds, read in one pass (read only): the durable prefix and what lies beyond."""
    size: int = 0  # k: entries 1..k are contiguous and their chain links and signed roots check
    head: tuple[int, str] = (0, chain.GENESIS)
    tree: MerkleTree = field(default_factory=MerkleTree)
    positions: dict[Position, int] = field(default_factory=dict)  # next offset to read, per partition
    gap: int | None = None  # the first missing seq, when entries exist beyond it
    orphans: list[int] = field(default_factory=list)  # seqs stored after the gap
    checkpoints_beyond: list[int] = field(default_factory=list)  # sizes of checkpoints over > k leaves
    checkpoints_checked: int = 0
    problem: str | None = None  # a reason the prefix itself cannot be trusted (no heal mends it)

    @property
    def needs_repair(self) -> bool:
        return bool(self.orphans or self.checkpoints_beyond)

    def summary(self) -> dict[str, Any]:
        return {"durable_size": self.size, "head_hash": self.head[1], "gap": self.gap,
                "orphans": len(self.orphans), "orphan_range": [self.orphans[0], self.orphans[-1]] if self.orphans else None,
                "checkpoints_beyond": self.checkpoints_beyond, "problem": self.problem,
                "resume_positions": {f"{t}:{p}": o for (t, p), o in sorted(self.positions.items())}}


# The heal's one step that removes documents (moving orphans and superseded checkpoints aside):
# services.audit.repair.move_aside, injected so that this module holds no delete path.
Repair = Callable[[AsyncDatabase, LedgerScan, str], Awaitable[dict[str, Any]]]


def _data_field(event: CloudEvent[Any], name: str) -> Any:
    return getattr(event.data, name, None)


async def scan_store(db: AsyncDatabase) -> LedgerScan:
    """One read-only pass over the stored entries (hashes and positions only, never the values)
    and the signed roots: the durable prefix, the first gap, the orphans after it, the checkpoints
    beyond the prefix, and any reason the prefix cannot be trusted."""
    entries, s = db[LEDGER], LedgerScan()
    projection = {"_id": 1, "hash": 1, "prev_hash": 1, "leaf_hash": 1, "topic": 1, "partition": 1, "offset": 1}
    async for doc in entries.find({}, projection).sort("_id", ASCENDING):
        seq = int(doc["_id"])
        if s.gap is not None or seq != s.size + 1:
            if s.gap is None:
                s.gap = s.size + 1
            s.orphans.append(seq)
            continue
        if s.problem is None and doc.get("prev_hash") != s.head[1]:
            s.problem = f"hash chain broken at ledger entry {seq}: its previous hash is not entry {seq - 1}'s hash"
        if "leaf_hash" not in doc:  # an entry written before the tree existed
            full = await entries.find_one({"_id": doc["_id"]}, {"value": 1})
            doc["leaf_hash"] = leaf_hash(full["value"].encode("utf-8")).hex()
        s.tree.append_hash(bytes.fromhex(doc["leaf_hash"]))
        s.size, s.head = seq, (seq, doc["hash"])
        if doc.get("topic") is not None and doc.get("partition") is not None and doc.get("offset") is not None:
            key = (str(doc["topic"]), int(doc["partition"]))
            s.positions[key] = max(s.positions.get(key, 0), int(doc["offset"]) + 1)
    async for cp in db[CHECKPOINTS].find({}, {"_id": 1, "root_hash": 1}).sort("_id", ASCENDING):
        size = int(cp["_id"])
        if size > s.size:
            s.checkpoints_beyond.append(size)
        elif s.problem is None:
            s.checkpoints_checked += 1
            if s.tree.root(size) != base64.b64decode(cp["root_hash"]):
                s.problem = (f"the root of the first {size} ledger entries differs from the signed checkpoint "
                             f"of that size: entries were altered")
    return s


def _default_repair() -> Repair:
    from services.audit import repair  # the module that may remove documents (heal path only)
    return repair.move_aside


class Ledger:
    def __init__(self, db: AsyncDatabase, repair: Repair | None = None,
                 on_problem: Callable[[str | None], None] | None = None,
                 head_check_seconds: float = 0.0, fence_check_seconds: float = 0.0) -> None:
        self.db = db
        self.entries = db[LEDGER]
        self.heals = db[HEALS]
        self.lock = asyncio.Lock()
        self.log = structlog.get_logger("audit.ledger")
        self._repair = repair
        self._on_problem = on_problem
        self._head: tuple[int, str] | None = None
        self._tree: MerkleTree | None = None
        self._positions: dict[Position, int] = {}
        self._stale = False  # a write failed: what the store holds is unknown until re-read
        self.problem: str | None = None  # why nothing can be appended (None: the ledger is usable)
        self.rewind_pending = False  # the state was re-read: the consumer must seek back first
        self.rewind_wanted = asyncio.Event()  # wakes the service's rewind loop (a heal outside append)
        self.last_heal: dict[str, Any] | None = None
        self.writers = db[WRITERS]
        self.term: int | None = None  # the writer term this process appends under (None: unfenced)
        self.standby = False  # a standby reads only (no append, no heal, no signing)
        self.fenced: str | None = None  # why this process was deposed, once it was
        # How long a check of the head / of the fence stands for appends (0: none is skipped); the
        # monotonic time until which the last one does.
        self.head_check_seconds = head_check_seconds
        self.fence_check_seconds = fence_check_seconds
        self._head_ok_until = 0.0
        self._fence_ok_until = 0.0
        self.queries = {"head": 0, "fence": 0}  # checks sent to the store (tests, benchmark)

    async def fence(self, term: int, holder: str = "") -> None:
        """Record our writer term (the lease's): from now on a writer with a lower term is refused
        at its next append. LedgerFenced if a higher term is there already."""
        try:
            await self.writers.insert_one({"_id": term, "holder": holder, "at": datetime.now(UTC)})
        except DuplicateKeyError:
            pass  # ours, recorded by an earlier attempt (terms are the lease's: one holder each)
        sent = time.monotonic()
        higher = await self.writers.find_one({"_id": {"$gt": term}}, {"_id": 1})
        if higher is not None:
            raise LedgerFenced(f"writer term {term} is behind the ledger's {higher['_id']}")
        self.term, self.standby, self.fenced = term, False, None
        self._fence_ok_until = sent + self.fence_check_seconds

    def stand_by(self) -> None:
        """Read only until ``take_over``."""
        self.standby = True

    async def take_over(self, term: int, holder: str = "") -> None:
        """A standby becomes the writer: the fence is raised to its term, then the committed state
        is re-read (healing as at start-up: the previous writer is fenced off by now)."""
        async with self.lock:
            await self.fence(term, holder)
            try:
                await self._restore("take-over")
            except LedgerUnusable:
                pass  # named on /health and in the log, as at start-up
            self.rewind_pending = False  # the consumer starts now and seeks on assignment
        self.log.info("ledger_writer_took_over", term=term, durable_size=len(self._tree or ()))

    def depose(self, why: str) -> None:
        """Stop appending at once (the lease was lost); what is in flight fails at its fence check."""
        if self.fenced is None:
            self.log.error("ledger_writer_deposed", term=self.term, reason=why)
        self.fenced = why
        self.standby = True

    async def _check_fence(self, force: bool = False) -> None:
        """Part of the write path (with the lock held, before anything is written or healed): the
        store is asked when ``force`` (a checkpoint, a heal, a position found taken) or when the
        last answer is older than ``fence_check_seconds``."""
        if self.fenced is not None:
            raise LedgerFenced(self.fenced)
        if self.standby:
            raise LedgerFenced("standby: another process is the ledger's writer")
        if self.term is None:
            return  # no lease in use (one process, as before issue 12)
        sent = time.monotonic()
        if not force and sent < self._fence_ok_until:
            return
        self.queries["fence"] += 1
        higher = await self.writers.find_one({"_id": {"$gt": self.term}}, {"_id": 1})
        if higher is not None:
            self.depose(f"writer term {self.term} was superseded by term {higher['_id']}")
            raise LedgerFenced(self.fenced)
        self._fence_ok_until = sent + self.fence_check_seconds

    async def follow(self) -> int:
        """A standby's reads follow the store: the entries appended since (leaf hashes only) are
        added to the tree in memory. Read only; on anything unexpected the state is re-read from a
        scan (never healed here). Returns the size."""
        async with self.lock:
            if self._head is None or self._tree is None:
                await self._load_read_only()
                return len(self._tree or ())
            seq, h = self._head
            projection = {"_id": 1, "hash": 1, "prev_hash": 1, "leaf_hash": 1, "topic": 1, "partition": 1, "offset": 1}
            cursor = self.entries.find({"_id": {"$gt": seq}}, projection).sort("_id", ASCENDING).limit(5000)
            async for doc in cursor:
                if int(doc["_id"]) != seq + 1 or doc.get("prev_hash") != h or "leaf_hash" not in doc:
                    await self._load_read_only()
                    return len(self._tree or ())
                self._tree.append_hash(bytes.fromhex(doc["leaf_hash"]))
                seq, h = int(doc["_id"]), doc["hash"]
                if doc.get("topic") is not None and doc.get("partition") is not None and doc.get("offset") is not None:
                    key = (str(doc["topic"]), int(doc["partition"]))
                    self._positions[key] = max(self._positions.get(key, 0), int(doc["offset"]) + 1)
            self._head = (seq, h)
            return seq

    async def _load_read_only(self) -> None:
        s = await scan_store(self.db)
        self._tree, self._head, self._positions = s.tree, s.head, s.positions
        self.problem = s.problem  # shown on /health; the writer heals, never a standby

    async def setup(self) -> None:
        await self.entries.create_index("event_id", unique=True)
        await self.entries.create_index([("subject", ASCENDING), ("_id", ASCENDING)])
        await self.entries.create_index("tracking_number")
        await self.entries.create_index("type")
        async with self.lock:
            if self.standby:
                await self._load_read_only()
                return
            try:
                await self._restore("start-up")
            except LedgerUnusable:
                pass  # named on /health and in the log; reads are still served
            self.rewind_pending = False  # at start the consumer seeks on assignment anyway

    def _set_problem(self, problem: str | None) -> None:
        if problem != self.problem:
            if problem:
                self.log.error("ledger_unusable", reason=problem, durable_size=len(self._tree or ()),
                               action="appending stopped; see python -m services.audit.repair --check")
            else:
                self.log.info("ledger_usable_again")
        self.problem = problem
        if self._on_problem is not None:
            self._on_problem(problem)

    async def _restore(self, why: str) -> LedgerScan:
        """Re-read the committed state from the store (called with the lock held): the durable
        prefix becomes the head, the tree and the resume positions; orphans after a gap and
        checkpoints beyond the prefix are moved aside. Raises LedgerUnusable if it cannot heal."""
        memory = self._head
        s = await scan_store(self.db)
        # Reads are served from the durable prefix in any case.
        self._tree, self._head, self._positions = s.tree, s.head, s.positions
        if s.problem:
            self._set_problem(s.problem)
            raise LedgerUnusable(s.problem)
        moved: dict[str, Any] = {}
        heal_id = f"{datetime.now(UTC):%Y%m%dT%H%M%S.%fZ}-{s.size}"
        if s.needs_repair:
            repair = self._repair or _default_repair()
            try:
                moved = await repair(self.db, s, heal_id)
            except Exception as exc:  # noqa: BLE001 - e.g. a role without remove: the operator repairs
                what = [f"ledger entry {s.gap} is missing and the {len(s.orphans)} entries after it"] if s.orphans else []
                if s.checkpoints_beyond:
                    what.append(f"{len(s.checkpoints_beyond)} checkpoints signed beyond the durable prefix of {s.size}")
                problem = (f"{' and '.join(what)} could not be moved aside ({exc!r}); "
                           f"run python -m services.audit.repair --repair")
                self._set_problem(problem)
                raise LedgerUnusable(problem) from exc
        # The memory was ahead of the store or off it (not merely behind after a write whose
        # acknowledgement was lost, which then turns out stored).
        lost = memory is not None and memory != s.head and (memory[0] >= s.size or why != "a write failed")
        if s.needs_repair or lost or self.problem:
            record = {"_id": heal_id, "at": datetime.now(UTC), "why": why, **s.summary(),
                      "memory_head": None if memory is None else memory[0], "moved": moved}
            record["resume_positions"] = [{"topic": t, "partition": p, "offset": o}
                                          for (t, p), o in sorted(s.positions.items())]
            try:
                await self.heals.insert_one(record)
            except Exception as exc:  # noqa: BLE001 - the record is for the operator; the heal stands
                self.log.warning("ledger_heal_not_recorded", error=repr(exc))
            self.last_heal = record
            self.log.warning("ledger_healed", why=why, durable_size=s.size, memory_head=record["memory_head"],
                             gap=s.gap, orphans_moved=len(s.orphans), checkpoints_superseded=s.checkpoints_beyond,
                             resume_positions=len(s.positions))
        self._set_problem(None)
        self._stale = False
        self._head_ok_until = 0.0
        return s

    async def _head_problem(self) -> str | None:
        """The cheap check: the head in memory is the store's head (looked up by its ``_id``) and
        nothing is stored just beyond it (the next ``_id``; an insert there would fail anyway)."""
        assert self._head is not None
        seq, h = self._head
        self.queries["head"] += 1
        if seq > 0:
            doc = await self.entries.find_one({"_id": seq}, {"_id": 1, "hash": 1})
            if doc is None:
                return f"ledger entry {seq} (the head) is missing from the store"
            if doc.get("hash") != h:
                return f"ledger entry {seq} in the store is not the head in memory"
        if await self.entries.find_one({"_id": seq + 1}, {"_id": 1}) is not None:
            return f"ledger entry {seq + 1} exists beyond the head {seq} (another writer?)"
        return None

    async def _full_problem(self) -> str | None:
        """A fuller check (before signing): the head, and as many entries stored as the head says."""
        problem = await self._head_problem()
        if problem is None and self._head is not None:
            stored = await self.entries.count_documents({})
            if stored != self._head[0]:
                problem = f"the store holds {stored} ledger entries, the head in memory is {self._head[0]}"
        return problem

    async def _ensure(self, full: bool = False) -> None:
        """With the lock held: the in-memory state is the store's, or it is re-read (and then the
        consumer must rewind: LedgerHealed is raised by append). Before an append the head is
        looked up only when its last check is older than ``head_check_seconds``."""
        if self.problem is not None or self._stale or self._head is None or self._tree is None:
            why = self.problem or ("a write failed" if self._stale else "not loaded")
            initial = self._head is None and not self._stale and self.problem is None
            await self._check_fence(force=True)  # a deposed writer heals nothing
            await self._restore(why)
            if not initial:
                self._want_rewind()
            return
        sent = time.monotonic()
        if not full and sent < self._head_ok_until:
            return
        problem = await (self._full_problem() if full else self._head_problem())
        if problem is not None:
            await self._diverged(problem)
            return
        self._head_ok_until = sent + self.head_check_seconds

    async def _diverged(self, problem: str) -> None:
        self.log.warning("ledger_diverged", reason=problem)
        await self._check_fence(force=True)  # a deposed writer heals nothing
        await self._restore(problem)
        self._want_rewind()

    def _want_rewind(self) -> None:
        self.rewind_pending = True
        self.rewind_wanted.set()

    @property
    def size(self) -> int | None:
        """Entries in the ledger as this process knows it (None before it has loaded)."""
        return self._head[0] if self._head is not None else None

    def resume_positions(self) -> dict[Position, int]:
        """Per (topic, partition): the next offset to read, just after the highest offset the
        durable ledger records for it (a partition absent here is read from its beginning)."""
        return dict(self._positions)

    def rewound(self) -> None:
        self.rewind_pending = False
        self.rewind_wanted.clear()

    async def tree(self) -> MerkleTree:
        if self._tree is None:
            async with self.lock:
                if self._tree is None and self.standby:
                    await self._load_read_only()
                elif self._tree is None:
                    try:
                        await self._restore("not loaded")
                    except LedgerUnusable:
                        pass
        if self._tree is None:
            raise LedgerUnusable(self.problem or "ledger not loaded")
        return self._tree

    async def append(self, event: CloudEvent[Any], raw: bytes, topic: str, partition: int, offset: int) -> int | None:
        """Append one event; returns its seq, or None if it was already in the ledger. Raises
        LedgerHealed (nothing appended: seek back and read again) or LedgerUnusable."""
        async with self.lock:
            await self._check_fence()
            if self.rewind_pending:
                raise LedgerHealed("ledger state re-read: rewind first")
            await self._ensure()
            if self.rewind_pending:
                raise LedgerHealed("ledger state re-read: rewind first")
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
                # The position was taken: another writer (then we are fenced off), or our memory
                # is off the store. Re-read; the consumer rewinds.
                self._stale = True
                await self._diverged(f"ledger entry {seq + 1} exists beyond the head {seq} (another writer?)")
                raise LedgerHealed("ledger state re-read: rewind first") from None
            except BaseException:
                # Written or not (a lost acknowledgement), re-read the state next time.
                self._stale = True
                raise
            self._tree.append_hash(lh)
            self._head = (seq + 1, doc["hash"])
            key = (topic, partition)
            self._positions[key] = max(self._positions.get(key, 0), offset + 1)
            return seq + 1

    async def snapshot(self, full_check: bool = False) -> tuple[int, bytes]:
        """(size, root) of the tree now, consistent with the stored entries: the head is checked
        against the store first (with ``full_check``, the number of stored entries too: the
        periodic signing does it), and a divergence heals the ledger before the snapshot."""
        async with self.lock:
            await self._check_fence(force=True)
            await self._ensure(full=full_check)
            if self.problem is not None:
                raise LedgerUnusable(self.problem)
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

    async def verify(self, checkpoints: Sequence[tuple[int, bytes]] = (), limit: int | None = None) -> LedgerVerdict:
        """Check every stored entry (or the first ``limit``): positions contiguous, leaf hash =
        H(0x00 || value), hash chain, and the roots recomputed from the values equal the signed
        roots (size, root) given."""
        tree = MerkleTree()
        prev, n = chain.GENESIS, 0
        roots = dict(checkpoints)
        chain_bad: tuple[int, str] | None = None
        async for d in self.iter_entries(limit=limit):
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
