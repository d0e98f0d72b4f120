"""Events of the procedure capability: the legal clock of a case (Arts. 30–35, 42 of the 2019
Regulations), the five-questions triage, repeats and fees.

All dates are calendar dates in China (Asia/Shanghai). Working days (WD) skip weekends and
holidays and include the make-up workdays of the State Council's notice. No personal data: the
applicant appears only as ``applicant_ref``; officers by their display name, with the subject
(OIDC ``sub``) of their verified token in the ``*_subject`` field beside it.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import Field

from contracts.envelope import EventData, EventPart
from contracts import topics
from contracts.topics import TopicSpec


class CorrectionRequested(EventData):
    """The one correction notice of Art. 30 was issued (within 7 WD of receipt)."""

    event_name = "correction.requested"

    case_id: str
    received_on: date
    issued_on: date
    items: list[str] = Field(min_length=1, description="Every item to correct (Chinese)")
    due_on: date = Field(description="The applicant's deadline for the correction")
    issued_by: str
    issued_by_subject: str | None = None


class CorrectionReceived(EventData):
    """The corrected application was received: the 20 WD count again from ``received_on``."""

    event_name = "correction.received"

    case_id: str
    received_on: date
    late_reason: str | None = Field(default=None, description="Good reason accepted for a late correction")
    new_due_on: date | None = Field(default=None, description="The reply deadline from the corrected application")
    provisional: bool = False


class ApplicationAbandoned(EventData):
    """No correction by the deadline (Art. 30), or the processing fee unpaid within 20 WD of its
    notice (Art. 42, 国办函〔2020〕109号): the application is deemed abandoned (视为放弃)."""

    event_name = "application.abandoned"

    case_id: str
    correction_due: date = Field(description="The deadline that passed: the correction's; for fee_unpaid, the "
                                 "payment's (= payment_due)")
    abandoned_on: date
    reason: Literal["correction_overdue", "fee_unpaid"] = "correction_overdue"
    outcome_code: str = Field(default="other.correction_overdue", description="contracts.decisions code")
    fee_notice_issued_on: date | None = Field(default=None, description="fee_unpaid: the day the fee notice was issued")
    payment_due: date | None = Field(default=None, description="fee_unpaid: the last of the 20 WD to pay")


class CorrectionSubmitted(EventData):
    """The applicant submitted the correction online (intake, Art. 30): received on ``received_on``.
    No personal data: the corrected text and the files stay in intake's store."""

    event_name = "correction.submitted"

    case_id: str
    received_on: date = Field(description="The day the corrected application was received (China)")
    submitted_at: datetime
    attachment_count: int = Field(ge=0, le=5, description="How many files came with the correction")


class ExtensionApproved(EventData):
    """The one extension of Art. 33 (≤ 20 WD), approved by the head of the OGI office."""

    event_name = "extension.approved"

    case_id: str
    approved_on: date
    workdays: int = Field(ge=1, le=20)
    approver: str
    approver_role: Literal["ogi_head"]
    reason: str
    old_due_on: date
    new_due_on: date
    provisional: bool = False
    approver_subject: str | None = None


class ConsultationStarted(EventData):
    """A consultation letter was sent (Art. 32: third party; Art. 34: other agency); the reply
    clock pauses from the next working day (Art. 33 ¶2)."""

    event_name = "consultation.started"

    case_id: str
    number: int = Field(ge=1, description="1, 2, … within the case")
    party_kind: Literal["third_party", "other_agency"]
    party: str = Field(description="Name of the party consulted (no personal identifiers)")
    sent_on: date
    consultation_due: date = Field(description="Last day of the party's 15 WD")
    started_by: str
    started_by_subject: str | None = None


class ConsultationEnded(EventData):
    """The consulted party answered, or stayed silent past its 15 WD; the clock resumes."""

    event_name = "consultation.ended"

    case_id: str
    number: int = Field(ge=1)
    end: Literal["answered", "silent"]
    ended_on: date = Field(description="Day of the answer, or the last of the 15 WD when silent")
    paused_workdays: int = Field(ge=0, description="Working days not counted for this consultation")
    new_due_on: date
    provisional: bool = False


class DeadlineChanged(EventData):
    """A case's reply deadline moved (calendar change, correction, extension, consultation)."""

    event_name = "deadline.changed"

    case_id: str
    old_due_on: date | None
    new_due_on: date | None
    reason: Literal["opened", "calendar_changed", "correction", "extension", "consultation"]
    calendar_version: str = Field(description="Fingerprint of the working-day calendar used")
    provisional: bool = Field(description="True when a year it runs into has no calendar data")
    missing_calendar_years: list[int] = Field(default_factory=list)
    pause: Literal["consultation", "fee"] | None = Field(
        default=None, description="With reason 'consultation' (time not counted): which pause moved it; 'fee' is "
        "the processing-fee pause, from the fee notice to the payment (国办函〔2020〕109号). null: not said")


class DeadlineWarning(EventData):
    """A case reached a warning threshold (5 or 2 WD left) with its reply not yet issued."""

    event_name = "deadline.warning.issued"

    case_id: str
    due_on: date
    workdays_left: int = Field(ge=0)
    threshold: int
    open_departments: list[str] = Field(default_factory=list, description="Departments whose task is open")
    provisional: bool = False


class CaseOverdue(EventData):
    """The reply deadline passed without a reply."""

    event_name = "case.overdue"

    case_id: str
    due_on: date
    detected_on: date
    open_departments: list[str] = Field(default_factory=list)


class TriageRecorded(EventData):
    """An answer to one of the five questions (补不补 / 该不该 / 有没有 / 给不给 / 当不当)."""

    event_name = "triage.recorded"

    case_id: str
    question: Literal["correction", "scope", "existence", "disclosure", "propriety"]
    answer: str
    outcome_codes: list[str] = Field(default_factory=list, description="contracts.decisions codes")
    referral_agency: str | None = None
    answered_by: str
    answered_at: datetime
    next_step: str = Field(description="The step the answers now lead to")
    answered_by_subject: str | None = None


class RepeatMatchPart(EventPart):
    case_id: str
    similarity: float = Field(ge=0, le=1)
    received_on: date
    status: str = ""


class RepeatFlagged(EventData):
    """A new application matches earlier ones of the same applicant to the same agency
    (Arts. 35, 36(6)); a warning for the officer, who decides."""

    event_name = "repeat.flagged"

    case_id: str
    applicant_ref: str
    agency_code: str
    matches: list[RepeatMatchPart] = Field(min_length=1)
    threshold: float


class FeeNoticeIssued(EventData):
    """A processing-fee notice (国办函〔2020〕109号) confirmed by an officer and issued."""

    event_name = "fee.notice.issued"

    case_id: str
    applicant_ref: str
    agency_code: str
    method: Literal["per_application", "per_page"]
    amount_yuan: int = Field(ge=0)
    month: str | None = Field(default=None, description="YYYY-MM, per-application method")
    rank_in_month: int | None = Field(default=None, ge=1)
    pages: int | None = Field(default=None, ge=0)
    payment_workdays: int = 20
    confirmed_by: str
    issued_on: date
    confirmed_by_subject: str | None = None


class FeePaid(EventData):
    """The applicant paid the processing fee (recorded by an OGI officer, intake): the reply time,
    stopped since the fee notice, runs again from the next working day (国办函〔2020〕109号)."""

    event_name = "fee.paid"

    case_id: str
    paid_on: date = Field(description="The day the payment was received (China)")
    amount_yuan: int = Field(ge=0, description="The amount received")
    fee_notice_issued_on: date
    recorded_by: str
    recorded_by_subject: str | None = None


class FeeWaived(EventData):
    """The agency waived the processing fee (减免, the officer's decision, recorded by an OGI
    officer in intake): the reply time runs again from the next working day."""

    event_name = "fee.waived"

    case_id: str
    waived_on: date = Field(description="The day of the decision (China)")
    reason: str = Field(min_length=1, max_length=500, description="Why (Chinese); no personal data")
    fee_notice_issued_on: date
    recorded_by: str
    recorded_by_subject: str | None = None


EVENTS: tuple[type[EventData], ...] = (
    CorrectionRequested,
    CorrectionReceived,
    ApplicationAbandoned,
    ExtensionApproved,
    ConsultationStarted,
    ConsultationEnded,
    DeadlineChanged,
    DeadlineWarning,
    CaseOverdue,
    TriageRecorded,
    RepeatFlagged,
    FeeNoticeIssued,
    CorrectionSubmitted,
    FeePaid,
    FeeWaived,
)

# Their topics are in the catalogue (contracts.topics); named here too for the producers' convenience.
CASES_PROCEDURE = topics.CASES_PROCEDURE
APPLICATIONS_SCREENED = topics.APPLICATIONS_SCREENED
TOPICS: tuple[TopicSpec, ...] = (CASES_PROCEDURE, APPLICATIONS_SCREENED)
