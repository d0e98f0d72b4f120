"""Reply service: department answers (HTTP API and topic), the one consolidated reply and its
documents, amendments, and the case clock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import Body, Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from contracts import events_feedback, events_procedure, events_routing, topics
from contracts.envelope import CloudEvent
from contracts.events import (
    ALL_EVENTS,
    AnswerRecorded,
    AnswerRefused,
    AnswerSubmitted,
    ApplicationReceived,
    CaseClosed,
    CaseRouted,
    ConfidentialityReview,
    ContactRegistered,
    ContradictionFlagged,
    ContradictionResolved,
    NoticeDelivered,
    NoticeDeliveredV2,
    ReplyAmended,
    ReplyIssued,
    registry_of,
)
from contracts.events_documents import DocumentDispatched, DocumentIssued, DocumentReturned, DocumentServed
from contracts.events_desk import AnswerReturned, TaskAcknowledged, TaskReturned
from services.reply.cases import AnswerRefusal, CaseNotFound, CaseStore, Officer, OgiRefusal, TaskNotYetKnown
from services.reply.clock.clock import ProcedureRefused
from services.reply.clock.http import add_routes as add_clock_routes
from services.reply.clock.http import record_correction_received, record_fee_event
from services.reply.clock.service import CalendarSource, ClockService
from services.reply.clock.service import CaseNotFound as ClockCaseNotFound
from services.reply.feedback import FeedbackStore, add_feedback_routes, workday_test
from services.reply.public import add_document_routes, add_public_routes
from services.reply.service_http import add_service_routes
from services.reply.service_store import ServiceStore
from services.reply.step_documents import StepDocuments
from services.reply.reply_docs import AgencyInfo
from services.reply.schemas import AnswerIn, CloseIn, ResolveIn, SignOffIn
from services.reply.reply_docs import shutdown_renderer
from services.reply.settings import ReplySettings
from services.reply.tasks import add_routes as add_task_routes
from servicekit.consumer import Unprocessable, subscribe
from servicekit.http import content_disposition
from servicekit.oidc import Principal, officer, refuse, require_department
from servicekit.openapi import errors
from servicekit.periodic import every
from servicekit.ratelimit import AttemptLimiter, MongoWindowStorage
from servicekit.runtime import ServiceRuntime
from servicekit.validation import MAX_INT


def _officer(principal: Principal) -> Officer:
    return Officer(subject=principal.subject, name=principal.display)


def build(settings: ReplySettings | None = None) -> FastAPI:
    settings = settings or ReplySettings()
    rt = ServiceRuntime("reply", settings.db_name)
    agency = AgencyInfo(name="", office=settings.agency_office, address=settings.agency_address,
                        phone=settings.agency_phone, review_body=settings.review_body)
    # The OIDC issuer: officers' tokens are the only way in; the query-code secret (= intake's)
    # opens the applicant's public reads (services/reply/public.py).
    rt.require_secrets({"REPLY_QUERY_CODE_SECRET": settings.query_code_secret,
                        "REPLY_DOCUMENT_LINK_SECRET": settings.document_link_secret})
    store = CaseStore(rt.db, settings.source, agency, settings.render_documents)
    rt.on_setup(store.setup)
    # After the reply: reads, ratings, follow-ups (feedback.py), with an outbox of their own.
    calendar = CalendarSource(settings.calendar_dir)
    feedback = FeedbackStore(rt.db, settings.source, store.cases,
                             lambda: workday_test(calendar.get()),
                             settings.rating_change_workdays, settings.followup_unread_workdays)
    rt.on_setup(feedback.setup)
    # Every procedural step's document (step_documents.py, issue #11), with an outbox of its own.
    steps = StepDocuments(rt.db, settings.source, agency, query_code_secret=settings.query_code_secret,
                          calendar=calendar.get, enabled=settings.render_documents,
                          contact_patience=timedelta(seconds=settings.contact_patience_seconds),
                          payment_method=settings.fee_payment_method)
    rt.on_setup(steps.setup)
    rt.publishes(topics.DOCUMENTS_ISSUED.name, DocumentIssued)
    # The service (送达) of the documents addressed to the applicant (service_store.py, issue #17).
    service = ServiceStore(rt.db, settings.source, steps, calendar.get)
    rt.on_setup(service.setup)
    for model in (DocumentDispatched, DocumentServed, DocumentReturned):
        rt.publishes(topics.DOCUMENTS_SERVED.name, model)
    # The case clock's own documents (collection ``clocks``, services/reply/clock/service.py), with their outbox.
    clock = ClockService(rt.db, settings.source, calendar.get, topics.CASES_PROCEDURE.name)
    relay = rt.outbox(store.cases, feedback.docs, steps.documents, clock.clocks, service.docs)
    for model in (AnswerRecorded, AnswerRefused, ContradictionFlagged, CaseClosed, TaskAcknowledged, TaskReturned,
                  AnswerReturned, ContradictionResolved):
        rt.publishes(topics.ANSWERS_RECORDED.name, model)
    rt.publishes(topics.REPLIES_ISSUED.name, ReplyIssued)
    rt.publishes(topics.REPLIES_ISSUED.name, ReplyAmended)
    rt.publishes(topics.DEPARTMENT_REPLIES_TEMPLATE, ReplyIssued)
    rt.publishes(topics.DEPARTMENT_REPLIES_TEMPLATE, ReplyAmended)
    for model in events_feedback.EVENTS:
        rt.publishes(topics.REPLIES_ISSUED.name, model)
    # The case clock: deadlines, corrections, extensions, consultations, warnings (Arts. 30-33). It
    # knows each case from the events: case.routed (open_case), case.rerouted and referral.recorded
    # (on_routed), the answers and the reply (read back: on_clock_fact).
    clock_topic = topics.CASES_PROCEDURE.name
    store.clock = clock
    for model in events_procedure.EVENTS:
        if model.event_name in topics.CASES_PROCEDURE.event_types:
            rt.publishes(clock_topic, model)

    async def clock_setup() -> None:
        await clock.setup(store.cases)  # indexes; the cases opened before ``clocks`` (adopted at start-up)

    rt.on_setup(clock_setup)

    @rt.loop
    async def clock_loop() -> None:
        await every(settings.clock_seconds, clock.sweep, name="clock_sweep", log=rt.log,
                    then=lambda n: n and relay.wake())

    async def on_clock_fact(event: CloudEvent[Any]) -> None:
        """The reply's own answers (drafts and sign-offs) and reply, as the clock knows the case."""
        await clock.feed(event)

    @rt.loop
    async def document_renderer() -> None:
        """Owns the PDF worker process: stopped with the service."""
        try:
            await asyncio.Event().wait()
        finally:
            shutdown_renderer()

    @rt.loop
    async def sweep_loop() -> None:
        """Cases and step documents left half-way (a crash, a failed render): advanced again."""

        async def sweep() -> int:
            return await store.sweep() + await steps.sweep() + await service.sweep()

        # A round that raises (store down, a render failed) is logged as reply_sweep_failed.
        await every(settings.sweep_seconds, sweep, name="reply_sweep", log=rt.log, then=lambda n: n and relay.wake())

    async def on_routed(event: CloudEvent[Any]) -> None:
        data = event.data
        if isinstance(data, CaseRouted):
            if await store.open_case(data):
                rt.log.info("case_opened", tasks=len(data.tasks))
            await steps.render_case(data.case_id)  # its receipt waited for the case
        elif isinstance(data, events_routing.CaseRerouted):
            await store.apply_reroute(data)
            await clock.on_rerouted(data)
        elif isinstance(data, events_routing.ReferralRecorded):
            await store.apply_referral(data)
            await clock.on_referral(data)
            await steps.on_step(event)  # 非本机关负责公开告知书
        relay.wake()

    async def on_application(event: CloudEvent[Any]) -> None:
        await store.note_application(event.data.case_id, event.data.description, event.data.delivery_method.value)
        await steps.on_step(event)  # 受理回执
        relay.wake()

    async def on_contact(event: CloudEvent[Any]) -> None:
        """The applicant's name and address (restricted topic): only for the documents addressed to them."""
        await steps.save_applicant(event.data)
        if await steps.render_case(event.data.case_id):
            relay.wake()

    async def on_procedure(event: CloudEvent[Any]) -> None:
        """The clock's steps, read back from the bus: each one's document (correction, extension,
        consultation, abandonment); deadline changes, warnings and triage have none."""
        if await steps.on_step(event):
            relay.wake()

    def arrival_topic() -> str:
        """The topic of the record being handled (FastStream's ``message`` context field)."""
        msg = rt.broker.context.get_local("message")
        return str(getattr(getattr(msg, "raw_message", None), "topic", "") or "")

    async def on_answer(event: CloudEvent[Any]) -> None:
        """An integrator's answer. Its department is the topic's (only that department's principal
        may write it); the review, if any, is the integrator's own 保密审查."""
        data: AnswerSubmitted = event.data
        topic = arrival_topic()
        dept = topics.department_of_answers_topic(topic)
        try:
            if dept is None:
                raise AnswerRefusal(403, "wrong_answers_topic", f"答复须发布在本部门的答复主题上（收到于 {topic or '未知主题'}）")
            if data.dept_code != dept:
                await store.refuse_wrong_topic(data.task_id, dept, data.dept_code)
            await store.record_answer(data.task_id, dept, data.answer, "topic", event.id, data.review)
        except AnswerRefusal as exc:
            relay.wake()  # the refusal is recorded (answer.refused); the message is dead-lettered
            raise Unprocessable(f"{exc.code} (dept_code): {exc.message}") from exc
        relay.wake()

    async def on_screened(event: CloudEvent[Any]) -> None:
        """The applicant's correction submitted online (intake): received on its day, as an officer
        records a correction on paper. Once: a redelivery, or no correction outstanding, is logged
        and left (never dead-lettered)."""
        data = event.data
        if isinstance(data, events_procedure.FeeNoticeIssued):
            await steps.on_step(event)  # 收费通知
        if isinstance(data, (events_procedure.FeeNoticeIssued, events_procedure.FeePaid, events_procedure.FeeWaived)):
            if await record_fee_event(clock, data, rt.log):
                relay.wake()
            return
        if not isinstance(data, events_procedure.CorrectionSubmitted):
            return  # repeat flags: intake's and notify's
        try:
            await record_correction_received(clock, data.case_id, data.received_on)
        except ClockCaseNotFound:
            rt.log.warning("online_correction_ignored", reason="case_not_found")
            return
        except ProcedureRefused as exc:
            if exc.code == "busy":
                raise  # a concurrent change: retried
            level = rt.log.info if exc.code == "correction_already_received" else rt.log.warning
            level("online_correction_ignored", reason=exc.code)
            return
        relay.wake()
        rt.log.info("online_correction_received", received_on=data.received_on.isoformat(),
                    attachment_count=data.attachment_count)

    async def on_delivered(event: CloudEvent[Any]) -> None:
        """A notice delivered (notify): v2 names the document it carried; by e-mail or text that is
        its service (送达). v1 names no document: nothing to record."""
        if isinstance(event.data, NoticeDeliveredV2) and await service.on_delivered(event.data):
            relay.wake()

    common = {"max_attempts": rt.common.max_handler_attempts, "patience_seconds": rt.common.handler_patience_seconds}
    subscribe(rt.broker, group_id=topics.scoped("reply"), topics=(topics.CASES_ROUTED.name,),
              registry=registry_of(CaseRouted, events_routing.CaseRerouted, events_routing.ReferralRecorded),
              handle=on_routed, title="open-case", **common)
    subscribe(rt.broker, group_id=topics.scoped("reply"), topics=(topics.NOTICES_DELIVERED.name,),
              registry=registry_of(NoticeDelivered, NoticeDeliveredV2), handle=on_delivered, title="record-service",
              **common)
    subscribe(rt.broker, group_id=topics.scoped("reply"), topics=(topics.APPLICATIONS_RECEIVED.name,),
              registry=registry_of(ApplicationReceived), handle=on_application, title="note-application", **common)
    screened = topics.APPLICATIONS_SCREENED
    subscribe(rt.broker, group_id=topics.scoped("reply"), topics=(screened.name,),
              registry={m.ce_type(): m for m in ALL_EVENTS if m.event_name in screened.event_types},
              handle=on_screened, title="receive-online-correction", **common)
    subscribe(rt.broker, group_id=topics.scoped("reply"), topics=(topics.PRIVATE_CONTACTS.name,),
              registry=registry_of(ContactRegistered), handle=on_contact, title="note-applicant", **common)
    procedure = topics.CASES_PROCEDURE
    subscribe(rt.broker, group_id=topics.scoped("reply"), topics=(procedure.name,),
              registry={m.ce_type(): m for m in ALL_EVENTS if m.event_name in procedure.event_types},
              handle=on_procedure, title="step-documents", **common)
    # Every department's answers topic (gongkai.dept.<code>.answers), new departments included.
    subscribe(rt.broker, group_id=topics.scoped("reply"), pattern=topics.DEPARTMENT_ANSWERS_PATTERN,
              registry=registry_of(AnswerSubmitted), handle=on_answer, title="record-answer", **common)
    # The clock's view of each case: its answers and its reply, read back like any consumer's.
    for spec, title in ((topics.ANSWERS_RECORDED, "clock-answers"), (topics.REPLIES_ISSUED, "clock-reply")):
        subscribe(rt.broker, group_id=topics.scoped("reply"), topics=(spec.name,),
                  registry={m.ce_type(): m for m in ALL_EVENTS if m.event_name in spec.event_types},
                  handle=on_clock_fact, title=title, **common)

    app = rt.app("Gongkai reply", "部门答复、汇总答复、答复文书、答复期限")
    add_clock_routes(app, clock, relay.wake)
    attempts = MongoWindowStorage(collection=rt.db["query_code_attempts"])
    rt.on_setup(attempts.setup)
    rt.on_setup(lambda: store.cases.create_index("tracking_number"))

    async def pdf_read(case: dict[str, Any]) -> None:
        """The applicant downloaded the reply PDF: a read (feedback.py); never fails the download."""
        try:
            if await feedback.record_read(case, "pdf"):
                relay.wake()
        except Exception as exc:  # noqa: BLE001 - the read is a record, the PDF is what matters
            rt.log.warning("reply_read_not_recorded", error=repr(exc))
        await opened(case, "pdf")

    async def opened(case: dict[str, Any], via: str, document_id: str | None = None) -> None:
        """The applicant opened a released document online: its service (送达); never fails the read."""
        try:
            if await service.on_opened(case, via, document_id):
                relay.wake()
        except Exception as exc:  # noqa: BLE001 - the service is a record, the document is what matters
            rt.log.warning("service_not_recorded", error=repr(exc), via=via)

    add_public_routes(app, store.cases, settings.query_code_secret,
                      AttemptLimiter(attempts, settings.query_code_attempts, namespace="query-code"),
                      clock.deadline, store.document, on_pdf=pdf_read)
    add_document_routes(app, store.cases, settings.query_code_secret,
                        AttemptLimiter(attempts, settings.query_code_attempts, namespace="query-code"),
                        steps, settings.document_link_secret,
                        on_document=lambda case, document_id: opened(case, "document", document_id))
    add_feedback_routes(app, feedback, settings.query_code_secret,
                        AttemptLimiter(attempts, settings.query_code_attempts, namespace="query-code"), relay.wake,
                        on_read=lambda case, via: opened(case, via))
    add_service_routes(app, service, agency, settings.query_code_secret,
                       AttemptLimiter(attempts, settings.query_code_attempts, namespace="query-code"), relay.wake)

    def department_of_body(principal: Principal, request: Request, dept_code: str | None) -> None:
        """A ``dept_code`` in the body is only a statement: it must be the token's department."""
        if dept_code is not None and dept_code != principal.department:
            raise refuse(principal, request, f"无权以部门 {dept_code} 的名义办理（本人所属部门：{principal.department or '无'}）",
                         "department (body)")

    async def task_department(task_id: str) -> str:
        try:
            return await store.task_department(task_id)
        except TaskNotYetKnown:
            # Either a wrong id, or a task whose case has not reached the reply service yet.
            raise HTTPException(404, "未找到该任务；如任务刚刚下达，请稍后重试", headers={"Retry-After": "1"}) from None

    # The department's desk: acknowledgement, return, send-back, task view, materials (tasks.py).
    desk = add_task_routes(app, store, relay.wake, task_department)
    rt.on_setup(desk.setup)

    @app.get("/departments/{dept_code}/tasks", tags=["tasks"])
    async def open_tasks(dept_code: str, request: Request, principal: Principal = Depends(officer)) -> dict:
        require_department(principal, request, dept_code)
        return {"dept_code": dept_code, "tasks": await desk.listing(dept_code)}

    @app.post("/tasks/{task_id}/answer", status_code=201, tags=["tasks"], responses=errors(409))
    async def answer(task_id: str, body: AnswerIn, request: Request, principal: Principal = Depends(officer)) -> Any:
        """Record the department's answer as a draft (the 保密审查 follows: ``/tasks/{task_id}/review``)."""
        department_of_body(principal, request, body.dept_code)
        dept = await task_department(task_id)
        if principal.department and principal.department != dept:
            # An officer of another department: refused, and the attempt is recorded on the case
            # (answer.refused, not_your_task) as it would be from the bus.
            try:
                await store.record_answer(task_id, principal.department, body.answer(), "http",
                                          author=_officer(principal))
            except AnswerRefusal as exc:
                relay.wake()
                raise refuse(principal, request, exc.message, "department") from None
        require_department(principal, request, dept)
        try:
            recorded = await store.record_answer(task_id, dept, body.answer(), "http", author=_officer(principal))
        except TaskNotYetKnown:
            raise HTTPException(404, "未找到该任务", headers={"Retry-After": "1"}) from None
        except AnswerRefusal as exc:
            relay.wake()
            raise HTTPException(exc.status, exc.message) from None
        relay.wake()
        content = {"case_id": recorded.case_id, "task_id": task_id, "status": recorded.status,
                   "draft": recorded.status != "signed_off" and not (await _signed(recorded.case_id, task_id))}
        return JSONResponse(content, status_code=201 if recorded.created else 200)

    async def _signed(case_id: str, task_id: str) -> bool:
        case = await store.get(case_id) or {}
        return any(a["task_id"] == task_id and a.get("review") for a in case.get("answers") or [])

    @app.post("/tasks/{task_id}/review", tags=["tasks"], responses=errors(409))
    async def sign_off(task_id: str, request: Request, principal: Principal = Depends(officer),
                       body: SignOffIn | None = Body(default=None)) -> dict:
        """The confidentiality review (保密审查) sign-off of a draft answer, by a reviewer of the task's
        department who did not write it (four eyes). The reviewer is the signed-in officer."""
        department_of_body(principal, request, body.dept_code if body else None)
        dept = await task_department(task_id)
        require_department(principal, request, dept)
        review = ConfidentialityReview(reviewer=principal.display, reviewer_subject=principal.subject,
                                       reviewed_at=datetime.now(UTC))
        try:
            recorded = await store.sign_off(task_id, dept, review)
        except TaskNotYetKnown:
            raise HTTPException(404, "未找到该任务") from None
        except AnswerRefusal as exc:
            relay.wake()
            if exc.code == "four_eyes":
                raise refuse(principal, request, exc.message, "four eyes") from None
            raise HTTPException(exc.status, exc.message) from None
        relay.wake()
        return {"case_id": recorded.case_id, "task_id": task_id, "status": recorded.status}

    async def _case(case_id: str) -> dict[str, Any]:
        case = await store.get(case_id)
        if case is None:
            raise HTTPException(404, "未找到该案件")
        return case

    @app.get("/cases/{case_id}/reply", tags=["replies"])
    async def get_reply(case_id: str) -> dict:
        case = await _case(case_id)
        return {
            "case_id": case_id,
            "tracking_number": case["tracking_number"],
            "issued": case["reply_issued"],
            "answered": case["answered_count"],
            "expected": case["expected"],
            "signed_off": sum(1 for a in case["answers"] if a.get("review")),
            "reply": case.get("reply"),
            "amendments": case.get("amendments") or [],
            "contradictions": case.get("contradictions") or [],
            "closed": case.get("closed"),
            "referrals": case.get("referrals") or [],
            "withdrawn": case.get("withdrawn") or [],
            "returns": [{k: r[k] for k in ("task_id", "dept_code", "dept_name", "reason", "by", "at")}
                        for r in case.get("returns") or []],
        }

    Amendment = Query(default=None, ge=1, le=MAX_INT, description="补充答复序号（缺省：答复书本身）")

    async def _document(case_id: str, amendment: int | None) -> dict:
        case = await _case(case_id)
        if not case["reply_issued"]:
            raise HTTPException(404, "该案件尚未作出答复")
        if amendment is None:
            document_id = case["reply"]["document_id"]
        else:
            found = next((a for a in case.get("amendments") or [] if a["seq"] == amendment), None)
            if found is None:
                raise HTTPException(404, "未找到该补充答复")
            document_id = found["document_id"]
        doc = await store.document(document_id)
        if doc is None:
            raise HTTPException(404, "答复文书尚未生成，请稍后重试", headers={"Retry-After": "2"})
        return doc

    @app.get("/cases/{case_id}/reply.pdf", tags=["replies"], response_class=Response,
             responses={200: {"content": {"application/pdf": {}}, "description": "答复书（PDF）"}})
    async def reply_pdf(case_id: str, amendment: int | None = Amendment) -> Response:
        doc = await _document(case_id, amendment)
        return Response(bytes(doc["pdf"]), media_type="application/pdf",
                        headers={"Content-Disposition": content_disposition("inline", f"{doc['_id']}.pdf")})

    @app.get("/cases/{case_id}/reply.html", tags=["replies"], response_class=HTMLResponse)
    async def reply_html(case_id: str, amendment: int | None = Amendment) -> HTMLResponse:
        doc = await _document(case_id, amendment)
        return HTMLResponse(doc["html"])

    @app.post("/cases/{case_id}/close", tags=["ogi"], responses=errors(409))
    async def close(case_id: str, body: CloseIn, principal: Principal = Depends(officer)) -> dict:
        """The OGI office closes the case with the missing answers stated; the reply follows."""
        try:
            closed = await store.close_case(case_id, principal.display, body.reason, principal.subject)
        except CaseNotFound:
            raise HTTPException(404, "未找到该案件") from None
        except OgiRefusal as exc:
            raise HTTPException(exc.status, exc.message) from None
        relay.wake()
        return {"case_id": case_id, "missing": closed["missing"], "statement": closed["statement"]}

    @app.post("/cases/{case_id}/contradictions/{contradiction_id}/resolve", tags=["ogi"], responses=errors(409))
    async def resolve(case_id: str, contradiction_id: str, body: ResolveIn,
                      principal: Principal = Depends(officer)) -> dict:
        try:
            out = await store.resolve_contradiction(case_id, contradiction_id, principal.display, body.note,
                                                    body.reopen, principal.subject)
        except CaseNotFound:
            raise HTTPException(404, "未找到该案件") from None
        except OgiRefusal as exc:
            raise HTTPException(exc.status, exc.message) from None
        relay.wake()
        return {"case_id": case_id, "contradiction_id": contradiction_id, "reopened": out.get("reopened", [])}

    app.state.runtime = rt
    app.state.store = store
    app.state.clock = clock
    app.state.steps = steps
    app.state.feedback = feedback
    app.state.service = service
    app.state.on_delivered = on_delivered  # the notices.delivered consumer's handler (in-process tests)
    app.state.on_screened = on_screened  # the online-correction consumer's handler (in-process tests)
    return app

