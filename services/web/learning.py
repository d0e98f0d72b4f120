"""Routing's learning in the workbench (分办规则学习, issue #13): for directory admins, the rules
routing proposes from the OGI office's triage decisions (a phrase → a department, with its support
and its conflicting examples), each accepted (a new directory version: who, when, why) or rejected.
The pages call routing's ``/learning/proposals`` with the signed-in admin's token; routing decides
who may (contracts/access.py) and the page shows its Chinese message when it refuses.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.web.auth import require_officer, verify_csrf
from services.web.backends import call as backends_call
from services.web.ui import render

admins = require_officer("directory_admin")
router = APIRouter(prefix="/work/learning")

PROPOSAL_ID = re.compile(r"^[0-9a-f]{16}$")
DONE_ZH = {"accepted": "已采纳，目录已更新", "rejected": "已驳回该建议"}


async def page(request: Request, who: Any, error: str | None = None, status_code: int = 200) -> HTMLResponse:  # noqa: ANN401
    r = await backends_call(request.app.state.backends, "GET", "routing", "/learning/proposals", who.access_token)
    body = r.body if r.ok and isinstance(r.body, dict) else {}
    decided = list(reversed(body.get("decided", [])))
    return render(request, "learning/proposals.html", status_code=status_code, title="分办规则学习",
                  proposals=body.get("proposals", []), decided=decided, examples=body.get("examples", 0),
                  version=body.get("directory_version"), load_error=None if r.ok else r.message,
                  done=DONE_ZH.get(request.query_params.get("done", "")), error=error,
                  version_done=request.query_params.get("version"))


@router.get("", response_class=HTMLResponse)
async def proposals(request: Request, who: Any = Depends(admins)) -> HTMLResponse:  # noqa: ANN401
    return await page(request, who)


async def decide(request: Request, proposal_id: str, kind: str, who: Any) -> Response:  # noqa: ANN401
    if not PROPOSAL_ID.match(proposal_id):
        raise HTTPException(404, "没有该建议")
    form = await request.form()
    note = form.get("note")
    body = {"note": note.strip() if isinstance(note, str) else ""}
    r = await backends_call(request.app.state.backends, "POST", "routing",
                            f"/learning/proposals/{quote(proposal_id)}/{kind}", who.access_token, json=body)
    if not r.ok:
        return await page(request, who, error=r.message, status_code=r.status if 400 <= r.status < 600 else 502)
    done = {"done": "accepted" if kind == "acceptance" else "rejected"}
    if isinstance(r.body, dict) and r.body.get("version"):
        done["version"] = str(r.body["version"])
    return RedirectResponse(f"/work/learning?{urlencode(done)}", status_code=303)


@router.post("/{proposal_id}/acceptance", dependencies=[Depends(verify_csrf)])
async def accept(request: Request, proposal_id: str, who: Any = Depends(admins)) -> Response:  # noqa: ANN401
    return await decide(request, proposal_id, "acceptance", who)


@router.post("/{proposal_id}/rejection", dependencies=[Depends(verify_csrf)])
async def reject(request: Request, proposal_id: str, who: Any = Depends(admins)) -> Response:  # noqa: ANN401
    return await decide(request, proposal_id, "rejection", who)
