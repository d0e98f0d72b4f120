"""Audit service: records every event of every shared topic in the append-only ledger (a Merkle
tree, RFC 9162), signs and publishes checkpoints, serves proofs, case timelines and case files."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import socket
import sys
import time

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from prometheus_client import Gauge
from faststream import AckPolicy
from faststream.kafka.annotations import KafkaMessage
from pydantic import ValidationError

from contracts import topics
from contracts.envelope import decode
from contracts.events import REGISTRY
from contracts.events_ledger import CASES_REMEDIES, LEDGER_CHECKPOINTS, CheckpointSigned, RemedyRecorded
from services.audit import keys
from services.audit.api_cases import add_cases_routes
from services.audit.api_ledger import add_ledger_routes
from services.audit.api_quarterly import add_quarterly_routes
from services.audit.api_remedies import add_remedies_routes
from services.audit.api_statistics import add_statistics_routes
from services.audit.checkpoint_log import CheckpointLog, Signer
from services.audit.ledger import Ledger, LedgerFenced, LedgerHealed, LedgerUnusable
from services.audit.repair import move_aside
from services.audit.resume import ResumeFromLedger, rewind
from services.audit.remedies import RemedyStore
from services.audit.settings import AuditSettings
from servicekit.consumer import reason_of, send_to_dlt
from servicekit.kafka import ensure_topics, membership, offset_commits
from servicekit.lease import Lease
from servicekit.metrics import EVENTS_CONSUMED
from servicekit.oidc import officer
from servicekit.periodic import every
from servicekit.ratelimit import AttemptLimiter, MongoWindowStorage
from servicekit.runtime import ServiceRuntime

# What an operator watches (docs/operations.md, "What to watch"): the ledger grows, checkpoints follow.
LEDGER_SIZE = Gauge("gongkai_audit_ledger_size", "Entries in the ledger, as this process knows it")
LEADER = Gauge("gongkai_audit_leader", "1 if this process holds the ledger writer's lease, 0 for a standby")
CHECKPOINT_SIZE = Gauge("gongkai_audit_checkpoint_tree_size", "Entries covered by the latest signed checkpoint")
CHECKPOINT_SIGNED = Gauge("gongkai_audit_checkpoint_signed_timestamp_seconds",
                          "When the latest checkpoint was signed (Unix time)")

# Failed query-code attempts (servicekit.ratelimit): the one collection of the audit database that
# is updated in place, and it is no part of the ledger (deploy/production/audit-store-role.md).
ATTEMPTS = "query_code_attempts"
# The ledger writer's lease (servicekit.lease; updated in place like the attempts, no part of the
# ledger): one audit process appends, any other is its standby (docs/reliability.md).
LEASES = "leases"
WRITER_LEASE = "ledger-writer"


def build(settings: AuditSettings | None = None) -> FastAPI:
    settings = settings or AuditSettings()
    rt = ServiceRuntime("audit", settings.db_name)
    production = rt.common.env == "production"
    # Production: a query-code secret of its own and a signing key the operator holds (given, or a
    # key file); a key generated into the run directory is for development only.
    rt.require_secrets({"AUDIT_QUERY_CODE_SECRET": settings.query_code_secret,
                        "AUDIT_SIGNING_KEY (or AUDIT_KEY_FILE)": settings.signing_key or settings.key_file})
    ledger = Ledger(rt.db, repair=move_aside, head_check_seconds=settings.ledger_head_check_seconds,
                    fence_check_seconds=settings.ledger_fence_check_seconds)
    # Leader and standby: the process that holds the lease appends (its term fences the ledger);
    # another serves reads at once and takes over when the lease expires. A lone instance takes
    # the free lease (or its own earlier incarnation's) at start, without waiting.
    holder = rt.common.kafka_instance_id or f"audit-{socket.gethostname()}-{os.getpid()}"
    lease = Lease(rt.db[LEASES], WRITER_LEASE, holder, settings.lease_seconds)
    role = {"role": "leader"}

    async def claim_lease() -> None:
        if await lease.acquire():
            await ledger.fence(lease.term, holder)
            role["role"] = "leader"
        else:
            ledger.stand_by()
            role["role"] = "standby"
            rt.log.info("ledger_standby", holder=holder, lease=await lease.current())

    rt.on_setup(claim_lease)  # before the ledger loads: a standby loads read only
    rt.on_setup(ledger.setup)
    rt.health_fields(lambda: {"role": role["role"]})
    LEADER.set_function(lambda: 1.0 if role["role"] == "leader" else 0.0)
    LEDGER_SIZE.set_function(lambda: float(ledger.size or 0))

    def step_down(why: str) -> None:
        # The lease is lost: nothing more is written by this process; it exits non-zero and its
        # supervisor starts it again (as a standby, unless the lease is free by then).
        ledger.depose(why)
        rt.log.critical("ledger_writer_stepped_down", reason=why, term=lease.term, holder=holder)
        sys.stdout.flush()
        os._exit(3)

    @rt.gate
    async def lead() -> None:
        if not ledger.standby:
            rt.log.info("ledger_leader", holder=holder, term=lease.term)
            return
        poll = min(1.0, settings.lease_seconds / 3)
        waiting = time.monotonic()
        while True:
            try:
                await ledger.follow()
            except Exception as exc:  # noqa: BLE001 - store down: again
                rt.log.warning("ledger_follow_failed", error=repr(exc))
            try:
                if await lease.acquire():
                    await ledger.take_over(lease.term, holder)
                    role["role"] = "leader"
                    rt.log.info("ledger_leader", holder=holder, term=lease.term, took_over=True,
                                standby_seconds=round(time.monotonic() - waiting, 3))
                    return
            except Exception as exc:  # noqa: BLE001 - store down, or a higher term: wait on
                rt.log.warning("ledger_take_over_failed", error=repr(exc))
            await asyncio.sleep(poll)

    @rt.loop
    async def keep_lease() -> None:
        period = settings.lease_seconds / 3
        try:
            while True:
                await asyncio.sleep(period)
                try:
                    if not await asyncio.wait_for(lease.renew(), timeout=period):
                        step_down("the lease was taken by another writer")
                except Exception as exc:  # noqa: BLE001 - store unreachable: until the lease may expire
                    rt.log.warning("ledger_lease_renew_failed", error=repr(exc))
                    if time.monotonic() + period >= lease.valid_until:
                        step_down(f"the lease could not be renewed before it expires ({exc!r})")
        except asyncio.CancelledError:  # clean shutdown: free it, the standby takes over at once
            ledger.depose("shutting down")
            with contextlib.suppress(Exception):
                await asyncio.wait_for(lease.release(), timeout=2)
            raise
    # A ledger that fails its start-up check and cannot heal says why on /health (503) and in the
    # log, appends nothing, and keeps serving what it holds (services/audit/ledger.py).
    rt.health_check(lambda: {"ledger": ledger.problem} if ledger.problem else None)
    attempts = MongoWindowStorage(collection=rt.db[ATTEMPTS])
    rt.on_setup(attempts.setup)
    limiter = AttemptLimiter(attempts, settings.query_code_attempts, namespace="query-code")

    key, key_origin = keys.load_signing_key(settings.signing_key, settings.key_file or None, create=not production)
    signer = Signer(key, settings.origin or f"gongkai.audit/{rt.common.agency_code}")
    cplog = CheckpointLog(rt.db, ledger, signer)
    rt.log.info("ledger_signing_key", source=key_origin, origin=signer.origin, key_id=signer.key_id,
                public_key=keys.public_b64(key.public_key()))
    rt.publishes(LEDGER_CHECKPOINTS.name, CheckpointSigned)
    # Review and litigation records: an outbox of their own (the ledger is insert-only); the
    # ledger records the published events like any other.
    remedies = RemedyStore(rt.db)
    rt.on_setup(remedies.setup)
    relay = rt.outbox(remedies.docs)
    rt.publishes(CASES_REMEDIES.name, RemedyRecorded)

    # The ledger needs the exact bytes and the record's position, so this subscriber reads the
    # raw record itself rather than going through servicekit.consumer.subscribe. A record is
    # committed only after its append returned (batched: servicekit.kafka.OffsetCommits); where to
    # read from is the ledger's to say (services/audit/resume.py): on every assignment and after a heal.
    resume = ResumeFromLedger(ledger)
    commits = offset_commits(rt.broker, "audit:ledger-append", rt.common.kafka_commit_interval_ms / 1000,
                             listener=resume)
    subscriber = rt.broker.subscriber(pattern=topics.AUDITED_PATTERN, group_id=topics.scoped("audit"), auto_offset_reset="earliest",
                                      ack_policy=AckPolicy.MANUAL, title="ledger-append", listener=commits,
                                      **membership(rt.common, "audit:ledger-append"))
    resume.subscriber = subscriber

    async def record(msg: KafkaMessage):  # noqa: ANN202 - bool (no annotation: FastStream reads the signature)
        # True when the record is done with (recorded, skipped, dead-lettered): it may be committed.
        rec = msg.raw_message
        if rec.topic == LEDGER_CHECKPOINTS.name:
            return True  # the ledger's own checkpoints commit to it; they are not leaves of it
        raw = rec.value or b""
        try:
            event = decode(raw, REGISTRY)
        except (ValidationError, ValueError) as exc:
            await send_to_dlt(rt.broker, rec, f"invalid event: {reason_of(exc)}", "audit")
            return True
        try:
            seq = await ledger.append(event, raw, rec.topic, rec.partition, rec.offset)
        except LedgerFenced as exc:
            step_down(str(exc))  # a higher term took over: this record is the new writer's
            return False
        except LedgerHealed:
            # The store lost (or changed) entries: read again from the last durable one. The
            # seek covers this record's partition too, and commits the rewound positions (what
            # was done before them is no longer to be committed).
            commits.forget()
            await rewind(msg.consumer, ledger)
            return False
        except LedgerUnusable:
            # Nothing is appended until the operator resolves it (/health says why): wait, then
            # read this record again (not committed).
            await asyncio.sleep(settings.blocked_retry_seconds)
            await msg.nack()
            return False
        EVENTS_CONSUMED.labels(rec.topic, "ok" if seq else "duplicate").inc()
        return True

    @subscriber
    @functools.wraps(record)
    async def acknowledged(msg: KafkaMessage) -> None:
        # Acknowledged by hand: a record done with goes to the batched commit; one that failed is
        # read again (nack seeks back to it), and nothing after it is committed meanwhile.
        try:
            if await record(msg):
                await commits.done(msg)
        except asyncio.CancelledError:
            raise
        except Exception:
            await msg.nack()
            raise

    @rt.loop
    async def rewind_after_heal() -> None:
        # A heal found outside an append (e.g. by the check before signing) rewinds the consumer
        # at once, so the lost events are read again even if no new record comes in.
        while True:
            await ledger.rewind_wanted.wait()
            consumer = subscriber.consumer
            if not ledger.rewind_pending:
                ledger.rewind_wanted.clear()
                continue
            if consumer is None:  # not started yet: it seeks on assignment anyway
                await asyncio.sleep(1)
                continue
            try:
                commits.forget()
                await rewind(consumer, ledger)
            except Exception as exc:  # noqa: BLE001 - e.g. a rebalance in progress: again soon
                rt.log.warning("ledger_rewind_failed", error=repr(exc))
                await asyncio.sleep(1)

    async def sign_checkpoint() -> None:
        doc, created = await cplog.sign_now(allow_empty=False, full_check=True)
        if created and doc is not None:
            rt.log.info("checkpoint_signed", tree_size=doc["tree_size"], root_hash=doc["root_hash"])
        latest = doc if created and doc is not None else await cplog.latest()
        if latest is not None:
            CHECKPOINT_SIZE.set(latest["tree_size"])
            CHECKPOINT_SIGNED.set(latest["signed_at"].timestamp())

    @rt.loop
    async def sign_checkpoints() -> None:
        # A round that fails (store down) is logged as checkpoint_failed; the next comes as usual.
        await every(settings.checkpoint_seconds, sign_checkpoint, name="checkpoint", log=rt.log,
                    first_after=settings.checkpoint_seconds)

    @rt.loop
    async def publish_checkpoints() -> None:
        await rt.kafka.connected.wait()
        while True:
            try:
                await ensure_topics(rt.common.kafka_bootstrap, [LEDGER_CHECKPOINTS])
                break
            except Exception as exc:  # noqa: BLE001 - broker down: retry
                rt.log.warning("checkpoint_topic_unavailable", error=repr(exc))
                await asyncio.sleep(settings.publish_retry_seconds)

        # Then when a checkpoint is signed (one signed while a round runs starts the next at once),
        # or every publish_retry_seconds (a failed round, broker or store down, is logged as
        # checkpoint_publish_failed).
        await every(settings.publish_retry_seconds, lambda: cplog.publish_pending(rt.kafka.publish_many),
                    name="checkpoint_publish", log=rt.log, wake=cplog.signed)

    app = rt.app("Gongkai audit", "审计台账（默克尔树、签名检查点、证明）、一案一档、时间线")

    @app.exception_handler(LedgerFenced)
    async def ledger_fenced(_: Request, __: LedgerFenced) -> JSONResponse:
        return JSONResponse({"detail": "本实例为台账的备用实例，不记录、不签署检查点；请稍后重试或向主实例请求"},
                            status_code=503)

    @app.exception_handler(LedgerUnusable)
    async def ledger_unusable(_: Request, exc: LedgerUnusable) -> JSONResponse:
        return JSONResponse({"detail": f"台账未通过启动检查，暂停记录：{exc}"}, status_code=503)

    # Routes registered on the app itself (FastAPI includes routers lazily, and the access table
    # check and the OpenAPI codes enumerate the app's own routes).
    add_ledger_routes(app, ledger, cplog)
    add_cases_routes(app, ledger, cplog, settings.query_code_secret, limiter, reply_url=settings.reply_url)
    add_statistics_routes(app, ledger, rt.common.agency_code)
    add_quarterly_routes(app, ledger, rt.common.agency_code, settings)
    add_remedies_routes(app, ledger, remedies, officer, relay.wake)
    app.state.runtime = rt
    app.state.ledger = ledger
    app.state.checkpoints = cplog
    app.state.limiter = limiter
    app.state.lease = lease
    return app
