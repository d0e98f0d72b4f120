"""What the OGI office does to a routed case, as pure functions: the new task list and the events.

A case's tasks are kept in the routing document as dicts (``task_id``, ``dept_code``,
``dept_name``, ``rule``, ``confidence``, ``status`` "open" or "withdrawn", and for withdrawn ones
``withdrawn_reason``/``withdrawn_by``). Nothing here does I/O; ``services/routing/store.py`` applies
the plans in one atomic single-document update with their outbox records.

Idempotence: a change that changes nothing (adding a department already open, removing one that
has no open task, withdrawing a task already withdrawn) is a no-op without events, so a client's
retry does not create a second fact; every event id is derived from the case, the task or the
change number, so a replay of the same change computes the same ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from contracts import topics
from contracts.envelope import CloudEvent, deterministic_id, new_event
from contracts.events import CaseRouted, ContradictionResolved, RoutedTask, TaskAssigned
from contracts.events_routing import RoutedTask as ReroutedTask
from contracts.events_routing import (
    AgencyContact,
    CaseReferred,
    CaseRerouted,
    ReferralRecorded,
    TaskReopened,
    TaskWithdrawn,
    WithdrawnTaskRef,
)
from services.routing.directory import Agency, Directory
from services.routing.rules import Pick
from servicekit import outbox

REFERRALS_TOPIC = topics.CASES_REFERRED


class CaseworkError(Exception):
    """A change the OGI office cannot make; ``status`` is the HTTP status, ``message`` Chinese,
    ``field`` the input it blames (for a 422)."""

    def __init__(self, status: int, message: str, field: str = "(body)") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field


def task_id_for(case_id: str, dept_code: str, nth: int) -> str:
    """The first task of a department keeps the id ``deterministic_id("task", case, dept)``; a task
    given again after a withdrawal gets a new id (its answer must not be taken for the old one)."""
    if nth <= 1:
        return deterministic_id("task", case_id, dept_code)
    return deterministic_id("task", case_id, dept_code, str(nth))


def open_tasks(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [t for t in tasks if t.get("status", "open") == "open"]


def routed_task(task: dict[str, Any]) -> RoutedTask:
    return RoutedTask(task_id=task["task_id"], dept_code=task["dept_code"], dept_name=task["dept_name"], rule=task["rule"])


def rerouted_task(task: dict[str, Any]) -> ReroutedTask:
    return ReroutedTask(task_id=task["task_id"], dept_code=task["dept_code"], dept_name=task["dept_name"],
                        rule=task["rule"])


def task_dict(case_id: str, pick: Pick, nth: int = 1) -> dict[str, Any]:
    return {"task_id": task_id_for(case_id, pick.dept_code, nth), "dept_code": pick.dept_code,
            "dept_name": pick.dept_name, "rule": pick.rule, "confidence": pick.confidence, "status": "open"}


def is_triage_task(task: dict[str, Any], ogi_code: str) -> bool:
    return task["dept_code"] == ogi_code and str(task.get("rule", "")).startswith("triage:")


# ---------------------------------------------------------------------------- first routing


def assigned_event(doc: dict[str, Any], task: dict[str, Any], source: str,
                   causation_id: str | None, time: datetime | None = None) -> CloudEvent[TaskAssigned]:
    return new_event(
        TaskAssigned(case_id=doc["_id"], task_id=task["task_id"], tracking_number=doc["tracking_number"],
                     agency_code=doc["agency_code"], dept_code=task["dept_code"], dept_name=task["dept_name"],
                     description=doc["description"], rule=task["rule"],
                     received_on=date.fromisoformat(doc["received_on"])),
        source=source, subject=doc["_id"], event_id=deterministic_id("task.assigned", task["task_id"]),
        causation_id=causation_id, time=time,
    )


def routing_records(doc: dict[str, Any], agency_name: str, source: str, causation_id: str | None,
                    time: datetime | None = None) -> list[dict[str, Any]]:
    """The outbox records of a first routing: case.routed, then one task.assigned per task."""
    routed = new_event(
        CaseRouted(case_id=doc["_id"], tracking_number=doc["tracking_number"], agency_code=doc["agency_code"],
                   agency_name=agency_name, received_on=date.fromisoformat(doc["received_on"]),
                   channel=doc.get("channel"), directory_version=doc["directory_version"], tasks=[routed_task(t) for t in doc["tasks"]]),
        source=source, subject=doc["_id"], event_id=deterministic_id("case.routed", doc["_id"]),
        causation_id=causation_id, time=time,
    )
    records = [outbox.record(topics.CASES_ROUTED.name, routed)]
    for task in doc["tasks"]:
        event = assigned_event(doc, task, source, causation_id, time=time)
        records.append(outbox.record(topics.department_inbox(task["dept_code"]).name, event))
    return records


# ---------------------------------------------------------------------------- changes


@dataclass
class ChangePlan:
    operation: str  # add | remove | reassign | withdraw
    tasks: list[dict[str, Any]]  # the whole new task list (open and withdrawn)
    added: list[dict[str, Any]] = field(default_factory=list)
    withdrawn: list[dict[str, Any]] = field(default_factory=list)
    triage_resolved: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.added or self.withdrawn)


def plan_change(doc: dict[str, Any], directory: Directory, add: list[str], remove: list[str],
                reason: str, actor: str, task_ids: list[str] | None = None) -> ChangePlan:
    """Add departments, remove departments (withdraw their open tasks) or withdraw given tasks.

    Adding and removing in one change is a reassignment. Raises CaseworkError for unknown
    departments or tasks, a department both added and removed, or a case left without open tasks.
    """
    if doc.get("referred_whole"):
        raise CaseworkError(409, "该案件已整体转至其他机关，不能再调整承办部门")
    add, remove = list(dict.fromkeys(add)), list(dict.fromkeys(remove))
    unknown = [c for c in add + remove if directory.get(c) is None]
    if unknown:
        raise CaseworkError(422, "目录中没有这些部门：" + "、".join(unknown), "add" if set(unknown) & set(add) else "remove")
    if set(add) & set(remove):
        raise CaseworkError(422, "同一部门不能同时增加和移除：" + "、".join(sorted(set(add) & set(remove))), "remove")
    tasks = [dict(t) for t in doc["tasks"]]
    by_id = {t["task_id"]: t for t in tasks}
    for tid in task_ids or []:
        if tid not in by_id:
            raise CaseworkError(404, f"该案件没有任务 {tid}")
    open_codes = {t["dept_code"] for t in open_tasks(tasks)}
    withdrawn: list[dict[str, Any]] = []
    targets = [t for t in tasks if t.get("status", "open") == "open"
               and (t["dept_code"] in remove or t["task_id"] in (task_ids or []))]
    replaced_by = [c for c in add if c not in open_codes]
    for t in targets:
        t.update(status="withdrawn", withdrawn_reason=reason, withdrawn_by=actor, replaced_by=replaced_by)
        withdrawn.append(t)
    added: list[dict[str, Any]] = []
    for code in add:
        if code in open_codes:
            continue  # already open: nothing to do (a retried request changes nothing)
        dept = directory.get(code)
        assert dept is not None
        nth = 1 + sum(1 for t in tasks if t["dept_code"] == code)
        rule = "manual:reassign" if withdrawn else "manual:add"
        task = task_dict(doc["_id"], Pick(dept.code, dept.name, rule, 1.0), nth)
        tasks.append(task)
        added.append(task)
    if (added or withdrawn) and not open_tasks(tasks):
        raise CaseworkError(409, "案件至少需要一个承办部门；如需整体转办，请使用转办（referral）")
    if task_ids and not add and not remove:
        operation = "withdraw"
    elif added and withdrawn:
        operation = "reassign"
    elif withdrawn:
        operation = "remove"
    else:
        operation = "add"
    ogi = directory.ogi_office.code
    was_triage = any(is_triage_task(t, ogi) for t in open_tasks(doc["tasks"]))
    still_triage = any(is_triage_task(t, ogi) for t in open_tasks(tasks))
    return ChangePlan(operation, tasks, added, withdrawn, triage_resolved=was_triage and not still_triage)


def withdrawn_ref(task: dict[str, Any]) -> WithdrawnTaskRef:
    return WithdrawnTaskRef(task_id=task["task_id"], dept_code=task["dept_code"], dept_name=task["dept_name"])


def withdrawn_event(doc: dict[str, Any], task: dict[str, Any], source: str,
                    time: datetime | None = None) -> CloudEvent[TaskWithdrawn]:
    return new_event(
        TaskWithdrawn(case_id=doc["_id"], task_id=task["task_id"], tracking_number=doc["tracking_number"],
                      dept_code=task["dept_code"], dept_name=task["dept_name"], reason=task["withdrawn_reason"],
                      withdrawn_by=task["withdrawn_by"], replaced_by=list(task.get("replaced_by", []))),
        source=source, subject=doc["_id"], event_id=deterministic_id("task.withdrawn", task["task_id"]), time=time,
    )


def change_records(doc: dict[str, Any], plan: ChangePlan, seq: int, directory: Directory, reason: str,
                   actor: str, source: str, time: datetime | None = None) -> list[dict[str, Any]]:
    """Outbox records of a change: task.withdrawn to each old inbox, task.assigned to each new one,
    then case.rerouted (the delta and the open tasks) to gongkai.cases.routed."""
    records = []
    for task in plan.withdrawn:
        records.append(outbox.record(topics.department_inbox(task["dept_code"]).name,
                                     withdrawn_event(doc, task, source, time)))
    for task in plan.added:
        records.append(outbox.record(topics.department_inbox(task["dept_code"]).name,
                                     assigned_event(doc, task, source, None, time)))
    rerouted = new_event(
        CaseRerouted(case_id=doc["_id"], tracking_number=doc["tracking_number"], agency_code=doc["agency_code"],
                     change_seq=seq, operation=plan.operation, directory_version=directory.version,
                     added=[rerouted_task(t) for t in plan.added],
                     withdrawn=[withdrawn_ref(t) for t in plan.withdrawn],
                     tasks=[rerouted_task(t) for t in open_tasks(plan.tasks)], triage_resolved=plan.triage_resolved,
                     reason=reason, changed_by=actor),
        source=source, subject=doc["_id"], event_id=deterministic_id("case.rerouted", doc["_id"], str(seq)), time=time,
    )
    records.append(outbox.record(topics.CASES_ROUTED.name, rerouted))
    return records


# ---------------------------------------------------------------------------- referral


@dataclass
class ReferralPlan:
    referral_id: str
    target_code: str | None
    target_name: str
    contact: AgencyContact
    handed_over: bool
    tasks: list[dict[str, Any]]
    withdrawn: list[dict[str, Any]]
    whole_case: bool
    part: str | None


def plan_referral(doc: dict[str, Any], directory: Directory, target_code: str | None, target_name: str | None,
                  target_contact: dict[str, str] | None, reason: str, actor: str, whole_case: bool,
                  part: str | None) -> ReferralPlan:
    if target_code:
        agency: Agency | None = directory.agency(target_code)
        if agency is None:
            raise CaseworkError(422, f"目录中没有机关 {target_code}；不在目录中的机关请填写名称和联系方式",
                                "target_agency_code")
        if agency.code == directory.agency_code:
            raise CaseworkError(422, "不能转至本机关", "target_agency_code")
        name, contact = agency.name, AgencyContact(**agency.contact.as_dict())
        handed_over = agency.on_bus
    else:
        if not target_name or not target_name.strip():
            raise CaseworkError(422, "请填写负责公开该信息的机关名称", "target_agency_name")
        name, contact, handed_over = target_name.strip(), AgencyContact(**(target_contact or {})), False
    if not whole_case and not (part and part.strip()):
        raise CaseworkError(422, "部分转办时请说明转办的部分（part）", "part")
    referral_id = deterministic_id("referral", doc["_id"], target_code or name, "whole" if whole_case else (part or ""))
    tasks = [dict(t) for t in doc["tasks"]]
    withdrawn = []
    if whole_case:
        for t in tasks:
            if t.get("status", "open") == "open":
                t.update(status="withdrawn", withdrawn_reason=f"转至{name}：{reason}", withdrawn_by=actor, replaced_by=[])
                withdrawn.append(t)
    return ReferralPlan(referral_id, target_code, name, contact, handed_over, tasks, withdrawn, whole_case,
                        None if whole_case else part)


def referral_message(doc: dict[str, Any], plan: ReferralPlan) -> str:
    what = "您申请公开的政府信息" if plan.whole_case else f"您申请公开的政府信息中“{plan.part}”部分"
    contact = "；".join(x for x in (
        f"地址：{plan.contact.address}" if plan.contact.address else "",
        f"电话：{plan.contact.phone}" if plan.contact.phone else "",
        f"办公时间：{plan.contact.office_hours}" if plan.contact.office_hours else "",
    ) if x)
    text = (f"您的政府信息公开申请（受理编号 {doc['tracking_number']}）：{what}不属于本机关负责公开，"
            f"根据《中华人民共和国政府信息公开条例》第三十六条第（五）项，负责公开该信息的机关是{plan.target_name}")
    text += f"（{contact}）。" if contact else "。"
    if plan.handed_over:
        text += f"本机关已将您的申请转交{plan.target_name}，该机关将另行告知办理情况。"
    else:
        text += f"请您向{plan.target_name}提出申请。"
    return text


def referral_records(doc: dict[str, Any], plan: ReferralPlan, directory: Directory, reason: str, actor: str,
                     source: str, time: datetime | None = None) -> list[dict[str, Any]]:
    """task.withdrawn for each withdrawn task, case.referred (bus agencies only: on this namespace's
    referrals topic, and on the target's if it is in another namespace), referral.recorded."""
    records = [outbox.record(topics.department_inbox(t["dept_code"]).name, withdrawn_event(doc, t, source, time))
               for t in plan.withdrawn]
    if plan.handed_over:
        assert plan.target_code is not None
        referred = new_event(
            CaseReferred(case_id=doc["_id"], tracking_number=doc["tracking_number"], referral_id=plan.referral_id,
                         from_agency_code=directory.agency_code, from_agency_name=directory.agency_name,
                         target_agency_code=plan.target_code, target_agency_name=plan.target_name,
                         description=plan.part or doc["description"], applicant_ref=doc["applicant_ref"],
                         applicant_type=doc["applicant_type"], channel=doc["channel"],
                         delivery_form=doc["delivery_form"], delivery_method=doc["delivery_method"],
                         received_on=date.fromisoformat(doc["received_on"]), reason=reason),
            source=source, subject=doc["_id"], event_id=deterministic_id("case.referred", plan.referral_id), time=time,
        )
        records.append(outbox.record(REFERRALS_TOPIC.name, referred))  # this agency's ledger records it
        # An agency on the bus in another namespace (contracts.topics, GONGKAI_BUS_AGENCIES) reads only
        # its own: the same event (same id) goes to its referrals topic too, the one thing of ours it sees.
        target_topic = topics.referrals_topic_of(plan.target_code)
        if target_topic != REFERRALS_TOPIC.name:
            records.append(outbox.record(target_topic, referred))
    recorded = new_event(
        ReferralRecorded(case_id=doc["_id"], tracking_number=doc["tracking_number"], referral_id=plan.referral_id,
                         agency_code=doc["agency_code"], target_agency_code=plan.target_code,
                         target_agency_name=plan.target_name, target_contact=plan.contact,
                         handed_over=plan.handed_over, whole_case=plan.whole_case, part=plan.part, reason=reason,
                         withdrawn=[withdrawn_ref(t) for t in plan.withdrawn],
                         message=referral_message(doc, plan), recorded_by=actor),
        source=source, subject=doc["_id"], event_id=deterministic_id("referral.recorded", plan.referral_id), time=time,
    )
    records.append(outbox.record(topics.CASES_ROUTED.name, recorded))
    return records


# ---------------------------------------------------------------------------- returned tasks (退回)
#
# A department returns (退回) its task with a reason (reply's ``task.returned`` on
# gongkai.answers.recorded). The case goes back to the OGI office's triage queue with the reason and
# the department, until the OGI office changes the case's departments or withdraws the task (any
# change of the case that changes something, a referral, or the task withdrawn): the same rule as
# reply's ``pending_return`` (a later ``case.rerouted`` ends every pending return of the case).
# Entries are kept in the routing document's ``returns`` (``status`` "open" or "resolved");
# ``returns_open`` says whether the case is in the queue for a return.


class ReturnRefused(Exception):
    """A ``task.returned`` that can never be recorded (its message names fields and rules only)."""


def return_entry(event_id: str, data: Any, task: dict[str, Any]) -> dict[str, Any]:  # noqa: ANN401
    """The stored entry of a return (``data`` a contracts.events_desk.TaskReturned)."""
    return {"event_id": event_id, "task_id": data.task_id, "dept_code": data.dept_code,
            "dept_name": task.get("dept_name", data.dept_code), "reason": data.reason,
            "returned_by": data.returned_by, "returned_by_subject": data.returned_by_subject,
            "returned_at": data.returned_at, "status": "open"}


def aware(t: Any) -> Any:  # noqa: ANN401
    """Stored datetimes come back aware (tz_aware client) or naive (tests): compare them as UTC."""
    return t.replace(tzinfo=UTC) if isinstance(t, datetime) and t.tzinfo is None else t


def plan_return(doc: dict[str, Any], event_id: str, data: Any) -> dict[str, Any] | None:  # noqa: ANN401
    """The entry to record for a ``task.returned`` (``data``), or None if this event was recorded
    before (a redelivery). A return of a task already withdrawn, or followed by a change of the case
    (the OGI office acted first), is recorded as resolved: it does not put the case in the queue.
    Raises ReturnRefused for a task the case does not have or a department that is not the task's."""
    if any(r.get("event_id") == event_id for r in doc.get("returns") or []):
        return None
    task = next((t for t in doc["tasks"] if t["task_id"] == data.task_id), None)
    if task is None:
        raise ReturnRefused("task_id: not a task of the case")
    if task["dept_code"] != data.dept_code:
        raise ReturnRefused("dept_code: not the department of the task")
    entry = return_entry(event_id, data, task)
    returned_at = aware(data.returned_at)
    later = [c for c in doc.get("changes") or []
             if isinstance(c.get("changed_at"), datetime) and aware(c["changed_at"]) > returned_at]
    if task.get("status", "open") != "open":
        entry.update(status="resolved", resolution="task_withdrawn")
    elif doc.get("referred_whole"):
        entry.update(status="resolved", resolution="referred")
    elif later:
        entry.update(status="resolved", resolution="rerouted", change_seq=later[0]["seq"])
    return entry


def open_returns(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in doc.get("returns") or [] if r.get("status") == "open"]


def resolve_returns(doc: dict[str, Any], resolution: str, actor: str, time: datetime,
                    change_seq: int | None = None) -> list[dict[str, Any]] | None:
    """The case's ``returns`` with every open one resolved by the OGI office's change (None if none was open)."""
    if not open_returns(doc):
        return None
    out = []
    for r in doc.get("returns") or []:
        r = dict(r)
        if r.get("status") == "open":
            r.update(status="resolved", resolution=resolution, resolved_by=actor, resolved_at=time)
            if change_seq is not None:
                r["change_seq"] = change_seq
        out.append(r)
    return out


def returned_view(r: dict[str, Any]) -> dict[str, Any]:
    """A return as the triage queue and the routing view show it."""
    out = {k: r.get(k) for k in ("task_id", "dept_code", "dept_name", "reason", "returned_by", "returned_at")}
    out["status"] = r.get("status", "open")
    for k in ("resolution", "resolved_by", "resolved_at", "change_seq"):
        if k in r:
            out[k] = r[k]
    return out


# ---------------------------------------------------------------------------- reopened tasks (重新答复)
#
# The OGI office resolves a contradiction between answers of a case (reply's
# ``contradiction.resolved`` on gongkai.answers.recorded) and may set aside the answers of some tasks
# (``reopened``): those departments answer again. Their own systems read only their inboxes, so routing
# tells each one there (``task.reopened``), once per resolution and task. The resolutions acted on are
# kept in the routing document's ``reopens`` (one entry per contradiction.resolved event id).


@dataclass
class ReopenPlan:
    entry: dict[str, Any]  # pushed to the routing document's ``reopens``
    tasks: list[dict[str, Any]]  # the tasks whose inbox gets a task.reopened
    skipped: list[dict[str, str]]  # {task_id, dept_code, why}: not_in_case | withdrawn | other_department


def reopened_event_id(resolved_event_id: str, task_id: str) -> str:
    return deterministic_id("task.reopened", resolved_event_id, task_id)


def plan_reopen(doc: dict[str, Any], event_id: str, data: ContradictionResolved) -> ReopenPlan | None:
    """What to record for a ``contradiction.resolved`` (``data``) of a case routed here, or None if
    this event was acted on before (a redelivery) or reopens nothing. Each reopened task that is an
    open task of the case, of the department the event names, gets a ``task.reopened``; any other is
    skipped (a task withdrawn since, or one this case does not have): the event is never refused."""
    reopened = list(data.reopened)
    if not reopened or any(r.get("event_id") == event_id for r in doc.get("reopens") or []):
        return None
    by_id = {t["task_id"]: t for t in doc["tasks"]}
    tasks: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    for task_id, dept_code in dict.fromkeys((r.task_id, r.dept_code) for r in reopened):
        task = by_id.get(task_id)
        why = ("not_in_case" if task is None else "other_department" if task["dept_code"] != dept_code
               else "withdrawn" if task.get("status", "open") != "open" else "")
        if why:
            skipped.append({"task_id": task_id, "dept_code": dept_code, "why": why})
        else:
            tasks.append(task)
    entry = {"event_id": event_id, "contradiction_id": data.contradiction_id,
             "tasks": [t["task_id"] for t in tasks], "skipped": skipped, "reason": data.note,
             "reopened_by": data.resolved_by, "reopened_at": data.resolved_at}
    return ReopenPlan(entry, tasks, skipped)


def reopened_event(doc: dict[str, Any], task: dict[str, Any], resolved_event_id: str, data: ContradictionResolved,
                   source: str, time: datetime | None = None) -> CloudEvent[TaskReopened]:
    return new_event(
        TaskReopened(case_id=doc["_id"], task_id=task["task_id"], tracking_number=doc["tracking_number"],
                     dept_code=task["dept_code"], dept_name=task["dept_name"],
                     contradiction_id=data.contradiction_id, reason=data.note, reopened_by=data.resolved_by,
                     reopened_at=data.resolved_at),
        source=source, subject=doc["_id"], event_id=reopened_event_id(resolved_event_id, task["task_id"]),
        causation_id=resolved_event_id, time=time,
    )


def reopen_records(doc: dict[str, Any], plan: ReopenPlan, resolved_event_id: str, data: ContradictionResolved,
                   source: str, time: datetime | None = None) -> list[dict[str, Any]]:
    """One task.reopened to each reopened task's department inbox."""
    return [outbox.record(topics.department_inbox(t["dept_code"]).name,
                          reopened_event(doc, t, resolved_event_id, data, source, time))
            for t in plan.tasks]
