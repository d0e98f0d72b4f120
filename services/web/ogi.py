"""The OGI office's workbench (公开办工作台): triage queue, clerk entry, the case page, supervision
(督办) and statistics. Every page reads the other services' HTTP APIs with the signed-in officer's
token; every action is a POST form (CSRF-checked) that calls the API with that token and, when the
API refuses, shows the API's own Chinese message (its status kept). Nothing here decides who may
do what: the APIs do (contracts/access.py); the pages only hide forms an officer could not use.

Routes: ``/work/ogi`` (queue), ``/work/ogi/clerk``, ``/work/ogi/cases/{case_id}`` (+ its actions),
``/work/ogi/supervision``, ``/work/stats`` (statistics and the ledger; auditors too).

The case page's 「送达」 section (issue #17) is the reply service's ``/cases/{case_id}/service``: each
document addressed to the applicant with the date and way it was served, the remedy deadlines that
follow, and the forms that record service by post (邮寄, then 签收 or 退回) and at the window (当面
送达). Those forms are htmx forms that also work without JavaScript: an htmx POST gets the section
back (updated, or with the API's field messages next to the fields, its status kept), a plain POST
goes back to the case page (303) or shows it with the messages. The 送达回证 and the address label
are the reply service's PDFs, passed on as the reply's documents are.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import date, datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from contracts.decisions import OUTCOMES
from contracts.vocabulary import RETURN_REASON_LABELS, SERVICE_CHANNEL_LABELS
from services.web.backends import ApiResult
from services.web.backends import call as backends_call
from services.web.auth import require_officer, verify_csrf
from services.web.ui import china_time, china_today, date_zh, is_htmx, render, vary

OGI_ROLES = ("ogi_officer", "ogi_head")
STATS_ROLES = ("ogi_officer", "ogi_head", "auditor")
# Module-level dependencies (one object each, so tests can override them).
ogi_staff = require_officer(*OGI_ROLES)
stats_readers = require_officer(*STATS_ROLES)

ogi = APIRouter(prefix="/work/ogi")
stats = APIRouter(prefix="/work/stats")
router = APIRouter()  # both, included once by services/web/app.py

CASE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
TASK_ID = CASE_ID

QUESTIONS = [
    ("correction", "补不补", "申请是否需要补正（《条例》第三十条）",
     [("clear", "内容明确，无需补正"), ("needs_correction", "需要补正")]),
    ("scope", "该不该", "是否属于政府信息公开申请（《条例》第三十八条、第三十九条）",
     [("ogi", "属于政府信息公开申请"), ("not_ogi", "不属于，告知相应渠道")]),
    ("existence", "有没有", "本机关是否掌握该信息（《条例》第十条、第三十六条）",
     [("held", "本机关掌握"), ("not_this_agency", "不属于本机关负责公开"), ("not_held", "本机关不掌握或需另行制作"),
      ("unknown", "尚不清楚，交部门检索")]),
    ("disclosure", "给不给", "能否公开（《条例》第十四条至第十六条、第三十七条）",
     [("disclose", "予以公开"), ("partial", "部分公开"), ("withhold", "不予公开")]),
    ("propriety", "当不当", "答复是否适当（形式、送达、理由、期限）",
     [("proper", "适当，出具答复书"), ("revise", "需修改答复")]),
]
QUESTION_ZH = {q: zh for q, zh, _, _ in QUESTIONS}
ANSWER_ZH = {a: label for _, _, _, answers in QUESTIONS for a, label in answers}
OUTCOME_CHOICES = [(o.code, f"{o.label}（{o.basis}）") for o in OUTCOMES]

CHANNELS = [("window", "当面提交（以提交之日为收到申请之日）"), ("registered_mail", "挂号信函（以本机关签收之日为准）"),
            ("ordinary_mail", "平常信函（以与申请人确认之日为准）"), ("fax", "传真（以双方确认之日为准）")]
APPLICANT_TYPES = [("natural_person", "自然人"), ("commercial_enterprise", "商业企业"), ("research_institution", "科研机构"),
                   ("public_interest_org", "社会公益组织"), ("legal_service_org", "法律服务机构"), ("other_org", "其他组织")]
ID_TYPES = [("resident_id_card", "居民身份证"), ("passport", "护照"), ("hk_macao_permit", "港澳居民来往内地通行证"),
            ("taiwan_permit", "台湾居民来往大陆通行证"), ("unified_social_credit_code", "统一社会信用代码")]
DELIVERY_FORMS = [("paper", "纸质"), ("electronic", "电子")]
DELIVERY_METHODS = [("email", "电子邮件"), ("post", "邮寄"), ("pickup", "当面领取"), ("online", "网上获取")]
NOTIFY_BY = "contact.notify_by"
NOTIFY_CHOICES = [("email", "电子邮件"), ("sms", "手机短信")]
# The clerk form's fields, as the intake API names them (dotted) and as the page shows them.
CLERK_FIELDS = {
    "channel": "申请渠道", "signed_on": "签收日期", "confirmed_on": "确认日期",
    "applicant.type": "申请人类型", "applicant.name": "姓名或组织名称", "applicant.id_type": "证件类型",
    "applicant.id_number": "证件号码", "applicant.legal_representative": "法定代表人",
    "applicant.contact_person": "联系人", "contact.phone": "联系电话", "contact.email": "电子邮箱",
    "contact.address": "通信地址", "contact.postcode": "邮政编码", "contact.notify_by": "通知方式",
    "description": "所需政府信息的描述",
    "delivery.form": "获取信息的载体形式", "delivery.method": "获取信息的方式",
}

EVENT_ZH = {
    "application.received": "收到申请", "case.routed": "分办", "task.assigned": "任务下达", "case.rerouted": "调整承办部门",
    "task.withdrawn": "撤回任务", "task.reopened": "任务重新答复", "referral.recorded": "转至其他机关",
    "case.referred": "转送其他机关",
    "answer.recorded": "部门答复", "answer.refused": "答复被拒收", "contradiction.flagged": "答复存在矛盾",
    "contradiction.resolved": "公开办已处理答复矛盾",
    "case.closed": "结案", "reply.issued": "作出答复", "reply.amended": "补充答复", "deadline.changed": "答复期限变更",
    "correction.requested": "通知补正", "correction.received": "收到补正", "extension.approved": "延长答复期限",
    "consultation.started": "征求意见", "consultation.ended": "征求意见结束", "deadline.warning.issued": "期限预警",
    "case.overdue": "逾期", "triage.recorded": "五问记录", "application.abandoned": "视为放弃申请",
    "fee.notice.issued": "收费通知", "fee.paid": "已缴纳信息处理费", "fee.waived": "减免信息处理费",
    "notice.delivered": "通知已送达", "application.screened": "申请审查",
    "reply.read": "申请人查阅答复", "reply.rated": "申请人评价答复", "followup.recorded": "回访",
    "document.issued": "出具文书", "document.dispatched": "文书寄出", "document.served": "文书送达",
    "document.returned": "邮件退回",
}

STATUS_ZH = {"running": "答复期限计算中", "paused": "答复期限暂停计算（征求意见或等待缴纳信息处理费）",
             "awaiting_correction": "等待申请人补正，答复期限尚未起算", "abandoned": "申请人逾期未补正，视为放弃申请",
             "answered_on_the_spot": "已当场答复", "replied": "已答复"}

DONE_ZH = {
    "departments": "已调整承办部门", "withdrawn": "已撤回该任务", "referred": "已转至其他机关", "triage": "已记录",
    "correction": "已发出补正通知", "correction_received": "已登记收到补正", "extension": "已延长答复期限",
    "consultation": "已登记征求意见", "consultation_end": "已登记征求意见结束", "resolved": "已处理该矛盾",
    "closed": "已结案，答复随后出具", "fee": "已确认收费通知", "fee_settled": "已登记缴费或减免",
    "dispatch": "已登记邮寄", "signed": "已登记签收", "returned": "已登记退回", "handover": "已登记当面送达",
}


TRIAGE_REASON_ZH = {
    "no-rule-matched": "没有规则命中", "unknown-target": "申请人指定的部门不在目录中", "not-ogi": "可能不属于政府信息公开申请",
    "uncertain": "依据不足", "uncovered": "部分内容没有对应部门", "ambiguous": "可能属于多个部门", "low-confidence": "置信度低",
}


EVIDENCE_ZH = {"keyword": "关键词", "weak-keyword": "弱关键词", "phrasing": "常用表述", "words": "分词",
               "catalogue": "公开目录", "keyword-context": "修饰语中的关键词"}


def evidence_zh(rule: str) -> str:
    """A suggestion's rule (``keyword:征地;catalogue:征地批复文件``) as the queue says its evidence."""
    parts = []
    for part in (rule or "").split(";"):
        kind, _, what = part.partition(":")
        parts.append(f"{EVIDENCE_ZH.get(kind, kind)}“{what}”" if what else EVIDENCE_ZH.get(kind, kind))
    return "；".join(parts)


def ranked_suggestions(triage: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The rules' suggestions, one per department, strongest evidence first (the first is one click)."""
    best: dict[str, dict[str, Any]] = {}
    for sug in (triage or {}).get("suggestions") or []:
        code = sug.get("dept_code")
        if code and (code not in best or (sug.get("confidence") or 0) > (best[code].get("confidence") or 0)):
            best[code] = sug
    return sorted(best.values(), key=lambda x: -(x.get("confidence") or 0))


def triage_reason_zh(reason: str) -> str:
    """``triage:<kind>:<clause>`` as the page says it: the kind in Chinese, the clause quoted."""
    _, _, rest = reason.partition("triage:")
    kind, _, clause = (rest or reason).partition(":")
    label = TRIAGE_REASON_ZH.get(kind, kind)
    return f"{label}（“{clause}”）" if clause else label


def event_label(kind: str) -> str:
    short = kind.removeprefix("cn.gongkai.").removesuffix(".v1")
    return EVENT_ZH.get(short, short)


def outcome_label(code: str) -> str:
    return next((o.label for o in OUTCOMES if o.code == code), code)


# ---------------------------------------------------------------------------- calling the APIs


def _clerk_label(field: str) -> str:
    return CLERK_FIELDS.get(field, field)


async def call(request: Request, method: str, service: str, path: str, token: str | None,
               **kw: Any) -> ApiResult:  # noqa: ANN401
    return await backends_call(request.app.state.backends, method, service, path, token, label=_clerk_label, **kw)


def token_of(who: Any) -> str:  # noqa: ANN401
    return who.access_token


def is_head(who: Any) -> bool:  # noqa: ANN401
    return who.principal.has("ogi_head")


async def form_of(request: Request) -> Any:  # noqa: ANN401
    return await request.form()


def text(form: Any, name: str) -> str:  # noqa: ANN401
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def values(form: Any, name: str) -> list[str]:  # noqa: ANN401
    return [v.strip() for v in form.getlist(name) if isinstance(v, str) and v.strip()]


def lines(s: str) -> list[str]:
    return [x.strip() for x in s.splitlines() if x.strip()]


def check_case_id(case_id: str) -> str:
    if not CASE_ID.match(case_id):
        raise HTTPException(404, "未找到该案件")
    return case_id


def back_to(case_id: str, back: str, done: str) -> RedirectResponse:
    """After an action: back to the queue or the case page (never a URL from the form)."""
    target = "/work/ogi" if back == "queue" else f"/work/ogi/cases/{quote(case_id)}"
    anchor = f"#case-{case_id}" if back == "queue" else ""
    return RedirectResponse(f"{target}?{urlencode({'done': done})}{anchor}", status_code=303)


def done_message(request: Request) -> str | None:
    return DONE_ZH.get(request.query_params.get("done", ""))


# ---------------------------------------------------------------------------- triage queue


async def directory(request: Request) -> dict[str, Any]:
    r = await call(request, "GET", "routing", "/directory", None)
    return r.body if r.ok and isinstance(r.body, dict) else {"departments": [], "agencies": []}


QUEUE_FILTERS = [("all", "全部"), ("returned", "部门退回"), ("triage", "系统无法确定")]


def queue_filter(request: Request) -> str:
    show = request.query_params.get("show", "all")
    return show if show in dict(QUEUE_FILTERS) else "all"


def returned_zh(r: dict[str, Any]) -> str:
    """A department's return as the queue says it: 部门退回：<dept>，理由：…"""
    return f"部门退回：{r.get('dept_name') or r.get('dept_code')}，理由：{r.get('reason') or '（未说明）'}"


async def queue_page(request: Request, who: Any, error: str | None = None, error_case: str | None = None,  # noqa: ANN401
                     status_code: int = 200) -> HTMLResponse:
    """The triage queue (routing's ``/triage``): cases the rules were unsure about and cases a
    department returned (each with its department and reason). ``?show=returned|triage`` filters;
    an htmx GET (the filter links; not a history restore) gets only the list (``#queue-list``)."""
    token = token_of(who)
    q, d = await asyncio.gather(call(request, "GET", "routing", "/triage", token), directory(request))
    cases = q.body.get("cases", []) if q.ok and isinstance(q.body, dict) else []
    for c in cases:
        c.setdefault("returned", [])
        c.setdefault("reasons", ["returned"] if c["returned"] else ["triage"])
    counts = {"all": len(cases), "returned": sum(1 for c in cases if "returned" in c["reasons"]),
              "triage": sum(1 for c in cases if "triage" in c["reasons"])}
    show = queue_filter(request)
    shown = [c for c in cases if show == "all" or show in c["reasons"]]
    triages = await asyncio.gather(*(call(request, "GET", "reply", f"/cases/{quote(c['case_id'])}/triage", token)
                                     for c in shown))
    for c, t in zip(shown, triages, strict=True):
        c["five"] = t.body if t.ok else None
        c["ranked"] = ranked_suggestions(c.get("triage"))
    # htmx (the filter links) wants the list only; its history restore (htmx 4) wants the whole page.
    h = request.headers
    partial = (request.method == "GET" and h.get("hx-request") == "true"
               and h.get("hx-history-restore-request") != "true")
    response = render(request, "ogi/_queue_list.html" if partial else "ogi/queue.html", status_code=status_code,
                  title="分办台", cases=shown, show=show, filters=QUEUE_FILTERS, counts=counts,
                  load_error=None if q.ok else q.message, departments=d.get("departments", []),
                  agencies=d.get("agencies", []), done=done_message(request), error=error, error_case=error_case,
                  questions=QUESTIONS, question_zh=QUESTION_ZH, answer_zh=ANSWER_ZH, outcomes=OUTCOME_CHOICES,
                  outcome_label=outcome_label, is_head=is_head(who), reason_zh=triage_reason_zh,
                  returned_zh=returned_zh, evidence_zh=evidence_zh)
    response.headers["Vary"] = "HX-Request, HX-History-Restore-Request"
    return response


@ogi.get("", response_class=HTMLResponse)
async def triage_queue(request: Request, who: Any = Depends(ogi_staff)) -> HTMLResponse:  # noqa: ANN401
    return await queue_page(request, who)


async def refused(request: Request, who: Any, case_id: str, back: str, r: ApiResult) -> HTMLResponse:  # noqa: ANN401
    status = r.status if 400 <= r.status < 600 else 502
    if back == "queue":
        return await queue_page(request, who, error=r.message, error_case=case_id, status_code=status)
    return await case_page(request, who, case_id, error=r.message, status_code=status)


@ogi.post("/cases/{case_id}/departments", dependencies=[Depends(verify_csrf)])
async def change_departments(request: Request, case_id: str, who: Any = Depends(ogi_staff)) -> Response:  # noqa: ANN401
    check_case_id(case_id)
    form = await form_of(request)
    back = text(form, "back")
    body = {"add": values(form, "add"), "remove": values(form, "remove"), "reason": text(form, "reason")}
    r = await call(request, "POST", "routing", f"/cases/{quote(case_id)}/departments", token_of(who), json=body)
    return back_to(case_id, back, "departments") if r.ok else await refused(request, who, case_id, back, r)


@ogi.post("/cases/{case_id}/tasks/{task_id}/withdrawal", dependencies=[Depends(verify_csrf)])
async def withdraw_task(request: Request, case_id: str, task_id: str, who: Any = Depends(ogi_staff)) -> Response:  # noqa: ANN401
    check_case_id(case_id)
    if not TASK_ID.match(task_id):
        raise HTTPException(404, "未找到该任务")
    form = await form_of(request)
    back = text(form, "back")
    r = await call(request, "POST", "routing", f"/cases/{quote(case_id)}/tasks/{quote(task_id)}/withdrawal",
                   token_of(who), json={"reason": text(form, "reason")})
    return back_to(case_id, back, "withdrawn") if r.ok else await refused(request, who, case_id, back, r)


@ogi.post("/cases/{case_id}/referral", dependencies=[Depends(verify_csrf)])
async def refer(request: Request, case_id: str, who: Any = Depends(ogi_staff)) -> Response:  # noqa: ANN401
    check_case_id(case_id)
    form = await form_of(request)
    back = text(form, "back")
    body: dict[str, Any] = {"reason": text(form, "reason")}
    if text(form, "target_agency_code"):
        body["target_agency_code"] = text(form, "target_agency_code")
    if text(form, "target_agency_name"):
        body["target_agency_name"] = text(form, "target_agency_name")
    if text(form, "part"):
        body["whole_case"], body["part"] = False, text(form, "part")
    r = await call(request, "POST", "routing", f"/cases/{quote(case_id)}/referral", token_of(who), json=body)
    return back_to(case_id, back, "referred") if r.ok else await refused(request, who, case_id, back, r)


@ogi.post("/cases/{case_id}/triage", dependencies=[Depends(verify_csrf)])
async def five_questions(request: Request, case_id: str, who: Any = Depends(ogi_staff)) -> Response:  # noqa: ANN401
    check_case_id(case_id)
    form = await form_of(request)
    back = text(form, "back")
    question, _, answer = text(form, "answer").partition(":")
    body: dict[str, Any] = {"question": text(form, "question") or question, "answer": answer,
                            "outcome_codes": values(form, "outcome_codes"), "note": text(form, "note")}
    if text(form, "referral_agency"):
        body["referral_agency"] = text(form, "referral_agency")
    r = await call(request, "POST", "reply", f"/cases/{quote(case_id)}/triage", token_of(who), json=body)
    return back_to(case_id, back, "triage") if r.ok else await refused(request, who, case_id, back, r)


# ---------------------------------------------------------------------------- clerk entry


def clerk_body(form: Any) -> dict[str, Any]:  # noqa: ANN401
    def v(name: str) -> str | None:
        return text(form, name) or None

    body: dict[str, Any] = {
        "channel": v("channel"),
        "applicant": {k: v(f"applicant.{k}") for k in ("type", "name", "id_type", "id_number", "legal_representative",
                                                        "contact_person")},
        "contact": {k: v(f"contact.{k}") for k in ("phone", "email", "address", "postcode")},
        "notify_by": list(dict.fromkeys(values(form, NOTIFY_BY))),
        "description": text(form, "description"),
        "delivery": {k: v(f"delivery.{k}") for k in ("form", "method")},
    }
    for name in ("signed_on", "confirmed_on"):
        if v(name):
            body[name] = v(name)
    # Unset optional fields are left out (the API's defaults apply); required ones are sent empty.
    body["applicant"] = {k: x for k, x in body["applicant"].items() if x is not None or k in ("name", "id_number")}
    body["applicant"] = {k: ("" if x is None else x) for k, x in body["applicant"].items()}
    body["contact"] = {k: x for k, x in body["contact"].items() if x is not None}
    notify_by = body.pop("notify_by")
    if notify_by:  # none ticked: intake's default (e-mail when an address is given)
        body["contact"]["notify_by"] = notify_by
    body["delivery"] = {k: x for k, x in body["delivery"].items() if x is not None}
    if body["channel"] is None:
        del body["channel"]
    return body


def clerk_page(request: Request, form_values: dict[str, str], errors: dict[str, str] | None = None,
               error: str | None = None, status_code: int = 200) -> HTMLResponse:
    errors = errors or {}
    other = [f"{CLERK_FIELDS.get(k, k)}：{m}" for k, m in errors.items() if k not in CLERK_FIELDS]
    return render(request, "ogi/clerk.html", status_code=status_code, title="窗口、信函、传真申请登记",
                  v=form_values, errors=errors, other_errors=other, error=error, channels=CHANNELS,
                  applicant_types=APPLICANT_TYPES, id_types=ID_TYPES, delivery_forms=DELIVERY_FORMS,
                  delivery_methods=DELIVERY_METHODS, notify_choices=NOTIFY_CHOICES, labels=CLERK_FIELDS,
                  today=china_today().isoformat())


@ogi.get("/clerk", response_class=HTMLResponse)
async def clerk_form(request: Request, who: Any = Depends(ogi_staff)) -> HTMLResponse:  # noqa: ANN401
    return clerk_page(request, {"entry_key": uuid.uuid4().hex, "delivery.form": "paper", "delivery.method": "post"})


@ogi.post("/clerk", response_class=HTMLResponse, dependencies=[Depends(verify_csrf)])
async def clerk_submit(request: Request, who: Any = Depends(ogi_staff)) -> HTMLResponse:  # noqa: ANN401
    form = await form_of(request)
    kept: dict[str, Any] = {k: text(form, k) for k in (*CLERK_FIELDS, "entry_key")}
    kept[NOTIFY_BY] = values(form, NOTIFY_BY)
    key = kept["entry_key"] if re.fullmatch(r"[0-9a-f]{32}", kept["entry_key"]) else uuid.uuid4().hex
    kept["entry_key"] = key
    r = await call(request, "POST", "intake", "/clerk/applications", token_of(who), json=clerk_body(form),
                   headers={"Idempotency-Key": f"web-clerk-{key}"})
    if r.ok and isinstance(r.body, dict):
        return render(request, "ogi/clerk_done.html", title="登记完成", receipt=r.body,
                      channel=dict(CHANNELS).get(kept["channel"], kept["channel"]))
    if r.status == 422:
        errors: dict[str, str] = {}
        for name, message in r.field_errors().items():  # contact.notify_by.0 is the group's
            errors.setdefault(NOTIFY_BY if name.startswith(NOTIFY_BY + ".") else name, message)
        return clerk_page(request, kept, errors, error="提交的内容有误，请按各项提示修改后重新提交",
                          status_code=422)
    return clerk_page(request, kept, error=r.message, status_code=r.status if r.status >= 400 else 502)


# ---------------------------------------------------------------------------- case page


async def case_page(request: Request, who: Any, case_id: str, error: str | None = None,  # noqa: ANN401
                    status_code: int = 200, service_problem: dict[str, Any] | None = None) -> HTMLResponse:
    token, cid = token_of(who), quote(case_id)
    routing, deadline, reply, five, timeline, notices, screening, d, service = await asyncio.gather(
        call(request, "GET", "routing", f"/cases/{cid}/routing", token),
        call(request, "GET", "reply", f"/cases/{cid}/deadline", token),
        call(request, "GET", "reply", f"/cases/{cid}/reply", token),
        call(request, "GET", "reply", f"/cases/{cid}/triage", token),
        call(request, "GET", "audit", f"/cases/{cid}/timeline", token),
        call(request, "GET", "notify", f"/cases/{cid}/notices", token),
        call(request, "GET", "intake", f"/applications/{cid}/screening", token),
        directory(request),
        call(request, "GET", "reply", f"/cases/{cid}/service", token),
    )
    if not any(r.ok for r in (routing, deadline, reply, timeline, screening)):
        status = 404 if all(r.status == 404 for r in (routing, deadline, reply, timeline, screening)) else 502
        missing = "未找到该案件" if status == 404 else deadline.message
        return render(request, "ogi/case_missing.html", status_code=status, title="案件", case_id=case_id,
                      message=missing)
    expl = (deadline.body or {}).get("explanation") if deadline.ok else None
    open_consultations = [p for p in (expl or {}).get("pauses", []) if p.get("end") is None]
    events = (timeline.body or {}).get("events", []) if timeline.ok else []
    tracking = next((r.body.get("tracking_number") for r in (deadline, reply, routing, screening)
                     if r.ok and isinstance(r.body, dict) and r.body.get("tracking_number")), None)
    rep = reply.body if reply.ok else None
    return render(
        request, "ogi/case.html", status_code=status_code, title=f"案件 {tracking or case_id}", case_id=case_id,
        tracking=tracking, routing=routing.body if routing.ok else None, routing_error=None if routing.ok else routing.message,
        deadline=deadline.body if deadline.ok else None, deadline_error=None if deadline.ok else deadline.message,
        expl=expl, open_consultations=open_consultations, reply=rep, reply_error=None if reply.ok else reply.message,
        five=five.body if five.ok else None, events=events, timeline_error=None if timeline.ok else timeline.message,
        notices=(notices.body or {}).get("notices", []) if notices.ok else [],
        notices_error=None if notices.ok else notices.message,
        screening=screening.body if screening.ok else None, departments=d.get("departments", []),
        agencies=d.get("agencies", []), is_head=is_head(who), error=error, done=done_message(request),
        event_label=event_label, questions=QUESTIONS, question_zh=QUESTION_ZH, answer_zh=ANSWER_ZH,
        outcomes=OUTCOME_CHOICES, outcome_label=outcome_label, today=china_today().isoformat(), status_zh=STATUS_ZH,
        returned_zh=returned_zh, **service_context(case_id, service, service_problem),
    )


@ogi.get("/cases/{case_id}", response_class=HTMLResponse)
async def case_view(request: Request, case_id: str, who: Any = Depends(ogi_staff)) -> HTMLResponse:  # noqa: ANN401
    return await case_page(request, who, check_case_id(case_id))


async def case_action(request: Request, who: Any, case_id: str, service: str, path: str, body: dict[str, Any] | None,  # noqa: ANN401
                      done: str) -> Response:
    check_case_id(case_id)
    r = await call(request, "POST", service, path, token_of(who), **({} if body is None else {"json": body}))
    return back_to(case_id, "case", done) if r.ok else await refused(request, who, case_id, "case", r)


def opt_date(form: Any, name: str, body: dict[str, Any]) -> None:  # noqa: ANN401
    if text(form, name):
        body[name] = text(form, name)


@ogi.post("/cases/{case_id}/correction", dependencies=[Depends(verify_csrf)])
async def correction(request: Request, case_id: str, who: Any = Depends(ogi_staff)) -> Response:  # noqa: ANN401
    form = await form_of(request)
    body: dict[str, Any] = {"items": lines(text(form, "items")), "due_on": text(form, "due_on") or None}
    opt_date(form, "issued_on", body)
    return await case_action(request, who, case_id, "reply", f"/cases/{quote(case_id)}/correction", body, "correction")


@ogi.post("/cases/{case_id}/correction/received", dependencies=[Depends(verify_csrf)])
async def correction_received(request: Request, case_id: str, who: Any = Depends(ogi_staff)) -> Response:  # noqa: ANN401
    form = await form_of(request)
    body: dict[str, Any] = {}
    opt_date(form, "received_on", body)
    if text(form, "late_reason"):
        body["late_reason"] = text(form, "late_reason")
    return await case_action(request, who, case_id, "reply", f"/cases/{quote(case_id)}/correction/received", body,
                             "correction_received")


@ogi.post("/cases/{case_id}/extension", dependencies=[Depends(verify_csrf)])
async def extension(request: Request, case_id: str, who: Any = Depends(ogi_staff)) -> Response:  # noqa: ANN401
    """Art. 33: the head approves. An officer without the role is refused by the API (403): shown."""
    form = await form_of(request)
    days = text(form, "days")
    body: dict[str, Any] = {"days": int(days) if days.isdigit() and len(days) < 4 else days, "reason": text(form, "reason")}
    opt_date(form, "approved_on", body)
    return await case_action(request, who, case_id, "reply", f"/cases/{quote(case_id)}/extension", body, "extension")


@ogi.post("/cases/{case_id}/consultations", dependencies=[Depends(verify_csrf)])
async def consultation(request: Request, case_id: str, who: Any = Depends(ogi_staff)) -> Response:  # noqa: ANN401
    form = await form_of(request)
    body: dict[str, Any] = {"party_kind": text(form, "party_kind"), "party": text(form, "party")}
    opt_date(form, "sent_on", body)
    opt_date(form, "delivered_on", body)
    return await case_action(request, who, case_id, "reply", f"/cases/{quote(case_id)}/consultations", body,
                             "consultation")


@ogi.post("/cases/{case_id}/consultations/{number}/end", dependencies=[Depends(verify_csrf)])
async def consultation_end(request: Request, case_id: str, number: int, who: Any = Depends(ogi_staff)) -> Response:  # noqa: ANN401
    form = await form_of(request)
    body: dict[str, Any] = {"end": text(form, "end")}
    opt_date(form, "ended_on", body)
    return await case_action(request, who, case_id, "reply", f"/cases/{quote(case_id)}/consultations/{number}/end",
                             body, "consultation_end")


@ogi.post("/cases/{case_id}/contradictions/{contradiction_id}/resolve", dependencies=[Depends(verify_csrf)])
async def resolve(request: Request, case_id: str, contradiction_id: str, who: Any = Depends(ogi_staff)) -> Response:  # noqa: ANN401
    if not CASE_ID.match(contradiction_id):
        raise HTTPException(404, "未找到该矛盾标记")
    form = await form_of(request)
    body = {"note": text(form, "note"), "reopen": values(form, "reopen")}
    return await case_action(request, who, case_id, "reply",
                             f"/cases/{quote(case_id)}/contradictions/{quote(contradiction_id)}/resolve", body, "resolved")


@ogi.post("/cases/{case_id}/close", dependencies=[Depends(verify_csrf)])
async def close(request: Request, case_id: str, who: Any = Depends(ogi_staff)) -> Response:  # noqa: ANN401
    form = await form_of(request)
    return await case_action(request, who, case_id, "reply", f"/cases/{quote(case_id)}/close",
                             {"reason": text(form, "reason")}, "closed")


@ogi.post("/cases/{case_id}/fee-notice", dependencies=[Depends(verify_csrf)])
async def fee_notice(request: Request, case_id: str, who: Any = Depends(ogi_staff)) -> Response:  # noqa: ANN401
    form = await form_of(request)
    pages = text(form, "pages")
    body = {"pages": int(pages)} if pages.isdigit() and len(pages) < 9 else ({"pages": pages} if pages else None)
    return await case_action(request, who, case_id, "intake", f"/applications/{quote(case_id)}/fee-notice", body, "fee")


@ogi.post("/cases/{case_id}/fee-settlement", dependencies=[Depends(verify_csrf)])
async def fee_settlement(request: Request, case_id: str, who: Any = Depends(ogi_staff)) -> Response:  # noqa: ANN401
    """The fee paid, or waived (减免): recorded in intake, which tells the clock (国办函〔2020〕109号)."""
    form = await form_of(request)
    body: dict[str, Any] = {"outcome": text(form, "outcome")}
    opt_date(form, "settled_on", body)
    amount = text(form, "amount_yuan")
    if amount:
        body["amount_yuan"] = int(amount) if amount.isdigit() and len(amount) < 9 else amount
    if text(form, "reason"):
        body["reason"] = text(form, "reason")
    return await case_action(request, who, case_id, "intake", f"/applications/{quote(case_id)}/fee-settlement", body,
                             "fee_settled")


# ---------------------------------------------------------------------------- service (送达, issue #17)

# The channel that served a reply first, as the statistics page names it (issue #17).
SERVICE_ZH = {c.value: label for c, label in SERVICE_CHANNEL_LABELS.items()}
DISPATCH_STATUS_ZH = {"sent": "已寄出", "signed": "已签收", "returned": "已退回"}
DEFAULT_CARRIER = "中国邮政"
# The service forms' fields as the reply API names them, and as the page labels them (for a
# message about a field the form does not show).
SERVICE_FIELDS = {
    "document_ids": "送达的文书", "carrier": "邮政企业", "postal_tracking_number": "邮件号", "sent_on": "寄出日期",
    "signed_on": "签收日期", "signed_by": "签收人", "returned_on": "退回日期", "reason": "退回原因", "note": "备注",
    "handed_on": "送达日期", "received_by": "受送达人（签名人）", "signature_recorded": "受送达人签名",
}


def service_context(case_id: str, service: ApiResult, problem: dict[str, Any] | None) -> dict[str, Any]:
    """What the 「送达」 section shows: the reply service's answer, or why it cannot be shown, and
    the form just refused (its key, values, field messages and message)."""
    body = service.body if service.ok and isinstance(service.body, dict) else None
    docs = [x for x in (body or {}).get("documents") or [] if isinstance(x, dict) and x.get("document_id")]
    unserved = set((body or {}).get("unserved") or [])
    titles = {x["document_id"]: x.get("title") or x["document_id"] for x in docs}
    dispatches = [x for x in (body or {}).get("dispatches") or [] if isinstance(x, dict) and x.get("dispatch_id")]
    handovers = [x for x in (body or {}).get("handovers") or [] if isinstance(x, dict)]
    # Posted, not yet signed for or returned: not served, but not to be ticked for a new dispatch.
    in_transit = {i: x for x in dispatches if x.get("status") == "sent" for i in x.get("document_ids") or []}
    error = None
    if body is None:
        error = ("答复服务尚未记录该案件的送达情况（答复服务尚未收到该案件）。" if service.status == 404
                 else f"送达情况暂时无法显示：{service.message}")
    return {"service": body, "service_error": error, "service_docs": docs, "service_unserved": unserved,
            "service_to_tick": unserved - set(in_transit), "in_transit": in_transit,
            "service_titles": titles, "dispatches": dispatches, "handovers": handovers,
            "dispatch_status_zh": DISPATCH_STATUS_ZH,
            "return_reasons": [(r.value, label) for r, label in RETURN_REASON_LABELS.items()],
            "default_carrier": DEFAULT_CARRIER, "date_zh": date_zh,
            "delivery_zh": dict(DELIVERY_METHODS), "china_time": china_time,
            "sp": problem or {"form": "", "values": {}, "errors": {}, "message": ""}}


def api_field_errors(r: ApiResult) -> tuple[dict[str, str], list[str]]:
    """A 422's messages: by the form's field (``document_ids.0`` is ``document_ids``'s), and those
    of no field the form shows. Both shapes: ``errors`` [{field, message}] (servicekit) and
    FastAPI's ``detail`` [{loc, msg}]."""
    items: list[tuple[str, str]] = []
    body = r.body if isinstance(r.body, dict) else {}
    for e in body.get("errors") or []:
        if isinstance(e, dict):
            items.append((str(e.get("field") or ""), str(e.get("message") or "输入无效")))
    if isinstance(body.get("detail"), list):
        for e in body["detail"]:
            if isinstance(e, dict):
                loc = [str(p) for p in e.get("loc") or [] if p not in ("body", "query", "path")]
                items.append((".".join(loc), str(e.get("msg") or "输入无效")))
    by_field: dict[str, str] = {}
    other: list[str] = []
    for field, message in items:
        name = field.split(".")[0]
        if name in SERVICE_FIELDS:
            by_field[name] = by_field[name] + "；" + message if name in by_field else message
        else:
            other.append(message)
    return by_field, other


async def service_section(request: Request, who: Any, case_id: str, *, done: str = "",  # noqa: ANN401
                          problem: dict[str, Any] | None = None, status_code: int = 200) -> Response:
    """The 「送达」 section alone (the answer to an htmx form), read again from the reply service."""
    service = await call(request, "GET", "reply", f"/cases/{quote(case_id)}/service", token_of(who))
    return vary(render(request, "ogi/_service.html", status_code=status_code, case_id=case_id, fragment=True,
                       service_done=done, today=china_today().isoformat(),
                       **service_context(case_id, service, problem)))


async def service_action(request: Request, who: Any, case_id: str, path: str, body: dict[str, Any],  # noqa: ANN401
                         done: str, form_key: str, kept: dict[str, Any]) -> Response:
    """One service form posted to the reply API; success and refusal as the module says."""
    r = await call(request, "POST", "reply", path, token_of(who), json={k: v for k, v in body.items() if v is not None})
    if r.ok:
        if is_htmx(request):
            return await service_section(request, who, case_id, done=DONE_ZH[done])
        return RedirectResponse(f"/work/ogi/cases/{quote(case_id)}?{urlencode({'done': done})}#service", status_code=303)
    status = r.status if 400 <= r.status < 600 else 502
    errors, other = api_field_errors(r) if r.status == 422 else ({}, [])
    if r.status == 422:
        message = "；".join(other) if other else "提交的内容有误，请按各项提示修改后重新提交"
    else:
        message = r.message
    problem = {"form": form_key, "values": kept, "errors": errors, "message": message}
    if is_htmx(request):
        return await service_section(request, who, case_id, problem=problem, status_code=status)
    return await case_page(request, who, case_id, status_code=status, service_problem=problem)


def dispatch_id_checked(dispatch_id: str) -> str:
    if not CASE_ID.match(dispatch_id):
        raise HTTPException(404, "未找到该邮寄记录")
    return dispatch_id


@ogi.post("/cases/{case_id}/postal-dispatches", dependencies=[Depends(verify_csrf)])
async def postal_dispatch(request: Request, case_id: str, who: Any = Depends(ogi_staff)) -> Response:  # noqa: ANN401
    """邮寄登记: which documents went, by which postal company, its tracking number, the day sent."""
    check_case_id(case_id)
    form = await form_of(request)
    body = {"document_ids": values(form, "document_ids"), "carrier": text(form, "carrier") or DEFAULT_CARRIER,
            "postal_tracking_number": text(form, "postal_tracking_number"), "sent_on": text(form, "sent_on") or None}
    kept = {**body, "carrier": text(form, "carrier"), "sent_on": text(form, "sent_on")}
    return await service_action(request, who, case_id, f"/cases/{quote(case_id)}/postal-dispatches", body,
                                "dispatch", "dispatch", kept)


@ogi.post("/cases/{case_id}/postal-dispatches/{dispatch_id}/signed", dependencies=[Depends(verify_csrf)])
async def postal_signed(request: Request, case_id: str, dispatch_id: str, who: Any = Depends(ogi_staff)) -> Response:  # noqa: ANN401
    """签收登记: the day the post was signed for (the date of service), and who signed (optional)."""
    check_case_id(case_id)
    dispatch_id_checked(dispatch_id)
    form = await form_of(request)
    body = {"signed_on": text(form, "signed_on") or None, "signed_by": text(form, "signed_by") or None}
    return await service_action(request, who, case_id,
                                f"/cases/{quote(case_id)}/postal-dispatches/{quote(dispatch_id)}/signed", body,
                                "signed", f"signed:{dispatch_id}",
                                {"signed_on": text(form, "signed_on"), "signed_by": text(form, "signed_by")})


@ogi.post("/cases/{case_id}/postal-dispatches/{dispatch_id}/returned", dependencies=[Depends(verify_csrf)])
async def postal_returned(request: Request, case_id: str, dispatch_id: str, who: Any = Depends(ogi_staff)) -> Response:  # noqa: ANN401
    """退回登记: the post came back undelivered (not served); the day and the postal service's reason."""
    check_case_id(case_id)
    dispatch_id_checked(dispatch_id)
    form = await form_of(request)
    body: dict[str, Any] = {"returned_on": text(form, "returned_on") or None, "reason": text(form, "reason") or None}
    if text(form, "note"):
        body["note"] = text(form, "note")
    return await service_action(request, who, case_id,
                                f"/cases/{quote(case_id)}/postal-dispatches/{quote(dispatch_id)}/returned", body,
                                "returned", f"returned:{dispatch_id}",
                                {"returned_on": text(form, "returned_on"), "reason": text(form, "reason"),
                                 "note": text(form, "note")})


@ogi.post("/cases/{case_id}/handovers", dependencies=[Depends(verify_csrf)])
async def handover(request: Request, case_id: str, who: Any = Depends(ogi_staff)) -> Response:  # noqa: ANN401
    """当面送达: the documents handed over at the window, the day, who received them; only once the
    receiver has signed the proof of service (the box is required here and by the API)."""
    check_case_id(case_id)
    form = await form_of(request)
    signed = text(form, "signature_recorded") in ("true", "on", "1")
    body = {"document_ids": values(form, "document_ids"), "handed_on": text(form, "handed_on") or None,
            "received_by": text(form, "received_by"), "signature_recorded": signed}
    kept = {**body, "handed_on": text(form, "handed_on")}
    if not signed:  # not sent: the API would refuse it, and nothing is recorded without the signature
        problem = {"form": "handover", "values": kept, "message": "提交的内容有误，请按各项提示修改后重新提交",
                   "errors": {"signature_recorded": "受送达人须在送达回证上签名后才能登记当面送达"}}
        if is_htmx(request):
            return await service_section(request, who, case_id, problem=problem, status_code=422)
        return await case_page(request, who, case_id, status_code=422, service_problem=problem)
    return await service_action(request, who, case_id, f"/cases/{quote(case_id)}/handovers", body, "handover",
                                "handover", kept)


async def pass_pdf(request: Request, who: Any, case_id: str, path: str, title: str) -> Response:  # noqa: ANN401
    """A PDF of the reply service fetched with the officer's token and passed on (for printing)."""
    r = await call(request, "GET", "reply", path, token_of(who))
    if not r.ok or r.raw is None:
        return render(request, "ogi/case_missing.html", status_code=r.status if r.status >= 400 else 502,
                      title=title, case_id=case_id, message=r.message)
    return Response(r.raw.content, media_type="application/pdf", headers={
        "Content-Disposition": r.raw.headers.get("content-disposition", "inline"),
        "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})


@ogi.get("/cases/{case_id}/postal-dispatches/{dispatch_id}/proof-of-service.pdf")
async def dispatch_proof(request: Request, case_id: str, dispatch_id: str, who: Any = Depends(ogi_staff)) -> Response:  # noqa: ANN401
    """送达回证 of a postal dispatch."""
    check_case_id(case_id)
    dispatch_id_checked(dispatch_id)
    return await pass_pdf(request, who, case_id,
                          f"/cases/{quote(case_id)}/postal-dispatches/{quote(dispatch_id)}/proof-of-service.pdf", "送达回证")


@ogi.get("/cases/{case_id}/postal-dispatches/{dispatch_id}/label.pdf")
async def dispatch_label(request: Request, case_id: str, dispatch_id: str, who: Any = Depends(ogi_staff)) -> Response:  # noqa: ANN401
    """邮寄面单 (the address label) of a postal dispatch."""
    check_case_id(case_id)
    dispatch_id_checked(dispatch_id)
    return await pass_pdf(request, who, case_id,
                          f"/cases/{quote(case_id)}/postal-dispatches/{quote(dispatch_id)}/label.pdf", "邮寄面单")


@ogi.get("/cases/{case_id}/handovers/{handover_id}/proof-of-service.pdf")
async def handover_proof(request: Request, case_id: str, handover_id: str, who: Any = Depends(ogi_staff)) -> Response:  # noqa: ANN401
    """送达回证 of a handover at the window."""
    check_case_id(case_id)
    if not CASE_ID.match(handover_id):
        raise HTTPException(404, "未找到该送达记录")
    return await pass_pdf(request, who, case_id,
                          f"/cases/{quote(case_id)}/handovers/{quote(handover_id)}/proof-of-service.pdf", "送达回证")


@ogi.get("/cases/{case_id}/reply.{kind}")
async def reply_document(request: Request, case_id: str, kind: str, amendment: int | None = None,
                         who: Any = Depends(ogi_staff)) -> Response:  # noqa: ANN401
    """The reply's documents (PDF, HTML), fetched with the officer's token and passed on."""
    check_case_id(case_id)
    if kind not in ("pdf", "html"):
        raise HTTPException(404, "没有该格式的文书")
    params = {"amendment": amendment} if amendment else None
    r = await call(request, "GET", "reply", f"/cases/{quote(case_id)}/reply.{kind}", token_of(who), params=params)
    if not r.ok or r.raw is None:
        return render(request, "ogi/case_missing.html", status_code=r.status if r.status >= 400 else 502,
                      title="答复文书", case_id=case_id, message=r.message)
    headers = {"Content-Disposition": r.raw.headers.get("content-disposition", "inline"),
               "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
    if kind == "html":  # our own document; shown as a document, scripts never run in it
        headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox"
    media = "application/pdf" if kind == "pdf" else "text/html; charset=utf-8"
    return Response(r.raw.content, media_type=media, headers=headers)


# ---------------------------------------------------------------------------- supervision (督办)


@ogi.get("/supervision", response_class=HTMLResponse)
async def supervision(request: Request, who: Any = Depends(ogi_staff)) -> HTMLResponse:  # noqa: ANN401
    token = token_of(who)
    soon, over, d = await asyncio.gather(
        call(request, "GET", "reply", "/cases/due-soon", token, params={"within": 5}),
        call(request, "GET", "reply", "/cases/overdue", token),
        directory(request),
    )
    names = {x["code"]: x["name"] for x in d.get("departments", [])}
    rows: list[dict[str, Any]] = []
    for c in (soon.body or {}).get("cases", []) if soon.ok else []:
        band = "due-urgent" if c["workdays_left"] <= 2 else "due-soon"
        rows.append({**c, "band": band, "band_zh": "剩余不超过2个工作日" if band == "due-urgent" else "剩余不超过5个工作日"})
    for c in (over.body or {}).get("cases", []) if over.ok else []:
        rows.append({**c, "band": "overdue", "band_zh": f"已逾期{c.get('workdays_overdue', 0)}个工作日",
                     "workdays_left": -int(c.get("workdays_overdue") or 0)})
    by_dept: dict[str, dict[str, Any]] = {}
    for c in rows:
        for code in c.get("open_departments") or ["（无未答复部门）"]:
            g = by_dept.setdefault(code, {"code": code, "name": names.get(code, code), "due-soon": 0, "due-urgent": 0,
                                          "overdue": 0, "cases": []})
            g[c["band"]] += 1
            g["cases"].append(c)
    groups = sorted(by_dept.values(), key=lambda g: (-g["overdue"], -g["due-urgent"], -g["due-soon"], g["code"]))
    errors = [r.message for r in (soon, over) if not r.ok]
    counts = {b: sum(1 for c in rows if c["band"] == b) for b in ("due-soon", "due-urgent", "overdue")}
    return render(request, "ogi/supervision.html", title="督办", groups=groups, counts=counts, errors=errors,
                  as_of=(over.body or soon.body or {}).get("as_of") if (over.ok or soon.ok) else None, names=names)


# ---------------------------------------------------------------------------- statistics and the ledger


class _HeatmapTable(HTMLParser):
    """Reads the audit service's heat-map page (our own HTML: one table, a row per department or
    subject with twelve monthly counts and a total) back into rows, to render it in this page."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.title = ""
        self._cell: list[str] | None = None
        self._in_body = self._in_h1 = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body:
            self.rows.append([])
        elif tag in ("td", "th") and self._in_body:
            self._cell = []
        elif tag == "h1":
            self._in_h1 = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "tbody":
            self._in_body = False
        elif tag in ("td", "th") and self._cell is not None and self.rows:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "h1":
            self._in_h1 = False

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        elif self._in_h1:
            self.title += data


def heatmap_rows(page: str) -> tuple[str, list[dict[str, Any]]]:
    p = _HeatmapTable()
    p.feed(page)
    out = []
    for cells in p.rows:
        if len(cells) != 14 or not all(c.isdigit() for c in cells[1:]):
            continue  # e.g. the "no applications" row
        counts = [int(c) for c in cells[1:13]]
        out.append({"label": cells[0], "counts": counts, "total": int(cells[13])})
    peak = max([max(r["counts"]) for r in out] + [1])
    for r in out:
        r["levels"] = [0 if n == 0 else 1 + min(3, (4 * n - 1) // peak) for n in r["counts"]]
    return p.title.strip(), out


def year_of(request: Request) -> int:
    raw = request.query_params.get("year", "")
    this = datetime.now().year
    return int(raw) if raw.isdigit() and 2008 <= int(raw) <= 2100 else this


@stats.get("", response_class=HTMLResponse)
async def statistics(request: Request, who: Any = Depends(stats_readers)) -> HTMLResponse:  # noqa: ANN401
    token, year = token_of(who), year_of(request)
    by = "subject" if request.query_params.get("by") == "subject" else "department"
    verify = request.query_params.get("verify") == "1"
    annual, quarterly, on_time, served, heat, repeated, latest = await asyncio.gather(
        call(request, "GET", "audit", "/statistics/annual", token, params={"year": year}),
        call(request, "GET", "audit", "/statistics/quarterly", token, params={"year": year}),
        call(request, "GET", "audit", "/statistics/on-time", token, params={"year": year}),
        call(request, "GET", "audit", "/statistics/service", token, params={"year": year}),
        call(request, "GET", "audit", "/statistics/heatmap", token, params={"year": year, "by": by}),
        call(request, "GET", "audit", "/statistics/repeated-requests", token),
        call(request, "GET", "audit", "/checkpoints/latest", None),
    )
    verified = await call(request, "GET", "audit", "/ledger/verify", token) if verify else None
    heat_title, heat_rows = ("", [])
    if heat.ok and heat.raw is not None:
        heat_title, heat_rows = heatmap_rows(heat.raw.text)
    return render(
        request, "ogi/stats.html", title="统计与台账", year=year, by=by,
        annual=annual.body if annual.ok else None, annual_error=None if annual.ok else annual.message,
        quarterly=(quarterly.body or {}).get("quarters", []) if quarterly.ok else None,
        quarterly_error=None if quarterly.ok else quarterly.message,
        on_time=on_time.body if on_time.ok else None, on_time_error=None if on_time.ok else on_time.message,
        served=served.body if served.ok else None, served_error=None if served.ok else served.message,
        service_zh=SERVICE_ZH,
        heat_title=heat_title, heat_rows=heat_rows, heat_error=None if heat.ok else heat.message,
        repeated=(repeated.body or {}).get("groups", []) if repeated.ok else None,
        repeated_error=None if repeated.ok else repeated.message,
        latest=latest.body if latest.ok else None,
        latest_error=None if latest.ok else latest.message,
        verified=verified.body if verified is not None and verified.ok else None,
        verify_error=verified.message if verified is not None and not verified.ok else None,
        ogi=any(who.principal.has(r) for r in OGI_ROLES),
    )


@stats.get("/annual.{fmt}")
async def annual_download(request: Request, fmt: str, who: Any = Depends(stats_readers)) -> Response:  # noqa: ANN401
    """The annual report tables as the audit service exports them (CSV, XLSX), passed on."""
    if fmt not in ("csv", "xlsx"):
        raise HTTPException(404, "没有该格式")
    r = await call(request, "GET", "audit", "/statistics/annual", token_of(who),
                   params={"year": year_of(request), "format": fmt})
    if not r.ok or r.raw is None:
        return render(request, "ogi/case_missing.html", status_code=r.status if r.status >= 400 else 502,
                      title="年度报告", case_id="", message=r.message)
    media = r.raw.headers.get("content-type", "application/octet-stream")
    return Response(r.raw.content, media_type=media, headers={
        "Content-Disposition": r.raw.headers.get("content-disposition", "attachment"),
        "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})


router.include_router(ogi)
router.include_router(stats)
