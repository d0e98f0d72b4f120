"""Reply service: department answers (HTTP API and topic) and the one consolidated reply."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import FastAPI, HTTPException
from fastapi.responses import JSONResponse

from contracts import events_procedure, topics
from contracts.envelope import CloudEvent
from contracts.events import Answer, AnswerRecorded, AnswerSubmitted, CaseRouted, ReplyIssued, registry_of
from services.reply.cases import AnswerRefused, CaseStore, TaskNotYetKnown
from services.reply.clock.http import add_routes as add_clock_routes
from services.reply.clock.service import CalendarSource, ClockService
from services.reply.schemas import AnswerIn
from services.reply.settings import ReplySettings
from servicekit.consumer import Unprocessable, subscribe
from servicekit.runtime import ServiceRuntime


def build(settings: ReplySettings | None = None) -> FastAPI:
    settings = settings or ReplySettings()
    rt = ServiceRuntime("reply", settings.db_name)
    store = CaseStore(rt.db, settings.source)
    rt.on_setup(store.setup)
    relay = rt.outbox(store.cases)
    rt.publishes(topics.ANSWERS_RECORDED.name, AnswerRecorded)
    rt.publishes(topics.REPLIES_ISSUED.name, ReplyIssued)
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
    async def sweep_loop() -> None:
        while True:
            if await store.sweep():
                relay.wake()
            await asyncio.sleep(settings.sweep_seconds)

    async def on_routed(event: CloudEvent[Any]) -> None:
        if await store.open_case(event.data):
            rt.log.info("case_opened", tasks=len(event.data.tasks))

    async def on_answer(event: CloudEvent[Any]) -> None:
        data: AnswerSubmitted = event.data
        try:
            await store.record_answer(data.task_id, data.dept_code, data.answer, "topic", event.id)
        except AnswerRefused as exc:
            raise Unprocessable(exc.message) from exc
        relay.wake()

    subscribe(rt.broker, group_id="reply", topics=(topics.CASES_ROUTED.name,),
              registry=registry_of(CaseRouted), handle=on_routed,
              max_attempts=rt.common.max_handler_attempts,
              patience_seconds=rt.common.handler_patience_seconds, title="open-case")
    subscribe(rt.broker, group_id="reply", topics=(topics.ANSWERS_SUBMITTED.name,),
              registry=registry_of(AnswerSubmitted), handle=on_answer,
              max_attempts=rt.common.max_handler_attempts,
              patience_seconds=rt.common.handler_patience_seconds, title="record-answer")

    app = rt.app("Gongkai reply", "部门答复、汇总答复、答复期限")
    add_clock_routes(app, clock, relay.wake)

    @app.get("/departments/{dept_code}/tasks", tags=["tasks"])
    async def open_tasks(dept_code: str) -> dict:
        return {"dept_code": dept_code, "tasks": await store.open_tasks(dept_code)}

    @app.post("/tasks/{task_id}/answer", status_code=201, tags=["tasks"])
    async def answer(task_id: str, body: AnswerIn) -> Any:
        ans = Answer(reply_type=body.reply_type, reason=body.reason, text=body.text, material_refs=body.material_refs)
        try:
            recorded = await store.record_answer(task_id, body.dept_code, ans, "http")
        except TaskNotYetKnown:
            # Either a wrong id, or a task whose case has not reached the reply service yet.
            raise HTTPException(404, "未找到该任务；如任务刚刚下达，请稍后重试", headers={"Retry-After": "1"}) from None
        except AnswerRefused as exc:
            raise HTTPException(exc.status, exc.message) from None
        relay.wake()
        content = {"case_id": recorded.case_id, "task_id": task_id,
                   "status": "recorded" if recorded.created else "already_recorded"}
        return JSONResponse(content, status_code=201 if recorded.created else 200)

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
            "reply": case.get("reply"),
        }

    app.state.runtime = rt
    return app
