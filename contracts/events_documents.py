"""Events of the documents capability: every document of a case (受理回执, 补正申请告知书, 延期答复告知书,
征求意见函, 非本机关负责公开告知书, 视为放弃申请告知书, 收费通知, 答复书 and each amendment), rendered
by the reply service when its step happens and stored with the case (一案一档).

No personal data: the applicant's name and address are printed inside the PDF only; the event
names the document (kind, title, id) and fixes its bytes (SHA-256, size), so that the ledger holds
the hash every copy of the document (the case file's, the applicant's attachment) is checked against.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field

from contracts import topics
from contracts.envelope import EventData, deterministic_id
from contracts.topics import TopicSpec


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


EVENTS: tuple[type[EventData], ...] = (DocumentIssued,)
DOCUMENTS_ISSUED = topics.DOCUMENTS_ISSUED
TOPICS: tuple[TopicSpec, ...] = (DOCUMENTS_ISSUED,)
