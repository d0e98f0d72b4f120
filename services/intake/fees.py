"""Information-processing fees (Art. 42 of the 2019 Regulations; 《政府信息公开信息处理费管理办法》,
国办函〔2020〕109号). Pure domain logic.

Our reading of the measures, as implemented:

- **Per application (按件计收)**: counted per applicant, per agency, per calendar month (一个自然月
  内累计申请). Up to and including the 10th application: free. The 11th to 30th: ¥100 each. Above
  30, "以10件为一档，每增加一档，收费标准提高100元/件": the 31st–40th ¥200 each, the 41st–50th
  ¥300 each, and so on. The fee of one application is the price of its rank in the month; the
  brackets are marginal ("……的部分").
- **Per page (按量计收)**, for one application: up to and including 30 pages free; the part from
  page 31 to 100 ¥10 per page; from 101 to 200 ¥20 per page; above 200 ¥40 per page. Progressive:
  each bracket's price applies only to the pages within it ("……的部分"), so 101 pages cost
  70 × 10 + 1 × 20 = ¥720.
- An agency uses one of the two methods for a given application, never both.
- The agency issues a fee notice stating the basis, the standard, the amount and how to pay; the
  applicant pays within 20 working days of receiving it, or the application is deemed abandoned;
  the time between the notice and the payment is not counted in the reply deadline. The reply
  service's clock keeps that pause (services/reply/clock/clock.py): it consumes ``fee.notice.issued``,
  ``fee.paid`` and ``fee.waived``, and deems the application abandoned (``application.abandoned``,
  reason ``fee_unpaid``) on the day after the 20 WD if neither came.
- The officer confirms every notice before it is sent (fees may be reduced or waived for an
  applicant in difficulty, which is the officer's decision, not this module's).
- An OGI officer records the payment (the day received, the amount) or the waiver (减免, with its
  reason) once (``settlement_refusal``); the working-day count is the clock's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from enum import StrEnum

FREE_APPLICATIONS = 10
FIRST_BAND_END = 30
FIRST_BAND_PRICE = 100
BAND_SIZE = 10
BAND_STEP = 100

# (last page of the bracket or None, price per page in yuan)
PAGE_BRACKETS: tuple[tuple[int | None, int], ...] = ((30, 0), (100, 10), (200, 20), (None, 40))
PAYMENT_WD = 20
BASIS = "《中华人民共和国政府信息公开条例》第四十二条、《政府信息公开信息处理费管理办法》（国办函〔2020〕109号）"


class FeeMethod(StrEnum):
    PER_APPLICATION = "per_application"  # 按件计收
    PER_PAGE = "per_page"  # 按量计收


def price_of_nth_application(n: int) -> int:
    """The fee in yuan of the applicant's ``n``-th application to the agency in one month."""
    if n < 1:
        raise ValueError("n must be ≥ 1")
    if n <= FREE_APPLICATIONS:
        return 0
    if n <= FIRST_BAND_END:
        return FIRST_BAND_PRICE
    band = (n - FIRST_BAND_END - 1) // BAND_SIZE + 1  # 31–40 → 1, 41–50 → 2, …
    return FIRST_BAND_PRICE + BAND_STEP * band


def per_page_fee(pages: int) -> tuple[int, list[tuple[int, int, int, int]]]:
    """Total fee in yuan for ``pages`` pages, and the brackets charged: (first, last, price, amount)."""
    if pages < 0:
        raise ValueError("pages must be ≥ 0")
    total, lines, lower = 0, [], 0
    for upper, price in PAGE_BRACKETS:
        top = pages if upper is None else min(pages, upper)
        if top > lower:
            amount = (top - lower) * price
            if price:
                lines.append((lower + 1, top, price, amount))
            total += amount
        if upper is None or pages <= upper:
            break
        lower = upper
    return total, lines


def month_of(d: date) -> str:
    return f"{d.year:04d}-{d.month:02d}"


def rank_in_month(
    applications: Iterable[tuple[str, str, str, date]], *, case_id: str, applicant_ref: str, agency_code: str
) -> int:
    """The rank (1-based) of ``case_id`` among the applicant's applications to the agency in its
    month. ``applications``: (case_id, applicant_ref, agency_code, received_on), any order;
    ties on the same day are ordered by case id (the tracking numbers are sequential)."""
    apps = list(applications)
    mine = next((a for a in apps if a[0] == case_id), None)
    if mine is None:
        raise ValueError(f"{case_id} not among the applications")
    month = month_of(mine[3])
    same = sorted(
        (a for a in apps if a[1] == applicant_ref and a[2] == agency_code and month_of(a[3]) == month),
        key=lambda a: (a[3], a[0]),
    )
    return 1 + [a[0] for a in same].index(case_id)


@dataclass(frozen=True)
class FeeNotice:
    case_id: str
    applicant_ref: str
    agency_code: str
    method: FeeMethod
    amount_yuan: int
    month: str | None = None  # per application
    rank_in_month: int | None = None  # per application
    pages: int | None = None  # per page
    breakdown: tuple[str, ...] = field(default_factory=tuple)
    payment_workdays: int = PAYMENT_WD
    text_zh: str = ""
    confirmed: bool = False  # set when the officer confirms

    @property
    def chargeable(self) -> bool:
        return self.amount_yuan > 0


def per_application_notice(*, case_id: str, applicant_ref: str, agency_code: str, received_on: date, rank: int) -> FeeNotice:
    price = price_of_nth_application(rank)
    month = month_of(received_on)
    band = (
        "前10件（含）不收费"
        if rank <= FREE_APPLICATIONS
        else "第11件至第30件（含）每件100元"
        if rank <= FIRST_BAND_END
        else f"第{FIRST_BAND_END + 1 + BAND_SIZE * ((rank - FIRST_BAND_END - 1) // BAND_SIZE)}件至"
        f"第{FIRST_BAND_END + BAND_SIZE * ((rank - FIRST_BAND_END - 1) // BAND_SIZE + 1)}件（含）每件{price}元"
    )
    breakdown = (f"本申请为申请人{received_on.year}年{received_on.month}月向本机关提出的第{rank}件申请，适用{band}。",)
    return FeeNotice(
        case_id=case_id,
        applicant_ref=applicant_ref,
        agency_code=agency_code,
        method=FeeMethod.PER_APPLICATION,
        amount_yuan=price,
        month=month,
        rank_in_month=rank,
        breakdown=breakdown,
        text_zh=_text(price, "按件计收", breakdown),
    )


def per_page_notice(*, case_id: str, applicant_ref: str, agency_code: str, pages: int) -> FeeNotice:
    total, lines = per_page_fee(pages)
    breakdown = (f"所需提供的政府信息共{pages}页，其中30页（含）以内不收费。",) + tuple(
        f"第{a}页至第{b}页共{b - a + 1}页，每页{price}元，计{amount}元。" for a, b, price, amount in lines
    )
    return FeeNotice(
        case_id=case_id,
        applicant_ref=applicant_ref,
        agency_code=agency_code,
        method=FeeMethod.PER_PAGE,
        amount_yuan=total,
        pages=pages,
        breakdown=breakdown,
        text_zh=_text(total, "按量计收", breakdown),
    )


def _text(amount: int, method_zh: str, breakdown: tuple[str, ...]) -> str:
    if amount == 0:
        return "根据" + BASIS + "，" + "".join(breakdown) + "本申请不收取信息处理费。"
    return (
        "信息处理费收费通知\n"
        f"收费依据：{BASIS}。\n"
        f"收费标准：{method_zh}。" + "".join(breakdown) + "\n"
        f"收费金额：人民币{amount}元。\n"
        f"请自收到本通知之日起{PAYMENT_WD}个工作日内缴纳；逾期未缴纳的，视为放弃申请，本机关不再处理该政府信息公开申请。"
        "自发出收费通知之日至收到缴费之日的期间，不计算在答复期限内。"
    )


# -- payment or waiver (recorded by an OGI officer) -------------------------------------------------

PAST_DAYS = 366  # a date of a fact at most a year back (as on the clock's routes)


def date_refusal(name: str, value: date | None, *, today: date, not_before: date, not_before_zh: str) -> str | None:
    """Why a date an officer gives is out of range (the 422 message for field ``name``), or None."""
    if value is None:
        return None
    if value > today:
        return f"日期不能晚于今天（{today.isoformat()}）"
    if value < today - timedelta(days=PAST_DAYS):
        return f"日期不能早于{(today - timedelta(days=PAST_DAYS)).isoformat()}（一年以前）"
    if value < not_before:
        return f"日期不能早于{not_before_zh}（{not_before.isoformat()}）"
    return None


def settlement_refusal(doc: Mapping[str, Any]) -> str | None:
    """Why a payment or waiver cannot be recorded on this application now (409), or None."""
    fee = (doc.get("screening") or {}).get("fee_notice") or {}
    if not fee.get("confirmed"):
        return "本申请尚未发出收费通知"
    if fee.get("settlement"):
        done = "缴费" if fee["settlement"]["kind"] == "paid" else "减免"
        return f"已于{fee['settlement']['on']}登记{done}，不能重复登记"
    abandoned = (doc.get("correction") or {}).get("abandoned")
    if abandoned:
        why = "逾期未缴纳信息处理费" if abandoned.get("reason") == "fee_unpaid" else "逾期未补正"
        return f"申请已因{why}视为放弃（{abandoned.get('abandoned_on')}），不能再登记缴费或减免"
    return None
