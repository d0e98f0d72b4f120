"""Routing service: turns each received application into one task per responsible department,
published to that department's own inbox topic, and announces the routing of the case. Unsure
cases go to the OGI office's triage queue. The OGI office changes the departments of a case,
withdraws tasks and refers cases to other agencies; directory admins change the directory (each
change a new version). See services/routing/README.md."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import Field

from contracts import topics
from contracts.envelope import CloudEvent
from contracts.events import (
    ALL_EVENTS,
    ApplicationReceived,
    CaseRouted,
    ContradictionResolved,
    TaskAssigned,
    registry_of,
)
from contracts.events_desk import TaskReturned
from contracts.events_routing import CaseReferred, CaseRerouted, ReferralRecorded, TaskReopened, TaskWithdrawn
from services.routing.casework import (
    REFERRALS_TOPIC,
    CaseworkError,
    ReturnRefused,
    open_returns,
    open_tasks,
    returned_view,
)
from contracts.events_procedure import TriageRecorded
from services.routing import learning, segmenter
from services.routing.directory import CHANGE_OPS, DirectoryError
from services.routing.settings import RoutingSettings
from services.routing.store import DirectoryStore, LearningStore, ProposalDecided, RoutingStore, VersionConflict
from servicekit.consumer import Unprocessable, subscribe
from servicekit.kafka import ensure_topics
from servicekit.oidc import Principal, officer
from servicekit.openapi import errors
from servicekit.runtime import ServiceRuntime
from servicekit.validation import MAX_INT, StrictIn, problem

# The officer of a change is the verified token's (servicekit.oidc): no body field names who acts.


class ContactIn(StrictIn):
    address: str = ""
    phone: str = ""
    office_hours: str = ""


class ChangeMeta(StrictIn):
    note: str = Field(default="", max_length=500, description="Why (recorded with the version)")
    base_version: str | None = Field(default=None, max_length=20,
                                     description="Refuse (409) if the directory moved on")


class DepartmentIn(ChangeMeta):
    name: str = Field(min_length=2, max_length=100)
    subjects: list[str] = Field(min_length=1)
    keywords: list[str] = Field(default_factory=list)
    weak_keywords: list[str] = Field(default_factory=list)
    catalogue: list[str] = Field(default_factory=list)
    aliases: list[str] = Field(default_factory=list)
    contact: ContactIn = Field(default_factory=ContactIn)


class AgencyIn(ChangeMeta):
    name: str = Field(min_length=2, max_length=100)
    division_code: str = Field(pattern=r"^[1-9]\d{5}$")
    division_name: str = ""
    on_bus: bool = False
    contact: ContactIn = Field(default_factory=ContactIn)
    subjects: list[str] = Field(default_factory=list)


class DepartmentsChangeIn(StrictIn):
    add: list[str] = Field(default_factory=list)
    remove: list[str] = Field(default_factory=list)
    reason: str = Field(min_length=2, max_length=500)


class WithdrawalIn(StrictIn):
    reason: str = Field(min_length=2, max_length=500)


class ReferralIn(StrictIn):
    target_agency_code: str | None = Field(default=None, description="Code of an agency in the directory")
    target_agency_name: str | None = Field(default=None, description="Name, if the agency is not in the directory")
    target_contact: ContactIn | None = None
    reason: str = Field(min_length=2, max_length=500)
    whole_case: bool = True
    part: str | None = Field(default=None, max_length=1000, description="The part referred, if not the whole case")


class ProposalDecisionIn(StrictIn):
    note: str = Field(default="", max_length=500, description="Why (recorded with the decision and the version)")
    base_version: str | None = Field(default=None, max_length=20,
                                     description="Refuse (409) if the directory moved on")


class Refusal(Exception):
    """A request the service refuses (422), blaming one field, answered in the shape of a 422 body."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field, message


def actor_of(principal: Principal) -> str:
    """How a case change records its officer: the display name and the token's subject."""
    return f"{principal.display}（{principal.subject}）"


def _task_view(t: dict[str, Any]) -> dict[str, Any]:
    return {k: t[k] for k in ("task_id", "dept_code", "dept_name", "rule", "confidence") if k in t}


def _routing_view(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "case_id": doc["_id"],
        "tracking_number": doc.get("tracking_number"),
        "directory_version": doc["directory_version"],
        "tasks": [_task_view(t) for t in open_tasks(doc["tasks"])],
        "withdrawn_tasks": [{**_task_view(t), "reason": t.get("withdrawn_reason"), "withdrawn_by": t.get("withdrawn_by")}
                            for t in doc["tasks"] if t.get("status") == "withdrawn"],
        "triage": {"open": doc.get("triage_open", False), **(doc.get("decision") or {})},
        "changes": doc.get("changes", []),
        "referrals": doc.get("referrals", []),
        "returns": [returned_view(r) for r in doc.get("returns") or []],
    }


def _triage_entry(doc: dict[str, Any]) -> dict[str, Any]:
    """A case in the triage queue and why it is there: ``reason`` "returned" (a department returned
    its task: ``returned`` says who, which task and why) or "triage" (the rules were unsure);
    ``reasons`` both when both hold."""
    returned = [returned_view(r) for r in open_returns(doc)]
    reasons = (["returned"] if returned else []) + (["triage"] if doc.get("triage_open") else [])
    return {**_routing_view(doc), "description": doc["description"], "routed_at": doc["routed_at"],
            "reason": reasons[0] if reasons else "triage", "reasons": reasons, "returned": returned}


# The topic's event types that have a model: reply's other events there are valid, just not routing's
# business (only a malformed record, or a task.returned that names no task of a routed case, is dead-lettered).
ANSWERS_RECORDED_REGISTRY = {m.ce_type(): m for m in ALL_EVENTS if m.event_name in topics.ANSWERS_RECORDED.event_types}
# The procedure topic's events: routing keeps only the five questions' "not an OGI request" (该不该: not_ogi).
CASES_PROCEDURE_REGISTRY = {m.ce_type(): m for m in ALL_EVENTS if m.event_name in topics.CASES_PROCEDURE.event_types}


def build(settings: RoutingSettings | None = None) -> FastAPI:
    settings = settings or RoutingSettings()
    rt = ServiceRuntime("routing", settings.db_name)
    rt.require_secrets({})  # the OIDC issuer: officers' tokens are the only way in
    directories = DirectoryStore(rt.db, settings.directory_path)
    store = RoutingStore(rt.db, settings.source)
    learned = LearningStore(rt.db)

    async def ensure_department_topics(codes: list[str]) -> None:
        """Each department's two topics (its inbox and its answers), with their dead-letter topics."""
        specs = [spec for c in codes for spec in topics.department_topics(c)]
        created = await ensure_topics(rt.common.kafka_bootstrap, topics.with_dead_letters(specs))
        if created:
            rt.log.info("department_topics_created", topics=created)

    background: set[asyncio.Task] = set()

    def ensure_department_topics_soon(codes: list[str]) -> None:
        """Create new departments' topics in the background (the HTTP answer does not wait for Kafka).
        If Kafka is down they are created at the next start; the relay retries its records until then."""
        if not codes:
            return

        async def run() -> None:
            try:
                await ensure_department_topics(codes)
            except Exception as exc:  # noqa: BLE001
                rt.log.warning("department_topics_not_created", codes=codes, error=repr(exc))

        task = asyncio.create_task(run())
        background.add(task)
        task.add_done_callback(background.discard)

    @rt.on_setup
    async def setup() -> None:
        await store.setup()
        await directories.setup()
        await learned.setup()
        # jieba's dictionary (~1 s) loaded now, not on the first application.
        await asyncio.to_thread(segmenter.tokens, "预热")
        directory = await directories.current()
        await ensure_department_topics(directory.all_codes)
        created = await ensure_topics(rt.common.kafka_bootstrap, topics.with_dead_letters([REFERRALS_TOPIC]))
        if created:
            rt.log.info("topics_created", topics=created)

    relay = rt.outbox(store.routings)
    rt.publishes(topics.CASES_ROUTED.name, CaseRouted)
    rt.publishes(topics.CASES_ROUTED.name, CaseRerouted, "The departments of a case changed (OGI office).")
    rt.publishes(topics.CASES_ROUTED.name, ReferralRecorded, "The case is another agency's (Art. 36(5)).")
    rt.publishes(topics.DEPARTMENT_INBOX_TEMPLATE, TaskAssigned, "One inbox topic per department.")
    rt.publishes(topics.DEPARTMENT_INBOX_TEMPLATE, TaskWithdrawn, "A task withdrawn from the department.")
    rt.publishes(topics.DEPARTMENT_INBOX_TEMPLATE, TaskReopened,
                 "The OGI office set the task's answer aside (a contradiction resolved): answer it again.")
    rt.publishes(REFERRALS_TOPIC.name, CaseReferred, REFERRALS_TOPIC.description)

    async def on_received(event: CloudEvent[Any]) -> None:
        directory = await directories.current()
        if event.data.agency_code != directory.agency_code:
            # Each agency runs its own routing; an application to another agency on the same bus
            # (e.g. a referral it accepted) is routed there, not here.
            return
        doc = await store.route(event, directory)
        if doc is None:
            return
        relay.wake()
        rt.log.info("case_routed", departments=[t["dept_code"] for t in doc["tasks"]],
                    triage=doc["triage_open"], directory_version=directory.version)

    subscribe(
        rt.broker,
        group_id=topics.scoped("routing"),
        topics=(topics.APPLICATIONS_RECEIVED.name,),
        registry=registry_of(ApplicationReceived),
        handle=on_received,
        max_attempts=rt.common.max_handler_attempts,
        patience_seconds=rt.common.handler_patience_seconds,
        title="route-application",
    )

    async def on_reopened(event: CloudEvent[Any]) -> None:
        """The OGI office set answers aside (contradiction.resolved): each department told on its inbox, once."""
        entry = await store.record_reopen(event)
        if entry is None:
            return  # not a case routed here, or acted on before
        relay.wake()
        for s in entry["skipped"]:
            rt.log.warning("task_reopen_skipped", task_id=s["task_id"], dept_code=s["dept_code"], why=s["why"],
                           contradiction_id=entry["contradiction_id"])
        rt.log.info("tasks_reopened", tasks=entry["tasks"], contradiction_id=entry["contradiction_id"])

    async def on_answers_recorded(event: CloudEvent[Any]) -> None:
        """A department returned (退回) its task: the case goes back to the triage queue (once per
        event). The OGI office set answers aside: their departments are told (task.reopened)."""
        if isinstance(event.data, ContradictionResolved):
            if event.data.reopened:
                await on_reopened(event)
            return
        if not isinstance(event.data, TaskReturned):
            return
        try:
            outcome = await store.record_return(event.id, event.data)
        except ReturnRefused as exc:
            raise Unprocessable(str(exc)) from exc
        except CaseworkError as exc:
            if exc.status == 404:
                raise Unprocessable("case_id: no routed case of this agency") from exc
            raise
        rt.log.info("task_returned", task_id=event.data.task_id, dept_code=event.data.dept_code, outcome=outcome)

    subscribe(
        rt.broker,
        group_id=topics.scoped("routing"),
        topics=(topics.ANSWERS_RECORDED.name,),
        registry=ANSWERS_RECORDED_REGISTRY,
        handle=on_answers_recorded,
        max_attempts=rt.common.max_handler_attempts,
        patience_seconds=rt.common.handler_patience_seconds,
        title="returned-task",
    )

    async def on_procedure(event: CloudEvent[Any]) -> None:
        """The OGI office answered 该不该 with "not an OGI request" for a case in triage: a labelled example."""
        data = event.data
        if not isinstance(data, TriageRecorded) or data.question != "scope" or data.answer != "not_ogi":
            return
        doc = await store.get(data.case_id)
        if doc is None or not (doc.get("decision") or {}).get("triage"):
            return  # not routed here, or routed by the rules: nothing to learn
        await learned.record_example(doc["_id"], doc["description"], [], not_ogi=True, decided_by=data.answered_by,
                                     source="triage.recorded", time=data.answered_at)
        rt.log.info("learning_example_recorded", case_id=doc["_id"], label="not-ogi")

    subscribe(
        rt.broker,
        group_id=topics.scoped("routing"),
        topics=(topics.CASES_PROCEDURE.name,),
        registry=CASES_PROCEDURE_REGISTRY,
        handle=on_procedure,
        max_attempts=rt.common.max_handler_attempts,
        patience_seconds=rt.common.handler_patience_seconds,
        title="learn-not-ogi",
    )

    app = rt.app("Gongkai routing", "分办：按目录与规则确定承办部门；分办台、转办、目录维护")

    @app.exception_handler(Refusal)
    async def refusal(_: Request, exc: Refusal) -> JSONResponse:
        return problem(422, exc.field, exc.message)

    async def casework(call: Awaitable[dict[str, Any]]) -> dict[str, Any]:
        """A store call's result; its CaseworkError as the HTTP answer (422 in the shape of a 422 body)."""
        try:
            return await call
        except CaseworkError as exc:
            if exc.status == 422:
                raise Refusal(exc.field, exc.message) from exc
            raise HTTPException(exc.status, exc.message) from exc

    # ---------------------------------------------------------------- directory
    @app.get("/directory", tags=["directory"])
    async def get_directory() -> dict:
        directory = await directories.current()
        return {
            "version": directory.version,
            "agency": {"code": directory.agency_code, "name": directory.agency_name,
                       "division_code": directory.home.division_code},
            "departments": [
                {"code": d.code, "name": d.name, "subjects": list(d.subjects), "catalogue": list(d.catalogue),
                 "contact": d.contact.as_dict(), "inbox": topics.department_inbox(d.code).name,
                 "answers": topics.department_answers(d.code).name}
                for d in (directory.ogi_office, *directory.departments)
            ],
            "agencies": [
                {"code": a.code, "name": a.name, "division_code": a.division_code, "division_name": a.division_name,
                 "on_bus": a.on_bus, "contact": a.contact.as_dict()}
                for a in directory.agencies
            ],
        }

    @app.get("/directory/versions", tags=["directory"])
    async def directory_history() -> dict:
        return {"versions": await directories.history()}

    @app.get("/directory/versions/{version}", tags=["directory"])
    async def directory_version(version: Annotated[int, Path(ge=1, le=MAX_INT)]) -> dict:
        doc = await directories.version(str(version))
        if doc is None:
            raise HTTPException(404, "没有该版本的目录")
        return {"version": doc["version"], "changed_by": doc["changed_by"], "changed_at": doc["changed_at"],
                "change": doc["change"], "directory": doc["raw"]}

    async def change_directory(op: str, agency_code: str, payload: dict[str, Any], principal: Principal,
                               meta: ChangeMeta) -> dict:
        assert op in CHANGE_OPS
        try:
            directory = await directories.change(op, agency_code, payload, principal.as_actor(), meta.note,
                                                 meta.base_version)
        except DirectoryError as exc:
            raise Refusal("(body)", str(exc)) from exc
        except VersionConflict as exc:
            raise HTTPException(409, str(exc)) from exc
        if op == "upsert_department" and agency_code == directory.agency_code:
            ensure_department_topics_soon([payload["code"]])
        rt.log.info("directory_changed", version=directory.version, op=op, by=principal.subject,
                    username=principal.username)
        return {"version": directory.version}

    @app.put("/directory/agencies/{agency_code}/departments/{code}", tags=["directory"], status_code=201,
             responses=errors(409))
    async def put_department(agency_code: str, code: str, body: DepartmentIn,
                             principal: Principal = Depends(officer)) -> dict:
        payload = {"code": code, **body.model_dump(exclude={"note", "base_version"})}
        return await change_directory("upsert_department", agency_code, payload, principal, body)

    @app.delete("/directory/agencies/{agency_code}/departments/{code}", tags=["directory"], responses=errors(409))
    async def delete_department(agency_code: str, code: str, meta: Annotated[ChangeMeta, Query()],
                                principal: Principal = Depends(officer)) -> dict:
        return await change_directory("remove_department", agency_code, {"code": code}, principal, meta)

    @app.put("/directory/agencies/{agency_code}", tags=["directory"], status_code=201, responses=errors(409))
    async def put_agency(agency_code: str, body: AgencyIn,
                         principal: Principal = Depends(officer)) -> dict:
        payload = body.model_dump(exclude={"note", "base_version"})
        return await change_directory("upsert_agency", agency_code, payload, principal, body)

    # ---------------------------------------------------------------- cases
    @app.get("/cases/{case_id}/routing", tags=["routing"])
    async def get_routing(case_id: str) -> dict:
        doc = await store.get(case_id)
        if doc is None:
            raise HTTPException(404, "该案件尚未分办")
        return _routing_view(doc)

    @app.get("/triage", tags=["triage"])
    async def triage_queue() -> dict:
        docs = await store.open_triage()
        return {"cases": [_triage_entry(d) for d in docs]}

    @app.post("/cases/{case_id}/departments", tags=["triage"], responses=errors(409))
    async def change_departments(case_id: str, body: DepartmentsChangeIn,
                                 principal: Principal = Depends(officer)) -> dict:
        if not body.add and not body.remove:
            raise Refusal("add", "请指定要增加或移除的部门")
        directory = await directories.current()
        result = await casework(store.change_departments(
            case_id, directory, add=body.add, remove=body.remove, reason=body.reason, actor=actor_of(principal)))
        if result.get("triage_resolved"):
            # The OGI office decided a case the rules could not: a labelled example for learning.
            doc = await store.get(case_id)
            chosen = [t["dept_code"] for t in result["tasks"] if t["dept_code"] != directory.ogi_office.code]
            if doc is not None and chosen:
                await learned.record_example(case_id, doc["description"], chosen, decided_by=actor_of(principal),
                                             source="departments", directory_version=directory.version)
        # A department given a task gets its topics if they are missing (e.g. Kafka was down before).
        ensure_department_topics_soon([t["dept_code"] for t in result.get("added", [])])
        relay.wake()
        return _change_view(result)

    @app.post("/cases/{case_id}/tasks/{task_id}/withdrawal", tags=["triage"], responses=errors(409))
    async def withdraw_task(case_id: str, task_id: str, body: WithdrawalIn,
                            principal: Principal = Depends(officer)) -> dict:
        directory = await directories.current()
        result = await casework(store.change_departments(case_id, directory, task_ids=[task_id], reason=body.reason,
                                                         actor=actor_of(principal)))
        relay.wake()
        return _change_view(result)

    @app.post("/cases/{case_id}/referral", tags=["triage"], responses=errors(409))
    async def refer(case_id: str, body: ReferralIn, principal: Principal = Depends(officer)) -> dict:
        directory = await directories.current()
        result = await casework(store.refer(
            case_id, directory, target_agency_code=body.target_agency_code,
            target_agency_name=body.target_agency_name,
            target_contact=body.target_contact.model_dump() if body.target_contact else None,
            reason=body.reason, actor=actor_of(principal), whole_case=body.whole_case, part=body.part))
        relay.wake()
        return result

    # ---------------------------------------------------------------- learning (issue #13)
    async def proposals_now() -> tuple[Any, list[learning.Proposal], list[dict[str, Any]], int]:
        directory = await directories.current()
        decided = await learned.all_decisions()
        rows = await learned.all_examples()
        examples = [learning.Example(r["_id"], r["description"], tuple(r["label"])) for r in rows]
        props = learning.propose(directory, examples, closed=[d["_id"] for d in decided])
        return directory, props, decided, len(rows)

    def _decision_view(d: dict[str, Any]) -> dict[str, Any]:
        return {"proposal_id": d["_id"], **{k: d.get(k) for k in (
            "phrase", "dept_code", "dept_name", "support", "conflicts", "status", "decided_by", "decided_at", "note",
            "directory_version")}}

    @app.get("/learning/proposals", tags=["learning"])
    async def learning_proposals() -> dict:
        directory, props, decided, n = await proposals_now()
        texts = {r["_id"]: r["description"] for r in await learned.all_examples()}

        def view(p: learning.Proposal) -> dict[str, Any]:
            return {**p.as_dict(), "evidence": [{"case_id": c, "excerpt": learning.excerpt(texts.get(c, ""), p.phrase)}
                                                for c in p.support]}

        return {"directory_version": directory.version, "examples": n,
                "proposals": [view(p) for p in props], "decided": [_decision_view(d) for d in decided]}

    async def decide_proposal(proposal_id: str, accept: bool, body: ProposalDecisionIn,
                              principal: Principal) -> dict:
        directory, props, decided, _ = await proposals_now()
        done = next((d for d in decided if d["_id"] == proposal_id), None)
        if done is not None:
            raise HTTPException(409, f"该建议已于 {done['decided_at']:%Y-%m-%d %H:%M} 由 "
                                     f"{(done.get('decided_by') or {}).get('name', '')} "
                                     f"{'采纳' if done['status'] == 'accepted' else '驳回'}")
        prop = next((p for p in props if p.proposal_id == proposal_id), None)
        if prop is None:
            raise HTTPException(404, "没有该建议（或已不再成立）")
        view = prop.as_dict()
        try:
            claimed = await learned.claim(view, "accepted" if accept else "rejected", principal.as_actor(), body.note)
        except ProposalDecided as exc:
            raise HTTPException(409, "该建议已被处理") from exc
        if not accept:
            rt.log.info("learning_proposal_rejected", proposal_id=proposal_id, by=principal.subject)
            return {"proposal": _decision_view(claimed)}
        why = (f"采纳分办学习建议 {proposal_id}：「{prop.phrase}」→ {prop.dept_name}（支持 {len(prop.support)} 例，"
               f"冲突 {len(prop.conflicts)} 例）" + (f"；{body.note}" if body.note else ""))
        try:
            payload = learning.accepted_department(directory, view)
            new = await directories.change("upsert_department", directory.agency_code, payload,
                                           principal.as_actor(), why, body.base_version)
        except (DirectoryError, LookupError) as exc:
            await learned.release(proposal_id)
            raise Refusal("(body)", str(exc)) from exc
        except VersionConflict as exc:
            await learned.release(proposal_id)
            raise HTTPException(409, str(exc)) from exc
        await learned.set_version(proposal_id, new.version)
        claimed["directory_version"] = new.version
        rt.log.info("learning_proposal_accepted", proposal_id=proposal_id, version=new.version, by=principal.subject)
        return {"proposal": _decision_view(claimed), "version": new.version}

    @app.post("/learning/proposals/{proposal_id}/acceptance", tags=["learning"], responses=errors(409))
    async def accept_proposal(proposal_id: Annotated[str, Path(pattern=r"^[0-9a-f]{16}$")], body: ProposalDecisionIn,
                              principal: Principal = Depends(officer)) -> dict:
        return await decide_proposal(proposal_id, True, body, principal)

    @app.post("/learning/proposals/{proposal_id}/rejection", tags=["learning"], responses=errors(409))
    async def reject_proposal(proposal_id: Annotated[str, Path(pattern=r"^[0-9a-f]{16}$")], body: ProposalDecisionIn,
                              principal: Principal = Depends(officer)) -> dict:
        return await decide_proposal(proposal_id, False, body, principal)

    app.state.learning = learned
    app.state.on_procedure = on_procedure
    app.state.runtime = rt
    app.state.directories = directories
    app.state.store = store
    app.state.background = background
    app.state.on_answers_recorded = on_answers_recorded  # the consumer's handler (tests call it)
    return app


def _change_view(result: dict[str, Any]) -> dict[str, Any]:
    out = dict(result)
    for key in ("added", "withdrawn", "tasks"):
        if key in out:
            out[key] = [_task_view(t) for t in out[key]]
    return out
