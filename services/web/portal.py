"""The applicant portal (no account): the guide, the application form, the receipt, the status.

- ``/apply`` is a plain POST form (works without JavaScript); validation is intake's: a 422's
  ``errors[].field`` (dotted paths such as ``applicant.id_number``) are the inputs' names, so each
  Chinese message is shown next to its field (``aria-describedby``) with the values kept.
- After a 201 the tracking number and query code are kept in a one-time server-side record (a
  random key in an httpOnly cookie scoped to ``/receipt``), and the browser is sent (303) to
  ``/receipt/{tracking_number}``, which shows them once. The query code never appears in a URL.
- Every form carries the CSRF token (``csrf_field()``); the app-wide page guard checks it.
- ``/status`` is a POST form (tracking number + query code): audit's public timeline, reply's
  public deadline with its day-by-day explanation, and the reply PDF (downloaded through a POST
  form that proxies reply's ``/public/cases/{n}/reply.pdf``).

The one-time receipt records live in this process's memory (a restart or a second instance loses
them: the applicant then still has the e-mail notice; the query code can be re-derived by intake).
"""

from __future__ import annotations

import secrets
import time
from datetime import datetime
from zoneinfo import ZoneInfo
from typing import Any
from urllib.parse import quote

import httpx
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.web.backends import Backends
from services.web.ui import HERE, render

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
DEFAULTS = {"applicant.type": "natural_person", "applicant.id_type": "resident_id_card",
            "delivery.form": "electronic", "delivery.method": "email"}
ROUTED_STEP = "已分送承办部门办理"  # audit's applicant view of case.routed
UNAVAILABLE = "系统暂时无法处理，请稍后再试，或拨打政府信息公开工作机构电话咨询"


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


def application_body(values: dict[str, str]) -> dict[str, Any]:
    """The intake API's JSON body from the form's values (blank optional fields left out)."""
    def v(name: str) -> str:
        return values.get(name, "").strip()

    body: dict[str, Any] = {"applicant": {}, "contact": {}, "delivery": {}}
    for name in FIELDS:
        value = v(name)
        top, _, sub = name.partition(".")
        if not sub:
            body[top] = value
        elif value or name in ("applicant.name", "applicant.id_number"):
            body[top][sub] = value
    return body


def map_errors(errors: list[dict[str, Any]]) -> tuple[dict[str, str], list[str]]:
    """(input name -> message) for errors of a field of the form, and the others' messages."""
    by_field: dict[str, str] = {}
    other: list[str] = []
    for err in errors:
        field, message = str(err.get("field", "")), str(err.get("message", "输入无效"))
        target = field if field in FIELDS else next((f for f in FIELDS if field.startswith(f + ".")), None)
        if target is None and field in ("applicant", "contact"):
            target = f"{field}.name" if field == "applicant" else "contact.phone"
        if target is None:
            other.append(message)
        elif target in by_field:
            by_field[target] += "；" + message
        else:
            by_field[target] = message
    return by_field, other


def _apply_page(request: Request, values: dict[str, str], errors: dict[str, str] | None = None,
                other: list[str] | None = None, status_code: int = 200) -> HTMLResponse:
    return render(request, "portal/apply.html", status_code=status_code, title="在线申请",
                  values={**DEFAULTS, **values}, errors=errors or {}, other_errors=other or [],
                  choices=CHOICE_FIELDS, field_id=field_id,
                  labels=[n for n in FIELDS if n in (errors or {})])


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


@router.post("/apply", response_class=HTMLResponse)
async def apply_submit(request: Request) -> Response:
    values = await _form(request)
    values = {k: values.get(k, "") for k in FIELDS}
    try:
        resp = await _backends(request).post("intake", "/applications", json=application_body(values))
    except httpx.HTTPError:
        return _apply_page(request, values, other=[UNAVAILABLE], status_code=503)
    if resp.status_code == 422:
        by_field, other = map_errors(resp.json().get("errors") or [])
        return _apply_page(request, values, by_field, other, status_code=422)
    if resp.status_code not in (200, 201):
        return _apply_page(request, values, other=[UNAVAILABLE], status_code=502)
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


async def _deadline(request: Request, number: str, code: str) -> dict[str, Any] | None:
    try:
        resp = await _backends(request).get("reply", f"/public/cases/{quote(number, safe='')}/deadline",
                                            params={"query_code": code}, headers=_applicant(request))
    except httpx.HTTPError:
        return None
    return resp.json() if resp.status_code == 200 else None


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
                     tracking_number=tracking_number)
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
    out = render(request, "portal/status.html", title="查询进度", values=values, errors={},
                 view={"timeline": timeline, "steps": steps, "notices": notices, "deadline": deadline,
                       "explanation": explanation, "correction": correction,
                       "replied": timeline.get("status") == "已办结"},
                 query_code=code)
    out.headers["Cache-Control"] = "no-store"
    return out


@router.post("/status/reply.pdf")
async def reply_pdf(request: Request) -> Response:
    """The reply PDF, fetched from reply's public route with the applicant's query code (posted,
    so it stays out of URLs and logs)."""
    form = await _form(request)
    number = form.get("tracking_number", "").strip().upper()
    code = form.get("query_code", "").strip()
    try:
        resp = await _backends(request).get("reply", f"/public/cases/{quote(number, safe='')}/reply.pdf",
                                            params={"query_code": code}, headers=_applicant(request))
    except httpx.HTTPError:
        resp = None
    if resp is None or resp.status_code != 200:
        return _status_error(request, {"tracking_number": number, "query_code": ""}, resp)
    return Response(resp.content, media_type="application/pdf", headers={
        "Content-Disposition": resp.headers.get("content-disposition", "attachment; filename=reply.pdf"),
        "Cache-Control": "no-store"})
