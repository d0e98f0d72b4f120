"""How soon a SIGKILLed consumer process consumes again after its restart, per group membership.

    cd /work/main && PYTHONPATH=. .local/venv/bin/python benchmarks/consumer_resume.py [--kills 5] [--json out.json]

A private single-node broker (deploy/local/infra.sh, ports 41092/41093) and a child process shaped
like a Gongkai service: four consumers in one group (the reply service has four subscribers in the
group "reply"), each on its own topic, with the services' session timeout (10 s) and heartbeat
(1 s). The parent produces a record to each topic every 50 ms. For each mode the child is killed with
SIGKILL, restarted at once, and the time from the restart (spawn) to every one of its four members
having consumed a record produced after the restart is measured:
- bare:    no group at all, partitions assigned by hand (the broker's own floor: start-up, connect,
           fetch);
- dynamic: group members without an instance id (a restarted member waits for the group to forget
           the killed one: up to the session timeout, and a rebalance for each member that joins);
- static:  static membership, group.instance.id = <process>:<member> (servicekit.kafka.membership,
           what the services use): the restarted member takes the killed one's place at once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from deploy.local.credentials import kafka_client_kwargs
from deploy.local.stack import Stack, StackConfig

TOPICS = [f"bench.resume.{i}" for i in range(4)]
GROUP = "bench-resume"
MODES = ("bare", "dynamic", "static")


async def child(bootstrap: str, mode: str, started: float) -> None:
    """The consumer process: prints one line per member when it consumes a record produced after
    ``started`` (the parent's wall clock at spawn), then keeps consuming until killed."""
    async def member(i: int, topic: str) -> None:
        if mode == "bare":
            consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                        auto_offset_reset="latest", **kafka_client_kwargs())
            await consumer.start()
            consumer.assign([TopicPartition(topic, 0)])
        else:
            extra = {"group_instance_id": f"resume-bench:{i}"} if mode == "static" else {}
            consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=f"{GROUP}-{mode}",
                                        session_timeout_ms=10_000, heartbeat_interval_ms=1_000,
                                        auto_offset_reset="latest", **extra, **kafka_client_kwargs())
            await consumer.start()
        reported = False
        async for rec in consumer:
            if not reported and rec.timestamp / 1000 >= started:
                print(f"member {i} {time.time() - started:.3f}", flush=True)
                reported = True

    await asyncio.gather(*(member(i, t) for i, t in enumerate(TOPICS)))


def spawn(bootstrap: str, mode: str) -> tuple[subprocess.Popen, float]:
    started = time.time()
    proc = subprocess.Popen([sys.executable, __file__, "--child", mode, "--bootstrap", bootstrap,
                             "--started", repr(started)], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    return proc, started


def resumed_after(proc: subprocess.Popen, timeout: float = 90.0) -> float:
    """Seconds until all four members reported (the slowest one)."""
    seen: dict[str, float] = {}
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while len(seen) < len(TOPICS):
        if time.monotonic() > deadline:
            raise RuntimeError(f"consumers did not resume within {timeout} s: {seen}")
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"child exited: {proc.wait()}")
        _, i, secs = line.split()
        seen[i] = float(secs)
    return max(seen.values())


async def producer_loop(bootstrap: str, stop: asyncio.Event) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **kafka_client_kwargs())
    await producer.start()
    try:
        while not stop.is_set():
            await asyncio.gather(*(producer.send_and_wait(t, b"x") for t in TOPICS))
            await asyncio.sleep(0.05)
    finally:
        await producer.stop()


async def campaign(bootstrap: str, kills: int) -> dict[str, list[float]]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **kafka_client_kwargs())
    await admin.start()
    try:
        await admin.create_topics([NewTopic(t, 1, 1) for t in TOPICS])
    finally:
        await admin.close()
    stop = asyncio.Event()
    feeding = asyncio.create_task(producer_loop(bootstrap, stop))
    results: dict[str, list[float]] = {}
    try:
        for mode in MODES:
            proc, _ = spawn(bootstrap, mode)
            first = await asyncio.to_thread(resumed_after, proc)
            times = []
            for _ in range(kills):
                await asyncio.sleep(3)  # the members settle (heartbeats, committed offsets)
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                proc, _ = spawn(bootstrap, mode)
                times.append(await asyncio.to_thread(resumed_after, proc))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            results[mode] = times
            print(f"{mode:<8} first start {first:5.2f} s; after each SIGKILL: "
                  + ", ".join(f"{t:.2f}" for t in times), flush=True)
            await asyncio.sleep(12)  # let the group of this mode expire before the next mode
    finally:
        stop.set()
        await feeding
    return results


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kills", type=int, default=5)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--child")
    ap.add_argument("--bootstrap")
    ap.add_argument("--started", type=float)
    args = ap.parse_args()
    if args.child:
        asyncio.run(child(args.bootstrap, args.child, args.started))
        return 0
    cfg = StackConfig(run_dir=Path(tempfile.mkdtemp(prefix="gk-resume-")), kafka_port=41092,
                      kafka_controller_port=41093, store_port=41117)
    stack = Stack(cfg)
    try:
        stack.infra("start", "kafka")
        results = asyncio.run(campaign(cfg.kafka_bootstrap, args.kills))
    finally:
        stack.infra("stop", "kafka")
        shutil.rmtree(cfg.run_dir, ignore_errors=True)
    print(f"\nrestart -> all 4 members consuming again, {args.kills} SIGKILLs per mode (seconds)")
    print(f"{'mode':<8} {'median':>7} {'max':>6}")
    for mode, times in results.items():
        print(f"{mode:<8} {statistics.median(times):>7.2f} {max(times):>6.2f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
