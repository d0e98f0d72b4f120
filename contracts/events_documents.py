"""Events of the documents capability: every document of a case (受理回执, 补正申请告知书, 延期答复告知书,
征求意见函, 非本机关负责公开告知书, 视为放弃申请告知书, 收费通知, 答复书 and each amendment), rendered
by the reply service when its step happens and stored with the case (一案一档).

No personal data: the applicant's name and address are printed inside the PDF only; the event
names the document (kind, title, id) and fixes its bytes (SHA-256, size), so that the ledger holds
the hash every copy of the document (the case file's, the applicant's attachment) is checked against.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import Field

from contracts import topics
from contracts.envelope import EventData, deterministic_id
from contracts.topics import TopicSpec
from contracts.vocabulary import ReturnReason, ServiceChannel


def step_document_id(step_event_id: str) -> str:
    """The id of the document a procedural step's event gives rise to (one per event): the reply
    service stores it under this id, notify attaches it to the notice of the same event."""
    return deterministic_id("step.document", step_event_id)


class DocumentIssued(EventData):
    """A document of a case was rendered and stored with it (reply service)."""

    event_name = "document.issued"

    case_id: str
    tracking_number: str
    document_id: str
    kind: str = Field(description="The document type: a procedural kind (acceptance_receipt, correction_notice, "
                      "extension_notice, consultation_third_party, consultation_agency, referral_notice, "
                      "abandonment_notice, fee_notice), consolidated_reply or reply_amendment")
    title: str = Field(description="The printed title (Chinese)")
    seq: int = Field(default=1, ge=1, description="Its number among the case's documents of this kind")
    addressee: Literal["applicant", "third_party", "other_agency"]
    issued_on: date
    step_event_id: str = Field(description="The event of the step the document belongs to")
    step_type: str = Field(description="That event's type (e.g. cn.gongkai.correction.requested.v1)")
    media_type: Literal["application/pdf"] = "application/pdf"
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the PDF bytes")
    size: int = Field(ge=1, description="Size of the PDF in bytes")


# -- service (送达), issue #17 ------------------------------------------------------------------
# Who recorded a fact by hand: the officer's display name and subject (as remedy.recorded names them).


class DocumentDispatched(EventData):
    """An OGI officer posted documents of a case to the applicant (邮寄). Not yet service: that is
    the signed-for date (``document.served``, channel post) or a return (``document.returned``)."""

    event_name = "document.dispatched"

    case_id: str
    tracking_number: str
    dispatch_id: str
    document_ids: list[str] = Field(min_length=1)
    channel: Literal["post"] = "post"
    carrier: str = Field(description="The postal service (e.g. 中国邮政 EMS); its parcel number is kept by the "
                         "reply service only")
    sent_on: date
    recorded_by: str
    recorded_by_subject: str


class DocumentServed(EventData):
    """A document addressed to the applicant was served by one channel: one event per fact that
    counts as service (per document, channel and source — the notice, the dispatch, the handover,
    the online read). The legal date of service is the earliest ``served_on`` of the document's
    events, from which the remedy periods run. An e-mail or a text serves only an applicant who
    asked for the information electronically (the reply service decides, and publishes nothing
    for the others)."""

    event_name = "document.served"

    case_id: str
    tracking_number: str
    document_id: str
    document_kind: str = Field(description="As document.issued's kind (consolidated_reply, correction_notice …)")
    channel: ServiceChannel
    served_at: datetime = Field(description="When the fact happened (the receipt's, the click's; midnight China "
                                "time of a date recorded by hand)")
    served_on: date = Field(description="Its date in China")
    basis: str = Field(max_length=300, description="How it is known (the mail server's 250, the receipt's status, "
                       "signed for at the post, signature at the window …)")
    notice_id: str | None = Field(default=None, description="The notice delivery that served it (e-mail, SMS)")
    dispatch_id: str | None = Field(default=None, description="The postal dispatch that served it")
    recorded_by: str | None = None
    recorded_by_subject: str | None = None


class DocumentReturned(EventData):
    """A postal dispatch came back undeliverable (退回): the documents in it are not served by post."""

    event_name = "document.returned"

    case_id: str
    tracking_number: str
    dispatch_id: str
    document_ids: list[str] = Field(min_length=1)
    returned_on: date
    # A closed set, never the officer's words (a free text would carry personal data onto the
    # ledger: "张三已搬走"); the officer's note stays in the reply service's store.
    reason: ReturnReason
    recorded_by: str
    recorded_by_subject: str


EVENTS: tuple[type[EventData], ...] = (DocumentIssued, DocumentDispatched, DocumentServed, DocumentReturned)
DOCUMENTS_ISSUED = topics.DOCUMENTS_ISSUED
DOCUMENTS_SERVED = topics.DOCUMENTS_SERVED
TOPICS: tuple[TopicSpec, ...] = (DOCUMENTS_ISSUED, DOCUMENTS_SERVED)
