"""Date of receipt by channel (Art. 31 of the 2019 Regulations). Pure domain logic."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from contracts.vocabulary import Channel


class ReceiptDateError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


# The 2019 Regulations took effect on this day: no receipt under them can be earlier.
REGULATIONS_IN_FORCE = date(2019, 5, 15)
FIELD_LABELS = {"signed_on": "签收日期（signed_on）", "confirmed_on": "确认日期（confirmed_on）"}


def earliest_entry(today: date, max_days_back: int) -> date:
    """The earliest receipt date a clerk may enter today: not more than ``max_days_back`` days back,
    and never before the Regulations took effect."""
    return max(today - timedelta(days=max_days_back), REGULATIONS_IN_FORCE)


@dataclass(frozen=True)
class Receipt:
    received_on: date
    rule: str  # the Chinese statement of the rule applied, shown to officers and applicants


def receipt_date(
    channel: Channel,
    today: date,
    signed_on: date | None = None,
    confirmed_on: date | None = None,
    earliest: date = REGULATIONS_IN_FORCE,
) -> Receipt:
    """The date of receipt of an application under Art. 31.

    - in person (window): the day the application is submitted;
    - registered mail: the day the agency signs for it (``signed_on``);
    - ordinary mail: the day the OGI office confirms it with the applicant (``confirmed_on``);
    - fax: the day both sides confirm (``confirmed_on``);
    - internet: the day both sides confirm; an online submission through this system is confirmed
      to the applicant at once, so it is today, the server's day, and no date may be given for it.

    A given date is never after ``today`` nor before ``earliest`` (a clerk enters recent post and
    faxes, never before the Regulations took effect).
    """
    if channel is Channel.ONLINE:
        for name, value in (("signed_on", signed_on), ("confirmed_on", confirmed_on)):
            if value is not None:
                raise ReceiptDateError(name, "网上申请以系统确认之日为收到申请之日，申请人不填写此项")
        return Receipt(today, "通过互联网渠道提交申请的，以双方确认之日为收到申请之日（条例第三十一条第三项）")
    for name, value in (("signed_on", signed_on), ("confirmed_on", confirmed_on)):
        if value is not None and value > today:
            raise ReceiptDateError(name, f"{FIELD_LABELS[name]}不能晚于今天（{today.isoformat()}）")
        if value is not None and value < earliest:
            reason = "《条例》施行之日" if earliest == REGULATIONS_IN_FORCE else "可补录的最早日期"
            raise ReceiptDateError(name, f"{FIELD_LABELS[name]}不能早于{reason}（{earliest.isoformat()}）")
    if channel is Channel.WINDOW:
        return Receipt(today, "当面提交申请的，以提交之日为收到申请之日（条例第三十一条第一项）")
    if channel is Channel.REGISTERED_MAIL:
        if signed_on is None:
            raise ReceiptDateError("signed_on", "挂号信函申请须填写本机关签收日期")
        return Receipt(signed_on, "以邮寄方式提交申请的，以行政机关签收之日为收到申请之日（条例第三十一条第二项）")
    if channel is Channel.ORDINARY_MAIL:
        if confirmed_on is None:
            raise ReceiptDateError("confirmed_on", "平常信函申请须填写政府信息公开工作机构与申请人确认的日期")
        return Receipt(
            confirmed_on,
            "以平常信函等无需签收的邮寄方式提交申请的，以政府信息公开工作机构与申请人确认之日为收到申请之日（条例第三十一条第二项）",
        )
    if channel is Channel.FAX:
        if confirmed_on is None:
            raise ReceiptDateError("confirmed_on", "传真申请须填写双方确认的日期")
        return Receipt(confirmed_on, "通过传真提交申请的，以双方确认之日为收到申请之日（条例第三十一条第三项）")
    raise ReceiptDateError("channel", "未知的申请渠道")
