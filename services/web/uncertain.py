"""The OGI office's list of e-mails whose delivery is not known (投递结果不确定的邮件, issue #12).

An e-mail is ``uncertain`` when notify stopped between handing the message to the mail server
(the end of data) and recording the server's 250: it may be in the applicant's mailbox or not,
and notify never sends it again by itself (services/notify/notices.py: at most once after the
commit). This page lists them (notify's ``GET /notices/uncertain``) with the Message-ID to look
up in the mail server's log, and per row two actions (``POST /notices/{id}/deliveries/{channel}/
resolution``): 已发送 (the log shows it left: recorded delivered, confirmed by the officer) and
重新发送 (it did not: notify sends it again, same Message-ID). An htmx POST gets that row back,
saying what became of it, and the navigation's count (out of band); without JavaScript the form
posts and the page comes back with the result. Who may: the OGI office's officers (the notify API
checks the token again).

Routes: ``/work/notices/uncertain`` (page), ``/work/notices/uncertain/count`` (the OGI
navigation's count, loaded by htmx), ``/work/notices/{notice_id}/deliveries/{channel}/resolution``.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup

from services.web.auth import require_officer, verify_csrf
from services.web.ogi import call, form_of, text, token_of
from services.web.ui import china_time, is_htmx, render, vary

router = APIRouter(prefix="/work/notices")
resolvers = require_officer("ogi_officer")  # notify's routes take ogi_officer (contracts/access.py)

NOTICE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
CHANNELS = ("email", "webhook")
TITLE = "投递结果不确定的邮件"

KIND_ZH = {
    "received": "申请已登记", "reply_issued": "答复书", "correction_requested": "补正通知",
    "extension_approved": "延期答复通知", "application_abandoned": "视为放弃申请告知", "fee_notice_issued": "收费通知",
    "referral_recorded": "非本机关负责公开告知", "reply_amended": "补充（更正）答复", "deadline_warning": "答复期限预警",
    "case_overdue": "逾期提醒", "calendar_missing": "工作日历缺失提醒",
}
CHANNEL_ZH = {"email": "电子邮件", "webhook": "回调", "sms": "手机短信"}
# notify's reasons (services/notify/notices.py), as the page says them; the original is kept in a title.
REASONS_ZH = (
    ("notify stopped after the message was committed", "邮件已交给邮件服务器，但在记下服务器的确认之前通知服务中断"),
    ("found sending without a claim", "发现一封由旧版本开始发送、没有发送记录的邮件"),
    ("the SMTP conversation broke after the end of data", "邮件已交给邮件服务器，但与服务器的连接随即中断，未收到确认"),
    # Texts (issue #17): look the text up in the SMS gateway's records by number and time.
    ("notify stopped after the text was committed", "短信已提交短信中心，但在记下短信中心的应答之前通知服务中断"),
    ("the SMSC may hold the text", "短信（或其部分分段）可能已被短信中心收下，但未收到全部应答"),
)
OUTCOME_ZH = {"sent": "已登记为已发送（已在邮件服务器日志中查到），申请人的通知记录为已送达。",
              "resend": "已重新发送：通知服务将以同一 Message-ID 再发一次，送达后记为已送达。"}


def reason_zh(reason: str | None) -> str:
    for start, zh in REASONS_ZH:
        if (reason or "").startswith(start):
            return zh
    return "通知服务无法确定邮件服务器（或短信中心）是否已收下该通知"


def when(value: str | None) -> str:
    """An instant in Beijing time, to the second (to find it in the mail server's log)."""
    return china_time(value, seconds=True)


def row_id(d: dict[str, Any]) -> str:
    return "u-" + re.sub(r"[^A-Za-z0-9_-]", "-", f"{d.get('notice_id')}-{d.get('channel')}")


async def uncertain(request: Request, who: Any) -> tuple[list[dict[str, Any]] | None, str | None]:  # noqa: ANN401
    """notify's uncertain deliveries (None and the message when it cannot say)."""
    r = await call(request, "GET", "notify", "/notices/uncertain", token_of(who))
    if r.ok and isinstance(r.body, dict):
        return list(r.body.get("deliveries") or []), None
    return None, r.message


def context(**extra: Any) -> dict[str, Any]:  # noqa: ANN401
    return {"title": TITLE, "kind_zh": KIND_ZH, "channel_zh": CHANNEL_ZH, "reason_zh": reason_zh, "when": when,
            "row_id": row_id, "total_line": total_line, **extra}


async def list_page(request: Request, who: Any, *, status_code: int = 200, error: str | None = None,  # noqa: ANN401
                    error_row: str | None = None) -> HTMLResponse:
    rows, load_error = await uncertain(request, who)
    done = OUTCOME_ZH.get(request.query_params.get("done", ""))
    return render(request, "ogi/uncertain.html", status_code=status_code,
                  **context(rows=rows or [], load_error=load_error, uncertain_count=len(rows) if rows is not None
                            else None, done=done, error=error, error_row=error_row))


@router.get("/uncertain", response_class=HTMLResponse)
async def page(request: Request, who: Any = Depends(resolvers)) -> HTMLResponse:  # noqa: ANN401
    return vary(await list_page(request, who))


@router.get("/uncertain/count", response_class=HTMLResponse)
async def count(request: Request, who: Any = Depends(resolvers)) -> HTMLResponse:  # noqa: ANN401
    """The navigation's count (an htmx fragment); nothing when notify cannot say."""
    rows, _ = await uncertain(request, who)
    return HTMLResponse(count_badge(None if rows is None else len(rows)), headers={"Cache-Control": "no-store"})


def total_line(n: int, oob: bool = False) -> Markup:
    """The list's "共 N 封" line (out of band after an htmx resolution: the list left changed)."""
    swap = ' hx-swap-oob="outerHTML"' if oob else ""
    said = f"共 {n} 封，最新的在前。" if n else "目前没有其他投递结果不确定的邮件。"
    return Markup(f'<p id="uncertain-total"{swap}>{said}</p>')


def count_badge(n: int | None, oob: bool = False) -> Markup:
    swap = ' hx-swap-oob="outerHTML"' if oob else ""
    if n is None:
        return Markup(f'<span id="uncertain-count"{swap}></span>')
    cls = "tag overdue" if n else "tag"
    return Markup(f'<span id="uncertain-count"{swap} class="{cls}">{n}<span class="visually-hidden"> 封</span></span>')


@router.post("/{notice_id}/deliveries/{channel}/resolution", dependencies=[Depends(verify_csrf)])
async def resolve(request: Request, notice_id: str, channel: str, who: Any = Depends(resolvers)) -> Response:  # noqa: ANN401
    if not NOTICE_ID.match(notice_id) or channel not in CHANNELS:
        raise HTTPException(404, "未找到该通知")
    form = await form_of(request)
    outcome, note = text(form, "outcome"), text(form, "note")
    rid = row_id({"notice_id": notice_id, "channel": channel})
    if outcome not in OUTCOME_ZH:
        return await refused(request, who, notice_id, channel, 422, "请选择“已发送”或“重新发送”")
    r = await call(request, "POST", "notify", f"/notices/{quote(notice_id, safe='')}/deliveries/{channel}/resolution",
                   token_of(who), json={"outcome": outcome, "note": note[:1000]})
    if not r.ok:
        message = "；".join(r.field_errors().values()) if r.status == 422 else r.message
        return await refused(request, who, notice_id, channel, r.status if r.status >= 400 else 502, message)
    if not is_htmx(request):
        return RedirectResponse(f"/work/notices/uncertain?{urlencode({'done': outcome})}", status_code=303)
    rows, _ = await uncertain(request, who)
    return vary(render(request, "ogi/_uncertain_result.html", rid=rid, message=OUTCOME_ZH[outcome], failed=False,
                       badge=count_badge(None if rows is None else len(rows), oob=True),
                       total=None if rows is None else total_line(len(rows), oob=True)))


async def refused(request: Request, who: Any, notice_id: str, channel: str, status: int,  # noqa: ANN401
                  message: str) -> Response:
    rid = row_id({"notice_id": notice_id, "channel": channel})
    if not is_htmx(request):
        return vary(await list_page(request, who, status_code=status, error=message, error_row=rid))
    rows, _ = await uncertain(request, who)
    row = next((d for d in rows or [] if d.get("notice_id") == notice_id and d.get("channel") == channel), None)
    badge = count_badge(None if rows is None else len(rows), oob=True)
    if row is None:  # resolved meanwhile (by another officer): the row says so
        return vary(render(request, "ogi/_uncertain_result.html", status_code=status, rid=rid, failed=True,
                           message=f"未能办理：{message}", badge=badge))
    return vary(render(request, "ogi/_uncertain_row.html", status_code=status,
                       **context(d=row, error=message, error_row=rid, badge=badge)))
