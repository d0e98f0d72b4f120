"""After the reply (答复不是办结), as people use it:

- the OGI office's follow-up queue (``/work/ogi/follow-ups``: replies unread some working days
  after their release, dissatisfied ratings) and a case's reads, rating and follow-ups with the
  form that records a contact (``/work/ogi/follow-ups/{case_id}``), over the reply API;
- the quarterly red/black list (``/work/stats/red-black``, CSV/XLSX passed on from audit) with the
  applicants' satisfaction by department and outcome;
- the applicant's rating on the status page (``POST /status/rating``, forwarded to reply's
  ``PUT /public/cases/{n}/rating`` with the query code; the status page itself records the read:
  ``record_read``);
- where to apply (一码通, ``/where``): every acceptance point of the agency, from the routing
  directory (the OGI office's window) and ``acceptance_points.json`` (the other windows, post,
  fax, online), with a QR code of the application form's address (``/where/qr.png``, segno) that
  a window can print (``/static/where.css`` has the print rules).
"""

from __future__ import annotations

import asyncio
import io
import json
from datetime import date, datetime
from functools import lru_cache
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import httpx
import segno
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from contracts.events_feedback import FOLLOWUP_MEANS_ZH, FOLLOWUP_RESULT_ZH, RATING_REASON_ZH, RATING_ZH
from services.web.auth import verify_csrf
from services.web.ogi import call, check_case_id, form_of, ogi_staff, stats_readers, text, token_of
from services.web.ui import HERE, china_time, render

router = APIRouter()
CHINA = ZoneInfo("Asia/Shanghai")
POINTS_FILE = HERE / "acceptance_points.json"
REASON_ZH = {"unread": "答复发出后申请人尚未查阅", "dissatisfied": "申请人评价为不满意"}
VIA_ZH = {"status_page": "查看了办理进度页面", "pdf": "下载了答复书"}
FOLLOWUP_FIELDS = {"contacted_at": "联系时间", "means": "联系方式", "result": "回访结果", "note": "申请人的意见"}
RATING_FIELDS = {"rating": "评价", "reason": "理由", "comment": "意见"}


def when(value: str | None) -> str:
    return china_time(value)


# ---------------------------------------------------------------------------- the follow-up queue


@router.get("/work/ogi/follow-ups", response_class=HTMLResponse)
async def queue(request: Request, who: Any = Depends(ogi_staff)) -> HTMLResponse:  # noqa: ANN401
    r = await call(request, "GET", "reply", "/follow-ups", token_of(who))
    body = r.body if r.ok and isinstance(r.body, dict) else {}
    return render(request, "ogi/follow_ups.html", title="回访", cases=body.get("cases", []),
                  unread_workdays=body.get("unread_workdays"), as_of=body.get("as_of"),
                  error=None if r.ok else r.message, reason_zh=REASON_ZH, rating_zh=RATING_ZH,
                  done="已记录回访" if request.query_params.get("done") == "followup" else None)


async def case_feedback_page(request: Request, who: Any, case_id: str, *, status_code: int = 200,  # noqa: ANN401
                             errors: dict[str, str] | None = None, values: dict[str, str] | None = None,
                             error: str | None = None) -> HTMLResponse:
    r = await call(request, "GET", "reply", f"/cases/{quote(case_id)}/feedback", token_of(who))
    if not r.ok:
        return render(request, "ogi/case_missing.html", status_code=r.status if r.status >= 400 else 502,
                      title="回访", case_id=case_id, message=r.message)
    fb = r.body
    now = datetime.now(CHINA).strftime("%Y-%m-%dT%H:%M")
    return render(request, "ogi/follow_up.html", status_code=status_code, title=f"回访 {fb.get('tracking_number') or ''}",
                  case_id=case_id, fb=fb, when=when, via_zh=VIA_ZH, rating_zh=RATING_ZH, reason_zh=REASON_ZH,
                  rating_reason_zh=RATING_REASON_ZH, means=FOLLOWUP_MEANS_ZH, results=FOLLOWUP_RESULT_ZH,
                  errors=errors or {}, values=values or {"contacted_at": now}, error=error,
                  done="已记录回访" if request.query_params.get("done") == "followup" else None)


@router.get("/work/ogi/follow-ups/{case_id}", response_class=HTMLResponse)
async def case_feedback(request: Request, case_id: str, who: Any = Depends(ogi_staff)) -> HTMLResponse:  # noqa: ANN401
    return await case_feedback_page(request, who, check_case_id(case_id))


@router.post("/work/ogi/follow-ups/{case_id}", dependencies=[Depends(verify_csrf)])
async def record_follow_up(request: Request, case_id: str, who: Any = Depends(ogi_staff)) -> Response:  # noqa: ANN401
    check_case_id(case_id)
    form = await form_of(request)
    values = {k: text(form, k) for k in FOLLOWUP_FIELDS}
    errors = {k: f"请填写{label}" for k, label in FOLLOWUP_FIELDS.items() if not values[k]}
    if errors:
        return await case_feedback_page(request, who, case_id, status_code=422, errors=errors, values=values)
    r = await call(request, "POST", "reply", f"/cases/{quote(case_id)}/follow-ups", token_of(who), json=values)
    if r.ok:
        return RedirectResponse(f"/work/ogi/follow-ups/{quote(case_id)}?done=followup", status_code=303)
    if r.status == 422:
        errors = {k: f"{FOLLOWUP_FIELDS.get(k, k)}：{m}" for k, m in r.field_errors().items()}
        return await case_feedback_page(request, who, case_id, status_code=422, errors=errors, values=values,
                                        error=None if errors else r.message)
    return await case_feedback_page(request, who, case_id, status_code=r.status if r.status >= 400 else 502,
                                    values=values, error=r.message)


# ---------------------------------------------------------------------------- the red/black list


def current_quarter(today: date | None = None) -> str:
    d = today or datetime.now(CHINA).date()
    return f"{d.year}Q{(d.month - 1) // 3 + 1}"


def quarter_of(request: Request) -> str:
    raw = request.query_params.get("quarter", "").strip().upper()
    if len(raw) == 6 and raw[:4].isdigit() and raw[4] == "Q" and raw[5] in "1234" and 2008 <= int(raw[:4]) <= 2100:
        return raw
    return current_quarter()


def quarters_around(q: str, n: int = 8) -> list[str]:
    year, k = int(q[:4]), int(q[5])
    out = []
    for _ in range(n):
        out.append(f"{year}Q{k}")
        year, k = (year - 1, 4) if k == 1 else (year, k - 1)
    return out


@router.get("/work/stats/red-black", response_class=HTMLResponse)
async def red_black(request: Request, who: Any = Depends(stats_readers)) -> HTMLResponse:  # noqa: ANN401
    quarter = quarter_of(request)
    table, sat = await asyncio.gather(
        call(request, "GET", "audit", "/statistics/red-black", token_of(who), params={"quarter": quarter}),
        call(request, "GET", "audit", "/statistics/satisfaction", token_of(who), params={"quarter": quarter}))
    return render(request, "ogi/red_black.html", title=f"{quarter} 季度红黑榜", quarter=quarter,
                  quarters=quarters_around(current_quarter()) if quarter in quarters_around(current_quarter())
                  else [quarter, *quarters_around(current_quarter())],
                  table=table.body if table.ok else None, table_error=None if table.ok else table.message,
                  sat=sat.body if sat.ok else None, sat_error=None if sat.ok else sat.message)


@router.get("/work/stats/red-black.{fmt}")
async def red_black_download(request: Request, fmt: str, who: Any = Depends(stats_readers)) -> Response:  # noqa: ANN401
    if fmt not in ("csv", "xlsx"):
        raise HTTPException(404, "没有该格式")
    r = await call(request, "GET", "audit", "/statistics/red-black", token_of(who),
                   params={"quarter": quarter_of(request), "format": fmt})
    if not r.ok or r.raw is None:
        return render(request, "ogi/case_missing.html", status_code=r.status if r.status >= 400 else 502,
                      title="季度红黑榜", case_id="", message=r.message)
    return Response(r.raw.content, media_type=r.raw.headers.get("content-type", "application/octet-stream"), headers={
        "Content-Disposition": r.raw.headers.get("content-disposition", "attachment"),
        "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})


# ---------------------------------------------------------------------------- the applicant's side


async def record_read(request: Request, number: str, code: str) -> dict[str, Any] | None:
    """The status page was opened after the release: tell reply (a read) and get the applicant's
    feedback (the rating, until when it may be changed). None when reply cannot say."""
    headers = {"X-Forwarded-For": request.client.host} if request.client else {}
    try:
        resp = await request.app.state.backends.post(
            "reply", f"/public/cases/{quote(number, safe='')}/read", params={"query_code": code}, headers=headers,
            json={"via": "status_page"})
    except httpx.HTTPError:
        return None
    return resp.json() if resp.status_code == 200 else None


def rating_view(feedback: dict[str, Any] | None) -> dict[str, Any]:
    """What the status page's rating form needs (today in Beijing against the change period)."""
    fb = feedback or {}
    rating = fb.get("rating")
    until = fb.get("rating_changeable_until")
    open_ = not rating or (until is not None and datetime.now(CHINA).date().isoformat() <= until)
    return {"available": feedback is not None, "rating": rating, "until": until, "open": open_,
            "ratings": RATING_ZH, "reasons": RATING_REASON_ZH}


@router.post("/status/rating", response_class=HTMLResponse, dependencies=[Depends(verify_csrf)])
async def rate(request: Request) -> HTMLResponse:
    from services.web import portal  # the status page (portal imports this module)

    form = await request.form()
    value = {k: (form.get(k) or "").strip() if isinstance(form.get(k), str) else "" for k in
             ("tracking_number", "query_code", "rating", "reason", "comment")}
    number, code = value["tracking_number"].upper(), value["query_code"]
    if not number or not code:
        return render(request, "portal/status.html", status_code=422, title="查询进度",
                      values={"tracking_number": number, "query_code": ""},
                      errors={"form": "请重新输入受理编号和查询码后再评价"}, view=None)
    if not value["rating"]:
        return await portal._status_page(request, number, code, status_code=422,
                                         rating_notice={"error": "请选择满意、基本满意或不满意", "field": "rating",
                                                        "values": value})
    body = {"rating": value["rating"], "reason": value["reason"] or "none", "comment": value["comment"]}
    headers = {"X-Forwarded-For": request.client.host} if request.client else {}
    try:
        resp = await request.app.state.backends.request(
            "PUT", "reply", f"/public/cases/{quote(number, safe='')}/rating", params={"query_code": code},
            headers=headers, json=body)
    except httpx.HTTPError:
        return await portal._status_page(request, number, code, status_code=503,
                                         rating_notice={"error": portal.UNAVAILABLE, "values": value})
    if resp.status_code in (200, 201):
        action = resp.json().get("action")
        message = {"new": "感谢您的评价，已转交政府信息公开工作机构。", "change": "您的评价已修改。",
                   "same": "您的评价没有变化。"}.get(action, "已收到您的评价。")
        return await portal._status_page(request, number, code, rating_notice={"ok": message})
    if resp.status_code in (404, 429):
        return portal._status_error(request, {"tracking_number": number, "query_code": ""}, resp)
    detail = portal._json_of(resp)
    if resp.status_code == 422:
        errs = [e for e in detail.get("errors") or [] if isinstance(e, dict)]
        msg = "；".join(f"{RATING_FIELDS.get(str(e.get('field')), e.get('field'))}：{e.get('message')}" for e in errs)
        return await portal._status_page(request, number, code, status_code=422,
                                         rating_notice={"error": msg or "评价内容不正确", "values": value})
    return await portal._status_page(request, number, code, status_code=resp.status_code if resp.status_code < 600
                                     else 502, rating_notice={"error": str(detail.get("detail") or "评价未能提交"),
                                                              "values": value})


# ---------------------------------------------------------------------------- where to apply (一码通)


@lru_cache(maxsize=1)
def acceptance_points() -> dict[str, Any]:
    return json.loads(POINTS_FILE.read_text("utf-8"))


def form_url(request: Request) -> str:
    return request.app.state.settings.public_url.rstrip("/") + "/apply"


@lru_cache(maxsize=8)
def qr_png(url: str) -> bytes:
    buf = io.BytesIO()
    segno.make(url, error="m").save(buf, kind="png", scale=8, border=4)
    return buf.getvalue()


@router.get("/where", response_class=HTMLResponse)
async def where(request: Request) -> HTMLResponse:
    points = acceptance_points()
    r = await call(request, "GET", "routing", "/directory", None)
    directory = r.body if r.ok and isinstance(r.body, dict) else {}
    agency = directory.get("agency") or {}
    # The directory lists the OGI office first among the departments (routing's GET /directory).
    depts = directory.get("departments") or []
    office = next((d for d in depts if d.get("code") == "ogi"), depts[0] if depts else {})
    windows = []
    if office.get("contact", {}).get("address"):
        c = office["contact"]
        windows.append({"name": office.get("name") or "政府信息公开工作机构", "address": c["address"],
                        "hours": c.get("office_hours", ""), "phone": c.get("phone", ""), "note": "本机关受理窗口（目录）"})
    windows += points.get("windows") or []
    return render(request, "portal/where.html", title="在哪里申请", agency_name=agency.get("name") or points.get(
        "agency_name", ""), windows=windows, post=points.get("post"), fax=points.get("fax"),
        online=points.get("online") or {}, form_url=form_url(request), directory_ok=r.ok)


@router.get("/where/qr.png")
async def where_qr(request: Request) -> Response:
    return Response(qr_png(form_url(request)), media_type="image/png", headers={"Cache-Control": "public, max-age=3600"})
