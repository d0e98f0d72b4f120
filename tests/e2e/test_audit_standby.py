"""Audit leader and standby on the real system (issue 12): a private stack (ports 32080..32525, its
own run dir; the session stack is not used) with two audit processes. Applications flow through
intake while the leader is SIGKILLed; the standby takes over within the lease time plus a few
seconds (measured and printed), the killed one comes back as the standby, and then every event of
the audited topics is in the ledger exactly once with no gap, /ledger/verify is ok and a checkpoint
is signed after the takeover. Last, the old leader's writer code with its stale term is run
in-process against the store: its append is refused, its lease renewal fails, nothing is written."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from pymongo import AsyncMongoClient

from benchmarks.chaos import chaos_config, stack_ports
from benchmarks.pipeline import port_in_use
from contracts import topics
from contracts.envelope import decode, encode
from contracts.events import REGISTRY
from deploy.local.credentials import ADMIN as KAFKA_ADMIN
from deploy.local.credentials import kafka_client_kwargs
from deploy.local.stack import Stack
from services.audit.ledger import WRITERS, Ledger, LedgerFenced
from servicekit.lease import Lease
from tests.e2e.helpers import AUDITOR, Client, application, eventually, tag

pytestmark = pytest.mark.e2e

BASE = 32000  # every port of the stack (base+80 .. base+525) below the ephemeral range (32768)
LEASE_SECONDS = 10.0
APPLICATIONS = 30
LOAD_SECONDS = 20.0
KILL_AFTER = 8.0


async def audited_bus_ids(bootstrap: str) -> list[str]:
    """The ids of every event on every audited topic (all partitions, from the beginning)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None,
                                auto_offset_reset="earliest", **kafka_client_kwargs(KAFKA_ADMIN, None))
    await consumer.start()
    try:
        audited = re.compile(topics.AUDITED_PATTERN)
        meta = await consumer._client.fetch_all_metadata()  # noqa: SLF001 - every topic and its partitions
        names = [t for t in meta.topics() if audited.match(t) and t != topics.LEDGER_CHECKPOINTS.name]
        parts = [TopicPartition(t, p) for t in names for p in (meta.partitions_for_topic(t) or ())]
        assert parts, "no audited topic found"
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        ids: list[str] = []
        deadline = time.monotonic() + 60
        while any([await consumer.position(tp) < ends[tp] for tp in parts]):
            assert time.monotonic() < deadline, "could not read the audited topics to their end"
            for recs in (await consumer.getmany(timeout_ms=500, max_records=5000)).values():
                for rec in recs:
                    try:
                        ev = json.loads(rec.value)
                    except (TypeError, ValueError):
                        continue
                    if isinstance(ev, dict) and "id" in ev:
                        ids.append(ev["id"])
        return ids
    finally:
        await consumer.stop()


async def gauge(http: httpx.AsyncClient, stack: Stack, instance: str, name: str) -> float:
    """A gauge's value on the instance's /metrics (Prometheus text format)."""
    text = (await http.get(stack.cfg.url(instance) + "/metrics", timeout=5.0)).text
    found = [float(line.split()[-1]) for line in text.splitlines() if line.startswith(name + " ")]
    assert len(found) == 1, f"{name} on {instance}: {found}"
    return found[0]


async def health(http: httpx.AsyncClient, stack: Stack, instance: str) -> dict[str, Any] | None:
    try:
        r = await http.get(stack.cfg.url(instance) + "/health", timeout=1.0)
        return r.json() | {"http": r.status_code}
    except (httpx.HTTPError, ValueError):
        return None


@pytest.fixture
def standby_stack():  # noqa: ANN201
    run_dir = Path(tempfile.mkdtemp(prefix="gk-audit-standby-"))
    cfg = chaos_config(run_dir, base=BASE)
    cfg.replicas = {"audit": 2}
    cfg.extra_env["AUDIT_LEASE_SECONDS"] = str(LEASE_SECONDS)
    busy = [p for p in stack_ports(cfg) if port_in_use(p)]
    assert not busy, f"ports in use: {busy}"
    assert max(stack_ports(cfg)) < 32768
    stack = Stack(cfg)
    ok = False
    try:
        stack.up(with_sinks=True)
        yield stack
        ok = True
    finally:
        stack.down()
        if ok:
            shutil.rmtree(run_dir, ignore_errors=True)
        else:
            print(f"run dir kept: {run_dir}")


async def test_standby_takes_over_when_the_leader_dies_under_load(standby_stack: Stack) -> None:
    stack = standby_stack
    client = Client(stack)
    http = httpx.AsyncClient(timeout=10)
    mongo = AsyncMongoClient(stack.cfg.mongo_url, tz_aware=True, serverSelectionTimeoutMS=5000)
    db = mongo["gongkai_audit"]
    try:
        # Both started at once: whichever took the lease first leads, the other is its standby.
        both = {i: await health(http, stack, i) for i in ("audit", "audit-2")}
        assert all(h and h["http"] == 200 for h in both.values()), both
        assert sorted(h["role"] for h in both.values()) == ["leader", "standby"], both
        lead = next(i for i, h in both.items() if h["role"] == "leader")
        standby = "audit-2" if lead == "audit" else "audit"
        old_lease = await db.leases.find_one({"_id": "ledger-writer"})
        old_term, old_holder = int(old_lease["term"]), old_lease["holder"]
        assert old_holder == f"audit-{stack.cfg.port(lead)}"

        accepted: list[dict[str, Any]] = []

        async def submit(i: int) -> None:
            body = application(tag(), departments=["zjt", "slt"])
            for _ in range(40):
                try:
                    r = await http.post(stack.cfg.url("intake") + "/applications", json=body,
                                        headers={"Idempotency-Key": f"standby-{i}"})
                    if r.status_code in (200, 201):
                        accepted.append(r.json())
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.5)

        async def load() -> None:
            tasks = []
            for i in range(APPLICATIONS):
                tasks.append(asyncio.create_task(submit(i)))
                await asyncio.sleep(LOAD_SECONDS / APPLICATIONS)
            await asyncio.gather(*tasks)

        loader = asyncio.create_task(load())
        await asyncio.sleep(KILL_AFTER)
        before_kill = await db.ledger.count_documents({})
        assert before_kill > 0, "the leader appended nothing before the kill"
        stack.kill(lead)  # SIGKILL: no release of the lease, nothing flushed
        killed_at, killed_wall = time.monotonic(), datetime.now().astimezone()

        async def leader() -> dict | None:
            h = await health(http, stack, standby)
            return h if h and h.get("role") == "leader" else None

        await eventually(leader, timeout=LEASE_SECONDS + 20, every=0.05, what="the standby to take over")
        takeover = time.monotonic() - killed_at

        async def appended() -> bool:
            return await db.ledger.count_documents({"recorded_at": {"$gt": killed_wall}}) > 0

        await eventually(appended, timeout=60, every=0.1, what="the new leader's first append")
        first_append = time.monotonic() - killed_at
        print(f"\naudit takeover: standby leader {takeover:.2f} s after the SIGKILL, first append by it "
              f"{first_append:.2f} s after (lease {LEASE_SECONDS:.0f} s; {before_kill} entries before the kill)")
        assert takeover <= LEASE_SECONDS + 5, takeover

        new_lease = await db.leases.find_one({"_id": "ledger-writer"})
        assert new_lease["holder"] == f"audit-{stack.cfg.port(standby)}" and new_lease["term"] == old_term + 1

        # The killed process comes back (its supervisor; here the test) as the standby.
        stack.start(lead)
        stack.wait_healthy(lead)
        back = await health(http, stack, lead)
        assert back and back["role"] == "standby", back
        # The operator's view: which process writes, and how far the ledger is.
        assert await gauge(http, stack, standby, "gongkai_audit_leader") == 1.0
        assert await gauge(http, stack, lead, "gongkai_audit_leader") == 0.0
        assert await gauge(http, stack, standby, "gongkai_audit_ledger_size") >= before_kill

        await loader
        assert len(accepted) == APPLICATIONS, f"{len(accepted)} of {APPLICATIONS} accepted"

        # Quiescence: the ledger holds every event of the audited topics.
        # (the same on two reads 3 s apart: the notices of the last applications may still flow).
        last: list[int] = []

        async def complete() -> tuple[list[str], list[dict]] | None:
            bus = await audited_bus_ids(stack.cfg.kafka_bootstrap)
            entries = [d async for d in db.ledger.find({}, {"_id": 1, "event_id": 1}).sort("_id", 1)]
            if set(bus) != {d["event_id"] for d in entries}:
                return None
            last.append(len(entries))
            return (bus, entries) if len(last) > 1 and last[-2] == last[-1] else None

        bus, entries = await eventually(complete, timeout=120, every=3, what="the ledger to hold every event")
        ids = [d["event_id"] for d in entries]
        assert len(ids) == len(set(ids)), "an event is in the ledger twice"
        assert [d["_id"] for d in entries] == list(range(1, len(entries) + 1)), "a gap in the ledger"
        assert set(bus) == set(ids) and len(ids) > before_kill
        cases = {c["case_id"] for c in accepted}
        subjects = {d["subject"] async for d in db.ledger.find({}, {"subject": 1})}
        assert cases <= subjects  # every accepted application is ledgered

        verify = (await client.get(standby, "/ledger/verify", as_user=AUDITOR)).json()
        assert verify["ok"] and verify["checked"] == len(ids), verify
        assert (await client.get(lead, "/ledger/verify", as_user=AUDITOR)).json()["ok"]  # the standby reads too

        async def signed_after() -> dict | None:
            r = await client.get(standby, "/checkpoints/latest", as_user=AUDITOR)
            cp = r.json() if r.status_code == 200 else None
            if cp and cp["tree_size"] == len(ids) and datetime.fromisoformat(cp["signed_at"]) > killed_wall:
                return cp
            return None

        cp = await eventually(signed_after, timeout=30, every=1, what="a checkpoint signed after the takeover")
        print(f"audit ledger: {len(ids)} entries = {len(set(bus))} events on the bus; checkpoint {cp['tree_size']} "
              f"signed {cp['signed_at']}")
        # The standby refuses to sign (it never writes).
        refused = await client.post(lead, "/checkpoints", as_user=AUDITOR)
        assert refused.status_code == 503, refused.text

        # Fencing: the old leader's writer code, with its stale term, against the same store.
        stale = Ledger(db)
        await stale.setup()  # loads what the store holds, as the old leader did
        stale.term = old_term  # what the old leader had in memory
        rec = await db.ledger.find_one({"_id": 1})
        event = decode(rec["value"].encode(), REGISTRY)
        event = event.model_copy(update={"id": "fence-probe-" + tag()})
        raw = encode(event)
        with pytest.raises(LedgerFenced, match=f"superseded by term {old_term + 1}"):
            await stale.append(event, raw, rec["topic"], rec["partition"], 10**9)
        assert await db.ledger.find_one({"event_id": event.id}) is None
        assert await db.ledger.count_documents({}) == len(ids)
        old = Lease(db.leases, "ledger-writer", f"{old_holder}-stale", LEASE_SECONDS)
        old.term = old_term
        assert not await old.renew()  # the deposed holder's lease is gone too
        assert [d["_id"] async for d in db[WRITERS].find({}).sort("_id", 1)][-1] == old_term + 1
    finally:
        await client.close()
        await http.aclose()
        await mongo.close()
