"""A department returns (退回) its task (reply's ``task.returned``): the case goes back to the OGI
office's triage queue with the reason and the department, once per event (a redelivery changes
nothing), until the OGI office changes the departments, withdraws the task or refers the case.

Pure planning (services/routing/casework.py) and the store (services/routing/store.py) against the
real document store; the consumer's handler through the app (no Kafka)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from contracts.envelope import deterministic_id, new_event
from contracts.events_desk import TaskAcknowledged, TaskReturned
from services.routing import casework
from services.routing.casework import CaseworkError, ReturnRefused
from services.routing.directory import DEFAULT_PATH
from services.routing.store import DirectoryStore, RoutingStore
from servicekit.consumer import Unprocessable
from tests.routing.helpers import outbox_of, received
from tests.routing.test_api import api, ogi  # noqa: F401 - the API fixture

SOURCE = "/gongkai/routing"
THREE = "请公开某村2025年征地补偿标准、年度部门预算及某河段的水质监测数据"
AT = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def returned(case_id: str, dept: str, reason: str = "该事项不属于本部门职责", *, at: datetime = AT,
             task_id: str | None = None, seq: str = "0") -> tuple[str, TaskReturned]:
    tid = task_id or deterministic_id("task", case_id, dept)
    data = TaskReturned(case_id=case_id, task_id=tid, dept_code=dept, reason=reason, returned_by="财政厅李四",
                        returned_by_subject="sub-li", returned_at=at)
    return deterministic_id("task.returned", tid, seq), data


def doc_of(case_id: str = "c1") -> dict:
    tasks = [{"task_id": deterministic_id("task", case_id, c), "dept_code": c, "dept_name": n, "rule": "keyword",
              "confidence": 0.9, "status": "open"} for c, n in (("zrzy", "自然资源厅"), ("czt", "财政厅"))]
    return {"_id": case_id, "tasks": tasks, "changes": [], "returns": []}


# ------------------------------------------------------------------------------ pure planning


def test_a_return_is_an_open_entry_with_who_why_and_the_department() -> None:
    event_id, data = returned("c1", "czt")
    entry = casework.plan_return(doc_of(), event_id, data)
    assert entry is not None and entry["status"] == "open"
    assert entry["dept_code"] == "czt" and entry["dept_name"] == "财政厅" and entry["reason"] == "该事项不属于本部门职责"
    assert entry["returned_by"] == "财政厅李四" and entry["returned_at"] == AT and entry["event_id"] == event_id
    view = casework.returned_view(entry)
    assert set(view) >= {"task_id", "dept_code", "reason", "returned_by", "returned_at"}


def test_the_same_event_again_is_not_a_second_return() -> None:
    doc = doc_of()
    event_id, data = returned("c1", "czt")
    doc["returns"].append(casework.plan_return(doc, event_id, data))
    assert casework.plan_return(doc, event_id, data) is None
    # A later return of the same task (after a new routing) is another event: recorded.
    other_id, other = returned("c1", "czt", seq="1")
    assert casework.plan_return(doc, other_id, other) is not None


def test_an_unknown_task_or_the_wrong_department_is_refused() -> None:
    event_id, data = returned("c1", "czt", task_id="no-such-task")
    with pytest.raises(ReturnRefused, match="task_id"):
        casework.plan_return(doc_of(), event_id, data)
    event_id, data = returned("c1", "czt", task_id=deterministic_id("task", "c1", "zrzy"))
    with pytest.raises(ReturnRefused, match="dept_code"):
        casework.plan_return(doc_of(), event_id, data)


def test_a_return_the_ogi_office_already_dealt_with_is_resolved_on_arrival() -> None:
    doc = doc_of()
    doc["tasks"][1]["status"] = "withdrawn"
    entry = casework.plan_return(doc, *returned("c1", "czt"))
    assert entry["status"] == "resolved" and entry["resolution"] == "task_withdrawn"
    doc = doc_of()
    doc["changes"].append({"seq": 1, "changed_at": AT + timedelta(minutes=5)})
    entry = casework.plan_return(doc, *returned("c1", "czt"))
    assert entry["status"] == "resolved" and entry["change_seq"] == 1
    doc["changes"] = [{"seq": 1, "changed_at": AT - timedelta(minutes=5)}]  # before the return: still open
    assert casework.plan_return(doc, *returned("c1", "czt"))["status"] == "open"


def test_resolving_marks_every_open_return_with_who_and_when() -> None:
    doc = doc_of()
    assert casework.resolve_returns(doc, "rerouted", "王五", AT, 1) is None
    doc["returns"].append(casework.plan_return(doc, *returned("c1", "czt")))
    out = casework.resolve_returns(doc, "rerouted", "王五（sub-wang）", AT, 1)
    assert [(r["status"], r["resolved_by"], r["change_seq"]) for r in out] == [("resolved", "王五（sub-wang）", 1)]
    assert casework.open_returns({"returns": out}) == []


# ------------------------------------------------------------------------------ store


async def stores(db) -> tuple[DirectoryStore, RoutingStore]:  # noqa: ANN001
    directories, routing = DirectoryStore(db, DEFAULT_PATH), RoutingStore(db, SOURCE)
    await directories.setup()
    await routing.setup()
    return directories, routing


@pytest.mark.asyncio
async def test_a_returned_case_is_in_the_queue_until_reassigned(db) -> None:  # noqa: ANN001
    directories, routing = await stores(db)
    directory = await directories.current()
    await routing.route(received("c-ret", THREE), directory)
    assert await routing.open_triage() == []
    event_id, data = returned("c-ret", "czt")
    assert await routing.record_return(event_id, data) == "recorded"
    assert await routing.record_return(event_id, data) == "duplicate"  # redelivered: nothing new
    doc = await routing.get("c-ret")
    assert len(doc["returns"]) == 1 and doc["returns_open"] is True
    [queued] = await routing.open_triage()
    assert queued["_id"] == "c-ret" and [r["dept_code"] for r in casework.open_returns(queued)] == ["czt"]
    before = len(await outbox_of(routing.routings, "c-ret"))
    assert before == 4  # recording a return publishes nothing
    # The OGI office gives the case to another department and withdraws the returned task: out of the queue.
    result = await routing.change_departments("c-ret", directory, add=["fgw"], remove=["czt"],
                                              reason="预算编制由发展改革委答复", actor="王五（sub-wang）")
    assert result["operation"] == "reassign" and result["returns_resolved"]
    assert await routing.open_triage() == []
    doc = await routing.get("c-ret")
    assert doc["returns_open"] is False and doc["returns"][0]["status"] == "resolved"
    assert doc["returns"][0]["resolved_by"] == "王五（sub-wang）" and doc["changes"][0]["returns_resolved"] == [data.task_id]
    # The same event delivered once more after that: still one entry, still out of the queue.
    assert await routing.record_return(event_id, data) == "duplicate"
    assert await routing.open_triage() == []


@pytest.mark.asyncio
async def test_a_withdrawal_alone_resolves_the_return_and_referral_too(db) -> None:  # noqa: ANN001
    directories, routing = await stores(db)
    directory = await directories.current()
    await routing.route(received("c-wd", THREE), directory)
    event_id, data = returned("c-wd", "sthjt")
    await routing.record_return(event_id, data)
    await routing.change_departments("c-wd", directory, task_ids=[data.task_id], reason="已由其他部门答复", actor="王五")
    assert await routing.open_triage() == []
    # A return that arrives after the task was withdrawn does not put the case back.
    late_id, late = returned("c-wd", "sthjt", seq="9", at=datetime.now(UTC))
    assert await routing.record_return(late_id, late) == "resolved"
    assert await routing.open_triage() == []
    # A whole-case referral ends a pending return too.
    await routing.route(received("c-ref", THREE), directory)
    await routing.record_return(*returned("c-ref", "zrzy"))
    assert [d["_id"] for d in await routing.open_triage()] == ["c-ref"]
    await routing.refer("c-ref", directory, target_agency_code="km-gov", target_agency_name=None, target_contact=None,
                        reason="属昆明市", actor="王五")
    assert await routing.open_triage() == []


@pytest.mark.asyncio
async def test_an_unknown_case_or_task_is_refused(db) -> None:  # noqa: ANN001
    directories, routing = await stores(db)
    with pytest.raises(CaseworkError) as exc:
        await routing.record_return(*returned("nowhere", "czt"))
    assert exc.value.status == 404
    await routing.route(received("c-x", THREE), await directories.current())
    with pytest.raises(ReturnRefused):
        await routing.record_return(*returned("c-x", "czt", task_id="t-other"))


# ------------------------------------------------------------------------------ the API and the handler


@pytest.mark.asyncio
async def test_the_triage_queue_says_why_each_case_is_there(api) -> None:  # noqa: ANN001
    store, directories = api.app.state.store, api.app.state.directories
    await store.route(received("c-unsure", "请公开相关文件"), await directories.current())
    await store.route(received("c-back", THREE), await directories.current())
    handler = api.app.state.on_answers_recorded
    event_id, data = returned("c-back", "czt", "预算编制不属于本厅")
    event = new_event(data, source="/gongkai/reply", subject="c-back", event_id=event_id)
    await handler(event)
    await handler(event)  # redelivered
    # Reply's other events on the topic are not routing's business.
    ack = TaskAcknowledged(case_id="c-back", task_id=data.task_id, dept_code="czt", acknowledged_by="李四",
                           acknowledged_by_subject="sub-li", acknowledged_at=AT)
    await handler(new_event(ack, source="/gongkai/reply", subject="c-back", event_id="e-ack"))
    with pytest.raises(Unprocessable):
        await handler(new_event(returned("c-none", "czt")[1], source="/gongkai/reply", subject="c-none", event_id="e-none"))
    with pytest.raises(Unprocessable):
        await handler(new_event(returned("c-back", "czt", task_id="t-x")[1], source="/gongkai/reply", subject="c-back",
                                     event_id="e-x"))
    cases = {c["case_id"]: c for c in (await api.get("/triage", headers=ogi())).json()["cases"]}
    assert cases["c-unsure"]["reason"] == "triage" and cases["c-unsure"]["returned"] == []
    back = cases["c-back"]
    assert back["reason"] == "returned" and back["reasons"] == ["returned"]
    [r] = back["returned"]
    assert (r["task_id"], r["dept_code"], r["reason"], r["returned_by"]) == (data.task_id, "czt", "预算编制不属于本厅", "财政厅李四")
    assert r["returned_at"].startswith("2026-11-24T09:00")
    resp = await api.post(f"/cases/c-back/tasks/{data.task_id}/withdrawal", json={"reason": "改由其他部门办理"},
                          headers=ogi())
    assert resp.status_code == 200 and resp.json()["returns_resolved"]
    cases = {c["case_id"] for c in (await api.get("/triage", headers=ogi())).json()["cases"]}
    assert cases == {"c-unsure"}
    routing = (await api.get("/cases/c-back/routing", headers=ogi())).json()
    assert routing["returns"][0]["status"] == "resolved"
