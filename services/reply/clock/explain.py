"""The explanation of a deadline: a structure for the API and a Chinese text for people.

It says: the date of receipt and the rule of Art. 31 that fixed it; where the count starts (receipt
or the corrected application); each counted working day; each skipped day and why (weekend, which
holiday, paused by which consultation); the make-up workdays that counted; the extension; the
resulting date; and whether it is provisional (calendar missing for a year, open consultation).
"""

from __future__ import annotations

from typing import Any

from services.reply.clock.calendar import STATUTORY_RULES_ZH, DayKind, date_zh
from services.reply.clock.clock import (
    CONSULTATION_WD,
    CORRECTION_WINDOW_WD,
    FEE_PAYMENT_WD,
    REPLY_LIMIT_WD,
    AbandonReason,
    ConsultationEnd,
    Deadline,
    FeeSettlement,
    History,
    PartyKind,
    Status,
    receipt_rule,
)

STATUS_ZH = {
    Status.RUNNING: "答复期限计算中",
    Status.PAUSED: "征求意见中，答复期限暂停计算",
    Status.AWAITING_CORRECTION: "等待申请人补正，答复期限尚未起算",
    Status.ABANDONED: "申请人逾期未补正，视为放弃申请",
    Status.ANSWERED_ON_THE_SPOT: "已当场答复",
    Status.REPLIED: "已答复",
}
FEE_RULES = "《政府信息公开信息处理费管理办法》（国办函〔2020〕109号）"
PAUSED_FEE_ZH = "等待申请人缴纳信息处理费，答复期限暂停计算"
ABANDONED_FEE_ZH = "申请人逾期未缴纳信息处理费，视为放弃申请"
SETTLEMENT_ZH = {FeeSettlement.PAID: "缴纳", FeeSettlement.WAIVED: "减免"}
PARTY_ZH = {PartyKind.THIRD_PARTY: "第三方", PartyKind.OTHER_AGENCY: "其他机关"}
PARTY_ARTICLE = {PartyKind.THIRD_PARTY: "《条例》第三十二条", PartyKind.OTHER_AGENCY: "《条例》第三十四条"}


def _day_reason(e: Any) -> str:
    if e.counted is not None:
        base = f"计入，第{e.counted}个工作日"
        if e.info.kind is DayKind.MAKEUP_WORKDAY:
            base = f"{e.info.holiday}调休上班，{base}"
    elif e.paused_by is not None:
        base = f"第{e.paused_by}次征求意见期间，不计入（《条例》第三十三条第二款）"
    elif e.paused_by_fee:
        base = f"收费通知发出至缴费期间，不计入（{FEE_RULES}）"
    else:
        base = f"{e.info.reason_zh()}，不计入"
    if e.provisional:
        base += "（该年度国务院节假日安排尚未公布，暂按周末和法定节假日推算）"
    return base


def status_zh(d: Deadline) -> str:
    if d.status is Status.ABANDONED and d.abandoned_for is AbandonReason.FEE_UNPAID:
        return ABANDONED_FEE_ZH
    if d.status is Status.PAUSED and d.depends_on_unpaid_fee:
        return PAUSED_FEE_ZH + ("；征求意见中" if d.depends_on_open_consultation else "")
    return STATUS_ZH[d.status]


def explain(history: History, d: Deadline) -> dict[str, Any]:
    label, rule, article = receipt_rule(history.channel)
    days = [
        {
            "date": e.day.isoformat(),
            "weekday": e.day.isoweekday(),
            "kind": e.info.kind.value,
            "holiday": e.info.holiday,
            "counted": e.counted,
            "paused_by_consultation": e.paused_by,
            "paused_by_fee": e.paused_by_fee,
            "estimated_holiday": e.info.estimated,
            "provisional": e.provisional,
            "reason": _day_reason(e),
        }
        for e in d.days
    ]
    structured: dict[str, Any] = {
        "status": d.status.value,
        "status_zh": status_zh(d),
        "abandoned_for": d.abandoned_for.value if d.abandoned_for else None,
        "receipt": {
            "date": history.received_on.isoformat(),
            "channel": history.channel.value if history.channel else None,
            "rule": f"{label}，{rule}" if label else rule,
            "article": article,
        },
        "start": d.start.isoformat() if d.start else None,
        "restarted_by_correction": d.restarted,
        "limit_workdays": d.limit_wd,
        "base_workdays": REPLY_LIMIT_WD,
        "correction_window_ends": d.correction_window_ends.isoformat() if d.correction_window_ends else None,
        "correction": None,
        "extension": None,
        "pauses": [
            {
                "consultation": p.consultation,
                "party_kind": p.party_kind.value,
                "party": p.party,
                "sent_on": p.sent_on.isoformat(),
                "consultation_due": p.consultation_due.isoformat(),
                "consultation_due_provisional": p.due_provisional,
                "ended_on": p.ended_on.isoformat(),
                "end": p.end.value if p.end else None,
                "paused_workdays": [x.isoformat() for x in p.paused_workdays],
            }
            for p in d.pauses
        ],
        "fee": None
        if d.fee is None
        else {
            "issued_on": d.fee.issued_on.isoformat(),
            "amount_yuan": d.fee.amount_yuan,
            "payment_due": d.fee.payment_due.isoformat(),
            "payment_due_provisional": d.fee.due_provisional,
            "ended_on": d.fee.ended_on.isoformat(),
            "settlement": d.fee.settlement.value if d.fee.settlement else None,
            "recorded_by": history.fee.recorded_by if history.fee else None,
            "paused_workdays": [x.isoformat() for x in d.fee.paused_workdays],
        },
        "depends_on_unpaid_fee": d.depends_on_unpaid_fee,
        "paused_workdays": d.paused_wd,
        "days": days,
        "skipped": [x for x in days if x["counted"] is None],
        "due_on": d.due_on.isoformat() if d.due_on else None,
        "provisional": d.provisional,
        "missing_calendar_years": list(d.missing_years),
        "depends_on_open_consultation": d.depends_on_open_consultation,
    }
    if history.correction:
        c = history.correction
        structured["correction"] = {
            "issued_on": c.issued_on.isoformat(),
            "items": list(c.items),
            "due_on": c.due_on.isoformat(),
            "received_on": c.received_on.isoformat() if c.received_on else None,
            "late_reason": c.late_reason,
        }
    if history.extension:
        x = history.extension
        structured["extension"] = {
            "approved_on": x.approved_on.isoformat(),
            "workdays": x.days,
            "approver": x.approver,
            "reason": x.reason,
        }
    structured["text_zh"] = render_zh(history, d)
    return structured


def render_zh(history: History, d: Deadline) -> str:
    label, rule, article = receipt_rule(history.channel)
    lines = [
        f"收到申请之日：{date_zh(history.received_on)}。{label + '，' if label else ''}{rule}（{article}）。"
        "收到申请当日不计入期限。",
        f"状态：{status_zh(d)}。",
    ]
    if d.status is Status.ANSWERED_ON_THE_SPOT:
        lines.append("能够当场答复的，已当场予以答复（《条例》第三十三条第一款）。")
        return "\n".join(lines)
    c = history.correction
    if d.correction_window_ends and (c is None or d.status is Status.AWAITING_CORRECTION):
        lines.append(
            f"如需补正，应于{date_zh(d.correction_window_ends)}前（收到申请之日起{CORRECTION_WINDOW_WD}个工作日内）"
            "一次性告知申请人（《条例》第三十条）。"
        )
    if c is not None:
        lines.append(
            f"{date_zh(c.issued_on)}发出补正通知，补正事项：{'；'.join(c.items)}；补正期限至{date_zh(c.due_on)}。"
        )
        if c.received_on:
            late = f"（逾期补正，正当理由：{c.late_reason}）" if c.late_reason else ""
            lines.append(
                f"{date_zh(c.received_on)}收到补正后的申请{late}，答复期限自该日起重新计算，当日不计入（《条例》第三十条）。"
            )
        elif d.status is Status.ABANDONED:
            lines.append("申请人无正当理由逾期不补正，视为放弃申请，行政机关不再处理该申请（《条例》第三十条）。")
            return "\n".join(lines)
        else:
            lines.append("补正期间答复期限不计算，自收到补正后的申请之日起重新计算。")
            return "\n".join(lines)
    if d.status is Status.ABANDONED and d.abandoned_for is AbandonReason.FEE_UNPAID:
        lines.extend(_fee_lines(d))
        return "\n".join(lines)
    lines.append(f"答复期限：{REPLY_LIMIT_WD}个工作日（《条例》第三十三条第一款）。")
    if history.extension:
        x = history.extension
        lines.append(
            f"{date_zh(x.approved_on)}经政府信息公开工作机构负责人{x.approver}同意延长答复期限{x.days}个工作日"
            f"（理由：{x.reason}；《条例》第三十三条第一款），合计{d.limit_wd}个工作日。"
        )
    for p in d.pauses:
        how = {
            ConsultationEnd.ANSWERED: f"于{date_zh(p.ended_on)}收到意见",
            ConsultationEnd.SILENT: f"逾期未提出意见（截至{date_zh(p.consultation_due)}）",
            None: f"尚未答复（征求意见期限至{date_zh(p.consultation_due)}），暂计至{date_zh(p.ended_on)}",
        }[p.end]
        lines.append(
            f"第{p.consultation}次征求意见：{date_zh(p.sent_on)}向{PARTY_ZH[p.party_kind]}“{p.party}”发出征求意见书"
            f"（{PARTY_ARTICLE[p.party_kind]}，{CONSULTATION_WD}个工作日内提出意见），{how}；"
            f"其间{len(p.paused_workdays)}个工作日不计入答复期限（《条例》第三十三条第二款）。"
        )
    lines.extend(_fee_lines(d))
    lines.append("逐日计算：")
    for e in d.days:
        lines.append(f"  {date_zh(e.day)}：{_day_reason(e)}")
    if d.due_on:
        lines.append(f"答复期限届满日：{date_zh(d.due_on)}。")
    if d.missing_years:
        years = "、".join(f"{y}年" for y in d.missing_years)
        lines.append(
            f"注意：国务院办公厅尚未公布{years}部分节假日安排的通知（或尚未录入日历），上述日期为暂定日期。"
            f"暂定日期按周末和{STATUTORY_RULES_ZH}规定的法定节假日推算（元旦1天，春节4天即农历除夕至正月初三，"
            "清明节1天，劳动节2天，端午节1天，中秋节1天，国庆节3天；农历日期和清明节气由农历历法计算）；"
            "该年度的调休上班日和节假日逢周末的补休安排尚不可知，未予计入。通知公布并录入后将重新计算。"
        )
    if d.depends_on_open_consultation:
        lines.append("注意：征求意见尚未结束，期限届满日随征求意见结束之日确定。")
    if d.depends_on_unpaid_fee:
        lines.append("注意：申请人尚未缴纳信息处理费，期限届满日随缴费之日确定。")
    return "\n".join(lines)


def _fee_lines(d: Deadline) -> list[str]:
    f = d.fee
    if f is None:
        return []
    head = (
        f"{date_zh(f.issued_on)}发出信息处理费收费通知（人民币{f.amount_yuan}元；《条例》第四十二条、{FEE_RULES}），"
        f"申请人应自收到通知之日起{FEE_PAYMENT_WD}个工作日内缴纳，缴费期限至{date_zh(f.payment_due)}"
        f"{'（暂定）' if f.due_provisional else ''}。"
    )
    n = len(f.paused_workdays)
    if f.settlement is not None:
        tail = (
            f"{date_zh(f.ended_on)}登记{SETTLEMENT_ZH[f.settlement]}信息处理费；"
            f"自发出收费通知至{SETTLEMENT_ZH[f.settlement]}之日，其间{n}个工作日不计入答复期限。"
        )
    elif d.status is Status.ABANDONED:
        tail = "申请人逾期未缴纳信息处理费，视为放弃申请，本机关不再处理该政府信息公开申请。"
    else:
        tail = f"尚未缴纳，暂计至{date_zh(f.ended_on)}，其间{n}个工作日不计入答复期限（缴费前答复期限暂停计算）。"
    return [head + tail]
