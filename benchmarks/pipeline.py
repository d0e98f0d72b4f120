"""End-to-end benchmark of Gongkai on a private local stack, beside the bare broker it runs on.

    cd /work/main && PYTHONPATH=. .local/venv/bin/python benchmarks/pipeline.py --n 200 [--json out.json]

What it does, in one process:

1. Starts its OWN stack (Kafka broker, store, the five services) in a fresh temporary run dir on
   non-default ports below the ephemeral range (Kafka 31092/31093, store 31117, HTTP 31101-31105),
   plus an in-process SMTP sink (3525) and webhook sink (31109). Everything is torn down at the end, also on error/Ctrl-C.
2. Records the RSS (VmRSS from /proc/<pid>/status) of broker, store and services at rest.
3. Raw broker baseline: a bare aiokafka producer -> consumer on a fresh one-partition topic:
   sequential round trips (produce one, wait until consumed, repeat) and a pipelined
   produce+consume throughput. Producer settings as the services' (acks=all, idempotent, linger 0).
4. Pipeline: N applications POSTed to intake (bounded concurrency), each naming three departments
   explicitly. An auto-answer worker reads the three department inbox topics
   (gongkai.dept.<code>.tasks) with aiokafka and answers every task.assigned at once over the reply
   HTTP API (POST /tasks/{task_id}/answer; a 404 "task not yet known" -- the reply service has not
   consumed case.routed yet -- is retried). A watcher reads gongkai.replies.issued.
   Latencies are measured from the moment the intake POST is started (perf_counter, one process):
     (a) submit -> all three task.assigned records received by the inbox consumer
     (b) submit -> reply.issued received
   Throughput = N / (first submit start -> last reply.issued received).
5. RSS after the load, then tear down.

Where the CPU and the work go (same run):
- CPU: utime+stime (/proc/<pid>/stat, all threads, with the descendants of launcher scripts and
  services) of every service, the store, the broker, the IdP and this process, read at rest (over
  the settle period), just before the first submit, at the last reply.issued ("burst") and once the
  notices are delivered and the stack is quiet again ("total"); per application, net of the rest
  rate; the store's and broker's CPU by JVM thread (VM Thread = safepoints incl. Serial GC). The
  machine's own busy time (/proc/stat) says how much other processes took meanwhile.
- Kafka: records appended per topic (end offsets before/after, __consumer_offsets included: one
  record per partition per offset commit), and per service the events published/consumed (its
  /metrics).
- Store: per service the store commands by command and collection, counted by a PyMongo command
  listener that benchmarks/_probe/sitecustomize.py loads into the services (their PYTHONPATH;
  --no-store-probe to leave it out) and exposes at their /metrics.
- --profile DIR: py-spy (Python services) and Java Flight Recorder ('store', 'kafka') during the
  burst; benchmarks/profile_top.py summarises the files.

Consumers use explicit partition assignment (no consumer group) positioned at the end of each
topic before the first submission, so no rebalance delay is measured.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Awaitable, Callable

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from prometheus_client.parser import text_string_to_metric_families

from contracts import topics
from deploy.local.credentials import kafka_client_kwargs
from deploy.local.sinks import MailSink, WebhookSink
from deploy.local.stack import HOME, SERVICES, WEB, Stack, StackConfig

DEPTS = ("zrzy", "czt", "sthjt")
TASK_TYPE = "cn.gongkai.task.assigned.v1"
REPLY_TYPE = "cn.gongkai.reply.issued.v1"
RECEIVED_TYPE = "cn.gongkai.application.received.v1"
ANSWER_PATH = "HTTP POST /tasks/{task_id}/answer (reply service)"


class BenchError(RuntimeError):
    """A clear failure of the benchmark (something never arrived, a port is busy, ...)."""


# ------------------------------------------------------------------------------- helpers
def percentile(values: list[float], p: float) -> float:
    """Linear-interpolated percentile (p in 0..100) of a non-empty list."""
    if not values:
        return float("nan")
    s = sorted(values)
    if len(s) == 1:
        return s[0]
    k = (len(s) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def summary_ms(values_s: list[float]) -> dict[str, float]:
    ms = [v * 1000.0 for v in values_s]
    return {
        "count": len(ms),
        "min": min(ms) if ms else float("nan"),
        "p50": percentile(ms, 50),
        "p95": percentile(ms, 95),
        "p99": percentile(ms, 99),
        "max": max(ms) if ms else float("nan"),
        "mean": sum(ms) / len(ms) if ms else float("nan"),
    }


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.3)
        return s.connect_ex((host, port)) == 0


def proc_mem(pid: int | None) -> dict[str, int] | None:
    """VmRSS and VmHWM (peak RSS) of a pid, in kB; None if it is gone."""
    if not pid:
        return None
    out: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(("VmRSS:", "VmHWM:")):
                key, val = line.split(":", 1)
                out[key] = int(val.split()[0])
    except (OSError, ValueError):
        return None
    return out


def read_pidfile(path: Path) -> int | None:
    try:
        pid = int(path.read_text().strip())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


BENCH_PROC = "benchmark (this process, incl. sinks)"
BROKER_PROC = "kafka (broker)"
STORE_PROC = "store"
KEYCLOAK_PROC = "keycloak (IdP)"
JAVA_PROCS = (BROKER_PROC, STORE_PROC, KEYCLOAK_PROC)


def process_pids(stack: Stack) -> dict[str, int | None]:
    pids: dict[str, int | None] = {
        BROKER_PROC: read_pidfile(stack.cfg.run_dir / "kafka.pid"),
        STORE_PROC: read_pidfile(stack.cfg.run_dir / "store.pid"),
        KEYCLOAK_PROC: read_pidfile(stack.cfg.run_dir / "keycloak.pid"),
    }
    for svc in (*SERVICES, WEB):
        pids[svc] = stack.pid(svc)
    pids[BENCH_PROC] = os.getpid()
    return pids


# ------------------------------------------------------------------------------- CPU (/proc)
CLK_TCK = os.sysconf("SC_CLK_TCK")


def _stat_after_comm(path: str) -> tuple[str, list[str]] | None:
    """(comm, fields after the comm) of a /proc/.../stat file; field 3 (state) is index 0."""
    try:
        text = Path(path).read_text()
    except OSError:
        return None
    head, _, rest = text.rpartition(")")
    return head.partition("(")[2], rest.split()


def _ticks(fields: list[str], children: bool = True) -> int:
    # utime (14), stime (15), cutime (16), cstime (17): indices 11..14 after the comm.
    t = int(fields[11]) + int(fields[12])
    return t + int(fields[13]) + int(fields[14]) if children else t


def _children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            st = _stat_after_comm(f"/proc/{entry.name}/stat")
            if st is not None:
                kids.setdefault(int(st[1][1]), []).append(int(entry.name))
    return kids


def proc_cpu_seconds(pid: int | None, kids: dict[int, list[int]] | None, tree: bool = True) -> float | None:
    """utime+stime of a process (all its threads, plus reaped children), in seconds; with ``tree``
    also of its live descendants (a launcher script's java, a worker process)."""
    if not pid:
        return None
    st = _stat_after_comm(f"/proc/{pid}/stat")
    if st is None:
        return None
    ticks = _ticks(st[1])
    if tree and kids is not None:
        todo = list(kids.get(pid, []))
        while todo:
            child = todo.pop()
            cst = _stat_after_comm(f"/proc/{child}/stat")
            if cst is not None:
                ticks += _ticks(cst[1])
            todo.extend(kids.get(child, []))
    return ticks / CLK_TCK


def java_thread_seconds(pid: int | None) -> dict[str, float]:
    """CPU seconds of a (Java) process's threads, grouped by thread name without its numbers
    (``nioEventLoopGroup-3-1`` -> ``nioEventLoopGroup``; Linux truncates names to 15 chars)."""
    out: dict[str, float] = {}
    if not pid:
        return out
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        st = _stat_after_comm(f"/proc/{pid}/task/{tid}/stat")
        if st is None:
            continue
        name = re.sub(r"[-_#\s]*\d+([-_.]\d+)*$", "", st[0]) or st[0]
        out[name] = out.get(name, 0.0) + _ticks(st[1], children=False) / CLK_TCK
    return out


def system_cpu() -> dict[str, float]:
    """Machine-wide busy and total CPU seconds so far (first line of /proc/stat)."""
    vals = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = vals[3] + (vals[4] if len(vals) > 4 else 0)  # idle + iowait
    total = sum(vals[:8])  # guest time is already in user/nice
    return {"busy": (total - idle) / CLK_TCK, "total": total / CLK_TCK}


def cpu_snapshot(stack: Stack) -> dict[str, Any]:
    kids = _children_map()
    procs = {}
    for name, pid in process_pids(stack).items():
        # The benchmark process's children are the services: count only itself.
        procs[name] = {"pid": pid, "cpu_s": proc_cpu_seconds(pid, kids, tree=name != BENCH_PROC)}
    threads = {name: java_thread_seconds(procs[name]["pid"]) for name in JAVA_PROCS}
    return {"t": time.perf_counter(), "procs": procs, "java_threads": threads, "system": system_cpu(),
            "loadavg": " ".join(f"{x:.2f}" for x in os.getloadavg())}


def cpu_delta(before: dict[str, Any], after: dict[str, Any], n: int | None,
              idle: dict[str, float] | None = None) -> dict[str, Any]:
    """CPU used between two snapshots, per process (total, per application, share of one core)."""
    wall = after["t"] - before["t"]
    rows: dict[str, dict[str, Any]] = {}
    for name, b in before["procs"].items():
        a = after["procs"].get(name, {})
        used = None
        if b.get("cpu_s") is not None and a.get("cpu_s") is not None and a.get("pid") == b.get("pid"):
            used = a["cpu_s"] - b["cpu_s"]
        row: dict[str, Any] = {"pid": b.get("pid"), "cpu_s": used,
                               "core_pct": 100.0 * used / wall if used is not None and wall > 0 else None}
        if n and used is not None:
            row["cpu_ms_per_app"] = 1000.0 * used / n
            if idle and idle.get(name) is not None:
                row["idle_cpu_s_in_window"] = idle[name] * wall
                row["cpu_ms_per_app_net_of_idle"] = 1000.0 * max(0.0, used - idle[name] * wall) / n
        rows[name] = row
    threads = {}
    for name in JAVA_PROCS:
        tb, ta = before["java_threads"].get(name, {}), after["java_threads"].get(name, {})
        d = {k: v - tb.get(k, 0.0) for k, v in ta.items()}
        threads[name] = dict(sorted(((k, v) for k, v in d.items() if v > 0), key=lambda kv: -kv[1]))
    sys_busy = after["system"]["busy"] - before["system"]["busy"]
    sys_total = after["system"]["total"] - before["system"]["total"]
    ours = sum(r["cpu_s"] for r in rows.values() if r["cpu_s"] is not None)
    return {"wall_s": wall, "applications": n, "processes": rows, "java_threads": threads,
            "ours_cpu_s": ours, "machine_busy_cpu_s": sys_busy, "machine_total_cpu_s": sys_total,
            "machine_busy_pct": 100.0 * sys_busy / sys_total if sys_total else None,
            "other_processes_cpu_s": sys_busy - ours,
            "loadavg_before": before["loadavg"], "loadavg_after": after["loadavg"]}


# ------------------------------------------------------------------------------- /metrics, offsets
async def scrape_metrics(cfg: StackConfig) -> dict[str, dict[str, float]]:
    """Per service: the counters of its /metrics that say how many messages and store commands it
    handled (label sets flattened to ``name|k=v,...``)."""
    wanted = ("gongkai_events_published_total", "gongkai_events_consumed_total", "gongkai_dead_letters_total",
              "gongkai_bench_store_commands_total", "gongkai_bench_store_command_seconds_total")
    out: dict[str, dict[str, float]] = {}
    async with httpx.AsyncClient(timeout=10) as client:
        for svc in (*SERVICES, WEB):
            vals: dict[str, float] = {}
            try:
                r = await client.get(cfg.url(svc) + "/metrics")
                r.raise_for_status()
            except httpx.HTTPError:
                out[svc] = vals
                continue
            for fam in text_string_to_metric_families(r.text):
                for sample in fam.samples:
                    if sample.name in wanted:
                        labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
                        vals[f"{sample.name}|{labels}"] = sample.value
            out[svc] = vals
    return out


def metrics_delta(before: dict[str, dict[str, float]], after: dict[str, dict[str, float]]) -> dict[str, Any]:
    per_service: dict[str, Any] = {}
    for svc, a in after.items():
        b = before.get(svc, {})
        d = {k: v - b.get(k, 0.0) for k, v in a.items() if v - b.get(k, 0.0) > 0}
        cmds: dict[str, float] = {}
        secs: dict[str, float] = {}
        published: dict[str, float] = {}
        consumed: dict[str, float] = {}
        for key, v in d.items():
            name, _, lab = key.partition("|")
            labels = dict(item.split("=", 1) for item in lab.split(",") if item)
            if name == "gongkai_bench_store_commands_total":
                k = f"{labels.get('command')} {labels.get('collection')}"
                if labels.get("outcome") != "ok":
                    k += f" ({labels.get('outcome')})"
                cmds[k] = cmds.get(k, 0) + v
            elif name == "gongkai_bench_store_command_seconds_total":
                k = f"{labels.get('command')} {labels.get('collection')}"
                secs[k] = secs.get(k, 0) + v
            elif name == "gongkai_events_published_total":
                published[labels.get("topic", "?")] = v
            elif name == "gongkai_events_consumed_total":
                k = f"{labels.get('topic', '?')} ({labels.get('outcome', '?')})"
                consumed[k] = v
        per_service[svc] = {"store_commands": dict(sorted(cmds.items(), key=lambda kv: -kv[1])),
                            "store_wait_s": secs, "events_published": published, "events_consumed": consumed}
    return per_service


async def topic_end_offsets(bootstrap: str) -> dict[str, int]:
    """Sum of the end offsets of every topic's partitions (internal topics included: the offset
    commits of the consumer groups are __consumer_offsets records)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                exclude_internal_topics=False, **kafka_client_kwargs())
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()  # noqa: SLF001 - fresh topic list
        names = set(await consumer.topics()) | {"__consumer_offsets", "__transaction_state"}
        tps = [TopicPartition(t, p) for t in sorted(names) if not t.startswith("bench.raw.")
               for p in sorted(consumer.partitions_for_topic(t) or ())]
        ends = await consumer.end_offsets(tps) if tps else {}
    finally:
        await consumer.stop()
    out: dict[str, int] = {}
    for tp, off in ends.items():
        out[tp.topic] = out.get(tp.topic, 0) + off
    return out


def memory_snapshot(stack: Stack) -> dict[str, dict[str, Any]]:
    snap = {}
    for name, pid in process_pids(stack).items():
        snap[name] = {"pid": pid, **(proc_mem(pid) or {})}
    return snap


ONE_APPLICANT_ID = "11010519491231002X"
# How often a user's token is asked of deploy.local.idp, which hands out its cached one until less
# than a minute of it is left (the realm's tokens live 15 minutes; a 10,000 burst runs longer).
TOKEN_REFRESH_SECONDS = 30
APPLICANT_ADDRESS = re.compile(r"bench\d+@example\.com")  # application_body's contact e-mail


def resident_id(k: int) -> str:
    """The k-th of distinct valid citizen identity numbers (GB 11643-1999: a birth date, a
    sequence number, the ISO 7064 MOD 11-2 check digit), for applicants of their own."""
    born = date(1960, 1, 1) + timedelta(days=k // 999)
    body = f"110105{born:%Y%m%d}{k % 999 + 1:03d}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]


def application_body(i: int, run_id: str, webhook_port: int, applicants: int = 1) -> dict[str, Any]:
    """Application #i. ``applicants`` = 1: every one from the same person (a mass applicant, ranked
    in the month: Art. 42's fees); more: application i is from applicant i mod ``applicants``."""
    id_number = ONE_APPLICANT_ID if applicants <= 1 else resident_id(i % applicants)
    return {
        "applicant": {"name": f"压测申请人{i}", "id_number": id_number},
        "contact": {
            "email": f"bench{i}@example.com",
            "phone": "13800138000",
            "webhook_url": f"http://127.0.0.1:{webhook_port}/hooks/bench",
        },
        "description": f"[bench {run_id} #{i}] 请公开某村征地补偿标准、2025年预算执行情况以及某河段的水质环境监测数据",
        "target_departments": list(DEPTS),
    }


# ------------------------------------------------------------------------------- raw broker
async def raw_broker_bench(bootstrap: str, roundtrips: int, pipelined: int, size: int,
                           timeout: float) -> dict[str, Any]:
    topic = f"bench.raw.{uuid.uuid4().hex[:12]}"
    # As the local stack's admin (the raw bench creates and deletes its own topic).
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=30000, **kafka_client_kwargs())
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)], timeout_ms=30000)
    finally:
        await admin.close()

    tp = TopicPartition(topic, 0)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=0,
                                **kafka_client_kwargs())
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                auto_offset_reset="earliest", **kafka_client_kwargs())
    await producer.start()
    await consumer.start()
    try:
        # The new topic's metadata may take a moment to reach the clients.
        deadline = time.monotonic() + 30
        while True:
            parts = await producer.partitions_for(topic)
            if parts:
                break
            if time.monotonic() > deadline:
                raise BenchError(f"raw topic {topic} has no partitions after 30 s")
            await asyncio.sleep(0.1)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        await consumer.position(tp)

        payload = b"x" * size

        async def one_roundtrip(i: int) -> float:
            t0 = time.perf_counter()
            await producer.send_and_wait(topic, payload, key=str(i).encode())
            msg = await asyncio.wait_for(consumer.getone(tp), timeout=timeout)
            t1 = time.perf_counter()
            if msg.key != str(i).encode():
                raise BenchError(f"raw round trip: expected key {i}, got {msg.key!r}")
            return t1 - t0

        warmup = 20
        for i in range(warmup):
            await one_roundtrip(-1 - i)
        rts = [await one_roundtrip(i) for i in range(roundtrips)]

        # Pipelined: produce `pipelined` messages back to back while consuming concurrently.
        received = 0
        done = asyncio.Event()

        async def drain() -> None:
            nonlocal received
            while received < pipelined:
                batch = await consumer.getmany(tp, timeout_ms=500, max_records=5000)
                received += sum(len(v) for v in batch.values())
            done.set()

        t0 = time.perf_counter()
        drainer = asyncio.create_task(drain())
        futs = []
        for i in range(pipelined):
            futs.append(await producer.send(topic, payload))
        await asyncio.wait_for(asyncio.gather(*futs), timeout=timeout)
        t_acked = time.perf_counter()
        try:
            await asyncio.wait_for(done.wait(), timeout=timeout)
        except TimeoutError:
            drainer.cancel()
            raise BenchError(f"raw pipelined: only {received}/{pipelined} consumed after {timeout:.0f} s") from None
        t_consumed = time.perf_counter()
        await drainer
        return {
            "topic": topic,
            "payload_bytes": size,
            "producer": "acks=all, enable_idempotence=True, linger_ms=0 (as the services)",
            "roundtrip_warmup": warmup,
            "roundtrip_ms": summary_ms(rts),
            "pipelined_messages": pipelined,
            "pipelined_produce_acked_msgs_per_s": pipelined / (t_acked - t0),
            "pipelined_produce_consume_msgs_per_s": pipelined / (t_consumed - t0),
            "pipelined_seconds": t_consumed - t0,
        }
    finally:
        with contextlib.suppress(Exception):
            await consumer.stop()
        with contextlib.suppress(Exception):
            await producer.stop()
        with contextlib.suppress(Exception):
            admin2 = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **kafka_client_kwargs())
            await admin2.start()
            try:
                await admin2.delete_topics([topic])
            finally:
                await admin2.close()


# ------------------------------------------------------------------------------- pipeline
@dataclass
class PipelineState:
    n: int
    submit_start: dict[str, float] = field(default_factory=dict)  # case_id -> perf_counter at POST start
    submit_done: dict[str, float] = field(default_factory=dict)  # case_id -> HTTP response received
    task_seen: dict[str, dict[str, float]] = field(default_factory=dict)  # case_id -> dept -> arrival
    answer_done: dict[str, dict[str, float]] = field(default_factory=dict)  # case_id -> dept -> 201 received
    reply_seen: dict[str, float] = field(default_factory=dict)  # case_id -> reply.issued arrival
    reply_parts: dict[str, int] = field(default_factory=dict)
    # Wall-clock marks (epoch seconds) from the records themselves, for the per-hop breakdown:
    # "created" = the event's own time (set when the service built it), "published" = the Kafka
    # record timestamp (CreateTime, set by the service's producer), "seen" = arrival here.
    hops: dict[str, dict[str, float]] = field(default_factory=dict)  # case_id -> mark -> epoch s
    answer_404_retries: int = 0
    answers_already_recorded: int = 0
    duplicate_tasks: int = 0
    reply_records: int = 0  # reply.issued records of this run's cases (more than the cases: duplicates)
    errors: list[str] = field(default_factory=list)
    progress: asyncio.Event = field(default_factory=asyncio.Event)

    def all_tasks_seen(self, case_id: str) -> bool:
        return len(self.task_seen.get(case_id, {})) == len(DEPTS)

    def mark(self, case_id: str, name: str, value: float, keep: str = "first") -> None:
        h = self.hops.setdefault(case_id, {})
        if name not in h:
            h[name] = value
        elif keep == "max":
            h[name] = max(h[name], value)


def event_epoch(ev: dict[str, Any]) -> float:
    return datetime.fromisoformat(ev["time"]).timestamp()


async def assigned_consumer(bootstrap: str, topic_names: list[str], timeout: float) -> AIOKafkaConsumer:
    """A group-less consumer assigned to every partition of the topics, positioned at their end."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                auto_offset_reset="latest", **kafka_client_kwargs())
    await consumer.start()
    deadline = time.monotonic() + timeout
    tps: list[TopicPartition] = []
    for name in topic_names:
        while True:
            parts = consumer.partitions_for_topic(name)
            if parts:
                break
            if time.monotonic() > deadline:
                await consumer.stop()
                raise BenchError(f"topic {name} does not exist on the broker after {timeout:.0f} s")
            await consumer._client.force_metadata_update()  # noqa: SLF001 - only way to refresh
            await asyncio.sleep(0.2)
        tps += [TopicPartition(name, p) for p in sorted(parts)]
    consumer.assign(tps)
    await consumer.seek_to_end(*tps)
    for tp in tps:  # resolve the positions now, before anything is produced
        await consumer.position(tp)
    return consumer


async def run_pipeline(cfg: StackConfig, n: int, concurrency: int, answer_concurrency: int,
                       timeout: float, stall_timeout: float, run_id: str,
                       at_start: Callable[[], Awaitable[None]] | None = None,
                       at_done: Callable[[], Awaitable[None]] | None = None,
                       answer_retry_seconds: float = 300, rate: float | None = None,
                       applicants: int = 1) -> dict[str, Any]:
    """``at_start`` runs just before the first submission, ``at_done`` as soon as the last
    reply.issued has arrived (the CPU/metrics/offset snapshots). ``rate``: an offered load,
    submission i starts no earlier than i / rate seconds after the first (None: as fast as the
    submit concurrency allows, a burst)."""
    st = PipelineState(n=n)
    inbox_topics = [topics.department_inbox(d).name for d in DEPTS]
    inbox = await assigned_consumer(cfg.kafka_bootstrap, inbox_topics, 60)
    replies = await assigned_consumer(cfg.kafka_bootstrap,
                                      [topics.REPLIES_ISSUED.name, topics.APPLICATIONS_RECEIVED.name], 60)

    limits = httpx.Limits(max_connections=max(concurrency, answer_concurrency) + 4)
    intake = httpx.AsyncClient(base_url=cfg.url("intake"), timeout=30, limits=limits)
    reply_api = httpx.AsyncClient(base_url=cfg.url("reply"), timeout=30, limits=limits)
    answer_sem = asyncio.Semaphore(answer_concurrency)
    background: set[asyncio.Task] = set()
    fatal: asyncio.Future = asyncio.get_running_loop().create_future()

    def fail(msg: str) -> None:
        st.errors.append(msg)
        if not fatal.done():
            fatal.set_exception(BenchError(msg))

    # Officers' tokens from the local identity provider, one per user, asked again every
    # TOKEN_REFRESH_SECONDS: so none is used with less than half a minute left.
    officer_tokens: dict[str, tuple[float, dict[str, str]]] = {}

    async def auth(who: str) -> dict[str, str]:
        held = officer_tokens.get(who)
        if held is None or time.monotonic() - held[0] > TOKEN_REFRESH_SECONDS:
            token = await asyncio.to_thread(Stack(cfg).token, who)
            held = officer_tokens[who] = (time.monotonic(), {"Authorization": f"Bearer {token}"})
        return held[1]

    for dept in DEPTS:
        for who in (f"{dept}-officer", f"{dept}-reviewer"):
            await auth(who)

    async def answer(case_id: str, task_id: str, dept: str) -> None:
        # Answered by the department's officer, then signed off (保密审查) by its reviewer at once.
        body = {"dept_code": dept, "reply_type": "disclosed", "text": f"经检索，{dept} 予以公开（压测自动答复）。"}
        deadline = time.monotonic() + answer_retry_seconds
        delay = 0.02
        async with answer_sem:
            while True:
                try:
                    r = await reply_api.post(f"/tasks/{task_id}/answer", json=body,
                                             headers=await auth(f"{dept}-officer"))
                except httpx.HTTPError as exc:
                    fail(f"answer {task_id} ({dept}) failed: {exc!r}")
                    return
                if r.status_code in (200, 201):
                    if r.status_code == 200:
                        st.answers_already_recorded += 1
                    signed = await reply_api.post(f"/tasks/{task_id}/review", json={},
                                                  headers=await auth(f"{dept}-reviewer"))
                    if signed.status_code != 200:
                        fail(f"review {task_id} ({dept}): HTTP {signed.status_code} {signed.text[:300]}")
                        return
                    st.answer_done.setdefault(case_id, {})[dept] = time.perf_counter()
                    return
                if r.status_code == 404 and time.monotonic() < deadline:
                    st.answer_404_retries += 1  # reply service has not opened the case yet
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 0.5)
                    continue
                fail(f"answer {task_id} ({dept}): HTTP {r.status_code} {r.text[:300]}")
                return

    async def inbox_loop() -> None:
        while True:
            batches = await inbox.getmany(timeout_ms=200)
            now = time.perf_counter()
            wall = time.time()
            for recs in batches.values():
                for rec in recs:
                    ev = json.loads(rec.value)
                    if ev.get("type") != TASK_TYPE:
                        continue
                    d = ev["data"]
                    seen = st.task_seen.setdefault(d["case_id"], {})
                    if d["dept_code"] in seen:
                        st.duplicate_tasks += 1
                        continue
                    seen[d["dept_code"]] = now
                    st.mark(d["case_id"], "task_created", event_epoch(ev))
                    st.mark(d["case_id"], "task_published_last", rec.timestamp / 1000, keep="max")
                    st.mark(d["case_id"], "task_seen_last", wall, keep="max")
                    t = asyncio.create_task(answer(d["case_id"], d["task_id"], d["dept_code"]))
                    background.add(t)
                    t.add_done_callback(background.discard)

    async def reply_loop() -> None:
        while True:
            batches = await replies.getmany(timeout_ms=200)
            now = time.perf_counter()
            wall = time.time()
            for recs in batches.values():
                for rec in recs:
                    ev = json.loads(rec.value)
                    if ev.get("type") == RECEIVED_TYPE:
                        st.mark(ev["data"]["case_id"], "received_created", event_epoch(ev))
                        st.mark(ev["data"]["case_id"], "received_published", rec.timestamp / 1000)
                        continue
                    if ev.get("type") != REPLY_TYPE:
                        continue
                    cid = ev["data"]["case_id"]
                    if cid in st.submit_start:
                        st.reply_records += 1
                    st.mark(cid, "reply_created", event_epoch(ev))
                    st.mark(cid, "reply_published", rec.timestamp / 1000)
                    st.mark(cid, "reply_seen", wall)
                    st.reply_seen.setdefault(cid, now)
                    st.reply_parts[cid] = len(ev["data"]["parts"])
                    st.progress.set()

    sub_sem = asyncio.Semaphore(concurrency)

    async def submit(i: int) -> None:
        body = application_body(i, run_id, cfg.webhook_port, applicants)
        if rate:
            await asyncio.sleep(max(0.0, paced_from + i / rate - time.perf_counter()))
        async with sub_sem:
            t0 = time.perf_counter()
            try:
                r = await intake.post("/applications", json=body, headers={"Idempotency-Key": f"bench-{run_id}-{i}"})
            except httpx.HTTPError as exc:
                fail(f"submit #{i} failed: {exc!r}")
                return
            t1 = time.perf_counter()
            if r.status_code != 201:
                fail(f"submit #{i}: HTTP {r.status_code} {r.text[:300]}")
                return
            cid = r.json()["case_id"]
            st.submit_start[cid] = t0
            st.submit_done[cid] = t1

    loops = [asyncio.create_task(inbox_loop(), name="inbox"), asyncio.create_task(reply_loop(), name="replies")]
    for lp in loops:
        lp.add_done_callback(lambda t: t.cancelled() or t.exception() is None
                             or fail(f"consumer loop {t.get_name()} died: {t.exception()!r}"))

    def counts() -> str:
        mine = set(st.submit_start)
        return (f"submitted {len(mine)}/{n}, all 3 tasks seen for {sum(st.all_tasks_seen(c) for c in mine)}, "
                f"answers recorded {sum(len(st.answer_done.get(c, {})) for c in mine)}/{3 * n}, "
                f"replies issued {len(mine & set(st.reply_seen))}/{n}")

    try:
        if at_start is not None:
            await at_start()
        paced_from = time.perf_counter()  # submit()'s clock for a paced load (``rate``)
        submitter = asyncio.gather(*(submit(i) for i in range(n)))
        overall_deadline = time.monotonic() + timeout
        last_progress_count = -1
        last_progress_at = time.monotonic()
        while True:
            if fatal.done():
                fatal.result()
            done_cases = set(st.submit_start) & set(st.reply_seen)
            if submitter.done() and len(done_cases) == n:
                if at_done is not None:
                    await at_done()
                break
            progress_count = len(st.submit_start) + len(st.reply_seen) + sum(len(v) for v in st.task_seen.values())
            if progress_count != last_progress_count:
                last_progress_count, last_progress_at = progress_count, time.monotonic()
            now = time.monotonic()
            if now > overall_deadline:
                raise BenchError(f"pipeline not complete after {timeout:.0f} s: {counts()}")
            if now - last_progress_at > stall_timeout:
                missing = [c for c in st.submit_start if c not in st.reply_seen][:5]
                raise BenchError(f"pipeline stalled (no progress for {stall_timeout:.0f} s): {counts()}; "
                                 f"e.g. no reply.issued for cases {missing}")
            st.progress.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(st.progress.wait()), timeout=0.5)
        await submitter
        t_end = max(st.reply_seen[c] for c in st.submit_start)
        t_first = min(st.submit_start.values())
        t_last_submit_done = max(st.submit_done.values())
    finally:
        for lp in loops:
            lp.cancel()
        for t in list(background):
            t.cancel()
        with contextlib.suppress(BaseException):
            await asyncio.gather(*loops, *background, return_exceptions=True)
        if "submitter" in locals() and not submitter.done():
            submitter.cancel()
            with contextlib.suppress(BaseException):
                await submitter
        await intake.aclose()
        await reply_api.aclose()
        await inbox.stop()
        await replies.stop()

    cases = list(st.submit_start)
    bad_parts = [c for c in cases if st.reply_parts.get(c) != len(DEPTS)]
    if bad_parts:
        raise BenchError(f"{len(bad_parts)} replies do not have {len(DEPTS)} parts, e.g. {bad_parts[:3]}")
    lat_submit_http = [st.submit_done[c] - st.submit_start[c] for c in cases]
    lat_tasks = [max(st.task_seen[c].values()) - st.submit_start[c] for c in cases]
    lat_first_task = [min(st.task_seen[c].values()) - st.submit_start[c] for c in cases]
    lat_reply = [st.reply_seen[c] - st.submit_start[c] for c in cases]
    lat_answer_to_reply = [st.reply_seen[c] - max(st.answer_done[c].values()) for c in cases]
    lat_tasks_to_reply = [st.reply_seen[c] - max(st.task_seen[c].values()) for c in cases]
    wall = t_end - t_first

    def hop(a: str, b: str) -> dict[str, float]:
        vals = [st.hops[c][b] - st.hops[c][a] for c in cases if a in st.hops.get(c, {}) and b in st.hops.get(c, {})]
        return summary_ms(vals)

    hops = {
        "intake: request accepted -> application.received published (store writes + outbox relay)":
            hop("received_created", "received_published"),
        "routing: application.received published -> tasks created (consume + route)":
            hop("received_published", "task_created"),
        "routing: tasks created -> last task.assigned published (store insert + outbox relay)":
            hop("task_created", "task_published_last"),
        "broker: last task.assigned published -> seen by inbox consumer":
            hop("task_published_last", "task_seen_last"),
        "reply: last task seen -> reply.issued created (3 answer POSTs, incl. 404 retries)":
            hop("task_seen_last", "reply_created"),
        "reply: reply.issued created -> published (store write + outbox relay)":
            hop("reply_created", "reply_published"),
        "broker: reply.issued published -> seen by watcher":
            hop("reply_published", "reply_seen"),
    }
    return {
        "applications": n,
        "departments_per_application": list(DEPTS),
        "submit_concurrency": concurrency,
        "offered_rate_apps_per_s": rate,
        "applicants": applicants,
        "answer_concurrency": answer_concurrency,
        "answer_path": ANSWER_PATH,
        "wall_seconds_first_submit_to_last_reply": wall,
        "throughput_apps_per_s": n / wall,
        "intake_accept_rate_apps_per_s": n / (t_last_submit_done - t_first),
        "latency_ms": {
            "intake_http_201": summary_ms(lat_submit_http),
            "submit_to_first_task": summary_ms(lat_first_task),
            "a_submit_to_all_3_tasks": summary_ms(lat_tasks),
            "all_tasks_to_reply": summary_ms(lat_tasks_to_reply),
            "last_answer_201_to_reply": summary_ms(lat_answer_to_reply),
            "b_submit_to_reply_issued": summary_ms(lat_reply),
        },
        "hop_breakdown_ms": hops,
        "answer_404_retries": st.answer_404_retries,
        "answers_already_recorded": st.answers_already_recorded,
        "duplicate_task_records": st.duplicate_tasks,
        "duplicate_reply_records": st.reply_records - len(set(st.reply_seen) & set(st.submit_start)),
    }


def applicants_mails(mail: MailSink) -> list[dict[str, Any]]:
    """The mails to the benchmark's applicants (bench<i>@example.com), not the officers' (e.g. the
    OGI office's daily "calendar missing" warning when deadlines run into an unpublished year)."""
    return [m for m in mail.messages if any(APPLICANT_ADDRESS.fullmatch(to) for to in m["to"])]


async def wait_notices(mail: MailSink, hooks: WebhookSink, expected: int, timeout: float) -> dict[str, Any]:
    """Wait (bounded) until the sinks have the expected notices to the applicants; then count them,
    and the distinct ones: a notice sent twice arrives with the same Message-ID (mail) or
    webhook-id (webhook)."""
    t0 = time.perf_counter()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(applicants_mails(mail)) >= expected and len(hooks.requests) >= expected:
            break
        await asyncio.sleep(0.25)
    mails, hooks_seen = applicants_mails(mail), hooks.requests
    return {"expected_each": expected, "mails": len(mails), "webhooks": len(hooks_seen),
            "distinct_mails": len({m["message_id"] for m in mails}),
            "distinct_webhooks": len({h["signature_headers"].get("webhook-id") or h["idempotency_key"]
                                      for h in hooks_seen}),
            "officer_mails": len(mail.messages) - len(mails),
            "waited_seconds_after_last_reply": time.perf_counter() - t0}


# ------------------------------------------------------------------------------- report
def fmt_lat(name: str, s: dict[str, float]) -> str:
    return (f"  {name:38} p50 {s['p50']:8.1f}  p95 {s['p95']:8.1f}  p99 {s['p99']:8.1f}  "
            f"max {s['max']:8.1f}  (min {s['min']:.1f}, mean {s['mean']:.1f}, n={s['count']})")


def fmt_mem(before: dict[str, dict], after: dict[str, dict]) -> list[str]:
    lines = [f"  {'process':40} {'pid':>7} {'RSS at rest':>12} {'RSS after':>12} {'delta':>9} {'peak (HWM)':>11}"]
    tot_b = tot_a = 0
    for name in before:
        b, a = before[name], after.get(name, {})
        rb, ra = b.get("VmRSS"), a.get("VmRSS")
        tot_b += rb or 0
        tot_a += ra or 0
        def mib(kb: int | None) -> str:
            return f"{kb / 1024:8.1f} MiB" if kb is not None else "         gone"
        delta = f"{(ra - rb) / 1024:+7.1f}M" if rb is not None and ra is not None else "      ?"
        lines.append(f"  {name:40} {b.get('pid') or '-':>7} {mib(rb)} {mib(ra)} {delta:>9} {mib(a.get('VmHWM'))}")
    lines.append(f"  {'total':40} {'':>7} {tot_b / 1024:8.1f} MiB {tot_a / 1024:8.1f} MiB {(tot_a - tot_b) / 1024:+7.1f}M")
    return lines


def _f(v: float | None, spec: str) -> str:
    return format(v, spec) if v is not None else "?"


def fmt_cpu(cpu: dict[str, Any], n: int) -> list[str]:
    burst, total, rest = cpu["burst"], cpu["total"], cpu["at_rest"]
    lines = [
        "CPU (utime+stime from /proc/<pid>/stat, all threads; Java/launcher processes incl. descendants):",
        f"  burst = first submit -> last reply.issued: {burst['wall_s']:.1f} s; total = first submit -> last notice "
        f"delivered and the stack quiet again: {total['wall_s']:.1f} s (waited {cpu['quiet_wait_s']:.1f} s for quiet)",
        f"  {'process':40} {'pid':>7} {'rest ms/s':>9} {'burst s':>8} {'%core':>6} {'total s':>8} "
        f"{'ms/app':>7} {'net ms/app':>10} {'share':>6}",
    ]
    ours = total["ours_cpu_s"] or 1e-9
    rows = sorted(total["processes"].items(), key=lambda kv: -(kv[1]["cpu_s"] or 0))
    for name, r in rows:
        b = burst["processes"].get(name, {})
        rate = rest["rate_core_s_per_s"].get(name)
        lines.append(
            f"  {name:40} {r['pid'] or '-':>7} {_f(rate * 1000 if rate is not None else None, '9.1f')} "
            f"{_f(b.get('cpu_s'), '8.2f')} {_f(b.get('core_pct'), '5.0f')}% {_f(r['cpu_s'], '8.2f')} "
            f"{_f(r.get('cpu_ms_per_app'), '7.1f')} {_f(r.get('cpu_ms_per_app_net_of_idle'), '10.1f')} "
            f"{_f(100 * (r['cpu_s'] or 0) / ours, '5.1f')}%")
    lines.append(f"  {'sum of these processes':40} {'':>7} {'':>9} {burst['ours_cpu_s']:8.2f} "
                 f"{100 * burst['ours_cpu_s'] / burst['wall_s']:5.0f}% {total['ours_cpu_s']:8.2f} "
                 f"{1000 * total['ours_cpu_s'] / n:7.1f}")
    lines.append("  (rest ms/s = CPU ms per second while idle, measured over the settle period; net ms/app = "
                 "total minus that idle rate x window; %core = burst CPU / burst wall; share = of the total)")
    lines.append(f"  machine during the burst: {burst['machine_busy_cpu_s']:.1f} of {burst['machine_total_cpu_s']:.1f} "
                 f"core-s busy ({_f(burst['machine_busy_pct'], '.0f')}%), of which other processes "
                 f"{burst['other_processes_cpu_s']:.1f} core-s; load avg {burst['loadavg_before']} -> "
                 f"{burst['loadavg_after']}")
    for name, threads in total["java_threads"].items():
        tot = sum(threads.values())
        if tot <= 0:
            continue
        top = ", ".join(f"{k} {v:.2f}" for k, v in list(threads.items())[:7])
        lines.append(f"  {name} threads (total window, s): {top}")
    return lines


def fmt_counts(counts: dict[str, Any], n: int) -> list[str]:
    lines = ["KAFKA RECORDS appended per topic during the window (end-offset sums; incl. transaction markers "
             "and consumer-offset commits):"]
    recs = counts["topic_records"]
    tot = sum(recs.values())
    lines.append(f"  total {tot} records = {tot / n:.1f} per application")
    at_rest = counts.get("topic_records_per_s_at_rest", {})
    for t, v in recs.items():
        idle = f"  (at rest {at_rest[t]:.1f}/s)" if t in at_rest else ""
        lines.append(f"    {t:52} {v:8d}  {v / n:6.2f}/app{idle}")
    for t, v in at_rest.items():
        if t not in recs:
            lines.append(f"    {t:52} {'':8}  {'':6}      (at rest {v:.1f}/s)")
    lines.append("EVENTS and STORE COMMANDS per service (from /metrics; store commands by the benchmark probe, "
                 "per application):")
    total_cmds = 0.0
    for svc, c in counts["per_service"].items():
        cmds = c["store_commands"]
        ncmd = sum(cmds.values())
        total_cmds += ncmd
        wait = sum(c["store_wait_s"].values())
        pub = sum(c["events_published"].values())
        con = sum(c["events_consumed"].values())
        lines.append(f"  {svc:8} published {pub / n:5.2f}/app, consumed {con / n:5.2f}/app, store commands "
                     f"{ncmd / n:6.2f}/app (driver wait {1000 * wait / max(ncmd, 1):.2f} ms avg, "
                     f"{1000 * wait / n:.1f} ms/app)")
        for k, v in list(cmds.items())[:12]:
            lines.append(f"      {k:60} {v / n:6.2f}/app")
        if len(cmds) > 12:
            rest = sum(list(cmds.values())[12:])
            lines.append(f"      {'(' + str(len(cmds) - 12) + ' more kinds)':60} {rest / n:6.2f}/app")
    lines.append(f"  all services: {total_cmds / n:.1f} store commands per application")
    return lines


def report(res: dict[str, Any]) -> str:
    p = res["pipeline"]
    raw = res["raw_broker"]
    L = p["latency_ms"]
    out = []
    out.append("=" * 100)
    out.append("Gongkai pipeline benchmark")
    out.append("=" * 100)
    m = res["machine"]
    out.append(f"machine: {m['cpus']} CPUs, load avg before {m['loadavg_before']}, python {m['python']}")
    out.append(f"private stack: kafka {res['stack']['kafka']}, store {res['stack']['store']}, "
               f"http {res['stack']['http']}, run dir {res['stack']['run_dir']}")
    out.append(f"stack start-up: {res['stack']['startup_seconds']:.1f} s; extra service env: {res['stack']['extra_env'] or 'none'}")
    out.append("")
    out.append(f"PIPELINE: {p['applications']} applications x {len(p['departments_per_application'])} departments "
               f"({', '.join(p['departments_per_application'])}), submit concurrency {p['submit_concurrency']}, "
               f"answer concurrency {p['answer_concurrency']}, applicants {p.get('applicants', 1)}, offered load "
               + (f"{p['offered_rate_apps_per_s']:g} applications/s (paced)" if p.get("offered_rate_apps_per_s")
                  else "none (a burst)"))
    out.append(f"  answers submitted via: {p['answer_path']} (404 'task not yet known' retried: "
               f"{p['answer_404_retries']} retries; already-recorded: {p['answers_already_recorded']}; "
               f"duplicate task records: {p['duplicate_task_records']}; duplicate reply.issued records: "
               f"{p.get('duplicate_reply_records', 0)})")
    out.append(f"  wall time first submit -> last reply.issued: {p['wall_seconds_first_submit_to_last_reply']:.2f} s")
    out.append(f"  THROUGHPUT (end to end, reply issued):       {p['throughput_apps_per_s']:.2f} applications/s")
    out.append(f"  intake accept rate (HTTP 201s):              {p['intake_accept_rate_apps_per_s']:.2f} applications/s")
    out.append("  latency (ms), measured from the start of the intake POST:")
    out.append(fmt_lat("intake HTTP 201 response", L["intake_http_201"]))
    out.append(fmt_lat("submit -> first task.assigned", L["submit_to_first_task"]))
    out.append(fmt_lat("(a) submit -> all 3 task.assigned", L["a_submit_to_all_3_tasks"]))
    out.append(fmt_lat("(b) submit -> reply.issued", L["b_submit_to_reply_issued"]))
    out.append("  segments (ms):")
    out.append(fmt_lat("all 3 tasks seen -> reply.issued", L["all_tasks_to_reply"]))
    out.append(fmt_lat("last answer HTTP 201 -> reply.issued", L["last_answer_201_to_reply"]))
    out.append("  per-hop breakdown (ms; wall clock from event 'time' and Kafka record CreateTime, same host):")
    for name, s in p["hop_breakdown_ms"].items():
        out.append(f"    {name}")
        out.append(f"      p50 {s['p50']:8.1f}  p95 {s['p95']:8.1f}  p99 {s['p99']:8.1f}  max {s['max']:8.1f}  (n={s['count']})")
    n = res["notices"]
    out.append(f"  notices at the sinks (expected {n['expected_each']} each): mails to the applicants {n['mails']} "
               f"({n.get('distinct_mails', '?')} distinct Message-IDs), webhooks {n['webhooks']} "
               f"({n.get('distinct_webhooks', '?')} distinct webhook-ids); to officers {n.get('officer_mails', '?')} "
               f"(waited {n['waited_seconds_after_last_reply']:.1f} s after last reply)")
    out.append("")
    rt = raw["roundtrip_ms"]
    out.append(f"RAW BROKER (same broker, bare aiokafka, 1-partition topic, {raw['payload_bytes']} B payload, "
               f"{raw['producer']}):")
    out.append(f"  sequential round trip produce -> consumed, {rt['count']} msgs (after {raw['roundtrip_warmup']} warm-up):")
    out.append(fmt_lat("round trip", rt))
    out.append(f"  pipelined {raw['pipelined_messages']} msgs: produce (acked) {raw['pipelined_produce_acked_msgs_per_s']:,.0f} msgs/s, "
               f"produce+consume {raw['pipelined_produce_consume_msgs_per_s']:,.0f} msgs/s")
    out.append("")
    r = res["ratios"]
    out.append("RATIOS (pipeline latency p50 / raw round-trip p50):")
    out.append(f"  (b) submit -> reply.issued p50 / raw p50:     {r['b_reply_p50_over_raw_p50']:.1f}x")
    out.append(f"  (a) submit -> all 3 tasks p50 / raw p50:      {r['a_tasks_p50_over_raw_p50']:.1f}x")
    out.append("  (critical path holds 3 sequential Kafka hops: application.received, task.assigned, reply.issued;")
    out.append("   plus store reads/writes, outbox relays and 4 HTTP requests)")
    out.append("")
    if "cpu" in res:
        out.extend(fmt_cpu(res["cpu"], p["applications"]))
        out.append("")
    if "counts" in res:
        out.extend(fmt_counts(res["counts"], p["applications"]))
        out.append("")
    if res.get("profiles"):
        out.append("PROFILES (py-spy speedscope; summarise: PYTHONPATH=. .local/venv/bin/python benchmarks/profile_top.py FILE):")
        for svc, path in res["profiles"].items():
            out.append(f"  {svc:10} {path}")
        out.append("")
    out.append("MEMORY (VmRSS from /proc/<pid>/status; 'at rest' = stack healthy, before any load; "
               "'after' = after raw + pipeline load):")
    out.extend(fmt_mem(res["memory"]["at_rest"], res["memory"]["after_load"]))
    out.append("=" * 100)
    return "\n".join(out)


# ------------------------------------------------------------------------------- main
def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=200, help="applications to push (default 200)")
    ap.add_argument("--concurrency", type=int, default=8, help="intake POSTs in flight (default 8)")
    ap.add_argument("--applicants", type=int, default=1,
                    help="distinct applicants (default 1: one mass applicant; N: application i from applicant i mod N)")
    ap.add_argument("--rate", type=float, default=None,
                    help="offered load, applications/s: submissions paced at this rate (default: a burst)")
    ap.add_argument("--answer-concurrency", type=int, default=16, help="answer POSTs in flight (default 16)")
    ap.add_argument("--raw-n", type=int, default=500, help="sequential raw round trips (default 500)")
    ap.add_argument("--raw-pipelined", type=int, default=20000, help="pipelined raw messages (default 20000)")
    ap.add_argument("--raw-size", type=int, default=1024, help="raw payload bytes (default 1024, ~an event)")
    ap.add_argument("--timeout", type=float, default=600, help="overall pipeline timeout, s (default 600)")
    ap.add_argument("--stall-timeout", type=float, default=90, help="fail if nothing progresses this long, s")
    ap.add_argument("--settle", type=float, default=5, help="seconds to let the stack settle before 'at rest' RSS")
    ap.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                    help="extra environment for the services, e.g. GONGKAI_OUTBOX_POLL_SECONDS=0.05 (repeatable)")
    ap.add_argument("--notices-timeout", type=float, default=60,
                    help="how long to wait for the notices after the last reply, s (default 60)")
    ap.add_argument("--json", type=Path, help="also write the results as JSON to this file")
    ap.add_argument("--keep", action="store_true", help="keep the temporary run dir (logs) after a success")
    ap.add_argument("--answer-retry-seconds", type=float, default=300,
                    help="how long an answer is retried while reply answers 404 'task not yet known' (reply "
                         "has not consumed case.routed yet: it lags under load), s (default 300)")
    ap.add_argument("--no-store-probe", action="store_true",
                    help="do not load benchmarks/_probe/sitecustomize.py into the services (it counts their "
                         "store commands for the report)")
    ap.add_argument("--quiet-timeout", type=float, default=60,
                    help="after the last notice, wait up to this long for the stack to go quiet (CPU back "
                         "near its rest rate) before the final CPU/counter snapshot, s (default 60)")
    ap.add_argument("--profile", type=Path, metavar="DIR",
                    help="run py-spy record on some services during the burst; speedscope files in DIR "
                         "(summarise with benchmarks/profile_top.py)")
    ap.add_argument("--profile-services", default="intake,routing,reply",
                    help="comma-separated services to profile (default intake,routing,reply); also "
                         "'store' and 'kafka' (Java Flight Recorder via jcmd)")
    ap.add_argument("--profile-seconds", type=float, default=20, help="py-spy duration, s (default 20)")
    ap.add_argument("--profile-delay", type=float, default=2, help="start py-spy this long after the first submit")
    ap.add_argument("--profile-rate", type=int, default=100, help="py-spy samples per second (default 100)")
    args = ap.parse_args(argv)
    if args.n < 1:
        ap.error("--n must be >= 1")

    # Below the kernel's ephemeral range (32768-60999): a port there can be taken by any outgoing
    # connection of the machine between the check below and a service's bind (routing once failed
    # with EADDRINUSE on 38102 in the middle of the test suite).
    cfg = StackConfig(run_dir=Path(tempfile.mkdtemp(prefix="gk-bench-")), kafka_port=31092,
                      kafka_controller_port=31093, store_port=31117, http_base=31100,
                      smtp_port=3525, webhook_port=31109, keycloak_port=31080, keycloak_mgmt_port=31081,
                      smsc_port=3775)
    for item in args.env:
        key, sep, value = item.partition("=")
        if not sep or not key:
            ap.error(f"--env wants KEY=VALUE, got {item!r}")
        cfg.extra_env[key] = value
    user_env = dict(cfg.extra_env)
    if not args.no_store_probe:
        # sitecustomize of benchmarks/_probe: counts each service's store commands at its /metrics.
        cfg.extra_env["PYTHONPATH"] = os.pathsep.join(
            [str(HOME / "benchmarks" / "_probe"), cfg.extra_env.get("PYTHONPATH", str(HOME))])
    profile_services = [x.strip() for x in args.profile_services.split(",") if x.strip()]
    java_targets = {"store": STORE_PROC, "kafka": BROKER_PROC}  # recorded with JFR (jcmd), not py-spy
    bad = [x for x in profile_services if x not in (*SERVICES, WEB, *java_targets)]
    if bad:
        ap.error(f"--profile-services: unknown {bad}")
    py_spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if args.profile and not py_spy:
        ap.error("--profile needs py-spy (e.g. .local/venv/bin/pip install py-spy; not in requirements.lock)")
    ports = [cfg.kafka_port, cfg.kafka_controller_port, cfg.store_port, cfg.smtp_port, cfg.webhook_port,
             cfg.keycloak_port, cfg.keycloak_mgmt_port, *(cfg.port(s) for s in SERVICES)]
    busy = [p for p in ports if port_in_use(p)]
    if busy:
        print(f"benchmark: ERROR: ports already in use: {busy} (another benchmark running?)", file=sys.stderr)
        shutil.rmtree(cfg.run_dir, ignore_errors=True)
        return 2

    # SIGTERM: unwind like Ctrl-C so that the finally block tears the stack down.
    def on_term(signum, frame):  # noqa: ANN001, ARG001
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)

    stack = Stack(cfg)
    mail = hooks = None
    ok = False
    run_id = uuid.uuid4().hex[:8]
    res: dict[str, Any] = {
        "run_id": run_id,
        "machine": {"cpus": os.cpu_count(), "loadavg_before": " ".join(f"{x:.2f}" for x in os.getloadavg()),
                    "python": platform.python_version()},
        "stack": {"kafka": cfg.kafka_bootstrap, "store": cfg.mongo_url, "http": f"{cfg.port('intake')}-{cfg.port('audit')}",
                  "smtp": cfg.smtp_port, "webhook": cfg.webhook_port, "run_dir": str(cfg.run_dir),
                  "extra_env": user_env, "store_probe": not args.no_store_probe},
    }
    profilers: list[tuple[str, subprocess.Popen | None, Path]] = []
    try:
        print(f"benchmark: starting private stack in {cfg.run_dir} ...", flush=True)
        t0 = time.perf_counter()
        mail = MailSink(port=cfg.smtp_port).start()
        hooks = WebhookSink(port=cfg.webhook_port).start()
        if not hooks.server.started:
            raise BenchError(f"webhook sink did not start on :{cfg.webhook_port}")
        stack.up(with_sinks=False)
        res["stack"]["startup_seconds"] = time.perf_counter() - t0
        print(f"benchmark: stack healthy after {res['stack']['startup_seconds']:.1f} s; settling {args.settle:.0f} s",
              flush=True)
        offsets_rest0 = asyncio.run(topic_end_offsets(cfg.kafka_bootstrap))
        rest0 = cpu_snapshot(stack)
        time.sleep(args.settle)
        rest1 = cpu_snapshot(stack)
        offsets_rest1 = asyncio.run(topic_end_offsets(cfg.kafka_bootstrap))
        rest_records_per_s = {t: (v - offsets_rest0.get(t, 0)) / (rest1["t"] - rest0["t"])
                              for t, v in offsets_rest1.items() if v - offsets_rest0.get(t, 0) > 0}
        res["memory"] = {"at_rest": memory_snapshot(stack)}
        rest = cpu_delta(rest0, rest1, None)
        idle_rate = {name: (r["cpu_s"] / rest["wall_s"] if r["cpu_s"] is not None and rest["wall_s"] > 0 else None)
                     for name, r in rest["processes"].items()}
        idle_rate[BENCH_PROC] = None  # the benchmark itself does the load: nothing to subtract
        snaps: dict[str, Any] = {}

        def start_profilers() -> None:
            args.profile.mkdir(parents=True, exist_ok=True)
            pids = process_pids(stack)
            for svc in profile_services:
                if svc in java_targets:
                    pid = pids.get(java_targets[svc])
                    jcmd = shutil.which("jcmd")
                    if not pid or not jcmd:
                        continue
                    out = args.profile / f"prof-{svc}.jfr"
                    log = (args.profile / f"prof-{svc}.log").open("wb")
                    # JFR's "profile" settings sample Java stacks every 10-20 ms; the recording is
                    # written when it ends. jcmd returns at once: wait for the file afterwards.
                    subprocess.run([jcmd, str(pid), "JFR.start", "name=gkbench", "settings=profile",
                                    f"duration={int(args.profile_seconds)}s", f"filename={out}"],
                                   stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=30)
                    profilers.append((svc, None, out))
                    continue
                pid = stack.pid(svc)
                if not pid:
                    continue
                out = args.profile / f"prof-{svc}.speedscope.json"
                log = (args.profile / f"prof-{svc}.log").open("wb")
                proc = subprocess.Popen([py_spy, "record", "-p", str(pid), "-d", str(int(args.profile_seconds)),
                                         "-r", str(args.profile_rate), "--function", "--nonblocking",
                                         "-f", "speedscope", "-o", str(out)],
                                        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
                profilers.append((svc, proc, out))
            print(f"benchmark: py-spy recording {', '.join(s for s, _, _ in profilers)} for "
                  f"{args.profile_seconds:.0f} s -> {args.profile}", flush=True)

        async def at_start() -> None:
            snaps["metrics_before"] = await scrape_metrics(cfg)
            snaps["offsets_before"] = await topic_end_offsets(cfg.kafka_bootstrap)
            pids = process_pids(stack)
            print("benchmark: pids: " + ", ".join(f"{k.split(' ')[0]}={v}" for k, v in pids.items()), flush=True)
            snaps["cpu_before"] = cpu_snapshot(stack)
            if args.profile:
                asyncio.get_running_loop().call_later(args.profile_delay, start_profilers)

        async def at_done() -> None:
            snaps["cpu_done"] = cpu_snapshot(stack)

        async def wait_quiet() -> float:
            """Until the services, store and broker use about their rest CPU again (consumers such as
            audit's may still be working through the burst's events); returns the seconds waited."""
            t0 = time.perf_counter()
            rest_sum = sum(v for k, v in idle_rate.items() if v is not None and k != BENCH_PROC)
            prev = cpu_snapshot(stack)
            while time.perf_counter() - t0 < args.quiet_timeout:
                await asyncio.sleep(1.0)
                cur = cpu_snapshot(stack)
                d = cpu_delta(prev, cur, None)
                busy = sum(r["cpu_s"] for k, r in d["processes"].items() if r["cpu_s"] is not None and k != BENCH_PROC)
                prev = cur
                if busy / d["wall_s"] <= 1.5 * rest_sum + 0.05:
                    break
            return time.perf_counter() - t0

        async def body() -> None:
            print(f"benchmark: raw broker: {args.raw_n} round trips, {args.raw_pipelined} pipelined ...", flush=True)
            res["raw_broker"] = await raw_broker_bench(cfg.kafka_bootstrap, args.raw_n, args.raw_pipelined,
                                                       args.raw_size, timeout=60)
            print(f"benchmark: pipeline: {args.n} applications ...", flush=True)
            res["pipeline"] = await run_pipeline(cfg, args.n, args.concurrency, args.answer_concurrency,
                                                 args.timeout, args.stall_timeout, run_id,
                                                 at_start=at_start, at_done=at_done,
                                                 answer_retry_seconds=args.answer_retry_seconds, rate=args.rate,
                                                 applicants=args.applicants)
            res["notices"] = await wait_notices(mail, hooks, 2 * args.n, timeout=args.notices_timeout)
            quiet_wait = await wait_quiet()
            snaps["cpu_after"] = cpu_snapshot(stack)
            snaps["metrics_after"] = await scrape_metrics(cfg)
            snaps["offsets_after"] = await topic_end_offsets(cfg.kafka_bootstrap)
            ob, oa = snaps["offsets_before"], snaps["offsets_after"]
            res["cpu"] = {
                "at_rest": {**rest, "rate_core_s_per_s": idle_rate},
                "burst": cpu_delta(snaps["cpu_before"], snaps["cpu_done"], args.n, idle_rate),
                "total": cpu_delta(snaps["cpu_before"], snaps["cpu_after"], args.n, idle_rate),
                "quiet_wait_s": quiet_wait,
            }
            res["counts"] = {
                "per_service": metrics_delta(snaps["metrics_before"], snaps["metrics_after"]),
                "topic_records_per_s_at_rest": rest_records_per_s,
                "topic_records": dict(sorted(((t, oa[t] - ob.get(t, 0)) for t in oa if oa[t] - ob.get(t, 0) > 0),
                                             key=lambda kv: -kv[1])),
            }

        asyncio.run(body())
        if profilers:
            for svc, proc, out in profilers:
                if proc is None:  # JFR: the JVM writes the file when the recording's duration is over
                    deadline = time.monotonic() + args.profile_seconds + 30
                    while not out.exists() and time.monotonic() < deadline:
                        time.sleep(0.5)
                    time.sleep(1.0)  # let it finish writing
                    continue
                try:
                    proc.wait(timeout=args.profile_seconds + 30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            res["profiles"] = {svc: str(out) for svc, proc, out in profilers if out.exists()}
        res["memory"]["after_load"] = memory_snapshot(stack)
        for name, snap in res["memory"]["after_load"].items():
            if snap.get("pid") is None and name in SERVICES:
                raise BenchError(f"service {name} is no longer running; see {stack.log_path(name)}")
        raw_p50 = res["raw_broker"]["roundtrip_ms"]["p50"]
        lat = res["pipeline"]["latency_ms"]
        res["ratios"] = {
            "b_reply_p50_over_raw_p50": lat["b_submit_to_reply_issued"]["p50"] / raw_p50,
            "a_tasks_p50_over_raw_p50": lat["a_submit_to_all_3_tasks"]["p50"] / raw_p50,
        }
        print(report(res), flush=True)
        if args.json:
            args.json.write_text(json.dumps(res, indent=2, ensure_ascii=False))
            print(f"benchmark: JSON written to {args.json}")
        ok = True
        return 0
    except BenchError as exc:
        print(f"benchmark: ERROR: {exc}", file=sys.stderr)
        print(f"benchmark: service logs kept in {stack.svc_dir}, broker/store logs in {cfg.run_dir}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("benchmark: interrupted", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # do not interrupt the teardown
        for _svc, proc, _out in profilers:
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
        print("benchmark: tearing down ...", flush=True)
        try:
            stack.down()
        except Exception as exc:  # noqa: BLE001
            print(f"benchmark: WARNING: teardown failed: {exc!r}", file=sys.stderr)
        for sink in (hooks, mail):
            if sink is not None:
                with contextlib.suppress(Exception):
                    sink.stop()
        if ok and not args.keep:
            shutil.rmtree(cfg.run_dir, ignore_errors=True)
        else:
            print(f"benchmark: run dir kept: {cfg.run_dir}", file=sys.stderr)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
