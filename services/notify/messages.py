"""What each notice says (Simplified Chinese), to the applicant and to officers. Pure domain logic.

Every notice names the case by its tracking number when notify knows it (learned from
``application.received``; procedure events carry only the case id) and cites the article of the
2019 Regulations (《中华人民共和国政府信息公开条例》) it is given under.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from contracts.events import ApplicationReceived, ReplyIssued
from contracts.events_procedure import (
    ApplicationAbandoned,
    CaseOverdue,
    DeadlineChanged,
    CorrectionRequested,
    DeadlineWarning,
    ExtensionApproved,
    FeeNoticeIssued,
)
from contracts.events_routing import ReferralRecorded
from contracts.vocabulary import CHANNEL_LABELS, REPLY_TYPE_LABELS

REGULATIONS = "《中华人民共和国政府信息公开条例》"
FEE_RULES = "《政府信息公开信息处理费管理办法》（国办函〔2020〕109号）"


@dataclass(frozen=True)
class Message:
    subject: str
    body: str


def cn_date(d: date) -> str:
    return f"{d:%Y年%m月%d日}"


def _numbered(tracking_number: str | None) -> str:
    """Subject suffix naming the case."""
    return f"（受理编号 {tracking_number}）" if tracking_number else ""


def _your_application(tracking_number: str | None) -> str:
    return f"您的政府信息公开申请（受理编号 {tracking_number}）" if tracking_number else "您的政府信息公开申请"


def received(app: ApplicationReceived) -> Message:
    return Message(
        subject=f"政府信息公开申请已登记（受理编号 {app.tracking_number}）",
        body=(
            f"您好！您以{CHANNEL_LABELS[app.channel]}方式提出的政府信息公开申请已登记。\n"
            f"受理编号：{app.tracking_number}\n"
            f"收到申请日期：{app.received_on:%Y年%m月%d日}\n"
            "本机关将依照《中华人民共和国政府信息公开条例》第三十三条规定的期限作出答复，"
            "答复作出后将另行通知您。您可凭受理编号和查询码查询办理进度。"
        ),
    )


def reply_issued(reply: ReplyIssued) -> Message:
    return Message(
        subject=f"政府信息公开申请已答复（受理编号 {reply.tracking_number}）：{REPLY_TYPE_LABELS[reply.decision]}",
        body=f"您好！您的政府信息公开申请已作出答复，答复书如下：\n\n{reply.document_text}",
    )


def correction_requested(c: CorrectionRequested, tracking_number: str | None) -> Message:
    """补正通知 (Art. 30): every item to correct and the applicant's deadline."""
    items = "\n".join(f"{i}. {item}" for i, item in enumerate(c.items, start=1))
    return Message(
        subject=f"政府信息公开申请补正通知{_numbered(tracking_number)}",
        body=(
            f"您好！{_your_application(tracking_number)}内容不够明确。根据{REGULATIONS}第三十条的规定，"
            f"请您对以下事项作出补正：\n{items}\n"
            f"请于{cn_date(c.due_on)}前提交补正后的申请。答复期限自本机关收到补正后的申请之日起重新计算。"
            "无正当理由逾期不补正的，视为放弃申请，本机关不再处理该政府信息公开申请。\n"
            f"本通知发出日期：{cn_date(c.issued_on)}"
        ),
    )


def extension_approved(x: ExtensionApproved, tracking_number: str | None) -> Message:
    """延期答复通知 (Art. 33 ¶2): the new due date and the reason."""
    provisional = "（该日期所涉年度的节假日安排尚未公布，如有调整将另行告知）" if x.provisional else ""
    return Message(
        subject=f"政府信息公开申请延期答复通知{_numbered(tracking_number)}",
        body=(
            f"您好！{_your_application(tracking_number)}因{x.reason}，需要延长答复期限。"
            f"根据{REGULATIONS}第三十三条第二款的规定，经本机关政府信息公开工作机构负责人同意，"
            f"答复期限延长{x.workdays}个工作日，"
            f"由{cn_date(x.old_due_on)}延长至{cn_date(x.new_due_on)}{provisional}。"
            f"本机关将在{cn_date(x.new_due_on)}前作出答复。"
        ),
    )


ABANDON_REASONS = {
    "correction_overdue": (
        "您未在补正通知规定的期限内补正申请",
        f"根据{REGULATIONS}第三十条的规定，申请人无正当理由逾期不补正的，视为放弃申请",
    ),
    "fee_unpaid": (
        "您未在规定期限内缴纳信息处理费",
        f"根据{REGULATIONS}第四十二条及{FEE_RULES}的规定，申请人逾期未缴纳信息处理费的，视为放弃申请",
    ),
}


def application_abandoned(a: ApplicationAbandoned, tracking_number: str | None) -> Message:
    """视为放弃 (Art. 30; or Art. 42 for an unpaid fee)."""
    why, rule = ABANDON_REASONS[a.reason]
    deadline = f"（期限：{cn_date(a.correction_due)}）" if a.reason == "correction_overdue" else ""
    return Message(
        subject=f"政府信息公开申请视为放弃告知{_numbered(tracking_number)}",
        body=(
            f"您好！{why}{deadline}。{rule}，本机关自{cn_date(a.abandoned_on)}起不再处理"
            f"{_your_application(tracking_number)}。如仍需获取相关政府信息，您可以重新提出申请。"
        ),
    )


def fee_notice_issued(f: FeeNoticeIssued, tracking_number: str | None) -> Message:
    """收费通知 (Art. 42; 国办函〔2020〕109号)."""
    if f.method == "per_application":
        basis = (f"您于{f.month[:4]}年{int(f.month[5:7])}月向本机关提出的政府信息公开申请中，本申请为第{f.rank_in_month}件，"
                 "超过每月10件的免费数量，按件计收信息处理费" if f.month and f.rank_in_month
                 else "您本月提出的政府信息公开申请超过每月10件的免费数量，按件计收信息处理费")
    else:
        basis = f"本机关需向您提供的政府信息共{f.pages}页，超过30页的免费数量，按量计收信息处理费"
    return Message(
        subject=f"政府信息公开信息处理费缴费通知{_numbered(tracking_number)}",
        body=(
            f"您好！{_your_application(tracking_number)}：{basis}。"
            f"根据{REGULATIONS}第四十二条及{FEE_RULES}的规定，应缴纳信息处理费人民币{f.amount_yuan}元。\n"
            f"请自收到本通知之日起{f.payment_workdays}个工作日内缴纳；逾期未缴纳的，视为放弃申请。"
            "缴费期间不计算在答复期限内。\n"
            f"通知日期：{cn_date(f.issued_on)}"
        ),
    )


def referral_recorded(r: ReferralRecorded) -> Message:
    """非本机关负责公开告知 (Art. 36(5)): the text routing wrote for the applicant."""
    basis = "" if r.legal_basis in r.message else f"\n依据：{r.legal_basis}"
    return Message(
        subject=f"政府信息公开申请告知书：不属于本机关负责公开（受理编号 {r.tracking_number}）",
        body=f"您好！{r.message}{basis}",
    )


def reply_amended(tracking_number: str | None, text: str) -> Message:
    """答复更正/补充: an answer that came after the reply was issued."""
    return Message(
        subject=f"政府信息公开申请答复更正（补充）通知{_numbered(tracking_number)}",
        body=(
            f"您好！本机关对{_your_application(tracking_number)}已作出的答复作如下更正（补充），"
            f"依据{REGULATIONS}第三十六条：\n\n{text}"
        ),
    )


def _departments(open_departments: list[str]) -> str:
    return "、".join(open_departments) if open_departments else "无"


def deadline_warning(w: DeadlineWarning, tracking_number: str | None) -> Message:
    """To officers: the reply deadline is near (Art. 33)."""
    provisional = "（暂定：所涉年度节假日安排未公布）" if w.provisional else ""
    case = tracking_number or w.case_id
    return Message(
        subject=f"【答复期限预警】受理编号 {case} 剩余{w.workdays_left}个工作日",
        body=(
            f"政府信息公开申请（受理编号 {case}）的答复期限为{cn_date(w.due_on)}{provisional}，"
            f"尚余{w.workdays_left}个工作日（{REGULATIONS}第三十三条）。\n"
            f"尚未办结的承办部门：{_departments(w.open_departments)}\n"
            "请尽快办理，以免逾期。"
        ),
    )


def case_overdue(o: CaseOverdue, tracking_number: str | None) -> Message:
    """To officers: the reply deadline has passed without a reply."""
    case = tracking_number or o.case_id
    return Message(
        subject=f"【已逾期】受理编号 {case} 已超过答复期限",
        body=(
            f"政府信息公开申请（受理编号 {case}）的答复期限{cn_date(o.due_on)}已过，尚未作出答复"
            f"（{REGULATIONS}第三十三条）。发现日期：{cn_date(o.detected_on)}。\n"
            f"尚未办结的承办部门：{_departments(o.open_departments)}\n"
            "请立即办理并作出答复。"
        ),
    )


def calendar_missing(c: DeadlineChanged, tracking_number: str | None, day: date) -> Message:
    """To the OGI office, once a day per missing year: deadlines run into a year whose holidays are
    not known yet. It names the day's first case; the others are on the supervision page."""
    case = tracking_number or c.case_id
    years = "、".join(f"{y}年" for y in c.missing_calendar_years) or "所涉年度"
    due = cn_date(c.new_due_on) if c.new_due_on else "待定"
    return Message(
        subject=f"【日历缺失】{years}节假日安排尚未载入，答复期限为暂定日期",
        body=(
            f"{cn_date(day)}起，政府信息公开申请的答复期限计算涉及{years}，"
            f"该年度的节假日安排尚未载入，所涉期限均为暂定。\n"
            f"今日首个涉及的申请：受理编号 {case}，答复期限暂按{due}计算。"
            "当日其他涉及该年度的申请不再逐件提醒，请在工作台“督办”页查看标注“（暂定）”的期限。\n"
            "请在国务院办公厅公布该年度节假日安排后，将其载入工作日日历（services/reply/calendars/），"
            "系统将自动重新计算并记录期限变化。"
        ),
    )


def backoff_seconds(attempts: int, base: float, cap: float) -> float:
    """Delay before the next try after ``attempts`` failed tries: exponential, capped."""
    return min(cap, base * 2 ** max(attempts - 1, 0))


# -- text messages (SMS, issue #17) ---------------------------------------------------------------
# A text is read on a lock screen and stays in the operator's and the handset's records: it names
# the case by its tracking number and the step, nothing more (no name, no content of the request,
# no decision), and points to the status page, where the applicant sees the rest with the query code.
SMS_STEPS = {
    "received": "已登记",
    "correction_requested": "需要补正，请查看补正通知",
    "extension_approved": "答复期限已延长",
    "fee_notice_issued": "需缴纳信息处理费，请查看缴费通知",
    "referral_recorded": "已有处理结果（非本机关负责公开）",
    "reply_issued": "已作出答复",
    "application_abandoned": "已终止办理（视为放弃申请）",
    "reply_amended": "答复已更正（补充）",
}


def sms_text(kind: str, tracking_number: str | None, status_url: str) -> str:
    """The one text of a step: the tracking number, the step, the status page."""
    step = SMS_STEPS.get(kind, "有新的办理进展")
    case = f"（受理编号{tracking_number}）" if tracking_number else ""
    return f"【政府信息公开】您的申请{case}{step}。请凭受理编号和查询码查看：{status_url}"
