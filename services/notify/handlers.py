"""What notify does with each event it consumes: create the notices (once), or skip the event.

One method per consumed topic. Each topic is subscribed with every event type it carries (see
``topic_registry``), so an event that is not for notify is acknowledged here and skipped — never
dead-lettered. Notice ids derive from the event ids, so a redelivered event creates nothing new.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from contracts.envelope import CloudEvent, EventData, deterministic_id
from contracts.events import ALL_EVENTS, ApplicationReceived, ReplyAmended, ReplyIssued
from contracts.events_procedure import (
    ApplicationAbandoned,
    CaseOverdue,
    CorrectionRequested,
    DeadlineChanged,
    DeadlineWarning,
    ExtensionApproved,
    FeeNoticeIssued,
)
from contracts.events_routing import ReferralRecorded
from contracts.topics import TopicSpec
from services.notify import messages
from services.notify.documents import document_of
from services.notify.kinds import Kind
from services.notify.notices import NoticeStore
from services.notify.settings import NotifySettings

OGI = "ogi"  # the recipient key of the OGI office in NOTIFY_OFFICER_EMAILS
CHINA = ZoneInfo("Asia/Shanghai")


def calendar_digest_key(data: DeadlineChanged, day: date) -> str:
    """One "calendar missing" warning per missing year(s) and day in China: from December on, every
    new case's deadline runs into the next year, and a warning per case would bury the office."""
    years = "+".join(str(y) for y in sorted(data.missing_calendar_years)) or "unknown"
    return f"calendar_missing:{years}:{day.isoformat()}"


def topic_registry(spec: TopicSpec) -> dict[str, type[EventData]]:
    """Every event type of a topic that has a model (so none of them is dead-lettered as unknown)."""
    return {m.ce_type(): m for m in ALL_EVENTS if m.event_name in spec.event_types}


def amendment_text(data: ReplyAmended) -> str:
    """The text of an amendment: its own reply document."""
    return data.document_text


def officer_recipients(open_departments: list[str]) -> list[str]:
    """Issue #4: warnings go to the OGI office and to each department whose task is still open."""
    return [OGI, *dict.fromkeys(d for d in open_departments if d != OGI)]


class NoticeHandlers:
    def __init__(self, store: NoticeStore, settings: NotifySettings, wake: Callable[[], None]) -> None:
        self.store, self.settings, self.wake = store, settings, wake

    async def _applicant(self, event: CloudEvent[Any], kind: Kind, message: messages.Message,
                         tracking_number: str | None) -> None:
        await self.store.create(notice_id=deterministic_id("notice", event.id), case_id=event.data.case_id,
                                tracking_number=tracking_number, kind=kind, message=message, cause_event_id=event.id,
                                event_time=event.time, document_id=document_of(event))
        self.wake()

    async def _officers(self, event: CloudEvent[Any], kind: Kind, message: messages.Message,
                        open_departments: list[str], tracking_number: str | None, once_per: str | None = None) -> None:
        # once_per: the notice is created once for that key (the first event), not once per event.
        for key in officer_recipients(open_departments):
            await self.store.create(
                notice_id=deterministic_id("notice", once_per or event.id, "officer", key), case_id=event.data.case_id,
                tracking_number=tracking_number, kind=kind, message=message, cause_event_id=event.id,
                officer=(key, self.settings.officer_email(key)), event_time=event.time,
            )
        self.wake()

    async def on_contact(self, event: CloudEvent[Any]) -> None:
        await self.store.save_contact(event.data)
        self.wake()

    async def on_received(self, event: CloudEvent[Any]) -> None:
        data: ApplicationReceived = event.data
        await self.store.save_case(data.case_id, data.tracking_number, data.agency_code)
        await self._applicant(event, Kind.RECEIVED, messages.received(data), data.tracking_number)

    async def on_reply(self, event: CloudEvent[Any]) -> None:
        data = event.data
        if isinstance(data, ReplyIssued):
            await self._applicant(event, Kind.REPLY_ISSUED, messages.reply_issued(data), data.tracking_number)
        elif isinstance(data, ReplyAmended):
            number = data.tracking_number
            await self._applicant(event, Kind.REPLY_AMENDED, messages.reply_amended(number, amendment_text(data)),
                                  number)

    async def on_procedure(self, event: CloudEvent[Any]) -> None:
        data = event.data
        if isinstance(data, DeadlineChanged) and data.provisional:
            # "calendar missing for YEAR": the OGI office is warned once a day per missing year, naming
            # the day's first case; the supervision page marks every provisional deadline.
            number = await self.store.tracking_number(data.case_id)
            day = event.time.astimezone(CHINA).date()
            await self._officers(event, Kind.CALENDAR_MISSING, messages.calendar_missing(data, number, day), [], number,
                                 once_per=calendar_digest_key(data, day))
            return
        if not isinstance(data, (CorrectionRequested, ExtensionApproved, ApplicationAbandoned, DeadlineWarning,
                                 CaseOverdue)):
            return  # other deadline changes, correction.received, consultations, triage: not for the applicant
        number = await self.store.tracking_number(data.case_id)
        if isinstance(data, CorrectionRequested):
            await self._applicant(event, Kind.CORRECTION_REQUESTED, messages.correction_requested(data, number), number)
        elif isinstance(data, ExtensionApproved):
            await self._applicant(event, Kind.EXTENSION_APPROVED, messages.extension_approved(data, number), number)
        elif isinstance(data, ApplicationAbandoned):
            await self._applicant(event, Kind.APPLICATION_ABANDONED, messages.application_abandoned(data, number),
                                  number)
        elif isinstance(data, DeadlineWarning):
            await self._officers(event, Kind.DEADLINE_WARNING, messages.deadline_warning(data, number),
                                 data.open_departments, number)
        else:
            await self._officers(event, Kind.CASE_OVERDUE, messages.case_overdue(data, number),
                                 data.open_departments, number)

    async def on_screened(self, event: CloudEvent[Any]) -> None:
        data = event.data
        if isinstance(data, FeeNoticeIssued):  # repeat.flagged is for the officers, shown by intake
            number = await self.store.tracking_number(data.case_id)
            await self._applicant(event, Kind.FEE_NOTICE_ISSUED, messages.fee_notice_issued(data, number), number)

    async def on_routed(self, event: CloudEvent[Any]) -> None:
        data = event.data
        if isinstance(data, ReferralRecorded):
            await self.store.save_case(data.case_id, data.tracking_number, data.agency_code)
            await self._applicant(event, Kind.REFERRAL_RECORDED, messages.referral_recorded(data),
                                  data.tracking_number)
        # case.routed / case.rerouted: nothing to tell the applicant
