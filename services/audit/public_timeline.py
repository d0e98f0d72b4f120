"""A case's timeline as the applicant sees it, and the query code that opens it. Pure logic.

The applicant gives the tracking number and the query code printed on the receipt: 12 characters
of Crockford's base32 (digits and capitals without I, L, O, U), the top 60 bits of
HMAC-SHA256(secret, "gongkai-query-code/v2" NUL case id) — the same derivation as intake's, with
the same per-deployment secret (``AUDIT_QUERY_CODE_SECRET`` = ``INTAKE_QUERY_CODE_SECRET``). Input is
read leniently (any case, hyphens and spaces ignored, I and L read as 1, O as 0) and compared in
constant time. The view names each step in Chinese and keeps
its date and time; it leaves out internal details: producing services, topics, routing rules,
department answers before the reply, officers, reasons of internal steps, event ids and causation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from contracts.vocabulary import SERVICE_CHANNEL_LABELS
from services.audit.casefile import short_type
from servicekit import querycode

STEP_LABELS: dict[str, str] = {
    "application.received": "申请已登记",
    "case.routed": "已分送承办部门办理",
    "task.assigned": "承办部门已接收",
    "answer.recorded": "承办部门已提出答复意见",
    "reply.issued": "已作出答复",
    "notice.delivered": "已通知申请人",
    "correction.requested": "已发出补正通知",
    "correction.submitted": "已在线提交补正申请",
    "correction.received": "已收到补正后的申请",
    "application.abandoned": "申请视为放弃",
    "extension.approved": "答复期限已依法延长",
    "consultation.started": "已征求第三方或有关机关意见（期间不计入答复期限）",
    "consultation.ended": "征求意见已结束",
    "fee.notice.issued": "已发出信息处理费缴费通知",
    "reply.amended": "已补充答复（后到的承办部门答复）",
    "remedy.recorded": "行政复议、行政诉讼情况",
    "document.dispatched": "文书已邮寄",
    "document.served": "文书已送达",
    "document.returned": "邮寄的文书被退回",
}
REMEDY_LABELS = {"review": "行政复议", "litigation": "行政诉讼"}
REMEDY_RESULTS = {"upheld": "结果维持", "corrected": "结果纠正", "other": "其他结果"}
DEFAULT_LABEL = "办理进展"
NOTICE_LABELS = {"received": "已发送登记通知", "reply_issued": "已发送答复通知"}
CHANNEL_LABELS = {"email": "电子邮件", "webhook": "网络推送", "sms": "手机短信"}
SERVICE_LABELS = {c.value: label for c, label in SERVICE_CHANNEL_LABELS.items()}
DECISION_LABELS = {
    "already_public": "已主动公开，告知获取方式",
    "disclosed": "予以公开",
    "partially_disclosed": "部分公开",
    "not_disclosed": "不予公开",
    "not_exist": "经检索没有所申请的信息",
    "not_this_agency": "不属于本机关负责公开",
    "repeat": "重复申请，不予重复处理",
    "other_law": "依照其他法律法规办理",
}


# The applicant's query code (servicekit.querycode), as audit's tests and routes name it.
code_matches = querycode.matches
normalise_query_code = querycode.normalise
query_code = querycode.query_code


def applicant_step(event: dict[str, Any]) -> dict[str, Any]:
    """One step of the applicant's view of a (decoded) event."""
    kind = short_type(event.get("type", ""))
    data = event.get("data") or {}
    step: dict[str, Any] = {"time": event.get("time"), "step": STEP_LABELS.get(kind, DEFAULT_LABEL)}
    if kind == "application.received":
        step["detail"] = f"受理编号 {data.get('tracking_number', '')}，收到申请之日 {data.get('received_on', '')}"
    elif kind == "task.assigned":
        step["detail"] = f"承办部门：{data.get('dept_name', '')}"
    elif kind == "reply.issued":
        step["detail"] = f"答复结果：{DECISION_LABELS.get(data.get('decision', ''), '')}"
        step["document"] = data.get("document_text")
    elif kind == "reply.amended":
        step["detail"] = f"补充后的答复结果：{DECISION_LABELS.get(data.get('decision', ''), '')}"
        step["document"] = data.get("document_text")
    elif kind == "remedy.recorded":
        what = REMEDY_LABELS.get(data.get("kind", ""), "")
        step["step"] = f"{what}已登记" if data.get("stage") == "filed" else f"{what}已审结"
        step["detail"] = (f"提起日期 {data.get('filed_on', '')}" if data.get("stage") == "filed"
                          else f"{REMEDY_RESULTS.get(data.get('result', ''), '')}，审结日期 {data.get('decided_on', '')}")
    elif kind == "correction.requested":
        step["detail"] = f"请于 {data.get('due_on', '')} 前补正"
    elif kind == "correction.submitted":
        step["detail"] = f"提交补正之日 {data.get('received_on', '')}"
    elif kind == "extension.approved":
        step["detail"] = f"延长后的答复期限：{data.get('new_due_on', '')}"
    elif kind == "document.served":
        step["detail"] = f"{SERVICE_LABELS.get(data.get('channel', ''), '')}，送达日期 {data.get('served_on', '')}"
    elif kind == "document.dispatched":
        step["detail"] = f"寄出日期 {data.get('sent_on', '')}"
    elif kind == "document.returned":
        step["detail"] = f"退回日期 {data.get('returned_on', '')}"
    elif kind == "notice.delivered":
        step["step"] = NOTICE_LABELS.get(data.get("kind", ""), step["step"])
        step["detail"] = f"通知方式：{CHANNEL_LABELS.get(data.get('channel', ''), '')}"
    return step


def applicant_view(tracking_number: str, ordered_events: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The applicant's timeline from a case's decoded events in timeline order."""
    steps = [applicant_step(e) for e in ordered_events if short_type(e.get("type", "")) in STEP_LABELS]
    kinds = {short_type(e.get("type", "")) for e in ordered_events}
    status = "已办结" if "reply.issued" in kinds else "已终止（视为放弃）" if "application.abandoned" in kinds else "办理中"
    return {"tracking_number": tracking_number, "status": status, "steps": steps}
