"""The applicant portal (no account): the guide, the application form, the receipt, the status.

- ``/apply`` is a plain POST form (works without JavaScript); validation is intake's: a 422's
  ``errors[].field`` (dotted paths such as ``applicant.id_number``) are the inputs' names, so each
  Chinese message is shown next to its field (``aria-describedby``) with the values kept.
- After a 201 the tracking number and query code are kept in a one-time server-side record (a
  random key in an httpOnly cookie scoped to ``/receipt``), and the browser is sent (303) to
  ``/receipt/{tracking_number}``, which shows them once. The query code never appears in a URL.
- Every form carries the CSRF token (``csrf_field()``); the app-wide page guard checks it.
- ``/apply`` takes attachments (identity documents etc.: ``attachments``, at most 5 files, each
  ≤ 10 MiB, in all ≤ 20 MiB, PDF/JPEG/PNG): with files the form goes to intake as
  ``multipart/form-data`` (part ``application`` = the JSON body, parts ``attachments``), without
  as JSON; intake's ``attachments`` / ``attachments[i]`` errors are shown at the file input. The
  receipt lists the attachments received.
- ``/status`` is a POST form (tracking number + query code): audit's public timeline, reply's
  public deadline with its day-by-day explanation, and the reply PDF (downloaded through a POST
  form that proxies reply's ``/public/cases/{n}/reply.pdf``); once the reply is issued, the
  material released with it (reply's ``/public/cases/{n}/materials``), each downloaded through a
  POST form (``/status/material``) whose bytes are the department's upload.
- While a correction (补正, Art. 30) is requested and not yet received, the status page has the
  online correction form (``/status/correction``, multipart: corrected description, a note,
  files), forwarded to intake's ``/public/applications/{n}/correction``; a 201 shows the
  confirmation (the 20 working days count again from the date it was received).

The one-time receipt records live in this process's memory (a restart or a second instance loses
them: the applicant then still has the e-mail notice; the query code can be re-derived by intake).
"""

from __future__ import annotations

import json
import secrets
import time
from datetime import datetime
from zoneinfo import ZoneInfo
from typing import Any
from urllib.parse import quote

import httpx
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData, UploadFile

from services.web import followup
from services.web.backends import Backends
from services.web.ui import HERE, date_zh, render

router = APIRouter()
STYLES = (HERE / "templates" / "portal" / "portal.css").read_bytes()

CHINA = ZoneInfo("Asia/Shanghai")
RECEIPT_COOKIE = "gk_receipt"
RECEIPT_TTL_SECONDS = 600
_MAX_RECORDS = 10_000

APPLICANT_TYPES = [
    ("natural_person", "公民（自然人）"),
    ("commercial_enterprise", "商业企业"),
    ("research_institution", "科研机构"),
    ("public_interest_org", "社会公益组织"),
    ("legal_service_org", "法律服务机构"),
    ("other_org", "其他组织"),
]
ID_TYPES = [
    ("resident_id_card", "居民身份证"),
    ("passport", "护照"),
    ("hk_macao_permit", "港澳居民来往内地通行证"),
    ("taiwan_permit", "台湾居民来往大陆通行证"),
    ("unified_social_credit_code", "统一社会信用代码（法人或其他组织）"),
]
DELIVERY_FORMS = [("electronic", "电子文本"), ("paper", "纸质文本")]
DELIVERY_METHODS = [("email", "电子邮件"), ("online", "网上获取（在本网站查询进度页面下载）"),
                    ("post", "邮寄"), ("pickup", "当面领取")]
# The form's inputs are named by the intake API's dotted field paths.
TEXT_FIELDS = ("applicant.name", "applicant.id_number", "applicant.legal_representative",
               "applicant.contact_person", "contact.phone", "contact.email", "contact.address",
               "contact.postcode", "description")
CHOICE_FIELDS = {"applicant.type": APPLICANT_TYPES, "applicant.id_type": ID_TYPES,
                 "delivery.form": DELIVERY_FORMS, "delivery.method": DELIVERY_METHODS}
FIELDS = (*TEXT_FIELDS, *CHOICE_FIELDS)
# Checkbox groups (several values of one name), sent to intake as a list.
NOTIFY_BY = "contact.notify_by"
NOTIFY_CHOICES = [("email", "电子邮件"), ("sms", "手机短信")]
NOTIFY_HINT = ("办理的各个环节以所选方式通知您。短信只含受理编号和办理环节，不含个人信息；夜间不发送，次日早上发出。"
               "选择电子邮件的须填写电子邮箱，选择手机短信的须填写手机号码；都不选的，填写了电子邮箱即以电子邮件通知。")
LIST_FIELDS = (NOTIFY_BY,)
DEFAULTS = {"applicant.type": "natural_person", "applicant.id_type": "resident_id_card",
            "delivery.form": "electronic", "delivery.method": "email"}
ROUTED_STEP = "已分送承办部门办理"  # audit's applicant view of case.routed
CORRECTION_SUBMITTED_STEP = "已在线提交补正申请"  # audit's applicant view of correction.submitted
UNAVAILABLE = "系统暂时无法处理，请稍后再试，或拨打政府信息公开工作机构电话咨询"

# Attachments of an application or a correction (intake checks them again, the type by content).
ATTACHMENTS = "attachments"
MAX_FILES = 5
MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_TOTAL_BYTES = 20 * 1024 * 1024
ACCEPT = "application/pdf,image/jpeg,image/png,.pdf,.jpg,.jpeg,.png"
ATTACHMENTS_HINT = ("可上传身份证明等材料（如身份证复印件、营业执照、授权委托书），最多 5 个文件，"
                    "每个文件不超过 10 MiB，合计不超过 20 MiB；仅限 PDF、JPEG、PNG 格式。")
RESELECT = "如需上传附件，请重新选择文件（页面重新显示后，浏览器不会保留已选择的文件）。"
CORRECTION_FIELDS = ("description", "note", ATTACHMENTS)
Upload = tuple[str, bytes, str]  # (filename, bytes, content type as the browser sent it)


TYPE_NAMES = {"application/pdf": "PDF 文档", "image/jpeg": "JPEG 图片", "image/png": "PNG 图片"}


def file_type(content_type: str | None) -> str:
    """A file's type as the applicant reads it (the media type beside it)."""
    ctype = content_type or ""
    name = TYPE_NAMES.get(ctype)
    return f"{name}（{ctype}）" if name else ctype


def file_size(n: int | None) -> str:
    """A file's size as the applicant reads it."""
    if n is None:
        return ""
    if n < 1024:
        return f"{n} 字节"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KB"
    return f"{n / (1024 * 1024):.1f} MB"


async def uploads(form: FormData, name: str = ATTACHMENTS) -> tuple[list[Upload], str | None]:
    """The files of a file input (a browser sends an empty part when none is chosen), and the
    message when they are over the limits (checked here before forwarding, again by intake)."""
    files = [f for f in form.getlist(name) if isinstance(f, UploadFile) and f.filename]
    if len(files) > MAX_FILES:
        return [], f"附件最多 {MAX_FILES} 个（本次选择了 {len(files)} 个）"
    out: list[Upload] = []
    total = 0
    for f in files:
        data = await f.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            return [], f"附件「{f.filename}」过大：每个附件不得超过 10 MiB"
        total += len(data)
        if total > MAX_TOTAL_BYTES:
            return [], "附件合计过大：全部附件合计不得超过 20 MiB"
        out.append((f.filename, data, f.content_type or "application/octet-stream"))
    return out, None


def attachment_errors(errors: list[dict[str, Any]], files: list[Upload]) -> tuple[list[str], list[dict[str, Any]]]:
    """Intake's messages about the attachments (field ``attachments``, ``attachments[i]`` or
    ``attachments.i``; a file's message named by its file), and the other errors."""
    mine: list[str] = []
    rest: list[dict[str, Any]] = []
    for err in errors:
        field = str(err.get("field", ""))
        if field != ATTACHMENTS and not field.startswith((ATTACHMENTS + "[", ATTACHMENTS + ".")):
            rest.append(err)
            continue
        message = str(err.get("message", "附件无效"))
        index = field[len(ATTACHMENTS):].strip("[].").split(".")[0]
        if index.isdigit() and int(index) < len(files) and files[int(index)][0] not in message:
            message = f"附件「{files[int(index)][0]}」：{message}"
        mine.append(message)
    return mine, rest


def local_time(value: str | None) -> str:
    """An event's time as the applicant reads it: China time, to the minute."""
    if not value:
        return ""
    try:
        return datetime.fromisoformat(value).astimezone(CHINA).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return value[:16].replace("T", " ")


def field_id(name: str) -> str:
    return "f-" + name.replace(".", "-").replace("_", "-")


def _backends(request: Request) -> Backends:
    return request.app.state.backends


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


def application_body(values: dict[str, Any]) -> dict[str, Any]:
    """The intake API's JSON body from the form's values (blank optional fields left out; no
    notice channel ticked: left out, intake's default applies)."""
    def v(name: str) -> str:
        return str(values.get(name) or "").strip()

    body: dict[str, Any] = {"applicant": {}, "contact": {}, "delivery": {}}
    for name in FIELDS:
        value = v(name)
        top, _, sub = name.partition(".")
        if not sub:
            body[top] = value
        elif value or name in ("applicant.name", "applicant.id_number"):
            body[top][sub] = value
    if values.get(NOTIFY_BY):
        body["contact"]["notify_by"] = list(values[NOTIFY_BY])
    return body


def checked(form: FormData, name: str) -> list[str]:
    """The values ticked in a checkbox group, each once, in the order sent."""
    return list(dict.fromkeys(v.strip() for v in form.getlist(name) if isinstance(v, str) and v.strip()))


def map_errors(errors: list[dict[str, Any]], files: list[Upload] | None = None) -> tuple[dict[str, str], list[str]]:
    """(input name -> message) for errors of a field of the form (the attachments' at the file
    input ``attachments``), and the others' messages."""
    by_field: dict[str, str] = {}
    other: list[str] = []
    about_files, errors = attachment_errors(errors, files or [])
    if about_files:
        by_field[ATTACHMENTS] = "；".join(about_files)
    for err in errors:
        field, message = str(err.get("field", "")), str(err.get("message", "输入无效"))
        named = (*FIELDS, *LIST_FIELDS)
        target = field if field in named else next((f for f in named if field.startswith(f + ".")), None)
        if target is None and field in ("applicant", "contact"):
            target = f"{field}.name" if field == "applicant" else "contact.phone"
        if target is None:
            other.append(message)
        elif target in by_field:
            by_field[target] += "；" + message
        else:
            by_field[target] = message
    return by_field, other


def _apply_page(request: Request, values: dict[str, Any], errors: dict[str, str] | None = None,
                other: list[str] | None = None, status_code: int = 200, had_files: bool = False) -> HTMLResponse:
    return render(request, "portal/apply.html", status_code=status_code, title="在线申请",
                  values={**DEFAULTS, **values}, errors=errors or {}, other_errors=other or [],
                  choices=CHOICE_FIELDS, field_id=field_id, accept=ACCEPT, attachments_hint=ATTACHMENTS_HINT,
                  notify_choices=NOTIFY_CHOICES, notify_hint=NOTIFY_HINT,
                  reselect=RESELECT if had_files or ATTACHMENTS in (errors or {}) else "",
                  labels=[n for n in (*FIELDS, *LIST_FIELDS, ATTACHMENTS) if n in (errors or {})])


@router.get("/portal.css")
async def stylesheet() -> Response:
    """The portal's styles (a file of its own: the CSP allows no inline styles)."""
    return Response(STYLES, media_type="text/css; charset=utf-8", headers={"Cache-Control": "public, max-age=3600"})


@router.get("/", response_class=HTMLResponse)
async def guide(request: Request) -> HTMLResponse:
    return render(request, "portal/guide.html", title="申请指南")


@router.get("/apply", response_class=HTMLResponse)
async def apply_form(request: Request) -> HTMLResponse:
    return _apply_page(request, {})


def _receipts(request: Request) -> dict[str, tuple[float, dict[str, Any]]]:
    store = getattr(request.app.state, "portal_receipts", None)
    if store is None:
        store = request.app.state.portal_receipts = {}
    now = time.monotonic()
    for key in [k for k, (at, _) in store.items() if now - at > RECEIPT_TTL_SECONDS]:
        del store[key]
    return store


def _json_of(resp: httpx.Response) -> dict[str, Any]:
    if not resp.headers.get("content-type", "").startswith("application/json"):
        return {}
    try:
        body = resp.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


@router.post("/apply", response_class=HTMLResponse)
async def apply_submit(request: Request) -> Response:
    form = await request.form()
    texts = {k: v for k, v in form.items() if isinstance(v, str)}
    values: dict[str, Any] = {k: texts.get(k, "") for k in FIELDS}
    values[NOTIFY_BY] = checked(form, NOTIFY_BY)
    files, too_much = await uploads(form)
    if too_much:
        return _apply_page(request, values, {ATTACHMENTS: too_much}, status_code=422, had_files=True)
    body = application_body(values)
    try:
        if files:
            parts = [("application", (None, json.dumps(body, ensure_ascii=False), "application/json"))]
            parts += [(ATTACHMENTS, f) for f in files]
            resp = await _backends(request).post("intake", "/applications", files=parts)
        else:
            resp = await _backends(request).post("intake", "/applications", json=body)
    except httpx.HTTPError:
        return _apply_page(request, values, other=[UNAVAILABLE], status_code=503, had_files=bool(files))
    if resp.status_code == 422:
        by_field, other = map_errors(_json_of(resp).get("errors") or [], files)
        return _apply_page(request, values, by_field, other, status_code=422, had_files=bool(files))
    if resp.status_code in (413, 415) and files:
        message = str(_json_of(resp).get("detail") or "附件不符合要求：仅限 PDF、JPEG、PNG，每个不超过 10 MiB")
        return _apply_page(request, values, {ATTACHMENTS: message}, status_code=422, had_files=True)
    if resp.status_code not in (200, 201):
        return _apply_page(request, values, other=[UNAVAILABLE], status_code=502, had_files=bool(files))
    accepted = resp.json()
    store = _receipts(request)
    if len(store) >= _MAX_RECORDS:
        store.pop(next(iter(store)))
    key = secrets.token_urlsafe(32)
    store[key] = (time.monotonic(), accepted)
    number = accepted["tracking_number"]
    out = RedirectResponse(f"/receipt/{quote(number)}", status_code=303)
    out.set_cookie(RECEIPT_COOKIE, key, max_age=RECEIPT_TTL_SECONDS, path="/receipt", httponly=True,
                   samesite="lax", secure=request.url.scheme == "https")
    return out


def _applicant(request: Request) -> dict[str, str]:
    """The applicant's address for the services' per-client attempt limits (they trust it from the
    web service's address only: uvicorn's ``--forwarded-allow-ips``, 127.0.0.1 by default)."""
    return {"X-Forwarded-For": request.client.host} if request.client else {}


async def _public_get(request: Request, path: str, code: str) -> httpx.Response | None:
    """A GET of reply's public route ``path`` with the applicant's query code and address; None
    when reply cannot be reached."""
    try:
        return await _backends(request).get("reply", path, params={"query_code": code}, headers=_applicant(request))
    except httpx.HTTPError:
        return None


async def _deadline(request: Request, number: str, code: str) -> dict[str, Any] | None:
    resp = await _public_get(request, f"/public/cases/{quote(number, safe='')}/deadline", code)
    return resp.json() if resp is not None and resp.status_code == 200 else None


@router.get("/receipt/{tracking_number}", response_class=HTMLResponse)
async def receipt(request: Request, tracking_number: str) -> HTMLResponse:
    key = request.cookies.get(RECEIPT_COOKIE, "")
    record = _receipts(request).get(key)
    if record is None or record[1].get("tracking_number") != tracking_number:
        out = render(request, "portal/receipt.html", status_code=404, title="受理回执", accepted=None,
                     tracking_number=tracking_number)
    else:
        del _receipts(request)[key]  # shown once
        # The deadline's date is not asked of reply here: the case is not routed yet, and a look-up
        # of an unknown number would count as a failed attempt. The status page shows it.
        out = render(request, "portal/receipt.html", title="受理回执", accepted=record[1], deadline=None,
                     tracking_number=tracking_number, file_size=file_size)
    out.delete_cookie(RECEIPT_COOKIE, path="/receipt")
    out.headers["Cache-Control"] = "no-store"
    return out


@router.get("/status", response_class=HTMLResponse)
async def status_form(request: Request) -> HTMLResponse:
    return render(request, "portal/status.html", title="查询进度", values={}, errors={}, view=None)


def _status_error(request: Request, values: dict[str, str], resp: httpx.Response | None) -> HTMLResponse:
    if resp is None:
        return render(request, "portal/status.html", status_code=503, title="查询进度", values=values,
                      errors={"form": UNAVAILABLE}, view=None)
    detail = resp.json() if resp.headers.get("content-type", "").startswith("application/json") else {}
    if resp.status_code == 422:
        errs = {e.get("field"): e.get("message") for e in detail.get("errors") or []}
        errors = {"query_code": errs.get("query_code")} if errs.get("query_code") else {
            "tracking_number": "受理编号格式不正确：请按受理回执填写（如 YN-20261202-00001）"}
    elif resp.status_code == 429:
        errors = {"form": str(detail.get("detail") or "查询次数过多，请稍后再试")}
    else:
        errors = {"form": "受理编号或查询码不正确，请核对受理回执后重新输入"}
    return render(request, "portal/status.html", status_code=resp.status_code if resp.status_code in (404, 422, 429)
                  else 502, title="查询进度", values=values, errors=errors, view=None)


@router.post("/status", response_class=HTMLResponse)
async def status_view(request: Request) -> HTMLResponse:
    form = await _form(request)
    number = form.get("tracking_number", "").strip().upper()
    code = form.get("query_code", "").strip()
    values = {"tracking_number": number, "query_code": ""}
    errors = {}
    if not number:
        errors["tracking_number"] = "请填写受理编号"
    if not code:
        errors["query_code"] = "请填写查询码"
    if errors:
        return render(request, "portal/status.html", status_code=422, title="查询进度", values=values,
                      errors=errors, view=None)
    return await _status_page(request, number, code)


async def _materials(request: Request, number: str, code: str) -> list[dict[str, Any]] | None:
    """The material released with the reply (None: reply could not say)."""
    resp = await _public_get(request, f"/public/cases/{quote(number, safe='')}/materials", code)
    if resp is None or resp.status_code != 200:
        return None
    return [m for m in _json_of(resp).get("materials") or [] if isinstance(m, dict) and m.get("material_id")]


async def _documents(request: Request, number: str, code: str) -> list[dict[str, Any]] | None:
    """The documents issued to the applicant so far (receipt, notices, reply, amendments); None:
    reply could not say."""
    resp = await _public_get(request, f"/public/cases/{quote(number, safe='')}/documents", code)
    if resp is None or resp.status_code != 200:
        return None
    return [d for d in _json_of(resp).get("documents") or [] if isinstance(d, dict) and d.get("document_id")]


async def _service(request: Request, number: str, code: str) -> dict[str, Any] | None:
    """When and how each document was served (送达) and the remedy deadlines that follow (reply's
    public read); None: reply could not say (the page is shown without it)."""
    resp = await _public_get(request, f"/public/cases/{quote(number, safe='')}/service", code)
    if resp is None or resp.status_code != 200:
        return None
    body = _json_of(resp)
    served = []
    for d in body.get("documents") or []:
        if not isinstance(d, dict) or not d.get("document_id"):
            continue
        fact = d.get("served") if isinstance(d.get("served"), dict) else d  # nested, or flat on the document
        if fact.get("served_on"):
            served.append({"document_id": d["document_id"], "title": d.get("title") or "文书",
                           "served_on": fact["served_on"], "channel": fact.get("channel"),
                           "channel_label": fact.get("channel_label") or fact.get("channel") or ""})
    remedies = body.get("remedies")
    titles = {d.get("document_id"): d.get("title") for d in body.get("documents") or [] if isinstance(d, dict)}
    amendments = [{**a, "title": titles.get(a.get("document_id")) or "补充答复"}
                  for a in body.get("amendment_remedies") or [] if isinstance(a, dict) and a.get("served_on")]
    # A notice that is itself a decision the applicant may challenge (referral, abandonment, fee
    # notice): its own deadlines, from its own date of service.
    for d in body.get("documents") or []:
        rem = d.get("remedies") if isinstance(d, dict) else None
        if isinstance(rem, dict) and rem.get("served_on") and d.get("kind") not in ("consolidated_reply",
                                                                                 "reply_amendment"):
            amendments.append({**rem, "document_id": d.get("document_id"), "title": d.get("title") or "告知书"})
    return {"documents": served, "by_id": {d["document_id"]: d for d in served}, "amendments": amendments,
            "remedies": remedies if isinstance(remedies, dict) and remedies.get("served_on") else None}


async def _status_page(request: Request, number: str, code: str, *, status_code: int = 200,
                       correction_values: dict[str, str] | None = None,
                       correction_errors: dict[str, str] | None = None,
                       rating_notice: dict[str, Any] | None = None) -> HTMLResponse:
    """The case's status page (audit's timeline, reply's deadline, the reply and its material, the
    correction form), with the correction form's values and errors when it was just posted. Once
    the reply is released, opening it is a read (followup.record_read) and it has the rating form."""
    values = {"tracking_number": number, "query_code": ""}
    try:
        resp = await _backends(request).get("audit", f"/public/cases/{quote(number, safe='')}/timeline",
                                            params={"query_code": code}, headers=_applicant(request))
    except httpx.HTTPError:
        return _status_error(request, values, None)
    if resp.status_code != 200:
        return _status_error(request, values, resp)
    timeline = resp.json()
    steps = [{**s, "local_time": local_time(s.get("time"))} for s in timeline.get("steps") or []]
    # Reply knows the case once it is routed; asking before would count as a failed attempt.
    routed = any(s.get("step") == ROUTED_STEP for s in steps)
    deadline = await _deadline(request, number, code) if routed else None
    notices = [s for s in steps if str(s.get("step", "")).startswith("已发送") or s.get("step") == "已通知申请人"]
    explanation = (deadline or {}).get("explanation") or {}
    correction = explanation.get("correction")
    replied = timeline.get("status") == "已办结"
    materials = await _materials(request, number, code) if replied and routed else []
    feedback = await followup.record_read(request, number, code) if replied and routed else None
    documents = await _documents(request, number, code) if routed else []
    service = await _service(request, number, code) if routed else None
    errors = correction_errors or {}
    out = render(request, "portal/status.html", status_code=status_code, title="查询进度", values=values, errors={},
                 view={"timeline": timeline, "steps": steps, "notices": notices, "deadline": deadline,
                       "explanation": explanation, "correction": correction, "replied": replied,
                       "materials": materials, "documents": documents, "service": service,
                       "correction_submitted": next((st for st in steps if st.get("step") == CORRECTION_SUBMITTED_STEP),
                                                    None)},
                 query_code=code, file_size=file_size, file_type=file_type, field_id=field_id, accept=ACCEPT, date_zh=date_zh,
                 attachments_hint=ATTACHMENTS_HINT, correction_values=correction_values or {},
                 correction_errors=errors,
                 correction_labels=[n for n in CORRECTION_FIELDS if n in errors],
                 correction_reselect=RESELECT if correction_values and correction_values.get("_had_files") else "",
                 rating=followup.rating_view(feedback), rating_notice=rating_notice)
    out.headers["Cache-Control"] = "no-store"
    return out


@router.post("/status/reply.pdf")
async def reply_pdf(request: Request) -> Response:
    """The reply PDF, fetched from reply's public route with the applicant's query code (posted,
    so it stays out of URLs and logs)."""
    form = await _form(request)
    number = form.get("tracking_number", "").strip().upper()
    resp = await _public_get(request, f"/public/cases/{quote(number, safe='')}/reply.pdf",
                             form.get("query_code", "").strip())
    if resp is None or resp.status_code != 200:
        return _status_error(request, {"tracking_number": number, "query_code": ""}, resp)
    return Response(resp.content, media_type="application/pdf", headers=_download_headers(resp, "reply.pdf"))


def _download_headers(resp: httpx.Response, fallback: str) -> dict[str, str]:
    headers = {"Content-Disposition": resp.headers.get("content-disposition", f"attachment; filename={fallback}"),
               "Cache-Control": "no-store"}
    if resp.headers.get("x-content-sha256"):
        headers["X-Content-SHA256"] = resp.headers["x-content-sha256"]
    return headers


async def _released_download(request: Request, field: str, path: str, word: str, missing: str,
                             not_there: str, media_type: str | None, filename: str) -> Response:
    """A file of the case (``path``: ``materials`` or ``documents``, its id in the form's ``field``)
    fetched from reply's public route with the applicant's query code (posted)."""
    form = await _form(request)
    number = form.get("tracking_number", "").strip().upper()
    code = form.get("query_code", "").strip()
    item_id = form.get(field, "").strip()
    values = {"tracking_number": number, "query_code": ""}
    if not item_id or not item_id.replace("-", "").isalnum() or len(item_id) > 64:
        return render(request, "portal/status.html", status_code=404, title="查询进度", values=values,
                      errors={"form": missing}, view=None)
    resp = await _public_get(request, f"/public/cases/{quote(number, safe='')}/{path}/{quote(item_id, safe='')}", code)
    if resp is not None and resp.status_code == 404 and word in str(_json_of(resp).get("detail", "")):
        return render(request, "portal/status.html", status_code=404, title="查询进度", values=values,
                      errors={"form": not_there}, view=None)
    if resp is None or resp.status_code != 200:
        return _status_error(request, values, resp)
    return Response(resp.content, media_type=media_type or resp.headers.get("content-type", "application/octet-stream"),
                    headers=_download_headers(resp, filename))


@router.post("/status/material")
async def material_download(request: Request) -> Response:
    """One material released with the reply: exactly the department's upload."""
    return await _released_download(request, "material_id", "materials", "材料", "未找到该材料，请重新查询",
                                    "未找到该材料，或该材料未随答复提供，请重新查询", None, "material")


@router.post("/status/document")
async def document_download(request: Request) -> Response:
    """One document issued to the applicant (受理回执, 告知书, 答复书 …)."""
    return await _released_download(request, "document_id", "documents", "文书", "未找到该文书，请重新查询",
                                    "未找到该文书，或尚未生成，请稍后重新查询", "application/pdf", "document.pdf")


@router.post("/status/correction", response_class=HTMLResponse)
async def correction_submit(request: Request) -> HTMLResponse:
    """The online correction (补正, Art. 30): the corrected description, a note, files; forwarded
    to intake, which records it; the confirmation, or the status page with the form's errors."""
    form = await request.form()
    number = str(form.get("tracking_number") or "").strip().upper()
    code = str(form.get("query_code") or "").strip()
    description = str(form.get("description") or "").strip()
    note = str(form.get("note") or "").strip()
    files, too_much = await uploads(form)
    kept = {"description": description, "note": note, "_had_files": "1" if files or too_much else ""}
    if not number or not code:
        return render(request, "portal/status.html", status_code=422, title="查询进度",
                      values={"tracking_number": number, "query_code": ""}, view=None,
                      errors={"form": "请重新输入受理编号和查询码后再提交补正"})
    if too_much:
        return await _status_page(request, number, code, status_code=422, correction_values=kept,
                                  correction_errors={ATTACHMENTS: too_much})
    if not description and not files:
        return await _status_page(request, number, code, status_code=422, correction_values=kept,
                                  correction_errors={"description": "请填写补正后的申请内容或上传补正材料"})
    parts: list[tuple[str, tuple[str | None, Any, str] | tuple[str | None, Any]]] = [("query_code", (None, code))]
    if description:
        parts.append(("description", (None, description)))
    if note:
        parts.append(("note", (None, note)))
    parts += [(ATTACHMENTS, f) for f in files]
    try:
        resp = await _backends(request).post(
            "intake", f"/public/applications/{quote(number, safe='')}/correction", files=parts,
            headers=_applicant(request))
    except httpx.HTTPError:
        return await _status_page(request, number, code, status_code=503, correction_values=kept,
                                  correction_errors={"form": UNAVAILABLE})
    body = _json_of(resp)
    if resp.status_code in (200, 201):
        out = render(request, "portal/correction_done.html", title="补正已提交", done=body,
                     tracking_number=body.get("tracking_number") or number, file_size=file_size)
        out.headers["Cache-Control"] = "no-store"
        return out
    if resp.status_code == 422:
        errs = [e for e in body.get("errors") or [] if isinstance(e, dict)]
        if any(e.get("field") == "query_code" for e in errs):
            return _status_error(request, {"tracking_number": number, "query_code": ""}, resp)
        about_files, rest = attachment_errors(errs, files)
        errors: dict[str, str] = {ATTACHMENTS: "；".join(about_files)} if about_files else {}
        for e in rest:
            field = str(e.get("field", ""))
            key = field if field in ("description", "note") else "form"
            message = str(e.get("message", "输入无效"))
            errors[key] = errors[key] + "；" + message if key in errors else message
        return await _status_page(request, number, code, status_code=422, correction_values=kept,
                                  correction_errors=errors or {"form": "补正未能提交，请检查后重试"})
    if resp.status_code in (413, 415):
        return await _status_page(request, number, code, status_code=422, correction_values=kept, correction_errors={
            ATTACHMENTS: str(body.get("detail") or "附件不符合要求：仅限 PDF、JPEG、PNG，每个不超过 10 MiB")})
    if resp.status_code == 409:
        return await _status_page(request, number, code, status_code=409, correction_values=kept,
                                  correction_errors={"form": str(body.get("detail") or "当前无需补正或补正已提交")})
    if resp.status_code in (404, 429):
        return _status_error(request, {"tracking_number": number, "query_code": ""}, resp)
    return await _status_page(request, number, code, status_code=502, correction_values=kept,
                              correction_errors={"form": UNAVAILABLE})
