"""Texts (issue #17) on the real local store and the real local SMSC (deploy/local/smsc/, an SMPP
3.4 server): the applicant's choice of channels, one text per step split and joined correctly,
delivery receipts (also after a restart), the claim-commit rule after a crash (uncertain, never a
second text), the OGI office's resolution per channel, quiet hours, and an undeliverable number."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio

from contracts.events import ContactRegistered
from contracts.vocabulary import NoticeChannel
from deploy.local.smsc import Smsc
from services.notify.messages import sms_text
from services.notify.notices import Dispatcher, Outcome
from services.notify.quiet import CHINA
from services.notify.sms import SmppSender, SmsUncertain
from tests.notify import samples as s

pytestmark = pytest.mark.asyncio

PHONE = "138 0013 8000"
MOBILE = "13800138000"
SENDER = "10690042"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Killed(BaseException):
    """Stands for SIGKILL: nothing of the dispatcher runs after it."""


def start_smsc(directory: Path, **options: object) -> Smsc:
    return Smsc(directory=directory, port=free_port(), **options).start()


@pytest.fixture
def smsc(tmp_path: Path):
    center = start_smsc(tmp_path / "smsc")
    yield center
    center.stop()


async def bound_sender(center: Smsc, dispatcher: Dispatcher) -> SmppSender:
    sender = SmppSender(center.host, center.port, center.system_id, center.password, timeout=5)
    sender.start(dispatcher.on_receipt)
    dispatcher.sms = sender
    await asyncio.to_thread(sender.bound.wait, 5)
    assert sender.bound.is_set(), sender.last_error
    return sender


@pytest_asyncio.fixture
async def sms(env, smsc) -> AsyncIterator[SmppSender]:  # noqa: ANN001
    env.dispatcher.settings = env.settings.model_copy(update={"sms_sender_ids": {"yn-gov-office": SENDER}})
    sender = await bound_sender(smsc, env.dispatcher)
    yield sender
    await sender.close()


def contact(notify_by: list[str] | None, phone: str | None = PHONE, email: str | None = "zhang@example.com",
            webhook: str | None = None) -> ContactRegistered:
    return ContactRegistered(case_id="c1", applicant_ref="app-1", name="张三", email=email, phone=phone,
                             notify_by=None if notify_by is None else [NoticeChannel(c) for c in notify_by],
                             webhook_url=webhook, webhook_secret=s.WEBHOOK_SECRET if webhook else None)


async def registered(env, notify_by: list[str] | None, **kw: object) -> None:  # noqa: ANN001
    await env.handlers.on_contact(s.ev(contact(notify_by, **kw), "contact"))
    await env.handlers.on_received(s.ev(s.received(), "received"))


async def until(predicate, timeout: float = 10.0):  # noqa: ANN001, ANN201
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        got = await predicate()
        if got:
            return got
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.05)


async def sms_delivery(env, kind: str = "received") -> dict:  # noqa: ANN001
    notice = next(d for d in await env.notices() if d["kind"] == kind)
    return notice["deliveries"]["sms"]


async def delivered(env, kind: str = "received", status: str = "delivered"):  # noqa: ANN001, ANN201
    async def check():  # noqa: ANN202
        d = await sms_delivery(env, kind)
        return d if d["status"] == status else None

    return await until(check)


async def test_a_notice_by_sms_is_one_text_split_in_order_and_delivered_on_its_receipts(env, sms, smsc):
    await registered(env, ["sms"])
    await env.drain()
    notice = (await env.notices())[0]
    assert set(notice["deliveries"]) == {"sms"}  # e-mail not chosen: none, though an address is known
    assert env.smtp.sent == []
    [text] = smsc.messages()
    expected = sms_text("received", s.NUMBER, env.settings.status_url)
    assert text["complete"] and text["text"] == expected and len(text["parts"]) == 2
    assert text["destination"] == MOBILE and text["source"] == SENDER  # the agency's sender id
    assert [(p["udh"]["total"], p["udh"]["seq"]) for p in text["parts"]] == [(2, 1), (2, 2)]
    assert all(p["data_coding"] == 8 and p["esm_class"] == 0x40 and p["registered_delivery"] == 1
               for p in text["parts"])
    assert [p["message_id"] for p in smsc.submits] == text["message_ids"]  # sent in order: part 1, then 2
    # the receipts come in: delivered, at the receipt's done time, with its notice.delivered v2
    d = await delivered(env)
    assert [p["message_id"] for p in d["parts"]] == text["message_ids"]
    assert all(p["stat"] == "DELIVRD" for p in d["parts"])
    assert d["delivered_at"] <= datetime.now(UTC) and d["delivered_at"] > datetime.now(UTC) - timedelta(minutes=2)
    assert d["delivered_at"].second == 0  # the receipt's YYMMDDhhmm, not our clock
    notice = (await env.notices())[0]
    [record] = notice["outbox"]
    assert record["headers"]["ce_type"] == "cn.gongkai.notice.delivered.v2"
    event = json.loads(record["value"])
    assert event["data"]["channel"] == "sms" and event["data"]["notice_id"] == f"{notice['_id']}:sms"
    assert event["data"]["document_id"] == notice["document_id"] and notice["document_id"]
    receipts = {r["_id"] async for r in env.store.receipts.find({})}
    assert receipts == set(text["message_ids"])  # recorded per message id
    await env.drain()
    assert len(smsc.submits) == 2  # nothing more sent


async def test_each_step_is_one_text_in_the_order_of_the_steps(env, sms, smsc):
    await env.handlers.on_contact(s.ev(contact(["sms", "email"]), "contact"))
    # the reply is consumed before the registration: the texts still go in the order of the steps
    await env.handlers.on_reply(s.ev(s.reply(), "reply"))
    await env.handlers.on_received(s.ev(s.received(), "received"))
    await env.drain()
    texts = smsc.messages()
    assert [t["text"] for t in texts] == [sms_text("received", s.NUMBER, env.settings.status_url),
                                          sms_text("reply_issued", s.NUMBER, env.settings.status_url)]
    assert all(t["complete"] for t in texts)
    assert len(env.smtp.sent) == 2  # e-mail chosen too
    await delivered(env, "reply_issued")
    assert len(smsc.messages()) == 2


async def test_which_channels_a_contact_gets(env, sms, smsc):
    # no choice recorded (registered before it existed): e-mail, as before; never a text
    await registered(env, None)
    await env.drain()
    assert set((await env.notices())[0]["deliveries"]) == {"email"}
    assert smsc.submits == []


async def test_a_landline_gets_no_text(env, sms, smsc):
    await registered(env, ["sms", "email"], phone="0871-12345678")
    await env.drain()
    assert set((await env.notices())[0]["deliveries"]) == {"email"}
    assert smsc.submits == []


async def test_an_undeliverable_number_makes_the_text_failed_with_the_reason(env, sms, smsc):
    smsc.fail(MOBILE)
    await registered(env, ["sms"])
    await env.drain()
    d = await delivered(env, status="failed")
    assert "UNDELIV" in d["failed_reason"]
    assert len(smsc.messages()) == 1
    assert (await env.notices())[0].get("outbox", []) == []  # not delivered: no notice.delivered


async def test_killed_after_the_smsc_took_the_text_it_is_uncertain_and_never_sent_again(env, sms, smsc):
    class DyingSms:
        """The real sender; the process dies right after the SMSC accepted every part."""

        two_phase = True

        async def send(self, **kw: object) -> list[str]:
            await sms.send(**kw)
            raise Killed

    env.dispatcher.sms = DyingSms()
    await registered(env, ["sms"])
    with pytest.raises(Killed):
        await env.dispatcher.run_once()
    assert len(smsc.messages()) == 1
    d = await sms_delivery(env)
    assert d["status"] == "sending" and d["claim"]["phase"] == "committing"
    restarted = env.restarted()
    restarted.sms = sms
    while await restarted.run_once():
        pass
    d = await sms_delivery(env)
    assert d["status"] == "uncertain" and "before the SMSC's answers were recorded" in d["uncertain_reason"]
    await asyncio.sleep(0.5)  # its receipts come, and change nothing
    while await restarted.run_once():
        pass
    assert len(smsc.messages()) == 1  # one text, never two
    assert (await sms_delivery(env))["status"] == "uncertain"
    notice = (await env.notices())[0]
    assert notice["status"] == "done" and notice.get("outbox", []) == []
    # the OGI office lists it and resolves it per channel (here: it never arrived, send it again)
    [row] = [r for r in await env.store.list_uncertain() if r["channel"] == "sms"]
    assert row["recipient"] == MOBILE
    officer = {"by": "王科员", "by_subject": "ogi-1"}
    after = await env.store.resolve(notice["_id"], NoticeChannel.SMS, Outcome.RESEND, officer, "回执未到", "/test")
    assert after["status"] == "pending"
    while await restarted.run_once():
        pass
    assert len(smsc.messages()) == 2
    await delivered(env)


async def test_an_answer_that_breaks_off_after_the_first_part_left_is_uncertain(env, smsc):
    class Breaks:
        two_phase = True
        sent = 0

        async def send(self, *, commit, **_: object) -> list[str]:  # noqa: ANN001
            await commit()
            Breaks.sent += 1
            raise SmsUncertain("no submit_sm_resp for part 2", ["m1"])

    env.dispatcher.sms = Breaks()
    await registered(env, ["sms"])
    for _ in range(3):
        await env.drain()
    d = await sms_delivery(env)
    assert Breaks.sent == 1 and d["status"] == "uncertain" and [p["message_id"] for p in d["parts"]] == ["m1"]


async def test_an_smsc_that_cannot_be_reached_is_retried_with_backoff(env, tmp_path):
    port = free_port()
    center = Smsc(directory=tmp_path / "late", port=port)
    sender = SmppSender("127.0.0.1", port, center.system_id, center.password, timeout=1)
    sender.start(env.dispatcher.on_receipt)
    env.dispatcher.sms = sender
    env.dispatcher.settings = env.settings.model_copy(update={"backoff_base_seconds": 60.0,
                                                              "backoff_max_seconds": 60.0})
    try:
        await registered(env, ["sms"])
        await env.drain()
        d = await sms_delivery(env)
        assert d["status"] == "pending" and "SmsNotSent" in d["last_error"] and d["attempts"] == 1
        assert d["retry_at"] > datetime.now(UTC) + timedelta(seconds=50)  # the backoff
        center.start()
        await asyncio.to_thread(sender.bound.wait, 15)
        await env.store.notices.update_many({}, {"$set": {"next_at": datetime.now(UTC),
                                                          "deliveries.sms.retry_at": datetime.now(UTC)}})
        await until(lambda: _drained_to(env, "submitted", "delivered"), timeout=20)
        assert len(center.messages()) == 1
        assert (await sms_delivery(env))["attempts"] == 2
    finally:
        await sender.close()
        center.stop()


async def _drained_to(env, *statuses: str) -> bool:  # noqa: ANN001
    await env.dispatcher.run_once()
    return (await sms_delivery(env))["status"] in statuses


async def test_receipts_that_come_while_notify_is_down_are_recorded_after_the_restart(env, tmp_path):
    center = start_smsc(tmp_path / "slow", receipt_delay_ms=1500)
    try:
        sender = await bound_sender(center, env.dispatcher)
        await registered(env, ["sms"])
        await env.drain()
        assert (await sms_delivery(env))["status"] == "submitted"
        await sender.close()  # notify stops before the receipts come
        await asyncio.sleep(2.0)
        assert (await sms_delivery(env))["status"] == "submitted" and center.receipts == []
        restarted = env.restarted()
        again = await bound_sender(center, restarted)  # the SMSC delivers what it queued at the bind
        try:
            d = await delivered(env)
            assert all(p["stat"] == "DELIVRD" for p in d["parts"])
            # each receipt acknowledged once recorded (the SMSC logs it on the acknowledgement)
            await asyncio.to_thread(center.wait_for, lambda c: len(c.receipts) == 2, 5, "both receipts acknowledged")
            assert len(center.messages()) == 1
        finally:
            await again.close()
    finally:
        center.stop()


async def test_inside_the_quiet_hours_a_text_is_held_until_they_end(env, sms, smsc):
    local = datetime.now(CHINA)
    window = f"{(local - timedelta(hours=1)):%H:%M}-{(local + timedelta(hours=1)):%H:%M}"
    env.dispatcher = Dispatcher(env.store, env.settings.model_copy(update={"sms_quiet_hours": window}), env.smtp,
                                env.webhook, lambda: None, owner="notify-test", sms=sms)
    await registered(env, ["sms", "email"])
    await env.drain()
    assert smsc.submits == []  # no text at night
    assert len(env.smtp.sent) == 1  # e-mail is not held
    d = await sms_delivery(env)
    end = (local + timedelta(hours=1)).replace(second=0, microsecond=0)
    assert d["status"] == "pending" and d["quiet_until"] == end.astimezone(UTC)
    shown = (await env.store.list_for_case("c1"))[0]["deliveries"]["sms"]
    assert shown["quiet_until"] == end.astimezone(UTC)  # what GET /cases/{id}/notices shows
    # another round inside the window sends nothing either
    await env.notices()
    await env.store.notices.update_many({}, {"$set": {"next_at": datetime.now(UTC)}})
    await env.drain()
    assert smsc.submits == []
    # the morning: the window is over (its end reached) and the text goes, once
    morning = Dispatcher(env.store, env.settings, env.smtp, env.webhook, lambda: None, owner="notify-test", sms=sms)
    await env.store.notices.update_many({}, {"$set": {"next_at": datetime.now(UTC),
                                                      "deliveries.sms.retry_at": datetime.now(UTC)}})
    while await morning.run_once():
        pass
    assert len(smsc.messages()) == 1
    await delivered(env)


async def test_the_service_keeps_its_smpp_session_and_delivers_texts(store, smsc, monkeypatch):  # noqa: ANN001
    """notify as built (app.build): its SMPP session loop binds to the SMSC, the dispatch loop sends
    the text, and the receipts coming in on the session make it delivered."""
    from deploy.local.store_instance import free_port as store_free_port
    from services.notify.app import build
    from services.notify.handlers import NoticeHandlers
    from services.notify.settings import NotifySettings
    from tests.tokens import oidc_env

    for key, value in oidc_env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("GONGKAI_MONGO_URL", store.url)
    monkeypatch.setenv("GONGKAI_KAFKA_BOOTSTRAP", f"127.0.0.1:{store_free_port()}")  # no broker: loops run anyway
    settings = NotifySettings(db_name="t_sms_service", smpp_port=smsc.port, poll_seconds=0.1,
                              status_url="http://portal.test/status")
    app = build(settings)
    rt = app.state.runtime
    await rt.client.drop_database(settings.db_name)
    try:
        async with app.router.lifespan_context(app):
            await asyncio.wait_for(rt.ready.wait(), 20)
            handlers = NoticeHandlers(app.state.store, settings, lambda: None)
            await handlers.on_contact(s.ev(contact(["sms"]), "contact"))
            await handlers.on_received(s.ev(s.received(), "received"))
            # every part (the SMSC records part 1 before part 2 comes)
            await asyncio.to_thread(smsc.wait_for, lambda c: [m for m in c.messages() if m["complete"]], 20, "the text")
            [text] = smsc.messages()
            assert text["text"] == sms_text("received", s.NUMBER, "http://portal.test/status") and text["complete"]

            async def status() -> str | None:
                [n] = [d async for d in app.state.store.notices.find({"case_id": "c1"})]
                return n["deliveries"]["sms"]["status"] if n["deliveries"]["sms"]["status"] == "delivered" else None

            assert await until(status, timeout=20) == "delivered"
    finally:
        from pymongo import AsyncMongoClient

        cleanup = AsyncMongoClient(store.url)  # the service closed its own client at shutdown
        await cleanup.drop_database(settings.db_name)
        await cleanup.close()


async def test_a_text_killed_before_its_commit_is_sent_again_but_not_inside_the_quiet_hours(env, sms, smsc):
    class DiesBeforeCommit:
        two_phase = True

        async def send(self, **_: object) -> list[str]:
            raise Killed  # claimed, nothing committed, nothing sent

    env.dispatcher.sms = DiesBeforeCommit()
    await registered(env, ["sms"])
    with pytest.raises(Killed):
        await env.dispatcher.run_once()
    assert (await sms_delivery(env))["claim"]["phase"] == "claimed"
    local = datetime.now(CHINA)
    window = f"{(local - timedelta(hours=1)):%H:%M}-{(local + timedelta(hours=1)):%H:%M}"
    night = Dispatcher(env.store, env.settings.model_copy(update={"sms_quiet_hours": window}), env.smtp, env.webhook,
                       lambda: None, owner="notify-test", sms=sms)
    while await night.run_once():
        pass
    d = await sms_delivery(env)
    assert d["status"] == "pending" and d["quiet_until"] > datetime.now(UTC) and smsc.submits == []
    day = Dispatcher(env.store, env.settings, env.smtp, env.webhook, lambda: None, owner="notify-test", sms=sms)
    await env.store.notices.update_many({}, {"$set": {"next_at": datetime.now(UTC),
                                                      "deliveries.sms.retry_at": datetime.now(UTC)}})
    while await day.run_once():
        pass
    assert len(smsc.messages()) == 1  # safe to send: none of its parts had left
    await delivered(env)


# -- an applicant who chose SMS only is not left with nothing (review of issue #17) ---------------

async def test_sms_only_with_no_smsc_configured_goes_by_email_and_says_why(env):
    assert env.dispatcher.sms is None  # NOTIFY_SMPP_HOST empty: no SMS channel
    await registered(env, ["sms"])
    await env.drain()
    [notice] = await env.notices()
    assert set(notice["deliveries"]) == {"email"}
    email = notice["deliveries"]["email"]
    assert email["status"] == "delivered" and email["fallback_from"] == "sms"
    assert "NOTIFY_SMPP_HOST" in email["fallback_reason"] and notice.get("no_channel_reason") is None
    [mail] = env.smtp.sent
    assert mail["to"] == "zhang@example.com"


async def test_sms_only_with_a_landline_goes_by_email_and_says_why(env, sms, smsc):
    await registered(env, ["sms"], phone="0871-12345678")
    await env.drain()
    [notice] = await env.notices()
    email = notice["deliveries"]["email"]
    assert set(notice["deliveries"]) == {"email"} and email["status"] == "delivered"
    assert email["fallback_from"] == "sms" and "not a mainland mobile number" in email["fallback_reason"]
    assert smsc.submits == []


async def test_email_chosen_too_is_no_fallback(env, sms, smsc):
    await registered(env, ["sms", "email"], phone="0871-12345678")
    await env.drain()
    email = (await env.notices())[0]["deliveries"]["email"]
    assert email["status"] == "delivered" and "fallback_from" not in email  # as chosen


async def test_sms_only_with_no_way_to_send_is_done_with_the_reason_shown(store, monkeypatch):  # noqa: ANN001
    from tests.notify.api_client import notify_api
    from tests.notify.conftest import FakeSmtp, FakeWebhook
    from tests.tokens import bearer

    async with notify_api(store, "t_sms_no_channel", monkeypatch) as api:
        app = api.app
        smtp = FakeSmtp()
        dispatcher = Dispatcher(app.state.store, app.state.dispatcher.settings, smtp, FakeWebhook(), lambda: None,
                                owner="notify-test", sms=None)
        await app.state.handlers.on_contact(s.ev(contact(["sms"], email=None), "contact"))
        await app.state.handlers.on_received(s.ev(s.received(), "received"))
        while await dispatcher.run_once():
            pass
        assert smtp.sent == []
        shown = await api.get("/cases/c1/notices", headers=bearer("ogi_officer"))
        assert shown.status_code == 200
        [notice] = shown.json()["notices"]
        assert notice["status"] == "done" and notice["deliveries"] == {}
        assert "chose SMS" in notice["no_channel_reason"] and "no e-mail address" in notice["no_channel_reason"]
        assert "NOTIFY_SMPP_HOST" in notice["no_channel_reason"]


async def test_a_webhook_alone_still_goes_and_the_missing_channel_is_recorded(env):
    await registered(env, ["sms"], email=None, webhook="http://hooks.test/h1")
    await env.drain()
    [notice] = await env.notices()
    assert set(notice["deliveries"]) == {"webhook"} and notice["deliveries"]["webhook"]["status"] == "delivered"
    assert "no e-mail address" in notice["no_channel_reason"]


# -- receipts: a final state is never undone by a later intermediate one ----------------------------

async def test_an_enroute_receipt_after_delivrd_does_not_undo_it(env):
    from services.notify.sms import Receipt

    class Accepts:
        """The SMSC took both parts (message ids m1, m2)."""

        two_phase = True

        async def send(self, *, commit, **_: object) -> list[str]:  # noqa: ANN001
            await commit()
            return ["m1", "m2"]

    env.dispatcher.sms = Accepts()
    await registered(env, ["sms"])
    await env.drain()
    assert (await sms_delivery(env))["status"] == "submitted"
    at = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)

    def receipt(mid: str, stat: str) -> Receipt:
        return Receipt(message_id=mid, stat=stat, done_at=at, err="000", text=f"id:{mid} stat:{stat}")

    await env.dispatcher.on_receipt(receipt("m1", "DELIVRD"))
    await env.dispatcher.on_receipt(receipt("m1", "ENROUTE"))  # late, out of order: ignored
    assert (await env.store.receipts.find_one({"_id": "m1"}))["stat"] == "DELIVRD"
    await env.dispatcher.on_receipt(receipt("m2", "ENROUTE"))  # intermediate first: recorded …
    assert (await env.store.receipts.find_one({"_id": "m2"}))["stat"] == "ENROUTE"
    assert (await sms_delivery(env))["status"] == "submitted"
    await env.dispatcher.on_receipt(receipt("m2", "DELIVRD"))  # … and replaced by the final one
    d = await sms_delivery(env)
    assert d["status"] == "delivered" and [p["stat"] for p in d["parts"]] == ["DELIVRD", "DELIVRD"]
    await env.dispatcher.on_receipt(receipt("m2", "ENROUTE"))
    await env.dispatcher.on_receipt(receipt("m2", "UNDELIV"))  # a second final one does not replace the first
    assert (await env.store.receipts.find_one({"_id": "m2"}))["stat"] == "DELIVRD"
    assert (await sms_delivery(env))["status"] == "delivered"


async def test_receipts_of_one_message_at_the_same_moment_keep_the_final_one(env):
    from services.notify.sms import Receipt

    at = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)
    for _ in range(5):
        await env.store.receipts.delete_many({})
        await asyncio.gather(*(env.dispatcher.on_receipt(Receipt("m9", stat, at, "000", stat))
                               for stat in ("ENROUTE", "DELIVRD", "ACCEPTD", "ENROUTE")))
        assert (await env.store.receipts.find_one({"_id": "m9"}))["stat"] == "DELIVRD"
