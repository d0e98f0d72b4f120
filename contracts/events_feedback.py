"""Events of what follows a reply (答复不是办结): the applicant reading it, rating it, and the OGI
office's follow-up contacts (reply service, ``services/reply/feedback.py``). All on
``gongkai.replies.issued`` (never copied to the departments' replies topics), recorded by audit;
the quarterly red/black list (``services/audit/quarterly.py``) is computed from them.

No applicant identity in any of them: a case id, what happened and when. Free text the applicant
or an officer wrote (a rating's comment, what the applicant said on the telephone) may contain
personal data, so it stays in the reply service's ``feedback`` collection and the event carries
its SHA-256 only (the ledger can still prove what was written)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from contracts.envelope import EventData

ReadVia = Literal["status_page", "pdf"]
Rating = Literal["satisfied", "basically_satisfied", "dissatisfied"]
RATING_ZH: dict[str, str] = {"satisfied": "满意", "basically_satisfied": "基本满意", "dissatisfied": "不满意"}
# Why an applicant is (not) satisfied: codes, so that statistics can count them.
RatingReason = Literal["none", "not_timely", "incomplete", "unclear", "attitude", "not_held", "other"]
RATING_REASON_ZH: dict[str, str] = {
    "none": "（未说明）", "not_timely": "答复不及时", "incomplete": "提供的信息不完整", "unclear": "答复内容不清楚",
    "attitude": "工作人员服务态度", "not_held": "对“信息不存在”等结论有异议", "other": "其他",
}
FollowUpMeans = Literal["phone", "sms", "email", "letter", "visit", "other"]
FOLLOWUP_MEANS_ZH: dict[str, str] = {"phone": "电话", "sms": "短信", "email": "电子邮件", "letter": "信函",
                                     "visit": "当面", "other": "其他"}
FollowUpResult = Literal["need_met", "need_partly_met", "need_not_met", "not_reached", "other"]
FOLLOWUP_RESULT_ZH: dict[str, str] = {"need_met": "答复满足需求", "need_partly_met": "部分满足需求",
                                      "need_not_met": "未满足需求", "not_reached": "未联系上", "other": "其他"}


class ReplyRead(EventData):
    """The applicant opened the released reply: the status page after the release, or the PDF
    downloaded. Once per version of the reply (``reply_seq`` 0 the reply, n its n-th amendment)
    and way of reading."""

    event_name = "reply.read"

    case_id: str
    reply_seq: int = Field(ge=0, description="0: the reply; n: its n-th amendment (the latest when read)")
    via: ReadVia
    read_at: datetime


class ReplyRated(EventData):
    """The applicant's satisfaction with the reply (满意 / 基本满意 / 不满意), once per case and
    changeable for a set number of working days (``revision`` counts the changes). No identity."""

    event_name = "reply.rated"

    case_id: str
    rating: Rating
    reason: RatingReason = "none"
    revision: int = Field(ge=1, description="1 for the first rating, then 2, 3 … for each change")
    comment_sha256: str | None = Field(default=None, description="SHA-256 of the comment (kept by the reply service)")
    rated_at: datetime


class FollowUpRecorded(EventData):
    """An OGI officer contacted the applicant after the reply (回访): when, by whom, by what means,
    and what came of it; what the applicant said stays with the reply service (its SHA-256 here)."""

    event_name = "followup.recorded"

    case_id: str
    followup_id: str
    contacted_at: datetime
    means: FollowUpMeans
    result: FollowUpResult
    note_sha256: str = Field(description="SHA-256 of the officer's note of what the applicant said")
    recorded_by: str = Field(description="The officer's display name (from the verified token)")
    recorded_by_subject: str
    recorded_at: datetime


EVENTS: tuple[type[EventData], ...] = (ReplyRead, ReplyRated, FollowUpRecorded)
