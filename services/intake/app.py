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

from fastapi import Body, Depends, FastAPI, Header, HTTPException, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.formparsers import MultiPartException

from contracts import events_procedure, topics
from contracts.envelope import CloudEvent, deterministic_id, new_event
from contracts.events import ALL_EVENTS, ApplicationReceived, ContactRegistered, registry_of
from contracts.events_routing import CaseReferred
from contracts.vocabulary import Channel
from services.intake import attachments, corrections, fees, referrals, repeats, webhooks
from services.intake.attachments import AttachmentStore, Upload
from services.intake.identity import applicant_ref, query_code, tracking_number
from services.intake.receipt import Receipt, ReceiptDateError, earliest_entry, receipt_date
from services.intake.schemas import (
    ApplicationAccepted,
    ApplicationBase,
    ApplicationIn,
    ClerkApplicationIn,
    CorrectionIn,
    FeeNoticeIn,
    FeeSettlementIn,
)
from services.intake.settings import IntakeSettings
from services.intake.store import IntakeStore, NumbersExhausted, rank_key
from servicekit import outbox
from servicekit.consumer import subscribe
from servicekit.http import content_disposition
from servicekit.oidc import Principal, officer
from servicekit.openapi import errors
from servicekit.querycode import NO_MATCH, QueryCodeGate
from servicekit.ratelimit import AttemptLimiter, MongoWindowStorage
from servicekit.runtime import ServiceRuntime
from servicekit.validation import field_errors, problem
from servicekit.versioned import Change

CHINA = ZoneInfo("Asia/Shanghai")
CaseId = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")]
REPLAYED = {200: {"model": ApplicationAccepted, "description": "同一 Idempotency-Key 的重复提交：原申请的回执"}}
REFUSED_AGENCY = "本机关不受理该机关的申请：请向该机关提出申请，或不填写此项（由本机关受理）"
TrackingNumber = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")]
AttachmentId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9]+$")]
INVALID = "提交的内容有误，请按提示修改后重新提交"
# A multipart body larger than this is refused before it is read (the files' limit and some room).
MAX_MULTIPART_BYTES = attachments.MAX_TOTAL_BYTES + 2 * 1024 * 1024
BAD_MULTIPART = "上传内容格式有误，请重新选择文件后提交"

MULTIPART_APPLICATION = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {"$ref": "#/components/schemas/ApplicationIn"}},
    "multipart/form-data": {"schema": {
        "type": "object", "required": ["application"],
        "properties": {
            "application": {"type": "string", "contentMediaType": "application/json",
                            "description": "申请内容：与 application/json 请求体完全相同的 JSON（ApplicationIn）"},
            "attachments": attachments.MULTIPART_FILES_SCHEMA,
        }},
        "encoding": {"application": {"contentType": "application/json"}}},
}}}
MULTIPART_CORRECTION = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["query_code"],
    "properties": {
        "query_code": {"type": "string", "maxLength": 32, "description": "受理回执上的查询码"},
        "description": {"type": "string", "minLength": 5, "maxLength": 4000,
                        "description": "补正后的所需政府信息的描述（可选；与附件至少提供一项）"},
        "note": {"type": "string", "maxLength": 2000, "description": "补正说明（可选）"},
        "attachments": {**attachments.MULTIPART_FILES_SCHEMA, "description": "补正材料（0–5 个；每个 ≤ 10 MiB，合计 ≤ 20 MiB；PDF、JPG、PNG）"},
    }}}}}}
PUBLIC_REFUSALS = {404: {"description": NO_MATCH}, 429: {"description": "查询码错误次数过多（Retry-After）"}}


def invalid(errs: list[dict[str, str]]) -> JSONResponse:
    return JSONResponse(status_code=422, content={"detail": INVALID, "errors": errs})


def request_errors(exc: ValidationError) -> RequestValidationError:
    """A model's errors as FastAPI reports a body's (located under ``body``)."""
    return RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()])


async def read_json_body(request: Request) -> ApplicationIn:
    """The JSON body, read and refused exactly as FastAPI does for a model parameter."""
    raw = await request.body()
    if not raw:
        raise RequestValidationError([{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}])
    try:
        obj = json.loads(raw)
    except json.JSONDecodeError as e:
        raise RequestValidationError([{"type": "json_invalid", "loc": ("body", e.pos), "msg": "JSON decode error",
                                       "input": {}, "ctx": {"error": e.msg}}]) from None
    except ValueError:  # not UTF-8
        raise RequestValidationError([{"type": "json_invalid", "loc": ("body", 0), "msg": "JSON decode error",
                                       "input": {}, "ctx": {"error": "not UTF-8"}}]) from None
    try:
        return ApplicationIn.model_validate(obj)
    except ValidationError as exc:
        raise request_errors(exc) from None


async def application_part(form: FormData) -> tuple[ApplicationIn | None, list[dict[str, str]]]:
    """The ``application`` part of a multipart application, parsed with the JSON body's model
    (a plain field; a part sent as a file, e.g. a JSON blob, is read the same way)."""
    raw = form.get("application")
    if raw is None:
        return None, [{"field": "application", "message": "缺少申请内容（application 部分，内容为申请的 JSON）",
                       "type": "missing"}]
    if not isinstance(raw, str):
        raw = await raw.read(1024 * 1024 + 1)
        if len(raw) > 1024 * 1024:
            return None, [{"field": "application", "message": "申请内容（application 部分）过长", "type": "value_error"}]
    try:
        obj = json.loads(raw)
    except ValueError:
        return None, [{"field": "application", "message": "申请内容（application 部分）不是有效的 JSON",
                       "type": "json_invalid"}]
    if not isinstance(obj, dict):
        return None, [{"field": "application", "message": "申请内容（application 部分）应为 JSON 对象",
                       "type": "model_type"}]
    try:
        return ApplicationIn.model_validate(obj), []
    except ValidationError as exc:
        return None, field_errors(list(exc.errors()))


async def read_multipart(request: Request, max_fields: int) -> FormData | JSONResponse:
    """The multipart form of a request with files (at most the files' limits and some room), or
    the refusal: 422 ``attachments`` for too much, 400 for a body that is not multipart."""
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > MAX_MULTIPART_BYTES:
        return problem(422, attachments.FIELD, "附件合计过大：全部附件合计不得超过 20 MiB")
    try:
        return await request.form(max_files=attachments.MAX_FILES + 20, max_fields=max_fields)
    except MultiPartException as exc:
        if "Too many files" in str(exc):
            return problem(422, attachments.FIELD, f"附件最多 {attachments.MAX_FILES} 个")
        raise HTTPException(400, BAD_MULTIPART) from None
    except Exception:  # noqa: BLE001 - a malformed body
        raise HTTPException(400, BAD_MULTIPART) from None


def correction_fields(form: FormData) -> tuple[dict[str, str | None], list[dict[str, str]]]:
    """The correction's text fields (empty ones as not given), checked like a JSON body's."""
    given = {k: v for k in ("description", "note") if isinstance(v := form.get(k), str) and v.strip()}
    try:
        body = CorrectionIn.model_validate(given)
    except ValidationError as exc:
        return {"description": None, "note": None}, field_errors(list(exc.errors()))
    return {"description": body.description, "note": body.note}, []


def content_type_of(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


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


def fingerprint(kind: str, body: ApplicationBase, uploads: list[Upload] | None = None) -> str:
    """What a replay under the same Idempotency-Key must repeat: the same door, the same application,
    the same files (none: the fingerprint of a JSON application)."""
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    files = attachments.fingerprint_part(uploads or [])
    return hashlib.sha256(f"{kind}\x00{canonical}{files}".encode()).hexdigest()


def build(settings: IntakeSettings | None = None) -> FastAPI:
    settings = settings or IntakeSettings()
    rt = ServiceRuntime("intake", settings.db_name)
    rt.require_secrets({"INTAKE_QUERY_CODE_SECRET": settings.query_code_secret,
                        "INTAKE_APPLICANT_REF_SECRET": settings.applicant_ref_secret})
    production = rt.common.env == "production"
    store = IntakeStore(rt.db)
    rt.on_setup(store.setup)
    files = AttachmentStore(rt.db)
    rt.on_setup(files.setup)
    attempts = MongoWindowStorage(collection=rt.db["query_code_attempts"])
    rt.on_setup(attempts.setup)
    gate = QueryCodeGate(settings.query_code_secret,
                         AttemptLimiter(attempts, settings.query_code_attempts, namespace="query-code"))
    relay = rt.outbox(store.applications)
    rt.publishes(topics.APPLICATIONS_RECEIVED.name, ApplicationReceived)
    rt.publishes(topics.PRIVATE_CONTACTS.name, ContactRegistered)
    # Screening events (repeat flags, fee notices) are published only once their topic is in the
    # catalogue: the broker does not create topics, and a missing one would stall the relay.
    screening_topic = topics.APPLICATIONS_SCREENED.name
    rt.publishes(screening_topic, events_procedure.RepeatFlagged)
    rt.publishes(screening_topic, events_procedure.FeeNoticeIssued)
    rt.publishes(screening_topic, events_procedure.FeePaid)
    rt.publishes(screening_topic, events_procedure.FeeWaived)
    rt.publishes(screening_topic, events_procedure.CorrectionSubmitted)
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
    subscribe(rt.broker, group_id=topics.scoped(f"intake-{agency_default}"), topics=(topics.CASES_REFERRED.name,),
              registry=registry_of(CaseReferred), handle=on_referred,
              max_attempts=rt.common.max_handler_attempts,
              patience_seconds=rt.common.handler_patience_seconds, title="accept-referral")

    async def on_procedure(event: CloudEvent) -> None:
        """The correction's state (Art. 30), as the reply service's clock records it."""
        recorded = await corrections.apply_event(store.versioned, event)
        if recorded is not None:
            rt.log.info("correction_state_recorded", case_id=event.data.case_id, state=recorded)

    procedure_types = topics.CASES_PROCEDURE.event_types
    subscribe(rt.broker, group_id=topics.scoped(f"intake-{agency_default}"), topics=(topics.CASES_PROCEDURE.name,),
              registry={m.ce_type(): m for m in ALL_EVENTS if m.event_name in procedure_types},
              handle=on_procedure, max_attempts=rt.common.max_handler_attempts,
              patience_seconds=rt.common.handler_patience_seconds, title="note-correction")

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
            attachments=doc.get("attachments") or [],
        )

    async def accept(body: ApplicationBase, *, kind: str, receipt: Receipt, idempotency_key: str | None,
                     now: datetime, clerk: Principal | None = None,
                     uploads: list[Upload] | None = None) -> ApplicationAccepted | JSONResponse:
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
        request_print = fingerprint(kind, body, uploads)
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
                            received_on=date.fromisoformat(e["received_on"]), normalised=e.get("repeat_text"))
            for e in earlier_docs
        ]  # fmt: skip
        matches = repeats.find_repeats(
            applicant_ref=ref, agency_code=agency, description=body.description, earlier=earlier, exclude_case_id=case_id
        )
        # The rank is derived from the stored applications when the application is stored
        # (IntakeStore.insert_numbered), so a submission that crashes uses none up.
        month = fees.month_of(receipt.received_on)

        def screening_of(rank: int) -> dict[str, Any]:
            fee = fees.per_application_notice(
                case_id=case_id, applicant_ref=ref, agency_code=agency, received_on=receipt.received_on, rank=rank
            )
            return {
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
                notify_by=body.contact.notify_by,
                # What the documents addressed to the applicant print (reply service, in the PDF only).
                applicant_type=body.applicant.type,
                contact_person=body.applicant.contact_person,
                address=body.contact.address,
                postcode=body.contact.postcode,
            ),
            source=settings.source,
            subject=case_id,
            event_id=deterministic_id("contact.registered", case_id),
            time=now,
        )

        def doc_of(number: str, rank: int | None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
            if rank is None:
                raise RuntimeError("an application of either door is ranked in its month")
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
                "screening": screening_of(rank),
                "rank_month": month,
                "rank_key": rank_key(ref, agency, month, rank),
                "attachments": stored_files,
            }, [
                # Contact first: notify learns how to reach the applicant before it hears of the case.
                outbox.record(topics.PRIVATE_CONTACTS.name, contact),
                outbox.record(topics.APPLICATIONS_RECEIVED.name, received),
                *screening_records,
            ]

        # The files are stored before the application (whose outbox publishes it): an accepted
        # application never lacks its files. Their ids follow from the case: a replay rewrites them.
        stored_files = await files.put(case_id, "application", uploads or [])
        prefix = served[agency]
        try:
            stored, created = await store.insert_numbered(
                agency, today, lambda seq: tracking_number(prefix, today, seq), doc_of, ranked=(ref, month))
        except NumbersExhausted:
            rt.log.error("tracking_numbers_exhausted", agency_code=agency, day=today.isoformat())
            raise HTTPException(503, "暂时无法分配受理编号，请稍后重试") from None
        if created:
            relay.wake()
        elif stored.get("request_fingerprint", request_print) != request_print:  # a concurrent first submission
            return problem(422, "idempotency-key", "此 Idempotency-Key 已用于另一份内容不同的申请：请换用新的键")
        rt.log.info("application_accepted", case_id=case_id, tracking_number=stored["tracking_number"],
                    channel=channel.value, created=created, attachments=len(stored.get("attachments") or []),
                    **({"clerk_subject": clerk.subject} if clerk is not None else {}))
        result = accepted(stored)
        return result if created else JSONResponse(status_code=200, content=result.model_dump(mode="json"))

    @app.post("/applications", status_code=201, response_model=ApplicationAccepted, tags=["applications"],
              responses={**REPLAYED, **errors(400, 415, 422, 503)}, openapi_extra=MULTIPART_APPLICATION)
    async def submit(
        request: Request,
        idempotency_key: str | None = Header(default=None, min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$"),
    ) -> ApplicationAccepted | JSONResponse:
        """An application submitted online by the applicant. The date of receipt is today (China),
        the server's: no date may be given. Window, post and fax applications are entered by an
        OGI officer at ``POST /clerk/applications``.

        Either ``application/json`` (the application), or ``multipart/form-data`` with the part
        ``application`` (that same JSON, as text) and 0–5 file parts ``attachments`` (Art. 29, e.g.
        proof of identity): each ≤ 10 MiB, together ≤ 20 MiB, PDF, JPG or PNG by their content, none
        empty. Errors name ``application`` (the part missing or not JSON), the application's own
        fields as for JSON, ``attachments`` or ``attachments[i]`` (0-based). The files are stored
        with their SHA-256 before the application is accepted; the receipt lists them."""
        ctype = content_type_of(request)
        uploads: list[Upload] = []
        if ctype == "multipart/form-data":
            form = await read_multipart(request, max_fields=10)
            if isinstance(form, JSONResponse):
                return form
            try:
                body, errs = await application_part(form)
                uploads, file_errs = await attachments.read_uploads(form)
            finally:
                await form.close()
            if errs or file_errs:
                return invalid(errs + file_errs)
            assert body is not None
        elif not ctype or ctype == "application/json" or ctype.endswith("+json"):
            body = await read_json_body(request)
        else:
            raise HTTPException(415, f"不支持的内容类型 {ctype[:60]}：请以 application/json 或 multipart/form-data 提交")
        now = datetime.now(UTC)
        receipt = receipt_date(Channel.ONLINE, now.astimezone(CHINA).date())
        return await accept(body, kind="online", receipt=receipt, idempotency_key=idempotency_key, now=now,
                            uploads=uploads)

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
        corr = corrections.officer_view(doc)
        original = (doc.get("application") or {}).get("description")
        corrected = ((corr or {}).get("submitted") or {}).get("description")
        return {
            "case_id": doc["_id"],
            "tracking_number": doc["tracking_number"],
            "received_on": doc["received_on"],
            "published": not doc.get("outbox_pending", False),
            # The description as corrected online (Art. 30), else as applied for; the original beside it.
            "description": corrected or original,
            "original_description": original,
            "attachments": doc.get("attachments") or [],
            "correction": corr,
        }

    @app.get("/applications/{case_id}/attachments/{attachment_id}", tags=["officers"], response_class=Response,
             responses={200: {"content": {"application/pdf": {}, "image/jpeg": {}, "image/png": {}},
                              "description": "附件文件（X-Content-SHA256：其 SHA-256）"}, **errors(503)})
    async def attachment(case_id: CaseId, attachment_id: AttachmentId) -> Response:
        """A file the applicant attached to the application or to the online correction (OGI office only)."""
        doc = await store.get(case_id)
        if doc is None:
            raise HTTPException(404, "未找到该申请")
        listed = list(doc.get("attachments") or [])
        listed += (((doc.get("correction") or {}).get("submitted") or {}).get("attachments") or [])
        if attachment_id not in {a["attachment_id"] for a in listed}:
            raise HTTPException(404, "未找到该附件")
        found = await files.get(case_id, attachment_id)
        if found is None:
            raise HTTPException(404, "未找到该附件")
        meta, data = found
        if not data:
            raise HTTPException(503, "附件文件不完整，请稍后重试")
        rt.log.info("attachment_downloaded", case_id=case_id, attachment_id=attachment_id)
        return Response(data, media_type=meta["content_type"], headers={
            "Content-Disposition": content_disposition("attachment", meta["filename"]),
            "X-Content-SHA256": meta["sha256"], "Cache-Control": "no-store"})

    async def case_id_of(number: str) -> str | None:
        doc = await store.applications.find_one({"tracking_number": number}, {"_id": 1})
        return doc["_id"] if doc else None

    @app.post("/public/applications/{tracking_number}/correction", status_code=201, tags=["public"],
              responses={**PUBLIC_REFUSALS, **errors(400, 409, 415, 422)}, openapi_extra=MULTIPART_CORRECTION)
    async def submit_correction(request: Request, tracking_number: TrackingNumber) -> Any:  # noqa: ANN401
        """The applicant's correction (补正, Art. 30), online, with the query code: the corrected
        description of the information requested and/or files (0–5; each ≤ 10 MiB, together ≤ 20 MiB;
        PDF, JPG, PNG), and a note. Once, while a correction notice is outstanding and not overdue
        (else 409). Received today (China); the reply service restarts the clock from that day.
        Checked in this order: the query code (422 / 429 / 404), the correction's state (409), the
        fields and files (422: ``description``, ``note``, ``attachments``, ``attachments[i]``)."""
        if content_type_of(request) not in ("multipart/form-data", "application/x-www-form-urlencoded"):
            raise HTTPException(415, "请以 multipart/form-data 提交补正（字段 query_code、description、note、attachments）")
        form = await read_multipart(request, max_fields=10)
        if isinstance(form, JSONResponse):
            return form
        try:
            given = form.get("query_code")
            if not isinstance(given, str) or not given.strip():
                return problem(422, "query_code", "请填写受理回执上的查询码", "missing")
            opened = await gate.open(request, tracking_number, given, case_id_of)
            if isinstance(opened, JSONResponse):
                return opened
            case_id = opened
            doc = await store.get(case_id)
            if doc is None:
                raise HTTPException(404, NO_MATCH)
            today = datetime.now(UTC).astimezone(CHINA).date()
            why = corrections.refusal(doc, today)
            if why is not None:
                raise HTTPException(409, why)
            fields, errs = correction_fields(form)
            uploads, file_errs = await attachments.read_uploads(form)
        finally:
            await form.close()
        errs += file_errs
        if not errs and not fields["description"] and not uploads:
            errs.append({"field": "description", "message": corrections.NOTHING_GIVEN, "type": "missing"})
        if errs:
            return invalid(errs)
        now = datetime.now(UTC)
        stored_files = await files.put(case_id, "correction", uploads)
        submitted = {"received_on": today.isoformat(), "submitted_at": now, **fields, "attachments": stored_files}
        event = new_event(
            events_procedure.CorrectionSubmitted(case_id=case_id, received_on=today, submitted_at=now,
                                                 attachment_count=len(stored_files)),
            source=settings.source, subject=case_id, event_id=deterministic_id("correction.submitted", case_id),
            time=now,
        )
        written = await store.versioned.write_if(
            case_id, {"correction.requested": {"$ne": None}, "correction.submitted": None,
                      "correction.received": None, "correction.abandoned": None},
            Change(set={"correction.submitted": submitted}, records=[outbox.record(screening_topic, event)]))
        if not written:  # a concurrent submission, or the state changed meanwhile
            raise HTTPException(409, corrections.refusal(await store.get(case_id) or {}, today)
                                or corrections.ALREADY_SUBMITTED)
        relay.wake()
        rt.log.info("correction_submitted", case_id=case_id, attachments=len(stored_files),
                    description_given=bool(fields["description"]))
        return JSONResponse(status_code=201, content={
            "tracking_number": doc["tracking_number"], "received_on": today.isoformat(),
            "attachments": stored_files})

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
            await store.versioned.write_if(
                case_id, {"screening.fee_notice": None},
                Change(set={"screening.fee_notice": {"method": notice.method.value, "confirmed": False}}))
        today = datetime.now(UTC).astimezone(CHINA).date()
        if body is not None and body.issued_on is not None:
            # A notice entered afterwards (补登记): never after today, nor before the receipt.
            bad = fees.date_refusal("issued_on", body.issued_on, today=today, not_before=received_on,
                                    not_before_zh="收到申请之日")
            if bad:
                return problem(422, "issued_on", bad)
            today = body.issued_on
        who = principal.display
        issued = events_procedure.FeeNoticeIssued(
            case_id=case_id, applicant_ref=doc["applicant_ref"], agency_code=doc["agency_code"],
            method=notice.method.value, amount_yuan=notice.amount_yuan, month=notice.month,
            rank_in_month=notice.rank_in_month, pages=notice.pages, confirmed_by=who, issued_on=today,
            confirmed_by_subject=principal.subject,
        )  # fmt: skip
        confirmed = {
            "screening.fee_notice.confirmed": True, "screening.fee_notice.confirmed_by": who,
            "screening.fee_notice.confirmed_by_subject": principal.subject,
            "screening.fee_notice.issued_on": today.isoformat(), "screening.fee_notice.amount_yuan": notice.amount_yuan,
            "screening.fee_notice.method": notice.method.value, "screening.fee_notice.text_zh": notice.text_zh,
        }  # fmt: skip
        event = new_event(issued, source=settings.source, subject=case_id,
                          event_id=deterministic_id("fee.notice.issued", case_id))  # fmt: skip
        change = Change(set=confirmed, records=[outbox.record(screening_topic, event)])
        if not await store.confirm_fee_notice(case_id, change):
            raise HTTPException(409, "收费通知已确认发出")
        relay.wake()
        rt.log.info("fee_notice_confirmed", case_id=case_id, subject=principal.subject, amount_yuan=notice.amount_yuan)
        return {"case_id": case_id, "amount_yuan": notice.amount_yuan, "text_zh": notice.text_zh}

    @app.post("/applications/{case_id}/fee-settlement", status_code=201, tags=["officers"], responses=errors(409))
    async def record_fee_settlement(case_id: CaseId, body: FeeSettlementIn,
                                    principal: Principal = Depends(officer)) -> Any:
        """An OGI officer records that the applicant paid the processing fee, or that the agency
        waived it (减免, with the reason), once (国办函〔2020〕109号). ``fee.paid`` / ``fee.waived``
        tell the reply service's clock, which counts the time since the notice as not counted; a
        payment after the 20 WD does not revive an application deemed abandoned. The officer
        recorded is the token's (display name and subject)."""
        doc = await store.get(case_id)
        if doc is None:
            raise HTTPException(404, "未找到该申请")
        refused = fees.settlement_refusal(doc)
        if refused:
            raise HTTPException(409, refused)
        fee = doc["screening"]["fee_notice"]
        issued_on = date.fromisoformat(fee["issued_on"])
        today = datetime.now(UTC).astimezone(CHINA).date()
        bad = fees.date_refusal("settled_on", body.settled_on, today=today, not_before=issued_on,
                                not_before_zh="收费通知发出之日")
        if bad:
            return problem(422, "settled_on", bad)
        if body.outcome == "waived" and not (body.reason or "").strip():
            return problem(422, "reason", "减免信息处理费须写明理由")
        if body.outcome == "paid" and body.reason is not None:
            return problem(422, "reason", "仅减免时填写理由")
        if body.outcome == "waived" and body.amount_yuan is not None:
            return problem(422, "amount_yuan", "减免时不填写缴纳金额")
        on, who = body.settled_on or today, principal.display
        amount = fee["amount_yuan"] if body.amount_yuan is None else body.amount_yuan
        if body.outcome == "paid":
            data: Any = events_procedure.FeePaid(
                case_id=case_id, paid_on=on, amount_yuan=amount, fee_notice_issued_on=issued_on, recorded_by=who,
                recorded_by_subject=principal.subject)  # fmt: skip
            settlement = {"kind": "paid", "on": on.isoformat(), "amount_yuan": amount}
        else:
            data = events_procedure.FeeWaived(
                case_id=case_id, waived_on=on, reason=body.reason.strip(), fee_notice_issued_on=issued_on,
                recorded_by=who, recorded_by_subject=principal.subject)  # fmt: skip
            settlement = {"kind": "waived", "on": on.isoformat(), "reason": body.reason.strip()}
        settlement |= {"by": who, "by_subject": principal.subject}
        event = new_event(data, source=settings.source, subject=case_id,
                          event_id=deterministic_id(data.event_name, case_id))  # fmt: skip
        settled = await store.versioned.write_if(
            case_id, {"screening.fee_notice.confirmed": True, "screening.fee_notice.settlement": None,
                      "correction.abandoned": None},
            Change(set={"screening.fee_notice.settlement": settlement},
                   records=[outbox.record(screening_topic, event)]))  # fmt: skip
        if not settled:
            raise HTTPException(409, "已登记缴费或减免，或申请已视为放弃")
        relay.wake()
        rt.log.info("fee_settled", case_id=case_id, subject=principal.subject, outcome=body.outcome)
        return {"case_id": case_id, "outcome": body.outcome, "settled_on": on.isoformat(),
                "fee_notice_issued_on": issued_on.isoformat(), **({"amount_yuan": amount} if body.outcome == "paid" else {})}

    base_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        """The shared document, with the JSON application's schema (the route reads its body itself)."""
        if app.openapi_schema:
            return app.openapi_schema
        doc = base_openapi()
        schemas = doc.setdefault("components", {}).setdefault("schemas", {})
        js = ApplicationIn.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, sub in js.pop("$defs", {}).items():
            schemas.setdefault(name, sub)
        schemas["ApplicationIn"] = js
        return doc

    app.openapi = openapi  # type: ignore[method-assign]
    app.state.runtime = rt
    app.state.on_procedure = on_procedure  # the consumer's handler (tests call it in-process)
    app.state.intake_store = store
    return app
