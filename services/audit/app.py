"""Audit service: records every event of every shared topic in the append-only ledger and serves
a case's timeline."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, HTTPException
from faststream import AckPolicy
from faststream.kafka.annotations import KafkaMessage
from pydantic import ValidationError

from contracts import topics
from contracts.envelope import decode
from contracts.events import REGISTRY
from services.audit.ledger import Ledger
from services.audit.settings import AuditSettings
from services.audit.timeline import causal_order
from servicekit.consumer import send_to_dlt
from servicekit.metrics import EVENTS_CONSUMED
from servicekit.runtime import ServiceRuntime


def build(settings: AuditSettings | None = None) -> FastAPI:
    settings = settings or AuditSettings()
    rt = ServiceRuntime("audit", settings.db_name)
    ledger = Ledger(rt.db)
    rt.on_setup(ledger.setup)

    # The ledger needs the exact bytes and the record's position, so this subscriber reads the
    # raw record itself rather than going through servicekit.consumer.subscribe.
    @rt.broker.subscriber(pattern=topics.AUDITED_PATTERN, group_id="audit", auto_offset_reset="earliest",
                          ack_policy=AckPolicy.NACK_ON_ERROR, title="ledger-append")
    async def record(msg: KafkaMessage) -> None:
        rec = msg.raw_message
        raw = rec.value or b""
        try:
            event = decode(raw, REGISTRY)
        except (ValidationError, ValueError) as exc:
            await send_to_dlt(rt.broker, rec, f"invalid event: {exc}", "audit")
            return
        seq = await ledger.append(event, raw, rec.topic, rec.partition, rec.offset)
        EVENTS_CONSUMED.labels(rec.topic, "ok" if seq else "duplicate").inc()

    app = rt.app("Gongkai audit", "审计台账、一案一档时间线")

    @app.get("/cases/{case_id}/timeline", tags=["cases"])
    async def timeline(case_id: str) -> dict[str, Any]:
        entries = await ledger.case_events(case_id)
        if not entries:
            raise HTTPException(404, "未找到该案件的记录")
        ordered = causal_order([{**e, "id": e["event_id"]} for e in entries])
        return {"case_id": case_id, "events": [
            {"seq": e["_id"], "id": e["event_id"], "type": e["type"], "source": e["source"],
             "time": e["time"].isoformat(), "causationid": e["causationid"], "topic": e["topic"]}
            for e in ordered]}

    @app.get("/ledger/verify", tags=["ledger"])
    async def verify() -> dict[str, Any]:
        v = await ledger.verify()
        return {"ok": v.ok, "checked": v.checked, "first_bad_seq": v.first_bad_seq, "reason": v.reason}

    app.state.runtime = rt
    return app
