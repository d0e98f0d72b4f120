"""Routing service: turns each received application into one task per responsible department,
published to that department's own inbox topic, and announces the routing of the case."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, HTTPException
from pymongo.errors import DuplicateKeyError

from contracts import topics
from contracts.envelope import CloudEvent, deterministic_id, new_event
from contracts.events import ApplicationReceived, CaseRouted, RoutedTask, TaskAssigned, registry_of
from services.routing import directory as directory_mod
from services.routing.rules import route
from services.routing.settings import RoutingSettings
from servicekit import outbox
from servicekit.consumer import subscribe
from servicekit.kafka import ensure_topics
from servicekit.runtime import ServiceRuntime


def build(settings: RoutingSettings | None = None) -> FastAPI:
    settings = settings or RoutingSettings()
    rt = ServiceRuntime("routing", settings.db_name)
    directory = directory_mod.load(settings.directory_path)
    routings = rt.db["routings"]

    @rt.on_setup
    async def setup() -> None:
        await outbox.ensure_indexes(routings)
        inboxes = [topics.department_inbox(code) for code in directory.all_codes]
        created = await ensure_topics(rt.common.kafka_bootstrap, topics.with_dead_letters(inboxes))
        if created:
            rt.log.info("inbox_topics_created", topics=created)

    relay = rt.outbox(routings)
    rt.publishes(topics.CASES_ROUTED.name, CaseRouted)
    rt.publishes(topics.DEPARTMENT_INBOX_TEMPLATE, TaskAssigned, "One inbox topic per department.")

    async def on_received(event: CloudEvent[Any]) -> None:
        app_: ApplicationReceived = event.data
        if await routings.find_one({"_id": app_.case_id}, {"_id": 1}):
            return  # already routed: its outbox publishes (or published) the tasks
        picks = route(directory, app_.description, app_.target_departments)
        tasks = [
            RoutedTask(
                task_id=deterministic_id("task", app_.case_id, p.dept_code),
                dept_code=p.dept_code,
                dept_name=p.dept_name,
                rule=p.rule,
            )
            for p in picks
        ]
        routed = new_event(
            CaseRouted(
                case_id=app_.case_id,
                tracking_number=app_.tracking_number,
                agency_code=app_.agency_code,
                agency_name=directory.agency_name,
                received_on=app_.received_on,
                directory_version=directory.version,
                tasks=tasks,
            ),
            source=settings.source,
            subject=app_.case_id,
            event_id=deterministic_id("case.routed", app_.case_id),
            causation_id=event.id,
        )
        records = [outbox.record(topics.CASES_ROUTED.name, routed)]
        for task in tasks:
            assigned = new_event(
                TaskAssigned(
                    case_id=app_.case_id,
                    task_id=task.task_id,
                    tracking_number=app_.tracking_number,
                    agency_code=app_.agency_code,
                    dept_code=task.dept_code,
                    dept_name=task.dept_name,
                    description=app_.description,
                    rule=task.rule,
                    received_on=app_.received_on,
                ),
                source=settings.source,
                subject=app_.case_id,
                event_id=deterministic_id("task.assigned", task.task_id),
                causation_id=event.id,
            )
            records.append(outbox.record(topics.department_inbox(task.dept_code).name, assigned))
        doc = {
            "_id": app_.case_id,
            "tracking_number": app_.tracking_number,
            "directory_version": directory.version,
            "tasks": [t.model_dump() for t in tasks],
            "routed_at": routed.time,
            **outbox.new_doc_fields(records),
        }
        try:
            await routings.insert_one(doc)
        except DuplicateKeyError:
            return
        relay.wake()
        rt.log.info("case_routed", departments=[t.dept_code for t in tasks])

    subscribe(
        rt.broker,
        group_id="routing",
        topics=(topics.APPLICATIONS_RECEIVED.name,),
        registry=registry_of(ApplicationReceived),
        handle=on_received,
        max_attempts=rt.common.max_handler_attempts,
              patience_seconds=rt.common.handler_patience_seconds,
        title="route-application",
    )

    app = rt.app("Gongkai routing", "分办：按目录与规则确定承办部门")

    @app.get("/directory", tags=["directory"])
    async def get_directory() -> dict:
        return {
            "version": directory.version,
            "agency": {"code": directory.agency_code, "name": directory.agency_name},
            "departments": [
                {"code": d.code, "name": d.name, "subjects": list(d.subjects), "inbox": topics.department_inbox(d.code).name}
                for d in (directory.ogi_office, *directory.departments)
            ],
        }

    @app.get("/cases/{case_id}/routing", tags=["routing"])
    async def get_routing(case_id: str) -> dict:
        doc = await routings.find_one({"_id": case_id}, {"outbox": 0})
        if doc is None:
            raise HTTPException(404, "该案件尚未分办")
        return {"case_id": doc["_id"], "directory_version": doc["directory_version"], "tasks": doc["tasks"]}

    app.state.runtime = rt
    return app
