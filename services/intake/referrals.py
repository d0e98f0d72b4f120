"""Referrals received (Art. 36(5)): an application another agency on the bus handed to this one.

The referring agency's routing publishes ``case.referred`` on ``gongkai.cases.referred``. Every
agency's intake reads that topic (in a consumer group of its own agency) and keeps only the events
whose ``target_agency_code`` is its own. For each it creates, once, an application of its own:

- keyed on the referral: the case id is ``deterministic_id("referred-case", referral_id)``, so a
  redelivered event (or a replay of the topic) finds the application already there;
- with its own tracking number and its own date of receipt: the day this agency received the
  referral (Art. 31: the time limits run from this agency's receipt); the original date of receipt,
  case and tracking number at the referring agency are recorded with it;
- published as ``application.received`` (so this agency's routing routes it), through the outbox,
  in the same single-document write as the application.

Gap, by design of the contracts: no personal data travels on shared topics, so the referral names
the applicant only by ``applicant_ref`` (the referring intake's reference). The application is
stored with ``contact: "pending"`` and no ``contact.registered`` is published: this agency's notify
keeps its notices ``awaiting_contact`` until a contact is registered for the case (e.g. a clerk
entering it after the applicant contacts the agency — the referring agency's referral notice tells
the applicant that the application was handed over). Transferring contact details between agencies
needs a restricted channel of its own (not in the catalogue yet).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from contracts import topics
from contracts.envelope import deterministic_id, new_event
from contracts.events import ApplicationReceived
from contracts.events_routing import CaseReferred
from services.intake.identity import tracking_number
from servicekit import outbox

CONTACT_PENDING = "pending"
RECEIPT_RULE = "转来申请：以本机关收到其他行政机关转来申请之日为收到申请之日（《条例》第三十一条）"


def referred_case_id(referral_id: str) -> str:
    """The case id of the application created for a referral (the same on every redelivery)."""
    return deterministic_id("referred-case", referral_id)


def is_for(referral: CaseReferred, agency_code: str) -> bool:
    return referral.target_agency_code == agency_code


def application_doc(referral: CaseReferred, *, event_id: str, tracking_number: str, received_on: date,
                    now: datetime, source: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The application to store for a referral to this agency, and its outbox record. Pure."""
    case_id = referred_case_id(referral.referral_id)
    received = new_event(
        ApplicationReceived(
            case_id=case_id,
            tracking_number=tracking_number,
            agency_code=referral.target_agency_code,
            channel=referral.channel,
            received_on=received_on,
            applicant_ref=referral.applicant_ref,
            applicant_type=referral.applicant_type,
            description=referral.description,
            target_departments=[],
            delivery_form=referral.delivery_form,
            delivery_method=referral.delivery_method,
            accepted_at=now,
        ),
        source=source,
        subject=case_id,
        event_id=deterministic_id("application.received", case_id),
        causation_id=event_id,
        time=now,
    )
    return {
        "_id": case_id,
        "tracking_number": tracking_number,
        "agency_code": referral.target_agency_code,
        "received_on": received_on.isoformat(),
        "receipt_rule": RECEIPT_RULE,
        "accepted_at": now,
        "applicant": None,
        "applicant_ref": referral.applicant_ref,
        "contact": CONTACT_PENDING,
        "application": {
            "channel": referral.channel.value,
            "description": referral.description,
            "target_departments": [],
            "delivery": {"form": referral.delivery_form.value, "method": referral.delivery_method.value},
            "agency_code": referral.target_agency_code,
        },
        "referral": {
            "referral_id": referral.referral_id,
            "event_id": event_id,
            "from_agency_code": referral.from_agency_code,
            "from_agency_name": referral.from_agency_name,
            "original_case_id": referral.case_id,
            "original_tracking_number": referral.tracking_number,
            "original_received_on": referral.received_on.isoformat(),
            "reason": referral.reason,
        },
        # Screening (repeats, fees) is not run on referred applications: no applicant contact to ask.
        "screening": {"repeats": [], "rank_in_month": None, "fee_notice": None, "referred": True},
    }, [outbox.record(topics.APPLICATIONS_RECEIVED.name, received)]


async def accept(store: Any, referral: CaseReferred, *, event_id: str, agency_code: str, tracking_prefix: str,
                 source: str, now: datetime, today: date) -> tuple[dict[str, Any], bool] | None:
    """Accept a referral for this agency once: (the application, created?) — None if it is another's.

    ``store`` is the intake's ``IntakeStore``. A redelivered referral finds its application by the
    deterministic case id and creates nothing (no new tracking number is drawn for it)."""
    if not is_for(referral, agency_code):
        return None
    existing = await store.get(referred_case_id(referral.referral_id))
    if existing is not None:
        return existing, False
    return await store.insert_numbered(
        agency_code, today, lambda seq: tracking_number(tracking_prefix, today, seq),
        lambda number, _rank: application_doc(referral, event_id=event_id, tracking_number=number, received_on=today,
                                       now=now, source=source))
