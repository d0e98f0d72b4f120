"""Notices to applicants (and officers) and their deliveries, one per channel, each delivered at most once.

A notice is created once per fact (its id derives from the event id), so a redelivered event
changes nothing. The dispatcher sends what is due, records the delivery together with its
``notice.delivered`` event (one atomic write, outbox in the same document), and retries failures
with exponential backoff. A delivery marked ``sending`` when the process died is retried: that is
the one at-least-once window, covered by the stable Message-ID / webhook-id (Idempotency-Key).

A webhook is sent only signed (Standard Webhooks, with the subscription's secret from the
contact) and only to an allowed destination (``destinations``). A contact with a webhook but no
secret (registered before webhooks were signed), or a destination refused (scheme, an address
in a private range …), makes the webhook delivery ``refused`` with the reason: recorded, not
retried; the e-mail still goes out.

Applicant notices wait for the applicant's contact (``awaiting_contact``) and go by e-mail and
webhook. Officer notices (deadline warnings, overdue cases) are one notice per event and recipient,
e-mail only, addressed when created; no ``notice.delivered`` event is published for them (that
topic records what the applicant was told).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from contracts import topics
from contracts.envelope import deterministic_id, new_event
from contracts.events import ContactRegistered, NoticeDelivered
from contracts.vocabulary import NoticeChannel
from services.notify.kinds import Audience, Kind, contract_kind
from services.notify.messages import Message, backoff_seconds
from services.notify.destinations import Refused
from services.notify.senders import SmtpSender, WebhookSender
from services.notify.settings import NotifySettings
from servicekit import outbox

log = structlog.get_logger()

AWAITING_CONTACT = "awaiting_contact"
PENDING = "pending"
DONE = "done"
# The final states of one delivery.
FINAL = ("delivered", "failed", "refused")


def now() -> datetime:
    return datetime.now(UTC)


class NoticeStore:
    def __init__(self, db: AsyncDatabase) -> None:
        self.notices = db["notices"]
        self.contacts = db["contacts"]
        self.cases = db["cases"]

    async def setup(self) -> None:
        await self.notices.create_index([("status", ASCENDING), ("next_at", ASCENDING)])
        await self.notices.create_index("case_id")
        await outbox.ensure_indexes(self.notices)

    async def save_contact(self, c: ContactRegistered) -> None:
        await self.contacts.update_one(
            {"_id": c.case_id},
            {"$set": {"name": c.name, "email": c.email, "webhook_url": c.webhook_url,
                      "webhook_secret": c.webhook_secret, "applicant_ref": c.applicant_ref}},
            upsert=True,
        )

    async def save_case(self, case_id: str, tracking_number: str) -> None:
        """Remember a case's tracking number: procedure events carry only the case id."""
        await self.cases.update_one({"_id": case_id}, {"$set": {"tracking_number": tracking_number}}, upsert=True)

    async def tracking_number(self, case_id: str) -> str | None:
        doc = await self.cases.find_one({"_id": case_id})
        return doc.get("tracking_number") if doc else None

    async def create(self, *, notice_id: str, case_id: str, tracking_number: str | None, kind: Kind,
                     message: Message, cause_event_id: str, officer: tuple[str, str] | None = None) -> bool:
        """Create a notice once (a second create with the same id changes nothing).

        ``officer`` is (recipient key, e-mail) for an officer notice: e-mail only, addressed now."""
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
            "status": PENDING if officer else AWAITING_CONTACT,
            "deliveries": deliveries,
            "next_at": now(),
            "created_at": now(),
            **outbox.new_doc_fields([]),
        }
        try:
            await self.notices.insert_one(doc)
            return True
        except DuplicateKeyError:
            return False

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


class Dispatcher:
    def __init__(self, store: NoticeStore, settings: NotifySettings, smtp: SmtpSender, webhook: WebhookSender,
                 wake_relay) -> None:  # noqa: ANN001
        self.store, self.settings, self.smtp, self.webhook = store, settings, smtp, webhook
        self.wake_relay = wake_relay

    async def run_once(self) -> int:
        """Deliver what is due now; returns the number of deliveries attempted."""
        attempted = 0
        due = self.store.notices.find(
            {"status": {"$in": [AWAITING_CONTACT, PENDING]}, "next_at": {"$lte": now()}}, {"outbox": 0}
        ).sort("next_at", ASCENDING).limit(100)
        async for notice in due:
            if notice["status"] == AWAITING_CONTACT:
                notice = await self._attach_contact(notice)
                if notice is None:
                    continue
            for channel, delivery in notice["deliveries"].items():
                if delivery["status"] in ("pending", "sending"):
                    attempted += 1
                    await self._deliver(notice, NoticeChannel(channel), delivery)
            await self._close_if_done(notice["_id"])
        return attempted

    async def _attach_contact(self, notice: dict[str, Any]) -> dict[str, Any] | None:
        contact = await self.store.contacts.find_one({"_id": notice["case_id"]})
        if contact is None:
            # Contact details travel on another topic and may arrive a little later.
            await self.store.notices.update_one(
                {"_id": notice["_id"]}, {"$set": {"next_at": now() + timedelta(seconds=self.settings.poll_seconds)}}
            )
            return None
        deliveries = {}
        if contact.get("email"):
            deliveries[NoticeChannel.EMAIL.value] = {"status": "pending", "attempts": 0, "to": contact["email"]}
        if contact.get("webhook_url"):
            deliveries[NoticeChannel.WEBHOOK.value] = {"status": "pending", "attempts": 0, "to": contact["webhook_url"]}
        status = PENDING if deliveries else DONE
        await self.store.notices.update_one(
            {"_id": notice["_id"], "status": AWAITING_CONTACT},
            {"$set": {"deliveries": deliveries, "status": status}},
        )
        return await self.store.notices.find_one({"_id": notice["_id"]}, {"outbox": 0})

    async def _deliver(self, notice: dict[str, Any], channel: NoticeChannel, delivery: dict[str, Any]) -> None:
        field = f"deliveries.{channel.value}"
        attempts = int(delivery["attempts"]) + 1
        await self.store.notices.update_one(
            {"_id": notice["_id"]}, {"$set": {f"{field}.status": "sending", f"{field}.attempts": attempts}}
        )
        key = f"{notice['_id']}:{channel.value}"
        try:
            if channel is NoticeChannel.EMAIL:
                await self.smtp.send(to=delivery["to"], subject=notice["subject"], body=notice["body"], notice_id=key)
            else:
                secret = await self.store.webhook_secret(notice["case_id"])
                if secret is None:
                    raise Refused("no signing secret")  # never unsigned
                payload = {"notice_id": key, "case_id": notice["case_id"], "tracking_number": notice["tracking_number"],
                           "kind": notice["kind"], "subject": notice["subject"], "body": notice["body"]}
                await self.webhook.send(url=delivery["to"], payload=payload, notice_id=key, secret=secret)
        except Refused as exc:  # never to be sent there: recorded, not retried
            await self.store.notices.update_one(
                {"_id": notice["_id"]},
                {"$set": {f"{field}.status": "refused", f"{field}.refused_reason": exc.reason,
                          f"{field}.refused_at": now()}},
            )
            log.warning("notice_delivery_refused", case_id=notice["case_id"], channel=channel.value, reason=exc.reason)
            return
        except Exception as exc:  # noqa: BLE001 - any failure of the far side is retried
            failed = attempts >= self.settings.max_attempts
            delay = backoff_seconds(attempts, self.settings.backoff_base_seconds, self.settings.backoff_max_seconds)
            await self.store.notices.update_one(
                {"_id": notice["_id"]},
                {"$set": {f"{field}.status": "failed" if failed else "pending", f"{field}.last_error": repr(exc)[:500],
                          "next_at": now() + timedelta(seconds=delay)}},
            )
            log.warning("notice_delivery_failed", case_id=notice["case_id"], channel=channel.value,
                        attempt=attempts, final=failed, error=repr(exc))
            return
        delivered_at = now()
        update: dict[str, Any] = {"$set": {f"{field}.status": "delivered", f"{field}.delivered_at": delivered_at}}
        kind = contract_kind(notice["kind"])
        if notice.get("audience", Audience.APPLICANT.value) == Audience.APPLICANT.value and kind is not None:
            event = new_event(
                NoticeDelivered(case_id=notice["case_id"], notice_id=key, kind=kind,
                                channel=channel, attempts=attempts, delivered_at=delivered_at),
                source=self.settings.source,
                subject=notice["case_id"],
                event_id=deterministic_id("notice.delivered", key),
                causation_id=notice["cause_event_id"],
            )
            record = outbox.record(topics.NOTICES_DELIVERED.name, event)
            update = outbox.merge_updates(update, outbox.append_update([record]))
        await self.store.notices.update_one({"_id": notice["_id"]}, update)
        self.wake_relay()
        log.info("notice_delivered", case_id=notice["case_id"], channel=channel.value, kind=notice["kind"])

    async def _close_if_done(self, notice_id: str) -> None:
        notice = await self.store.notices.find_one({"_id": notice_id}, {"outbox": 0})
        if notice and notice["status"] == PENDING and all(
            d["status"] in FINAL for d in notice["deliveries"].values()
        ):
            await self.store.notices.update_one({"_id": notice_id, "status": PENDING}, {"$set": {"status": DONE}})
