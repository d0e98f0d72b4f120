"""The ledger's writer fence (issue 12), against the real store: two Ledger objects on one database
stand for a deposed leader and its successor. Once the successor took over with a higher term, the
old writer's next append and its next checkpoint are refused (nothing written), it never heals or
moves anything aside, and the successor's ledger is complete and verifies. A standby follows the
store for its reads and refuses to write; the lease's term is the one the fence records."""

from __future__ import annotations

import asyncio

import pytest

from services.audit.checkpoint_log import CheckpointLog, Signer
from services.audit.ledger import WRITERS, Ledger, LedgerFenced
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
