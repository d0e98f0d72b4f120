"""Notify service: tells applicants that their application was received and that the reply was
issued, by e-mail (SMTP) and webhook; records each delivery; retries; never sends a notice twice."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import FastAPI

from contracts import topics
from contracts.envelope import CloudEvent, deterministic_id
from contracts.events import ApplicationReceived, ContactRegistered, NoticeDelivered, ReplyIssued, registry_of
from contracts.vocabulary import NoticeKind
from services.notify import messages
from services.notify.notices import Dispatcher, NoticeStore
from services.notify.senders import SmtpSender, WebhookSender
from services.notify.settings import NotifySettings
from servicekit.consumer import subscribe
from servicekit.runtime import ServiceRuntime


def build(settings: NotifySettings | None = None) -> FastAPI:
    settings = settings or NotifySettings()
    rt = ServiceRuntime("notify", settings.db_name)
    store = NoticeStore(rt.db)
    rt.on_setup(store.setup)
    relay = rt.outbox(store.notices)
    rt.publishes(topics.NOTICES_DELIVERED.name, NoticeDelivered)
    webhook = WebhookSender(settings.webhook_timeout)
    dispatcher = Dispatcher(
        store, settings, SmtpSender(settings.smtp_host, settings.smtp_port, settings.mail_from, settings.smtp_timeout),
        webhook, relay.wake,
    )
    wake = asyncio.Event()

    @rt.loop
    async def dispatch_loop() -> None:
        try:
            while True:
                try:
                    busy = await dispatcher.run_once()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 - store down: try again
                    rt.log.warning("dispatch_failed", error=repr(exc))
                    busy = 0
                if busy:
                    continue
                wake.clear()
                try:
                    await asyncio.wait_for(wake.wait(), timeout=settings.poll_seconds)
                except TimeoutError:
                    pass
        finally:
            await webhook.close()

    async def on_contact(event: CloudEvent[Any]) -> None:
        await store.save_contact(event.data)
        wake.set()

    async def on_received(event: CloudEvent[Any]) -> None:
        data: ApplicationReceived = event.data
        await store.create(notice_id=deterministic_id("notice", event.id), case_id=data.case_id,
                           tracking_number=data.tracking_number, kind=NoticeKind.RECEIVED,
                           message=messages.received(data), cause_event_id=event.id)
        wake.set()

    async def on_reply(event: CloudEvent[Any]) -> None:
        data: ReplyIssued = event.data
        await store.create(notice_id=deterministic_id("notice", event.id), case_id=data.case_id,
                           tracking_number=data.tracking_number, kind=NoticeKind.REPLY_ISSUED,
                           message=messages.reply_issued(data), cause_event_id=event.id)
        wake.set()

    common = {"group_id": "notify", "max_attempts": rt.common.max_handler_attempts,
              "patience_seconds": rt.common.handler_patience_seconds}
    subscribe_all = (
        (topics.PRIVATE_CONTACTS.name, ContactRegistered, on_contact, "save-contact"),
        (topics.APPLICATIONS_RECEIVED.name, ApplicationReceived, on_received, "notice-received"),
        (topics.REPLIES_ISSUED.name, ReplyIssued, on_reply, "notice-reply"),
    )
    for topic, model, handler, title in subscribe_all:
        subscribe(rt.broker, topics=(topic,), registry=registry_of(model), handle=handler, title=title, **common)

    app = rt.app("Gongkai notify", "通知申请人：电子邮件、回调")

    @app.get("/cases/{case_id}/notices", tags=["notices"])
    async def notices(case_id: str) -> dict:
        docs = await store.list_for_case(case_id)
        return {"case_id": case_id, "notices": [
            {"notice_id": d["_id"], "kind": d["kind"], "status": d["status"], "subject": d["subject"],
             "deliveries": {ch: {k: v for k, v in dl.items() if k != "to"} for ch, dl in d["deliveries"].items()}}
            for d in docs]}

    app.state.runtime = rt
    return app
