"""The OGI office sets answers aside (reply's ``contradiction.resolved`` with ``reopened``): routing
tells each department on its own inbox (``task.reopened``), once per resolution and task; a task
the case lacks, or withdrawn since, is skipped (never a dead letter); a case not routed here is
left alone (the event may be another agency's).

Pure planning (services/routing/casework.py), the store (services/routing/store.py) against the
real document store, and the consumer's handler through the app (no Kafka)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from contracts import topics
from contracts.envelope import deterministic_id, new_event
from contracts.events import ContradictionResolved, ReopenedTask
from contracts.events_routing import TaskReopened
from services.routing import casework
from services.routing.directory import DEFAULT_PATH
from services.routing.store import DirectoryStore, RoutingStore
from tests.routing.helpers import outbox_of, received
from tests.routing.test_api import api  # noqa: F401 - the API fixture

SOURCE = "/gongkai/routing"
THREE = "请公开某村2025年征地补偿标准、年度部门预算及某河段的水质监测数据"
AT = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
NOTE = "以自然资源厅意见为准，请财政厅重新答复"


def resolved(case_id: str, reopened: list[tuple[str, str]], contradiction_id: str = "k1",
             note: str = NOTE) -> tuple[str, ContradictionResolved]:
    data = ContradictionResolved(case_id=case_id, contradiction_id=contradiction_id, resolved_by="公开办李经办",
                                 resolved_by_subject="sub-li", note=note,
                                 reopened=[ReopenedTask(task_id=t, dept_code=d) for t, d in reopened],
                                 resolved_at=AT)
    return deterministic_id("contradiction.resolved", case_id, contradiction_id), data


def tid(case_id: str, dept: str) -> str:
    return deterministic_id("task", case_id, dept)


def doc_of(case_id: str = "c1") -> dict:
    tasks = [{"task_id": tid(case_id, c), "dept_code": c, "dept_name": n, "rule": "keyword",
              "confidence": 0.9, "status": "open"} for c, n in (("zrzy", "自然资源厅"), ("czt", "财政厅"))]
    return {"_id": "c1", "tracking_number": "YN-20261125-00001", "tasks": tasks, "changes": [], "returns": []}


# ------------------------------------------------------------------------------ pure planning


def test_a_reopened_task_gets_one_task_reopened_on_its_inbox() -> None:
    doc = doc_of()
    event_id, data = resolved("c1", [(tid("c1", "czt"), "czt")])
    plan = casework.plan_reopen(doc, event_id, data)
    assert plan is not None and [t["dept_code"] for t in plan.tasks] == ["czt"] and plan.skipped == []
    assert plan.entry["event_id"] == event_id and plan.entry["tasks"] == [tid("c1", "czt")]
    assert plan.entry["contradiction_id"] == "k1" and plan.entry["reason"] == NOTE
    [rec] = casework.reopen_records(doc, plan, event_id, data, SOURCE, time=AT)
    assert rec["topic"] == topics.department_inbox("czt").name == "gongkai.dept.czt.tasks"
    assert rec["event_id"] == deterministic_id("task.reopened", event_id, tid("c1", "czt"))
    event = casework.reopened_event(doc, plan.tasks[0], event_id, data, SOURCE, time=AT)
    assert event.type == "cn.gongkai.task.reopened.v1" and event.subject == "c1" and event.causationid == event_id
    assert event.data == TaskReopened(case_id="c1", task_id=tid("c1", "czt"), tracking_number="YN-20261125-00001",
                                      dept_code="czt", dept_name="财政厅", contradiction_id="k1", reason=NOTE,
                                      reopened_by="公开办李经办", reopened_at=AT)


def test_the_same_resolution_again_plans_nothing_and_another_one_plans_anew() -> None:
    doc = doc_of()
    event_id, data = resolved("c1", [(tid("c1", "czt"), "czt")])
    doc["reopens"] = [casework.plan_reopen(doc, event_id, data).entry]
    assert casework.plan_reopen(doc, event_id, data) is None  # a redelivery
    # A later contradiction reopening the same task is another event: a task.reopened of its own id.
    other_id, other = resolved("c1", [(tid("c1", "czt"), "czt")], contradiction_id="k2")
    plan = casework.plan_reopen(doc, other_id, other)
    assert plan is not None and plan.tasks
    [a] = casework.reopen_records(doc, plan, other_id, other, SOURCE)
    assert a["event_id"] != deterministic_id("task.reopened", event_id, tid("c1", "czt"))


def test_a_resolution_that_reopens_nothing_plans_nothing() -> None:
    assert casework.plan_reopen(doc_of(), *resolved("c1", [])) is None


def test_tasks_not_in_the_case_withdrawn_or_of_another_department_are_skipped() -> None:
    doc = doc_of()
    doc["tasks"][0]["status"] = "withdrawn"  # zrzy's
    event_id, data = resolved("c1", [(tid("c1", "zrzy"), "zrzy"), ("t-none", "czt"), (tid("c1", "czt"), "fgw"),
                                     (tid("c1", "czt"), "czt"), (tid("c1", "czt"), "czt")])
    plan = casework.plan_reopen(doc, event_id, data)
    assert plan is not None
    assert [(s["task_id"], s["why"]) for s in plan.skipped] == [
        (tid("c1", "zrzy"), "withdrawn"), ("t-none", "not_in_case"), (tid("c1", "czt"), "other_department")]
    assert [t["task_id"] for t in plan.tasks] == [tid("c1", "czt")]  # named twice, told once
    assert len(casework.reopen_records(doc, plan, event_id, data, SOURCE)) == 1
    # All skipped: still recorded (a redelivery is a duplicate), with nothing to publish.
    only_gone = casework.plan_reopen(doc, *resolved("c1", [(tid("c1", "zrzy"), "zrzy")], contradiction_id="k3"))
    assert only_gone is not None and only_gone.tasks == [] and only_gone.entry["tasks"] == []


# ------------------------------------------------------------------------------ store


async def stores(db) -> tuple[DirectoryStore, RoutingStore]:  # noqa: ANN001
    directories, routing = DirectoryStore(db, DEFAULT_PATH), RoutingStore(db, SOURCE)
    await directories.setup()
    await routing.setup()
    return directories, routing


def as_event(event_id: str, data: ContradictionResolved):  # noqa: ANN201
    return new_event(data, source="/gongkai/reply", subject=data.case_id, event_id=event_id)


@pytest.mark.asyncio
async def test_the_store_puts_one_task_reopened_in_the_outbox_once(db) -> None:  # noqa: ANN001
    directories, routing = await stores(db)
    await routing.route(received("c-ro", THREE), await directories.current())
    doc = await routing.get("c-ro")
    codes = {t["dept_code"] for t in doc["tasks"]}
    assert {"zrzy", "czt"} <= codes
    before = await outbox_of(routing.routings, "c-ro")
    event = as_event(*resolved("c-ro", [(tid("c-ro", "czt"), "czt"), ("t-none", "zrzy")]))
    entry = await routing.record_reopen(event, time=AT)
    assert entry is not None and entry["tasks"] == [tid("c-ro", "czt")]
    assert [(s["task_id"], s["why"]) for s in entry["skipped"]] == [("t-none", "not_in_case")]
    assert await routing.record_reopen(event) is None  # redelivered: nothing new
    records = await outbox_of(routing.routings, "c-ro")
    new = records[len(before):]
    assert [(r["topic"], r["event"].type) for r in new] == [("gongkai.dept.czt.tasks", "cn.gongkai.task.reopened.v1")]
    reopened = new[0]["event"]
    assert reopened.id == deterministic_id("task.reopened", event.id, tid("c-ro", "czt"))
    assert reopened.causationid == event.id
    assert (reopened.data.dept_name, reopened.data.reason, reopened.data.reopened_by, reopened.data.contradiction_id) \
        == (next(t["dept_name"] for t in doc["tasks"] if t["dept_code"] == "czt"), NOTE, "公开办李经办", "k1")
    assert reopened.data.tracking_number == doc["tracking_number"]
    stored = await routing.get("c-ro")
    assert [r["event_id"] for r in stored["reopens"]] == [event.id]
    assert stored["tasks"] == doc["tasks"]  # the tasks themselves do not change
    assert stored["rev"] == doc["rev"] + 1  # one write


@pytest.mark.asyncio
async def test_a_case_not_routed_here_or_a_withdrawn_task_publishes_nothing(db) -> None:  # noqa: ANN001
    directories, routing = await stores(db)
    directory = await directories.current()
    assert await routing.record_reopen(as_event(*resolved("elsewhere", [("t1", "czt")]))) is None
    assert await routing.routings.find_one({"_id": "elsewhere"}) is None
    await routing.route(received("c-wd", THREE), directory)
    await routing.change_departments("c-wd", directory, task_ids=[tid("c-wd", "czt")], reason="改由其他部门办理",
                                     actor="王五")
    before = len(await outbox_of(routing.routings, "c-wd"))
    entry = await routing.record_reopen(as_event(*resolved("c-wd", [(tid("c-wd", "czt"), "czt")])))
    assert entry is not None and entry["tasks"] == [] and entry["skipped"][0]["why"] == "withdrawn"
    assert len(await outbox_of(routing.routings, "c-wd")) == before


# ------------------------------------------------------------------------------ the consumer's handler


@pytest.mark.asyncio
async def test_the_handler_tells_the_department_and_never_dead_letters(api) -> None:  # noqa: ANN001
    store, directories = api.app.state.store, api.app.state.directories
    await store.route(received("c-h", THREE), await directories.current())
    handler = api.app.state.on_answers_recorded
    event = as_event(*resolved("c-h", [(tid("c-h", "czt"), "czt"), ("t-gone", "czt")]))
    await handler(event)
    await handler(event)  # redelivered
    await handler(as_event(*resolved("c-nowhere", [("t1", "czt")])))  # not routed here: nothing, no error
    await handler(as_event(*resolved("c-h", [], contradiction_id="k-stand")))  # the answers stand: nothing
    records = [r for r in await outbox_of(store.routings, "c-h") if r["event"].type.endswith("task.reopened.v1")]
    assert [(r["topic"], r["event"].data.task_id) for r in records] == [("gongkai.dept.czt.tasks", tid("c-h", "czt"))]
    doc = await store.get("c-h")
    assert len(doc["reopens"]) == 1
