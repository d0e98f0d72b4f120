"""Seeded chaos run of Gongkai on a private local stack: SIGKILLs under load, then the invariants.

    cd /work/main && PYTHONPATH=. .local/venv/bin/python benchmarks/chaos.py [--n 300] [--seed 1] \
        [--kills 90] [--duration 300] [--replicas 2] [--single-broker] [--json out.json]

What it does (one process; the short version runs in the test suite: tests/e2e/test_zz_chaos.py):

1. Starts its OWN stack in the production shape in a fresh temporary run dir: a three-node Kafka
   cluster (deploy/local/cluster.py; ``--single-broker``: infra.sh's one broker), the store,
   Keycloak, two instances of intake, routing, reply, notify and web (``--replicas``; audit is the
   ledger's single writer), on the 30xxx ports (store 30117, Keycloak 30080/30081, HTTP 30101-30106
   and 30111-30116, the cluster on 29502-29507; ``--base-port``), with an in-process SMTP sink
   (30525) and webhook sink (30109); every port below the kernel's ephemeral range. Torn down at the
   end, also on error/Ctrl-C; the run dir (logs) is kept when an invariant failed. Settings as
   deployed except CHAOS_ENV (a checkpoint every 5 s, notify's retry backoff capped at 10 s).
2. The bare broker's figures (as benchmarks/pipeline.py): sequential produce->consume round trips
   and a pipelined burst on a one-partition topic, before the chaos and again after it.
3. Load: N applications (3 departments each) POSTed to intake (the instances in turn, the next one
   on a retry, as a load balancer would), paced over the first 80 % of the chaos window, each with
   its own Idempotency-Key and retried on connection errors / 5xx (as a client would) until
   accepted; the last max(2, N/50) of them only after the last kill (so the whole pipeline and the
   ledger's checkpoints must work after it). An auto-answer worker reads the three department
   inbox topics and answers every task.assigned over the reply API with the department officer's
   token, then signs it off (保密审查) with the reviewer's token (tokens from the private Keycloak,
   password grant, cached; fetched again when Keycloak is back), retrying 404 "task not yet known",
   connection errors and 5xx. Every answer's text names its case, so the reply document shows
   whether it was recorded.
4. Chaos (seeded, random.Random(seed)), at least 100 SIGKILLs with the defaults:
   - ``--kills`` of service and web instances at random times, each restarted after 0.3-3 s;
   - the store (``--store-kills``), cluster nodes (``--broker-kills``, a random node each time) and
     the identity provider (``--idp-kills``), restarted after 0.5-2 s;
   - timed by what the system does: reply 0-150 ms after a case's last sign-off was sent, so during
     its release (``--release-kills``); every notify instance after the mail sink has recorded a
     notice and before it answers 250, i.e. during a delivery (``--delivery-kills``); audit when its
     next checkpoint is due (``--checkpoint-kills``).
   The scheduled kills run one after another; the timed ones happen when their moment comes,
   whatever else is down.
5. Quiescence: until every accepted case has its reply and both notices on both channels and the
   ledger stopped growing and is covered by a checkpoint - or nothing changed for --stall seconds.
   Then the harness does what the OGI office does with the e-mails left ``uncertain`` (a delivery
   killed between the commit and the server's 250 is never sent again blindly): it lists them
   (notify's ``GET /notices/uncertain``, any instance, the OGI officer's token), looks each
   Message-ID up among the messages the SMTP sink received (the mail server's log) and resolves it
   ``sent`` when it is there, ``resend`` when it is not; waits (bounded) until each resolved one is
   delivered, and once more for quiescence (the resolutions' notice.delivered reach the ledger).
6. Checks and reports the invariants (table; --json): shared tracking numbers, lost applications,
   answers acknowledged but not in the reply, duplicated replies, missing and duplicate notices at
   the sinks, deliveries still uncertain after the office's resolution, notice order per applicant
   (a notice the office had sent again is not counted as out of order), the ledger (gaps in its
   sequence, events of the bus missing or twice, /ledger/verify, audit /health, a checkpoint signed
   after the last kill), and the time to resume after each kill. Exit status 1 if an invariant fails.

Time to resume, measured honestly:
- a service kill: from the restart (spawn of the new process) to (a) its /health answering 200
  and (b) its first event handled, i.e. the first increment of gongkai_events_consumed_total
  {outcome=ok|duplicate} in the new process' /metrics (polled every 0.1 s); for intake and reply
  also (c) the first HTTP 2xx the load got from it. The consumer group's committed lag at the
  restart is read too: a first-event time where there was no backlog (lag 0) includes waiting for
  new work and is shown apart.
- a store or broker kill: from the restart command to the infrastructure being ready
  (infra.sh start returns; for the broker that includes re-applying ACLs and checking topics),
  to every service's /health being 200 again, and to each service's first event handled (its
  counter above the value read just before the restart command).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import random
import re
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from benchmarks.pipeline import assigned_consumer, port_in_use, raw_broker_bench, summary_ms
from contracts import topics
from contracts.events_ledger import LEDGER_CHECKPOINTS
from deploy.local.credentials import kafka_client_kwargs
from deploy.local.sinks import MailSink, WebhookSink
from deploy.local.stack import SCALABLE, SERVICES, WEB, Stack, StackConfig, split_instance

DEPTS = ("zrzy", "czt", "sthjt")
TASK_TYPE = "cn.gongkai.task.assigned.v1"
REPLY_TYPE = "cn.gongkai.reply.issued.v1"
RECEIVED_TYPE = "cn.gongkai.application.received.v1"
KILLABLE = ("intake", "routing", "reply", "notify", "audit")  # the services with consumers (metrics)
INFRA = ("store", "kafka", "keycloak")  # kafka-N: a cluster's node


def is_infra(target: str) -> bool:
    return target in INFRA or target.startswith("kafka-")


def infra_kind(target: str) -> str:
    return "kafka" if target.startswith("kafka") else target
OGI = "ogi-officer"
AUDITOR = "auditor"


class ChaosError(RuntimeError):
    """The harness itself could not run (ports busy, stack did not start, ...)."""


SENT_NOTE = "chaos harness: found in the sink's log"
RESEND_NOTE = "chaos harness: not in the sink's log"


def message_id_key(value: Any) -> str:
    """A Message-ID as compared: without the angle brackets and surrounding blanks."""
    return str(value or "").strip().strip("<>").strip()


def office_findings(uncertain: list[dict[str, Any]], mails: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the OGI office finds for each uncertain delivery (a row of notify's
    ``GET /notices/uncertain``), having looked its Message-ID up in the mail server's log (the
    sink's messages): ``sent`` when it is there, ``resend`` when it is not. A delivery of another
    channel has no such log and gets no finding (``None``: it stays uncertain, a violation)."""
    seen = {message_id_key(m.get("message_id")) for m in mails} - {""}
    out = []
    for row in uncertain:
        found = row.get("channel") == "email" and message_id_key(row.get("message_id")) in seen
        outcome = None if row.get("channel") != "email" else "sent" if found else "resend"
        out.append({**{k: row.get(k) for k in ("case_id", "notice_id", "channel", "kind", "recipient", "message_id")},
                    "outcome": outcome})
    return out


# Service settings of the chaos stack (everything else as deployed): a checkpoint every 5 s, so that
# one is signed after the last kill within the quiescence wait; notify's retry backoff capped at
# 10 s (default 300 s), so that a notice that failed during a store or broker outage is retried
# within the run.
CHAOS_ENV = {"AUDIT_CHECKPOINT_SECONDS": "5", "NOTIFY_BACKOFF_MAX_SECONDS": "10"}


async def _events(consumer: AIOKafkaConsumer) -> AsyncIterator[dict[str, Any]]:
    """The events a consumer reads, decoded, forever (a record that is not JSON is passed over)."""
    while True:
        for recs in (await consumer.getmany(timeout_ms=200)).values():
            for rec in recs:
                try:
                    yield json.loads(rec.value)
                except ValueError:
                    continue


def chaos_config(run_dir: Path, base: int = 30000, cluster: bool = False, replicas: int = 1) -> StackConfig:
    """A private stack on the ``base`` range: Kafka base+92/93, store base+117, HTTP base+101..106
    (second instances base+111..116), Keycloak base+80/81, SMTP base+525, webhooks base+109. With
    ``cluster`` the broker is a three-node cluster on 29500 + 20 * (base/1000 % 10) + 2..7. Every
    port is below the kernel's ephemeral range (32768-60999), so that no outgoing connection of the
    stack's many processes can take one before its server binds it; ``replicas`` instances of each of
    intake, routing, reply, notify and web (audit stays the ledger's single writer)."""
    return StackConfig(run_dir=run_dir, kafka_port=base + 92, kafka_controller_port=base + 93,
                       store_port=base + 117, http_base=base + 100, smtp_port=base + 525,
                       webhook_port=base + 109, keycloak_port=base + 80, keycloak_mgmt_port=base + 81,
                       extra_env=dict(CHAOS_ENV),
                       cluster_base=29500 + 20 * (base // 1000 % 10) if cluster else None,
                       replicas={s: replicas for s in SCALABLE} if replicas > 1 else {})


def stack_ports(cfg: StackConfig) -> list[int]:
    procs = [p for s in (*SERVICES, WEB) for p in cfg.instances(s)]
    cluster = cfg.cluster
    kafka = ([cluster.client_port(n) for n in (1, 2, 3)] + [cluster.controller_port(n) for n in (1, 2, 3)]
             if cluster is not None else [cfg.kafka_port, cfg.kafka_controller_port])
    return [*kafka, cfg.store_port, cfg.smtp_port, cfg.webhook_port,
            cfg.keycloak_port, cfg.keycloak_mgmt_port, *(cfg.port(p) for p in procs)]


@dataclass
class Options:
    n: int = 150
    seed: int = 1
    kills: int = 40
    duration: float = 150.0  # the chaos window, s: kills spread over it, submissions over 80 % of it
    store_kills: int = 1
    broker_kills: int = 1  # the single broker, or a random node of the cluster
    idp_kills: int = 0  # the identity provider (Keycloak)
    release_kills: int = 0  # reply, killed while the last sign-off of a case (and so its release) runs
    delivery_kills: int = 0  # notify, killed between the mail server's acceptance and its 250 reply
    checkpoint_kills: int = 0  # audit, killed when its next checkpoint is due
    cluster: bool = False  # a three-node Kafka cluster instead of the single broker
    replicas: int = 1  # instances of intake, routing, reply, notify and web
    submit_concurrency: int = 8
    answer_concurrency: int = 16
    pause: tuple[float, float] = (0.3, 3.0)  # service restart pause, s
    infra_pause: tuple[float, float] = (0.5, 2.0)
    stall: float = 90.0  # quiescence: give up when nothing changed this long
    settle: float = 8.0  # quiescence: everything complete and unchanged this long
    quiesce_timeout: float = 900.0
    resume_timeout: float = 120.0
    resolve_timeout: float = 120.0  # the office's step: until every resolved delivery is delivered
    raw_roundtrips: int = 200
    raw_pipelined: int = 5000
    tail: int | None = None  # applications submitted after the last kill (default max(2, n // 50))
    submit_deadline: float = 600.0  # a client gives up on an application after this long
    answer_deadline: float = 600.0


# ------------------------------------------------------------------------------------ state
@dataclass
class App:
    i: int
    tag: str
    email: str
    hook: str
    case_id: str | None = None
    tracking_number: str | None = None
    status: int | None = None
    attempts: int = 0
    accepted_at: float | None = None
    error: str | None = None


@dataclass
class TaskAnswer:
    case_id: str
    task_id: str
    dept: str
    text: str
    answer_status: int | None = None
    answer_attempts: int = 0
    review_status: int | None = None
    review_attempts: int = 0
    acked_at: float | None = None
    error: str | None = None

    @property
    def acknowledged(self) -> bool:
        return self.answer_status in (200, 201)


@dataclass
class KillRecord:
    target: str
    planned_at: float
    pause: float
    killed_at: float | None = None
    restarted_at: float | None = None
    killed_pid: int | None = None
    new_pid: int | None = None
    lag_at_restart: int | None = None
    infra_ready_s: float | None = None  # store/broker: restart command -> infra ready
    health_s: float | None = None  # service: restart -> /health 200; infra: -> all services 200
    first_event_s: float | None = None  # restart -> first event handled (infra: max over services)
    first_http_s: float | None = None  # intake/reply: restart -> first 2xx to the load
    per_service: dict[str, dict[str, float | None]] = field(default_factory=dict)
    note: str = ""
    kind: str = "scheduled"  # or release / delivery / checkpoint: timed by what the system does



def extra_copies(channel: str, ids: list[Any]) -> tuple[int, int, int]:
    """The extra copies of one notice (one case, step and channel) at a sink, by the ids they
    carried: (same id, other id, webhook redelivered). A webhook is at-least-once by design: its
    copies under one webhook-id are redeliveries a Standard Webhooks receiver drops, measured but
    no duplicate. Anything else extra (a second e-mail, a webhook under another id) is."""
    distinct = len(set(ids))
    same, other = len(ids) - distinct, distinct - 1
    return same, other, same if channel == "webhook" and other == 0 else 0

class Run:
    def __init__(self, stack: Stack, mail: MailSink, hooks: WebhookSink, opts: Options, run_id: str,
                 log: Any = print) -> None:
        self.stack, self.cfg, self.mail, self.hooks, self.opts = stack, stack.cfg, mail, hooks, opts
        self.run_id = run_id
        self.log = log
        self.rng = random.Random(opts.seed)
        self.apps = [App(i, f"c{run_id}x{i}", f"c{run_id}x{i}@example.com", f"c{run_id}x{i}") for i in range(opts.n)]
        self.tasks: dict[str, TaskAnswer] = {}
        self.task_dupes = 0
        self.replies: dict[str, list[str]] = defaultdict(list)  # case -> reply.issued event ids (records)
        self.received_tn: dict[str, set[str]] = defaultdict(set)  # tracking number -> case ids (bus)
        self.kills: list[KillRecord] = []
        self.http_ok: dict[str, list[float]] = defaultdict(list)  # intake/reply: times of 2xx
        self.background: set[asyncio.Task] = set()
        self.t0 = time.monotonic()
        self.errors: list[str] = []
        self.measuring: list[asyncio.Task] = []  # resume measurements (bounded by resume_timeout)
        self.procs = stack.processes()  # every service instance, web included
        self.apis = [p for p in self.procs if split_instance(p)[0] != WEB]
        self.kill_lock = asyncio.Lock()  # one kill (and its restart) at a time
        self.targeted = {"release": opts.release_kills, "delivery": opts.delivery_kills,
                         "checkpoint": opts.checkpoint_kills}
        self.signed: Counter[str] = Counter()  # case -> sign-offs acknowledged
        self.loop: asyncio.AbstractEventLoop | None = None
        self.http: httpx.AsyncClient | None = None
        self.timed_tasks: list[asyncio.Task] = []

    # -------------------------------------------------------------------- small helpers
    def now(self) -> float:
        return time.monotonic() - self.t0

    def spawn(self, coro: Any) -> asyncio.Task:
        t = asyncio.create_task(coro)
        self.background.add(t)
        t.add_done_callback(self.background.discard)
        return t

    async def auth(self, who: str) -> dict[str, str]:
        """The officer's bearer token (cached; fetched again near expiry - retried while the
        identity provider is down, as a signed-in officer's browser would wait)."""
        deadline = time.monotonic() + self.opts.answer_deadline
        while True:
            try:
                return {"Authorization": f"Bearer {await asyncio.to_thread(self.stack.token, who)}"}
            except Exception:  # noqa: BLE001 - IdpError or a connection error while Keycloak restarts
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(1.0)

    def url_of(self, service: str, attempt: int) -> str:
        """An instance of ``service`` (the next one on each attempt: a client's load balancer)."""
        names = self.cfg.instances(service)
        return self.cfg.url(names[attempt % len(names)])

    def app_body(self, app: App) -> dict[str, Any]:
        return {
            "applicant": {"name": f"混沌申请人{app.i}", "id_number": "11010519491231002X"},
            "contact": {"email": app.email, "phone": "13800138000",
                        "webhook_url": f"http://127.0.0.1:{self.cfg.webhook_port}/hooks/{app.hook}"},
            "description": f"[chaos {self.run_id} #{app.i}] 请公开某村征地补偿标准、2025年预算执行情况以及某河段的水质环境监测数据",
            "target_departments": list(DEPTS),
        }

    # -------------------------------------------------------------------- load
    @property
    def n_tail(self) -> int:
        tail = self.opts.tail if self.opts.tail is not None else max(2, self.opts.n // 50)
        return max(0, min(tail, self.opts.n - 1))

    async def submit_all(self, http: httpx.AsyncClient, apps: list[App], window: float) -> None:
        gap = window / max(1, len(apps))
        sem = asyncio.Semaphore(self.opts.submit_concurrency)

        async def one(app: App) -> None:
            async with sem:
                await self.submit(http, app)

        started = []
        for app in apps:
            started.append(asyncio.create_task(one(app)))
            await asyncio.sleep(gap)
        await asyncio.gather(*started)

    async def submit(self, http: httpx.AsyncClient, app: App) -> None:
        deadline = time.monotonic() + self.opts.submit_deadline
        body = self.app_body(app)
        headers = {"Idempotency-Key": f"chaos-{self.run_id}-{app.i}"}
        while time.monotonic() < deadline:
            app.attempts += 1
            try:
                r = await http.post(self.url_of("intake", app.i + app.attempts) + "/applications", json=body,
                                    headers=headers, timeout=20)
            except httpx.HTTPError as exc:
                app.error = repr(exc)[:200]
                await asyncio.sleep(0.5)
                continue
            if r.status_code in (200, 201):
                data = r.json()
                app.case_id, app.tracking_number, app.status = data["case_id"], data["tracking_number"], r.status_code
                app.accepted_at = self.now()
                app.error = None
                self.http_ok["intake"].append(app.accepted_at)
                return
            app.error = f"HTTP {r.status_code} {r.text[:200]}"
            if r.status_code >= 500 or r.status_code in (408, 429):
                await asyncio.sleep(0.5)
                continue
            return  # refused for good (4xx): reported
        app.error = f"not accepted within {self.opts.submit_deadline:.0f} s: {app.error}"

    async def answer(self, http: httpx.AsyncClient, t: TaskAnswer, sem: asyncio.Semaphore) -> None:
        body = {"dept_code": t.dept, "reply_type": "disclosed", "text": t.text}
        deadline = time.monotonic() + self.opts.answer_deadline
        delay = 0.05
        async with sem:
            while time.monotonic() < deadline:  # the answer
                t.answer_attempts += 1
                try:
                    r = await http.post(self.url_of("reply", t.answer_attempts) + f"/tasks/{t.task_id}/answer", json=body,
                                        headers=await self.auth(f"{t.dept}-officer"), timeout=20)
                except httpx.HTTPError as exc:
                    t.error = repr(exc)[:200]
                    await asyncio.sleep(0.5)
                    continue
                t.answer_status = r.status_code
                if r.status_code in (200, 201):
                    t.acked_at = self.now()
                    self.http_ok["reply"].append(t.acked_at)
                    break
                if r.status_code == 404 or r.status_code >= 500:  # not yet known / restarting
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 1.0)
                    continue
                t.error = f"answer HTTP {r.status_code} {r.text[:200]}"
                return
            else:
                t.error = f"answer not accepted within {self.opts.answer_deadline:.0f} s: {t.error}"
                return
            while time.monotonic() < deadline:  # the reviewer's sign-off
                t.review_attempts += 1
                target = self.cfg.instances("reply")[t.review_attempts % len(self.cfg.instances("reply"))]
                headers = await self.auth(f"{t.dept}-reviewer")
                if self.signed[t.case_id] == len(DEPTS) - 1 and t.review_attempts == 1:
                    # The case's last sign-off: the reply is released while this request runs.
                    self.release_kill(target)
                try:
                    r = await http.post(self.cfg.url(target) + f"/tasks/{t.task_id}/review",
                                        json={"dept_code": t.dept}, headers=headers, timeout=20)
                except httpx.HTTPError as exc:
                    t.error = repr(exc)[:200]
                    await asyncio.sleep(0.5)
                    continue
                t.review_status = r.status_code
                if r.status_code == 200 or (r.status_code == 409 and t.review_attempts > 1 and
                                            "已" in r.text):
                    # 409 on a retry after a lost response: the first attempt was recorded.
                    self.http_ok["reply"].append(self.now())
                    self.signed[t.case_id] += 1
                    t.review_status = 200
                    t.error = None
                    return
                if r.status_code >= 500:
                    await asyncio.sleep(0.5)
                    continue
                # 404/409 after the answer's 2xx: the acknowledged answer is gone. Not answered
                # again: the officer was told it was recorded (reported as acknowledged-not-recorded).
                t.error = f"review HTTP {r.status_code} {r.text[:200]}"
                return
            t.error = f"review not accepted within {self.opts.answer_deadline:.0f} s: {t.error}"

    async def inbox_loop(self, consumer: AIOKafkaConsumer, http: httpx.AsyncClient) -> None:
        sem = asyncio.Semaphore(self.opts.answer_concurrency)
        async for ev in _events(consumer):
            if ev.get("type") != TASK_TYPE:
                continue
            d = ev["data"]
            if d["task_id"] in self.tasks:
                self.task_dupes += 1
                continue
            t = TaskAnswer(d["case_id"], d["task_id"], d["dept_code"],
                           f"经检索，{d['dept_code']} 予以公开（混沌测试自动答复，案件 {d['case_id']}）。")
            self.tasks[t.task_id] = t
            self.spawn(self.answer(http, t, sem))

    async def replies_loop(self, consumer: AIOKafkaConsumer) -> None:
        async for ev in _events(consumer):
            if ev.get("type") == REPLY_TYPE:
                self.replies[ev["data"]["case_id"]].append(ev["id"])
            elif ev.get("type") == RECEIVED_TYPE:
                tn = ev["data"].get("tracking_number")
                if tn:
                    self.received_tn[tn].add(ev["data"]["case_id"])

    # -------------------------------------------------------------------- chaos
    def schedule(self) -> list[KillRecord]:
        o, rng = self.opts, self.rng
        plan = [KillRecord(rng.choice(self.procs), rng.uniform(0.05, 0.95) * o.duration, rng.uniform(*o.pause))
                for _ in range(o.kills)]
        for k in range(o.idp_kills):
            lo = 0.1 + 0.7 * k / max(1, o.idp_kills)
            plan.append(KillRecord("keycloak", rng.uniform(lo, lo + 0.1) * o.duration, rng.uniform(*o.infra_pause)))
        for k in range(o.store_kills):
            lo = 0.25 + 0.2 * k / max(1, o.store_kills)
            plan.append(KillRecord("store", rng.uniform(lo, lo + 0.2) * o.duration, rng.uniform(*o.infra_pause)))
        for k in range(o.broker_kills):
            lo = 0.55 + 0.2 * k / max(1, o.broker_kills)
            target = f"kafka-{rng.randint(1, 3)}" if o.cluster else "kafka"
            plan.append(KillRecord(target, rng.uniform(lo, lo + 0.2) * o.duration, rng.uniform(*o.infra_pause)))
        return sorted(plan, key=lambda k: k.planned_at)

    async def metrics_handled(self, http: httpx.AsyncClient, svc: str) -> float | None:
        try:
            r = await http.get(self.cfg.url(svc) + "/metrics", timeout=1.5)
        except httpx.HTTPError:
            return None
        if r.status_code != 200:
            return None
        total = 0.0
        for line in r.text.splitlines():
            if line.startswith("gongkai_events_consumed_total{") and (
                    'outcome="ok"' in line or 'outcome="duplicate"' in line):
                with contextlib.suppress(ValueError):
                    total += float(line.rsplit(" ", 1)[1])
        return total

    async def healthy_soon(self, http: httpx.AsyncClient, svc: str, tries: int = 5) -> bool:
        """Healthy within a few seconds (web's /health asks the IdP, slow on a loaded machine)."""
        for i in range(tries):
            if await self.healthy(http, svc):
                return True
            if i + 1 < tries:
                await asyncio.sleep(1.0)
        return False

    async def healthy(self, http: httpx.AsyncClient, svc: str) -> bool:
        try:
            return (await http.get(self.cfg.url(svc) + "/health", timeout=1.5)).status_code == 200
        except httpx.HTTPError:
            return False

    async def group_lag(self, admin: AIOKafkaAdminClient, probe: AIOKafkaConsumer, svc: str) -> int | None:
        try:
            groups = [g[0] for g in await asyncio.wait_for(admin.list_consumer_groups(), 5)]
            lag = 0
            for g in groups:
                if g != svc and not g.startswith(f"{svc}-"):
                    continue
                offsets = await asyncio.wait_for(admin.list_consumer_group_offsets(g), 5)
                tps = [tp for tp, om in offsets.items() if om.offset >= 0]
                if not tps:
                    continue
                ends = await asyncio.wait_for(probe.end_offsets(tps), 5)
                lag += sum(max(0, ends[tp] - offsets[tp].offset) for tp in tps)
            return lag
        except Exception:  # noqa: BLE001 - informational
            return None

    async def measure_service_resume(self, http: httpx.AsyncClient, k: KillRecord) -> None:
        start = time.monotonic()
        while time.monotonic() - start < self.opts.resume_timeout:
            if self.stack.pid(k.target) != k.new_pid:
                k.note = (k.note + " killed again before resuming").strip()
                break
            if k.health_s is None and await self.healthy(http, k.target):
                k.health_s = time.monotonic() - start
            if split_instance(k.target)[0] == WEB:  # pages only: no consumer
                if k.health_s is not None:
                    break
            elif k.first_event_s is None:
                handled = await self.metrics_handled(http, k.target)
                if handled:
                    k.first_event_s = time.monotonic() - start
            if k.health_s is not None and k.first_event_s is not None:
                break
            await asyncio.sleep(0.1)

    def mark_overlaps(self) -> None:
        """A service's resume that a store or broker kill fell into measures that outage too: noted,
        and left out of the per-service figures (listed apart)."""
        for k in self.kills:
            if is_infra(k.target) or k.restarted_at is None:
                continue
            nxt = min((o.killed_at for o in self.kills if o.target == k.target and o.killed_at
                       and o.killed_at > k.restarted_at), default=k.restarted_at + self.opts.resume_timeout)
            end = min(nxt, k.restarted_at + max(k.health_s or 0.0, k.first_event_s or 0.0)
                      if k.health_s is not None else nxt)
            for o in self.kills:
                if is_infra(o.target) and o.killed_at is not None and k.restarted_at <= o.killed_at <= end:
                    k.note = (k.note + f" overlapped the {o.target} outage").strip()

    def first_http_after_restarts(self) -> None:
        """intake/reply: from each restart to the first 2xx the load got from that process."""
        for k in self.kills:
            if k.target not in ("intake", "reply") or k.restarted_at is None:
                continue
            nxt = min((o.killed_at for o in self.kills if o.target == k.target and o.killed_at
                       and o.killed_at > k.restarted_at), default=float("inf"))
            later = [t for t in self.http_ok[k.target] if k.restarted_at <= t < nxt]
            if later:
                k.first_http_s = min(later) - k.restarted_at

    async def measure_infra_resume(self, http: httpx.AsyncClient, k: KillRecord, start: float,
                                   base: dict[str, float | None]) -> None:
        """From the restart command (``start``): each service's /health 200 and first event handled
        (its counter above ``base``, read just before the restart; the services' counters do not
        move while the store or the broker is down)."""
        pids = {s: self.stack.pid(s) for s in self.apis}
        per: dict[str, dict[str, float | None]] = {s: {"health_s": None, "first_event_s": None} for s in self.apis}
        while time.monotonic() - start < self.opts.resume_timeout:
            for s in self.apis:
                p = per[s]
                if self.stack.pid(s) != pids[s]:
                    p["killed_again"] = 1.0  # killed meanwhile: its resume is that kill's measurement
                    continue
                if p["health_s"] is None and await self.healthy(http, s):
                    p["health_s"] = time.monotonic() - start
                if p["first_event_s"] is None:
                    handled = await self.metrics_handled(http, s)
                    if handled is not None and base[s] is not None and handled > base[s]:
                        p["first_event_s"] = time.monotonic() - start
                    elif base[s] is None:
                        base[s] = handled
            if all(p["health_s"] is not None or p.get("killed_again") for p in per.values()) and \
                    sum(p["first_event_s"] is not None for p in per.values()) >= len(self.apis) - 1:
                break
            await asyncio.sleep(0.2)
        k.per_service = per
        hs = [p["health_s"] for p in k.per_service.values() if not p.get("killed_again")]
        k.health_s = max(hs) if hs and all(h is not None for h in hs) else None
        fe = [p["first_event_s"] for p in k.per_service.values() if p["first_event_s"] is not None]
        k.first_event_s = max(fe) if fe else None

    async def kill_and_restart(self, http: httpx.AsyncClient, k: KillRecord, admin: AIOKafkaAdminClient | None,
                               probe: AIOKafkaConsumer | None, killed: bool = False) -> None:
        """SIGKILL ``k.target`` (unless ``killed``: a targeted kill has done it already), wait its
        pause, restart it and start measuring its resume. The caller holds ``kill_lock``."""
        if is_infra(k.target):
            k.killed_at = self.now()
            k.killed_pid = await asyncio.to_thread(self.stack.kill_infra, k.target)
            self.log(f"chaos: t={k.killed_at:6.1f}s SIGKILL {k.target} (pid {k.killed_pid}), "
                     f"restart in {k.pause:.1f} s")
            await asyncio.sleep(k.pause)
            k.restarted_at = self.now()
            t = time.monotonic()
            base = {s: await self.metrics_handled(http, s) for s in self.apis}
            self.measuring.append(self.spawn(self.measure_infra_resume(http, k, t, base)))
            try:
                await asyncio.to_thread(self.stack.infra, "start", k.target)
            except Exception as exc:  # noqa: BLE001
                k.note = f"restart failed: {exc!r}"
                self.errors.append(f"{k.target} restart failed: {exc!r}")
                raise ChaosError(f"{k.target} did not restart: {exc!r}") from exc
            k.infra_ready_s = time.monotonic() - t
            k.new_pid = self.stack.infra_pid(k.target)
            self.log(f"chaos: {k.target} ready again after {k.infra_ready_s:.1f} s")
            return
        if not killed:
            k.killed_at = self.now()
            k.killed_pid = self.stack.pid(k.target)
            await asyncio.to_thread(self.stack.kill, k.target)
        await asyncio.sleep(k.pause)
        if admin is not None and probe is not None and split_instance(k.target)[0] in KILLABLE:
            k.lag_at_restart = await self.group_lag(admin, probe, split_instance(k.target)[0])
        k.restarted_at = self.now()
        k.new_pid = await asyncio.to_thread(self.stack.start, k.target)
        self.log(f"chaos: t={k.killed_at:6.1f}s SIGKILL {k.target:8} (pid {k.killed_pid}{', ' + k.kind if k.kind != 'scheduled' else ''}), "
                 f"restarted after {k.pause:.1f} s as pid {k.new_pid} (lag {k.lag_at_restart})")
        self.measuring.append(self.spawn(self.measure_service_resume(http, k)))

    # ---- kills timed by what the system is doing
    def release_kill(self, target: str) -> None:
        """Kill the reply instance ``target`` 0-150 ms after the case's last sign-off was sent (the
        sign-off's request renders and releases the reply), if the budget and the lock allow."""
        if self.targeted["release"] <= 0 or self.http is None or not self.stack.pid(target):
            return
        self.targeted["release"] -= 1
        k = KillRecord(target, self.now(), self.rng.uniform(*self.opts.pause), kind="release")
        self.kills.append(k)
        delay = self.rng.uniform(0.0, 0.15)

        async def go() -> None:  # not under kill_lock: it must happen now, whatever else is down
            await asyncio.sleep(delay)
            k.killed_at = self.now()
            k.killed_pid = self.stack.pid(target)
            await asyncio.to_thread(self.stack.kill, target)
            await self.kill_and_restart(self.http, k, None, None, killed=True)
        self.timed_tasks.append(self.spawn(go()))

    def on_mail_data(self, message: dict[str, Any]) -> None:
        """The mail sink's hook, in its own thread, after it recorded a message and before it answers
        250: kill every notify instance (one of them is waiting for that 250)."""
        if self.targeted["delivery"] <= 0 or self.loop is None:
            return
        if not any(addr.startswith(f"c{self.run_id}x") for addr in message.get("to", [])):
            return
        self.targeted["delivery"] -= 1
        records = []
        for proc in self.cfg.instances("notify"):
            k = KillRecord(proc, self.now(), self.rng.uniform(*self.opts.pause), kind="delivery")
            k.killed_at = self.now()
            k.killed_pid = self.stack.pid(proc)
            self.stack.kill(proc)
            records.append(k)

        async def restart() -> None:
            for k in records:
                self.kills.append(k)
            await asyncio.gather(*(self.kill_and_restart(self.http, k, None, None, killed=True) for k in records))
        self.loop.call_soon_threadsafe(lambda: self.timed_tasks.append(self.spawn(restart())))

    async def checkpoint_kills(self, http: httpx.AsyncClient, until: float) -> None:
        """Kill audit when its next checkpoint is due (the last one's signing time plus the period)."""
        period = float(self.cfg.extra_env.get("AUDIT_CHECKPOINT_SECONDS", "60"))
        gap = until / max(1, self.targeted["checkpoint"] + 1)
        while self.targeted["checkpoint"] > 0 and self.now() < until:
            await asyncio.sleep(gap * self.rng.uniform(0.6, 1.0))
            cp = await self.latest_checkpoint(http)
            if not cp:
                continue
            signed = datetime.fromisoformat(cp["signed_at"].replace("Z", "+00:00")).timestamp()
            due = signed + period
            while due < time.time():
                due += period
            async with self.kill_lock:
                await asyncio.sleep(max(0.0, due - time.time()) + self.rng.uniform(0.0, 0.05))
                self.targeted["checkpoint"] -= 1
                k = KillRecord("audit", self.now(), self.rng.uniform(*self.opts.pause), kind="checkpoint")
                self.kills.append(k)
                await self.kill_and_restart(http, k, None, None)

    async def chaos(self, http: httpx.AsyncClient) -> None:
        plan = self.schedule()
        self.kills.extend(plan)
        admin = AIOKafkaAdminClient(bootstrap_servers=self.cfg.kafka_bootstrap, request_timeout_ms=5000,
                                    **kafka_client_kwargs())
        probe = AIOKafkaConsumer(bootstrap_servers=self.cfg.kafka_bootstrap, group_id=None,
                                 enable_auto_commit=False, request_timeout_ms=5000, **kafka_client_kwargs())
        await admin.start()
        await probe.start()
        timed = self.spawn(self.checkpoint_kills(http, 0.9 * self.opts.duration))
        try:
            for k in plan:
                wait = k.planned_at - self.now()
                if wait > 0:
                    await asyncio.sleep(wait)
                async with self.kill_lock:
                    await self.kill_and_restart(http, k, admin, probe)
            await timed
            await asyncio.gather(*self.timed_tasks, return_exceptions=True)  # their restarts have run
        finally:
            with contextlib.suppress(Exception):
                await probe.stop()
            with contextlib.suppress(Exception):
                await admin.close()

    # -------------------------------------------------------------------- quiescence
    def ledger_docs(self) -> list[dict[str, Any]]:
        from pymongo import MongoClient

        client = MongoClient(self.cfg.mongo_url, serverSelectionTimeoutMS=5000)
        try:
            return list(client["gongkai_audit"]["ledger"].find({}, {"_id": 1, "event_id": 1, "subject": 1,
                                                                   "type": 1, "topic": 1}))
        finally:
            client.close()

    def ledger_count(self) -> int | None:
        from pymongo import MongoClient

        client = MongoClient(self.cfg.mongo_url, serverSelectionTimeoutMS=3000)
        try:
            return client["gongkai_audit"]["ledger"].estimated_document_count()
        except Exception:  # noqa: BLE001
            return None
        finally:
            client.close()

    async def latest_checkpoint(self, http: httpx.AsyncClient) -> dict[str, Any] | None:
        try:
            r = await http.get(self.cfg.url("audit") + "/checkpoints/latest", timeout=5)
            return r.json() if r.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            return None

    def complete(self) -> bool:
        accepted = [a for a in self.apps if a.case_id]
        if any(not self.replies.get(a.case_id) for a in accepted):
            return False
        mails = Counter(addr for m in self.mail.messages for addr in m["to"])
        hooks = Counter(h["hook"] for h in self.hooks.requests)
        return all(mails[a.email] >= 2 and hooks[a.hook] >= 2 for a in accepted)

    async def quiesce(self, http: httpx.AsyncClient) -> dict[str, Any]:
        start = time.monotonic()
        last_sig: Any = None
        last_change = time.monotonic()
        reason = "timeout"
        while time.monotonic() - start < self.opts.quiesce_timeout:
            size = await asyncio.to_thread(self.ledger_count)
            cp = await self.latest_checkpoint(http)
            sig = (sum(bool(a.case_id) for a in self.apps), sum(len(v) for v in self.replies.values()),
                   len(self.mail.messages), len(self.hooks.requests), size, len(self.tasks),
                   sum(t.acknowledged for t in self.tasks.values()), cp and cp.get("tree_size"))
            if sig != last_sig:
                last_sig, last_change = sig, time.monotonic()
            still = time.monotonic() - last_change
            if self.complete() and cp and cp.get("tree_size") == size and still >= self.opts.settle:
                reason = "complete"
                break
            if still >= self.opts.stall:
                reason = f"stalled (nothing changed for {self.opts.stall:.0f} s)"
                break
            await asyncio.sleep(1.0)
        return {"reason": reason, "seconds": time.monotonic() - start}

    # -------------------------------------------------------------------- checks
    async def read_audited_topics(self) -> list[dict[str, Any]]:
        """Every record of every audited topic (all partitions, from the beginning)."""
        consumer = AIOKafkaConsumer(bootstrap_servers=self.cfg.kafka_bootstrap, group_id=None,
                                    enable_auto_commit=False, auto_offset_reset="earliest", **kafka_client_kwargs())
        await consumer.start()
        try:
            pattern = re.compile(topics.AUDITED_PATTERN)
            meta = await consumer._client.fetch_all_metadata()  # noqa: SLF001 - every topic's partitions
            names = sorted(t for t in meta.topics() if pattern.match(t) and t != LEDGER_CHECKPOINTS.name)
            tps = [TopicPartition(t, p) for t in names for p in sorted(meta.partitions_for_topic(t) or ())]
            if not tps:
                raise ChaosError("no audited topic found on the broker")
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            ends = await consumer.end_offsets(tps)
            out: list[dict[str, Any]] = []
            deadline = time.monotonic() + 120
            while any([await consumer.position(tp) < ends[tp] for tp in tps]):
                if time.monotonic() > deadline:
                    raise ChaosError("could not read the audited topics to their end in 120 s")
                batch = await consumer.getmany(timeout_ms=500, max_records=5000)
                for recs in batch.values():
                    for rec in recs:
                        try:
                            ev = json.loads(rec.value)
                        except (ValueError, TypeError):
                            continue
                        if isinstance(ev, dict) and "id" in ev:
                            out.append({"id": ev["id"], "topic": rec.topic, "subject": ev.get("subject"),
                                        "type": ev.get("type")})
            return out
        finally:
            await consumer.stop()

    async def check(self, http: httpx.AsyncClient, quiescence: dict[str, Any],
                    office: dict[str, Any] | None = None) -> dict[str, Any]:
        accepted = [a for a in self.apps if a.case_id]
        by_case = {a.case_id: a for a in accepted}
        ogi = await self.auth(OGI)
        last_kill = max((k.restarted_at or 0.0) for k in self.kills) if self.kills else 0.0
        last_kill_wall = time.time() - (self.now() - last_kill)

        # --- tracking numbers: one number, one application (responses, bus, intake store, mails)
        tn_cases: dict[str, set[str]] = defaultdict(set)
        for a in accepted:
            tn_cases[a.tracking_number].add(a.case_id)
        for tn, cases in self.received_tn.items():
            tn_cases[tn] |= cases
        store_apps = await asyncio.to_thread(self._intake_apps)
        for d in store_apps:
            if d.get("tracking_number"):
                tn_cases[d["tracking_number"]].add(d["_id"])
        # Only the applicants' own addresses: officers get mails naming a case's number too (e.g. the
        # OGI office's calendar_missing notice when a deadline runs into a year whose holidays are not
        # published yet, every December), which share nothing.
        applicants = {a.email for a in accepted}
        tn_mail: dict[str, set[str]] = defaultdict(set)
        for m in self.mail.messages:
            hit = re.search(r"受理编号 ([A-Z0-9]+-\d{8}-\d+)", m["subject"])
            if hit:
                tn_mail[hit.group(1)].update(addr for addr in m["to"] if addr in applicants)
        shared = sorted(tn for tn in set(tn_cases) | set(tn_mail)
                        if len(tn_cases.get(tn, ())) > 1 or len(tn_mail.get(tn, ())) > 1)
        seqs = sorted({int(tn.rsplit("-", 1)[1]) for tn in tn_cases if tn and re.match(r".+-\d+$", tn)})
        burned = sorted(set(range(1, seqs[-1] + 1)) - set(seqs)) if seqs else []

        # --- per case: at intake, the reply, the answers it holds
        lost: dict[str, str] = {}
        dup_replies: dict[str, int] = {}
        acked_not_recorded: list[dict[str, Any]] = []
        reply_docs: dict[str, str] = {}
        for a in accepted:
            r = await http.get(self.cfg.url("intake") + f"/applications/{a.case_id}", headers=ogi, timeout=10)
            if r.status_code != 200:
                lost[a.case_id] = f"intake GET /applications -> {r.status_code}"
            rr = await http.get(self.cfg.url("reply") + f"/cases/{a.case_id}/reply", headers=ogi, timeout=10)
            body = rr.json() if rr.status_code == 200 else {}
            if body.get("issued") and body.get("reply"):
                reply_docs[a.case_id] = json.dumps(body["reply"], ensure_ascii=False)
            ids = set(self.replies.get(a.case_id, ()))
            if len(ids) > 1:
                dup_replies[a.case_id] = len(ids)
            if not ids and a.case_id not in lost:
                tasks = [t for t in self.tasks.values() if t.case_id == a.case_id]
                lost[a.case_id] = (f"no reply.issued (reply API {rr.status_code}, issued={body.get('issued')}, "
                                   f"answered={body.get('answered')}/{body.get('expected')}; tasks seen {len(tasks)}, "
                                   f"answers acknowledged {sum(t.acknowledged for t in tasks)})")
        for t in self.tasks.values():
            if not t.acknowledged or t.case_id not in by_case:
                continue
            doc = reply_docs.get(t.case_id)
            if doc is None or t.text not in doc:
                acked_not_recorded.append({"case_id": t.case_id, "task_id": t.task_id, "dept": t.dept,
                                           "answer_status": t.answer_status, "review_status": t.review_status,
                                           "reply_issued": doc is not None, "error": t.error})
        tasks_per_case = Counter(t.case_id for t in self.tasks.values())
        tasks_missing = {c: tasks_per_case.get(c, 0) for c in by_case if tasks_per_case.get(c, 0) != len(DEPTS)}

        # --- notices at the sinks: one per step per channel, received before replied
        def kind_of_mail(m: dict[str, Any]) -> str:
            s = m["subject"]
            return "received" if "已登记" in s else "reply" if "已答复" in s else "other"

        def kind_of_hook(h: dict[str, Any]) -> str:
            k = (h.get("payload") or {}).get("kind")
            return "received" if k == "received" else "reply" if k == "reply_issued" else str(k)

        mails_by: dict[str, list[dict]] = defaultdict(list)
        for m in self.mail.messages:
            for addr in m["to"]:
                mails_by[addr].append(m)
        hooks_by: dict[str, list[dict]] = defaultdict(list)
        for h in self.hooks.requests:
            hooks_by[h["hook"]].append(h)
        missing: list[dict[str, str]] = []
        dupes: list[dict[str, Any]] = []
        order: list[dict[str, Any]] = []
        order_resent: list[dict[str, Any]] = []  # a notice the office sent again: later than the next by nature
        resent_ids = {message_id_key(r["message_id"]) for r in (office or {}).get("rows", [])
                      if r["outcome"] == "resend"}
        # A webhook is at-least-once by design (services/notify/notices.py): killed between the
        # receiver's 2xx and the recorded delivery, it is sent again with the same webhook-id, which a
        # Standard Webhooks receiver drops. Those redeliveries are measured (``webhook_redelivered``),
        # not counted as duplicates; any other extra copy (a mail twice, a webhook under another id) is.
        same_id_copies = other_id_copies = webhook_redelivered = 0
        for a in accepted:
            for channel, items, kind_of, ident in (("mail", mails_by[a.email], kind_of_mail, "message_id"),
                                                    ("webhook", hooks_by[a.hook], kind_of_hook, "idempotency_key")):
                per: dict[str, list[dict]] = defaultdict(list)
                for it in items:
                    per[kind_of(it)].append(it)
                for step in ("received", "reply"):
                    got = per.get(step, [])
                    if not got:
                        missing.append({"case_id": a.case_id, "channel": channel, "step": step})
                    elif len(got) > 1:
                        same, other, redelivered = extra_copies(channel, [g.get(ident) for g in got])
                        same_id_copies, other_id_copies = same_id_copies + same, other_id_copies + other
                        webhook_redelivered += redelivered
                        if same + other > redelivered:
                            dupes.append({"case_id": a.case_id, "channel": channel, "step": step,
                                          "copies": len(got), "distinct_ids": len(set(g.get(ident) for g in got))})
                extra = {k: len(v) for k, v in per.items() if k not in ("received", "reply")}
                if extra:
                    dupes.append({"case_id": a.case_id, "channel": channel, "unexpected_kinds": extra})
                if per.get("received") and per.get("reply"):
                    first_rec = min(x["at"] for x in per["received"])
                    first_rep = min(x["at"] for x in per["reply"])
                    if first_rep < first_rec:
                        resent = channel == "mail" and any(message_id_key(x.get("message_id")) in resent_ids
                                                           for x in per["received"])
                        (order_resent if resent else order).append(
                            {"case_id": a.case_id, "channel": channel,
                             "reply_before_received_s": round(first_rec - first_rep, 3)})

        # --- the ledger against the bus
        bus = await self.read_audited_topics()
        bus_ids = {e["id"]: e for e in bus}
        bus_redelivered = len(bus) - len(bus_ids)
        docs = await asyncio.to_thread(self.ledger_docs)
        seq = sorted(int(d["_id"]) for d in docs)
        gaps = sorted(set(range(1, seq[-1] + 1)) - set(seq)) if seq else []
        ledger_ids = Counter(d["event_id"] for d in docs)
        ledger_dup = {i: n for i, n in ledger_ids.items() if n > 1}
        not_in_ledger = [i for i in bus_ids if i not in ledger_ids]
        not_on_bus = [i for i in ledger_ids if i not in bus_ids]
        cases_incomplete = sorted({bus_ids[i]["subject"] for i in not_in_ledger if bus_ids[i]["subject"] in by_case})
        auditor = await self.auth(AUDITOR)
        try:
            v = await http.get(self.cfg.url("audit") + "/ledger/verify", headers=auditor, timeout=60)
            verify = v.json() if v.status_code == 200 else {"ok": False, "http": v.status_code, "body": v.text[:300]}
        except httpx.HTTPError as exc:
            verify = {"ok": False, "error": repr(exc)}
        try:
            h = await http.get(self.cfg.url("audit") + "/health", timeout=5)
            audit_health = {"http": h.status_code, "body": h.json() if h.headers.get("content-type", "").startswith(
                "application/json") else h.text[:300]}
        except httpx.HTTPError as exc:
            audit_health = {"http": None, "error": repr(exc)}
        cp = await self.latest_checkpoint(http)
        cp_after = False
        if cp:
            signed = datetime.fromisoformat(cp["signed_at"].replace("Z", "+00:00")).timestamp()
            cp_after = signed > last_kill_wall
        health_all = {s: await self.healthy_soon(http, s) for s in self.procs}

        never_accepted = [{"i": a.i, "error": a.error} for a in self.apps if not a.case_id]
        service_kills = [k for k in self.kills if not is_infra(k.target)]
        not_resumed = [f"{k.target}@{k.killed_at:.1f}s" for k in self.kills
                       if k.health_s is None and "killed again" not in k.note]

        inv = [
            ("shared tracking numbers (two applications, one number)", len(shared), 0),
            ("lost applications (201 but no case / no reply)", len(lost), 0),
            ("answers acknowledged (2xx) but not in the reply", len(acked_not_recorded), 0),
            ("duplicated replies (cases with >1 reply.issued)", len(dup_replies), 0),
            ("missing notices (case x step x channel)", len(missing), 0),
            ("duplicate notices at the sinks (extra copies)", same_id_copies + other_id_copies - webhook_redelivered, 0),
            ("notices out of order (replied before received)", len(order), 0),
            ("ledger gaps (missing seq)", len(gaps), 0),
            ("bus events not in the ledger", len(not_in_ledger), 0),
            ("events twice in the ledger", len(ledger_dup), 0),
            ("ledger entries not on the bus", len(not_on_bus), 0),
            ("ledger verify ok", bool(verify.get("ok")), True),
            ("audit /health 200", audit_health.get("http") == 200, True),
            ("checkpoint signed after the last kill", cp_after, True),
            ("checkpoint covers the whole ledger", bool(cp) and cp.get("tree_size") == len(seq), True),
            ("all services healthy at the end", all(health_all.values()), True),
            ("kills not resumed within the resume timeout", len(not_resumed), 0),
        ]
        still = (office or {}).get("still_uncertain")
        if office is not None:
            inv.append(("deliveries still uncertain after the office's resolution",
                        len(still) if still is not None else None, 0))
        invariants = [{"name": n, "value": v, "expected": e, "ok": v == e} for n, v, e in inv]
        return {
            "invariants": invariants,
            "ok": all(i["ok"] for i in invariants),
            "counts": {
                "applications": self.opts.n, "accepted": len(accepted),
                "accepted_201": sum(a.status == 201 for a in accepted),
                "accepted_200_replay": sum(a.status == 200 for a in accepted),
                "submission_attempts": sum(a.attempts for a in self.apps),
                "never_accepted": len(never_accepted),
                "tasks_seen": len(self.tasks), "duplicate_task_records": self.task_dupes,
                "cases_without_3_tasks_seen": len(tasks_missing),
                "answers_acknowledged": sum(t.acknowledged for t in self.tasks.values()),
                "answers_signed_off": sum(t.review_status == 200 for t in self.tasks.values()),
                "answer_attempts": sum(t.answer_attempts for t in self.tasks.values()),
                "replies_issued_cases": sum(1 for a in accepted if self.replies.get(a.case_id)),
                "reply_records_on_bus": sum(len(v) for v in self.replies.values()),
                "mails": len(self.mail.messages), "webhooks": len(self.hooks.requests),
                # killed between the commit and the recorded 250: never sent again blindly (notify's
                # at-most-once after the commit); each is for an officer to check with the mail server
                # ... and resolved by the harness as the OGI office does (Message-ID in the sink's log or not)
                "uncertain_mails": office["uncertain"] if office is not None else self._uncertain_mails(),
                "uncertain_resolved_sent": (office or {}).get("sent"),
                "uncertain_resolved_resent": (office or {}).get("resent"),
                "uncertain_resolved_delivered": (office or {}).get("delivered"),
                "uncertain_left_in_store": self._uncertain_mails(),
                "resent_notices_after_a_later_step": len(order_resent),
                "resent_same_id": same_id_copies, "duplicate_other_id": other_id_copies,
                "webhook_redelivered_same_id": webhook_redelivered,
                "burned_tracking_numbers": len(burned),
                "bus_events_distinct": len(bus_ids), "bus_records_redelivered_same_id": bus_redelivered,
                "ledger_entries": len(docs), "ledger_max_seq": seq[-1] if seq else 0,
                "service_kills": len(service_kills),
                "kills_by_target": dict(Counter(k.target for k in self.kills)),
                "kills_by_kind": dict(Counter(infra_kind(k.target) if is_infra(k.target)
                                              else split_instance(k.target)[0] for k in self.kills)),
                "kills_timed": dict(Counter(k.kind for k in self.kills)),
                "kills": len(self.kills),
            },
            "details": {
                "quiescence": quiescence,
                "shared_tracking_numbers": {tn: {"cases": sorted(tn_cases.get(tn, ())),
                                                 "mailed_to": sorted(tn_mail.get(tn, ()))} for tn in shared},
                "burned_tracking_numbers": burned[:50],
                "lost_applications": lost,
                "answers_acknowledged_not_recorded": acked_not_recorded[:100],
                "duplicated_replies": dup_replies,
                "missing_notices": [{**m, "notify_record": self._notice_record(m)} for m in missing[:200]],
                "duplicate_notices": dupes[:200],
                "notice_order_violations": order[:200],
                "resent_notices_after_a_later_step": order_resent[:200],
                "office": office,
                "still_uncertain": still or [],
                "ledger_gaps": gaps[:200],
                "not_in_ledger": not_in_ledger[:100],
                "cases_with_events_missing_from_ledger": cases_incomplete[:100],
                "ledger_duplicates": dict(list(ledger_dup.items())[:50]),
                "not_on_bus": not_on_bus[:50],
                "ledger_verify": verify,
                "audit_health": audit_health,
                "latest_checkpoint": cp and {k: cp[k] for k in ("tree_size", "signed_at") if k in cp},
                "last_kill_restart_s": last_kill,
                "services_healthy_at_end": health_all,
                "never_accepted": never_accepted[:50],
                "cases_without_3_tasks": dict(list(tasks_missing.items())[:50]),
                "not_resumed": not_resumed,
                "answer_errors": [asdict(t) for t in self.tasks.values() if t.error][:50],
            },
        }

    # -------------------------------------------------------------------- the OGI office
    async def notify_call(self, http: httpx.AsyncClient, method: str, path: str,
                          body: dict[str, Any] | None = None, tries: int = 5) -> httpx.Response | None:
        """notify's API with the OGI officer's token: any instance (one store), the next on a retry;
        retried on connection errors and 5xx (an instance restarting). The last response or None."""
        last = None
        for attempt in range(tries):
            with contextlib.suppress(httpx.HTTPError):
                last = await http.request(method, self.url_of("notify", attempt) + path, json=body,
                                          headers=await self.auth(OGI), timeout=10)
                if last.status_code < 500:
                    return last
            await asyncio.sleep(1.0)
        return last

    async def resolve_uncertain(self, http: httpx.AsyncClient) -> dict[str, Any]:
        """What the OGI office does after the load with the deliveries left uncertain: list them,
        look each Message-ID up in the sink's log (``office_findings``), resolve it ``sent`` or
        ``resend``, wait (``resolve_timeout``) until each resolved one is delivered, list again:
        what is still listed (``still_uncertain``, None if notify could not be asked) fails the run."""
        out: dict[str, Any] = {"uncertain": None, "sent": 0, "resent": 0, "delivered": 0, "rows": [],
                               "errors": [], "still_uncertain": None}
        listed = await self.notify_call(http, "GET", "/notices/uncertain")
        if listed is None or listed.status_code != 200:
            out["errors"].append(f"GET /notices/uncertain -> {listed.status_code if listed else 'no answer'}")
            return out
        rows = out["rows"] = office_findings(listed.json()["deliveries"], self.mail.messages)
        out["uncertain"] = len(rows)
        for row in (r for r in rows if r["outcome"]):
            note = SENT_NOTE if row["outcome"] == "sent" else RESEND_NOTE
            path = f"/notices/{row['notice_id']}/deliveries/{row['channel']}/resolution"
            r = await self.notify_call(http, "POST", path, {"outcome": row["outcome"], "note": note})
            row["http"] = r.status_code if r is not None else None
            if row["http"] in (200, 409):  # 409 on a retry: the earlier attempt was recorded (checked below)
                out["sent" if row["outcome"] == "sent" else "resent"] += 1
            else:
                out["errors"].append(f"{row['case_id']}: resolution -> {row['http']} {r.text[:200] if r else ''}")
        waiting = [r for r in rows if r.get("http") in (200, 409)]
        deadline = time.monotonic() + self.opts.resolve_timeout
        while waiting:
            for row in list(waiting):
                r = await self.notify_call(http, "GET", f"/cases/{row['case_id']}/notices")
                notice = next((n for n in (r.json()["notices"] if r is not None and r.status_code == 200 else [])
                               if n["notice_id"] == row["notice_id"]), None)
                row["status"] = notice["deliveries"].get(row["channel"], {}).get("status") if notice else None
                if row["status"] == "delivered":
                    waiting.remove(row)
                    out["delivered"] += 1
            if not waiting or time.monotonic() > deadline:
                break
            await asyncio.sleep(1.0)
        again = await self.notify_call(http, "GET", "/notices/uncertain")
        if again is not None and again.status_code == 200:
            out["still_uncertain"] = [{k: d.get(k) for k in ("case_id", "notice_id", "channel", "message_id")}
                                      for d in again.json()["deliveries"]]
        self.log(f"chaos: OGI office: {out['uncertain']} uncertain deliveries; resolved sent {out['sent']} "
                 f"(Message-ID in the sink's log), resend {out['resent']}; delivered {out['delivered']}; "
                 f"still uncertain {len(out['still_uncertain']) if out['still_uncertain'] is not None else '?'}"
                 + (f"; errors {out['errors']}" if out["errors"] else ""))
        return out

    def _uncertain_mails(self) -> int | None:
        from pymongo import MongoClient

        client = MongoClient(self.cfg.mongo_url, serverSelectionTimeoutMS=5000)
        try:
            return client["gongkai_notify"]["notices"].count_documents({"deliveries.email.status": "uncertain"})
        except Exception:  # noqa: BLE001 - a diagnostic only
            return None
        finally:
            client.close()

    def _notice_record(self, missing: dict[str, str]) -> list[dict[str, Any]]:
        """What notify's store says of a notice missing at the sinks: its status and each delivery's
        (pending, sending with its claim phase, uncertain - killed after the end of data, which by
        design waits for an officer - held, failed)."""
        from pymongo import MongoClient

        channel = "email" if missing["channel"] == "mail" else "webhook"
        client = MongoClient(self.cfg.mongo_url, serverSelectionTimeoutMS=5000)
        try:
            out = []
            for d in client["gongkai_notify"]["notices"].find({"case_id": missing["case_id"]}, {"outbox": 0}):
                delivery = (d.get("deliveries") or {}).get(channel) or {}
                out.append({"kind": d.get("kind"), "status": d.get("status"), "held": d.get("held"),
                            "next_at": str(d.get("next_at")), "delivery": {
                                k: str(v) for k, v in delivery.items() if k in (
                                    "status", "attempts", "claim", "reason", "last_error", "resumed_at")}})
            return out
        except Exception as exc:  # noqa: BLE001 - a diagnostic only
            return [{"error": repr(exc)}]
        finally:
            client.close()

    def _intake_apps(self) -> list[dict[str, Any]]:
        from pymongo import MongoClient

        client = MongoClient(self.cfg.mongo_url, serverSelectionTimeoutMS=5000)
        try:
            return list(client["gongkai_intake"]["applications"].find({}, {"_id": 1, "tracking_number": 1}))
        finally:
            client.close()

    # -------------------------------------------------------------------- resume figures
    def resume_summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for svc in (*KILLABLE, WEB):
            every = [k for k in self.kills if not is_infra(k.target) and split_instance(k.target)[0] == svc]
            if not every and svc == WEB:
                continue
            ks = [k for k in every if "overlapped" not in k.note]
            with_work = [k for k in ks if (k.lag_at_restart or 0) > 0]
            out[svc] = {
                "kills": len(every),
                "overlapped_infra_outage": len(every) - len(ks),
                "health_ms": summary_ms([k.health_s for k in ks if k.health_s is not None]),
                "first_event_ms_backlog": summary_ms([k.first_event_s for k in with_work if k.first_event_s is not None]),
                "first_event_ms_all": summary_ms([k.first_event_s for k in ks if k.first_event_s is not None]),
                "no_event_within_timeout": 0 if svc == WEB else sum(
                    k.first_event_s is None and "killed again" not in k.note for k in ks),
                "killed_again_before_resuming": sum("killed again" in k.note for k in ks),
                "first_http_2xx_ms": summary_ms([k.first_http_s for k in ks if k.first_http_s is not None]),
            }
        for name in INFRA:
            out[name] = [{"target": k.target, "infra_ready_s": k.infra_ready_s, "all_services_healthy_s": k.health_s,
                          "all_services_consuming_s": k.first_event_s, "per_service": k.per_service}
                         for k in self.kills if is_infra(k.target) and infra_kind(k.target) == name]
        return out

    # -------------------------------------------------------------------- the whole run
    async def execute(self) -> dict[str, Any]:
        inbox = await assigned_consumer(self.cfg.kafka_bootstrap, [topics.department_inbox(d).name for d in DEPTS], 60)
        watch = await assigned_consumer(self.cfg.kafka_bootstrap,
                                        [topics.REPLIES_ISSUED.name, topics.APPLICATIONS_RECEIVED.name], 60)
        for who in [OGI, AUDITOR, *(f"{d}-{r}" for d in DEPTS for r in ("officer", "reviewer"))]:
            await self.auth(who)  # fetch (and cache) every token before the chaos
        limits = httpx.Limits(max_connections=self.opts.submit_concurrency + self.opts.answer_concurrency + 16)
        http = httpx.AsyncClient(limits=limits)
        self.http, self.loop = http, asyncio.get_running_loop()
        self.mail.before_reply = self.on_mail_data
        loops = [asyncio.create_task(self.inbox_loop(inbox, http), name="inbox"),
                 asyncio.create_task(self.replies_loop(watch), name="replies")]
        try:
            self.t0 = time.monotonic()
            head, tail = self.apps[:len(self.apps) - self.n_tail], self.apps[len(self.apps) - self.n_tail:]
            submitter = asyncio.create_task(self.submit_all(http, head, max(1.0, 0.8 * self.opts.duration)))
            chaos = asyncio.create_task(self.chaos(http))
            await asyncio.gather(submitter, chaos)
            chaos_end = self.now()
            self.log(f"chaos: done at t={chaos_end:.1f}s ({len(self.kills)} kills); "
                     f"{sum(bool(a.case_id) for a in self.apps)}/{len(head)} accepted; {len(tail)} more "
                     f"applications after the last kill; waiting for quiescence")
            # The last few applications go in after the last kill: the whole pipeline (and the
            # ledger's checkpoints) must work after it.
            await self.submit_all(http, tail, 2.0)
            for lp in loops:
                if lp.done() and lp.exception():
                    raise ChaosError(f"consumer loop {lp.get_name()} died: {lp.exception()!r}")
            quiet = await self.quiesce(http)
            self.log(f"chaos: quiescence: {quiet['reason']} after {quiet['seconds']:.1f} s")
            await asyncio.gather(*self.measuring, return_exceptions=True)
            office = await self.resolve_uncertain(http)
            if office["sent"] or office["resent"]:  # their notice.delivered: the ledger and its checkpoint
                office["quiescence"] = await self.quiesce(http)
                self.log(f"chaos: quiescence after the office's resolutions: {office['quiescence']['reason']} "
                         f"after {office['quiescence']['seconds']:.1f} s")
            self.first_http_after_restarts()
            self.mark_overlaps()
            await asyncio.sleep(3)  # room for a late duplicate
            result = await self.check(http, quiet, office)
            result["timing"] = {"chaos_window_s": chaos_end, "quiescence_s": quiet["seconds"],
                                "total_s": self.now()}
            result["resume"] = self.resume_summary()
            result["kills"] = [asdict(k) for k in self.kills]
            return result
        finally:
            self.mail.before_reply = None
            for lp in loops:
                lp.cancel()
            for t in list(self.background):
                t.cancel()
            with contextlib.suppress(BaseException):
                await asyncio.gather(*loops, *self.background, return_exceptions=True)
            await http.aclose()
            with contextlib.suppress(Exception):
                await inbox.stop()
            with contextlib.suppress(Exception):
                await watch.stop()


# ------------------------------------------------------------------------------------ driver
def run(cfg: StackConfig, opts: Options, log: Any = print, keep: bool = False) -> dict[str, Any]:
    """Start the private stack, run the chaos, check the invariants, tear down. Returns the result
    (``result["ok"]``: every invariant held). Raises ChaosError when the run itself fails."""
    busy = [p for p in stack_ports(cfg) if port_in_use(p)]
    if busy:
        raise ChaosError(f"ports already in use: {busy} (another chaos run?)")
    stack = Stack(cfg)
    mail = hooks = None
    run_id = uuid.uuid4().hex[:6]
    res: dict[str, Any] = {"run_id": run_id, "seed": opts.seed, "options": asdict(opts),
                           "stack": {"run_dir": str(cfg.run_dir), "kafka": cfg.kafka_bootstrap, "store": cfg.mongo_url,
                                     "http": f"{cfg.port('intake')}-{cfg.port('web')}", "keycloak": cfg.issuer},
                           "machine": {"cpus": os.cpu_count(),
                                       "loadavg_before": " ".join(f"{x:.2f}" for x in os.getloadavg())}}
    ok = False
    try:
        t0 = time.perf_counter()
        log(f"chaos: starting private stack in {cfg.run_dir} (seed {opts.seed}, n {opts.n}, kills {opts.kills} "
            f"+ store x{opts.store_kills} + broker x{opts.broker_kills}) ...")
        mail = MailSink(port=cfg.smtp_port).start()
        hooks = WebhookSink(port=cfg.webhook_port).start()
        if not hooks.server.started:
            raise ChaosError(f"webhook sink did not start on :{cfg.webhook_port}")
        try:
            stack.up(with_sinks=False)
        except Exception as exc:  # noqa: BLE001
            raise ChaosError(f"stack did not start: {exc!r}") from exc
        res["stack"]["startup_seconds"] = time.perf_counter() - t0
        log(f"chaos: stack healthy after {res['stack']['startup_seconds']:.1f} s")

        async def body() -> None:
            res["raw_broker_before"] = await raw_broker_bench(cfg.kafka_bootstrap, opts.raw_roundtrips,
                                                              opts.raw_pipelined, 1024, timeout=60)
            log(f"chaos: bare broker round trip p50 {res['raw_broker_before']['roundtrip_ms']['p50']:.2f} ms; "
                f"load and chaos for {opts.duration:.0f} s ...")
            r = Run(stack, mail, hooks, opts, run_id, log)
            res.update(await r.execute())
            res["raw_broker_after"] = await raw_broker_bench(cfg.kafka_bootstrap, opts.raw_roundtrips,
                                                             opts.raw_pipelined, 1024, timeout=60)

        asyncio.run(body())
        res["wall_seconds"] = time.perf_counter() - t0  # start-up to checks done (teardown not included)
        ok = bool(res.get("ok"))  # the logs of a run whose invariants failed are kept
        return res
    finally:
        prev = signal.signal(signal.SIGTERM, signal.SIG_IGN)  # do not interrupt the teardown
        try:
            stack.down()
        except Exception as exc:  # noqa: BLE001
            log(f"chaos: WARNING: teardown failed: {exc!r}")
        for sink in (hooks, mail):
            if sink is not None:
                with contextlib.suppress(Exception):
                    sink.stop()
        if ok and not keep:
            shutil.rmtree(cfg.run_dir, ignore_errors=True)
        else:
            log(f"chaos: run dir kept: {cfg.run_dir}")
        signal.signal(signal.SIGTERM, prev)


def _ms(s: dict[str, float]) -> str:
    if not s or not s.get("count"):
        return "        -"
    return f"p50 {s['p50']:7.0f}  max {s['max']:7.0f}  (n={s['count']})"


def report(res: dict[str, Any]) -> str:
    out = ["=" * 100, f"Gongkai chaos run {res['run_id']} (seed {res['seed']})", "=" * 100]
    c = res["counts"]
    tm = res["timing"]
    out.append(f"machine: {res['machine']['cpus']} CPUs, load before {res['machine']['loadavg_before']}; "
               f"stack start-up {res['stack']['startup_seconds']:.1f} s; chaos window {tm['chaos_window_s']:.1f} s, "
               f"quiescence {tm['quiescence_s']:.1f} s ({res['details']['quiescence']['reason']}); "
               f"whole run {res.get('wall_seconds', float('nan')):.0f} s")
    out.append(f"kills: {c['kills']} in all; by kind {c['kills_by_kind']}; timed {c['kills_timed']}")
    out.append(f"       by process {c['kills_by_target']}")
    out.append(f"load: {c['applications']} applications, {c['accepted']} accepted ({c['accepted_201']} x 201, "
               f"{c['accepted_200_replay']} x 200 replay, {c['submission_attempts']} POSTs), never accepted "
               f"{c['never_accepted']}; tasks seen {c['tasks_seen']} (duplicate records {c['duplicate_task_records']}), "
               f"answers acknowledged {c['answers_acknowledged']}, signed off {c['answers_signed_off']} "
               f"({c['answer_attempts']} answer POSTs)")
    out.append(f"      replies issued for {c['replies_issued_cases']} cases ({c['reply_records_on_bus']} records), "
               f"mails {c['mails']}, webhooks {c['webhooks']} (resent with the same id {c['resent_same_id']}, "
               f"other id {c['duplicate_other_id']}; of them webhooks redelivered with their webhook-id, which a "
               f"Standard Webhooks receiver drops: {c.get('webhook_redelivered_same_id', 0)}); "
               f"burned tracking numbers {c['burned_tracking_numbers']}")
    out.append(f"      e-mails left uncertain (killed between the commit and the recorded 250; not sent again "
               f"blindly): {c.get('uncertain_mails')}; resolved as the OGI office does (Message-ID in the sink's "
               f"log?): sent {c.get('uncertain_resolved_sent')}, resend {c.get('uncertain_resolved_resent')}, "
               f"delivered {c.get('uncertain_resolved_delivered')}; "
               f"left uncertain {c.get('uncertain_left_in_store')}"
               f"; resent after a later step {c.get('resent_notices_after_a_later_step')}")
    out.append(f"      bus events {c['bus_events_distinct']} distinct (+{c['bus_records_redelivered_same_id']} "
               f"records with a repeated id); ledger entries {c['ledger_entries']} (max seq {c['ledger_max_seq']})")
    out.append("")
    out.append(f"  {'INVARIANT':60} {'value':>8} {'expected':>9}  result")
    for i in res["invariants"]:
        out.append(f"  {i['name']:60} {str(i['value']):>8} {str(i['expected']):>9}  {'ok' if i['ok'] else 'FAIL'}")
    out.append("")
    out.append("TIME TO RESUME after a service kill (from the restart; ms; 'idle': no event within the resume timeout,")
    out.append("  're-killed': killed again before it resumed, 'in outage': a store/broker kill fell into it - both")
    out.append("  left out of the figures; 'first HTTP 2xx' includes waiting for the load's next request):")
    out.append(f"  {'service':8} {'kills':>5}  {'/health 200':34} {'first event (backlog > 0)':34} "
               f"{'first event (all)':34} idle  re-killed  in outage  first HTTP 2xx")
    for svc in (*KILLABLE, WEB):
        if svc not in res["resume"]:
            continue
        r = res["resume"][svc]
        out.append(f"  {svc:8} {r['kills']:>5}  {_ms(r['health_ms']):34} {_ms(r['first_event_ms_backlog']):34} "
                   f"{_ms(r['first_event_ms_all']):34} {r['no_event_within_timeout']:>4}  "
                   f"{r['killed_again_before_resuming']:>9}  {r['overlapped_infra_outage']:>9}  "
                   f"{_ms(r['first_http_2xx_ms'])}")
    for name in INFRA:
        for k in res["resume"].get(name, []):
            per = ", ".join(f"{s} {v['first_event_s']:.1f}" if v.get("first_event_s") is not None else f"{s} -"
                            for s, v in (k["per_service"] or {}).items())
            fmt = (lambda x: f"{x:.1f} s" if x is not None else "never")  # noqa: E731
            out.append(f"  {k.get('target', name)} kill: ready {fmt(k['infra_ready_s'])} after the restart command; every service "
                       f"healthy {fmt(k['all_services_healthy_s'])}; consuming {fmt(k['all_services_consuming_s'])} "
                       f"(first event per service, s: {per})")
    for key, title in (("raw_broker_before", "before"), ("raw_broker_after", "after")):
        raw = res.get(key)
        if raw:
            rt = raw["roundtrip_ms"]
            out.append(f"BARE BROKER {title} the chaos (aiokafka, acks=all, 1 KiB, 1 partition): round trip p50 "
                       f"{rt['p50']:.2f} ms p99 {rt['p99']:.2f} ms (n={rt['count']}); pipelined "
                       f"{raw['pipelined_produce_consume_msgs_per_s']:,.0f} msgs/s produce+consume")
    d = res["details"]
    for name, key in (("shared tracking numbers", "shared_tracking_numbers"), ("lost", "lost_applications"),
                      ("acknowledged, not recorded", "answers_acknowledged_not_recorded"),
                      ("duplicated replies", "duplicated_replies"), ("missing notices", "missing_notices"),
                      ("duplicate notices", "duplicate_notices"), ("out of order", "notice_order_violations"),
                      ("still uncertain", "still_uncertain"),
                      ("ledger gaps", "ledger_gaps"), ("not in ledger", "not_in_ledger")):
        if d.get(key):
            items = d[key]
            sample = list(items.items())[:3] if isinstance(items, dict) else items[:3]
            out.append(f"  e.g. {name}: {json.dumps(sample, ensure_ascii=False, default=str)[:400]}")
    if d.get("lost_applications") and d.get("answer_errors"):
        out.append(f"  answer errors: {json.dumps(d['answer_errors'][:4], ensure_ascii=False, default=str)[:900]}")
    if not d["ledger_verify"].get("ok"):
        out.append(f"  ledger verify: {json.dumps(d['ledger_verify'], ensure_ascii=False)[:300]}")
    if d["audit_health"].get("http") != 200:
        out.append(f"  audit health: {json.dumps(d['audit_health'], ensure_ascii=False)[:300]}")
    out.append(f"RESULT: {'every invariant held' if res['ok'] else 'INVARIANTS FAILED'}")
    out.append("=" * 100)
    return "\n".join(out)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=300, help="applications (default 300)")
    ap.add_argument("--seed", type=int, default=1, help="seed of the kill schedule (default 1)")
    ap.add_argument("--kills", type=int, default=90, help="service and web SIGKILLs at random times (default 90)")
    ap.add_argument("--store-kills", type=int, default=2, help="store SIGKILLs (default 2)")
    ap.add_argument("--broker-kills", type=int, default=3, help="broker (cluster node) SIGKILLs (default 3)")
    ap.add_argument("--idp-kills", type=int, default=2, help="identity provider SIGKILLs (default 2)")
    ap.add_argument("--release-kills", type=int, default=4, help="reply kills during a release (default 4)")
    ap.add_argument("--delivery-kills", type=int, default=4, help="notify kills during a delivery (default 4)")
    ap.add_argument("--checkpoint-kills", type=int, default=4, help="audit kills at a checkpoint (default 4)")
    ap.add_argument("--replicas", type=int, default=2, help="instances of intake/routing/reply/notify/web (default 2)")
    ap.add_argument("--single-broker", action="store_true", help="the single broker instead of the 3-node cluster")
    ap.add_argument("--duration", type=float, default=300.0, help="chaos window, s (default 300)")
    ap.add_argument("--stall", type=float, default=90.0, help="quiescence: give up after this long unchanged, s")
    ap.add_argument("--base-port", type=int, default=30000, help="port range of the private stack (default 30000)")
    ap.add_argument("--json", type=Path, help="also write the results as JSON to this file")
    ap.add_argument("--keep", action="store_true", help="keep the run dir (logs) after a success")
    args = ap.parse_args(argv)
    opts = Options(n=args.n, seed=args.seed, kills=args.kills, duration=args.duration, stall=args.stall,
                   store_kills=args.store_kills, broker_kills=args.broker_kills, idp_kills=args.idp_kills,
                   release_kills=args.release_kills, delivery_kills=args.delivery_kills,
                   checkpoint_kills=args.checkpoint_kills, cluster=not args.single_broker, replicas=args.replicas)
    cfg = chaos_config(Path(tempfile.mkdtemp(prefix="gk-chaos-")), args.base_port, cluster=opts.cluster,
                       replicas=opts.replicas)

    def on_term(signum, frame):  # noqa: ANN001, ARG001
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)
    # The harness's own Kafka clients log every failed reconnect while the broker is down.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    try:
        res = run(cfg, opts, log=lambda m: print(m, flush=True), keep=args.keep)
    except ChaosError as exc:
        print(f"chaos: ERROR: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("chaos: interrupted", file=sys.stderr)
        return 130
    print(report(res), flush=True)
    if args.json:
        args.json.write_text(json.dumps(res, indent=2, ensure_ascii=False, default=str))
        print(f"chaos: JSON written to {args.json}")
    return 0 if res["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
