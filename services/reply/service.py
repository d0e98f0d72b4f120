"""The legal date of service (送达) of the documents addressed to the applicant, and the remedy
deadlines that run from it (issue #17). Pure: no I/O; the store (``service_store.py``) and the
HTTP routes (``service_http.py``) are thin adapters around these functions.

**Date of service.** A document is served by the first of its service facts, whatever the channel:
e-mail accepted by the applicant's mail server (notify's ``notice.delivered`` v2, channel email),
a text message's delivery receipt (DELIVRD, channel sms), the document opened online after its
release (``online``), the signed-for date of a postal dispatch (``post``), or handed over at the
window with the recipient's signature (``window``). A dispatch returned undeliverable serves
nothing. Its legal date is the earliest ``served_on`` of those facts (``date_of_service``).

**Remedy periods**, from the date of service of a decision the applicant may challenge:

- administrative review: 60 days (《行政复议法》第二十条: 自知道该行政行为之日起六十日内);
- lawsuit: 6 months (《行政诉讼法》第四十六条: 自知道或者应当知道作出行政行为之日起六个月内);

counted as 《民事诉讼法》第八十五条 says (the rule the courts apply to both): the day of service is
not counted (a period in days ends on the n-th day after it); a period in months ends on the day of
the last month that corresponds to the day of service, or on that month's last day when it has no
such day (30 September → 31 March; 31 August → the end of February); a last day that is a
statutory holiday or rest day moves to the first working day after it (a make-up workday, 调休上班,
is a working day). The calendar is the clock's (``services/reply/clock/calendar.py``: the State
Council's notices, chinese-calendar, operators' files); a deadline whose year the calendar does
not cover is computed with the estimate of that year (weekends and the statutory holidays of
《全国年节及纪念日放假办法》) and marked ``provisional``, as the clock does.
"""

from __future__ import annotations

import calendar as _calendar
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from contracts.vocabulary import SERVICE_CHANNEL_LABELS, ServiceChannel
from services.reply.clock.calendar import DayInfo, WorkCalendar

REVIEW_DAYS = 60  # 行政复议法 第二十条
LAWSUIT_MONTHS = 6  # 行政诉讼法 第四十六条
REVIEW_BASIS_ZH = "《中华人民共和国行政复议法》第二十条：自知道该行政行为之日起六十日内"
LAWSUIT_BASIS_ZH = "《中华人民共和国行政诉讼法》第四十六条：自知道或者应当知道作出行政行为之日起六个月内"
COUNTING_ZH = ("依照《中华人民共和国民事诉讼法》第八十五条计算：送达当日不计入；以月计算的，至最后一月的对应日"
               "（无对应日的为该月最后一日）；期间届满的最后一日是法定休假日的，以休假日后的第一日为届满日期")
# The kinds of document whose date of service starts the remedy periods shown at the top of the
# case (the reply, and each amendment its own).
REPLY_KINDS = ("consolidated_reply", "reply_amendment")


# ---------------------------------------------------------------------------------------------- facts


@dataclass(frozen=True)
class ServiceFact:
    """One way one document reached the applicant. ``source`` makes it unique with the document and
    the channel: the notice id (email, sms), the dispatch id (post), the handover id (window), the
    read (online: ``pdf`` / ``document`` / ``status_page``)."""

    document_id: str
    channel: ServiceChannel
    served_at: datetime
    served_on: date
    basis: str
    source: str

    @property
    def key(self) -> tuple[str, str, str]:
        return self.document_id, self.channel.value, self.source


def date_of_service(facts: Iterable[ServiceFact], document_id: str) -> ServiceFact | None:
    """The fact that served the document: the earliest ``served_on`` (then the earliest
    ``served_at``) among its facts; None while it is unserved."""
    own = [f for f in facts if f.document_id == document_id]
    return min(own, key=lambda f: (f.served_on, f.served_at)) if own else None


def is_new_fact(facts: Iterable[ServiceFact], fact: ServiceFact) -> bool:
    """Not recorded before (a redelivered notice, a second download: nothing new)."""
    return all(f.key != fact.key for f in facts)


def first_of_channel(facts: Iterable[ServiceFact], fact: ServiceFact) -> bool:
    """The first fact of its document and channel: the one published as ``document.served`` (one
    event per document and channel)."""
    return all((f.document_id, f.channel) != (fact.document_id, fact.channel) for f in facts)


def channel_label(channel: ServiceChannel | str) -> str:
    return SERVICE_CHANNEL_LABELS[ServiceChannel(channel)]


# ---------------------------------------------------------------------------------------------- periods


def add_months(day: date, months: int) -> date:
    """The corresponding day ``months`` later; the month's last day when it has none."""
    y, m = divmod(day.month - 1 + months, 12)
    year, month = day.year + y, m + 1
    return date(year, month, min(day.day, _calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class PeriodEnd:
    """The last day of a period: ``nominal`` as counted, ``last_day`` after the holiday roll,
    the rest days skipped, and whether a year without a published calendar was involved."""

    nominal: date
    last_day: date
    skipped: tuple[DayInfo, ...]
    provisional: bool


def period_end(nominal: date, cal: WorkCalendar) -> PeriodEnd:
    """``nominal``, or the first working day after it when it is a holiday or rest day."""
    day, skipped, provisional = nominal, [], False
    while True:
        provisional |= not cal.covers(day.year)
        info = cal.classify_provisional(day)
        if info.is_workday:
            return PeriodEnd(nominal, day, tuple(skipped), provisional)
        skipped.append(info)
        day += timedelta(days=1)


@dataclass(frozen=True)
class Remedies:
    served_on: date
    review: PeriodEnd
    lawsuit: PeriodEnd

    @property
    def provisional(self) -> bool:
        return self.review.provisional or self.lawsuit.provisional


def remedy_deadlines(served_on: date, cal: WorkCalendar) -> Remedies:
    """The last day to apply for administrative review (60 days) and to sue (6 months)."""
    return Remedies(served_on=served_on,
                    review=period_end(served_on + timedelta(days=REVIEW_DAYS), cal),
                    lawsuit=period_end(add_months(served_on, LAWSUIT_MONTHS), cal))


def cn_date(d: date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def explain_end(p: PeriodEnd) -> str:
    """How the last day was reached, in Chinese (the rest days rolled over, provisional or not)."""
    if not p.skipped:
        text = f"{cn_date(p.last_day)}"
    else:
        reasons = "、".join(dict.fromkeys(i.reason_zh() for i in p.skipped))
        text = f"{cn_date(p.nominal)}为{reasons}，顺延至{cn_date(p.last_day)}"
    return text + ("（该年度节假日安排尚未公布，暂按推算，待国务院通知公布后以其为准）" if p.provisional else "")


def remedies_json(document_id: str, r: Remedies) -> dict[str, object]:
    """What the API shows of a document's remedy deadlines."""
    return {"document_id": document_id, "served_on": r.served_on.isoformat(),
            "review_deadline": r.review.last_day.isoformat(), "lawsuit_deadline": r.lawsuit.last_day.isoformat(),
            "provisional": r.provisional,
            "review_explanation_zh": f"{REVIEW_BASIS_ZH}；届满日：{explain_end(r.review)}",
            "lawsuit_explanation_zh": f"{LAWSUIT_BASIS_ZH}；届满日：{explain_end(r.lawsuit)}",
            "counting_zh": COUNTING_ZH}


# ---------------------------------------------------------------------------------------------- dispatches


class ServiceRefused(Exception):
    """A record the law or the facts do not allow: ``status`` 422 (blaming ``field``) or 409."""

    def __init__(self, status: int, message: str, field: str = "(body)") -> None:
        super().__init__(message)
        self.status, self.message, self.field = status, message, field


OUTCOME_ZH = {"sent": "已寄出", "signed": "已签收", "returned": "已退回"}


def check_recorded_on(day: date, field: str, what: str, today: date, not_before: date | None = None,
                      not_before_what: str = "") -> None:
    """A date recorded by hand: not in the future, not before the step it follows."""
    if day > today:
        raise ServiceRefused(422, f"{what}不能晚于今天（{cn_date(today)}）", field)
    if not_before is not None and day < not_before:
        raise ServiceRefused(422, f"{what}不能早于{not_before_what}（{cn_date(not_before)}）", field)


def dispatch_outcome(dispatch: dict[str, object], outcome: str, on: date, detail: dict[str, object],
                     today: date) -> bool:
    """May this postal dispatch be recorded as ``signed`` / ``returned`` on ``on``? True: record
    it; False: exactly this outcome was recorded already (a repeated request, nothing to do).
    A date before it was sent or in the future: 422; a different outcome than the one recorded: 409."""
    what = "签收日期" if outcome == "signed" else "退回日期"
    field = "signed_on" if outcome == "signed" else "returned_on"
    sent_on = date.fromisoformat(str(dispatch["sent_on"]))
    status = str(dispatch.get("status") or "sent")
    if status != "sent":
        same = status == outcome and dispatch.get(field) == on.isoformat() and all(
            dispatch.get(k) == v for k, v in detail.items())
        if same:
            return False
        raise ServiceRefused(409, f"该邮件已登记为{OUTCOME_ZH[status]}，不能再登记为{OUTCOME_ZH[outcome]}或修改登记内容")
    check_recorded_on(on, field, what, today, sent_on, "寄出日期")
    return True


def check_documents(document_ids: Sequence[str], servable: dict[str, dict[str, object]], field: str,
                    on: date, what: str, date_field: str) -> None:
    """Every id is a document of the case addressed to the applicant and issued (released, for a
    reply) by ``on``; no id twice (422 blaming the item)."""
    seen: set[str] = set()
    for i, doc_id in enumerate(document_ids):
        if doc_id in seen:
            raise ServiceRefused(422, "同一文书重复列出", f"{field}.{i}")
        seen.add(doc_id)
        doc = servable.get(doc_id)
        if doc is None:
            raise ServiceRefused(422, "不是本案已印发的致申请人的文书", f"{field}.{i}")
        issued_on = doc.get("issued_on")
        if issued_on and on < date.fromisoformat(str(issued_on)):
            raise ServiceRefused(422, f"{what}不能早于文书“{doc.get('title') or doc_id}”的印发日期"
                                      f"（{cn_date(date.fromisoformat(str(issued_on)))}）", date_field)
