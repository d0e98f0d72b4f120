"""A service killed with SIGKILL in the middle of cases and restarted: every case still finishes
with exactly one reply and exactly one notice per step and channel; nothing lost, nothing that a
person would see duplicated."""

from __future__ import annotations

import asyncio
import random
import signal
from collections import Counter
from datetime import UTC, datetime

import pytest

from contracts import topics
from contracts.envelope import deterministic_id, encode, kafka_headers, new_event
from contracts.events import Answer, AnswerSubmitted, ConfidentialityReview
from tests.e2e.helpers import Client, application, eventually, events_of, mails_for, produce, tag

pytestmark = pytest.mark.e2e

DEPTS = ["zjt", "slt", "nynct"]
REVIEWED_AT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
CASES = 4


async def _submit_cases(client: Client, hooks) -> list[tuple[str, dict]]:  # noqa: ANN001
    out = []
    for _ in range(CASES):
        t = tag()
        out.append((t, await client.submit(application(t, departments=DEPTS, webhook=f"{hooks.url}/hooks/{t}"))))
    return out


async def _answer(client: Client, case_id: str, depts: list[str]) -> None:
    for dept in depts:
        task = await client.wait_task_open(case_id, dept, timeout=90)
        resp = await client.answer(task["task_id"], dept, text=f"{dept} 对本案的答复")
        assert resp.status_code in (200, 201), resp.text


async def _publish_answer(bootstrap: str, case_id: str, dept: str) -> None:
    task_id = deterministic_id("task", case_id, dept)
    event = new_event(
        AnswerSubmitted(case_id=case_id, task_id=task_id, dept_code=dept,
                        answer=Answer(reply_type="disclosed", text=f"{dept} 对本案的答复"),
                        review=ConfidentialityReview(reviewer="保密审查员（测试）", reviewed_at=REVIEWED_AT)),
        source=f"/integrator/{dept}", subject=case_id, event_id=deterministic_id("integrator-answer", task_id))
    headers = [(k, v.encode()) for k, v in kafka_headers(event).items()]
    # The department's own system, with its own Kafka principal, on its own answers topic.
    await produce(bootstrap, topics.department_answers(dept).name, encode(event), key=case_id.encode(),
                  headers=headers, principal=f"dept-{dept}")


async def _assert_each_case_once(stack, client: Client, mail, hooks, cases,  # noqa: ANN001
                                 allowed_webhook_redeliveries: int = 0) -> None:
    bootstrap = stack.cfg.kafka_bootstrap
    for t, accepted in cases:
        case_id = accepted["case_id"]
        reply = await client.reply(case_id, timeout=90)
        for dept in DEPTS:
            assert f"{dept} 对本案的答复" in reply["reply"]["document"]
        issued = await eventually(lambda c=case_id: _events(bootstrap, topics.REPLIES_ISSUED.name, c), 60,
                                  what="reply.issued on the topic")
        assert len({e["id"] for e in issued}) == 1, "one reply per case"
        routing = await client.routing(case_id)
        assert sorted(task["dept_code"] for task in routing["tasks"]) == sorted(DEPTS)
        for dept in DEPTS:
            tasks = await events_of(bootstrap, topics.department_inbox(dept).name, case_id)
            assert len({e["id"] for e in tasks}) == 1, f"one task for {dept}"
        address = f"{t}@example.com"
        await eventually(lambda a=address: _ge(len(mails_for(mail, a)), 2), 60, what=f"two e-mails to {address}")
        await eventually(lambda t=t: _ge(len([h for h in hooks.requests if h["hook"] == t]), 2), 60,
                         what=f"two webhooks for {t}")
    await asyncio.sleep(3)  # room for any duplicate to show up before counting
    mail_redelivered = webhook_redelivered = 0
    for t, _ in cases:
        mails = mails_for(mail, f"{t}@example.com")
        webhooks = [h for h in hooks.requests if h["hook"] == t]
        # One notice per step and channel, as the applicant's mailbox / the receiver sees them
        # (by Message-ID / Idempotency-Key) ...
        subjects = Counter("已登记" in m["subject"] for m in {m["message_id"]: m for m in mails}.values())
        assert subjects == Counter({True: 1, False: 1}), subjects
        kinds = Counter(h["payload"]["kind"] for h in {h["idempotency_key"]: h for h in webhooks}.values())
        assert kinds == Counter({"received": 1, "reply_issued": 1}), kinds
        mail_redelivered += len(mails) - 2
        webhook_redelivered += len(webhooks) - 2
    # ... and on the wire: no e-mail is ever sent twice, not even when notify itself is killed
    # (a delivery is claimed in the store, and an e-mail is never sent again once the server may
    # have it: services/notify/notices.py); a webhook only when notify is killed with one in
    # flight (the dispatcher sends one at a time), resent with the same Idempotency-Key.
    assert mail_redelivered == 0, mail_redelivered
    assert webhook_redelivered <= allowed_webhook_redeliveries, webhook_redelivered


async def _events(bootstrap: str, topic: str, case_id: str) -> list | None:
    return await events_of(bootstrap, topic, case_id) or None


async def _ge(n: int, m: int) -> bool:
    return n >= m


async def test_routing_killed_mid_case(stack, mail, hooks) -> None:
    client = Client(stack)
    cases = await _submit_cases(client, hooks)
    stack.kill("routing")  # while it is routing the burst
    await asyncio.sleep(1)
    stack.start("routing")
    stack.wait_healthy("routing")
    for _, accepted in cases:
        await _answer(client, accepted["case_id"], DEPTS)
    await _assert_each_case_once(stack, client, mail, hooks, cases)
    await client.close()


async def test_reply_killed_mid_case(stack, mail, hooks) -> None:
    client = Client(stack)
    cases = await _submit_cases(client, hooks)
    for _, accepted in cases:
        await _answer(client, accepted["case_id"], DEPTS[:2])
    # The last answers arrive on the topic; the reply service dies while taking them in.
    for _, accepted in cases[:2]:
        await _publish_answer(stack.cfg.kafka_bootstrap, accepted["case_id"], DEPTS[2])
    stack.kill("reply")
    for _, accepted in cases[2:]:
        await _publish_answer(stack.cfg.kafka_bootstrap, accepted["case_id"], DEPTS[2])
    await asyncio.sleep(1)
    stack.start("reply")
    stack.wait_healthy("reply")
    await _assert_each_case_once(stack, client, mail, hooks, cases)
    await client.close()


async def test_notify_killed_mid_case(stack, mail, hooks) -> None:
    client = Client(stack)
    cases = await _submit_cases(client, hooks)
    await eventually(lambda: _ge(len(mails_for(mail, f"{cases[0][0]}@example.com")), 1), 60, what="first notice")
    stack.kill("notify")  # while the burst of notices is going out
    for _, accepted in cases:
        await _answer(client, accepted["case_id"], DEPTS)
    await asyncio.sleep(1)
    stack.start("notify")
    stack.wait_healthy("notify")
    await _assert_each_case_once(stack, client, mail, hooks, cases, allowed_webhook_redeliveries=1)
    await client.close()


async def _notify_down(stack) -> bool:  # noqa: ANN001
    return stack.pid("notify") is None


@pytest.mark.parametrize("point", ["notify.before_commit", "notify.after_send"])
async def test_notify_killed_between_claim_and_confirmation_leaves_one_copy(stack, mail, hooks, point) -> None:
    """Issue #16: notify killed exactly between the claim of an e-mail and its confirmation — with
    the whole message at the server but not its end of data (``before_commit``), or just after the
    server's 250 (``after_send``) — and restarted: the mailbox holds exactly one copy."""
    client = Client(stack)
    t = tag()
    address = f"{t}@example.com"
    stack.cfg.extra_env["GONGKAI_FAULT"] = f"{point}:kill@{t}@"  # this test's applicant only
    try:
        stack.stop("notify")
        stack.start("notify")
        stack.wait_healthy("notify")
        accepted = await client.submit(application(t, webhook=f"{hooks.url}/hooks/{t}"))
        await eventually(lambda: _notify_down(stack), 60, what=f"notify killed at {point}")
    finally:
        stack.cfg.extra_env.pop("GONGKAI_FAULT", None)
    stack.start("notify")
    stack.wait_healthy("notify")
    case_id = accepted["case_id"]

    async def settled() -> dict | None:
        resp = await client.get("notify", f"/cases/{case_id}/notices")
        notices = resp.json()["notices"] if resp.status_code == 200 else []
        received = next((n for n in notices if n["kind"] == "received"), None)
        return received if received and received["status"] == "done" else None
    received = await eventually(settled, 60, what="the registration notice settled after the restart")
    await eventually(lambda: _ge(len([h for h in hooks.requests if h["hook"] == t]), 1), 60, what="its webhook")
    await asyncio.sleep(3)  # several dispatch polls: room for a copy to show up
    mails = mails_for(mail, address)
    assert len(mails) == 1, [m["subject"] for m in mails]
    assert "已登记" in mails[0]["subject"]
    email = received["deliveries"]["email"]
    if point == "notify.before_commit":  # the server discarded the unfinished message: sent again, once
        assert email["status"] == "delivered" and email["attempts"] == 2, email
        assert email["smtp_reply"].startswith("250"), email
    else:  # the server took it: not sent again; officers see it as uncertain, with the Message-ID
        assert email["status"] == "uncertain" and email["attempts"] == 1, email
        assert email["message_id"] == mails[0]["message_id"], (email, mails[0]["message_id"])
    assert len([h for h in hooks.requests if h["hook"] == t]) == 1  # the webhook: not in flight, sent once
    await client.close()


# -- text messages (issue #17): the same promise on the SMS channel --------------------------------

STEP_WORDS = {"received": "已登记", "reply_issued": "已作出答复"}  # the step as each text names it
MAIL_WORDS = {"received": "已登记", "reply_issued": "已答复"}  # ... and each e-mail's subject


def _mobile() -> str:
    return "139" + "".join(random.choice("0123456789") for _ in range(8))


def _sms_application(t: str, phone: str, depts: list[str]) -> dict:
    body = application(t, departments=depts)
    body["contact"] = {"phone": phone, "email": f"{t}@example.com", "notify_by": ["sms"]}
    return body


def _step_of(text: str) -> str:
    steps = [kind for kind, word in STEP_WORDS.items() if word in text]
    assert len(steps) == 1, text
    return steps[0]


async def _applicant_deliveries(client: Client, case_id: str, channel: str) -> dict[str, dict]:
    """The case's applicant notices' deliveries on ``channel``, by notice kind."""
    resp = await client.get("notify", f"/cases/{case_id}/notices")
    notices = resp.json()["notices"] if resp.status_code == 200 else []
    return {n["kind"]: {**n["deliveries"][channel], "notice_id": n["notice_id"]} for n in notices
            if n["audience"] == "applicant" and channel in n["deliveries"]}


async def _settled(client: Client, case_id: str, channel: str, final: tuple[str, ...]) -> dict | None:
    got = await _applicant_deliveries(client, case_id, channel)
    return got if set(got) == set(STEP_WORDS) and all(d["status"] in final for d in got.values()) else None


async def _uncertain_rows(client: Client) -> list[dict]:
    resp = await client.get("notify", "/notices/uncertain")
    assert resp.status_code == 200, resp.text
    return resp.json()["deliveries"]


async def _texts_arrived(smsc, phones: list[str], word: str) -> bool:  # noqa: ANN001
    return any(word in m["text"] for p in phones for m in smsc.messages(destination=p))


async def test_notify_killed_mid_case_sends_each_text_once(stack, mail, smsc) -> None:  # noqa: PLR0915
    """Issue #17: notify SIGKILLed twice while texts go out — in the burst of registration texts and
    in that of the reply texts — for applicants who chose SMS (and two who chose e-mail), restarted
    each time: every applicant has one text per step at the SMSC, whole, in step order, the one
    notify recorded (its message ids); a delivery the kill caught between the commit and its record
    is ``uncertain`` (listed for the OGI office) with at most one copy at the SMSC (whole, or — killed
    between two parts — its first parts); never two."""
    client = Client(stack)
    dept = DEPTS[:1]
    sms_cases = [(t, _mobile()) for t in (tag() for _ in range(4))]
    email_cases = [(t, _mobile()) for t in (tag() for _ in range(2))]
    accepted: dict[str, dict] = {}
    for (t, phone), (et, ephone) in zip(sms_cases, [*email_cases, *[(None, None)] * 2], strict=True):
        accepted[t] = await client.submit(_sms_application(t, phone, dept))
        if et is not None:  # e-mail chosen; a mobile on file, but no text for it
            body = _sms_application(et, ephone, dept)
            body["contact"]["notify_by"] = ["email"]
            accepted[et] = await client.submit(body)
    phones = [p for _, p in sms_cases]
    await eventually(lambda: _texts_arrived(smsc, phones, STEP_WORDS["received"]), 60, what="a first text")
    stack.kill("notify")  # while the registration texts are going out
    await asyncio.sleep(1)
    stack.start("notify")
    stack.wait_healthy("notify")
    for t in accepted:
        await _answer(client, accepted[t]["case_id"], dept)
    await eventually(lambda: _texts_arrived(smsc, phones, STEP_WORDS["reply_issued"]), 90, what="a first reply text")
    stack.kill("notify")  # while the reply texts are going out
    await asyncio.sleep(1)
    stack.start("notify")
    stack.wait_healthy("notify")

    final = ("delivered", "uncertain")
    settled = {}
    for t, _ in [*sms_cases, *email_cases]:
        channel = "sms" if any(t == s for s, _ in sms_cases) else "email"
        settled[t] = await eventually(lambda c=accepted[t]["case_id"], ch=channel: _settled(client, c, ch, final),
                                      90, what=f"the {channel} deliveries of {t} final")
    await asyncio.sleep(3)  # several dispatch polls: room for a copy to show up
    uncertain = {(r["notice_id"], r["channel"]) for r in await _uncertain_rows(client)}
    counts: Counter[str] = Counter()
    for t, phone in sms_cases:
        texts = smsc.messages(destination=phone)
        steps = [_step_of(m["text"]) for m in texts]
        assert all(n == 1 for n in Counter(steps).values()), (t, [m["text"] for m in texts])  # never two
        assert steps == [k for k in STEP_WORDS if k in steps], steps  # in the order of the steps
        for kind, delivery in settled[t].items():
            counts[delivery["status"]] += 1
            got = [m for m in texts if _step_of(m["text"]) == kind]
            assert all(accepted[t]["tracking_number"] in m["text"] for m in got)
            # The parts of one submission, in order, none twice (a kill between two parts leaves
            # the first ones only).
            assert all([q["udh"]["seq"] for q in m["parts"]] == list(range(1, len(m["parts"]) + 1))
                       for m in got if m["parts"][0].get("udh")), got
            if delivery["status"] == "delivered":
                assert len(got) == 1 and got[0]["complete"], (t, kind, delivery, got)  # whole: every part, once
                assert [p["message_id"] for p in delivery["parts"]] == got[0]["message_ids"], (delivery, got)
            else:  # killed between the commit and the record: the office sees it; at most the one copy
                assert len(got) <= 1, (t, kind, got)
                assert (delivery["notice_id"], "sms") in uncertain, delivery
                counts["uncertain, at the SMSC " + ("whole" if got and got[0]["complete"] else
                                                     "in part" if got else "not")] += 1
        assert mails_for(mail, f"{t}@example.com") == []  # the applicant chose text messages only
    for t, phone in email_cases:
        mails = mails_for(mail, f"{t}@example.com")
        assert len(mails) == len({m["message_id"] for m in mails}), mails  # never sent twice
        for kind, delivery in settled[t].items():
            got = [m for m in mails if MAIL_WORDS[kind] in m["subject"]]
            assert len(got) == 1 if delivery["status"] == "delivered" else len(got) <= 1, (t, kind, delivery)
        assert smsc.messages(destination=phone) == []  # the applicant chose e-mail
    assert counts["delivered"] + counts["uncertain"] == 2 * len(sms_cases), counts
    print(f"texts after two kills: {dict(counts)}")
    await client.close()


@pytest.mark.parametrize("point", ["notify.before_commit", "notify.after_send"])
async def test_notify_killed_around_the_smsc_leaves_one_text(stack, smsc, point) -> None:
    """Issue #17: notify SIGKILLed exactly at a text's fault point and restarted. ``before_commit``:
    claimed, nothing submitted — the text is sent after the restart, once. ``after_send``: the SMSC
    accepted every part, their message ids not recorded — ``uncertain`` (listed for the OGI office),
    the SMSC holds exactly one copy and no second is sent; the office's resolution ``sent`` makes it
    delivered, with no new text."""
    client = Client(stack)
    t, phone = tag(), _mobile()
    stack.cfg.extra_env["GONGKAI_FAULT"] = f"{point}:kill@{phone}"  # this test's applicant only
    try:
        stack.stop("notify")
        stack.start("notify")
        stack.wait_healthy("notify")
        accepted = await client.submit(_sms_application(t, phone, DEPTS[:1]))
        await eventually(lambda: _notify_down(stack), 60, what=f"notify killed at {point}")
    finally:
        stack.cfg.extra_env.pop("GONGKAI_FAULT", None)
    at_kill = smsc.messages(destination=phone)
    stack.start("notify")
    stack.wait_healthy("notify")
    case_id = accepted["case_id"]

    async def received(*statuses: str) -> dict | None:
        sms = (await _applicant_deliveries(client, case_id, "sms")).get("received")
        return sms if sms and sms["status"] in statuses else None

    def texts() -> list[dict]:
        return smsc.messages(destination=phone)

    if point == "notify.before_commit":  # nothing left: sent after the restart, once
        assert at_kill == [], at_kill
        sms = await eventually(lambda: received("delivered"), 60, what="the text delivered after the restart")
        await asyncio.sleep(3)  # several dispatch polls: room for a copy to show up
        [text] = texts()
        assert text["complete"] and "已登记" in text["text"] and accepted["tracking_number"] in text["text"]
        assert sms["attempts"] == 2, sms
        assert [p["message_id"] for p in sms["parts"]] == text["message_ids"], (sms, text)
        assert all(r["recipient"] != phone for r in await _uncertain_rows(client))
        await client.close()
        return

    # after_send: the SMSC took every part before the kill; notify cannot know it.
    [text] = at_kill
    assert text["complete"] and "已登记" in text["text"], text
    sms = await eventually(lambda: received("uncertain"), 60, what="the text uncertain after the restart")
    assert sms["attempts"] == 1 and sms["uncertain_reason"], sms
    await asyncio.sleep(3)  # several dispatch polls: nothing is sent again by itself
    assert texts() == at_kill, [m["text"] for m in texts()]
    assert (await received("uncertain")) is not None
    [row] = [r for r in await _uncertain_rows(client) if r["notice_id"] == sms["notice_id"]]
    assert row["channel"] == "sms" and row["recipient"] == phone and row["case_id"] == case_id, row

    path = f"/notices/{sms['notice_id']}/deliveries/sms/resolution"
    resolved = await client.post("notify", path, json={"outcome": "sent", "note": "短信中心记录显示已提交"})
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["status"] == "delivered" and resolved.json()["confirmed_manually"], resolved.json()
    sms = await eventually(lambda: received("delivered"), 30, what="the text recorded delivered")
    assert sms["resolution"]["outcome"] == "sent", sms
    await asyncio.sleep(3)
    assert texts() == at_kill, [m["text"] for m in texts()]  # no new text
    assert all(r["notice_id"] != sms["notice_id"] for r in await _uncertain_rows(client))
    again = await client.post("notify", path, json={"outcome": "resend"})
    assert again.status_code == 409, again.text  # resolved once; nothing to send again
    await asyncio.sleep(2)
    assert texts() == at_kill
    await client.close()


async def test_sigterm_shuts_down_gracefully(stack) -> None:
    """SIGTERM: the service stops consuming, closes broker and store connections, logs it, exits."""
    log = stack.log_path("audit")
    before = log.read_text(errors="replace").count('"event": "service_stopped"')
    pid = stack.pid("audit")
    assert pid
    stack.signal("audit", signal.SIGTERM)
    for _ in range(150):
        if not stack.pid("audit"):
            break
        await asyncio.sleep(0.1)
    assert not stack.pid("audit"), "audit did not exit within 15 s of SIGTERM"
    assert log.read_text(errors="replace").count('"event": "service_stopped"') == before + 1
    stack.start("audit")
    stack.wait_healthy("audit")
