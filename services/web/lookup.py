"""Finding a case by its tracking number (按受理编号查找): the number an applicant quotes on the
phone or at the window. ``GET /work/ogi/find?tracking_number=…`` asks audit's officer route
``/tracking-numbers/{n}`` with the officer's token and sends the browser to the case page; an
unknown or malformed number shows the form again with the message tied to the field."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.web.ogi import call, ogi_staff, token_of
from services.web.ui import render

router = APIRouter(prefix="/work/ogi")
NUMBER = re.compile(r"^[A-Za-z0-9-]{1,64}$")


def _form(request: Request, number: str, error: str | None, status_code: int) -> HTMLResponse:
    return render(request, "ogi/find.html", status_code=status_code, title="按受理编号查找案件",
                  number=number, error_message=error)


@router.get("/find", response_class=HTMLResponse)
async def find_case(request: Request, tracking_number: str = "", who: Any = Depends(ogi_staff)) -> Response:  # noqa: ANN401
    number = tracking_number.strip().upper()
    if not number:
        return _form(request, "", None if "tracking_number" not in request.query_params else "请填写受理编号",
                     200 if "tracking_number" not in request.query_params else 422)
    if not NUMBER.match(number):
        return _form(request, number, "受理编号格式不正确：如 YN-20261202-00001", 422)
    r = await call(request, "GET", "audit", f"/tracking-numbers/{quote(number, safe='')}", token_of(who))
    if r.ok and isinstance(r.body, dict) and r.body.get("case_id"):
        return RedirectResponse(f"/work/ogi/cases/{quote(str(r.body['case_id']), safe='')}", status_code=303)
    if r.status == 404:
        return _form(request, number, "未找到该受理编号的案件：请核对编号；刚提交的申请可能需要几秒钟才能查到", 404)
    return _form(request, number, r.message, r.status if 400 <= r.status < 600 else 502)
