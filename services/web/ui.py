"""Rendering pages: one Jinja2 environment (autoescaped), every page extends ``base.html``.

``render(request, "portal/apply.html", title=..., **context)``; templates get ``request``,
``officer`` (the signed-in officer or None), ``csrf_token`` (for every form: ``{{ csrf_field() }}``)
and ``flash`` messages.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=str(HERE / "templates"))


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:  # noqa: ANN401
    token = getattr(request.state, "csrf_token", "")
    context.setdefault("officer", getattr(request.state, "officer", None))
    context.setdefault("csrf_token", token)
    context.setdefault("csrf_field", lambda: Markup('<input type="hidden" name="csrf_token" value="{}">').format(escape(token)))
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def is_htmx(request: Request) -> bool:
    """An htmx request wanting a fragment (htmx 4's history restore wants the whole page)."""
    h = request.headers
    return h.get("hx-request") == "true" and h.get("hx-history-restore-request") != "true"


def vary(response: Response) -> Response:
    """A page that answers htmx with a fragment: caches keep the two apart."""
    response.headers["Vary"] = "HX-Request, HX-History-Restore-Request"
    return response


CHINA = ZoneInfo("Asia/Shanghai")


def china_today() -> date:
    """Today in China: the dates officers enter (signed for, handed over, received) are China's,
    whatever the server's time zone (the pods run in UTC: before 08:00 China time, UTC is still
    yesterday)."""
    return datetime.now(CHINA).date()


def china_time(value: str | None, *, seconds: bool = False) -> str:
    """An ISO instant as officers read it: China time, to the minute (or the second, to find it in
    a mail server's log); a value that is not an instant as it is."""
    if not value:
        return ""
    try:
        return datetime.fromisoformat(value).astimezone(CHINA).strftime("%Y-%m-%d %H:%M" + (":%S" if seconds else ""))
    except ValueError:
        return value


def date_zh(value: str | None) -> str:
    """An ISO date as people read it in a notice: 2027年2月3日 (a value that is not a date as it is)."""
    if not value:
        return ""
    try:
        d = datetime.strptime(str(value)[:10], "%Y-%m-%d")
    except ValueError:
        return str(value)
    return f"{d.year}年{d.month}月{d.day}日"
