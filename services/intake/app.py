"""Intake service: accepts applications at every channel, stores them, then publishes them.
It also accepts, once each, the applications other agencies on the bus refer to this one
(Art. 36(5); see ``referrals``).

Two doors: applicants submit online (``POST /applications``, public; the date of receipt is the
server's day in China), and OGI officers enter window, post and fax applications with the facts
that fix their date of receipt (``POST /clerk/applications``, with the officer's token; the clerk
recorded is the token's). Only the agencies this intake serves are accepted (``INTAKE_AGENCIES``
beside the home agency); each has its own tracking-number prefix and counter.

The application is written, with the events it produces, in one document before anything goes to
Kafka; the outbox relay publishes them when the broker is reachable. So an application accepted
while Kafka is down is published once Kafka is back, and a client retrying with the same
``Idempotency-Key`` (and the same application) gets the same case, not a second one.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Body, Depends, FastAPI, Header, HTTPException, Path
from fastapi.responses import JSONResponse

from contracts import events_procedure, topics
from contracts.envelope import CloudEvent, deterministic_id, new_event
from contracts.events import ApplicationReceived, ContactRegistered, registry_of
from contracts.events_routing import CaseReferred
from contracts.vocabulary import Channel
from services.intake import fees, referrals, repeats, webhooks
from services.intake.identity import applicant_ref, query_code, tracking_number
from services.intake.receipt import Receipt, ReceiptDateError, earliest_entry, receipt_date
from services.intake.schemas import (
    ApplicationAccepted,
    ApplicationBase,
    ApplicationIn,
    ClerkApplicationIn,
    FeeNoticeIn,
)
from services.intake.settings import IntakeSettings
from services.intake.store import IntakeStore, NumbersExhausted
from servicekit import outbox
from servicekit.consumer import subscribe
from servicekit.oidc import Principal, officer
from servicekit.openapi import errors
from servicekit.runtime import ServiceRuntime
from servicekit.validation import problem

CHINA = ZoneInfo("Asia/Shanghai")
CaseId = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")]
REPLAYED = {200: {"model": ApplicationAccepted, "description": "同一 Idempotency-Key 的重复提交：原申请的回执"}}
REFUSED_AGENCY = "本机关不受理该机关的申请：请向该机关提出申请，或不填写此项（由本机关受理）"


def served_agencies(settings: IntakeSettings, home: str) -> dict[str, str]:
    """agency code -> tracking prefix of every agency this intake serves (the home one first).
    Prefixes are unique, so that tracking numbers of two agencies never collide."""
    served = {home: settings.tracking_prefix}
    for agency in settings.agencies:
        served.setdefault(agency.code, agency.tracking_prefix)
    prefixes = list(served.values())
    if len(set(prefixes)) != len(prefixes):
        raise ValueError(f"INTAKE_AGENCIES / INTAKE_TRACKING_PREFIX: two agencies share a tracking prefix ({served})")
    return served


def fingerprint(kind: str, body: ApplicationBase) -> str:
    """What a replay under the same Idempotency-Key must repeat: the same door, the same application."""
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(f"{kind}\x00{canonical}".encode()).hexdigest()


def build(settings: IntakeSettings | None = None) -> FastAPI:
    settings = settings or IntakeSettings()
    rt = ServiceRuntime("intake", settings.db_name)
    rt.require_secrets({"INTAKE_QUERY_CODE_SECRET": settings.query_code_secret,
                        "INTAKE_APPLICANT_REF_SECRET": settings.applicant_ref_secret})
    production = rt.common.env == "production"
    store = IntakeStore(rt.db)
    rt.on_setup(store.setup)
    relay = rt.outbox(store.applications)
    rt.publishes(topics.APPLICATIONS_RECEIVED.name, ApplicationReceived)
    rt.publishes(topics.PRIVATE_CONTACTS.name, ContactRegistered)
    # Screening events (repeat flags, fee notices) are published only once their topic is in the
    # catalogue: the broker does not create topics, and a missing one would stall the relay.
    screening_topic = topics.APPLICATIONS_SCREENED.name
    rt.publishes(screening_topic, events_procedure.RepeatFlagged)
    rt.publishes(screening_topic, events_procedure.FeeNoticeIssued)
    agency_default = rt.common.agency_code
    served = served_agencies(settings, agency_default)

    async def on_referred(event: CloudEvent) -> None:
        """A referral from another agency (Art. 36(5)): accept it once if it is for an agency served here."""
        target = event.data.target_agency_code
        if target not in served:
            return  # for another agency
        now = datetime.now(UTC)
        result = await referrals.accept(store, event.data, event_id=event.id, agency_code=target,
                                        tracking_prefix=served[target], source=settings.source, now=now,
                                        today=now.astimezone(CHINA).date())
        if result is None:
            return
        relay.wake()
        rt.log.info("referral_accepted", case_id=result[0]["_id"], tracking_number=result[0]["tracking_number"],
                    referral_id=event.data.referral_id, created=result[1])

    # One consumer group per agency: every agency's intake reads every referral and keeps its own.
    subscribe(rt.broker, group_id=f"intake-{agency_default}", topics=(topics.CASES_REFERRED.name,),
              registry=registry_of(CaseReferred), handle=on_referred,
              max_attempts=rt.common.max_handler_attempts,
              patience_seconds=rt.common.handler_patience_seconds, title="accept-referral")

    app = rt.app("Gongkai intake", "受理政府信息公开申请（网上申请；当面、信函、传真申请由工作人员登记）")

    def accepted(doc: dict) -> ApplicationAccepted:
        return ApplicationAccepted(
            case_id=doc["_id"],
            tracking_number=doc["tracking_number"],
            query_code=query_code(settings.query_code_secret, doc["_id"]),
            received_on=doc["received_on"],
            receipt_rule=doc["receipt_rule"],
            message=f"您的政府信息公开申请已登记，受理编号 {doc['tracking_number']}。请凭受理编号和查询码查询办理进度。",
            webhook_secret=doc.get("webhook_secret"),
        )

    async def accept(body: ApplicationBase, *, kind: str, receipt: Receipt, idempotency_key: str | None,
                     now: datetime, clerk: Principal | None = None) -> ApplicationAccepted | JSONResponse:
        """Screen, store and (through the outbox) publish one application of either door."""
        agency = body.agency_code or agency_default
        if agency not in served:
            return problem(422, "agency_code", REFUSED_AGENCY)
        webhook_url = str(body.contact.webhook_url) if body.contact.webhook_url else None
        if webhook_url is not None:
            why = webhooks.url_problem(webhook_url, production=production, allow_hosts=settings.webhook_allow_hosts)
            if why is not None:
                return problem(422, "contact.webhook_url", why)
        today = now.astimezone(CHINA).date()
        request_print = fingerprint(kind, body)
        case_id = (deterministic_id(f"intake-{kind}-idempotency", idempotency_key) if idempotency_key
                   else str(uuid.uuid4()))
        existing = await store.get(case_id)
        if existing is not None:
            if existing.get("request_fingerprint", request_print) != request_print:
                return problem(422, "idempotency-key", "此 Idempotency-Key 已用于另一份内容不同的申请：请换用新的键")
            return JSONResponse(status_code=200, content=accepted(existing).model_dump(mode="json"))
        ref = applicant_ref(settings.applicant_ref_secret, body.applicant.id_type, body.applicant.id_number)
        channel = Channel(body.channel)  # type: ignore[attr-defined]

        # Screening (Arts. 35, 36(6), 42): earlier applications it repeats, and its rank in the
        # applicant's month, which drafts a fee notice for an officer to confirm.
        earlier_docs = await store.earlier_applications(ref, agency)
        numbers = {e["_id"]: e.get("tracking_number") for e in earlier_docs}
        earlier = [
            repeats.Earlier(case_id=e["_id"], applicant_ref=ref, agency_code=agency,
                            description=(e.get("application") or {}).get("description", ""),
                            received_on=date.fromisoformat(e["received_on"]))
            for e in earlier_docs
        ]  # fmt: skip
        matches = repeats.find_repeats(
            applicant_ref=ref, agency_code=agency, description=body.description, earlier=earlier, exclude_case_id=case_id
        )
        rank = await store.next_in_month(ref, agency, fees.month_of(receipt.received_on))
        fee = fees.per_application_notice(
            case_id=case_id, applicant_ref=ref, agency_code=agency, received_on=receipt.received_on, rank=rank
        )
        screening = {
            "repeats": [{"case_id": m.case_id, "tracking_number": numbers.get(m.case_id), "similarity": m.similarity,
                         "received_on": m.received_on.isoformat()} for m in matches],
            "rank_in_month": rank,
            "fee_notice": None if not fee.chargeable else {
                "method": fee.method.value, "amount_yuan": fee.amount_yuan, "month": fee.month,
                "rank_in_month": rank, "text_zh": fee.text_zh, "confirmed": False,
            },
        }  # fmt: skip
        # The applicant's signing secret of the webhook subscription (Standard Webhooks): drawn once,
        # kept with the application (a replay answers with the same one), sent to notify privately.
        webhook_secret = webhooks.new_secret() if webhook_url else None
        contact = new_event(
            ContactRegistered(
                case_id=case_id,
                applicant_ref=ref,
                name=body.applicant.name,
                email=body.contact.email,
                webhook_url=webhook_url,
                webhook_secret=webhook_secret,
                phone=body.contact.phone,
            ),
            source=settings.source,
            subject=case_id,
            event_id=deterministic_id("contact.registered", case_id),
            time=now,
        )

        def doc_of(number: str) -> dict[str, Any]:
            received = new_event(
                ApplicationReceived(
                    case_id=case_id,
                    tracking_number=number,
                    agency_code=agency,
                    channel=channel,
                    received_on=receipt.received_on,
                    applicant_ref=ref,
                    applicant_type=body.applicant.type,
                    description=body.description,
                    target_departments=body.target_departments,
                    delivery_form=body.delivery.form,
                    delivery_method=body.delivery.method,
                    accepted_at=now,
                ),
                source=settings.source,
                subject=case_id,
                event_id=deterministic_id("application.received", case_id),
                time=now,
            )
            screening_records = []
            if matches:
                flagged = new_event(
                    events_procedure.RepeatFlagged(
                        case_id=case_id, applicant_ref=ref, agency_code=agency, threshold=repeats.THRESHOLD,
                        matches=[events_procedure.RepeatMatchPart(case_id=m.case_id, similarity=m.similarity,
                                                                   received_on=m.received_on) for m in matches],
                    ),
                    source=settings.source, subject=case_id, event_id=deterministic_id("repeat.flagged", case_id),
                    causation_id=received.id, time=now,
                )  # fmt: skip
                screening_records.append(outbox.record(screening_topic, flagged))
            return {
                "_id": case_id,
                "tracking_number": number,
                "agency_code": agency,
                "received_on": receipt.received_on.isoformat(),
                "receipt_rule": receipt.rule,
                "accepted_at": now,
                "applicant": body.applicant.model_dump(mode="json"),
                "applicant_ref": ref,
                "contact": body.contact.model_dump(mode="json"),
                "webhook_secret": webhook_secret,
                "application": body.model_dump(mode="json", exclude={"applicant", "contact"}),
                "received_by": None if clerk is None else {
                    "subject": clerk.subject, "username": clerk.username, "name": clerk.display},
                "request_fingerprint": request_print,
                "screening": screening,
                # Contact first: notify learns how to reach the applicant before it hears of the case.
                **outbox.new_doc_fields(
                    [outbox.record(topics.PRIVATE_CONTACTS.name, contact),
                     outbox.record(topics.APPLICATIONS_RECEIVED.name, received),
                     *screening_records]
                ),
            }

        prefix = served[agency]
        try:
            stored, created = await store.insert_numbered(
                agency, today, lambda seq: tracking_number(prefix, today, seq), doc_of)
        except NumbersExhausted:
            rt.log.error("tracking_numbers_exhausted", agency_code=agency, day=today.isoformat())
            raise HTTPException(503, "暂时无法分配受理编号，请稍后重试") from None
        if created:
            relay.wake()
        elif stored.get("request_fingerprint", request_print) != request_print:  # a concurrent first submission
            return problem(422, "idempotency-key", "此 Idempotency-Key 已用于另一份内容不同的申请：请换用新的键")
        rt.log.info("application_accepted", case_id=case_id, tracking_number=stored["tracking_number"],
                    channel=channel.value, created=created,
                    **({"clerk_subject": clerk.subject} if clerk is not None else {}))
        result = accepted(stored)
        return result if created else JSONResponse(status_code=200, content=result.model_dump(mode="json"))

    @app.post("/applications", status_code=201, response_model=ApplicationAccepted, tags=["applications"],
              responses={**REPLAYED, **errors(503)})
    async def submit(
        body: ApplicationIn,
        idempotency_key: str | None = Header(default=None, min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$"),
    ) -> ApplicationAccepted | JSONResponse:
        """An application submitted online by the applicant. The date of receipt is today (China),
        the server's: no date may be given. Window, post and fax applications are entered by an
        OGI officer at ``POST /clerk/applications``."""
        now = datetime.now(UTC)
        receipt = receipt_date(Channel.ONLINE, now.astimezone(CHINA).date())
        return await accept(body, kind="online", receipt=receipt, idempotency_key=idempotency_key, now=now)

    @app.post("/clerk/applications", status_code=201, response_model=ApplicationAccepted, tags=["officers"],
              responses={**REPLAYED, **errors(503)})
    async def clerk_entry(
        body: ClerkApplicationIn,
        principal: Principal = Depends(officer),
        idempotency_key: str | None = Header(default=None, min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$"),
    ) -> ApplicationAccepted | JSONResponse:
        """An OGI officer enters an application received at the window, by post or by fax, with
        the facts of Art. 31: window — the day submitted (today); registered mail — ``signed_on``;
        ordinary mail and fax — ``confirmed_on``. Dates are never after today nor more than
        ``INTAKE_CLERK_MAX_DAYS_BACK`` days back (never before 2019-05-15)."""
        now = datetime.now(UTC)
        today = now.astimezone(CHINA).date()
        try:
            receipt = receipt_date(body.channel, today, body.signed_on, body.confirmed_on,
                                   earliest=earliest_entry(today, settings.clerk_max_days_back))
        except ReceiptDateError as exc:
            return problem(422, exc.field, exc.message)
        return await accept(body, kind="clerk", receipt=receipt, idempotency_key=idempotency_key, now=now,
                            clerk=principal)

    @app.get("/applications/{case_id}", tags=["applications"])
    async def status(case_id: CaseId) -> dict:
        doc = await store.get(case_id)
        if doc is None:
            raise HTTPException(404, "未找到该申请")
        return {
            "case_id": doc["_id"],
            "tracking_number": doc["tracking_number"],
            "received_on": doc["received_on"],
            "published": not doc.get("outbox_pending", False),
        }

    @app.get("/referrals/{referral_id}", tags=["officers"])
    async def referral_of(referral_id: Annotated[str, Path(min_length=1, max_length=128,
                                                           pattern=r"^[A-Za-z0-9._:-]+$")]) -> dict:
        """The application(s) this agency created for a referral from another agency."""
        docs = await store.by_referral(referral_id)
        if not docs:
            raise HTTPException(404, "本机关没有该转送的申请")
        return {"referral_id": referral_id, "applications": [
            {"case_id": d["_id"], "tracking_number": d["tracking_number"], "received_on": d["received_on"],
             "receipt_rule": d["receipt_rule"], "contact": d["contact"], **d["referral"],
             "published": not d.get("outbox_pending", False)} for d in docs]}

    @app.get("/applications/{case_id}/screening", tags=["officers"])
    async def screening_of(case_id: CaseId) -> dict:
        """For officers: possible repeats of earlier applications and the drafted fee notice."""
        doc = await store.get(case_id)
        if doc is None:
            raise HTTPException(404, "未找到该申请")
        return {"case_id": case_id, "tracking_number": doc["tracking_number"], **(doc.get("screening") or {})}

    @app.post("/applications/{case_id}/fee-notice", status_code=201, tags=["officers"], responses=errors(409))
    async def confirm_fee_notice(
        case_id: CaseId,
        principal: Principal = Depends(officer),
        body: FeeNoticeIn | None = Body(default=None),
    ) -> dict:
        """An officer confirms the drafted fee notice (per application, or per page if ``pages``).
        The officer recorded is the token's (display name and subject)."""
        doc = await store.get(case_id)
        if doc is None:
            raise HTTPException(404, "未找到该申请")
        pages = body.pages if body is not None else None
        draft = (doc.get("screening") or {}).get("fee_notice")
        received_on = date.fromisoformat(doc["received_on"])
        if pages is not None:
            notice = fees.per_page_notice(case_id=case_id, applicant_ref=doc["applicant_ref"],
                                          agency_code=doc["agency_code"], pages=pages)  # fmt: skip
        elif draft is not None:
            notice = fees.per_application_notice(case_id=case_id, applicant_ref=doc["applicant_ref"],
                                                 agency_code=doc["agency_code"], received_on=received_on,
                                                 rank=draft["rank_in_month"])  # fmt: skip
        else:
            raise HTTPException(409, "本申请不收取信息处理费")
        if not notice.chargeable:
            raise HTTPException(409, "本申请不收取信息处理费")
        if draft is None:
            await store.applications.update_one(
                {"_id": case_id, "screening.fee_notice": None},
                {"$set": {"screening.fee_notice": {"method": notice.method.value, "confirmed": False}}},
            )
        today = datetime.now(UTC).astimezone(CHINA).date()
        who = principal.display
        issued = events_procedure.FeeNoticeIssued(
            case_id=case_id, applicant_ref=doc["applicant_ref"], agency_code=doc["agency_code"],
            method=notice.method.value, amount_yuan=notice.amount_yuan, month=notice.month,
            rank_in_month=notice.rank_in_month, pages=notice.pages, confirmed_by=who, issued_on=today,
            confirmed_by_subject=principal.subject,
        )  # fmt: skip
        update: dict = {"$set": {
            "screening.fee_notice.confirmed": True, "screening.fee_notice.confirmed_by": who,
            "screening.fee_notice.confirmed_by_subject": principal.subject,
            "screening.fee_notice.issued_on": today.isoformat(), "screening.fee_notice.amount_yuan": notice.amount_yuan,
            "screening.fee_notice.method": notice.method.value, "screening.fee_notice.text_zh": notice.text_zh,
        }}  # fmt: skip
        event = new_event(issued, source=settings.source, subject=case_id,
                          event_id=deterministic_id("fee.notice.issued", case_id))  # fmt: skip
        update = outbox.merge_updates(update, outbox.append_update([outbox.record(screening_topic, event)]))
        if not await store.confirm_fee_notice(case_id, update):
            raise HTTPException(409, "收费通知已确认发出")
        relay.wake()
        rt.log.info("fee_notice_confirmed", case_id=case_id, subject=principal.subject, amount_yuan=notice.amount_yuan)
        return {"case_id": case_id, "amount_yuan": notice.amount_yuan, "text_zh": notice.text_zh}

    app.state.runtime = rt
    return app
