"""Issue #10 end to end: a department officer returns (退回) the task with a reason; routing takes
reply's ``task.returned`` and puts the case back into the OGI office's triage queue with the reason
and the department; the OGI officer gives the case to another department and withdraws the
returned task; the case leaves the queue, the new department sees the task and answers, and reply's
``/returned-tasks`` no longer lists it. A malformed ``task.returned`` is dead-lettered by routing."""

from __future__ import annotations

import json
import time

import pytest

from contracts import topics
from contracts.envelope import deterministic_id
from tests.e2e.helpers import OGI, Client, application, eventually, officer_of, produce, read_topic, tag

pytestmark = pytest.mark.e2e

REASON = "该事项属于发展改革委的职责，建议改由其办理"


async def test_a_returned_task_goes_back_to_triage_and_is_reassigned(stack) -> None:
    started = time.monotonic()
    client = Client(stack)
    accepted = await client.submit(application(tag(), departments=["czt"], description="请公开本省2025年重点项目投资计划"))
    case_id = accepted["case_id"]
    task = await client.wait_task_open(case_id, "czt")
    task_id = task["task_id"]

    # The department officer returns the task.
    resp = await client.post("reply", f"/tasks/{task_id}/return", as_user=officer_of("czt"), json={"reason": REASON})
    assert resp.status_code == 200, resp.text

    async def in_triage() -> dict | None:
        r = await client.get("routing", "/triage")
        assert r.status_code == 200, r.text
        return next((c for c in r.json()["cases"] if c["case_id"] == case_id), None)

    entry = await eventually(in_triage, 60, what="the returned case in the triage queue")
    assert entry["reason"] == "returned" and entry["tracking_number"] == accepted["tracking_number"]
    [returned] = entry["returned"]
    assert returned["task_id"] == task_id and returned["dept_code"] == "czt" and returned["reason"] == REASON
    assert returned["returned_by"] and returned["returned_at"]
    listed = (await client.get("reply", "/returned-tasks")).json()["tasks"]
    assert [t["task_id"] for t in listed if t["case_id"] == case_id] == [task_id]

    # The OGI officer gives the case to another department, then withdraws the returned task.
    resp = await client.post("routing", f"/cases/{case_id}/departments", as_user=OGI,
                             json={"add": ["fgw"], "reason": "经核实由发展改革委办理"})
    assert resp.status_code == 200 and resp.json()["operation"] == "add", resp.text
    resp = await client.post("routing", f"/cases/{case_id}/tasks/{task_id}/withdrawal", as_user=OGI,
                             json={"reason": "财政厅退回，已改由发展改革委办理"})
    assert resp.status_code == 200 and resp.json()["operation"] == "withdraw", resp.text
    assert await in_triage() is None  # out of the queue at once

    routing = (await client.get("routing", f"/cases/{case_id}/routing")).json()
    assert [t["dept_code"] for t in routing["tasks"]] == ["fgw"]
    assert routing["returns"][0]["status"] == "resolved"

    # The new department sees the task and answers; reply no longer lists the return.
    new_task = await client.wait_task_open(case_id, "fgw")
    assert new_task["task_id"] == deterministic_id("task", case_id, "fgw")

    async def return_gone() -> bool:
        tasks = (await client.get("reply", "/returned-tasks")).json()["tasks"]
        return not [t for t in tasks if t["case_id"] == case_id]

    await eventually(return_gone, 60, what="reply's returned-tasks without the case")
    resp = await client.answer(new_task["task_id"], "fgw")
    assert resp.status_code in (200, 201), resp.text
    reply = await client.reply(case_id)
    assert reply["issued"]
    # The returned task's department is no longer asked (its task was withdrawn before it answered).
    czt_tasks = (await client.get("reply", "/departments/czt/tasks", as_user=officer_of("czt"))).json()["tasks"]
    assert not [t for t in czt_tasks if t["case_id"] == case_id]
    await client.close()
    print(f"\nreturned task e2e: {time.monotonic() - started:.1f} s")


async def test_a_malformed_task_returned_is_dead_lettered_by_routing(stack) -> None:
    bootstrap = stack.cfg.kafka_bootstrap
    marker = tag()
    broken = {"specversion": "1.0", "id": deterministic_id("broken-return", marker), "source": "/test",
              "type": "cn.gongkai.task.returned.v1", "subject": marker, "time": "2026-12-01T08:00:00Z",
              "dataschema": "urn:gongkai:schema:task.returned:1", "data": {"case_id": marker, "task_id": "t"}}
    unknown_case = {**broken, "id": deterministic_id("unknown-return", marker),
                    "data": {"case_id": marker, "task_id": "t", "dept_code": "czt", "reason": "不属于本部门",
                             "returned_by": "测试", "returned_by_subject": "sub-test",
                             "returned_at": "2026-12-01T08:00:00Z"}}
    for event in (broken, unknown_case):
        await produce(bootstrap, topics.ANSWERS_RECORDED.name, json.dumps(event).encode(), key=marker.encode())

    async def dead() -> list | None:
        out = []
        for rec in await read_topic(bootstrap, topics.ANSWERS_RECORDED.dlt):
            headers = {k: v.decode() for k, v in rec.headers}
            if marker.encode() in (rec.value or b"") and headers.get("dlt-consumer-group") == "routing":
                out.append(headers["dlt-reason"])
        return out if len(out) >= 2 else None

    reasons = await eventually(dead, 60, what="routing's dead letters of the malformed returns")
    assert any(r.startswith("invalid event") and "dept_code" in r for r in reasons), reasons
    assert any(r.startswith("unprocessable") and "case_id" in r for r in reasons), reasons
    assert all(marker not in r for r in reasons)
