"""The OGI office resolves a contradiction end to end: two departments decide differently about the
same material; reply flags it and holds the reply; the OGI officer sends one answer back
(``reopen``). ``contradiction.resolved`` goes out on gongkai.answers.recorded: the audit ledger
records it (not dead-lettered, not in the applicant's public timeline), the case clock counts the
department open again (the due-soon list), the department sees its task again, its own system is
told on its inbox (one ``task.reopened``, the other department's inbox nothing), and its answer
given again (the same one) is a new fact that releases the reply."""

from __future__ import annotations

import asyncio
import time

import pytest

from contracts import topics
from contracts.envelope import deterministic_id
from tests.e2e.helpers import OGI, Client, application, eventually, events_of, officer_of, tag

pytestmark = pytest.mark.e2e

RESOLVED = "cn.gongkai.contradiction.resolved.v1"
REOPENED = "cn.gongkai.task.reopened.v1"
WITHHOLD = {"reply_type": "not_disclosed", "outcome_code": "withheld.internal_affairs", "reason": "属于内部事务信息",
            "text": "该材料属于内部事务信息，不予公开。", "material_refs": ["shared-material.pdf"]}


async def test_a_resolution_reopening_an_answer_is_recorded_and_reopens_the_department(stack) -> None:
    started = time.monotonic()
    client = Client(stack)
    accepted = await client.submit(application(tag(), departments=["zrzy", "czt"],
                                               description="请公开某项目的征地补偿标准及其资金安排"))
    case_id = accepted["case_id"]
    t1 = (await client.wait_task_open(case_id, "zrzy"))["task_id"]
    t2 = (await client.wait_task_open(case_id, "czt"))["task_id"]
    resp = await client.answer(t1, "zrzy", material_refs=["shared-material.pdf"])
    assert resp.status_code in (200, 201), resp.text
    resp = await client.answer(t2, "czt", **WITHHOLD)
    assert resp.status_code in (200, 201), resp.text

    async def flagged() -> list | None:
        r = await client.get("reply", f"/cases/{case_id}/reply")
        return r.json()["contradictions"] if r.status_code == 200 and r.json()["contradictions"] else None

    [item] = await eventually(flagged, 60, what="the flagged contradiction")
    assert not item["resolved"]

    async def due_soon() -> dict | None:
        r = await client.get("reply", "/cases/due-soon", params={"within": 20})
        assert r.status_code == 200, r.text
        return next((c for c in r.json()["cases"] if c["case_id"] == case_id), None)

    left = (await client.get("reply", f"/cases/{case_id}/deadline")).json()["workdays_left"]
    watch_clock = left is not None and left <= 20
    if watch_clock:  # both answers signed off: the clock counts nobody open
        await eventually(lambda: _open(due_soon, []), 60, what="the clock with both answers")

    resp = await client.post("reply", f"/cases/{case_id}/contradictions/{item['id']}/resolve", as_user=OGI,
                             json={"note": "以自然资源厅意见为准，请财政厅重新答复", "reopen": [t2]})
    assert resp.status_code == 200 and resp.json()["reopened"] == [t2], resp.text
    again = await client.post("reply", f"/cases/{case_id}/contradictions/{item['id']}/resolve", as_user=OGI,
                              json={"note": "再次", "reopen": []})
    assert again.status_code == 200 and again.json()["reopened"] == [t2], again.text  # once

    # The ledger records the OGI office's decision, caused by the flag.
    async def recorded() -> dict | None:
        return next((e for e in await client.timeline(case_id) if e["type"] == RESOLVED), None)

    entry = await eventually(recorded, 60, what="contradiction.resolved in the ledger")
    assert entry["id"] == deterministic_id("contradiction.resolved", case_id, item["id"])
    assert entry["causationid"] == deterministic_id("contradiction.flagged", item["id"])
    assert entry["topic"] == topics.ANSWERS_RECORDED.name
    assert [e["type"] for e in await client.timeline(case_id)].count(RESOLVED) == 1
    [event] = [e for e in await events_of(stack.cfg.kafka_bootstrap, topics.ANSWERS_RECORDED.name, case_id)
               if e["type"] == RESOLVED]
    assert event["data"]["reopened"] == [{"task_id": t2, "dept_code": "czt"}]
    assert event["data"]["resolved_by"] and event["data"]["resolved_by_subject"]
    assert "张三" not in str(event) and "11010519491231002X" not in str(event)
    # The department sees its task again, and the clock counts it open (named in the 督办 list).
    await client.wait_task_open(case_id, "czt")
    # Its own system is told on its inbox (routing, from the resolution): one task.reopened.
    bootstrap = stack.cfg.kafka_bootstrap

    async def reopened_on(dept: str) -> list[dict]:
        return [e for e in await events_of(bootstrap, topics.department_inbox(dept).name, case_id)
                if e["type"] == REOPENED]

    [told] = await eventually(lambda: reopened_on("czt"), 60, what="task.reopened on czt's inbox")
    assert told["id"] == deterministic_id("task.reopened", event["id"], t2)
    assert told["causationid"] == event["id"] and told["source"] == "/gongkai/routing"
    assert told["dataschema"].endswith("/schemas/task.reopened.v1.json")
    assert told["data"] == {"case_id": case_id, "task_id": t2, "tracking_number": accepted["tracking_number"],
                            "dept_code": "czt", "dept_name": told["data"]["dept_name"], "contradiction_id": item["id"],
                            "reason": "以自然资源厅意见为准，请财政厅重新答复",
                            "reopened_by": event["data"]["resolved_by"], "reopened_at": event["data"]["resolved_at"]}
    assert "财政厅" in told["data"]["dept_name"]
    # The ledger records it like every inbox event (not dead-lettered), out of the applicant's view.
    async def reopened_recorded() -> dict | None:
        return next((e for e in await client.timeline(case_id) if e["type"] == REOPENED), None)

    assert (await eventually(reopened_recorded, 60, what="task.reopened in the ledger"))["id"] == told["id"]
    if watch_clock:
        await eventually(lambda: _open(due_soon, ["czt"]), 60, what="the clock counting czt open again")
    # The applicant's view shows nothing of it.
    public = await client.http.get(client.url("audit", f"/public/cases/{accepted['tracking_number']}/timeline"),
                                   params={"query_code": accepted["query_code"]})
    assert public.status_code == 200, public.text
    assert "公开办" not in public.text and "重新答复" not in public.text

    # czt answers again, the same answer: a new fact (its own event id), and the reply follows.
    resp = await client.answer(t2, "czt", **WITHHOLD)
    assert resp.status_code in (200, 201), resp.text
    reply = await client.reply(case_id)
    assert reply["issued"]
    # Every answer.recorded is in the ledger: zrzy's draft and sign-off, czt's twice (not duplicates).
    async def answers_recorded() -> bool:
        return [e["type"] for e in await client.timeline(case_id)].count("cn.gongkai.answer.recorded.v1") == 6

    await eventually(answers_recorded, 60, what="six answer.recorded in the ledger")
    # Nothing of the case was dead-lettered on the answers topic (audit, routing and the clock took it).
    await asyncio.sleep(1)
    assert await events_of(stack.cfg.kafka_bootstrap, topics.ANSWERS_RECORDED.dlt, case_id) == []
    # Exactly one task.reopened, on czt's inbox only (zrzy's answer stands: nothing on its inbox).
    assert [e["id"] for e in await reopened_on("czt")] == [told["id"]]
    assert await reopened_on("zrzy") == []
    assert [e["type"] for e in await client.timeline(case_id)].count(REOPENED) == 1
    czt = (await client.get("reply", "/departments/czt/tasks", as_user=officer_of("czt"))).json()["tasks"]
    assert not [t for t in czt if t["case_id"] == case_id]
    await client.close()
    print(f"\ncontradiction resolved e2e: {time.monotonic() - started:.1f} s "
          f"(clock watched: {watch_clock}, {left} WD left)")


async def _open(due_soon, expected: list[str]) -> bool:  # noqa: ANN001
    case = await due_soon()
    return case is not None and case["open_departments"] == expected
