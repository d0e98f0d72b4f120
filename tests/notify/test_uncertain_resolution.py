"""Issue #12: the OGI office resolves an ``uncertain`` e-mail (killed between the end of data and
the recorded 250): ``sent`` makes it delivered (confirmed manually, with the same
``notice.delivered`` a confirmed 250 gives), ``resend`` makes the dispatcher send it again. The
pure change, the store on the real local store (one conditional write: two officers at once
resolve it once) and the HTTP API with officers' tokens."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import pytest_asyncio

from contracts import topics
from contracts.envelope import deterministic_id
from contracts.vocabulary import NoticeChannel
from services.notify.notices import (
    DONE,
    PENDING,
    NoticeNotFound,
    NotUncertain,
    Outcome,
    delivered_change,
    resolution_change,
)
from services.notify.senders import SmtpUncertain
from tests.notify import samples as s
from tests.notify.api_client import notify_api
from tests.tokens import bearer



OFFICER = {"by": "公开办经办人甲", "by_subject": "sub-ogi-1"}
AT = datetime(2026, 12, 3, 9, 30, tzinfo=UTC)


class BreaksAfterDot:
    """The conversation breaks after the end of data, once: the delivery becomes uncertain."""

    two_phase = True

    def __init__(self) -> None:
        self.calls = 0

    async def send(self, *, commit, **_: object) -> str:  # noqa: ANN001
        self.calls += 1
        await commit()
        raise SmtpUncertain("no reply to the end of data: SMTPServerDisconnected('Connection lost')")


def uncertain_notice(**delivery: object) -> dict:
    return {"_id": "n1", "case_id": "c1", "kind": "received", "audience": "applicant", "status": DONE,
            "cause_event_id": "e1", "deliveries": {"email": {
                "status": "uncertain", "attempts": 1, "to": "zhang@example.com", "uncertain_at": AT,
                "uncertain_reason": "the SMTP conversation broke after the end of data", "message_id": "<n1.email@x>",
                "claim": {"by": "notify-test", "token": "t", "phase": "committing"}, **delivery}}}


# ---------------------------------------------------------------------------------- the pure change


def test_sent_is_the_normal_delivered_change_plus_the_officers_confirmation():
    notice = uncertain_notice()
    change = resolution_change(notice, NoticeChannel.EMAIL, Outcome.SENT, OFFICER, "日志中查到 250 Q9", AT, "/src")
    assert change.set["deliveries.email.status"] == "delivered"
    assert change.set["deliveries.email.delivered_at"] == AT
    assert change.set["deliveries.email.confirmed_manually"] == {"by": "公开办经办人甲", "by_subject": "sub-ogi-1",
                                                                 "at": AT, "note": "日志中查到 250 Q9"}
    resolution = change.set["deliveries.email.resolution"]
    assert resolution["outcome"] == "sent" and resolution["uncertain_at"] == AT
    assert "deliveries.email.smtp_reply" not in change.set  # no reply was read
    # The same notice.delivered a confirmed 250 publishes (one code path, one event id).
    normal = delivered_change(notice, NoticeChannel.EMAIL, 1, AT, "/src", reply="250 ok")
    [record] = change.records
    assert record["topic"] == topics.NOTICES_DELIVERED.name
    event, usual = json.loads(record["value"]), json.loads(normal.records[0]["value"])
    assert {k: v for k, v in event.items() if k != "time"} == {k: v for k, v in usual.items() if k != "time"}
    assert event["id"] == deterministic_id("notice.delivered", "n1:email")
    assert event["data"]["notice_id"] == "n1:email" and event["data"]["channel"] == "email"


def test_resend_puts_it_back_to_pending_with_the_attempts_reset():
    change = resolution_change(uncertain_notice(), NoticeChannel.EMAIL, Outcome.RESEND, OFFICER, "", AT, "/src")
    assert change.set["deliveries.email.status"] == "pending" and change.set["deliveries.email.attempts"] == 0
    assert change.set["status"] == PENDING and change.set["next_at"] == AT  # due now
    assert change.set["deliveries.email.resolution"]["outcome"] == "resend"
    assert change.set["deliveries.email.resolution"]["by"] == "公开办经办人甲"
    assert "deliveries.email.claim" in change.unset and change.records == ()  # nothing told yet


def test_only_an_uncertain_delivery_is_resolved():
    for status in ("pending", "sending", "delivered", "failed", "refused"):
        with pytest.raises(NotUncertain) as caught:
            resolution_change(uncertain_notice(status=status), NoticeChannel.EMAIL, Outcome.SENT, OFFICER, "", AT, "/s")
        assert caught.value.status == status
    with pytest.raises(NoticeNotFound):
        resolution_change(None, NoticeChannel.EMAIL, Outcome.SENT, OFFICER, "", AT, "/s")
    with pytest.raises(NoticeNotFound):
        resolution_change(uncertain_notice(), NoticeChannel.WEBHOOK, Outcome.SENT, OFFICER, "", AT, "/s")


def test_an_officers_sent_serves_no_document():
    # The officer knows the message left (the mail server's log, the SMSC's records), not when it
    # reached the applicant: its notice.delivered names no document, so no date of service follows.
    attachment = {"document_id": "doc-1", "filename": "回执.pdf"}
    notice = {**uncertain_notice(attachment=attachment), "document_id": "doc-1"}
    normal = delivered_change(notice, NoticeChannel.EMAIL, 1, AT, "/src", reply="250 ok")
    assert json.loads(normal.records[0]["value"])["data"]["document_id"] == "doc-1"  # a 250 with the PDF serves
    change = resolution_change(notice, NoticeChannel.EMAIL, Outcome.SENT, OFFICER, "日志中查到 250", AT, "/src")
    [record] = change.records
    assert json.loads(record["value"])["data"]["document_id"] is None
    assert change.set["deliveries.email.confirmed_manually"]["by_subject"] == "sub-ogi-1"
    text = {**notice, "deliveries": {"sms": {**notice["deliveries"]["email"], "to": "13800138000"}}}
    [sms_record] = resolution_change(text, NoticeChannel.SMS, Outcome.SENT, OFFICER, "", AT, "/src").records
    assert json.loads(sms_record["value"])["data"]["document_id"] is None
    receipt = delivered_change(text, NoticeChannel.SMS, 1, AT, "/src")  # a DELIVRD receipt names it
    assert json.loads(receipt.records[0]["value"])["data"]["document_id"] == "doc-1"


# ------------------------------------------------------------------------------------- on the store


async def make_uncertain(env, case_id: str = "c1", email: str = "zhang@example.com") -> dict:  # noqa: ANN001
    smtp = env.dispatcher.smtp
    broken = BreaksAfterDot()
    env.dispatcher.smtp = broken
    await env.handlers.on_contact(s.ev(s.contact(case_id=case_id, email=email, webhook=None), "contact", case_id))
    await env.handlers.on_received(s.ev(s.received(case_id=case_id, number=f"YN-20261203-{case_id}"), "received",
                                        case_id))
    await env.drain()
    env.dispatcher.smtp = smtp
    [notice] = await env.notices(case_id)
    assert broken.calls == 1 and notice["deliveries"]["email"]["status"] == "uncertain" and notice["status"] == DONE
    return notice


async def test_the_list_shows_every_uncertain_delivery_newest_first(env):
    first = await make_uncertain(env, "c1", "zhang@example.com")
    await asyncio.sleep(0.01)
    second = await make_uncertain(env, "c2", "li@example.com")
    await env.handlers.on_contact(s.ev(s.contact(case_id="c3", webhook=None), "contact", "c3"))
    await env.handlers.on_received(s.ev(s.received(case_id="c3", number="YN-3"), "received", "c3"))
    await env.drain()  # delivered: not listed
    rows = await env.store.list_uncertain()
    assert [r["notice_id"] for r in rows] == [second["_id"], first["_id"]]
    row = rows[1]
    assert row["case_id"] == "c1" and row["tracking_number"] == "YN-20261203-c1" and row["kind"] == "received"
    assert row["channel"] == "email" and row["recipient"] == "zhang@example.com"
    assert row["subject"] == first["subject"] and "Connection lost" in row["uncertain_reason"]
    assert row["message_id"] == f"<{first['_id']}.email@gongkai.notify>" and row["uncertain_at"] is not None


async def test_resend_sends_it_again_once_and_records_who_resolved_it(env):
    notice = await make_uncertain(env)
    assert env.smtp.sent == []
    delivery = await env.store.resolve(notice["_id"], NoticeChannel.EMAIL, Outcome.RESEND, OFFICER, "日志中查不到",
                                       "/gongkai/notify")
    assert delivery["status"] == "pending" and delivery["attempts"] == 0 and "claim" not in delivery
    await env.drain()
    [sent] = env.smtp.sent
    assert sent["id"] == f"{notice['_id']}:email" and sent["to"] == "zhang@example.com"  # same Message-ID
    [after] = await env.notices()
    email = after["deliveries"]["email"]
    assert email["status"] == "delivered" and email["attempts"] == 1 and email["smtp_reply"].startswith("250")
    assert email["resolution"]["outcome"] == "resend" and email["resolution"]["by_subject"] == "sub-ogi-1"
    assert email["resolution"]["note"] == "日志中查不到" and "Connection lost" in email["resolution"]["uncertain_reason"]
    assert after["status"] == DONE and len(after["outbox"]) == 1  # its notice.delivered, now that it is known
    assert await env.store.list_uncertain() == []
    await env.drain()
    assert len(env.smtp.sent) == 1  # never a second copy


async def test_sent_makes_it_delivered_with_its_event_and_nothing_is_sent(env):
    notice = await make_uncertain(env)
    delivery = await env.store.resolve(notice["_id"], NoticeChannel.EMAIL, Outcome.SENT, OFFICER, "队列号 Q42",
                                       "/gongkai/notify")
    assert delivery["status"] == "delivered"
    assert delivery["confirmed_manually"]["by"] == "公开办经办人甲" and delivery["confirmed_manually"]["note"] == "队列号 Q42"
    await env.drain()
    assert env.smtp.sent == []
    [after] = await env.notices()
    [record] = after["outbox"]
    assert record["topic"] == topics.NOTICES_DELIVERED.name
    assert json.loads(record["value"])["data"]["notice_id"] == f"{notice['_id']}:email"
    assert notice["document_id"] and json.loads(record["value"])["data"]["document_id"] is None  # no 送达 from it
    with pytest.raises(NotUncertain) as caught:  # resolved once
        await env.store.resolve(notice["_id"], NoticeChannel.EMAIL, Outcome.RESEND, OFFICER, "", "/gongkai/notify")
    assert caught.value.status == "delivered"


async def test_two_officers_at_once_resolve_it_once(env):
    notice = await make_uncertain(env)
    other = {"by": "公开办经办人乙", "by_subject": "sub-ogi-2"}
    results = await asyncio.gather(
        env.store.resolve(notice["_id"], NoticeChannel.EMAIL, Outcome.SENT, OFFICER, "", "/gongkai/notify"),
        env.store.resolve(notice["_id"], NoticeChannel.EMAIL, Outcome.RESEND, other, "", "/gongkai/notify"),
        return_exceptions=True)
    assert sum(isinstance(r, NotUncertain) for r in results) == 1, results
    [after] = await env.notices()
    winner = after["deliveries"]["email"]["resolution"]
    assert winner["by_subject"] in ("sub-ogi-1", "sub-ogi-2")
    await env.drain()
    assert len(env.smtp.sent) == (1 if winner["outcome"] == "resend" else 0)
    assert len(after.get("outbox") or []) == (1 if winner["outcome"] == "sent" else 0)


async def test_unknown_notice_or_channel(env):
    with pytest.raises(NoticeNotFound):
        await env.store.resolve("no-such", NoticeChannel.EMAIL, Outcome.SENT, OFFICER, "", "/s")
    notice = await make_uncertain(env)
    with pytest.raises(NoticeNotFound):
        await env.store.resolve(notice["_id"], NoticeChannel.WEBHOOK, Outcome.SENT, OFFICER, "", "/s")


# ------------------------------------------------------------------------------------- the HTTP API


@pytest_asyncio.fixture
async def api(store, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator:  # noqa: ANN001
    async with notify_api(store, "unc_notify_" + request.node.name[:30], monkeypatch) as client:
        yield client


async def stored_uncertain(api, notice_id: str = "n1") -> None:  # noqa: ANN001
    store = api.app.state.store
    doc = uncertain_notice()
    doc["_id"] = notice_id
    await store.notices.insert_one({**doc, "subject": "政府信息公开申请已登记", "body": "……", "tracking_number": "YN-1",
                                    "created_at": AT, "next_at": AT, "rev": 0})


async def test_the_api_is_for_the_ogi_offices_officers(api) -> None:  # noqa: ANN001
    await stored_uncertain(api)
    path = "/notices/n1/deliveries/email/resolution"
    assert (await api.get("/notices/uncertain")).status_code == 401
    assert (await api.post(path, json={"outcome": "sent"})).status_code == 401
    for role in ("dept_officer", "dept_reviewer", "ogi_head", "auditor", "directory_admin"):
        headers = bearer(role, department="czt")
        assert (await api.get("/notices/uncertain", headers=headers)).status_code == 403, role
        assert (await api.post(path, json={"outcome": "sent"}, headers=headers)).status_code == 403, role
    listed = await api.get("/notices/uncertain", headers=bearer("ogi_officer"))
    assert listed.status_code == 200
    [row] = listed.json()["deliveries"]
    assert row["notice_id"] == "n1" and row["recipient"] == "zhang@example.com" and row["message_id"] == "<n1.email@x>"
    assert row["tracking_number"] == "YN-1" and row["subject"] == "政府信息公开申请已登记"


async def test_a_resolution_is_validated_and_refused_unless_uncertain(api) -> None:  # noqa: ANN001
    await stored_uncertain(api)
    headers = bearer("ogi_officer", name="公开办经办人甲", sub="sub-ogi-1")
    path = "/notices/n1/deliveries/email/resolution"
    bad = await api.post(path, json={"outcome": "maybe", "note": 5, "extra": 1}, headers=headers)
    assert bad.status_code == 422
    fields = {e["field"]: e["message"] for e in bad.json()["errors"]}
    assert fields["outcome"].startswith("取值无效") and fields["note"] == "应为文本" and fields["extra"] == "不接受此字段"
    missing = await api.post(path, json={}, headers=headers)
    assert missing.status_code == 422 and missing.json()["errors"][0] == {"field": "outcome", "message": "此项为必填项",
                                                                         "type": "missing"}
    assert (await api.post("/notices/nope/deliveries/email/resolution", json={"outcome": "sent"},
                           headers=headers)).status_code == 404
    assert (await api.post("/notices/n1/deliveries/fax/resolution", json={"outcome": "sent"},
                           headers=headers)).status_code == 404
    done = await api.post(path, json={"outcome": "sent", "note": "  查到 250  "}, headers=headers)
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["status"] == "delivered" and body["confirmed_manually"]["by"] == "公开办经办人甲"
    assert body["confirmed_manually"]["note"] == "查到 250"
    again = await api.post(path, json={"outcome": "resend"}, headers=headers)
    assert again.status_code == 409 and "已送达" in again.json()["detail"]
    assert (await api.get("/notices/uncertain", headers=headers)).json()["deliveries"] == []


async def test_the_gauge_counts_the_deliveries_left_uncertain(env):
    from services.notify.notices import UNCERTAIN_DELIVERIES

    assert await env.store.count_uncertain() == 0 and UNCERTAIN_DELIVERIES._value.get() == 0
    first = await make_uncertain(env, "c1", "zhang@example.com")
    await make_uncertain(env, "c2", "li@example.com")
    assert await env.store.count_uncertain() == 2 and UNCERTAIN_DELIVERIES._value.get() == 2
    await env.store.resolve(first["_id"], NoticeChannel.EMAIL, Outcome.SENT, OFFICER, "", "/gongkai/notify")
    assert await env.store.count_uncertain() == 1 and UNCERTAIN_DELIVERIES._value.get() == 1
