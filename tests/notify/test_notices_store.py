"""Notify's new notices on the real local store: created once per event (and per officer), skipped
events create nothing, each delivery goes out once by e-mail and webhook (officers: e-mail only)."""

from __future__ import annotations

import asyncio

import pytest

from contracts.vocabulary import NoticeKind
from tests.notify import samples as s

pytestmark = pytest.mark.asyncio


APPLICANT_STEPS = [
    ("on_procedure", s.correction, "correction.requested", "correction_requested", "补正"),
    ("on_procedure", s.extension, "extension.approved", "extension_approved", "延期"),
    ("on_procedure", s.abandoned, "application.abandoned", "application_abandoned", "视为放弃"),
    ("on_screened", s.fee, "fee.notice.issued", "fee_notice_issued", "缴费"),
    ("on_routed", s.referral, "referral.recorded", "referral_recorded", "不属于本机关负责公开"),
    ("on_reply", s.reply, "reply.issued", "reply_issued", "已答复"),
]


async def test_each_applicant_notice_once_by_email_and_webhook_even_when_redelivered(env):
    await env.handlers.on_contact(s.ev(s.contact(), "contact"))
    await env.handlers.on_received(s.ev(s.received(), "received"))
    for method, make, name, _, _ in APPLICANT_STEPS:
        event = s.ev(make(), name)
        await getattr(env.handlers, method)(event)
        await getattr(env.handlers, method)(event)  # at-least-once delivery: the same event again
    await env.drain()
    await env.handlers.on_procedure(s.ev(s.correction(), "correction.requested"))  # after delivery, too
    await env.drain()

    kinds = sorted(d["kind"] for d in await env.notices())
    assert kinds == sorted(["received", *(k for _, _, _, k, _ in APPLICANT_STEPS)])
    assert len(env.smtp.sent) == len(kinds) == len(env.webhook.sent)
    assert {m["to"] for m in env.smtp.sent} == {"zhang@example.com"}
    assert len({m["id"] for m in env.smtp.sent}) == len(kinds)  # distinct Message-IDs
    for _, _, _, kind, word in APPLICANT_STEPS:
        [hook] = [h for h in env.webhook.sent if h["payload"]["kind"] == kind]
        assert word in hook["payload"]["subject"], kind
        assert hook["payload"]["tracking_number"] == s.NUMBER  # learned from application.received
        assert s.NUMBER in hook["payload"]["subject"]
    for d in await env.notices():
        assert d["status"] == "done" and d["audience"] == "applicant"
        statuses = {ch: dl["status"] for ch, dl in d["deliveries"].items()}
        assert statuses == {"email": "delivered", "webhook": "delivered"}


async def test_notice_delivered_events_only_for_kinds_the_contract_holds(env):
    await env.handlers.on_contact(s.ev(s.contact(webhook=None), "contact"))
    await env.handlers.on_received(s.ev(s.received(), "received"))
    await env.handlers.on_procedure(s.ev(s.correction(), "correction.requested"))
    await env.drain()
    contract = {k.value for k in NoticeKind}
    for d in [d async for d in env.store.notices.find({"case_id": "c1"})]:
        records = d.get("outbox", [])
        assert len(records) == (1 if d["kind"] in contract else 0), d["kind"]
        for r in records:
            assert r["topic"] == "gongkai.notices.delivered"


async def test_events_not_for_the_applicant_are_skipped(env):
    await env.handlers.on_contact(s.ev(s.contact(), "contact"))
    handlers = {"deadline.changed": "on_procedure", "correction.received": "on_procedure",
                "triage.recorded": "on_procedure", "repeat.flagged": "on_screened", "case.rerouted": "on_routed"}
    for data, name in s.not_for_applicant():
        await getattr(env.handlers, handlers[name])(s.ev(data, name))
    await env.drain()
    assert await env.notices() == []
    assert env.smtp.sent == [] and env.webhook.sent == []


async def test_a_notice_before_the_case_is_known_names_no_number(env):
    await env.handlers.on_contact(s.ev(s.contact(), "contact"))
    await env.handlers.on_procedure(s.ev(s.extension(), "extension.approved"))
    await env.drain()
    assert env.smtp.sent == []  # held for the registration notice (services/notify/order.py) ...
    [held] = await env.notices()
    assert held["status"] == "pending" and held["deliveries"]["email"]["held_by"] == ["received (not yet known)"]
    env.dispatcher = env.restarted(order_patience_seconds=0)  # ... until its patience is spent
    await asyncio.sleep(0.2)  # its next look (poll_seconds)
    await env.drain()
    [mail] = env.smtp.sent
    assert "受理编号" not in mail["subject"] and "2027年01月13日" in mail["body"]
    [sent] = await env.notices()
    assert "received (not yet known)" in sent["deliveries"]["email"]["order_note"]


async def test_without_contact_the_notice_waits(env):
    await env.handlers.on_received(s.ev(s.received(), "received"))
    await env.handlers.on_procedure(s.ev(s.correction(), "correction.requested"))
    await env.drain()
    assert env.smtp.sent == []
    assert {d["status"] for d in await env.notices()} == {"awaiting_contact"}


async def test_warning_goes_to_the_ogi_office_and_each_open_department_once(env):
    await env.handlers.on_contact(s.ev(s.contact(), "contact"))
    await env.handlers.on_received(s.ev(s.received(), "received"))
    event = s.ev(s.warning(departments=("czt", "zrzy")), "deadline.warning.issued")
    await env.handlers.on_procedure(event)
    await env.handlers.on_procedure(event)
    await env.drain()
    warnings = [d for d in await env.notices() if d["kind"] == "deadline_warning"]
    assert sorted(d["recipient"] for d in warnings) == ["czt", "ogi", "zrzy"]
    assert all(d["audience"] == "officer" and d.get("outbox", []) == [] for d in warnings)
    officer_mail = [m for m in env.smtp.sent if "预警" in m["subject"]]
    assert sorted(m["to"] for m in officer_mail) == ["czt@gongkai.local", "gkb@yn.gov.cn", "zrzy@gongkai.local"]
    assert all(s.NUMBER in m["subject"] for m in officer_mail)
    # Officers get e-mail only; the applicant hears nothing of the warning.
    assert [h["payload"]["kind"] for h in env.webhook.sent] == ["received"]
    assert [m["to"] for m in env.smtp.sent if m["to"] == "zhang@example.com"] == ["zhang@example.com"]


async def test_each_warning_event_is_its_own_notice_and_overdue_too(env):
    await env.handlers.on_procedure(s.ev(s.warning(departments=("czt",)), "warning-5"))
    await env.handlers.on_procedure(s.ev(s.warning(departments=("czt",)), "warning-2"))
    await env.handlers.on_procedure(s.ev(s.overdue(departments=()), "case.overdue"))
    await env.drain()
    assert sorted(m["to"] for m in env.smtp.sent) == sorted(
        ["gkb@yn.gov.cn", "czt@gongkai.local"] * 2 + ["gkb@yn.gov.cn"])
    assert sum("逾期" in m["subject"] for m in env.smtp.sent) == 1


async def test_a_webhook_without_a_signing_secret_is_refused_and_the_email_still_goes(env):
    """A contact registered before webhooks were signed: nothing is sent unsigned."""
    await env.handlers.on_contact(s.ev(s.contact(secret=None), "contact"))
    await env.handlers.on_received(s.ev(s.received(), "received"))
    await env.drain()
    assert env.webhook.sent == []
    assert [m["to"] for m in env.smtp.sent] == ["zhang@example.com"]
    [notice] = await env.notices()
    assert notice["status"] == "done"
    hook = notice["deliveries"]["webhook"]
    assert hook["status"] == "refused" and hook["refused_reason"] == "no signing secret" and hook["attempts"] == 1
    assert notice["deliveries"]["email"]["status"] == "delivered"
    # Refused is final: nothing more is tried.
    await env.drain()
    assert env.webhook.sent == [] and (await env.notices())[0]["deliveries"]["webhook"]["attempts"] == 1


async def test_each_webhook_is_sent_with_the_subscriptions_secret(env):
    await env.handlers.on_contact(s.ev(s.contact(), "contact"))
    await env.handlers.on_received(s.ev(s.received(), "received"))
    await env.drain()
    [hook] = env.webhook.sent
    assert hook["secret"] == s.WEBHOOK_SECRET and hook["id"] == hook["payload"]["notice_id"]
