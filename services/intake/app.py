"""Intake service: accepts applications at every channel, stores them, then publishes them.

The application is written, with the events it produces, in one document before anything goes to
Kafka; the outbox relay publishes them when the broker is reachable. So an application accepted
while Kafka is down is published once Kafka is back, and a client retrying with the same
``Idempotency-Key`` gets the same case, not a second one.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Header, HTTPException
from fastapi.responses import JSONResponse

from contracts import topics
from contracts.envelope import deterministic_id, new_event
from contracts.events import ApplicationReceived, ContactRegistered
from services.intake.identity import applicant_ref, query_code, tracking_number
from services.intake.receipt import ReceiptDateError, receipt_date
from services.intake.schemas import ApplicationAccepted, ApplicationIn
from services.intake.settings import IntakeSettings
from services.intake.store import IntakeStore
from servicekit import outbox
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
    agency_default = rt.common.agency_code

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
            **outbox.new_doc_fields(
                [outbox.record(topics.PRIVATE_CONTACTS.name, contact),
                 outbox.record(topics.APPLICATIONS_RECEIVED.name, received)]
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

    app.state.runtime = rt
    return app
