"""The events of Gongkai (facts in the past tense), one pydantic model per event type and version.

Personal data (ID numbers, phone numbers, e-mail addresses) never appears in events on shared
topics; those carry ``applicant_ref``. Contact details travel only on the restricted
``gongkai.private.contacts`` topic (``ContactRegistered``) that only the notify service (notices) and
the reply service (the documents addressed to the applicant) read.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import ClassVar

from pydantic import Field

from contracts import vocabulary_v1
from contracts.envelope import EventData, EventPart
from contracts.vocabulary import (
    ApplicantType,
    Channel,
    DeliveryForm,
    DeliveryMethod,
    NoticeChannel,
    NoticeKind,
    ReplyType,
)


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
    """Restricted topic only: how to reach the applicant of a case, and how documents address them."""

    event_name = "contact.registered"

    case_id: str
    applicant_ref: str
    name: str
    email: str | None = None
    webhook_url: str | None = None
    # The Standard Webhooks signing secret of this subscription ("whsec_" + base64), given to the
    # applicant when the webhook is registered; notify signs every delivery with it.
    webhook_secret: str | None = None
    phone: str | None = None
    # The channels the applicant chose for the notices of each step (e-mail, SMS; issue #17). None:
    # registered before the choice existed, or not stated: e-mail when an address is given.
    notify_by: list[NoticeChannel] | None = None
    # For the documents addressed to the applicant (reply service: printed in the PDF only).
    # ``name`` is the person's or the organisation's; an organisation's contact person beside it.
    applicant_type: ApplicantType | None = None
    contact_person: str | None = None
    address: str | None = Field(default=None, description="通信地址")
    postcode: str | None = None


class RoutedTask(EventPart):
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


class WithheldItem(EventPart):
    """A part of the requested information not provided (Art. 37), with its own reason."""

    description: str = Field(min_length=1, description="Which part is withheld (Chinese)")
    reason_code: str = Field(description="An outcome code of contracts.decisions that gives nothing")
    explanation: str = Field(min_length=1, description="The concrete reason (Chinese)")
    item_key: str | None = Field(default=None, description="The item withheld, if the department names it")


class ResponsibleAgencyRef(EventPart):
    """The agency responsible for information that is not this agency's (Art. 36(5))."""

    name: str = Field(min_length=1)
    address: str = Field(min_length=1)
    phone: str = Field(min_length=1)


class ConfidentialityReview(EventPart):
    """The confidentiality review (保密审查) sign-off of an answer: who reviewed it and when."""

    reviewer: str = Field(min_length=1, description="The reviewer's display name")
    reviewed_at: datetime
    reviewer_subject: str | None = Field(
        default=None, description="The reviewer's subject (OIDC ``sub``) when signed off through the HTTP API"
    )


class Answer(EventPart):
    reply_type: ReplyType
    reason: str | None = Field(default=None, description="Reason in words (e.g. the exemption)")
    text: str = Field(min_length=1, description="The department's answer, in Chinese")
    material_refs: list[str] = Field(default_factory=list)
    outcome_code: str | None = Field(
        default=None,
        description="Outcome code of contracts.decisions; may be left out only when the reply type has "
        "exactly one outcome (disclosed, already_public, partially_disclosed, not_this_agency)",
    )
    withheld: list[WithheldItem] = Field(default_factory=list, description="Partial disclosure: each part withheld")
    item_keys: list[str] = Field(
        default_factory=list, description="Explicit keys of the items the answer is about (contradiction check)"
    )
    responsible_agency: ResponsibleAgencyRef | None = Field(default=None, description="Not this agency's only")


class AnswerSubmitted(EventData):
    """A department's answer to its task, published by an integrator's system on its department's
    answers topic (``gongkai.dept.<code>.answers``, which only that department's Kafka principal may
    write). The department is the topic's: ``dept_code`` must name it, or the answer is refused."""

    event_name = "answer.submitted"

    case_id: str
    task_id: str
    dept_code: str
    answer: Answer
    review: ConfidentialityReview | None = Field(
        default=None, description="The 保密审查 sign-off; without it the answer is a draft, never released"
    )


class AnswerRecorded(EventData):
    """The reply service accepted an answer (from HTTP or from the answers topic). Recorded again
    (another event id) when a draft gets its confidentiality sign-off."""

    event_name = "answer.recorded"

    case_id: str
    task_id: str
    dept_code: str
    via: str = Field(description="'http' or 'topic'")
    answer: Answer
    review: ConfidentialityReview | None = None
    draft: bool = Field(default=False, description="True while the sign-off is missing (cannot be released)")
    late: bool = Field(default=False, description="Recorded after the reply was released: it amends it")
    answered_by: str | None = Field(default=None, description="The officer who wrote the answer (display name; HTTP)")
    answered_by_subject: str | None = Field(default=None, description="That officer's subject (OIDC ``sub``)")


class AnswerRefused(EventData):
    """An answer the reply service refused (someone else's task, a withdrawn task, a conflict)."""

    event_name = "answer.refused"

    case_id: str
    task_id: str
    dept_code: str = Field(description="The department that answered")
    via: str
    code: str = Field(
        description="not_your_task | task_withdrawn | conflicting_answer | invalid_answer | wrong_answers_topic"
    )
    status: int = Field(description="The HTTP status the refusal answers with (403, 409, 422)")
    message: str = Field(description="The reason, Chinese")


class ContradictionEntry(EventPart):
    task_id: str
    dept_code: str
    dept_name: str
    stance: str = Field(description="'given', or the outcome code withholding the item")


class ContradictionFlagged(EventData):
    """Two departments decided differently about the same item: the release is held until the OGI
    office resolves it."""

    event_name = "contradiction.flagged"

    case_id: str
    tracking_number: str
    contradiction_id: str
    item_key: str = Field(description="The item: a material reference or an explicit item key")
    entries: list[ContradictionEntry] = Field(min_length=2)
    message: str = Field(description="Chinese, for the OGI office")


class ReopenedTask(EventPart):
    """A task whose answer the OGI office set aside: its department answers again."""

    task_id: str
    dept_code: str


class ContradictionResolved(EventData):
    """The OGI office resolved a flagged contradiction: the answers stand (``reopened`` empty, the
    note says why), or the answers of the ``reopened`` tasks are set aside and their departments
    answer again (open again, on the case clock too). Once per contradiction."""

    event_name = "contradiction.resolved"

    case_id: str
    contradiction_id: str = Field(description="The contradiction.flagged's ``contradiction_id``")
    resolved_by: str = Field(description="The OGI officer who resolved it (display name)")
    resolved_by_subject: str | None = Field(default=None, description="That officer's subject (OIDC ``sub``)")
    note: str = Field(description="The OGI office's decision, Chinese")
    reopened: list[ReopenedTask] = Field(
        default_factory=list, description="The tasks whose answers were set aside, to be answered again"
    )
    resolved_at: datetime


class MissingAnswer(EventPart):
    task_id: str
    dept_code: str
    dept_name: str


class CaseClosed(EventData):
    """The OGI office closed the case with answers missing; the reply follows from what is there."""

    event_name = "case.closed"

    case_id: str
    tracking_number: str
    closed_by: str = Field(description="The OGI officer who closed it (display name)")
    reason: str
    missing: list[MissingAnswer] = Field(default_factory=list)
    statement: str = Field(description="The missing answers stated, Chinese (printed in the reply)")
    closed_by_subject: str | None = Field(default=None, description="That officer's subject (OIDC ``sub``)")


class ReplyPart(EventPart):
    task_id: str
    dept_code: str
    dept_name: str
    answer: Answer
    outcome_code: str | None = Field(default=None, description="Outcome code of this part (contracts.decisions)")
    review: ConfidentialityReview | None = None


class ReplyIssued(EventData):
    """The one reply of a case. ``cc`` lists the departments it is copied (抄送) to: each department's
    system reads it from the replies topic and keeps the parts whose ``dept_code`` is its own."""

    event_name = "reply.issued"

    case_id: str
    tracking_number: str
    agency_code: str
    decision: ReplyType
    parts: list[ReplyPart] = Field(min_length=1)
    document_text: str = Field(description="The consolidated reply (答复书), Chinese")
    outcome: str | None = Field(default=None, description="Overall outcome code (contracts.decisions)")
    document_id: str | None = Field(default=None, description="GET /cases/{case_id}/reply.pdf|.html")
    cc: list[str] = Field(default_factory=list, description="Department codes the reply is copied to (抄送)")
    missing: list[MissingAnswer] = Field(default_factory=list, description="Closed with these answers missing")


class ReplyAmended(EventData):
    """An answer that came after the reply was released: an amendment with its own document."""

    event_name = "reply.amended"

    case_id: str
    tracking_number: str
    agency_code: str
    amendment_seq: int = Field(ge=1)
    reply_event_id: str = Field(description="The reply.issued event amended")
    parts: list[ReplyPart] = Field(min_length=1, description="The answers that came late")
    decision: ReplyType = Field(description="The combined decision of the reply with the amendment")
    outcome: str
    document_id: str
    document_text: str
    cc: list[str] = Field(default_factory=list)


class NoticeDelivered(EventData):
    """Deprecated: produced until 2026-12-04; use v2 (its channel may be sms, and it names the document)."""

    event_name = "notice.delivered"

    case_id: str
    notice_id: str
    kind: NoticeKind
    channel: vocabulary_v1.NoticeChannel
    attempts: int = Field(ge=1)
    delivered_at: datetime


class NoticeDeliveredV2(EventData):
    """A notice told the applicant of a step, on one channel, once (issue #17: SMS, and the document)."""

    event_name = "notice.delivered"
    schema_version: ClassVar[int] = 2

    case_id: str
    notice_id: str
    kind: NoticeKind
    channel: NoticeChannel
    attempts: int = Field(ge=1)
    delivered_at: datetime = Field(description="E-mail: the mail server's acceptance (250); webhook: the 2xx; "
                                   "SMS: the delivery receipt's done time (DELIVRD)")
    # The document the notice carried or pointed to (its step's, events_documents.step_document_id;
    # the reply's): the reply service records its service (送达) by this channel.
    document_id: str | None = None


CORE_EVENTS: tuple[type[EventData], ...] = (
    ApplicationReceived,
    ContactRegistered,
    CaseRouted,
    TaskAssigned,
    AnswerSubmitted,
    AnswerRecorded,
    ReplyIssued,
    NoticeDelivered,
    NoticeDeliveredV2,
    AnswerRefused,
    ContradictionFlagged,
    CaseClosed,
    ReplyAmended,
    ContradictionResolved,
)

def _all_events() -> tuple[type[EventData], ...]:
    # Capabilities keep their events in modules of their own (contracts/events_<area>.py).
    from contracts import (events_desk, events_documents, events_feedback, events_ledger, events_procedure,
                           events_routing)

    return (CORE_EVENTS + events_procedure.EVENTS + events_routing.EVENTS + events_ledger.EVENTS + events_desk.EVENTS
            + events_feedback.EVENTS + events_documents.EVENTS)


ALL_EVENTS: tuple[type[EventData], ...] = _all_events()
REGISTRY: dict[str, type[EventData]] = {m.ce_type(): m for m in ALL_EVENTS}


def registry_of(*models: type[EventData]) -> dict[str, type[EventData]]:
    return {m.ce_type(): m for m in models}
