"""Intake service: accepts applications at every channel, stores them, then publishes them.
It also accepts, once each, the applications other agencies on the bus refer to this one
(Art. 36(5); see ``referrals``).

The application is written, with the events it produces, in one document before anything goes to
Kafka; the outbox relay publishes them when the broker is reachable. So an application accepted
while Kafka is down is published once Kafka is back, and a client retrying with the same
``Idempotency-Key`` gets the same case, not a second one.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from fastapi import Body, FastAPI, Header, HTTPException
from fastapi.responses import JSONResponse

from contracts import events_procedure, topics
from contracts.envelope import CloudEvent, deterministic_id, new_event
from contracts.events import ApplicationReceived, ContactRegistered, registry_of
from contracts.events_routing import CaseReferred
from services.intake import fees, referrals, repeats
from services.intake.identity import applicant_ref, query_code, tracking_number
from services.intake.receipt import ReceiptDateError, receipt_date
from services.intake.schemas import ApplicationAccepted, ApplicationIn
from services.intake.settings import IntakeSettings
from services.intake.store import IntakeStore
from servicekit import outbox
from servicekit.consumer import subscribe
from servicekit.runtime import ServiceRuntime

CHINA = ZoneInfo("Asia/Shanghai")


def build(settings: IntakeSettings | None = None) -> FastAPI:
    settings = settings or IntakeSettings()
    rt = ServiceRuntime("intake", settings.db_name)
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

    async def on_referred(event: CloudEvent) -> None:
        """A referral from another agency (Art. 36(5)): accept it once if it is for this agency."""
        now = datetime.now(UTC)
        result = await referrals.accept(store, event.data, event_id=event.id, agency_code=agency_default,
                                        tracking_prefix=settings.tracking_prefix, source=settings.source, now=now,
                                        today=now.astimezone(CHINA).date())
        if result is None:
            return  # for another agency
        relay.wake()
        rt.log.info("referral_accepted", case_id=result[0]["_id"], tracking_number=result[0]["tracking_number"],
                    referral_id=event.data.referral_id, created=result[1])

    # One consumer group per agency: every agency's intake reads every referral and keeps its own.
    subscribe(rt.broker, group_id=f"intake-{agency_default}", topics=(topics.CASES_REFERRED.name,),
              registry=registry_of(CaseReferred), handle=on_referred,
              max_attempts=rt.common.max_handler_attempts,
              patience_seconds=rt.common.handler_patience_seconds, title="accept-referral")

    app = rt.app("Gongkai intake", "受理政府信息公开申请（网上、当面、信函、传真）")

    def accepted(doc: dict) -> ApplicationAccepted:
        return ApplicationAccepted(
            case_id=doc["_id"],
            tracking_number=doc["tracking_number"],
            query_code=query_code(settings.query_code_secret, doc["_id"]),
            received_on=doc["received_on"],
            receipt_rule=doc["receipt_rule"],
            message=f"您的政府信息公开申请已登记，受理编号 {doc['tracking_number']}。请凭受理编号和查询码查询办理进度。",
        )

    @app.post("/applications", status_code=201, response_model=ApplicationAccepted, tags=["applications"])
    async def submit(
        body: ApplicationIn,
        idempotency_key: str | None = Header(default=None, max_length=200),
    ) -> ApplicationAccepted | JSONResponse:
        now = datetime.now(UTC)
        today = now.astimezone(CHINA).date()
        try:
            receipt = receipt_date(body.channel, today, body.signed_on, body.confirmed_on)
        except ReceiptDateError as exc:
            return JSONResponse(
                status_code=422,
                content={"detail": "提交的内容有误，请按提示修改后重新提交",
                         "errors": [{"field": exc.field, "message": exc.message, "type": "value_error"}]},
            )
        case_id = (
            deterministic_id("intake-idempotency", idempotency_key) if idempotency_key else str(uuid.uuid4())
        )
        existing = await store.get(case_id)
        if existing is not None:
            return JSONResponse(status_code=200, content=accepted(existing).model_dump(mode="json"))
        agency = body.agency_code or agency_default
        number = tracking_number(settings.tracking_prefix, today, await store.next_sequence(agency, today))
        ref = applicant_ref(body.applicant.id_type, body.applicant.id_number)

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

        received = new_event(
            ApplicationReceived(
                case_id=case_id,
                tracking_number=number,
                agency_code=agency,
                channel=body.channel,
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
        contact = new_event(
            ContactRegistered(
                case_id=case_id,
                applicant_ref=ref,
                name=body.applicant.name,
                email=body.contact.email,
                webhook_url=str(body.contact.webhook_url) if body.contact.webhook_url else None,
                phone=body.contact.phone,
            ),
            source=settings.source,
            subject=case_id,
            event_id=deterministic_id("contact.registered", case_id),
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
        doc = {
            "_id": case_id,
            "tracking_number": number,
            "agency_code": agency,
            "received_on": receipt.received_on.isoformat(),
            "receipt_rule": receipt.rule,
            "accepted_at": now,
            "applicant": body.applicant.model_dump(mode="json"),
            "applicant_ref": ref,
            "contact": body.contact.model_dump(mode="json"),
            "application": body.model_dump(mode="json", exclude={"applicant", "contact"}),
            # Contact first: notify learns how to reach the applicant before it hears of the case.
            "screening": screening,
            **outbox.new_doc_fields(
                [outbox.record(topics.PRIVATE_CONTACTS.name, contact),
                 outbox.record(topics.APPLICATIONS_RECEIVED.name, received),
                 *screening_records]
            ),
        }
        stored, created = await store.insert(doc)
        relay.wake()
        rt.log.info("application_accepted", case_id=case_id, tracking_number=stored["tracking_number"], created=created)
        result = accepted(stored)
        return result if created else JSONResponse(status_code=200, content=result.model_dump(mode="json"))

    @app.get("/applications/{case_id}", tags=["applications"])
    async def status(case_id: str) -> dict:
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
    async def referral_of(referral_id: str) -> dict:
        """The application(s) this agency created for a referral from another agency."""
        docs = await store.by_referral(referral_id)
        return {"referral_id": referral_id, "applications": [
            {"case_id": d["_id"], "tracking_number": d["tracking_number"], "received_on": d["received_on"],
             "receipt_rule": d["receipt_rule"], "contact": d["contact"], **d["referral"],
             "published": not d.get("outbox_pending", False)} for d in docs]}

    @app.get("/applications/{case_id}/screening", tags=["officers"])
    async def screening_of(case_id: str) -> dict:
        """For officers: possible repeats of earlier applications and the drafted fee notice."""
        doc = await store.get(case_id)
        if doc is None:
            raise HTTPException(404, "未找到该申请")
        return {"case_id": case_id, "tracking_number": doc["tracking_number"], **(doc.get("screening") or {})}

    @app.post("/applications/{case_id}/fee-notice", status_code=201, tags=["officers"])
    async def confirm_fee_notice(
        case_id: str,
        x_user: str = Header(default=""),
        pages: int | None = Body(default=None, embed=True, ge=0, description="按量计收：所需提供的页数"),
    ) -> dict:
        """An officer confirms the drafted fee notice (per application, or per page if ``pages``)."""
        doc = await store.get(case_id)
        if doc is None:
            raise HTTPException(404, "未找到该申请")
        if not x_user.strip():
            raise HTTPException(403, "请注明确认收费通知的工作人员（X-User）")
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
        issued = events_procedure.FeeNoticeIssued(
            case_id=case_id, applicant_ref=doc["applicant_ref"], agency_code=doc["agency_code"],
            method=notice.method.value, amount_yuan=notice.amount_yuan, month=notice.month,
            rank_in_month=notice.rank_in_month, pages=notice.pages, confirmed_by=x_user.strip(), issued_on=today,
        )  # fmt: skip
        update: dict = {"$set": {
            "screening.fee_notice.confirmed": True, "screening.fee_notice.confirmed_by": x_user.strip(),
            "screening.fee_notice.issued_on": today.isoformat(), "screening.fee_notice.amount_yuan": notice.amount_yuan,
            "screening.fee_notice.method": notice.method.value, "screening.fee_notice.text_zh": notice.text_zh,
        }}  # fmt: skip
        event = new_event(issued, source=settings.source, subject=case_id,
                          event_id=deterministic_id("fee.notice.issued", case_id))  # fmt: skip
        update = outbox.merge_updates(update, outbox.append_update([outbox.record(screening_topic, event)]))
        if not await store.confirm_fee_notice(case_id, update):
            raise HTTPException(409, "收费通知已确认发出")
        relay.wake()
        return {"case_id": case_id, "amount_yuan": notice.amount_yuan, "text_zh": notice.text_zh}

    app.state.runtime = rt
    return app
