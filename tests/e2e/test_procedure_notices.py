"""Issue #4 end to end: a case with a correction (Art. 30) and an extension (Art. 33) runs through
the services, and the applicant gets each notice — received, correction, extension, reply — exactly
once by e-mail and once by webhook. The clock events notify does not act on are skipped, not
dead-lettered."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import pytest

from contracts import topics
from tests.e2e.helpers import OGI, OGI_HEAD, Client, application, eventually, events_of, mails_for, tag

pytestmark = pytest.mark.e2e

ITEMS = ["请写明所需征地补偿标准对应的村组名称", "请写明所需水质监测数据的时间范围"]
KINDS = ["correction_requested", "extension_approved", "received", "reply_issued"]


async def test_correction_and_extension_each_noticed_once(stack, mail, hooks) -> None:
    client = Client(stack)
    t = tag()
    accepted = await client.submit(application(t, webhook=f"{hooks.url}/hooks/{t}"))
    case_id, number = accepted["case_id"], accepted["tracking_number"]
    routing = await client.routing(case_id)
    departments = [task["dept_code"] for task in routing["tasks"]]
    assert departments, "the case must be routed to departments"

    # The reply service's clock knows the case once it has consumed case.routed.
    async def clock() -> dict | None:
        resp = await client.get("reply", f"/cases/{case_id}/deadline")
        return resp.json() if resp.status_code == 200 else None
    await eventually(clock, 60, what="the case's clock")

    due_on = date.fromisoformat(accepted["received_on"]) + timedelta(days=14)
    resp = await client.post("reply", f"/cases/{case_id}/correction", as_user=OGI,
                             json={"items": ITEMS, "due_on": due_on.isoformat()})
    assert resp.status_code == 201, resp.text
    again = await client.post("reply", f"/cases/{case_id}/correction", as_user=OGI,
                              json={"items": ["再次补正"], "due_on": due_on.isoformat()})
    assert again.status_code == 409, again.text  # one correction notice only (Art. 30)
    resp = await client.post("reply", f"/cases/{case_id}/correction/received", as_user=OGI, json={})
    assert resp.status_code == 201, resp.text
    denied = await client.post("reply", f"/cases/{case_id}/extension", as_user=OGI,
                               json={"days": 10, "reason": "需要调取档案"})
    assert denied.status_code == 403, denied.text  # only the head of the OGI office approves
    resp = await client.post("reply", f"/cases/{case_id}/extension", as_user=OGI_HEAD,
                             json={"days": 10, "reason": "需要调取多个部门的档案材料"})
    assert resp.status_code == 201, resp.text

    for dept in departments:
        task = await client.wait_task_open(case_id, dept)
        answered = await client.answer(task["task_id"], dept, "disclosed", text=f"{dept}的答复内容")
        assert answered.status_code == 201, answered.text
    await client.reply(case_id)

    address = f"{t}@example.com"
    await eventually(lambda: _n(len(mails_for(mail, address)) >= 4), 60, what="four e-mails")
    await eventually(lambda: _n(len([h for h in hooks.requests if h["hook"] == t]) >= 4), 60, what="four webhooks")
    await asyncio.sleep(3)  # a duplicate would arrive within a few dispatch polls (0.5 s each)

    mails = mails_for(mail, address)
    webhooks = [h for h in hooks.requests if h["hook"] == t]
    assert len(mails) == 4, [m["subject"] for m in mails]
    assert len({m["message_id"] for m in mails}) == 4
    assert len(webhooks) == 4, [h["payload"]["kind"] for h in webhooks]
    assert len({h["idempotency_key"] for h in webhooks}) == 4
    assert sorted(h["payload"]["kind"] for h in webhooks) == KINDS
    assert all(number in m["subject"] for m in mails)

    procedure = await events_of(stack.cfg.kafka_bootstrap, topics.CASES_PROCEDURE.name, case_id)
    [extension] = [e["data"] for e in procedure if e["type"] == "cn.gongkai.extension.approved.v1"]
    [correction_mail] = [m for m in mails if "补正" in m["subject"]]
    assert all(item in correction_mail["body"] for item in ITEMS)
    assert f"{due_on:%Y年%m月%d日}" in correction_mail["body"]
    [extension_mail] = [m for m in mails if "延期" in m["subject"]]
    assert f"{date.fromisoformat(extension['new_due_on']):%Y年%m月%d日}" in extension_mail["body"]
    assert "需要调取多个部门的档案材料" in extension_mail["body"]

    # deadline.changed, correction.received …: acknowledged and skipped by notify, not dead-lettered.
    assert {e["type"] for e in procedure} >= {"cn.gongkai.deadline.changed.v1", "cn.gongkai.correction.received.v1"}
    assert await events_of(stack.cfg.kafka_bootstrap, topics.CASES_PROCEDURE.dlt, case_id) == []
    assert await events_of(stack.cfg.kafka_bootstrap, topics.CASES_ROUTED.dlt, case_id) == []
    await client.close()


async def _n(ok: bool) -> bool:
    return ok
