"""The order in which the notices of one case reach one person (pure domain logic).

Notify consumes six topics, each with its own consumer, so the events of one case reach it in
any order across topics: ``reply.issued`` can be consumed before ``application.received`` (a
consumer restarting, a rebalance, the contact arriving late, a delivery retried with backoff).
The applicant must nevertheless be told in the order of the procedure: that the application is
registered before that it is answered; of a correction before the extension that follows it;
of the reply before its amendment.

**Sequences.** The notices of a case form one sequence per person: the applicant's (every
channel of the contact), and one per officer recipient (the OGI office, each department). Order
is kept per sequence *and channel*: the e-mail of the reply waits for the e-mail of the
registration only, the webhook for the webhook.

**Places.** Each kind has a place (``STEP``) in its sequence; within a place, the time of the
event that caused the notice decides, then the notice id (so the order is total and no two
notices can wait for each other)::

    applicant   0 received                       (application.received)
                1 correction_requested, extension_approved, fee_notice_issued, referral_recorded
                2 reply_issued, application_abandoned
                3 reply_amended
    officers    0 deadline_warning, calendar_missing
                1 case_overdue

**What a notice waits for.** A delivery is held while a notice of an earlier place (or of the
same place and an earlier event) of its sequence is known to notify and not yet final on that
channel (delivered, failed, refused or uncertain, or a text submitted to the SMSC; a notice still waiting for the contact holds
its successors too). And every applicant notice but ``received`` waits for the ``received`` of
its case even before notify has heard of it (``REQUIRED``): every case has one, from
``application.received``. The other steps are optional (most cases have no correction, no
extension, no fee): they are waited for once notify has stored them; one consumed only after a
later step was already sent cannot be put before it.

**Patience.** A held delivery is stored as pending (the hold, with what it waits for and since
when, is recorded on the delivery and shown on ``GET /cases/{id}/notices``), never dropped, and
re-examined at every dispatch round. Once it has waited ``patience`` (``NOTIFY_ORDER_PATIENCE_SECONDS``,
longer than a predecessor's own retries take) it is sent anyway, with the reason logged and
recorded (``order_note``): a notice is never held forever by a predecessor that never comes (an
``application.received`` notify never consumed) or never ends.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from services.notify.kinds import Audience, Kind

# The final states of one delivery (after them, nothing more is sent on that channel). A text
# ``submitted`` (every part accepted by the SMSC) waits for its delivery receipts only: nothing more
# is sent on that channel, so the case's later texts need not wait for the receipts.
FINAL_DELIVERY = ("delivered", "failed", "refused", "uncertain", "submitted")
AWAITING_CONTACT = "awaiting_contact"
DONE = "done"

STEP: dict[str, dict[str, int]] = {
    Audience.APPLICANT.value: {
        Kind.RECEIVED.value: 0,
        Kind.CORRECTION_REQUESTED.value: 1,
        Kind.EXTENSION_APPROVED.value: 1,
        Kind.FEE_NOTICE_ISSUED.value: 1,
        Kind.REFERRAL_RECORDED.value: 1,
        Kind.REPLY_ISSUED.value: 2,
        Kind.APPLICATION_ABANDONED.value: 2,
        Kind.REPLY_AMENDED.value: 3,
    },
    Audience.OFFICER.value: {
        Kind.DEADLINE_WARNING.value: 0,
        Kind.CALENDAR_MISSING.value: 0,
        Kind.CASE_OVERDUE.value: 1,
    },
}
# A kind not listed (a new one) goes between the first and the last steps.
DEFAULT_STEP = 1
# The notice every case has, per audience: waited for even before notify has heard of it.
REQUIRED: dict[str, str] = {Audience.APPLICANT.value: Kind.RECEIVED.value}


@dataclass(frozen=True)
class Item:
    """What the order needs of one notice."""

    notice_id: str
    kind: str
    audience: str
    recipient: str | None
    event_time: datetime
    status: str  # the notice's: awaiting_contact, pending, done
    channels: Mapping[str, str] = field(default_factory=dict)  # channel -> delivery status

    @classmethod
    def of(cls, doc: Mapping[str, Any]) -> Item:
        """From a stored notice (``event_time`` missing on notices stored before it: their creation)."""
        return cls(
            notice_id=str(doc["_id"]), kind=doc["kind"], audience=doc.get("audience", Audience.APPLICANT.value),
            recipient=doc.get("recipient"), event_time=doc.get("event_time") or doc["created_at"],
            status=doc["status"],
            channels={ch: d.get("status", "pending") for ch, d in (doc.get("deliveries") or {}).items()},
        )


def step(audience: str, kind: str) -> int:
    return STEP.get(audience, {}).get(kind, DEFAULT_STEP)


def place(item: Item) -> tuple[int, datetime, str]:
    """The item's place in its sequence: step, then the event's time, then the id (a total order)."""
    return step(item.audience, item.kind), item.event_time, item.notice_id


def same_sequence(a: Item, b: Item) -> bool:
    return a.audience == b.audience and (a.audience == Audience.APPLICANT.value or a.recipient == b.recipient)


def blocks(predecessor: Item, channel: str) -> bool:
    """Whether an earlier notice still keeps later ones back on ``channel``."""
    if predecessor.status == AWAITING_CONTACT:
        return True  # it gets the contact's channels at the next round, then goes first
    if predecessor.status == DONE:
        return False
    status = predecessor.channels.get(channel)
    return status is not None and status not in FINAL_DELIVERY


@dataclass(frozen=True)
class Verdict:
    send: bool
    waiting_for: tuple[str, ...] = ()  # what it waits (or waited) for: notice ids, or "received (not yet known)"
    note: str | None = None  # set when sent although its predecessors are not through: why

    @property
    def held(self) -> bool:
        return not self.send


def missing_label(kind: str) -> str:
    return f"{kind} (not yet known)"


def verdict(notice: Item, channel: str, case_notices: Iterable[Item], *, held_since: datetime | None,
            now: datetime, patience: timedelta) -> Verdict:
    """Whether the delivery of ``notice`` on ``channel`` may go now.

    ``case_notices``: every notice of the case notify has stored (the notice itself may be among
    them); ``held_since``: when this delivery was first held (None: not held before)."""
    mine = place(notice)
    others = [o for o in case_notices if o.notice_id != notice.notice_id and same_sequence(o, notice)]
    waiting = [o.notice_id for o in sorted(others, key=place) if place(o) < mine and blocks(o, channel)]
    required = REQUIRED.get(notice.audience)
    if (required is not None and notice.kind != required and step(notice.audience, notice.kind)
            > step(notice.audience, required) and not any(o.kind == required for o in others)):
        waiting.insert(0, missing_label(required))
    if not waiting:
        return Verdict(send=True)
    since = held_since or now
    if now - since >= patience:
        return Verdict(send=True, waiting_for=tuple(waiting),
                       note=f"sent after waiting {int((now - since).total_seconds())} s "
                            f"(patience {int(patience.total_seconds())} s) for: {', '.join(waiting)}")
    return Verdict(send=False, waiting_for=tuple(waiting))
