"""Events as the producers publish them (reply clock, intake screening, routing), for notify's tests."""

from __future__ import annotations

from datetime import UTC, date, datetime

from contracts.envelope import CloudEvent, EventData, deterministic_id, new_event
from contracts.events import Answer, ApplicationReceived, ContactRegistered, ReplyIssued, ReplyPart
from contracts.events_procedure import (
    ApplicationAbandoned,
    CaseOverdue,
    CorrectionReceived,
    CorrectionRequested,
    DeadlineChanged,
    DeadlineWarning,
    ExtensionApproved,
    FeeNoticeIssued,
    RepeatFlagged,
    RepeatMatchPart,
    TriageRecorded,
)
from contracts.events_routing import AgencyContact, CaseRerouted, ReferralRecorded, RoutedTask
from contracts.vocabulary import ReplyType

NUMBER = "YN-20261123-00042"


def ev(data: EventData, name: str, case_id: str = "c1") -> CloudEvent:
    return new_event(data, source="/test", subject=case_id, event_id=deterministic_id(name, case_id),
                     time=datetime(2026, 11, 23, 8, tzinfo=UTC))


def received(case_id: str = "c1", number: str = NUMBER) -> ApplicationReceived:
    return ApplicationReceived(
        case_id=case_id, tracking_number=number, agency_code="yn-gov-office", channel="online",
        received_on=date(2026, 11, 23), applicant_ref="app-1", applicant_type="natural_person",
        description="征地补偿标准", delivery_form="electronic", delivery_method="email",
        accepted_at=datetime(2026, 11, 23, tzinfo=UTC),
    )


WEBHOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # a Standard Webhooks secret (base64 of 24 bytes)


def contact(case_id: str = "c1", email: str | None = "zhang@example.com",
            webhook: str | None = "http://hooks.test/h1", secret: str | None = WEBHOOK_SECRET) -> ContactRegistered:
    return ContactRegistered(case_id=case_id, applicant_ref="app-1", name="张三", email=email, webhook_url=webhook,
                             webhook_secret=secret if webhook else None)


def correction(case_id: str = "c1") -> CorrectionRequested:
    return CorrectionRequested(case_id=case_id, received_on=date(2026, 11, 23), issued_on=date(2026, 11, 25),
                               items=["请写明所需信息的具体年份", "请提供身份证明复印件"], due_on=date(2026, 12, 9),
                               issued_by="officer-1")


def extension(case_id: str = "c1", provisional: bool = False) -> ExtensionApproved:
    return ExtensionApproved(case_id=case_id, approved_on=date(2026, 12, 10), workdays=15, approver="head-1",
                             approver_role="ogi_head", reason="需要调取多个部门的档案材料",
                             old_due_on=date(2026, 12, 22), new_due_on=date(2027, 1, 13), provisional=provisional)


def abandoned(case_id: str = "c1", reason: str = "correction_overdue") -> ApplicationAbandoned:
    return ApplicationAbandoned(case_id=case_id, correction_due=date(2026, 12, 9), abandoned_on=date(2026, 12, 10),
                                reason=reason)


def fee(case_id: str = "c1") -> FeeNoticeIssued:
    return FeeNoticeIssued(case_id=case_id, applicant_ref="app-1", agency_code="yn-gov-office",
                           method="per_application", amount_yuan=100, month="2026-11", rank_in_month=12,
                           confirmed_by="officer-2", issued_on=date(2026, 11, 24))


def fee_per_page(case_id: str = "c1") -> FeeNoticeIssued:
    return FeeNoticeIssued(case_id=case_id, applicant_ref="app-1", agency_code="yn-gov-office", method="per_page",
                           amount_yuan=10, pages=45, confirmed_by="officer-2", issued_on=date(2026, 11, 24))


REFERRAL_TEXT = ("您的政府信息公开申请（受理编号 YN-20261123-00042）：您申请公开的政府信息不属于本机关负责公开，"
                 "负责公开该信息的机关是昆明市人民政府。本机关已将您的申请转交昆明市人民政府，该机关将另行告知办理情况。")


def referral(case_id: str = "c1", message: str = REFERRAL_TEXT) -> ReferralRecorded:
    return ReferralRecorded(
        case_id=case_id, tracking_number=NUMBER, referral_id="r1", agency_code="yn-gov-office",
        target_agency_code="km-gov", target_agency_name="昆明市人民政府",
        target_contact=AgencyContact(address="昆明市呈贡区", phone="0871-12345678"), handed_over=True,
        whole_case=True, reason="属昆明市职责", message=message, recorded_by="ogi-1",
    )


def reply(case_id: str = "c1") -> ReplyIssued:
    part = ReplyPart(task_id="t1", dept_code="zrzy", dept_name="自然资源厅",
                     answer=Answer(reply_type=ReplyType.DISCLOSED, text="予以公开"))
    return ReplyIssued(case_id=case_id, tracking_number=NUMBER, agency_code="yn-gov-office",
                       decision=ReplyType.DISCLOSED, parts=[part], document_text="政府信息公开申请答复书……")


def warning(case_id: str = "c1", departments: tuple[str, ...] = ("czt", "zrzy")) -> DeadlineWarning:
    return DeadlineWarning(case_id=case_id, due_on=date(2026, 12, 22), workdays_left=2, threshold=2,
                           open_departments=list(departments))


def overdue(case_id: str = "c1", departments: tuple[str, ...] = ("czt",)) -> CaseOverdue:
    return CaseOverdue(case_id=case_id, due_on=date(2026, 12, 22), detected_on=date(2026, 12, 23),
                       open_departments=list(departments))


def not_for_applicant(case_id: str = "c1") -> list[tuple[EventData, str]]:
    """Events on notify's topics that tell the applicant nothing."""
    return [
        (DeadlineChanged(case_id=case_id, old_due_on=None, new_due_on=date(2026, 12, 22), reason="opened",
                         calendar_version="v1", provisional=False), "deadline.changed"),
        (CorrectionReceived(case_id=case_id, received_on=date(2026, 12, 1), new_due_on=date(2026, 12, 29)),
         "correction.received"),
        (TriageRecorded(case_id=case_id, question="scope", answer="属于政府信息", answered_by="ogi-1",
                        answered_at=datetime(2026, 11, 24, tzinfo=UTC), next_step="search"), "triage.recorded"),
        (RepeatFlagged(case_id=case_id, applicant_ref="app-1", agency_code="yn-gov-office", threshold=0.8,
                       matches=[RepeatMatchPart(case_id="c0", similarity=0.9, received_on=date(2026, 10, 1))]),
         "repeat.flagged"),
        (CaseRerouted(case_id=case_id, tracking_number=NUMBER, agency_code="yn-gov-office", change_seq=1,
                      operation="add", directory_version="v1",
                      tasks=[RoutedTask(task_id="t1", dept_code="czt", dept_name="财政厅", rule="manual")],
                      triage_resolved=False, reason="补充承办部门", changed_by="ogi-1"), "case.rerouted"),
    ]
