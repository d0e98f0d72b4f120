"""The legal date of service (送达) of the documents addressed to the applicant, and the remedy
deadlines that run from it (issue #17). Pure: no I/O; the store (``service_store.py``) and the
HTTP routes (``service_http.py``) are thin adapters around these functions.

**Date of service.** A document is served by the first of its service facts, whatever the channel:
e-mail accepted by the applicant's mail server (notify's ``notice.delivered`` v2, channel email),
a text message's delivery receipt (DELIVRD, channel sms), the document opened online after its
release (``online``), the signed-for date of a postal dispatch (``post``), or handed over at the
window with the recipient's signature (``window``). A dispatch returned undeliverable serves
nothing. Its legal date is the earliest ``served_on`` of its facts that count (``date_of_service``).

**Electronic service needs the applicant's consent** (《民事诉讼法》第九十条: 经受送达人同意, 可以采用
电子方式送达). The applicant's chosen way of obtaining the information (``delivery_method``) is that
consent: an e-mail or a text message (channels ``email``, ``sms``) serves only when it is ``email``
or ``online``. When it is ``post`` or ``pickup`` the notice is still recorded as a fact, with
``counts`` false and a note saying why (``counting``): it shows the applicant was told, but it
neither sets the date of service nor is published as ``document.served``. The applicant opening the
released document or status page (``online``: actual knowledge), the signed-for post and the
handover at the window always count. A case without a known delivery_method (older cases) is
treated as ``email``, the form's default.

**Never before the document exists**: a fact's ``served_at`` / ``served_on`` is at least the
document's issue (for the reply and its amendments: their release), ``not_before_issue`` — a
delivery that came before the document was issued here is served when it was.

**Each counting fact is published** (``document.served``, its event id from the document, the
channel and the fact's ``source``), so the ledger's earliest ``served_on`` (audit's statistics) is
the view's, even when a fact recorded later is dated earlier (a second dispatch, a handover entered
days after). Non-counting facts and repeated facts publish nothing.

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
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from contracts.vocabulary import SERVICE_CHANNEL_LABELS, DeliveryMethod, ServiceChannel
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
    read (online: ``pdf`` / ``document`` / ``status_page``). ``counts``: whether it serves the
    document (false: an electronic notice without consent, ``note`` says why)."""

    document_id: str
    channel: ServiceChannel
    served_at: datetime
    served_on: date
    basis: str
    source: str
    counts: bool = True
    note: str | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return self.document_id, self.channel.value, self.source


ELECTRONIC_NOTICES = (ServiceChannel.EMAIL, ServiceChannel.SMS)
# The ways of obtaining the information by which the applicant agreed to electronic service.
ELECTRONIC_CONSENT = (DeliveryMethod.EMAIL, DeliveryMethod.ONLINE)
DELIVERY_METHOD_ZH = {DeliveryMethod.POST: "邮寄", DeliveryMethod.PICKUP: "当面领取"}
NOTICE_ZH = {ServiceChannel.EMAIL: "电子邮件", ServiceChannel.SMS: "短信"}


def delivery_method_of(value: object) -> DeliveryMethod:
    """The case's delivery_method; an unknown or missing one (older cases) is ``email``, the default."""
    try:
        return DeliveryMethod(str(value))
    except ValueError:
        return DeliveryMethod.EMAIL


def counting(channel: ServiceChannel, delivery_method: object) -> tuple[bool, str | None]:
    """Does a fact of ``channel`` serve a document of a case with this delivery_method, and if not,
    why (Chinese): an e-mail or text serves only with consent to electronic service (e-mail or
    online chosen, 民事诉讼法 第九十条); online reads, post and the window always serve."""
    method = delivery_method_of(delivery_method)
    if channel not in ELECTRONIC_NOTICES or method in ELECTRONIC_CONSENT:
        return True, None
    return False, (f"申请人选择{DELIVERY_METHOD_ZH[method]}，未同意电子送达，{NOTICE_ZH[channel]}通知不作为送达"
                   "（《中华人民共和国民事诉讼法》第九十条）")


def not_before_issue(fact: ServiceFact, issued_at: datetime | None, issued_on: date | None) -> ServiceFact:
    """The fact, no earlier than the document's issue (``issued_at``, the moment; ``issued_on``, its
    date in China): nothing is served before it exists."""
    served_at, served_on = fact.served_at, fact.served_on
    if issued_at is not None and served_at < issued_at:
        served_at = issued_at
    if issued_on is not None and served_on < issued_on:
        served_on = issued_on
    if (served_at, served_on) == (fact.served_at, fact.served_on):
        return fact
    return replace(fact, served_at=served_at, served_on=served_on)


def date_of_service(facts: Iterable[ServiceFact], document_id: str) -> ServiceFact | None:
    """The fact that served the document: the earliest ``served_on`` (then the earliest
    ``served_at``) among its facts that count; None while it is unserved."""
    own = [f for f in facts if f.document_id == document_id and f.counts]
    return min(own, key=lambda f: (f.served_on, f.served_at)) if own else None


def is_new_fact(facts: Iterable[ServiceFact], fact: ServiceFact) -> bool:
    """Not recorded before (a redelivered notice, a second download: nothing new)."""
    return all(f.key != fact.key for f in facts)


def published(facts: Iterable[ServiceFact], fact: ServiceFact) -> bool:
    """Is ``fact`` published as ``document.served``: new and counting (each one, so that the
    ledger's earliest date is the view's, whatever the order in which the facts are recorded)."""
    return fact.counts and is_new_fact(facts, fact)


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
