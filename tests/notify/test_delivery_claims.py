"""Each delivery claimed in the store before it is sent, on the real local store: what a restart
finds after a kill at each instant of a delivery, and what it does — an e-mail is sent again only
when the server cannot have it (never a second copy in a mailbox); a webhook is sent again (the
receiver dedups by its id); another live instance's claim is left alone."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from services.notify.notices import Dispatcher
from services.notify.senders import SmtpUncertain
from tests.notify import samples as s

pytestmark = pytest.mark.asyncio


class Killed(BaseException):
    """Stands for SIGKILL: nothing of the dispatcher runs after it (not an ``Exception``)."""


@dataclass
class DyingSmtp:
    """Dies once at ``when``: "before_commit" (content sent, no end of data: the server discards
    it) or "after_send" (the server took the message, its reply never recorded)."""

    when: str
    sent: list[dict] = field(default_factory=list)  # what the server took
    two_phase = True
    died: bool = False

    async def send(self, *, to: str, subject: str, body: str, notice_id: str,
                   commit: Callable[[], Awaitable[None]]) -> str:
        if not self.died and self.when == "before_commit":
            self.died = True
            raise Killed
        await commit()
        self.sent.append({"to": to, "subject": subject, "id": notice_id})
        if not self.died and self.when == "after_send":
            self.died = True
            raise Killed
        return "250 2.0.0 Ok: queued as Q1"


async def killed_round(dispatcher: Dispatcher) -> None:
    with pytest.raises(Killed):
        await dispatcher.run_once()


async def received_only(env, webhook: bool = False) -> None:  # noqa: ANN001
    await env.handlers.on_contact(s.ev(s.contact(webhook="http://hooks.test/h1" if webhook else None), "contact"))
    await env.handlers.on_received(s.ev(s.received(), "received"))


async def the_notice(env) -> dict:  # noqa: ANN001
    [notice] = await env.notices()
    return notice


async def test_a_delivered_email_records_the_servers_reply_and_its_claim(env):
    await received_only(env)
    await env.drain()
    email = (await the_notice(env))["deliveries"]["email"]
    assert email["status"] == "delivered" and email["smtp_reply"] == "250 2.0.0 Ok: queued as Q1"
    assert email["message_id"] == f"<{(await the_notice(env))['_id']}.email@gongkai.notify>"
    assert email["claim"]["by"] == "notify-test" and email["claim"]["phase"] == "committing"
    assert email["attempts"] == 1


async def test_killed_before_the_end_of_data_the_email_is_sent_once_after_restart(env):
    smtp = DyingSmtp("before_commit")
    env.dispatcher.smtp = smtp
    await received_only(env)
    await killed_round(env.dispatcher)
    email = (await the_notice(env))["deliveries"]["email"]
    assert email["status"] == "sending" and email["claim"]["phase"] == "claimed" and smtp.sent == []
    restarted = env.restarted()
    restarted.smtp = smtp
    while await restarted.run_once():
        pass
    notice = await the_notice(env)
    assert len(smtp.sent) == 1  # the one copy: the killed attempt never reached the end of data
    assert notice["status"] == "done" and notice["deliveries"]["email"]["status"] == "delivered"
    assert notice["deliveries"]["email"]["attempts"] == 2 and notice["deliveries"]["email"]["resumed_at"]
    assert len(notice["outbox"]) == 1  # notice.delivered, once


async def test_killed_after_the_server_took_the_email_it_is_not_sent_again_but_marked_uncertain(env):
    smtp = DyingSmtp("after_send")
    env.dispatcher.smtp = smtp
    await received_only(env)
    await env.handlers.on_reply(s.ev(s.reply(), "reply"))
    await killed_round(env.dispatcher)
    assert len(smtp.sent) == 1
    restarted = env.restarted()
    restarted.smtp = smtp
    await asyncio.sleep(0.15)
    while await restarted.run_once():
        pass
    await asyncio.sleep(0.15)
    while await restarted.run_once():
        pass
    received = next(d for d in await env.notices() if d["kind"] == "received")
    email = received["deliveries"]["email"]
    assert [m["id"] for m in smtp.sent].count(f"{received['_id']}:email") == 1  # one copy, never two
    assert email["status"] == "uncertain" and "before its reply was recorded" in email["uncertain_reason"]
    assert email["message_id"] == f"<{received['_id']}.email@gongkai.notify>"  # to look up in the server's log
    assert received["status"] == "done"
    assert received.get("outbox", []) == []  # no notice.delivered: what the applicant was told is not known
    # Uncertain is final: the reply, held behind it, went out after it.
    assert [m["subject"].split("（")[0] for m in smtp.sent] == ["政府信息公开申请已登记", "政府信息公开申请已答复"]


async def test_a_conversation_broken_after_the_end_of_data_is_uncertain_not_retried(env):
    class BrokenAfterDot:
        two_phase = True
        calls = 0

        async def send(self, *, commit, **_: object) -> str:  # noqa: ANN001
            BrokenAfterDot.calls += 1
            await commit()
            raise SmtpUncertain("no reply to the end of data: SMTPServerDisconnected('Connection lost')")

    env.dispatcher.smtp = BrokenAfterDot()
    await received_only(env)
    for _ in range(3):
        await env.drain()
        await asyncio.sleep(0.05)
    email = (await the_notice(env))["deliveries"]["email"]
    assert BrokenAfterDot.calls == 1 and email["status"] == "uncertain"
    assert "Connection lost" in email["uncertain_reason"]


async def test_a_refusal_before_the_end_of_data_is_retried(env):
    env.smtp.fail_next = 2
    await received_only(env)
    for _ in range(10):
        await env.drain()
        await asyncio.sleep(0.05)
    email = (await the_notice(env))["deliveries"]["email"]
    assert email["status"] == "delivered" and email["attempts"] == 3 and len(env.smtp.sent) == 1


async def test_a_reply_read_but_not_recorded_is_recorded_later_without_sending_again(env, monkeypatch):
    await received_only(env)
    calls = {"n": 0}
    record = env.dispatcher._record_delivered

    async def failing_once(*args: object, **kw: object) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("store down (simulated)")
        await record(*args, **kw)

    monkeypatch.setattr(env.dispatcher, "_record_delivered", failing_once)
    with pytest.raises(ConnectionError):
        await env.dispatcher.run_once()
    assert (await the_notice(env))["deliveries"]["email"]["status"] == "sending"
    await env.drain()
    email = (await the_notice(env))["deliveries"]["email"]
    assert email["status"] == "delivered" and email["smtp_reply"].startswith("250") and len(env.smtp.sent) == 1


async def test_a_webhook_killed_in_flight_is_sent_again_with_the_same_id(env):
    class DyingWebhook:
        def __init__(self) -> None:
            self.sent: list[str] = []

        async def send(self, *, notice_id: str, **_: object) -> None:
            self.sent.append(notice_id)
            if len(self.sent) == 1:
                raise Killed  # the receiver got it; the record never happened

    hook = DyingWebhook()
    env.dispatcher.webhook = hook
    await env.handlers.on_contact(s.ev(s.contact(email=None), "contact"))
    await env.handlers.on_received(s.ev(s.received(), "received"))
    await killed_round(env.dispatcher)
    restarted = env.restarted()
    restarted.webhook = hook
    while await restarted.run_once():
        pass
    # At-least-once for webhooks: a second POST, with the same webhook-id / Idempotency-Key.
    assert len(hook.sent) == 2 and hook.sent[0] == hook.sent[1]
    assert (await the_notice(env))["deliveries"]["webhook"]["status"] == "delivered"


async def test_another_instances_claim_is_left_alone_until_its_lease_runs_out(env):
    smtp = DyingSmtp("before_commit")
    env.dispatcher.smtp = smtp
    env.dispatcher.owner = "notify-other"
    await received_only(env)
    await killed_round(env.dispatcher)
    other = env.restarted(claim_lease_seconds=120)  # owner notify-test: not the claim's instance
    other.smtp = smtp
    assert await other.run_once() == 0
    assert (await the_notice(env))["deliveries"]["email"]["status"] == "sending" and smtp.sent == []
    old = datetime.now(UTC) - timedelta(seconds=121)
    await env.store.notices.update_one({}, {"$set": {"deliveries.email.claim.at": old}})
    while await other.run_once():
        pass
    assert (await the_notice(env))["deliveries"]["email"]["status"] == "delivered" and len(smtp.sent) == 1


async def test_two_dispatchers_at_once_send_each_notice_once(env):
    for i in range(6):
        c = f"c{i}"
        await env.handlers.on_contact(s.ev(s.contact(c), "contact", c))
        await env.handlers.on_received(s.ev(s.received(c), "received", c))
    second = env.restarted()
    second.owner = "notify-other"
    for _ in range(5):
        await asyncio.gather(env.dispatcher.run_once(), second.run_once())
    assert len(env.smtp.sent) == 6 and len({m["id"] for m in env.smtp.sent}) == 6
    assert len(env.webhook.sent) == 6 and len({h["id"] for h in env.webhook.sent}) == 6


async def test_a_one_shot_sender_is_committed_before_it_is_called(env):
    seen = []

    class OneShot:
        async def send(self, *, notice_id: str, **_: object) -> None:
            [notice] = await env.notices()
            seen.append(notice["deliveries"]["email"]["claim"]["phase"])

    env.dispatcher.smtp = OneShot()
    await received_only(env)
    await env.drain()
    assert seen == ["committing"]  # a death inside it: uncertain, never a blind resend
    assert (await the_notice(env))["deliveries"]["email"]["status"] == "delivered"
