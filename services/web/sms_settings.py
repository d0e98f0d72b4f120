"""The OGI office's 短信防打扰时间 (issue #17): the window of the day in which notify holds texts to
applicants, sending them when it ends.

The page (``GET /work/ogi/settings/sms``) reads notify's ``GET /settings/sms-quiet-hours`` with the
officer's token and says the window in words (Beijing time), whether a text due now would be held
and until when, and who set it and when (or that it is the deployment's default). Its form (a
start and an end time, or 「不设防打扰时间」) posts to ``POST /work/ogi/settings/sms``, which PUTs
the window to notify. Only the head (ogi_head) may change it, and notify decides that: the page
shows the head an enabled form and the others the value with a note; an officer who posts anyway
gets notify's 403 as a message. notify's 422 is shown next to the time fields.

Works without JavaScript (a plain POST: 303 back to the page saying what was set, or the page
again with the message and the status kept) and with htmx (the section ``#sms-quiet`` comes back
in place, updated or with the message).
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.web.auth import require_officer, verify_csrf
from services.web.ogi import OGI_ROLES, call, form_of, is_head, text, token_of
from services.web.ui import china_time, is_htmx, render, vary

router = APIRouter(prefix="/work/ogi/settings")
# The OGI office's pages are theirs (contracts/access.py); notify takes the PUT from ogi_head only.
settings_readers = require_officer(*OGI_ROLES)

PATH = "/settings/sms-quiet-hours"
TITLE = "短信防打扰时间"
TIME = re.compile(r"^\d{1,2}:\d{2}(:\d{2})?$")
WINDOW = re.compile(r"^(\d{2}:\d{2})-(\d{2}:\d{2})$")
DONE_ZH = {"set": "已保存防打扰时间", "cleared": "已取消防打扰时间：短信全天发送"}
MISSING_ZH = "请填写开始时刻和结束时刻，或勾选“不设防打扰时间”"


def window_zh(quiet_hours: str) -> str:
    """The window as the office reads it: 每日 21:00 至次日 08:00（北京时间）…; none: 全天发送."""
    m = WINDOW.match(quiet_hours or "")
    if not m:
        return "未设置：全天发送" if not quiet_hours else quiet_hours
    start, end = m.groups()
    until = f"次日 {end}" if start > end else f" {end}"
    return f"每日 {start} 至{until}（北京时间）不发送短信，期间的短信在结束时发出"


def now_zh(current: dict[str, Any]) -> str:
    """Whether a text due now would be held, and until when (Beijing time)."""
    if not current.get("now_quiet"):
        return "现在不在防打扰时间内：短信即时发送。" if current.get("quiet_hours") else "短信即时发送。"
    until = china_time(current.get("until"))
    return f"现在处于防打扰时间内：短信暂不发送，将于 {until}（北京时间）发出。" if until else "现在处于防打扰时间内：短信暂不发送。"


def who_zh(current: dict[str, Any]) -> str:
    if current.get("source") != "set":
        return "部署默认值（尚未由公开办设置）"
    by, at = current.get("set_by") or "公开办负责人", china_time(current.get("set_at"))
    return f"{by}于 {at}（北京时间）设置" if at else f"{by}设置"


def hhmm(value: str) -> str:
    """A time input's value ("21:00", "21:00:00", "9:05") as notify takes it: HH:MM."""
    h, m = value.split(":")[:2]
    return f"{int(h):02d}:{m}"


def form_values(current: dict[str, Any] | None) -> dict[str, Any]:
    """The form as the stored setting fills it."""
    m = WINDOW.match((current or {}).get("quiet_hours") or "")
    if m:
        return {"start": m.group(1), "end": m.group(2), "none": False}
    return {"start": "", "end": "", "none": bool(current) and not (current or {}).get("quiet_hours")}


async def current_of(request: Request, who: Any) -> tuple[dict[str, Any] | None, str | None]:  # noqa: ANN401
    r = await call(request, "GET", "notify", PATH, token_of(who))
    if r.ok and isinstance(r.body, dict):
        return r.body, None
    return None, f"防打扰时间暂时无法显示：{r.message}"


async def page(request: Request, who: Any, *, status_code: int = 200, done: str | None = None,  # noqa: ANN401
               problem: dict[str, Any] | None = None) -> Response:
    """The whole page, or (htmx) the section alone; ``problem`` the form just refused."""
    current, load_error = await current_of(request, who)
    context = {
        "title": TITLE, "current": current, "load_error": load_error, "may_change": is_head(who),
        "window_zh": window_zh, "now_zh": now_zh, "who_zh": who_zh, "sms_done": done,
        "sq": problem or {"values": form_values(current), "errors": {}, "message": ""},
    }
    name = "ogi/_sms_quiet.html" if is_htmx(request) else "ogi/sms_quiet.html"
    return vary(render(request, name, status_code=status_code, fragment=is_htmx(request), **context))


@router.get("/sms", response_class=HTMLResponse)
async def show(request: Request, who: Any = Depends(settings_readers)) -> Response:  # noqa: ANN401
    return await page(request, who, done=DONE_ZH.get(request.query_params.get("done", "")))


@router.post("/sms", dependencies=[Depends(verify_csrf)])
async def change(request: Request, who: Any = Depends(settings_readers)) -> Response:  # noqa: ANN401
    form = await form_of(request)
    start, end = text(form, "start"), text(form, "end")
    none = text(form, "none") in ("on", "true", "1")
    kept = {"start": start, "end": end, "none": none}
    if none:
        value = ""
    else:
        errors = {k: MISSING_ZH for k, v in (("start", start), ("end", end)) if not v}
        errors |= {k: "请按“时:分”填写，如 21:00" for k, v in (("start", start), ("end", end))
                   if v and not TIME.match(v)}
        if errors:  # not sent: notify would refuse it too
            return await page(request, who, status_code=422, problem={
                "values": kept, "errors": errors, "message": "提交的内容有误，请按提示修改后重新提交"})
        value = f"{hhmm(start)}-{hhmm(end)}"
    r = await call(request, "PUT", "notify", PATH, token_of(who), json={"quiet_hours": value})
    done = "cleared" if value == "" else "set"
    if r.ok:
        if is_htmx(request):
            return await page(request, who, done=DONE_ZH[done])
        return RedirectResponse(f"/work/ogi/settings/sms?done={done}", status_code=303)
    status = r.status if 400 <= r.status < 600 else 502
    if r.status == 422:
        field = r.field_errors()
        said = field.get("quiet_hours") or next(iter(field.values()), None) or r.message
        problem = {"values": kept, "errors": {"quiet_hours": said}, "message": "提交的内容有误，请按提示修改后重新提交"}
    elif r.status == 403:
        problem = {"values": kept, "errors": {},
                   "message": f"只有公开办负责人可以修改防打扰时间（通知服务拒绝：{r.message}）"}
    else:
        problem = {"values": kept, "errors": {}, "message": r.message}
    return await page(request, who, status_code=status, problem=problem)
