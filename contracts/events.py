"""The events of Gongkai (facts in the past tense), one pydantic model per event type and version.

Personal data (ID numbers, phone numbers, e-mail addresses) never appears in events on shared
topics; those carry ``applicant_ref``. Contact details travel only on the restricted
``gongkai.private.contacts`` topic (``ContactRegistered``) that only the notify service reads.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from contracts.envelope import EventData
from contracts.vocabulary import (
    ApplicantType,
    Channel,
    DeliveryForm,
    DeliveryMethod,
    NoticeChannel,
    NoticeKind,
    ReplyType,
)


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ApplicationReceived(EventData):
    event_name = "application.received"

    case_id: str
    tracking_number: str
    agency_code: str
    channel: Channel
    received_on: date = Field(description="Date of receipt under Art. 31 (not itself counted)")
    applicant_ref: str = Field(description="Opaque reference to the applicant held by intake")
    applicant_type: ApplicantType
    description: str = Field(description="Description of the information requested")
    target_departments: list[str] = Field(
        default_factory=list, description="Departments named explicitly (codes), if any"
    )
    delivery_form: DeliveryForm
    delivery_method: DeliveryMethod
    accepted_at: datetime


class ContactRegistered(EventData):
    """Restricted topic only: how to reach the applicant of a case."""

    event_name = "contact.registered"

    case_id: str
    applicant_ref: str
    name: str
    email: str | None = None
    webhook_url: str | None = None
    phone: str | None = None


class RoutedTask(_Part):
    task_id: str
    dept_code: str
    dept_name: str
    rule: str = Field(description="The rule that picked this department")


class CaseRouted(EventData):
    event_name = "case.routed"

    case_id: str
    tracking_number: str
    agency_code: str
    agency_name: str
    received_on: date
    channel: Channel | None = Field(default=None, description="Acceptance channel (decides the Art. 31 rule)")
    directory_version: str
    tasks: list[RoutedTask] = Field(min_length=1)


class TaskAssigned(EventData):
    """Published to the department's own inbox topic."""

    event_name = "task.assigned"

    case_id: str
    task_id: str
    tracking_number: str
    agency_code: str
    dept_code: str
    dept_name: str
    description: str
    rule: str
    received_on: date


class Answer(_Part):
    reply_type: ReplyType
    reason: str | None = Field(default=None, description="Reason code or text (e.g. exemption)")
    text: str = Field(min_length=1, description="The department's answer, in Chinese")
    material_refs: list[str] = Field(default_factory=list)


class AnswerSubmitted(EventData):
    """A department's answer to its task, published by an integrator's system."""

    event_name = "answer.submitted"

    case_id: str
    task_id: str
    dept_code: str
    answer: Answer


class AnswerRecorded(EventData):
    """The reply service accepted an answer (from HTTP or from the answers topic)."""

    event_name = "answer.recorded"

    case_id: str
    task_id: str
    dept_code: str
    via: str = Field(description="'http' or 'topic'")
    answer: Answer


class ReplyPart(_Part):
    task_id: str
    dept_code: str
    dept_name: str
    answer: Answer


class ReplyIssued(EventData):
    event_name = "reply.issued"

    case_id: str
    tracking_number: str
    agency_code: str
    decision: ReplyType
    parts: list[ReplyPart] = Field(min_length=1)
    document_text: str = Field(description="The consolidated reply (答复书), Chinese")


class NoticeDelivered(EventData):
    event_name = "notice.delivered"

    case_id: str
    notice_id: str
    kind: NoticeKind
    channel: NoticeChannel
    attempts: int = Field(ge=1)
    delivered_at: datetime


CORE_EVENTS: tuple[type[EventData], ...] = (
    ApplicationReceived,
    ContactRegistered,
    CaseRouted,
    TaskAssigned,
    AnswerSubmitted,
    AnswerRecorded,
    ReplyIssued,
    NoticeDelivered,
)

def _all_events() -> tuple[type[EventData], ...]:
    # Capabilities keep their events in modules of their own (contracts/events_<area>.py).
    from contracts import events_ledger, events_procedure, events_routing

    return CORE_EVENTS + events_procedure.EVENTS + events_routing.EVENTS + events_ledger.EVENTS


ALL_EVENTS: tuple[type[EventData], ...] = _all_events()
REGISTRY: dict[str, type[EventData]] = {m.ce_type(): m for m in ALL_EVENTS}


def registry_of(*models: type[EventData]) -> dict[str, type[EventData]]:
    return {m.ce_type(): m for m in models}
