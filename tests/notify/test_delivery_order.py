"""Notices in the order of the steps, on the real local store: events consumed in the wrong order
(each topic has its own consumer), deliveries failing and retried, a restart while a notice is
held — the applicant's mailbox and webhook receiver get each case's notices in step order."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta

import pytest

from contracts.envelope import CloudEvent, EventData, deterministic_id, new_event
from contracts.events import Answer, ReplyAmended, ReplyPart
from tests.notify import samples as s

pytestmark = pytest.mark.asyncio

T0 = datetime(2026, 11, 23, 8, tzinfo=UTC)


def ev(data: EventData, name: str, case_id: str, at: timedelta) -> CloudEvent:
    return new_event(data, source="/test", subject=case_id, event_id=deterministic_id(name, case_id), time=T0 + at)


def amended(case_id: str) -> ReplyAmended:
    return ReplyAmended(
        case_id=case_id, tracking_number=s.NUMBER, agency_code="yn-gov-office", amendment_seq=1, reply_event_id="e1",
        parts=[ReplyPart(task_id="t2", dept_code="czt", dept_name="财政厅",
                         answer=Answer(reply_type="disclosed", text="x"))],
        decision="disclosed", outcome="disclosed", document_id="d1", document_text="答复书（补充）正文",
    )


# (handler, event data, event name, time of the event, the kind of its notice), in the order of the steps
def steps(case_id: str) -> list[tuple[str, EventData, str, timedelta, str]]:
    return [
        ("on_received", s.received(case_id), "received", timedelta(0), "received"),
        ("on_procedure", s.correction(case_id), "correction", timedelta(days=2), "correction_requested"),
        ("on_screened", s.fee(case_id), "fee", timedelta(days=3), "fee_notice_issued"),
        ("on_procedure", s.extension(case_id), "extension", timedelta(days=17), "extension_approved"),
        ("on_reply", s.reply(case_id), "reply", timedelta(days=30), "reply_issued"),
        ("on_reply", amended(case_id), "amended", timedelta(days=35), "reply_amended"),
    ]


KIND_OF_SUBJECT = (("已登记", "received"), ("补正", "correction_requested"), ("缴费", "fee_notice_issued"),
                   ("收费", "fee_notice_issued"), ("延期", "extension_approved"), ("更正", "reply_amended"),
                   ("已答复", "reply_issued"))


def mail_kind(subject: str) -> str:
    return next(kind for word, kind in KIND_OF_SUBJECT if word in subject)


async def feed(env, case_id: str, step) -> None:  # noqa: ANN001
    handler, data, name, at, _ = step
    await getattr(env.handlers, handler)(ev(data, name, case_id, at))


async def all_done(env, cases: list[str]) -> bool:  # noqa: ANN001
    for c in cases:
        if any(d["status"] != "done" for d in await env.notices(c)):
            return False
    return True


async def settle(env, cases: list[str], rounds: int = 40) -> None:  # noqa: ANN001
    for _ in range(rounds):
        await env.drain()
        if await all_done(env, cases):
            return
        await asyncio.sleep(0.12)


async def ids_of(env, case_id: str) -> set[str]:  # noqa: ANN001
    return {d["_id"] for d in await env.notices(case_id)}


def orders(env, cases: list[str], notice_ids: dict[str, set[str]]) -> tuple[dict, dict]:  # noqa: ANN001
    mails = {c: [] for c in cases}
    hooks = {c: [] for c in cases}
    owner = {nid: c for c, ids in notice_ids.items() for nid in ids}
    for m in env.smtp.sent:
        if m["id"].split(":")[0] in owner:
            mails[owner[m["id"].split(":")[0]]].append(mail_kind(m["subject"]))
    for h in env.webhook.sent:
        if h["id"].split(":")[0] in owner:
            hooks[owner[h["id"].split(":")[0]]].append(h["payload"]["kind"])
    return mails, hooks


async def test_reply_consumed_before_received_is_sent_after_it_measured(env):
    """The issue's case: reply.issued consumed before application.received. Measured without the
    hold (patience 0: the old behaviour, each notice sent as soon as it is due) and with it."""
    counts = {}
    for patience, prefix in ((0.0, "old"), (900.0, "new")):
        env.dispatcher = env.restarted(order_patience_seconds=patience)
        cases = [f"{prefix}-{i}" for i in range(20)]
        for c in cases:
            await env.handlers.on_contact(ev(s.contact(c), "contact", c, timedelta(0)))
            await feed(env, c, steps(c)[4])  # the reply first ...
        await env.drain()
        for c in cases:
            await feed(env, c, steps(c)[0])  # ... then the registration
        await asyncio.sleep(0.15)
        await env.drain()
        mails, hooks = orders(env, cases, {c: await ids_of(env, c) for c in cases})
        counts[prefix] = (sum(m != ["received", "reply_issued"] for m in mails.values()),
                          sum(h != ["received", "reply_issued"] for h in hooks.values()))
    print(f"\nreply before received, 20 cases: out of order (e-mail, webhook) without the hold {counts['old']}, "
          f"with it {counts['new']}")
    assert counts["old"] == (20, 20)  # what the applicant saw before
    assert counts["new"] == (0, 0)


@pytest.mark.parametrize("seed", range(3))
async def test_steps_consumed_in_any_order_with_failing_deliveries_reach_the_applicant_in_order(env, seed):
    """Every step of twelve cases consumed in a random order, then dispatched while the SMTP server
    refuses now and then (each refusal retried): each mailbox and receiver gets step order.
    (An optional step consumed only after a later step was already *sent* cannot be put before
    it — order.py; the reply waits for the registration in every case, next test.)"""
    rng = random.Random(seed)
    cases = [f"s{seed}-{i}" for i in range(12)]
    for c in cases:
        await env.handlers.on_contact(ev(s.contact(c), "contact", c, timedelta(0)))
    arrivals = [(c, st) for c in cases for st in steps(c)]
    rng.shuffle(arrivals)
    for c, st in arrivals:
        await feed(env, c, st)
    refusals = 0
    for _ in range(60):
        if rng.random() < 0.5:
            env.smtp.fail_next = rng.randint(0, 2)
            refusals += env.smtp.fail_next
        await env.dispatcher.run_once()
        if await all_done(env, cases):
            break
        await asyncio.sleep(0.11)
    expected = [kind for *_, kind in steps("x")]
    mails, hooks = orders(env, cases, {c: await ids_of(env, c) for c in cases})
    wrong = {c: m for c, m in mails.items() if m != expected}
    wrong_hooks = {c: h for c, h in hooks.items() if h != expected}
    print(f"\nseed {seed}: {len(arrivals)} events in random order, {len(cases)} cases, up to {refusals} SMTP "
          f"refusals: {len(wrong)} e-mail and {len(wrong_hooks)} webhook sequences out of order")
    assert wrong == {} and wrong_hooks == {}


async def test_registration_last_with_a_round_after_every_event(env):
    """The hard rule alone: whatever was sent, nothing before the registration."""
    cases = [f"r-{i}" for i in range(8)]
    for c in cases:
        await env.handlers.on_contact(ev(s.contact(c), "contact", c, timedelta(0)))
        for st in steps(c)[1:]:
            await feed(env, c, st)
            await env.dispatcher.run_once()
    assert env.smtp.sent == [] and env.webhook.sent == []
    for c in cases:
        await feed(env, c, steps(c)[0])
    await asyncio.sleep(0.15)
    await env.drain()
    mails, hooks = orders(env, cases, {c: await ids_of(env, c) for c in cases})
    expected = [kind for *_, kind in steps("x")]
    assert all(m == expected for m in mails.values()), mails
    assert all(h == expected for h in hooks.values()), hooks


async def test_a_held_notice_is_stored_and_survives_a_restart(env):
    await env.handlers.on_contact(ev(s.contact(), "contact", "c1", timedelta(0)))
    await feed(env, "c1", steps("c1")[4])
    await env.drain()
    [held] = await env.notices()
    assert held["status"] == "pending" and held["held"] is True
    assert held["deliveries"]["email"]["held_by"] == ["received (not yet known)"]
    assert held["deliveries"]["email"]["held_since"] is not None
    env.dispatcher = env.restarted()  # the process restarted: nothing of the hold was in memory only
    await feed(env, "c1", steps("c1")[0])
    await asyncio.sleep(0.15)
    await env.drain()
    assert [mail_kind(m["subject"]) for m in env.smtp.sent] == ["received", "reply_issued"]
    reply = next(d for d in await env.notices() if d["kind"] == "reply_issued")
    email = reply["deliveries"]["email"]
    assert email["status"] == "delivered" and "held_by" not in email
    assert email["waited_for"] == ["received (not yet known)"]  # what it waited for, kept


async def test_the_reply_waits_while_the_registration_is_retried_and_goes_after_it_fails_for_good(env):
    env.dispatcher = env.restarted(max_attempts=3)
    await env.handlers.on_contact(ev(s.contact(webhook=None), "contact", "c1", timedelta(0)))
    env.smtp.fail_next = 2
    await feed(env, "c1", steps("c1")[0])
    await feed(env, "c1", steps("c1")[4])
    await settle(env, ["c1"])
    assert [mail_kind(m["subject"]) for m in env.smtp.sent] == ["received", "reply_issued"]  # after 2 refusals

    # The registration's e-mail fails for good (a final state): the reply is not held forever.
    await env.handlers.on_contact(ev(s.contact("c2", webhook=None), "contact", "c2", timedelta(0)))
    env.smtp.fail_next = 3
    await feed(env, "c2", steps("c2")[0])
    await feed(env, "c2", steps("c2")[4])
    await settle(env, ["c2"])
    kinds = {d["kind"]: d["deliveries"]["email"]["status"] for d in await env.notices("c2")}
    assert kinds == {"received": "failed", "reply_issued": "delivered"}


async def test_officer_warnings_before_overdue_per_mailbox(env):
    await env.handlers.on_procedure(ev(s.overdue(departments=("czt",)), "overdue", "c1", timedelta(days=30)))
    await env.handlers.on_procedure(ev(s.warning(departments=("czt",)), "warning", "c1", timedelta(days=28)))
    await env.drain()
    await asyncio.sleep(0.15)
    await env.drain()
    for address in ("gkb@yn.gov.cn", "czt@gongkai.local"):
        subjects = [m["subject"] for m in env.smtp.sent if m["to"] == address]
        assert len(subjects) == 2 and "预警" in subjects[0] and "逾期" in subjects[1], subjects


async def test_the_ogi_office_gets_one_calendar_missing_warning_a_day_per_missing_year(env):
    from contracts.events_procedure import DeadlineChanged

    def provisional(case_id: str, years: list[int]) -> DeadlineChanged:
        return DeadlineChanged(case_id=case_id, old_due_on=None, new_due_on=datetime(2027, 1, 6).date(),
                               reason="opened", calendar_version="v", provisional=True, missing_calendar_years=years)

    # 2026-11-23 08:00 UTC is 16:00 in China; +8 h is past midnight there: the next day.
    for case_id, at in (("c1", timedelta(0)), ("c2", timedelta(hours=1)), ("c3", timedelta(hours=2))):
        await env.handlers.on_procedure(ev(provisional(case_id, [2027]), "opened", case_id, at))
    await env.handlers.on_procedure(ev(provisional("c4", [2027, 2028]), "opened", "c4", timedelta(hours=3)))
    await env.handlers.on_procedure(ev(provisional("c5", [2027]), "opened", "c5", timedelta(hours=8)))
    # A redelivered event of the first day changes nothing.
    await env.handlers.on_procedure(ev(provisional("c2", [2027]), "opened", "c2", timedelta(hours=1)))
    await env.drain()
    warnings = [d async for d in env.store.notices.find({"kind": "calendar_missing"})]
    assert sorted(d["case_id"] for d in warnings) == ["c1", "c4", "c5"]
    subjects = sorted(m["subject"] for m in env.smtp.sent if m["to"] == "gkb@yn.gov.cn")
    assert len(subjects) == 3 and sum("2027年、2028年" in x for x in subjects) == 1, subjects
    first = next(d for d in warnings if d["case_id"] == "c1")
    assert "2026年11月23日起" in first["body"] and "不再逐件提醒" in first["body"] and "督办" in first["body"]
    nextday = next(d for d in warnings if d["case_id"] == "c5")
    assert "2026年11月24日起" in nextday["body"]
