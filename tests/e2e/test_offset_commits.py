"""Batched offset commits (servicekit.kafka.OffsetCommits) on the real broker, with a consumer
process built by servicekit.consumer.subscribe and killed with SIGKILL:

- a crash before the commit redelivers what was processed (nothing is lost);
- after the commit, a restarted consumer reads nothing of it again;
- the committed offset never passes a record that is not fully processed (a record whose handler
  keeps failing holds it at its own offset, however long the later commits run), and on the
  restart reading resumes at that record.

The child process (this file run as a script) appends the sequence number of each record it
processed to a file, and prints nothing else that matters.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import date
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if __name__ == "__main__":  # the child: run as a script
    sys.path.insert(0, str(REPO))

from aiokafka import AIOKafkaProducer, TopicPartition  # noqa: E402
from aiokafka.admin import AIOKafkaAdminClient, NewTopic  # noqa: E402

from contracts.envelope import deterministic_id, encode, kafka_headers, new_event  # noqa: E402
from contracts.events import TaskAssigned, registry_of  # noqa: E402
from deploy.local.credentials import kafka_client_kwargs  # noqa: E402

pytestmark = pytest.mark.e2e


def event_of(run: str, seq: int):  # noqa: ANN201
    data = TaskAssigned(
        case_id=f"case-{run}", task_id=f"{run}-{seq}", tracking_number="YN-20261203-00001",
        agency_code="yn-gov-office", dept_code="zrzy", dept_name="自然资源厅", description=f"seq {seq}",
        rule="keyword:征地", received_on=date(2026, 12, 3),
    )
    return new_event(data, source="/gongkai/test", subject=f"case-{run}",
                     event_id=deterministic_id("commit-test", run, str(seq)))


# ---------------------------------------------------------------- the child process
async def child(args: argparse.Namespace) -> None:
    from faststream.kafka import KafkaBroker

    from servicekit.consumer import subscribe
    from servicekit.kafka import KafkaSecurity
    from servicekit.settings import CommonSettings

    kw = kafka_client_kwargs()
    security = KafkaSecurity(kw["security_protocol"], kw.get("sasl_mechanism", "SCRAM-SHA-512"),
                             kw.get("sasl_plain_username", ""), kw.get("sasl_plain_password", ""))
    broker = KafkaBroker(args.bootstrap.split(","), security=security.faststream(), logger=None)
    out = open(args.out, "a", buffering=1, encoding="utf-8")  # noqa: SIM115 - one line per record

    async def handle(event) -> None:  # noqa: ANN001
        seq = int(event.data.task_id.rsplit("-", 1)[1])
        if seq == args.fail_at:
            raise RuntimeError("simulated failure")  # retried for ever (patience below)
        out.write(f"{seq}\n")

    common = CommonSettings(kafka_instance_id=args.instance, kafka_commit_interval_ms=args.interval_ms,
                            kafka_session_timeout_ms=10_000)
    subscribe(broker, group_id=args.group, registry=registry_of(TaskAssigned), handle=handle,
              topics=(args.topic,), max_attempts=10**6, patience_seconds=10**6, common=common)
    await broker.start()
    print("started", flush=True)
    await asyncio.Event().wait()


# ---------------------------------------------------------------- the test
def spawn(bootstrap: str, topic: str, group: str, out: Path, interval_ms: int, fail_at: int = -1) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, __file__, "--child", "--bootstrap", bootstrap, "--topic", topic, "--group", group,
         "--instance", f"{group}-child", "--out", str(out), "--interval-ms", str(interval_ms),
         "--fail-at", str(fail_at)],
        env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait(10)


def processed(out: Path) -> list[int]:
    return [int(x) for x in out.read_text().split()] if out.exists() else []


async def wait_for(probe, timeout: float, what: str):  # noqa: ANN001, ANN201
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")


async def test_commits_follow_processed_records_across_kills(stack, tmp_path: Path) -> None:  # noqa: ANN001
    bootstrap = stack.cfg.kafka_bootstrap
    run = uuid.uuid4().hex[:10]
    topic, group = f"gongkai.test.commits.{run}", f"test-commits-{run}"
    tp = TopicPartition(topic, 0)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap.split(","), **kafka_client_kwargs())
    await admin.start()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap.split(","), acks="all", **kafka_client_kwargs())
    await producer.start()
    procs: list[subprocess.Popen] = []

    async def publish(seqs: range) -> None:
        for seq in seqs:
            ev = event_of(run, seq)
            await producer.send_and_wait(topic, encode(ev), key=ev.subject.encode(), partition=0,
                                         headers=[(k, v.encode()) for k, v in kafka_headers(ev).items()])

    async def committed() -> int | None:
        offsets = await admin.list_consumer_group_offsets(group, partitions=[tp])
        meta = offsets.get(tp)
        return None if meta is None or meta.offset < 0 else meta.offset

    try:
        await admin.create_topics([NewTopic(topic, 1, 1)])
        await publish(range(0, 30))  # offsets 0..29 = seq 0..29

        # 1. Processed but not committed yet (the commit is 10 minutes away), then killed.
        out1 = tmp_path / "first.txt"
        procs.append(p1 := spawn(bootstrap, topic, group, out1, interval_ms=600_000))
        await wait_for(lambda: asyncio.sleep(0, len(processed(out1)) >= 30), 90, what="the first consumer to process 30")
        assert await committed() is None
        kill(p1)

        # 2. Restarted: everything is read again (nothing lost), then committed within the interval.
        out2 = tmp_path / "second.txt"
        procs.append(p2 := spawn(bootstrap, topic, group, out2, interval_ms=100))
        await wait_for(lambda: asyncio.sleep(0, len(processed(out2)) >= 30), 90, what="the redelivery of 30")
        assert processed(out2)[:30] == list(range(30))
        await wait_for(lambda: _equals(committed(), 30), 10, what="offset 30 committed")
        kill(p2)

        # 3. After the commit, a restarted consumer reads nothing of it again; a record whose
        #    handler keeps failing (seq 35) holds the committed offset at 35, while 31..34 before
        #    it are committed.
        out3 = tmp_path / "third.txt"
        procs.append(p3 := spawn(bootstrap, topic, group, out3, interval_ms=100, fail_at=35))
        await publish(range(30, 40))
        await wait_for(lambda: asyncio.sleep(0, processed(out3) == list(range(30, 35))), 60,
                       what="the third consumer to process 30..34 (and only those)")
        await wait_for(lambda: _equals(committed(), 35), 10, what="offset 35 committed")
        await asyncio.sleep(2)  # twenty commit intervals, the failing record retried meanwhile
        assert await committed() == 35
        assert processed(out3) == list(range(30, 35))
        kill(p3)

        # 4. Restarted without the failure: reading resumes at 35, nothing before it again.
        out4 = tmp_path / "fourth.txt"
        procs.append(p4 := spawn(bootstrap, topic, group, out4, interval_ms=100))
        await wait_for(lambda: asyncio.sleep(0, len(processed(out4)) >= 5), 60, what="the fourth consumer")
        await wait_for(lambda: _equals(committed(), 40), 10, what="offset 40 committed")
        assert processed(out4) == list(range(35, 40))
    finally:
        for p in procs:
            kill(p)
        await producer.stop()
        try:
            await admin.delete_topics([topic])
        except Exception:  # noqa: BLE001, S110 - a test topic left behind is harmless
            pass
        await admin.close()


async def _equals(value, expected: int) -> bool:  # noqa: ANN001
    return (await value) == expected


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", action="store_true")
    parser.add_argument("--bootstrap")
    parser.add_argument("--topic")
    parser.add_argument("--group")
    parser.add_argument("--instance")
    parser.add_argument("--out")
    parser.add_argument("--interval-ms", type=int, default=150)
    parser.add_argument("--fail-at", type=int, default=-1)
    asyncio.run(child(parser.parse_args()))
