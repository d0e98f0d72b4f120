"""What each notice says to the applicant (Simplified Chinese). Pure domain logic."""

from __future__ import annotations

from dataclasses import dataclass

from contracts.events import ApplicationReceived, ReplyIssued
from contracts.vocabulary import CHANNEL_LABELS, REPLY_TYPE_LABELS


@dataclass(frozen=True)
class Message:
    subject: str
    body: str


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


def backoff_seconds(attempts: int, base: float, cap: float) -> float:
    """Delay before the next try after ``attempts`` failed tries: exponential, capped."""
    return min(cap, base * 2 ** max(attempts - 1, 0))
