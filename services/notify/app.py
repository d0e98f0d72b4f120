"""Notify service: tells applicants of every step of their case, by e-mail (SMTP), text message
(SMPP, the channels the applicant chose) and webhook —
received, correction requested (Art. 30), extension (Art. 33), abandoned, fee notice (Art. 42),
referral (Art. 36(5)), reply issued and amended — and tells officers (the OGI office and each
department whose task is open) of deadline warnings and overdue cases, by e-mail. Records each
delivery; retries; never creates a notice twice (notice ids derive from the event ids); sends a
case's notices in the order of its steps whatever the order of the topics (``order``); claims each
delivery in the store before sending it, and never sends an e-mail again once it may be in the
mail server's hands (``notices``: claim, commit, confirm). Holds texts in the quiet hours the OGI
office sets (``GET``/``PUT /settings/sms-quiet-hours``; ``quiet_setting``).

Each consumed topic is subscribed with a registry of every event type the catalogue lists for it,
so that the types notify does not act on (deadline.changed, triage, case.routed, repeat.flagged …)
are acknowledged and skipped instead of being dead-lettered.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from fastapi import Depends, FastAPI, HTTPException
from pydantic import Field, field_validator

from contracts import topics
from contracts.envelope import CloudEvent, EventData
from contracts.events import ApplicationReceived, ContactRegistered, NoticeDeliveredV2, registry_of
from contracts.vocabulary import NoticeChannel
from services.notify.destinations import AllowList
from services.notify.documents import DocumentFetcher
from services.notify.faults import Faults
from services.notify.handlers import NoticeHandlers, topic_registry
from services.notify.notices import Dispatcher, NoticeNotFound, NoticeStore, NotUncertain, Outcome
from services.notify.quiet import InvalidWindow, canonical, quiet_until
from services.notify.quiet_setting import Current, QuietHoursSetting
from services.notify.senders import SmtpSender, WebhookSender
from services.notify.sms import SmppSender
from services.notify.settings import LOCAL_SMPP_PASSWORD, NotifySettings
from servicekit.consumer import subscribe
from servicekit.oidc import Principal, officer
from servicekit.openapi import errors
from servicekit.periodic import every
from servicekit.runtime import ServiceRuntime
from servicekit.settings import CommonSettings
from servicekit.validation import StrictIn

Handler = Callable[[CloudEvent[Any]], Awaitable[None]]

# A delivery's state as the 409 of a resolution says it.
STATUS_ZH = {"pending": "待发送", "sending": "发送中", "delivered": "已送达", "failed": "发送失败", "refused": "拒绝发送",
             "uncertain": "结果不确定", "submitted": "已提交短信中心，等待回执"}


class ResolutionIn(StrictIn):
    """The OGI office's finding for an uncertain delivery (issue #12)."""

    model_config = StrictIn.model_config | {"str_strip_whitespace": True}

    outcome: Literal["sent", "resend"] = Field(
        description="sent: the mail server's log shows the message left (recorded delivered); "
                    "resend: it did not (sent again, same Message-ID)")
    note: str = Field(default="", max_length=1000, description="备注（如邮件服务器日志中的队列号）")


class QuietHoursIn(StrictIn):
    """The agency's 防打扰时间, set by the OGI office's head (issue #17)."""

    quiet_hours: str = Field(
        max_length=40, examples=["21:00-08:00", ""],
        description="不发短信的时段（北京时间）“开始-结束”，开始含、结束不含，开始晚于结束即跨午夜，"
                    "如 21:00-08:00；空串：不设防打扰时间")

    @field_validator("quiet_hours")
    @classmethod
    def _a_window(cls, value: str) -> str:
        try:
            return canonical(value)
        except InvalidWindow as exc:
            raise ValueError(exc.zh) from None


def quiet_hours_view(current: Current) -> dict:
    """The setting as the OGI office sees it, with whether texts are held now and until when."""
    until = quiet_until(datetime.now(UTC), current.window)
    return {"quiet_hours": current.quiet_hours, "source": current.source, "set_by": current.set_by,
            "set_at": current.set_at, "now_quiet": until is not None, "until": until}


def build(settings: NotifySettings | None = None) -> FastAPI:
    settings = settings or NotifySettings()
    common_settings = CommonSettings()
    production = common_settings.env == "production"
    faults = Faults.from_env(production=production)  # test-only fault points: refused in production
    rt = ServiceRuntime("notify", settings.db_name, common_settings)
    # The OIDC issuer (officers' tokens are the only way in); the documents' link secret (= reply's).
    rt.require_secrets({"NOTIFY_DOCUMENT_LINK_SECRET": settings.document_link_secret})
    if settings.smpp_host:  # the SMSC account's password: the local SMSC's is in this repository
        rt.require_secrets({"NOTIFY_SMPP_PASSWORD": "" if settings.smpp_password == LOCAL_SMPP_PASSWORD
                            else settings.smpp_password})
    allow = AllowList.parse(settings.webhook_allow_hosts)  # an invalid entry: refuse to start
    store = NoticeStore(rt.db)
    rt.on_setup(store.setup)
    # 防打扰时间 as the OGI office sets it; NOTIFY_SMS_QUIET_HOURS until it does (invalid: refuse to start).
    quiet_setting = QuietHoursSetting(rt.db, settings.sms_quiet_hours, settings.sms_quiet_cache_seconds)
    relay = rt.outbox(store.notices)
    rt.publishes(topics.NOTICES_DELIVERED.name, NoticeDeliveredV2)
    webhook = WebhookSender(settings.webhook_timeout, production=production, allow=allow)
    if faults.faults:
        rt.log.warning("fault_points_armed", faults=[f"{f.point}:{f.action}@{f.match}" for f in faults.faults])
    documents = DocumentFetcher(settings.reply_url, settings.document_link_secret)
    # Texts (issue #17): one bound SMPP session of its own thread (sms.SmppSender); none without a host.
    sms = SmppSender(settings.smpp_host, settings.smpp_port, settings.smpp_system_id, settings.smpp_password,
                     timeout=settings.smpp_timeout, system_type=settings.smpp_system_type,
                     receipt_tz=ZoneInfo(settings.sms_receipt_timezone), faults=faults) if settings.smpp_host else None
    dispatcher = Dispatcher(
        store, settings,
        SmtpSender(settings.smtp_host, settings.smtp_port, settings.mail_from, settings.smtp_timeout, faults),
        webhook, relay.wake,
        owner=rt.common.kafka_instance_id or f"{socket.gethostname()}:{settings.http_port}", faults=faults,
        documents=documents, sms=sms, quiet_setting=quiet_setting,
    )
    wake = asyncio.Event()

    @rt.loop
    async def dispatch_loop() -> None:
        # Again at once while a round attempted deliveries; else at the next poll or when a new
        # notice wakes it. A round that fails (store down) is logged as dispatch_failed.
        try:
            await every(settings.poll_seconds, dispatcher.run_once, name="dispatch", log=rt.log, wake=wake,
                        busy=lambda attempted: attempted > 0)
        finally:
            await webhook.close()
            await documents.close()

    if sms is not None:
        @rt.loop
        async def sms_session() -> None:
            # Bound while notify runs: texts go out on it and their delivery receipts come in on
            # it (also those of texts sent before a restart, queued by the SMSC meanwhile).
            sms.start(dispatcher.on_receipt)
            try:
                await asyncio.Event().wait()
            finally:
                await sms.close()

    @rt.loop
    async def uncertain_gauge() -> None:
        # gongkai_notices_uncertain for the operators' alert (a failed count: logged, tried again).
        await every(settings.uncertain_gauge_seconds, store.count_uncertain, name="uncertain-gauge", log=rt.log)

    h = NoticeHandlers(store, settings, wake.set)

    common = {"group_id": topics.scoped("notify"), "max_attempts": rt.common.max_handler_attempts,
              "patience_seconds": rt.common.handler_patience_seconds}
    subscriptions: tuple[tuple[str, dict[str, type[EventData]], Handler, str], ...] = (
        (topics.PRIVATE_CONTACTS.name, registry_of(ContactRegistered), h.on_contact, "save-contact"),
        (topics.APPLICATIONS_RECEIVED.name, registry_of(ApplicationReceived), h.on_received, "notice-received"),
        (topics.REPLIES_ISSUED.name, topic_registry(topics.REPLIES_ISSUED), h.on_reply, "notice-reply"),
        (topics.CASES_PROCEDURE.name, topic_registry(topics.CASES_PROCEDURE), h.on_procedure, "notice-procedure"),
        (topics.APPLICATIONS_SCREENED.name, topic_registry(topics.APPLICATIONS_SCREENED), h.on_screened, "notice-fee"),
        (topics.CASES_ROUTED.name, topic_registry(topics.CASES_ROUTED), h.on_routed, "notice-referral"),
    )
    for topic, registry, handler, title in subscriptions:
        subscribe(rt.broker, topics=(topic,), registry=registry, handle=handler, title=title, **common)

    app = rt.app("Gongkai notify", "通知申请人：电子邮件、短信、回调")

    @app.get("/cases/{case_id}/notices", tags=["notices"])
    async def notices(case_id: str) -> dict:
        if not await store.knows_case(case_id):
            raise HTTPException(404, "未找到该案件")
        docs = await store.list_for_case(case_id)
        return {"case_id": case_id, "notices": [
            {"notice_id": d["_id"], "kind": d["kind"], "audience": d.get("audience", "applicant"),
             "recipient": d.get("recipient"), "status": d["status"], "subject": d["subject"],
             # why neither e-mail nor text went (the applicant's channels could not be used), if so
             "no_channel_reason": d.get("no_channel_reason"),
             "deliveries": {ch: {k: v for k, v in dl.items() if k != "to"} for ch, dl in d["deliveries"].items()}}
            for d in docs]}

    @app.get("/notices/uncertain", tags=["notices"])
    async def uncertain_notices() -> dict:
        """Every delivery whose outcome is not known (an e-mail killed between the end of data and
        the recorded 250), newest first, for the OGI office to resolve (look the Message-ID up in
        the mail server's log)."""
        return {"deliveries": await store.list_uncertain()}

    @app.post("/notices/{notice_id}/deliveries/{channel}/resolution", tags=["notices"], responses=errors(404, 409))
    async def resolve_uncertain(notice_id: str, channel: str, body: ResolutionIn,
                                principal: Principal = Depends(officer)) -> dict:
        try:
            ch = NoticeChannel(channel)
        except ValueError:
            raise HTTPException(404, "未找到该通知的此投递渠道") from None
        who = {"by": principal.display, "by_subject": principal.subject}
        try:
            delivery = await store.resolve(notice_id, ch, Outcome(body.outcome), who, body.note, settings.source)
        except NoticeNotFound:
            raise HTTPException(404, "未找到该通知的此投递渠道") from None
        except NotUncertain as exc:
            now_zh = STATUS_ZH.get(exc.status or "", exc.status or "未知")
            raise HTTPException(409, f"该投递目前不是“结果不确定”状态（当前：{now_zh}），无需处理或已由他人处理") from None
        if body.outcome == Outcome.SENT:
            relay.wake()  # its notice.delivered, written with it
        else:
            wake.set()  # the dispatcher sends it again now
        await store.count_uncertain()  # the gauge at once, not at the next refresh
        rt.log.info("notice_uncertain_resolved", notice_id=notice_id, channel=ch.value, outcome=body.outcome,
                    by_subject=principal.subject)
        return {"notice_id": notice_id, "channel": ch.value, "outcome": body.outcome, "status": delivery["status"],
                "resolution": delivery.get("resolution"), "confirmed_manually": delivery.get("confirmed_manually")}

    @app.get("/settings/sms-quiet-hours", tags=["settings"])
    async def sms_quiet_hours() -> dict:
        """防打扰时间: the window in force (``source``: ``default``, the deployment's
        NOTIFY_SMS_QUIET_HOURS, or ``set`` by the OGI office, with who and when), and whether a
        text due now would be held, until when."""
        return quiet_hours_view(await quiet_setting.current())

    @app.put("/settings/sms-quiet-hours", tags=["settings"], responses=errors(422))
    async def set_sms_quiet_hours(body: QuietHoursIn, principal: Principal = Depends(officer)) -> dict:
        """Set the agency's 防打扰时间 (the OGI office's head). Texts held by the old window are
        looked at again at once: one the new window does not cover now goes now."""
        before = await quiet_setting.current()
        after = await quiet_setting.put(body.quiet_hours, by=principal.display, by_subject=principal.subject)
        dispatcher.quiet_changed()
        wake.set()  # the next round (at once) takes the new window and re-examines the held texts
        rt.log.info("sms_quiet_hours_set", quiet_hours=after.quiet_hours, previous=before.quiet_hours,
                    previous_source=before.source, by=principal.display, by_subject=principal.subject)
        return quiet_hours_view(after)

    app.state.runtime = rt
    app.state.quiet_setting = quiet_setting
    app.state.dispatcher = dispatcher
    app.state.handlers = h
    app.state.store = store
    app.state.webhook = webhook
    app.state.sms = sms
    return app
