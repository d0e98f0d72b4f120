"""The ledger heals (issue 16), against the real store: a head that the store no longer holds is
caught before the next append; a gap in the middle found at start-up heals to the durable prefix
(orphans and checkpoints beyond it moved aside, the heal recorded); the consumer's resume positions
are just after the last durable offset of each partition; re-reading from there makes the ledger
complete (each event once) and verified again; what cannot be healed is named and stops appending."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from aiokafka import TopicPartition
from pymongo.errors import OperationFailure

from contracts.events_ledger import LEDGER_CHECKPOINTS
from services.audit import chain, repair
from services.audit.checkpoint_log import CheckpointLog
from services.audit.ledger import Ledger, LedgerHealed, LedgerUnusable
from services.audit.merkle import leaf_hash, root_of
from services.audit.resume import ResumeFromLedger, rewind
from tests.audit.factory import case_events, raw

REPO = Path(__file__).resolve().parents[2]

Record = tuple[str, int, int, Any]  # topic, partition, offset, event


def bus(cases: range) -> list[Record]:
    """The records of these cases as the consumer reads them: two partitions per topic, offsets
    counted per partition."""
    offsets: dict[tuple[str, int], int] = defaultdict(int)
    out = []
    for n in cases:
        for topic, ev in case_events(n):
            part = n % 2
            out.append((topic, part, offsets[(topic, part)], ev))
            offsets[(topic, part)] += 1
    return out


async def consume(ledger: Ledger, records: list[Record]) -> int:
    appended = 0
    for topic, part, offset, ev in records:
        if await ledger.append(ev, raw(ev), topic, part, offset):
            appended += 1
    return appended


def reread(records: list[Record], positions: dict[tuple[str, int], int]) -> list[Record]:
    """What a consumer sought to ``positions`` reads again (a partition absent: from offset 0)."""
    return [r for r in records if r[2] >= positions.get((r[0], r[1]), 0)]


async def assert_complete(ledger: Ledger, cplog: CheckpointLog, records: list[Record]) -> None:
    ids = [d["event_id"] async for d in ledger.iter_entries()]
    assert sorted(ids) == sorted(ev.id for *_, ev in records)  # every event, exactly once
    assert len(ids) == len(set(ids))
    v = await ledger.verify(await cplog.all_roots())
    assert v.ok, v


async def test_a_lost_head_is_caught_before_the_next_append(ledger: Ledger, cplog: CheckpointLog):
    records = bus(range(1, 4))  # 27 events
    await consume(ledger, records[:20])
    # The store loses its newest three entries (acknowledged, never made durable).
    await ledger.entries.delete_many({"_id": {"$gt": 17}})
    topic, part, offset, ev = records[20]
    with pytest.raises(LedgerHealed):
        await ledger.append(ev, raw(ev), topic, part, offset)
    assert await ledger.entries.count_documents({}) == 17  # nothing appended from the stale head
    assert await ledger.entries.find_one({"_id": 21}) is None
    assert (await ledger.snapshot())[0] == 17
    # Until the consumer has rewound, nothing is appended.
    with pytest.raises(LedgerHealed):
        await ledger.append(ev, raw(ev), topic, part, offset)
    positions = ledger.resume_positions()
    expected: dict[tuple[str, int], int] = {}
    for t, p, o, _ in records[:17]:
        expected[(t, p)] = max(expected.get((t, p), 0), o + 1)
    assert positions == expected
    ledger.rewound()
    assert await consume(ledger, reread(records[:21], positions)) == 4  # entries 18..21 again
    await consume(ledger, records[21:])
    await assert_complete(ledger, cplog, records)
    heal = await ledger.heals.find_one({})
    assert heal["durable_size"] == 17 and heal["memory_head"] == 20 and heal["gap"] is None


async def test_a_different_head_or_an_entry_beyond_it_is_caught(db, ledger: Ledger, cplog: CheckpointLog):
    records = bus(range(1, 3))
    await consume(ledger, records[:10])
    # Another writer replaced entry 10 by another event (chained from entry 9).
    ninth = await ledger.entries.find_one({"_id": 9})
    other = records[12]
    doc = await ledger.entries.find_one({"_id": 10})
    await ledger.entries.delete_one({"_id": 10})
    value = raw(other[3])
    await ledger.entries.insert_one({**doc, "event_id": other[3].id, "value": value.decode(), "topic": other[0],
                                     "partition": other[1], "offset": other[2], "leaf_hash": leaf_hash(value).hex(),
                                     "hash": chain.entry_hash(ninth["hash"], value)})
    t, p, o, ev = records[10]
    with pytest.raises(LedgerHealed):
        await ledger.append(ev, raw(ev), t, p, o)
    ledger.rewound()
    assert (await ledger.snapshot())[0] == 10
    assert ledger.resume_positions()[(other[0], other[1])] == other[2] + 1
    # ... and an entry appears beyond the head.
    fresh = Ledger(db)
    await fresh.setup()
    assert await fresh.append(ev, raw(ev), t, p, o) == 11
    t, p, o, ev = records[11]
    with pytest.raises(LedgerHealed):
        await ledger.append(ev, raw(ev), t, p, o)
    ledger.rewound()
    assert await ledger.append(ev, raw(ev), t, p, o) == 12
    assert (await ledger.verify()).ok


async def test_a_gap_below_the_head_is_caught_by_the_check_before_signing(db, ledger: Ledger, cplog: CheckpointLog):
    records = bus(range(1, 3))
    await consume(ledger, records)
    await ledger.entries.delete_one({"_id": 5})  # the head (18) is intact: the cheap check passes
    doc, created = await cplog.sign_now(full_check=True)
    assert created and doc["tree_size"] == 4  # signed over what is durable only
    assert ledger.rewind_pending and ledger.rewind_wanted.is_set()  # the service's loop rewinds
    assert await db[repair.QUARANTINE].count_documents({}) == 13
    ledger.rewound()
    assert await consume(ledger, reread(records, ledger.resume_positions())) == 14
    await assert_complete(ledger, cplog, records)


async def test_a_gap_in_the_middle_heals_to_the_durable_prefix_at_start_up(db, ledger: Ledger, cplog: CheckpointLog):
    records = bus(range(1, 4))
    await consume(ledger, records[:9])
    await cplog.sign_now()  # size 9: durable, stays
    await consume(ledger, records[9:18])
    await cplog.sign_now()  # size 18: covers lost entries
    await consume(ledger, records[18:])
    await cplog.sign_now()  # size 27
    published: list = []

    async def publish_many(recs):  # noqa: ANN001, ANN202
        published.extend(recs)

    assert await cplog.publish_pending(publish_many) == 3
    # The store lost entries 12..14 but kept the later ones (the running process went on).
    await ledger.entries.delete_many({"_id": {"$gte": 12, "$lte": 14}})

    healed = Ledger(db, repair=repair.move_aside)
    await healed.setup()
    assert healed.problem is None
    assert (await healed.snapshot())[0] == 11
    assert await healed.entries.count_documents({}) == 11
    assert await db[repair.QUARANTINE].count_documents({}) == 13  # entries 15..27, kept aside
    assert sorted([d["_id"] async for d in db["checkpoints"].find({})]) == [9]
    superseded = [d async for d in db[repair.SUPERSEDED].find({"collection": "checkpoints"})]
    assert sorted(d["original_id"] for d in superseded) == [18, 27]
    heal = await healed.heals.find_one({})
    assert heal["gap"] == 12 and heal["orphans"] == 13 and heal["checkpoints_beyond"] == [18, 27]
    assert heal["moved"] == {"orphans": 13, "checkpoints": 2, "publications": 2}

    # Re-consumed from the positions: the lost and the orphaned events are appended again.
    positions = healed.resume_positions()
    expected: dict[tuple[str, int], int] = {}
    for t, p, o, _ in records[:11]:
        expected[(t, p)] = max(expected.get((t, p), 0), o + 1)
    assert positions == expected
    # Read again in another interleaving of the partitions than the first time.
    again = sorted(reread(records, positions), key=lambda r: -r[1])
    assert {ev.id for *_, ev in records[11:]} <= {ev.id for *_, ev in again}
    assert await consume(healed, again) == 16
    cplog2 = CheckpointLog(db, healed, cplog.signer)
    doc, created = await cplog2.sign_now()
    assert created and doc["tree_size"] == 27
    await assert_complete(healed, cplog2, records)
    # The new checkpoint (another root for size 27: the log forked, and ledger_heals says so) is
    # published under an id of its own.
    old27 = next(d for d in superseded if d["original_id"] == 27)
    assert doc["root_hash"] != old27["root_hash"]
    assert await cplog2.publish_pending(publish_many) == 1
    ids = [json.loads(r[2])["id"] for r in published]
    assert len(ids) == len(set(ids)) == 4
    tree = await healed.tree()
    assert tree.root() == root_of([raw(ev) for ev in [await _event(healed, s) for s in range(1, 28)]])


async def _event(ledger: Ledger, seq: int) -> Any:
    from contracts.envelope import decode
    from contracts.events import REGISTRY
    return decode((await ledger.entries.find_one({"_id": seq}))["value"].encode(), REGISTRY)


async def test_an_altered_entry_inside_the_prefix_is_named_and_stops_appending(db, ledger: Ledger, cplog):
    records = bus(range(1, 3))
    await consume(ledger, records[:12])
    await ledger.entries.update_one({"_id": 6}, {"$set": {"prev_hash": "ab" * 32}})
    seen: list = []
    again = Ledger(db, repair=repair.move_aside, on_problem=seen.append)
    await again.setup()
    assert again.problem and "hash chain broken at ledger entry 6" in again.problem
    assert seen[-1] == again.problem
    t, p, o, ev = records[12]
    with pytest.raises(LedgerUnusable):
        await again.append(ev, raw(ev), t, p, o)
    with pytest.raises(LedgerUnusable):
        await again.snapshot()
    assert await again.entries.count_documents({}) == 12  # nothing appended, nothing removed
    assert len(await again.tree()) == 12  # what it holds is still served
    # Restored (e.g. from a backup): appending resumes, after a rewind.
    await ledger.entries.update_one({"_id": 6}, {"$set": {"prev_hash": (await ledger.entries.find_one({"_id": 5}))["hash"]}})
    with pytest.raises(LedgerHealed):
        await again.append(ev, raw(ev), t, p, o)
    assert again.problem is None and seen[-1] is None
    again.rewound()
    assert await again.append(ev, raw(ev), t, p, o) == 13


async def test_orphans_that_cannot_be_moved_aside_are_named(db, ledger: Ledger):
    records = bus(range(1, 3))
    await consume(ledger, records)
    await ledger.entries.delete_one({"_id": 4})

    async def no_remove(*_):  # noqa: ANN002, ANN202 - the production role: insert and find only
        raise OperationFailure("not authorized on gongkai_audit to execute command { delete: \"ledger\" }", 13)

    again = Ledger(db, repair=no_remove)
    await again.setup()
    assert "ledger entry 4 is missing" in again.problem and "services.audit.repair --repair" in again.problem
    assert await again.entries.count_documents({}) == 17


async def test_health_names_the_problem_and_the_ledger_is_still_served(store, monkeypatch):
    from tests.audit.service import audit_service
    async with audit_service(store.url, monkeypatch) as audit:
        for t, p, o, ev in bus(range(1, 2)):
            await audit.ledger.append(ev, raw(ev), t, p, o)
        await audit.db["ledger"].update_one({"_id": 3}, {"$set": {"prev_hash": "00" * 32}})
        await audit.ledger.setup()  # as at the next start-up
        resp = await audit.http.get("/health")
        assert resp.status_code == 503
        assert "hash chain broken at ledger entry 3" in resp.json()["problems"]["ledger"]
        verify = await audit.http.get("/ledger/verify")
        assert verify.status_code == 200 and verify.json()["first_bad_seq"] == 3
        signed = await audit.http.post("/checkpoints")
        assert signed.status_code == 503 and "台账" in signed.json()["detail"]


class FakeConsumer:
    def __init__(self, assigned: set[TopicPartition]) -> None:
        self.assigned = assigned
        self.sought: dict[TopicPartition, int] = {}
        self.committed: dict[TopicPartition, int] = {}

    def assignment(self) -> set[TopicPartition]:
        return self.assigned

    async def beginning_offsets(self, parts):  # noqa: ANN001, ANN201
        return {tp: 3 for tp in parts}

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.sought[tp] = offset

    async def commit(self, offsets):  # noqa: ANN001, ANN201
        self.committed.update({tp: o.offset for tp, o in offsets.items()})


async def test_rewind_seeks_every_assigned_partition_to_the_ledger(ledger: Ledger):
    records = bus(range(1, 3))
    await consume(ledger, records)
    known = TopicPartition(records[0][0], records[0][1])
    fresh = TopicPartition("gongkai.some.new.topic", 0)
    own = TopicPartition(LEDGER_CHECKPOINTS.name, 0)
    consumer = FakeConsumer({known, fresh, own})
    ledger.rewind_pending = True
    await rewind(consumer, ledger)  # type: ignore[arg-type]
    assert consumer.sought == {known: ledger.resume_positions()[(known.topic, known.partition)], fresh: 3}
    assert consumer.committed == consumer.sought  # the group's offsets are rewound too
    assert not ledger.rewind_pending
    # On assignment (start-up, rebalance): the same seek, for the partitions assigned.
    listener = ResumeFromLedger(ledger)
    listener.subscriber = type("Sub", (), {"consumer": FakeConsumer({known})})()
    await listener.on_partitions_assigned({known})
    assert listener.subscriber.consumer.sought == {known: consumer.sought[known]}


def _cli(store_url: str, db_name: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "services.audit.repair", "--mongo-url", store_url, "--db", db_name,
                           *args], cwd=REPO, capture_output=True, text=True, timeout=60, check=False)


async def test_operator_command_checks_and_repairs(store, db, ledger: Ledger, cplog: CheckpointLog):
    records = bus(range(1, 3))
    await consume(ledger, records)
    await cplog.sign_now()
    ok = _cli(store.url, db.name, "--check")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "durable prefix:        1..18" in ok.stdout and "verification:          ok" in ok.stdout
    await ledger.entries.delete_one({"_id": 7})
    check = _cli(store.url, db.name, "--check")
    assert check.returncode == 1, check.stdout + check.stderr
    assert "entry 7 is missing" in check.stdout and "orphan entries:        11 (seq 8..18)" in check.stdout
    assert "checkpoints beyond:    [18]" in check.stdout
    assert await ledger.entries.count_documents({}) == 17  # --check changes nothing
    fixed = _cli(store.url, db.name, "--repair")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "--- after repair ---" in fixed.stdout
    after = _cli(store.url, db.name, "--check", "--json")
    assert after.returncode == 0, after.stdout + after.stderr
    doc = json.loads(after.stdout)["before"]
    assert doc["durable_size"] == 6 and doc["gap"] is None and doc["verdict"]["ok"]
    assert doc["recent_heals"][0]["why"] == "operator repair"
    # An altered entry inside the prefix: exit 2, named; --repair does not touch it.
    await ledger.entries.update_one({"_id": 2}, {"$set": {"prev_hash": "11" * 32}})
    bad = _cli(store.url, db.name, "--repair")
    assert bad.returncode == 2 and "hash chain broken at ledger entry 2" in bad.stdout
    assert await ledger.entries.count_documents({}) == 6
