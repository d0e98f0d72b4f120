"""The kinds of notice notify sends, and who they are for.

``contracts.vocabulary.NoticeKind`` (the ``kind`` of the ``notice.delivered`` event) holds the
applicant's kinds. Officer notices are delivered and recorded in notify's own store only: the
``notice.delivered`` topic records what the applicant was told (``contract_kind`` returns None).
"""

from __future__ import annotations

from enum import StrEnum

from contracts.vocabulary import NoticeKind


class Kind(StrEnum):
    # To the applicant
    RECEIVED = "received"  # 申请已登记
    REPLY_ISSUED = "reply_issued"  # 答复已作出
    CORRECTION_REQUESTED = "correction_requested"  # 补正通知 (Art. 30)
    EXTENSION_APPROVED = "extension_approved"  # 延期答复通知 (Art. 33)
    APPLICATION_ABANDONED = "application_abandoned"  # 视为放弃 (Art. 30 / 42)
    FEE_NOTICE_ISSUED = "fee_notice_issued"  # 收费通知 (Art. 42)
    REFERRAL_RECORDED = "referral_recorded"  # 非本机关负责公开告知 (Art. 36(5))
    REPLY_AMENDED = "reply_amended"  # 答复更正/补充
    # To officers (the OGI office and the departments whose task is open)
    DEADLINE_WARNING = "deadline_warning"  # 答复期限预警
    CASE_OVERDUE = "case_overdue"  # 已逾期
    CALENDAR_MISSING = "calendar_missing"  # 期限所涉年度日历缺失，期限为暂定


class Audience(StrEnum):
    APPLICANT = "applicant"
    OFFICER = "officer"


def contract_kind(kind: str) -> NoticeKind | None:
    """The ``notice.delivered`` kind of a notice kind, if the contract holds it yet."""
    try:
        return NoticeKind(kind)
    except ValueError:
        return None
