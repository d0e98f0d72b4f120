"""The clock of a case: the time limits of the 2019 Regulations, computed from its history.

Everything here is a pure function of a ``History`` (the procedural facts of one case), a
``WorkCalendar`` and, where the answer depends on today, ``as_of``.

Rules (《中华人民共和国政府信息公开条例》, 2019; WD = working day):

- Art. 31 — date of receipt by channel: in person, the day submitted; mail needing a signature
  (registered), the day the agency signs; ordinary mail, the day the OGI office confirms with the
  applicant; internet or fax, the day both sides confirm. The intake service applies the rule; the
  clock receives the resulting date and shows the rule it followed.
- Counting: the day of receipt (or of any other starting event) is not counted; the Nth working
  day *after* it is the last day of an N-WD limit. Weekends and holidays are skipped; the make-up
  workdays (调休上班) count.
- Art. 33 ¶1 — reply on the spot, or within 20 WD of receipt.
- Art. 30 — one correction notice, issued within 7 WD of receipt (the 7th WD after receipt is the
  last allowed day), listing every item and a reasonable deadline. While it is outstanding there is
  no reply deadline. The 20 WD count again from the day the corrected application is received.
  No correction by the deadline (without good reason) → the application is deemed abandoned
  (视为放弃) on the first day after the correction deadline.
- Art. 33 ¶1 — one extension, at most 20 WD, approved by the head of the OGI office (role
  ``ogi_head``), on or before the current deadline; the applicant is told. The extension adds its
  WD to the limit.
- Art. 33 ¶2, 32, 34 — time spent consulting a third party (Art. 32) or another agency (Art. 34)
  is not counted. The consulted party has 15 WD from receiving the letter (taken as the day the
  letter is delivered if known, else the day it is sent). **Pause rule used here**: the pause
  covers the working days from the first working day after the letter is sent up to and
  including the day the answer arrives, or, if no answer comes, the last day of the 15 WD
  (silence is recorded; Art. 32: the agency decides; Art. 34: deemed consent). Those working days
  are not counted towards the limit, which therefore ends that many working days later. A day
  paused by two consultations at once is paused once. While a consultation is open (no answer yet,
  its 15 WD not over) it is taken to end ``as_of`` — the remaining working days stay frozen — and
  the deadline is marked as depending on the open consultation.
- Art. 42, 《政府信息公开信息处理费管理办法》 (国办函〔2020〕109号) — a processing-fee notice: the
  applicant pays within 20 WD of receiving it (taken as the day it is issued: the notice goes out by
  e-mail or webhook that day); **the time from issuing the notice to the payment is not counted**.
  Pause rule, as for a consultation: the working days from the first working day after the notice
  up to and including the day of payment (or of the agency's waiver, 减免, recorded by an OGI
  officer) are not counted. While unpaid (within the 20 WD) the pause runs to today and the date
  depends on the payment. Unpaid by the 20th WD → the application is deemed abandoned (视为放弃申请)
  on the next day; a payment recorded after the 20 WD does not revive it.
- A deadline that runs into a year without the State Council's notice is an estimate, marked
  provisional and naming the year: weekends and the statutory holidays of 《全国年节及纪念日放假办法》
  (2024 revision) are skipped, the notice's make-up workdays and 补休 are unknown (``calendar``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from enum import StrEnum

from contracts.vocabulary import CHANNEL_LABELS, Channel
from services.reply.clock.calendar import CalendarMissing, DayInfo, WorkCalendar

REPLY_LIMIT_WD = 20  # Art. 33 ¶1
CORRECTION_WINDOW_WD = 7  # Art. 30
MAX_EXTENSION_WD = 20  # Art. 33 ¶1
CONSULTATION_WD = 15  # Arts. 32, 34
FEE_PAYMENT_WD = 20  # 国办函〔2020〕109号: payment within 20 WD of receiving the fee notice
WARNING_THRESHOLDS = (5, 2)  # working days left
OGI_HEAD_ROLE = "ogi_head"
# Far enough for any history (20 + 20 WD + pauses); a bound on every walk.
_MAX_WALK_DAYS = 3 * 366

RECEIPT_RULES = {
    Channel.WINDOW: ("以提交之日为收到申请之日", "《条例》第三十一条第一项"),
    Channel.REGISTERED_MAIL: ("以行政机关签收之日为收到申请之日", "《条例》第三十一条第二项"),
    Channel.ORDINARY_MAIL: ("以政府信息公开工作机构与申请人确认之日为收到申请之日", "《条例》第三十一条第二项"),
    Channel.ONLINE: ("以双方确认之日为收到申请之日", "《条例》第三十一条第三项"),
    Channel.FAX: ("以双方确认之日为收到申请之日", "《条例》第三十一条第三项"),
}
UNKNOWN_CHANNEL_RULE = ("收到申请之日由受理时按申请渠道确定", "《条例》第三十一条")


def receipt_rule(channel: Channel | None) -> tuple[str, str, str]:
    """(channel label, rule, article) of Art. 31 for a channel."""
    if channel is None:
        return ("", *UNKNOWN_CHANNEL_RULE)
    return (CHANNEL_LABELS[channel], *RECEIPT_RULES[channel])


class ProcedureRefused(ValueError):
    """A procedural step the Regulations do not allow (message in Chinese, for the officer)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class PartyKind(StrEnum):
    THIRD_PARTY = "third_party"  # Art. 32
    OTHER_AGENCY = "other_agency"  # Art. 34


class ConsultationEnd(StrEnum):
    ANSWERED = "answered"
    SILENT = "silent"


@dataclass(frozen=True)
class Correction:
    issued_on: date
    items: tuple[str, ...]
    due_on: date  # the applicant's deadline, set by the officer
    received_on: date | None = None  # corrected application received
    late_reason: str | None = None  # good reason accepted for a late correction


@dataclass(frozen=True)
class Extension:
    approved_on: date
    days: int
    approver: str
    approver_role: str
    reason: str


@dataclass(frozen=True)
class Consultation:
    number: int  # 1, 2, … within the case
    party_kind: PartyKind
    party: str  # name of the third party / agency (no personal identifiers)
    sent_on: date
    delivered_on: date | None = None  # when the party received the letter, if known
    ended_on: date | None = None
    end: ConsultationEnd | None = None


class FeeSettlement(StrEnum):
    PAID = "paid"  # 已缴纳
    WAIVED = "waived"  # 减免 (the agency's decision)


class AbandonReason(StrEnum):
    CORRECTION_OVERDUE = "correction_overdue"  # Art. 30
    FEE_UNPAID = "fee_unpaid"  # Art. 42, 国办函〔2020〕109号


@dataclass(frozen=True)
class FeeNotice:
    issued_on: date
    amount_yuan: int
    settled_on: date | None = None  # payment received, or waiver decided
    settlement: FeeSettlement | None = None
    recorded_by: str | None = None  # the OGI officer who recorded it (display name)


@dataclass(frozen=True)
class History:
    """The procedural facts of one case, in the order they happened."""

    received_on: date
    channel: Channel | None = None  # None: not known to this service (the rule is then not named)
    on_the_spot: bool = False  # answered on the spot at receipt (Art. 33 ¶1)
    correction: Correction | None = None
    extension: Extension | None = None
    consultations: tuple[Consultation, ...] = ()
    abandoned_on: date | None = None
    replied_on: date | None = None
    fee: FeeNotice | None = None  # the processing-fee notice (Art. 42), if one was issued
    abandoned_for: AbandonReason | None = None  # None with abandoned_on: the correction (Art. 30)


# -- working-day arithmetic ---------------------------------------------------------------------


@dataclass
class _Walker:
    calendar: WorkCalendar
    missing: set[int] = field(default_factory=set)

    def info(self, d: date) -> DayInfo:
        try:
            return self.calendar.classify(d)
        except CalendarMissing as exc:
            self.missing.add(exc.year)
            return self.calendar.classify_provisional(d)

    def nth_workday_after(self, start: date, n: int, skip: frozenset[date] = frozenset()) -> date:
        """The ``n``-th working day after ``start`` (not counting ``start``), skipping ``skip``."""
        if n < 1:
            raise ValueError("n must be ≥ 1")
        d, count = start, 0
        for _ in range(_MAX_WALK_DAYS):
            d += timedelta(days=1)
            if d in skip or not self.info(d).is_workday:
                continue
            count += 1
            if count == n:
                return d
        raise ValueError("walk too long")

    def workdays_between(self, after: date, upto: date) -> list[date]:
        """Working days in (after, upto]."""
        out, d = [], after
        while d < upto:
            d += timedelta(days=1)
            if self.info(d).is_workday:
                out.append(d)
        return out


def nth_workday_after(calendar: WorkCalendar, start: date, n: int) -> date:
    """The ``n``-th working day after ``start``; ``CalendarMissing`` if it needs an uncovered year."""
    w = _Walker(calendar)
    out = w.nth_workday_after(start, n)
    if w.missing:
        raise CalendarMissing(min(w.missing))
    return out


# -- deadlines ----------------------------------------------------------------------------------


class Status(StrEnum):
    RUNNING = "running"  # the reply clock runs
    PAUSED = "paused"  # a consultation is open, or a fee notice is unpaid
    AWAITING_CORRECTION = "awaiting_correction"  # correction notice outstanding: no deadline
    ABANDONED = "abandoned"  # 视为放弃 (Art. 30)
    ANSWERED_ON_THE_SPOT = "answered_on_the_spot"
    REPLIED = "replied"


@dataclass(frozen=True)
class Pause:
    consultation: int
    party_kind: PartyKind
    party: str
    sent_on: date
    consultation_due: date  # last day of the party's 15 WD
    ended_on: date  # last paused day (answer, silence, or as_of while open)
    end: ConsultationEnd | None  # None: still open
    paused_workdays: tuple[date, ...]  # the working days not counted
    due_provisional: bool = False  # consultation_due runs into a year without calendar data


@dataclass(frozen=True)
class FeePause:
    issued_on: date
    amount_yuan: int
    payment_due: date  # last day of the applicant's 20 WD
    ended_on: date  # last paused day (payment, waiver, or as_of while unpaid)
    settlement: FeeSettlement | None  # None: unpaid
    paused_workdays: tuple[date, ...]
    due_provisional: bool = False  # payment_due runs into a year without calendar data


@dataclass(frozen=True)
class DayEntry:
    day: date
    info: DayInfo
    counted: int | None  # n-th counted working day, or None if skipped
    paused_by: int | None = None  # consultation number, if a paused working day
    provisional: bool = False  # year not covered by the calendar
    paused_by_fee: bool = False  # a working day between the fee notice and the payment


@dataclass(frozen=True)
class Deadline:
    status: Status
    received_on: date
    channel: Channel | None
    start: date | None  # the day the count starts after (receipt or corrected application)
    restarted: bool  # start is the corrected application's receipt (Art. 30)
    limit_wd: int  # 20 (+ extension)
    extension_wd: int
    due_on: date | None  # last day to reply; None while awaiting correction / abandoned
    correction_window_ends: date | None  # last day a correction notice may be issued
    correction_due: date | None
    pauses: tuple[Pause, ...]
    days: tuple[DayEntry, ...]  # every day in (start, due_on]
    missing_years: tuple[int, ...]  # calendar missing for these years
    depends_on_open_consultation: bool
    fee: FeePause | None = None
    depends_on_unpaid_fee: bool = False
    abandoned_for: AbandonReason | None = None

    @property
    def provisional(self) -> bool:
        return bool(self.missing_years) or self.depends_on_open_consultation or self.depends_on_unpaid_fee

    @property
    def paused_wd(self) -> int:
        fee = self.fee.paused_workdays if self.fee else ()
        return len({d for p in self.pauses for d in p.paused_workdays} | set(fee))


def correction_window_ends(history: History, calendar: WorkCalendar) -> tuple[date, set[int]]:
    w = _Walker(calendar)
    return w.nth_workday_after(history.received_on, CORRECTION_WINDOW_WD), w.missing


def _pauses(history: History, w: _Walker, as_of: date | None) -> tuple[list[Pause], bool]:
    pauses, open_ = [], False
    for c in history.consultations:
        # The party's own 15 WD may run into an uncovered year without the reply deadline doing
        # so (answered early): that makes only this consultation's due date provisional.
        wd = _Walker(w.calendar)
        due = wd.nth_workday_after(c.delivered_on or c.sent_on, CONSULTATION_WD)
        if c.ended_on is not None:
            # An answer after the 15 WD does not extend the pause.
            ended, end = min(c.ended_on, due), c.end
            if c.end is ConsultationEnd.SILENT:
                ended = due
        elif as_of is not None and as_of > due:
            ended, end = due, ConsultationEnd.SILENT
        else:
            ended, end, open_ = min(as_of or due, due), None, True
        days = tuple(w.workdays_between(c.sent_on, ended))
        pauses.append(Pause(c.number, c.party_kind, c.party, c.sent_on, due, ended, end, days, bool(wd.missing)))
    return pauses, open_


def payment_due(fee: FeeNotice, calendar: WorkCalendar) -> tuple[date, bool]:
    """The last day of the applicant's 20 WD to pay (and whether it is provisional)."""
    w = _Walker(calendar)
    return w.nth_workday_after(fee.issued_on, FEE_PAYMENT_WD), bool(w.missing)


def _fee_pause(history: History, w: _Walker, as_of: date | None) -> tuple[FeePause | None, bool]:
    fee = history.fee
    if fee is None:
        return None, False
    due, due_prov = payment_due(fee, w.calendar)
    if fee.settled_on is not None:
        ended, open_ = fee.settled_on, False
    else:
        ended, open_ = min(as_of or due, due), True
    days = tuple(w.workdays_between(fee.issued_on, ended))
    return FeePause(fee.issued_on, fee.amount_yuan, due, ended, fee.settlement, days, due_prov), open_


def fee_lapsed(history: History, calendar: WorkCalendar, as_of: date) -> bool:
    """The fee is unpaid (not waived) and its 20 WD are over: the application is abandoned."""
    fee = history.fee
    return fee is not None and fee.settled_on is None and as_of > payment_due(fee, calendar)[0]


def compute(history: History, calendar: WorkCalendar, as_of: date | None = None) -> Deadline:
    """The case's reply deadline today (``as_of``), with every day that led to it."""
    w = _Walker(calendar)
    # (Its own walker: a correction window running into an uncovered year does not make the
    # reply deadline provisional; the window only matters while a notice can still be issued.)
    window_end = _Walker(calendar).nth_workday_after(history.received_on, CORRECTION_WINDOW_WD)
    corr = history.correction
    base = dict(
        received_on=history.received_on,
        channel=history.channel,
        extension_wd=history.extension.days if history.extension else 0,
        correction_window_ends=window_end,
        correction_due=corr.due_on if corr else None,
    )

    def closed(status: Status, start: date | None = None, why: AbandonReason | None = None) -> Deadline:
        return Deadline(
            status=status, start=start, restarted=False, limit_wd=REPLY_LIMIT_WD, due_on=None, pauses=(),
            days=(), missing_years=tuple(sorted(w.missing)), depends_on_open_consultation=False,
            fee=_fee_pause(history, _Walker(calendar), as_of)[0], abandoned_for=why, **base,
        )  # fmt: skip

    if history.on_the_spot:
        d = closed(Status.ANSWERED_ON_THE_SPOT)
        return replace(d, due_on=history.received_on)
    if corr is not None and corr.received_on is None:
        if history.abandoned_on is not None or (as_of is not None and as_of > corr.due_on):
            return closed(Status.ABANDONED, why=history.abandoned_for or AbandonReason.CORRECTION_OVERDUE)
        return closed(Status.AWAITING_CORRECTION)
    if history.replied_on is None and (
        history.abandoned_for is AbandonReason.FEE_UNPAID or (as_of is not None and fee_lapsed(history, calendar, as_of))
    ):
        return closed(Status.ABANDONED, why=AbandonReason.FEE_UNPAID)

    start = corr.received_on if corr and corr.received_on else history.received_on
    restarted = start != history.received_on or corr is not None
    limit = REPLY_LIMIT_WD + base["extension_wd"]
    pauses, open_ = _pauses(history, w, as_of)
    fee, fee_open = _fee_pause(history, w, as_of)
    fee_days = frozenset(fee.paused_workdays if fee else ())
    skip = frozenset(d for p in pauses for d in p.paused_workdays) | fee_days
    paused_by = {d: p.consultation for p in pauses for d in p.paused_workdays}
    due = w.nth_workday_after(start, limit, skip)

    days, n, d = [], 0, start
    while d < due:
        d += timedelta(days=1)
        info = w.info(d)
        prov = not calendar.covers(d.year)
        if info.is_workday and d not in skip:
            n += 1
            days.append(DayEntry(d, info, n, provisional=prov))
        else:
            work = info.is_workday
            days.append(DayEntry(d, info, None, paused_by.get(d) if work else None, prov,
                                 paused_by_fee=work and d in fee_days and d not in paused_by))

    if history.replied_on is not None:
        status = Status.REPLIED
    elif open_ or fee_open:
        status = Status.PAUSED
    else:
        status = Status.RUNNING
    return Deadline(
        status=status, start=start, restarted=restarted, limit_wd=limit, due_on=due, pauses=tuple(pauses),
        days=tuple(days), missing_years=tuple(sorted(w.missing)), depends_on_open_consultation=open_,
        fee=fee, depends_on_unpaid_fee=fee_open, **base,
    )  # fmt: skip


# -- steps: each validates a new fact against the history and returns the new history ------------


def issue_correction(
    history: History, calendar: WorkCalendar, *, issued_on: date, items: Iterable[str], due_on: date
) -> History:
    items = tuple(i.strip() for i in items if i and i.strip())
    if history.on_the_spot or history.replied_on or history.abandoned_on:
        raise ProcedureRefused("case_closed", "案件已办结，不能再发补正通知")
    if history.correction is not None:
        raise ProcedureRefused("second_correction", "补正通知只能一次性发出（《条例》第三十条），已发过补正通知")
    if not items:
        raise ProcedureRefused("no_items", "补正通知应当列明需要补正的全部事项")
    if issued_on < history.received_on:
        raise ProcedureRefused("before_receipt", "补正通知日期早于收到申请之日")
    window_end, _ = correction_window_ends(history, calendar)
    if issued_on > window_end:
        raise ProcedureRefused(
            "correction_window_passed",
            f"补正通知应当自收到申请之日起{CORRECTION_WINDOW_WD}个工作日内发出（《条例》第三十条），"
            f"最后期限为{window_end.isoformat()}",
        )
    if due_on <= issued_on:
        raise ProcedureRefused("due_not_after_issue", "补正期限应当晚于补正通知发出之日")
    return replace(history, correction=Correction(issued_on=issued_on, items=items, due_on=due_on))


def receive_correction(history: History, *, received_on: date, late_reason: str | None = None) -> History:
    corr = history.correction
    if corr is None:
        raise ProcedureRefused("no_correction", "本案未发出补正通知")
    if corr.received_on is not None:
        raise ProcedureRefused("correction_already_received", "补正材料已经收到")
    if history.abandoned_on is not None:
        raise ProcedureRefused("abandoned", "申请已视为放弃")
    if received_on < corr.issued_on:
        raise ProcedureRefused("before_notice", "补正日期早于补正通知发出之日")
    if received_on > corr.due_on and not (late_reason and late_reason.strip()):
        raise ProcedureRefused("correction_late", "已超过补正期限；如有正当理由，请说明理由")
    return replace(history, correction=replace(corr, received_on=received_on, late_reason=late_reason))


def abandon(history: History, *, as_of: date) -> History:
    """Deem the application abandoned (Art. 30): only after the correction deadline has passed."""
    corr = history.correction
    if corr is None or corr.received_on is not None:
        raise ProcedureRefused("not_awaiting_correction", "本案不在等待补正状态")
    if as_of <= corr.due_on:
        raise ProcedureRefused("correction_not_due", f"补正期限{corr.due_on.isoformat()}尚未届满")
    if history.abandoned_on is not None:
        return history
    return replace(history, abandoned_on=corr.due_on + timedelta(days=1))


def issue_fee_notice(history: History, *, issued_on: date, amount_yuan: int) -> History:
    """The fee notice intake issued (Art. 42): the reply time stops from the next working day."""
    if history.fee is not None:
        raise ProcedureRefused("fee_notice_exists", "本案已发出收费通知")
    if history.on_the_spot or history.replied_on or history.abandoned_on:
        raise ProcedureRefused("case_closed", "案件已办结，不能再发出收费通知")
    if issued_on < history.received_on:
        raise ProcedureRefused("before_receipt", "收费通知日期早于收到申请之日")
    if amount_yuan <= 0:
        raise ProcedureRefused("no_fee", "本申请不收取信息处理费")
    return replace(history, fee=FeeNotice(issued_on=issued_on, amount_yuan=amount_yuan))


def settle_fee(
    history: History, calendar: WorkCalendar, *, settled_on: date, settlement: FeeSettlement, recorded_by: str
) -> History:
    """The fee paid, or waived (减免), on ``settled_on``: the reply time runs again the next working day."""
    fee = history.fee
    if fee is None:
        raise ProcedureRefused("no_fee_notice", "本案未发出收费通知")
    if fee.settled_on is not None:
        raise ProcedureRefused("fee_settled", "本案信息处理费已登记缴纳或减免")
    if history.abandoned_on is not None:
        raise ProcedureRefused("abandoned", "申请已视为放弃")
    if settled_on < fee.issued_on:
        raise ProcedureRefused("before_fee_notice", "缴费或减免日期早于收费通知发出之日")
    due, _ = payment_due(fee, calendar)
    if settled_on > due:
        raise ProcedureRefused(
            "fee_payment_late",
            f"缴费期限（收到收费通知之日起{FEE_PAYMENT_WD}个工作日，至{due.isoformat()}）已届满，"
            "逾期未缴纳的视为放弃申请（国办函〔2020〕109号）",
        )
    settled = replace(fee, settled_on=settled_on, settlement=settlement, recorded_by=recorded_by)
    return replace(history, fee=settled)


def abandon_unpaid_fee(history: History, calendar: WorkCalendar, *, as_of: date) -> History:
    """Deem the application abandoned for a fee unpaid by its 20 WD (国办函〔2020〕109号)."""
    if history.abandoned_on is not None:
        return history
    if not fee_lapsed(history, calendar, as_of):
        raise ProcedureRefused("fee_not_lapsed", "缴费期限尚未届满或已缴费")
    assert history.fee is not None
    due, _ = payment_due(history.fee, calendar)
    return replace(history, abandoned_on=due + timedelta(days=1), abandoned_for=AbandonReason.FEE_UNPAID)


def approve_extension(
    history: History,
    calendar: WorkCalendar,
    *,
    approved_on: date,
    days: int,
    approver: str,
    approver_role: str,
    reason: str,
) -> History:
    if approver_role != OGI_HEAD_ROLE:
        raise ProcedureRefused("not_ogi_head", "延长答复期限须经政府信息公开工作机构负责人同意（《条例》第三十三条）")
    if history.extension is not None:
        raise ProcedureRefused("second_extension", "答复期限只能延长一次")
    if not 1 <= days <= MAX_EXTENSION_WD:
        raise ProcedureRefused("extension_too_long", f"延长的期限最长不得超过{MAX_EXTENSION_WD}个工作日")
    if not reason or not reason.strip():
        raise ProcedureRefused("no_reason", "请说明延期理由")
    current = compute(history, calendar, as_of=approved_on)
    if current.status not in (Status.RUNNING, Status.PAUSED) or current.due_on is None:
        raise ProcedureRefused("clock_not_running", "本案答复期限未在计算中，不能延期")
    if approved_on > current.due_on:
        raise ProcedureRefused("deadline_passed", f"答复期限{current.due_on.isoformat()}已届满，不能再延期")
    if approved_on < (current.start or history.received_on):
        raise ProcedureRefused("before_start", "延期日期早于期限起算日")
    ext = Extension(approved_on, days, approver, approver_role, reason.strip())
    return replace(history, extension=ext)


def start_consultation(
    history: History,
    calendar: WorkCalendar,
    *,
    party_kind: PartyKind,
    party: str,
    sent_on: date,
    delivered_on: date | None = None,
) -> History:
    if not party or not party.strip():
        raise ProcedureRefused("no_party", "请填写被征求意见的第三方或机关")
    current = compute(history, calendar, as_of=sent_on)
    if current.status not in (Status.RUNNING, Status.PAUSED) or current.due_on is None:
        raise ProcedureRefused("clock_not_running", "本案答复期限未在计算中，不能征求意见")
    if sent_on > current.due_on:
        raise ProcedureRefused("deadline_passed", "答复期限已届满，不能再征求意见")
    if sent_on < (current.start or history.received_on):
        raise ProcedureRefused("before_start", "征求意见日期早于期限起算日")
    if delivered_on is not None and delivered_on < sent_on:
        raise ProcedureRefused("delivered_before_sent", "送达日期早于发出日期")
    c = Consultation(len(history.consultations) + 1, party_kind, party.strip(), sent_on, delivered_on)
    return replace(history, consultations=(*history.consultations, c))


def end_consultation(history: History, *, number: int, ended_on: date, end: ConsultationEnd) -> History:
    cons = list(history.consultations)
    idx = next((i for i, c in enumerate(cons) if c.number == number), None)
    if idx is None:
        raise ProcedureRefused("no_such_consultation", f"没有第{number}次征求意见")
    c = cons[idx]
    if c.ended_on is not None:
        raise ProcedureRefused("consultation_ended", f"第{number}次征求意见已结束")
    if ended_on < c.sent_on:
        raise ProcedureRefused("before_sent", "结束日期早于征求意见书发出之日")
    cons[idx] = replace(c, ended_on=ended_on, end=end)
    return replace(history, consultations=tuple(cons))


# -- warnings, overdue ---------------------------------------------------------------------------


def workdays_left(deadline: Deadline, calendar: WorkCalendar, as_of: date) -> int | None:
    """Counted working days in (as_of, due_on]; negative when overdue (working days past due)."""
    if deadline.due_on is None:
        return None
    w = _Walker(calendar)
    skip = {d for p in deadline.pauses for d in p.paused_workdays} | set(deadline.fee.paused_workdays if deadline.fee else ())
    if as_of <= deadline.due_on:
        return sum(1 for d in w.workdays_between(as_of, deadline.due_on) if d not in skip)
    return -len(w.workdays_between(deadline.due_on, as_of))


@dataclass(frozen=True)
class Alert:
    kind: str  # "warning" or "overdue"
    threshold: int | None  # working days left (5, 2) for a warning
    due_on: date
    workdays_left: int


def alerts(deadline: Deadline, calendar: WorkCalendar, as_of: date) -> list[Alert]:
    """The warnings due on ``as_of`` (each threshold reached) and the overdue alert, if any.

    Callers publish each alert once per (case, kind, threshold, due_on) — a moved deadline warns
    again. A case that is replied, abandoned, or awaiting correction raises none.
    """
    if deadline.status not in (Status.RUNNING, Status.PAUSED) or deadline.due_on is None:
        return []
    if deadline.depends_on_unpaid_fee:
        return []  # the reply time is not running until the applicant pays
    left = workdays_left(deadline, calendar, as_of)
    assert left is not None
    if as_of > deadline.due_on:
        return [Alert("overdue", None, deadline.due_on, left)]
    return [Alert("warning", t, deadline.due_on, left) for t in WARNING_THRESHOLDS if left <= t]
