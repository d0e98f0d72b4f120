"""The ledger's writer fence (issue 12), against the real store: two Ledger objects on one database
stand for a deposed leader and its successor. Once the successor took over with a higher term, the
old writer's next append and its next checkpoint are refused (nothing written), it never heals or
moves anything aside, and the successor's ledger is complete and verifies. A standby follows the
store for its reads and refuses to write; the lease's term is the one the fence records."""

from __future__ import annotations

import asyncio

import pytest

from services.audit.checkpoint_log import CheckpointLog, Signer
from services.audit.ledger import WRITERS, Ledger, LedgerFenced, LedgerHealed
from servicekit.lease import Lease
from tests.audit.conftest import ORIGIN
from tests.audit.factory import case_events, raw

pytestmark = pytest.mark.asyncio


def records(cases: range) -> list[tuple[str, int, int, object]]:
    out, offsets = [], {}
    for n in cases:
        for topic, ev in case_events(n):
            offsets[topic] = offsets.get(topic, -1) + 1
            out.append((topic, 0, offsets[topic], ev))
    return out


async def consume(ledger: Ledger, recs) -> int:  # noqa: ANN001
    n = 0
    for topic, part, offset, ev in recs:
        if await ledger.append(ev, raw(ev), topic, part, offset):
            n += 1
    return n


async def test_a_deposed_writer_cannot_append_or_sign(db, signing_key) -> None:  # noqa: ANN001
    recs = records(range(1, 4))
    old = Ledger(db)
    await old.fence(1, "audit-a")
    await old.setup()
    assert await consume(old, recs[:10]) == 10

    new = Ledger(db)
    new.stand_by()
    await new.setup()
    with pytest.raises(LedgerFenced):  # a standby never appends
        await new.append(recs[10][3], raw(recs[10][3]), *recs[10][:3])
    await new.take_over(2, "audit-b")
    assert await consume(new, recs[10:15]) == 5

    # The old writer still believes it leads (it was paused; its lease ran out meanwhile).
    topic, part, offset, ev = recs[15]
    with pytest.raises(LedgerFenced, match="superseded by term 2"):
        await old.append(ev, raw(ev), topic, part, offset)
    assert await db.ledger.count_documents({}) == 15
    assert old.fenced is not None and old.standby
    with pytest.raises(LedgerFenced):  # and it stays deposed, without asking the store again
        await old.append(ev, raw(ev), topic, part, offset)
    old_log = CheckpointLog(db, old, Signer(signing_key, ORIGIN))
    with pytest.raises(LedgerFenced):
        await old_log.sign_now()
    assert await db.checkpoints.count_documents({}) == 0
    assert await db.ledger_heals.count_documents({}) == 0  # the stale writer healed nothing

    assert await consume(new, recs[15:]) == len(recs) - 15
    cplog = CheckpointLog(db, new, Signer(signing_key, ORIGIN))
    doc, created = await cplog.sign_now()
    assert created and doc["tree_size"] == len(recs)
    ids = [d["event_id"] async for d in new.iter_entries()]
    assert ids == [ev.id for *_, ev in recs]  # each once, in order
    assert (await new.verify(await cplog.all_roots())).ok
    assert [d["_id"] async for d in db[WRITERS].find({}).sort("_id", 1)] == [1, 2]


async def test_a_writer_behind_the_recorded_term_cannot_take_over(db) -> None:  # noqa: ANN001
    led = Ledger(db)
    await led.fence(5, "audit-a")
    stale = Ledger(db)
    with pytest.raises(LedgerFenced, match="behind"):
        await stale.fence(4, "audit-b")
    assert stale.term is None
    await led.setup()
    ev = records(range(1, 2))[0]
    assert await led.append(ev[3], raw(ev[3]), *ev[:3]) == 1


async def test_a_standby_follows_the_store_for_its_reads(db) -> None:  # noqa: ANN001
    recs = records(range(1, 3))
    leader = Ledger(db)
    await leader.fence(1)
    await leader.setup()
    await consume(leader, recs[:4])
    standby = Ledger(db)
    standby.stand_by()
    await standby.setup()
    assert len(await standby.tree()) == 4
    await consume(leader, recs[4:])
    assert await standby.follow() == len(recs)
    assert (await standby.tree()).root() == (await leader.tree()).root()
    assert standby.resume_positions() == leader.resume_positions()
    with pytest.raises(LedgerFenced):
        await standby.snapshot()


async def test_the_lease_term_is_the_fence(db) -> None:  # noqa: ANN001
    """Leases and fence together: the second holder's term deposes the first at its next append."""
    recs = records(range(1, 2))
    a, b = Lease(db.leases, "ledger-writer", "a", ttl=0.3), Lease(db.leases, "ledger-writer", "b", ttl=30)
    first, second = Ledger(db), Ledger(db)
    assert await a.acquire()
    await first.fence(a.term)
    await first.setup()
    await consume(first, recs[:3])
    assert not await b.acquire()
    await asyncio.sleep(0.4)
    assert await b.acquire() and b.term == a.term + 1
    second.stand_by()
    await second.setup()
    await second.take_over(b.term)
    with pytest.raises(LedgerFenced):
        await consume(first, recs[3:4])
    assert await consume(second, recs[3:]) == len(recs) - 3


async def test_a_stale_writer_is_refused_with_the_checks_spread_out(db) -> None:  # noqa: ANN001
    """As the service runs it: the fence and the head are asked about at most every so often, not
    before every append. A deposed writer is still refused: at once when its position was taken by
    the successor (the insert fails, then the fence is asked), and otherwise once its last check is
    older than ``fence_check_seconds``. It heals nothing, and the ledger ends complete."""
    recs = records(range(1, 4))
    old = Ledger(db, head_check_seconds=60, fence_check_seconds=60)
    await old.fence(1, "audit-a")
    await old.setup()
    assert await consume(old, recs[:10]) == 10
    assert old.queries["fence"] == 0 and old.queries["head"] <= 1  # not one per append

    new = Ledger(db, head_check_seconds=60, fence_check_seconds=0.05)
    new.stand_by()
    await new.setup()
    await new.take_over(2, "audit-b")
    assert await consume(new, recs[10:15]) == 5

    # The old writer's checks are not due, but its next position (11) is taken: refused.
    topic, part, offset, ev = recs[15]
    with pytest.raises(LedgerFenced, match="superseded by term 2"):
        await old.append(ev, raw(ev), topic, part, offset)
    assert old.fenced is not None
    assert await db.ledger.count_documents({}) == 15
    assert await db.ledger_heals.count_documents({}) == 0

    # A third writer takes over and has appended nothing yet: the second is refused once its last
    # fence check is older than fence_check_seconds.
    third = Ledger(db, head_check_seconds=60, fence_check_seconds=60)
    third.stand_by()
    await third.setup()
    await third.take_over(3, "audit-c")
    await asyncio.sleep(0.1)
    with pytest.raises(LedgerFenced, match="superseded by term 3"):
        await new.append(ev, raw(ev), topic, part, offset)
    assert await db.ledger.count_documents({}) == 15
    assert await db.ledger_heals.count_documents({}) == 0

    assert await consume(third, recs[15:]) == len(recs) - 15
    ids = [d["event_id"] async for d in third.iter_entries()]
    assert ids == [e.id for *_, e in recs]
    assert (await third.verify()).ok


async def test_an_entry_beyond_the_head_is_caught_by_the_insert(db) -> None:  # noqa: ANN001
    """With the head check spread out, a position taken under the writer makes its insert fail:
    the ledger re-reads at once (LedgerHealed), nothing is overwritten, and it goes on after the
    rewind from the store's head."""
    recs = records(range(1, 3))
    led = Ledger(db, head_check_seconds=60, fence_check_seconds=60)
    await led.setup()
    assert await consume(led, recs[:5]) == 5
    other = Ledger(db)
    await other.setup()
    assert await consume(other, recs[5:6]) == 1  # entry 6, behind led's back
    topic, part, offset, ev = recs[6]
    with pytest.raises(LedgerHealed):
        await led.append(ev, raw(ev), topic, part, offset)
    led.rewound()
    assert await led.append(ev, raw(ev), topic, part, offset) == 7
    assert await consume(led, recs[5:]) == len(recs) - 7  # 6 and 7 skipped by their event ids
    assert (await led.verify()).ok
