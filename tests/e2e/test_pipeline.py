"""One application concerning three departments travels through all five services."""

from __future__ import annotations

import base64

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from contracts import topics
from tests.e2e.helpers import OGI, Client, application, eventually, events_of, mails_for, tag

pytestmark = pytest.mark.e2e

DEPARTMENTS = {"zrzy": "云南省自然资源厅", "czt": "云南省财政厅", "sthjt": "云南省生态环境厅"}


async def test_three_departments_one_reply(stack, mail, hooks) -> None:
    client = Client(stack)
    t = tag()
    accepted = await client.submit(application(t, webhook=f"{hooks.url}/hooks/{t}"))
    case_id = accepted["case_id"]
    assert accepted["tracking_number"].startswith("YN-")
    # The query code: 12 characters of an alphabet without look-alikes (no I, L, O, U).
    assert len(accepted["query_code"]) == 12 and not set(accepted["query_code"]) & set("ILOU")
    assert accepted["webhook_secret"].startswith("whsec_")

    # Routing picks the three departments from the description's keywords.
    routing = await client.routing(case_id)
    assert {task["dept_code"] for task in routing["tasks"]} == set(DEPARTMENTS)
    inbox_events = {}
    for dept in DEPARTMENTS:
        inbox_events[dept] = await events_of(stack.cfg.kafka_bootstrap, topics.department_inbox(dept).name, case_id)
        assert len(inbox_events[dept]) == 1, f"{dept} inbox must hold exactly one task for the case"

    answers = {"zrzy": ("disclosed", None, None), "czt": ("already_public", None, None),
               "sthjt": ("not_disclosed", "第十五条 商业秘密", "withheld.third_party")}
    for dept, (reply_type, reason, outcome_code) in answers.items():
        task = await client.wait_task_open(case_id, dept)
        resp = await client.answer(task["task_id"], dept, reply_type, text=f"{DEPARTMENTS[dept]}的答复内容", reason=reason,
                                   outcome_code=outcome_code, review=dept != "zrzy")
        assert resp.status_code == 201, resp.text
        if dept == "zrzy":
            # The clock (its own documents, fed by the reply's events read back from the bus) names
            # the departments whose answer is not signed off: a draft keeps zrzy open.
            await eventually(lambda: _open_departments(client, case_id, {"zrzy", "czt", "sthjt"}), 30,
                             what="the case due, every department open")
            assert (await client.review(task["task_id"], dept)).status_code == 200
            await eventually(lambda: _open_departments(client, case_id, {"czt", "sthjt"}), 30,
                             what="zrzy's sign-off seen by the clock")

    reply = await client.reply(case_id)
    assert reply["reply"]["decision"] == "partially_disclosed"
    document = reply["reply"]["document"]
    for dept, name in DEPARTMENTS.items():
        assert f"{name}的答复内容" in document
    assert "第十五条 商业秘密" in document

    # Exactly one reply was issued, holding all three answers.
    issued = await eventually(lambda: _issued(stack, case_id), 30, what="reply.issued on the topic")
    assert len(issued) == 1
    assert {p["dept_code"] for p in issued[0]["data"]["parts"]} == set(DEPARTMENTS)

    # One notice per step, by e-mail and by webhook, each exactly once.
    address = f"{t}@example.com"
    await eventually(lambda: _n(len(mails_for(mail, address)) >= 2), 30, what="two e-mails")
    await eventually(lambda: _n(len([h for h in hooks.requests if h["hook"] == t]) >= 2), 30, what="two webhooks")
    all_events = await eventually(lambda: _timeline_complete(client, case_id), 30, what="complete timeline")
    mails = mails_for(mail, address)
    assert len(mails) == 2, [m["subject"] for m in mails]
    assert sorted("已登记" in m["subject"] for m in mails) == [False, True]
    assert any(accepted["tracking_number"] in m["body"] for m in mails)
    webhooks = [h for h in hooks.requests if h["hook"] == t]
    assert sorted(h["payload"]["kind"] for h in webhooks) == ["received", "reply_issued"]
    assert len({h["idempotency_key"] for h in webhooks}) == 2
    # Each webhook is signed (Standard Webhooks) with the secret the applicant was given.
    verifier = Webhook(accepted["webhook_secret"])
    for h in webhooks:
        assert verifier.verify(h["body"], h["signature_headers"]) == h["payload"]
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + base64.b64encode(b"x" * 32).decode()).verify(webhooks[0]["body"],
                                                                       webhooks[0]["signature_headers"])

    # The audit timeline holds every event, each after its cause.
    types = [e["type"].removeprefix("cn.gongkai.").rsplit(".v", 1)[0] for e in all_events]
    assert types.count("application.received") == 1
    assert types.count("case.routed") == 1
    assert types.count("task.assigned") == 3
    # Each department's answer is recorded twice: the officer's draft, then the reviewer's sign-off.
    assert types.count("answer.recorded") == 6
    assert types.count("reply.issued") == 1
    assert types.count("notice.delivered") == 4
    assert types[0] == "application.received"
    position = {e["id"]: i for i, e in enumerate(all_events)}
    for i, event in enumerate(all_events):
        if event["causationid"] in position:
            assert position[event["causationid"]] < i, f"{event['type']} precedes its cause"
    reply_at = types.index("reply.issued")
    assert all(i < reply_at for i, ty in enumerate(types) if ty == "answer.recorded")
    # Replied: the clock stops, the case is no longer due (reply.issued read back by the clock).
    await eventually(lambda: _open_departments(client, case_id, None), 30, what="the replied case no longer due")
    await client.close()


async def _open_departments(client: Client, case_id: str, expected: set[str] | None):  # noqa: ANN202
    """True once ``GET /cases/due-soon`` lists the case with ``expected`` open (None: not listed)."""
    resp = await client.get("reply", "/cases/due-soon", params={"within": 20})
    assert resp.status_code == 200, resp.text
    case = next((c for c in resp.json()["cases"] if c["case_id"] == case_id), None)
    if expected is None:
        return True if case is None else None
    return True if case is not None and set(case["open_departments"]) == expected else None


async def _n(ok: bool) -> bool:
    return ok


async def _issued(stack, case_id):  # noqa: ANN001, ANN202
    found = await events_of(stack.cfg.kafka_bootstrap, topics.REPLIES_ISSUED.name, case_id)
    return found or None


async def _timeline_complete(client: Client, case_id: str):  # noqa: ANN202
    events = await client.timeline(case_id)
    notices = sum(e["type"].startswith("cn.gongkai.notice.delivered.") for e in events)
    return events if len(events) >= 16 and notices >= 4 else None


async def test_invalid_application_gets_field_messages(stack) -> None:
    client = Client(stack)
    resp = await client.http.post(client.url("intake", "/applications"), json={
        "applicant": {"name": "", "id_number": "110105194912310021"},
        "contact": {"phone": "12345"},
        "description": "短",
        "channel": "registered_mail",
    })
    assert resp.status_code == 422
    errors = {e["field"]: e["message"] for e in resp.json()["errors"]}
    assert "applicant.name" in errors and "至少" in errors["applicant.name"]
    assert "description" in errors
    assert any(field.startswith("contact") for field in errors)
    # A letter is entered by an OGI officer, never by the public form; a registered letter needs
    # the day the agency signed for it (Art. 31).
    body = application(tag())
    body.update(channel="registered_mail")
    resp = await client.http.post(client.url("intake", "/applications"), json=body)
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "channel"
    resp = await client.post("intake", "/clerk/applications", as_user=OGI, json=body)
    assert resp.status_code == 422
    assert resp.json()["errors"][0]["field"] == "signed_on"
    await client.close()


async def test_same_idempotency_key_gives_the_same_case(stack) -> None:
    client = Client(stack)
    body = application(tag(), departments=["fgw"])
    first = await client.submit(body, **{"Idempotency-Key": tag()})
    key = tag()
    a = await client.submit(body, **{"Idempotency-Key": key})
    b = await client.submit(body, **{"Idempotency-Key": key})
    assert a == b
    assert a["case_id"] != first["case_id"]
    routing = await client.routing(a["case_id"])
    assert [t["dept_code"] for t in routing["tasks"]] == ["fgw"]
    received = await events_of(stack.cfg.kafka_bootstrap, topics.APPLICATIONS_RECEIVED.name, a["case_id"])
    assert len(received) == 1
    await client.close()
