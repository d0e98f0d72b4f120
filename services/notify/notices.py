"""Notices to applicants (and officers) and their deliveries, one per channel, each delivered at most once.

A notice is created once per fact (its id derives from the event id), so a redelivered event
changes nothing. The dispatcher sends what is due, in the order of the case's steps
(``services.notify.order``: a notice of a later step is held, stored as pending with what it waits
for, until the earlier ones are through or its patience is spent), records the delivery together
with its ``notice.delivered`` event (one atomic write, outbox in the same document), and retries
failures with exponential backoff.

**Claim, commit, confirm (issue #16: "killed while delivering, sent again after restart").**
A delivery goes ``pending`` → ``sending`` → ``delivered`` (or ``failed``, ``refused``, ``uncertain``):

1. *Claim*, before anything is sent: a conditional update (``pending`` with the attempts seen →
   ``sending``) writes ``claim = {by: instance, token: process, at, phase: "claimed"}``; of two
   dispatchers only one claims a delivery.
2. *E-mail*: the envelope and the whole content go to the server, then ``phase: "committing"``
   is recorded, then the end of data; the server's final reply (``250 …``, with its queue id when
   it gives one) is recorded with ``delivered`` (``smtp_reply``, ``message_id``). *Webhook*: the
   signed POST, then ``delivered``.
3. *Recovery*: a delivery found ``sending`` was claimed by a dispatcher that died — this
   instance's earlier process (same instance id, ``GONGKAI_KAFKA_INSTANCE_ID``): at once; another
   instance: once the claim is ``claim_lease_seconds`` old.

   - A webhook, or an e-mail still in phase ``claimed``, is sent again. The e-mail is safe: its
     end of data was never sent, and a server that loses the connection before it discards the
     message (RFC 5321 §4.1.1.4), so no copy exists. The webhook is at-least-once: the receiver
     recognises the repeat by ``webhook-id`` / ``Idempotency-Key``.
   - An e-mail in phase ``committing`` (or one whose reply never came, ``SmtpUncertain``) may be
     in the server's queue — and nearly always is, the reply takes milliseconds — but nothing
     proves it (RFC 1047). **Policy: at most once after the commit.** It is never sent again
     automatically: it becomes ``uncertain`` (final), logged (``notice_delivery_uncertain``, with
     the Message-ID) and shown to officers on ``GET /cases/{id}/notices`` with the reason, so that
     one can look the Message-ID up in the mail server's log and, if it really never left, tell
     the applicant. Sending it again would put a second copy in the applicant's mailbox in the
     likely case (an ordinary mailbox does not merge copies by Message-ID); a rare notice that an
     officer sees as uncertain is preferred to a copy every applicant would see. No
     ``notice.delivered`` event is published for it (that topic records what the applicant was
     told, and that is not known). *Resolution* (issue #12): the OGI office lists every
     uncertain delivery (``GET /notices/uncertain``, the page ``/work/notices/uncertain``) and,
     having looked the Message-ID up in the mail server's log, resolves each with one conditional
     write (still ``uncertain``; ``resolution_change``): ``sent`` makes it ``delivered`` (with
     ``confirmed_manually`` and then its ``notice.delivered``), ``resend`` makes it ``pending``
     again and the dispatcher sends it (same Message-ID).
   - A 250 read by this process whose record failed (the store down) is recorded at the next
     round from memory, without sending again.

A webhook is sent only signed (Standard Webhooks, with the subscription's secret from the
contact) and only to an allowed destination (``destinations``). A contact with a webhook but no
secret (registered before webhooks were signed), or a destination refused (scheme, an address
in a private range …), makes the webhook delivery ``refused`` with the reason: recorded, not
retried; the e-mail still goes out.

**Text messages (issue #17).** An applicant notice goes by SMS when the contact chose it
(``notify_by`` holds ``sms``) and the phone is a mobile number; by e-mail only when the contact
chose e-mail (or made no choice, registered before it existed, and gave an address) — or chose
SMS, which cannot go (no SMSC configured, not a mobile number), and gave an address: then the
e-mail records why it went (``fallback_from``, ``fallback_reason``). With neither, the notice
is ``done`` with ``no_channel_reason`` (logged ``notice_no_channel``; GET /cases/{id}/notices
shows it). Its text
(``messages.sms_text``) names the tracking number and the step, nothing more, and points to the
status page; one text per step, split into UCS-2 parts if long (``sms``). The same claim and
commit as e-mail: ``committing`` is recorded before the first ``submit_sm``; a text found
``committing`` after a crash, or whose SMSC answers broke off after a part left, is ``uncertain``
(never sent again automatically; resolved per channel like an e-mail); nothing accepted yet →
retried with backoff. Every part accepted → ``submitted`` with the parts' message ids (final for
the order of the case's later notices: nothing more is sent on the channel); its delivery
receipts (kept per message id in ``sms_receipts``, also when they come before that record or
after a restart; a final one never replaced by a later intermediate one) make it ``delivered``
once every part is DELIVRD — at the receipt's done time, with its ``notice.delivered`` — or
``failed`` (UNDELIV, REJECTD, EXPIRED …) with the reason. Inside the quiet hours (防打扰,
``quiet``) a text is held, pending with ``quiet_until``, until they end. The window is the one
the OGI office set (``quiet_setting``; the environment's until it does), read at the start of a
round (cached a few seconds); when it changes, the texts held by the old one are re-examined in
that round (``reexamine_quiet``).

Applicant notices wait for the applicant's contact (``awaiting_contact``) and go by e-mail, SMS and
webhook. Officer notices (deadline warnings, overdue cases) are one notice per event and recipient,
e-mail only, addressed when created; no ``notice.delivered`` event is published for them (that
topic records what the applicant was told).
"""

from __future__ import annotations

import socket
import uuid
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import structlog
from prometheus_client import Gauge
from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from contracts import topics
from contracts.envelope import deterministic_id, new_event
from contracts.events import ContactRegistered, NoticeDeliveredV2
from contracts.vocabulary import NoticeChannel
from services.notify import order
from services.notify.destinations import Refused
from services.notify.documents import Attachment, DocumentFetcher
from services.notify.faults import NONE as NO_FAULTS
from services.notify.faults import Faults
from services.notify.kinds import Audience, Kind, contract_kind
from services.notify.messages import Message, backoff_seconds, sms_text
from services.notify.quiet import QuietHours, quiet_until
from services.notify.quiet_setting import QuietHoursSetting
from services.notify.sms import FINAL_STATES, Receipt, SmsUncertain, mobile_number, receipt_outcome
from services.notify.senders import SmtpSender, SmtpUncertain, WebhookSender, message_id
from services.notify.settings import NotifySettings
from servicekit import outbox
from servicekit.versioned import Change, Versioned

log = structlog.get_logger()
# Operators alert on it (docs/operations.md): an e-mail the applicant may not have, until the OGI
# office resolves it on 投递结果不确定的邮件. Refreshed by notify's loop and after each resolution.
UNCERTAIN_DELIVERIES = Gauge("gongkai_notices_uncertain",
                             "Deliveries left uncertain (killed between the SMTP commit and the 250), awaiting the OGI office")

AWAITING_CONTACT = "awaiting_contact"
PENDING = "pending"
DONE = "done"
# The final states of one delivery ("uncertain": at most once after the commit, see above).
FINAL = order.FINAL_DELIVERY


def now() -> datetime:
    return datetime.now(UTC)


def served_document(notice: dict[str, Any], channel: NoticeChannel) -> str | None:
    """The document a delivery's ``notice.delivered`` names (v2 ``document_id``: the reply service
    records it served, 送达, by that channel at ``delivered_at``). An e-mail names it only when it
    carried it as its attachment (recorded on the delivery at its claim, ``attachment``): one sent
    without it once the document patience was spent told the applicant of the step, but served
    nothing. A text never carries the document (it points to the status page): it names the
    notice's document, and the reply service decides whether a text serves, by the applicant's
    chosen method of delivery. A webhook names the notice's (the reply service ignores webhooks)."""
    if channel is NoticeChannel.EMAIL:
        delivery = (notice.get("deliveries") or {}).get(channel.value) or {}
        return (delivery.get("attachment") or {}).get("document_id")
    return notice.get("document_id")


def delivered_change(notice: dict[str, Any], channel: NoticeChannel, attempts: int, delivered_at: datetime,
                     source: str, *, reply: str | None = None, closes: bool = False,
                     extra: dict[str, Any] | None = None, serves: bool = True) -> Change:
    """A delivery recorded ``delivered`` with its ``notice.delivered`` event (for an applicant's
    notice of a kind the contract knows), in one change: the dispatcher's confirmation of a 250,
    and an officer's confirmation of an uncertain e-mail (``resolution_change``) alike.
    ``closes``: the notice is ``done`` in the same write; ``extra``: more fields of the delivery;
    ``serves``: False when the delivery is no receipt of its arrival (an officer's ``sent``), so the
    event names no document (``served_document``) and no date of service follows from it."""
    field = f"deliveries.{channel.value}"
    key = f"{notice['_id']}:{channel.value}"
    done: dict[str, Any] = {f"{field}.status": "delivered", f"{field}.delivered_at": delivered_at}
    if channel is NoticeChannel.EMAIL:
        done[f"{field}.smtp_reply"] = reply
        done[f"{field}.message_id"] = message_id(key)
    for name, value in (extra or {}).items():
        done[f"{field}.{name}"] = value
    if closes:
        done["status"] = DONE
    records: list[dict[str, Any]] = []
    kind = contract_kind(notice["kind"])
    if notice.get("audience", Audience.APPLICANT.value) == Audience.APPLICANT.value and kind is not None:
        event = new_event(
            NoticeDeliveredV2(case_id=notice["case_id"], notice_id=key, kind=kind, channel=channel,
                              attempts=attempts, delivered_at=delivered_at,
                              document_id=served_document(notice, channel) if serves else None),
            source=source,
            subject=notice["case_id"],
            event_id=deterministic_id("notice.delivered", key),
            causation_id=notice["cause_event_id"],
        )
        records.append(outbox.record(topics.NOTICES_DELIVERED.name, event))
    return Change(set=done, records=records)


# -- an officer resolves an uncertain e-mail (issue #12) ------------------------------------------

UNCERTAIN = "uncertain"


class Outcome(StrEnum):
    """What the OGI office found for an uncertain delivery."""

    SENT = "sent"  # the mail server's log shows the message left: it is delivered
    RESEND = "resend"  # it never left (or nobody can tell): send it again (same Message-ID)


class NoticeNotFound(Exception):
    """No such notice, or no delivery on that channel."""


class NotUncertain(Exception):
    """The delivery is not (or no longer) ``uncertain``: nothing to resolve."""

    def __init__(self, status: str | None) -> None:
        super().__init__(status)
        self.status = status


def resolution_change(notice: dict[str, Any] | None, channel: NoticeChannel, outcome: Outcome,
                      officer: dict[str, str], note: str, at: datetime, source: str) -> Change:
    """The change an officer's resolution makes to an ``uncertain`` delivery (pure).

    ``sent``: ``delivered``, with ``confirmed_manually = {by, by_subject, at, note}`` and the same
    ``notice.delivered`` event a confirmed 250 gives (``delivered_change``), except that it names no
    document (``document_id`` None: the officer's click is no date of service). ``resend``: back to
    ``pending`` with its attempts reset, the notice due now (the dispatcher sends it again, with
    the same Message-ID). Either way ``resolution`` records who, when, why and what was uncertain.
    The caller writes it only while the delivery is still ``uncertain`` (one conditional write:
    of two officers resolving it at once, one does)."""
    if notice is None or channel.value not in (notice.get("deliveries") or {}):
        raise NoticeNotFound(f"{notice['_id'] if notice else '?'}:{channel.value}")
    delivery = notice["deliveries"][channel.value]
    if delivery.get("status") != UNCERTAIN:
        raise NotUncertain(delivery.get("status"))
    field = f"deliveries.{channel.value}"
    resolution = {"outcome": outcome.value, "by": officer["by"], "by_subject": officer["by_subject"], "at": at,
                  "note": note, "uncertain_at": delivery.get("uncertain_at"),
                  "uncertain_reason": delivery.get("uncertain_reason")}
    if outcome is Outcome.SENT:
        confirmed = {"by": officer["by"], "by_subject": officer["by_subject"], "at": at, "note": note}
        # The officer saw that it left (the mail server's log, the SMSC's records), not when it
        # reached the applicant: no receipt of its arrival, so it serves no document (送达).
        change = delivered_change(notice, channel, int(delivery.get("attempts") or 0), at, source,
                                  extra={"confirmed_manually": confirmed, "resolution": resolution}, serves=False)
        change.set.pop(f"{field}.smtp_reply", None)  # no reply was read: the officer's confirmation stands for it
        return change
    return Change(
        set={f"{field}.status": "pending", f"{field}.attempts": 0, f"{field}.resolution": resolution,
             "status": PENDING, "next_at": at},
        unset=[f"{field}.{name}" for name in ("claim", "retry_at", "held_by", "held_since", "last_error",
                                              "resumed_at")])


class NoticeStore:
    def __init__(self, db: AsyncDatabase) -> None:
        self.notices = db["notices"]
        # A notice's ``notice.delivered`` goes out with the write that records the delivery
        # (servicekit.versioned); each such write is guarded by the delivery's state (the claim).
        self.versioned = Versioned(self.notices)
        self.contacts = db["contacts"]
        self.cases = db["cases"]
        # Delivery receipts of texts, one per SMSC message id (kept: one may come before its
        # delivery records the message ids, or after a restart).
        self.receipts = db["sms_receipts"]

    async def setup(self) -> None:
        await self.notices.create_index([("status", ASCENDING), ("next_at", ASCENDING)])
        await self.notices.create_index("case_id")
        for channel in NoticeChannel:  # the OGI office's list of uncertain deliveries (rare: a small index)
            await self.notices.create_index(f"deliveries.{channel.value}.status")
        await self.notices.create_index(f"deliveries.{NoticeChannel.SMS.value}.parts.message_id")
        await outbox.ensure_indexes(self.notices)

    async def save_contact(self, c: ContactRegistered) -> None:
        await self.contacts.update_one(
            {"_id": c.case_id},
            {"$set": {"name": c.name, "email": c.email, "webhook_url": c.webhook_url,
                      "webhook_secret": c.webhook_secret, "applicant_ref": c.applicant_ref, "phone": c.phone,
                      "notify_by": None if c.notify_by is None else [ch.value for ch in c.notify_by]}},
            upsert=True,
        )
        # The case's notices waiting for it look again now (not at their next poll).
        await self.notices.update_many({"case_id": c.case_id, "status": AWAITING_CONTACT},
                                       {"$set": {"next_at": now()}})

    async def save_case(self, case_id: str, tracking_number: str, agency_code: str | None = None) -> None:
        """Remember a case's tracking number (procedure events carry only the case id) and its
        agency (the sender id of its texts)."""
        fields: dict[str, Any] = {"tracking_number": tracking_number}
        if agency_code:
            fields["agency_code"] = agency_code
        await self.cases.update_one({"_id": case_id}, {"$set": fields}, upsert=True)

    async def agency_code(self, case_id: str) -> str | None:
        doc = await self.cases.find_one({"_id": case_id}, {"agency_code": 1})
        return (doc or {}).get("agency_code")

    async def tracking_number(self, case_id: str) -> str | None:
        doc = await self.cases.find_one({"_id": case_id})
        return doc.get("tracking_number") if doc else None

    async def create(self, *, notice_id: str, case_id: str, tracking_number: str | None, kind: Kind,
                     message: Message, cause_event_id: str, officer: tuple[str, str] | None = None,
                     event_time: datetime | None = None, document_id: str | None = None) -> bool:
        """Create a notice once (a second create with the same id changes nothing).

        ``officer`` is (recipient key, e-mail) for an officer notice: e-mail only, addressed now.
        ``event_time``: the time of the event it tells of (its place among its step, ``order``).
        ``document_id``: the document the notice carries (its e-mail's attachment, ``documents``)."""
        deliveries: dict[str, Any] = {}
        if officer is not None:
            deliveries[NoticeChannel.EMAIL.value] = {"status": "pending", "attempts": 0, "to": officer[1]}
        doc = {
            "_id": notice_id,
            "case_id": case_id,
            "tracking_number": tracking_number,
            "kind": kind.value,
            "audience": (Audience.OFFICER if officer else Audience.APPLICANT).value,
            "recipient": officer[0] if officer else None,
            "subject": message.subject,
            "body": message.body,
            "cause_event_id": cause_event_id,
            "event_time": event_time or now(),
            "document_id": document_id,
            "status": PENDING if officer else AWAITING_CONTACT,
            "deliveries": deliveries,
            "next_at": now(),
            "created_at": now(),
        }
        return await self.versioned.insert(doc)

    async def knows_case(self, case_id: str) -> bool:
        """Whether notify has heard of the case: its application, a contact or a notice."""
        for collection, key in ((self.cases, "_id"), (self.contacts, "_id"), (self.notices, "case_id")):
            if await collection.find_one({key: case_id}, {"_id": 1}) is not None:
                return True
        return False

    async def webhook_secret(self, case_id: str) -> str | None:
        doc = await self.contacts.find_one({"_id": case_id}, {"webhook_secret": 1})
        return (doc or {}).get("webhook_secret") or None

    async def list_for_case(self, case_id: str) -> list[dict[str, Any]]:
        return [d async for d in self.notices.find({"case_id": case_id}, {"outbox": 0}).sort("created_at", ASCENDING)]

    async def count_uncertain(self) -> int:
        """The deliveries left ``uncertain`` now (what ``gongkai_notices_uncertain`` shows)."""
        n = 0
        for ch in NoticeChannel:
            n += await self.notices.count_documents({f"deliveries.{ch.value}.status": UNCERTAIN})
        UNCERTAIN_DELIVERIES.set(n)
        return n

    async def list_uncertain(self) -> list[dict[str, Any]]:
        """Every delivery in state ``uncertain`` (all cases), newest first: what the OGI office
        resolves (``GET /notices/uncertain``); the recipient is the delivery's own address."""
        query = {"$or": [{f"deliveries.{ch.value}.status": UNCERTAIN} for ch in NoticeChannel]}
        rows: list[dict[str, Any]] = []
        numbers: dict[str, str | None] = {}
        async for d in self.notices.find(query, {"outbox": 0, "body": 0}):
            number = d.get("tracking_number")
            if not number:
                if d["case_id"] not in numbers:
                    numbers[d["case_id"]] = await self.tracking_number(d["case_id"])
                number = numbers[d["case_id"]]
            for channel, delivery in (d.get("deliveries") or {}).items():
                if delivery.get("status") != UNCERTAIN:
                    continue
                rows.append({
                    "case_id": d["case_id"], "tracking_number": number, "notice_id": d["_id"], "kind": d["kind"],
                    "audience": d.get("audience", Audience.APPLICANT.value), "channel": channel,
                    "subject": d["subject"], "recipient": delivery.get("to"),
                    "attempts": delivery.get("attempts"), "uncertain_at": delivery.get("uncertain_at"),
                    "uncertain_reason": delivery.get("uncertain_reason"), "message_id": delivery.get("message_id"),
                    "sms_message_ids": [p["message_id"] for p in delivery.get("parts") or []] or None,
                })
        oldest = datetime.min.replace(tzinfo=UTC)
        rows.sort(key=lambda r: _aware(r["uncertain_at"]) or oldest, reverse=True)
        return rows

    async def resolve(self, notice_id: str, channel: NoticeChannel, outcome: Outcome, officer: dict[str, str],
                      note: str, source: str) -> dict[str, Any]:
        """An officer's resolution of an uncertain delivery (``resolution_change``), written only
        while it is still uncertain; returns the delivery as it now is. Raises ``NoticeNotFound``,
        ``NotUncertain`` (also when another officer resolved it between the read and the write)."""
        doc = await self.versioned.load(notice_id)
        change = resolution_change(doc, channel, outcome, officer, note, now(), source)
        field = f"deliveries.{channel.value}"
        if not await self.versioned.write_if(notice_id, {f"{field}.status": UNCERTAIN}, change):
            after = await self.versioned.load(notice_id)
            raise NotUncertain(((after or {}).get("deliveries") or {}).get(channel.value, {}).get("status"))
        after = await self.versioned.load(notice_id)
        assert after is not None
        return after["deliveries"][channel.value]


class Dispatcher:
    """Sends what is due, one delivery at a time, in the order of the steps (``order``), each
    claimed in the store before it is sent (module docstring: claim, commit, recovery)."""

    def __init__(self, store: NoticeStore, settings: NotifySettings, smtp: SmtpSender, webhook: WebhookSender,
                 wake_relay, *, owner: str = "", faults: Faults = NO_FAULTS,
                 documents: DocumentFetcher | None = None, sms: Any = None,  # noqa: ANN001, ANN401
                 quiet_setting: QuietHoursSetting | None = None) -> None:
        self.store, self.settings, self.smtp, self.webhook = store, settings, smtp, webhook
        # The SMPP client (sms.SmppSender, or a fake in tests); None: no SMS channel.
        self.sms = sms
        # 防打扰: the OGI office's window (the environment's until it sets one), refreshed each round.
        self.quiet_setting = quiet_setting or QuietHoursSetting(
            store.notices.database, settings.sms_quiet_hours, settings.sms_quiet_cache_seconds)
        self.quiet = QuietHours.parse(settings.sms_quiet_hours)  # invalid: refuse to start
        self.documents = documents  # the attachments (None: e-mails go without them)
        self.wake_relay = wake_relay
        # Who claims: the instance (stable across restarts of one instance), and this process.
        self.owner = owner or f"{socket.gethostname()}:{settings.http_port}"
        self.token = uuid.uuid4().hex
        self.faults = faults
        # SMTP replies read but not yet recorded (the store failed in between): recorded next round.
        self.confirmed: dict[str, str | None] = {}

    @property
    def patience(self) -> timedelta:
        return timedelta(seconds=self.settings.order_patience_seconds)

    async def run_once(self) -> int:
        """Deliver what is due now; returns the number of deliveries attempted (held ones not counted)."""
        await self.refresh_quiet()
        attempted = 0
        due = self.store.notices.find(
            {"status": {"$in": [AWAITING_CONTACT, PENDING]}, "next_at": {"$lte": now()}}, {"outbox": 0}
        ).sort("next_at", ASCENDING).limit(100)
        async for notice in due:
            case = _CaseView(notice["case_id"])
            if notice["status"] == AWAITING_CONTACT:
                notice = await self._attach_contact(notice, case)
                if notice is None:
                    continue
            for channel, delivery in notice["deliveries"].items():
                if delivery["status"] == "sending":
                    attempted += await self._recover(notice, NoticeChannel(channel), delivery, case)
                elif delivery["status"] == "pending" and not _later(delivery.get("retry_at")):
                    attempted += await self._consider(notice, NoticeChannel(channel), delivery, case)
            await self._settle(notice, case)
        return attempted

    # -- quiet hours (防打扰) ----------------------------------------------------------------

    async def refresh_quiet(self) -> None:
        """The window in force for this round (the stored setting, cached ``sms_quiet_cache_seconds``);
        when it is not the one the last round used, the texts held by the old one are re-examined
        now. Run at the start of a round, so that no round of this process holds a text by the old
        window after the re-examination (another instance's round does it after its own read)."""
        current = await self.quiet_setting.cached()
        window = current.window
        if window == self.quiet:
            return
        previous, self.quiet = self.quiet, window
        log.info("sms_quiet_hours_in_force", quiet_hours=current.quiet_hours, source=current.source,
                 previous=str(previous or ""))
        await self.reexamine_quiet()

    def quiet_changed(self) -> None:
        """This process just stored a new window: the next round reads it (and re-examines)."""
        self.quiet_setting.forget()

    async def reexamine_quiet(self) -> int:
        """Every text held by quiet hours now (pending, ``quiet_until`` ahead), looked at again with
        the window in force: one it does not cover now goes at once (``quiet_until`` becomes now:
        held until now), one it covers waits for its end (earlier or later than the old window's:
        the office's current setting counts). Each write is conditional on the hold read, so a text
        that a round sent or held meanwhile is left alone. Returns how many changed."""
        field = f"deliveries.{NoticeChannel.SMS.value}"
        at = now()
        changed = released = 0
        held = self.store.notices.find(
            {"status": PENDING, f"{field}.status": "pending", f"{field}.quiet_until": {"$gt": at}},
            {"_id": 1, "case_id": 1, f"{field}.quiet_until": 1})
        async for doc in held:
            old = _aware(doc["deliveries"][NoticeChannel.SMS.value]["quiet_until"])
            until = quiet_until(at, self.quiet)
            new = until or at
            if new == old:
                continue
            done = await self.store.notices.update_one(
                {"_id": doc["_id"], "status": PENDING, f"{field}.status": "pending", f"{field}.quiet_until": old},
                {"$set": {f"{field}.quiet_until": new, f"{field}.retry_at": new, f"{field}.quiet_reexamined_at": at,
                          "next_at": at}})
            if done.modified_count == 1:
                changed += 1
                released += until is None
        if changed:
            log.info("notice_sms_quiet_hours_reexamined", changed=changed, released=released,
                     quiet_hours=str(self.quiet or ""))
        return changed

    # -- order -----------------------------------------------------------------------------

    async def _case_items(self, case: _CaseView) -> list[order.Item]:
        """The case's notices, read once per notice and round (``_CaseView``)."""
        if case.docs is None:
            case.docs = [d async for d in self.store.notices.find({"case_id": case.case_id}, {"outbox": 0})]
        return [order.Item.of(d) for d in case.docs]

    async def _consider(self, notice: dict[str, Any], channel: NoticeChannel, delivery: dict[str, Any],
                        case: _CaseView) -> int:
        """Send the delivery if the notices before it (``order``) are through; else hold it."""
        field = f"deliveries.{channel.value}"
        items = await self._case_items(case)
        me = next((i for i in items if i.notice_id == notice["_id"]), None)
        if me is None:
            return 0
        v = order.verdict(me, channel.value, items, held_since=delivery.get("held_since"), now=now(),
                          patience=self.patience)
        if v.held:
            update: dict[str, Any] = {f"{field}.held_by": list(v.waiting_for), "held": True}
            if not delivery.get("held_since"):
                update[f"{field}.held_since"] = now()
                log.info("notice_held", case_id=notice["case_id"], kind=notice["kind"], channel=channel.value,
                         waiting_for=list(v.waiting_for))
            await self.store.notices.update_one({"_id": notice["_id"]}, {"$set": update})
            return 0
        if v.note is not None:
            log.warning("notice_order_patience_exhausted", case_id=notice["case_id"], kind=notice["kind"],
                        channel=channel.value, reason=v.note)
        if channel is NoticeChannel.SMS:
            until = quiet_until(now(), self.quiet)
            if until is not None:  # 防打扰: held (pending) until the window ends, then sent
                # (no longer held by the order: its next round is the window's end, not the next poll)
                await self.store.notices.update_one(
                    {"_id": notice["_id"], f"{field}.status": "pending"},
                    {"$set": {f"{field}.quiet_until": until, f"{field}.retry_at": until},
                     "$unset": {f"{field}.held_by": ""}})
                if delivery.get("quiet_until") != until:
                    log.info("notice_sms_quiet_hours", case_id=notice["case_id"], kind=notice["kind"],
                             until=until.isoformat())
                return 0
        await self._deliver(notice, channel, delivery, order_note=v.note, case=case)
        return 1

    async def _settle(self, notice: dict[str, Any], case: _CaseView) -> None:
        """After a round of the notice: ``done`` once every delivery is final, else rescheduled.
        When this round made every delivery that was not final yet final itself (the usual case),
        that is known without reading the notice again (a final state never changes)."""
        nid = notice["_id"]
        if notice["status"] != PENDING or nid in case.closed:
            return
        if all(d["status"] in FINAL or (nid, ch) in case.finalised for ch, d in notice["deliveries"].items()):
            await self.store.notices.update_one({"_id": nid, "status": PENDING}, {"$set": {"status": DONE}})
            return
        doc = await self.store.notices.find_one({"_id": nid}, {"outbox": 0})
        if doc is None or doc["status"] != PENDING:
            return
        if all(d["status"] in FINAL for d in doc["deliveries"].values()):
            await self.store.notices.update_one({"_id": nid, "status": PENDING}, {"$set": {"status": DONE}})
            return
        await self._reschedule(doc)

    async def _reschedule(self, doc: dict[str, Any]) -> None:
        """The notice's next round: its earliest retry, or the next poll while a delivery is held."""
        notice_id = doc["_id"]
        pending = [d for d in doc["deliveries"].values() if d["status"] == "pending"]
        held = any(d.get("held_by") for d in pending)
        times = [now() + timedelta(seconds=self.settings.poll_seconds) if d.get("held_by")
                 else (d.get("retry_at") or now()) for d in pending]
        update: dict[str, Any] = {"held": held}
        if times:
            update["next_at"] = min(times)
        await self.store.notices.update_one({"_id": notice_id}, {"$set": update})

    async def _release_successors(self, case_id: str, case: _CaseView | None = None, notice_id: str | None = None,
                                  channel: NoticeChannel | None = None) -> None:
        """A delivery of the case reached a final state: the notices held behind it look again now.
        ``case``/``notice_id``/``channel``: the delivery's round, which records it final; when the
        case's notices read in that round showed none held but this one, there is nothing to release
        (a notice held after that read, by another dispatcher, looks again at its next poll, as
        every held notice does)."""
        if case is not None and notice_id is not None:
            if channel is not None:
                case.finalised.add((notice_id, channel.value))
            if case.docs is not None and not any(d.get("held") for d in case.docs if d["_id"] != notice_id):
                return
        await self.store.notices.update_many({"case_id": case_id, "held": True}, {"$set": {"next_at": now()}})

    # -- contact ---------------------------------------------------------------------------

    async def _attach_contact(self, notice: dict[str, Any], case: _CaseView | None = None) -> dict[str, Any] | None:
        contact = await self.store.contacts.find_one({"_id": notice["case_id"]})
        if contact is not None and case is not None:
            case.webhook_secret = contact.get("webhook_secret") or None
            case.contact_read = True
        if contact is None:
            # Contact details travel on another topic and may arrive a little later.
            await self.store.notices.update_one(
                {"_id": notice["_id"]}, {"$set": {"next_at": now() + timedelta(seconds=self.settings.poll_seconds)}}
            )
            return None
        deliveries = {}
        routes, no_channel = self.channels(contact, notice)
        for channel, fields in routes.items():
            deliveries[channel.value] = {"status": "pending", "attempts": 0, **fields}
        if contact.get("webhook_url"):
            deliveries[NoticeChannel.WEBHOOK.value] = {"status": "pending", "attempts": 0, "to": contact["webhook_url"]}
        status = PENDING if deliveries else DONE
        attach: dict[str, Any] = {"deliveries": deliveries, "status": status}
        if no_channel is not None:
            # Neither e-mail nor text goes: shown with the notice (GET /cases/{id}/notices), not silent.
            attach["no_channel_reason"] = no_channel
            log.warning("notice_no_channel", case_id=notice["case_id"], kind=notice["kind"], reason=no_channel,
                        webhook=bool(contact.get("webhook_url")))
        attached = await self.store.notices.update_one(
            {"_id": notice["_id"], "status": AWAITING_CONTACT}, {"$set": attach})
        if status == DONE:
            await self._release_successors(notice["case_id"])
        if attached.modified_count == 1:  # this write made it so: no need to read it back
            return {**notice, **attach}
        return await self.store.notices.find_one({"_id": notice["_id"]}, {"outbox": 0})

    def channels(self, contact: dict[str, Any],
                 notice: dict[str, Any]) -> tuple[dict[NoticeChannel, dict[str, Any]], str | None]:
        """The applicant's channels for a notice, each with its delivery's fields (``to``; webhooks
        aside), and, when neither e-mail nor a text goes, why (else None).

        ``notify_by`` unset (a contact registered before the choice existed): e-mail when there is
        an address. Else e-mail only if chosen (and an address given), SMS only if chosen and the
        phone is a mobile number (a landline gets no text; logged) and the SMS channel is on. An
        applicant who chose SMS, which cannot go, is not left with nothing: the notice goes by
        e-mail when an address was given (``fallback_from: "sms"`` and ``fallback_reason`` on the
        delivery, logged ``notice_sms_fallback_to_email``)."""
        chosen = contact.get("notify_by")
        email = contact.get("email") or None
        out: dict[NoticeChannel, dict[str, Any]] = {}
        if email and (chosen is None or NoticeChannel.EMAIL.value in chosen):
            out[NoticeChannel.EMAIL] = {"to": email}
        sms_off: str | None = None
        if chosen is not None and NoticeChannel.SMS.value in chosen:
            number = mobile_number(contact.get("phone"))
            if number is None:
                sms_off = "the phone given is not a mainland mobile number" if contact.get("phone") else \
                    "no phone number given"
                log.warning("notice_sms_not_a_mobile", case_id=notice["case_id"], kind=notice["kind"])
            elif self.sms is None:
                sms_off = "no SMS channel (NOTIFY_SMPP_HOST is empty)"
                log.warning("notice_sms_channel_off", case_id=notice["case_id"], kind=notice["kind"])
            else:
                out[NoticeChannel.SMS] = {"to": number}
        if sms_off is not None and NoticeChannel.EMAIL not in out and email:
            out[NoticeChannel.EMAIL] = {"to": email, "fallback_from": NoticeChannel.SMS.value,
                                        "fallback_reason": sms_off}
            log.warning("notice_sms_fallback_to_email", case_id=notice["case_id"], kind=notice["kind"],
                        reason=sms_off)
        if out:
            return out, None
        if sms_off is not None:
            return out, f"the applicant chose SMS, which cannot go ({sms_off}), and gave no e-mail address"
        if chosen is not None and NoticeChannel.EMAIL.value in chosen:
            return out, "the applicant chose e-mail and gave no e-mail address"
        if chosen is not None:
            return out, "the applicant chose neither e-mail nor SMS"
        return out, "no e-mail address given (no channel chosen: registered before the choice existed)"

    # -- claim, send, confirm ----------------------------------------------------------------

    async def _attachment(self, notice: dict[str, Any], channel: NoticeChannel) -> tuple[bool, Attachment | None]:
        """(go, attachment): the e-mail's document, fetched now; not rendered yet: wait (go False)
        until the patience is spent, then go without it (logged)."""
        document_id = notice.get("document_id")
        if channel is not NoticeChannel.EMAIL or not document_id or self.documents is None:
            return True, None
        found = await self.documents.fetch(document_id)
        if found is not None:
            return True, found
        created = notice.get("created_at") or now()
        created = created if created.tzinfo else created.replace(tzinfo=UTC)
        if now() - created < timedelta(seconds=self.settings.document_patience_seconds):
            await self.store.notices.update_one(
                {"_id": notice["_id"]},
                {"$set": {f"deliveries.{channel.value}.retry_at": now() + timedelta(seconds=self.settings.poll_seconds),
                          f"deliveries.{channel.value}.awaiting_document": document_id}})
            return False, None
        log.warning("notice_sent_without_document", case_id=notice["case_id"], kind=notice["kind"],
                    document_id=document_id)
        return True, None

    async def _deliver(self, notice: dict[str, Any], channel: NoticeChannel, delivery: dict[str, Any],
                       order_note: str | None = None, case: _CaseView | None = None) -> None:
        field = f"deliveries.{channel.value}"
        go, attachment = await self._attachment(notice, channel)
        if not go:
            return
        attempts = int(delivery["attempts"]) + 1
        key = f"{notice['_id']}:{channel.value}"
        claim = {"by": self.owner, "token": self.token, "at": now(), "phase": "claimed"}
        claimed: dict[str, Any] = {f"{field}.status": "sending", f"{field}.attempts": attempts, f"{field}.claim": claim}
        unset: dict[str, str] = {}
        if attachment is not None:
            claimed[f"{field}.attachment"] = attachment.meta()
        elif channel is NoticeChannel.EMAIL:  # an earlier attempt's, if any: this one goes without it
            unset[f"{field}.attachment"] = ""
        extra: dict[str, Any] = {"attachments": [attachment]} if attachment is not None else {}
        if order_note is not None:
            claimed[f"{field}.order_note"] = order_note
        if delivery.get("held_by"):
            claimed[f"{field}.waited_for"] = delivery["held_by"]
        if "held_by" in delivery:
            unset[f"{field}.held_by"] = ""
        update: dict[str, Any] = {"$set": claimed}
        if unset:
            update["$unset"] = unset
        result = await self.store.notices.update_one(
            {"_id": notice["_id"], f"{field}.status": "pending", f"{field}.attempts": delivery["attempts"]}, update)
        if result.modified_count != 1:
            return  # claimed by another dispatcher in the meantime
        mine = {"_id": notice["_id"], f"{field}.claim.token": self.token}
        reply: str | None = None
        try:
            if channel is NoticeChannel.EMAIL:
                async def commit() -> None:
                    done = await self.store.notices.update_one(
                        mine, {"$set": {f"{field}.claim.phase": "committing", f"{field}.claim.committed_at": now()}})
                    if done.modified_count != 1:
                        raise ClaimLost(key)  # taken over (our lease ran out): never end this message

                if getattr(self.smtp, "two_phase", False):
                    reply = await self.smtp.send(to=delivery["to"], subject=notice["subject"], body=notice["body"],
                                                 notice_id=key, commit=commit, **extra)
                else:  # a one-shot sender: the commit before the whole conversation (uncertain if it dies in it)
                    await commit()
                    reply = await self.smtp.send(to=delivery["to"], subject=notice["subject"], body=notice["body"],
                                                 notice_id=key, **extra)
                self.confirmed[key] = reply
            elif channel is NoticeChannel.SMS:
                async def commit_sms() -> None:
                    done = await self.store.notices.update_one(
                        mine, {"$set": {f"{field}.claim.phase": "committing", f"{field}.claim.committed_at": now()}})
                    if done.modified_count != 1:
                        raise ClaimLost(key)

                if self.sms is None:
                    raise Refused("no SMS channel (NOTIFY_SMPP_HOST is empty)")
                source = self.settings.sms_sender(await self.store.agency_code(notice["case_id"]))
                text = sms_text(notice["kind"], notice.get("tracking_number"), self.settings.status_url)
                ids = await self.sms.send(to=delivery["to"], text=text, source=source, notice_id=key,
                                          commit=commit_sms)
                self.confirmed[key] = {"ids": ids, "source": source}
            else:
                secret = (case.webhook_secret if case is not None and case.contact_read
                          else await self.store.webhook_secret(notice["case_id"]))
                if secret is None:
                    raise Refused("no signing secret")  # never unsigned
                payload = {"notice_id": key, "case_id": notice["case_id"], "tracking_number": notice["tracking_number"],
                           "kind": notice["kind"], "subject": notice["subject"], "body": notice["body"]}
                await self.webhook.send(url=delivery["to"], payload=payload, notice_id=key, secret=secret)
        except ClaimLost:
            log.warning("notice_claim_lost", case_id=notice["case_id"], channel=channel.value, notice_id=key)
            return
        except Refused as exc:  # never to be sent there: recorded, not retried
            refused = await self.store.notices.update_one(
                mine,
                {"$set": {f"{field}.status": "refused", f"{field}.refused_reason": exc.reason,
                          f"{field}.refused_at": now()}},
            )
            log.warning("notice_delivery_refused", case_id=notice["case_id"], channel=channel.value, reason=exc.reason)
            await self._release_successors(notice["case_id"], case, notice["_id"],
                                           channel if refused.matched_count == 1 else None)
            return
        except SmtpUncertain as exc:
            await self._uncertain(notice, channel, f"the SMTP conversation broke after the end of data: {exc}", case)
            return
        except SmsUncertain as exc:
            await self._uncertain(notice, channel, f"the SMSC may hold the text (or some of its parts): {exc}", case,
                                  accepted=exc.accepted)
            return
        except Exception as exc:  # noqa: BLE001 - any failure of the far side is retried
            # Here the server did not take the message (an error reply, or the connection lost
            # before the end of data): sending it again makes no second copy.
            failed = attempts >= self.settings.max_attempts
            delay = backoff_seconds(attempts, self.settings.backoff_base_seconds, self.settings.backoff_max_seconds)
            retry_at = now() + timedelta(seconds=delay)
            recorded = await self.store.notices.update_one(
                mine,
                {"$set": {f"{field}.status": "failed" if failed else "pending", f"{field}.last_error": repr(exc)[:500],
                          f"{field}.retry_at": retry_at, "next_at": retry_at}},
            )
            log.warning("notice_delivery_failed", case_id=notice["case_id"], channel=channel.value,
                        attempt=attempts, final=failed, error=repr(exc))
            if failed:
                await self._release_successors(notice["case_id"], case, notice["_id"],
                                               channel if recorded.matched_count == 1 else None)
            return
        if channel is NoticeChannel.SMS:
            await self._record_submitted(notice, attempts, self.confirmed[key], case)
            return
        if channel is NoticeChannel.EMAIL:  # what it carried, as its claim recorded (served_document)
            sent = {**delivery, "attachment": attachment.meta() if attachment is not None else None}
            notice = {**notice, "deliveries": {**notice["deliveries"], channel.value: sent}}
        await self._record_delivered(notice, channel, attempts, reply, case)

    # -- texts: submitted, then the delivery receipts -----------------------------------------

    async def _record_submitted(self, notice: dict[str, Any], attempts: int, sent: dict[str, Any],
                                case: _CaseView | None = None) -> None:
        """Every part accepted by the SMSC: ``submitted`` with the parts' message ids (final for
        the order: nothing more is sent on this channel); then any receipt already in."""
        field = f"deliveries.{NoticeChannel.SMS.value}"
        key = f"{notice['_id']}:{NoticeChannel.SMS.value}"
        parts = [{"seq": i, "message_id": mid} for i, mid in enumerate(sent["ids"], start=1)]
        recorded = await self.store.notices.update_one(
            {"_id": notice["_id"], f"{field}.status": "sending"},
            {"$set": {f"{field}.status": "submitted", f"{field}.submitted_at": now(), f"{field}.parts": parts,
                      f"{field}.sender_id": sent["source"]}})
        self.confirmed.pop(key, None)
        log.info("notice_sms_submitted", case_id=notice["case_id"], kind=notice["kind"], parts=len(parts),
                 message_ids=sent["ids"])
        await self._release_successors(notice["case_id"], case, notice["_id"],
                                       NoticeChannel.SMS if recorded.matched_count == 1 else None)
        await self.apply_receipts(notice["_id"])

    async def on_receipt(self, receipt: Receipt) -> None:
        """A delivery receipt from the SMSC (the SMPP thread awaits this before acknowledging it):
        kept per message id, then applied to its delivery, if that is known yet. A receipt in a
        final state (``sms.FINAL_STATES``) is never replaced (one conditional write): an
        intermediate one (ENROUTE) that comes after a DELIVRD — the SMSC's order is not guaranteed
        — would otherwise undo it and leave the text waiting; the first final one stays."""
        fields = {"stat": receipt.stat, "done_at": receipt.done_at, "err": receipt.err, "text": receipt.text,
                  "received_at": now()}
        not_final = {"_id": receipt.message_id, "stat": {"$nin": sorted(FINAL_STATES)}}
        try:
            await self.store.receipts.update_one(not_final, {"$set": fields}, upsert=True)
        except DuplicateKeyError:
            # It exists in a final state — or another receipt of the message was inserted at the same
            # moment (then this one still replaces it, unless that one is final).
            again = await self.store.receipts.update_one(not_final, {"$set": fields})
            if again.matched_count == 0:
                log.info("sms_receipt_after_final", message_id=receipt.message_id, stat=receipt.stat)
        doc = await self.store.notices.find_one(
            {f"deliveries.{NoticeChannel.SMS.value}.parts.message_id": receipt.message_id}, {"_id": 1})
        if doc is None:
            log.info("sms_receipt_before_its_delivery", message_id=receipt.message_id, stat=receipt.stat)
            return
        await self.apply_receipts(doc["_id"])

    async def apply_receipts(self, notice_id: str) -> None:
        """The text's state from its parts' receipts (``sms.receipt_outcome``): each part's receipt
        recorded on it; every part DELIVRD: ``delivered`` at the last receipt's done time, with its
        ``notice.delivered``; a part UNDELIV / REJECTD / EXPIRED …: ``failed`` with the reason. One
        write, only while the delivery is ``submitted``."""
        field = f"deliveries.{NoticeChannel.SMS.value}"
        notice = await self.store.versioned.load(notice_id)
        delivery = ((notice or {}).get("deliveries") or {}).get(NoticeChannel.SMS.value) or {}
        if notice is None or delivery.get("status") != "submitted":
            return
        ids = [p["message_id"] for p in delivery.get("parts") or []]
        found = {r["_id"]: r async for r in self.store.receipts.find({"_id": {"$in": ids}})}
        parts = [{**p, **({"stat": found[p["message_id"]]["stat"], "done_at": found[p["message_id"]]["done_at"],
                           "err": found[p["message_id"]].get("err")} if p["message_id"] in found else {})}
                 for p in delivery["parts"]]
        outcome = receipt_outcome(ids, found)
        guard = {f"{field}.status": "submitted"}
        if outcome.status == "delivered":
            change = delivered_change(notice, NoticeChannel.SMS, int(delivery.get("attempts") or 1),
                                      outcome.at or now(), self.settings.source, extra={"parts": parts})
            if await self.store.versioned.write_if(notice_id, guard, change):
                self.wake_relay()
                log.info("notice_delivered", case_id=notice["case_id"], channel="sms", kind=notice["kind"],
                         parts=len(parts))
        elif outcome.status == "failed":
            done = await self.store.notices.update_one(
                {"_id": notice_id, **guard},
                {"$set": {f"{field}.status": "failed", f"{field}.parts": parts, f"{field}.failed_reason": outcome.reason,
                          f"{field}.failed_at": outcome.at or now()}})
            if done.modified_count == 1:
                log.warning("notice_sms_not_delivered", case_id=notice["case_id"], kind=notice["kind"],
                            reason=outcome.reason)
        else:
            await self.store.notices.update_one({"_id": notice_id, **guard}, {"$set": {f"{field}.parts": parts}})

    async def _record_delivered(self, notice: dict[str, Any], channel: NoticeChannel, attempts: int,
                                reply: str | None, case: _CaseView | None = None) -> None:
        """The delivery and its ``notice.delivered`` event, in one write."""
        field = f"deliveries.{channel.value}"
        key = f"{notice['_id']}:{channel.value}"
        # The last delivery of the notice to become final closes it in the same write (a final
        # state never changes, so the others read final stay final).
        closes = case is not None and notice.get("status") == PENDING and all(
            d["status"] in FINAL or (notice["_id"], ch) in case.finalised
            for ch, d in notice["deliveries"].items() if ch != channel.value)
        change = delivered_change(notice, channel, attempts, now(), self.settings.source, reply=reply, closes=closes)
        recorded = await self.store.versioned.write_if(notice["_id"], {f"{field}.status": "sending"}, change)
        self.confirmed.pop(key, None)
        if recorded and closes:
            assert case is not None
            case.closed.add(notice["_id"])
        self.wake_relay()
        log.info("notice_delivered", case_id=notice["case_id"], channel=channel.value, kind=notice["kind"],
                 smtp_reply=reply)
        await self._release_successors(notice["case_id"], case, notice["_id"], channel if recorded else None)

    async def _uncertain(self, notice: dict[str, Any], channel: NoticeChannel, reason: str,
                         case: _CaseView | None = None, accepted: list[str] | None = None) -> None:
        """At most once after the commit: not sent again; the OGI office resolves it (GET /notices/uncertain).
        ``accepted``: a text's parts the SMSC did accept (their message ids), if any."""
        field = f"deliveries.{channel.value}"
        key = f"{notice['_id']}:{channel.value}"
        fields: dict[str, Any] = {f"{field}.status": "uncertain", f"{field}.uncertain_reason": reason,
                                  f"{field}.uncertain_at": now()}
        if channel is NoticeChannel.EMAIL:
            fields[f"{field}.message_id"] = message_id(key)
        if accepted:
            fields[f"{field}.parts"] = [{"seq": i, "message_id": mid} for i, mid in enumerate(accepted, start=1)]
        marked = await self.store.notices.update_one(
            {"_id": notice["_id"], f"{field}.status": "sending"}, {"$set": fields})
        if marked.matched_count == 1:
            UNCERTAIN_DELIVERIES.inc()  # until the next count (count_uncertain)
        log.warning("notice_delivery_uncertain", case_id=notice["case_id"], channel=channel.value, notice_id=key,
                    message_id=message_id(key) if channel is NoticeChannel.EMAIL else None, reason=reason,
                    sms_message_ids=accepted or None)
        await self._release_successors(notice["case_id"], case, notice["_id"],
                                       channel if marked.matched_count == 1 else None)

    async def _recover(self, notice: dict[str, Any], channel: NoticeChannel, delivery: dict[str, Any],
                       case: _CaseView | None = None) -> int:
        """A delivery found ``sending``: claimed by a dispatcher that died (or by a live one elsewhere)."""
        field = f"deliveries.{channel.value}"
        key = f"{notice['_id']}:{channel.value}"
        claim = delivery.get("claim") or {}
        if claim.get("token") == self.token and key in self.confirmed:
            # Sent and confirmed by this process; only the record failed (the store was down).
            if channel is NoticeChannel.SMS:
                await self._record_submitted(notice, int(delivery["attempts"]), self.confirmed[key], case)
            else:
                await self._record_delivered(notice, channel, int(delivery["attempts"]), self.confirmed[key], case)
            return 1
        mine_before = claim.get("by") == self.owner  # this instance: its earlier process, dead, or this one
        claimed_at = claim.get("at")
        if not mine_before and claim and claimed_at is not None and \
                now() - claimed_at < timedelta(seconds=self.settings.claim_lease_seconds):
            return 0  # another instance is at it
        if channel is NoticeChannel.EMAIL and (claim.get("phase") == "committing" or not claim):
            # The end of data may have been sent: the server may hold the message. Never again blindly.
            await self._uncertain(notice, channel, "notify stopped after the message was committed to the SMTP "
                                  "server and before its reply was recorded" if claim else
                                  "found sending without a claim (a delivery begun by an earlier version)", case)
            return 1
        if channel is NoticeChannel.SMS and (claim.get("phase") == "committing" or not claim):
            # A part may have reached the SMSC (and the handset): never again blindly.
            await self._uncertain(notice, channel, "notify stopped after the text was committed to the SMSC and "
                                  "before the SMSC's answers were recorded", case)
            return 1
        # E-mail whose end of data was never sent (the server discarded it), a text none of whose
        # parts left, or a webhook (the receiver recognises a repeat by webhook-id /
        # Idempotency-Key): sent again — a text not inside the quiet hours.
        if channel is NoticeChannel.SMS and (until := quiet_until(now(), self.quiet)) is not None:
            await self.store.notices.update_one(
                {"_id": notice["_id"], f"{field}.status": "sending", f"{field}.attempts": delivery["attempts"]},
                {"$set": {f"{field}.status": "pending", f"{field}.resumed_at": now(), f"{field}.quiet_until": until,
                          f"{field}.retry_at": until}})
            return 0
        log.info("notice_delivery_resumed", case_id=notice["case_id"], channel=channel.value, notice_id=key,
                 phase=claim.get("phase"), claimed_by=claim.get("by"))
        reset = await self.store.notices.update_one(
            {"_id": notice["_id"], f"{field}.status": "sending", f"{field}.attempts": delivery["attempts"]},
            {"$set": {f"{field}.status": "pending", f"{field}.resumed_at": now()}})
        if reset.modified_count != 1:
            return 0
        await self._deliver(notice, channel, {**delivery, "status": "pending"}, case=case)
        return 1


class _CaseView:
    """One notice's round: the case's notices as read for its order verdicts (once, shared by its
    channels: the verdict of one channel never looks at the notice's own deliveries), the
    deliveries this round made final (recorded by a write of this round), the notices it closed,
    and the contact's webhook secret when this round read the contact."""

    def __init__(self, case_id: str) -> None:
        self.case_id = case_id
        self.docs: list[dict[str, Any]] | None = None
        self.finalised: set[tuple[str, str]] = set()
        self.closed: set[str] = set()  # notices closed (``done``) by a write of this round
        # The contact as read by this round (attaching it): its webhook secret.
        self.contact_read = False
        self.webhook_secret: str | None = None


class ClaimLost(Exception):
    """Another dispatcher took the delivery over (the claim's lease ran out)."""


def _aware(at: datetime | None) -> datetime | None:
    return at if at is None or at.tzinfo else at.replace(tzinfo=UTC)


def _later(at: datetime | None) -> bool:
    return at is not None and at > now()
