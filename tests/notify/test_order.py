"""The order of a case's notices (pure): what each kind waits for, per person and channel, and the
patience that keeps a notice from being held forever."""

from __future__ import annotations

import itertools
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from services.notify import order
from services.notify.kinds import Kind
from services.notify.order import Item, verdict

T = datetime(2026, 11, 23, 8, tzinfo=UTC)
NOW = T + timedelta(days=30)
PATIENCE = timedelta(seconds=900)


def item(kind: Kind, *, nid: str | None = None, at: timedelta = timedelta(0), status: str = "pending",
         email: str | None = "pending", webhook: str | None = None, audience: str = "applicant",
         recipient: str | None = None) -> Item:
    channels = {k: v for k, v in (("email", email), ("webhook", webhook)) if v is not None}
    return Item(notice_id=nid or kind.value, kind=kind.value, audience=audience, recipient=recipient,
                event_time=T + at, status=status, channels=channels)


def may_go(notice: Item, others: list[Item], channel: str = "email", held_since: datetime | None = None) -> bool:
    return verdict(notice, channel, [notice, *others], held_since=held_since, now=NOW, patience=PATIENCE).send


def test_the_reply_waits_for_received_even_before_notify_has_heard_of_it():
    reply = item(Kind.REPLY_ISSUED, at=timedelta(days=20))
    v = verdict(reply, "email", [reply], held_since=None, now=NOW, patience=PATIENCE)
    assert v.held and v.waiting_for == ("received (not yet known)",)


def test_the_reply_waits_for_received_until_it_is_final_on_the_same_channel():
    reply = item(Kind.REPLY_ISSUED, at=timedelta(days=20), webhook="pending")
    for email, webhook, email_may, webhook_may in (
        ("pending", "pending", False, False),
        ("sending", "pending", False, False),
        ("delivered", "pending", True, False),
        ("failed", "refused", True, True),  # final, even though not delivered
        ("uncertain", "delivered", True, True),
    ):
        received = item(Kind.RECEIVED, email=email, webhook=webhook)
        assert may_go(reply, [received], "email") is email_may, (email, webhook)
        assert may_go(reply, [received], "webhook") is webhook_may, (email, webhook)


def test_received_waits_for_nothing():
    received = item(Kind.RECEIVED)
    assert may_go(received, [item(Kind.REPLY_ISSUED, at=timedelta(days=20))])  # the later one is no predecessor
    assert may_go(received, [])


def test_a_predecessor_still_waiting_for_the_contact_holds_and_one_without_the_channel_does_not():
    reply = item(Kind.REPLY_ISSUED, at=timedelta(days=20), webhook="pending")
    waiting = item(Kind.RECEIVED, status="awaiting_contact", email=None)
    assert not may_go(reply, [waiting], "email") and not may_go(reply, [waiting], "webhook")
    email_only = item(Kind.RECEIVED, email="pending")  # attached when the contact had no webhook
    assert not may_go(reply, [email_only], "email") and may_go(reply, [email_only], "webhook")
    assert may_go(reply, [item(Kind.RECEIVED, status="done", email=None)], "email")  # no channel at all


def test_optional_steps_known_to_notify_go_before_the_reply_in_their_events_order():
    received = item(Kind.RECEIVED, email="delivered")
    correction = item(Kind.CORRECTION_REQUESTED, at=timedelta(days=1))
    extension = item(Kind.EXTENSION_APPROVED, at=timedelta(days=17))
    reply = item(Kind.REPLY_ISSUED, at=timedelta(days=20))
    everything = [received, correction, extension, reply]
    assert may_go(correction, everything)
    assert not may_go(extension, everything)  # the earlier correction first
    v = verdict(reply, "email", everything, held_since=None, now=NOW, patience=PATIENCE)
    assert v.waiting_for == ("correction_requested", "extension_approved")
    # Optional steps notify has not heard of hold nothing: most cases have none.
    assert may_go(reply, [received])


def test_amendment_after_reply_and_each_amendment_after_the_one_before():
    received = item(Kind.RECEIVED, email="delivered")
    reply = item(Kind.REPLY_ISSUED, at=timedelta(days=20))
    first = item(Kind.REPLY_AMENDED, nid="a1", at=timedelta(days=25))
    second = item(Kind.REPLY_AMENDED, nid="a2", at=timedelta(days=26))
    sent = replace(reply, channels={"email": "delivered"})
    assert not may_go(first, [received, reply, second])
    assert not may_go(second, [received, sent, first])
    assert may_go(first, [received, sent, second])


def test_the_order_is_total_so_no_two_notices_wait_for_each_other():
    # Same kind, same event time: the notice id decides.
    a = item(Kind.FEE_NOTICE_ISSUED, nid="n-a")
    b = item(Kind.FEE_NOTICE_ISSUED, nid="n-b")
    received = item(Kind.RECEIVED, email="delivered")
    assert may_go(a, [b, received]) != may_go(b, [a, received])
    kinds = [Kind.CORRECTION_REQUESTED, Kind.EXTENSION_APPROVED, Kind.FEE_NOTICE_ISSUED,
             Kind.REFERRAL_RECORDED, Kind.REPLY_ISSUED, Kind.APPLICATION_ABANDONED, Kind.REPLY_AMENDED]
    rng = random.Random(16)
    items = [item(k, nid=f"{k.value}-{i}", at=timedelta(hours=rng.randint(0, 3))) for i, k in enumerate(kinds * 2)]
    for x, y in itertools.permutations(items, 2):
        assert may_go(x, [y, received]) or may_go(y, [x, received]), (x.notice_id, y.notice_id)
    # Of them all pending, exactly one may go: the first in place.
    pending_received = item(Kind.RECEIVED)
    everything = [*items, pending_received]
    free = [x for x in everything if may_go(x, [o for o in everything if o is not x])]
    assert free == [pending_received]
    free = [x for x in items if may_go(x, [o for o in items if o is not x] + [received])]
    assert free == [min(items, key=order.place)]


def test_officer_notices_are_a_sequence_per_recipient_without_received():
    ogi_warning = item(Kind.DEADLINE_WARNING, nid="w-ogi", audience="officer", recipient="ogi")
    ogi_overdue = item(Kind.CASE_OVERDUE, nid="o-ogi", audience="officer", recipient="ogi", at=timedelta(days=1))
    czt_overdue = item(Kind.CASE_OVERDUE, nid="o-czt", audience="officer", recipient="czt", at=timedelta(days=1))
    applicant = item(Kind.REPLY_ISSUED, at=timedelta(hours=1))
    assert may_go(ogi_warning, [applicant])  # officers never wait for the applicant's notices
    assert not may_go(ogi_overdue, [ogi_warning, czt_overdue])  # the warning first, in that mailbox
    assert may_go(czt_overdue, [ogi_warning, ogi_overdue])  # another mailbox: nothing to wait for
    assert not may_go(applicant, [ogi_warning])  # ... and the applicant's wait for received only
    assert verdict(applicant, "email", [applicant, ogi_warning], held_since=None, now=NOW,
                   patience=PATIENCE).waiting_for == ("received (not yet known)",)


@pytest.mark.parametrize("waited", [timedelta(seconds=899), timedelta(seconds=900), timedelta(hours=5)])
def test_patience_bounds_the_hold_and_says_why(waited):
    reply = item(Kind.REPLY_ISSUED, at=timedelta(days=20))
    v = verdict(reply, "email", [reply], held_since=NOW - waited, now=NOW, patience=PATIENCE)
    if waited < PATIENCE:
        assert v.held and v.note is None
    else:
        assert v.send and v.waiting_for == ("received (not yet known)",)
        assert v.note is not None and "received (not yet known)" in v.note and "patience 900 s" in v.note


def test_a_notice_held_for_the_first_time_counts_its_patience_from_now():
    reply = item(Kind.REPLY_ISSUED, at=timedelta(days=20))
    assert verdict(reply, "email", [reply], held_since=None, now=NOW, patience=timedelta(0)).send
    assert verdict(reply, "email", [reply], held_since=None, now=NOW, patience=timedelta(seconds=1)).held


def test_an_unknown_kind_sits_between_received_and_the_reply():
    new = Item(notice_id="x", kind="something_new", audience="applicant", recipient=None, event_time=T,
               status="pending", channels={"email": "pending"})
    assert not may_go(new, [])  # waits for received like every later step
    assert not may_go(item(Kind.REPLY_ISSUED, at=timedelta(days=20)), [new, item(Kind.RECEIVED, email="delivered")])


def test_item_of_a_stored_notice_without_event_time_uses_its_creation():
    doc = {"_id": "n1", "kind": "received", "created_at": T, "status": "pending",
           "deliveries": {"email": {"status": "sending", "attempts": 1}}}
    it = Item.of(doc)
    assert it.event_time == T and it.audience == "applicant" and it.channels == {"email": "sending"}
