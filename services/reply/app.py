"""Reply service: department answers (HTTP API and topic), the one consolidated reply and its
documents, amendments, and the case clock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Header, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from contracts import events_procedure, events_routing, topics
from contracts.envelope import CloudEvent
from contracts.events import (
    AnswerRecorded,
    AnswerRefused,
    AnswerSubmitted,
    ApplicationReceived,
    CaseClosed,
    CaseRouted,
    ContradictionFlagged,
    ReplyAmended,
    ReplyIssued,
    registry_of,
)
from services.reply.auth import DepartmentAuth, load_tokens
from services.reply.cases import AnswerRefusal, CaseNotFound, CaseStore, OgiRefusal, TaskNotYetKnown
from services.reply.clock.http import add_routes as add_clock_routes
from services.reply.clock.service import CalendarSource, ClockService
from services.reply.reply_docs import AgencyInfo
from services.reply.schemas import AnswerIn, CloseIn, ResolveIn, SignOffIn
from services.reply.reply_docs import shutdown_renderer
from services.reply.settings import ReplySettings
from servicekit.consumer import Unprocessable, subscribe
from servicekit.runtime import ServiceRuntime


def build(settings: ReplySettings | None = None) -> FastAPI:
    settings = settings or ReplySettings()
    rt = ServiceRuntime("reply", settings.db_name)
    agency = AgencyInfo(name="", office=settings.agency_office, address=settings.agency_address,
                        phone=settings.agency_phone, review_body=settings.review_body)
    store = CaseStore(rt.db, settings.source, agency, settings.render_documents)
    auth = DepartmentAuth(load_tokens(settings.department_tokens), settings.dev_token_secret)
    rt.on_setup(store.setup)
    relay = rt.outbox(store.cases)
    for model in (AnswerRecorded, AnswerRefused, ContradictionFlagged, CaseClosed):
        rt.publishes(topics.ANSWERS_RECORDED.name, model)
    rt.publishes(topics.REPLIES_ISSUED.name, ReplyIssued)
    rt.publishes(topics.REPLIES_ISSUED.name, ReplyAmended)
    # The case clock: deadlines, corrections, extensions, consultations, warnings (Arts. 30-33).
    clock_topic = topics.CASES_PROCEDURE.name
    clock = ClockService(store.cases, settings.source, CalendarSource(settings.calendar_dir).get, clock_topic)
    store.clock = clock
    for model in events_procedure.EVENTS:
        if model.event_name in topics.CASES_PROCEDURE.event_types:
            rt.publishes(clock_topic, model)

    @rt.loop
    async def clock_loop() -> None:
        while True:
            try:
                if await clock.sweep():
                    relay.wake()
            except Exception as exc:  # noqa: BLE001 - store down: try again next round
                rt.log.warning("clock_sweep_failed", error=repr(exc))
            await asyncio.sleep(settings.clock_seconds)

    @rt.loop
    async def document_renderer() -> None:
        """Owns the PDF worker process: stopped with the service."""
        try:
            await asyncio.Event().wait()
        finally:
            shutdown_renderer()

    @rt.loop
    async def sweep_loop() -> None:
        while True:
            try:
                if await store.sweep():
                    relay.wake()
            except Exception as exc:  # noqa: BLE001 - store down or a render failed: next round
                rt.log.warning("reply_sweep_failed", error=repr(exc))
            await asyncio.sleep(settings.sweep_seconds)

    async def on_routed(event: CloudEvent[Any]) -> None:
        data = event.data
        if isinstance(data, CaseRouted):
            if await store.open_case(data):
                rt.log.info("case_opened", tasks=len(data.tasks))
        elif isinstance(data, events_routing.CaseRerouted):
            await store.apply_reroute(data)
        elif isinstance(data, events_routing.ReferralRecorded):
            await store.apply_referral(data)
        relay.wake()

    async def on_application(event: CloudEvent[Any]) -> None:
        await store.note_application(event.data.case_id, event.data.description)

    async def on_answer(event: CloudEvent[Any]) -> None:
        data: AnswerSubmitted = event.data
        try:
            await store.record_answer(data.task_id, data.dept_code, data.answer, "topic", event.id, data.review)
        except AnswerRefusal as exc:
            relay.wake()  # the refusal is recorded (answer.refused); the message is dead-lettered
            raise Unprocessable(exc.message) from exc
        relay.wake()

    common = {"max_attempts": rt.common.max_handler_attempts, "patience_seconds": rt.common.handler_patience_seconds}
    subscribe(rt.broker, group_id="reply", topics=(topics.CASES_ROUTED.name,),
              registry=registry_of(CaseRouted, events_routing.CaseRerouted, events_routing.ReferralRecorded),
              handle=on_routed, title="open-case", **common)
    subscribe(rt.broker, group_id="reply", topics=(topics.APPLICATIONS_RECEIVED.name,),
              registry=registry_of(ApplicationReceived), handle=on_application, title="note-application", **common)
    subscribe(rt.broker, group_id="reply", topics=(topics.ANSWERS_SUBMITTED.name,),
              registry=registry_of(AnswerSubmitted), handle=on_answer, title="record-answer", **common)

    app = rt.app("Gongkai reply", "部门答复、汇总答复、答复文书、答复期限")
    add_clock_routes(app, clock, relay.wake)

    def officer(x_user: str | None) -> str:
        if not x_user:
            raise HTTPException(401, "需要注明经办人（X-User）")
        return x_user

    @app.get("/departments/{dept_code}/tasks", tags=["tasks"])
    async def open_tasks(dept_code: str, request: Request) -> dict:
        auth.check(request, dept_code)
        return {"dept_code": dept_code, "tasks": await store.open_tasks(dept_code)}

    @app.post("/tasks/{task_id}/answer", status_code=201, tags=["tasks"])
    async def answer(task_id: str, body: AnswerIn, request: Request) -> Any:
        auth.check(request, body.dept_code)
        ans = body.answer()
        review = body.review.review(datetime.now(UTC)) if body.review else None
        try:
            recorded = await store.record_answer(task_id, body.dept_code, ans, "http", review=review)
        except TaskNotYetKnown:
            # Either a wrong id, or a task whose case has not reached the reply service yet.
            raise HTTPException(404, "未找到该任务；如任务刚刚下达，请稍后重试", headers={"Retry-After": "1"}) from None
        except AnswerRefusal as exc:
            relay.wake()
            raise HTTPException(exc.status, exc.message) from None
        relay.wake()
        content = {"case_id": recorded.case_id, "task_id": task_id, "status": recorded.status,
                   "draft": review is None and recorded.status != "signed_off"}
        return JSONResponse(content, status_code=201 if recorded.created else 200)

    @app.post("/tasks/{task_id}/review", tags=["tasks"])
    async def sign_off(task_id: str, body: SignOffIn, request: Request) -> dict:
        """Add the confidentiality review (保密审查) sign-off to a draft answer."""
        auth.check(request, body.dept_code)
        try:
            recorded = await store.sign_off(task_id, body.dept_code, body.review(datetime.now(UTC)))
        except TaskNotYetKnown:
            raise HTTPException(404, "未找到该任务") from None
        except AnswerRefusal as exc:
            relay.wake()
            raise HTTPException(exc.status, exc.message) from None
        relay.wake()
        return {"case_id": recorded.case_id, "task_id": task_id, "status": recorded.status}

    @app.get("/cases/{case_id}/reply", tags=["replies"])
    async def get_reply(case_id: str) -> dict:
        case = await store.get(case_id)
        if case is None:
            raise HTTPException(404, "未找到该案件")
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
        }

    async def _document(case_id: str, amendment: int | None) -> dict:
        case = await store.get(case_id)
        if case is None or not case["reply_issued"]:
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

    @app.get("/cases/{case_id}/reply.pdf", tags=["replies"])
    async def reply_pdf(case_id: str, amendment: int | None = None) -> Response:
        doc = await _document(case_id, amendment)
        return Response(bytes(doc["pdf"]), media_type="application/pdf",
                        headers={"Content-Disposition": f'inline; filename="{doc["_id"]}.pdf"'})

    @app.get("/cases/{case_id}/reply.html", tags=["replies"])
    async def reply_html(case_id: str, amendment: int | None = None) -> HTMLResponse:
        doc = await _document(case_id, amendment)
        return HTMLResponse(doc["html"])

    @app.post("/cases/{case_id}/close", tags=["ogi"])
    async def close(case_id: str, body: CloseIn, x_user: str | None = Header(default=None)) -> dict:
        """The OGI office closes the case with the missing answers stated; the reply follows."""
        try:
            closed = await store.close_case(case_id, officer(x_user), body.reason)
        except CaseNotFound:
            raise HTTPException(404, "未找到该案件") from None
        except OgiRefusal as exc:
            raise HTTPException(exc.status, exc.message) from None
        relay.wake()
        return {"case_id": case_id, "missing": closed["missing"], "statement": closed["statement"]}

    @app.post("/cases/{case_id}/contradictions/{contradiction_id}/resolve", tags=["ogi"])
    async def resolve(case_id: str, contradiction_id: str, body: ResolveIn,
                      x_user: str | None = Header(default=None)) -> dict:
        try:
            out = await store.resolve_contradiction(case_id, contradiction_id, officer(x_user), body.note, body.reopen)
        except CaseNotFound:
            raise HTTPException(404, "未找到该案件") from None
        except OgiRefusal as exc:
            raise HTTPException(exc.status, exc.message) from None
        relay.wake()
        return {"case_id": case_id, "contradiction_id": contradiction_id, "reopened": out.get("reopened", [])}

    app.state.runtime = rt
    app.state.store = store
    return app

