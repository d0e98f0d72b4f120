"""The applicant's public reads on the reply service: the deadline and how it was computed, and
the reply (PDF), by tracking number and query code.

Checked exactly like audit's public timeline: the query code is 12 characters of Crockford's
base32, the top 60 bits of HMAC-SHA256(secret, "gongkai-query-code/v2" NUL case id), with the
deployment's secret (``REPLY_QUERY_CODE_SECRET`` = ``INTAKE_QUERY_CODE_SECRET`` =
``AUDIT_QUERY_CODE_SECRET``); a malformed code answers 422 without a look-up, an unknown number
and a wrong code both answer 404 and count as a failed attempt per tracking number and per client
(``servicekit.ratelimit.AttemptLimiter``, counted in the store); once exhausted, 429 with
``Retry-After``. The derivation is repeated here (a service imports no other service's code).
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from servicekit.http import content_disposition
from servicekit.ratelimit import AttemptLimiter
from servicekit.validation import problem

TrackingNumber = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")]
QueryCode = Annotated[str, Query(min_length=1, max_length=32, description="受理回执上的查询码")]
BAD_FORMAT = "查询码格式不正确：应为受理回执上的 12 位字母和数字（不含 I、L、O、U）"
NO_MATCH = "受理编号或查询码不正确"
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 12
_READ_AS = str.maketrans({"I": "1", "L": "1", "O": "0", "-": None, " ": None})
REFUSALS = {404: {"description": NO_MATCH}, 429: {"description": "查询码错误次数过多（Retry-After）"}}


def query_code(secret: str, case_id: str) -> str:
    digest = hmac.new(secret.encode(), f"gongkai-query-code/v2\x00{case_id}".encode(), hashlib.sha256).digest()
    n = int.from_bytes(digest[:8], "big") >> (64 - 5 * LENGTH)
    return "".join(ALPHABET[(n >> (5 * i)) & 31] for i in reversed(range(LENGTH)))


def normalise(given: str) -> str | None:
    code = given.strip().upper().translate(_READ_AS)
    if len(code) != LENGTH or any(c not in ALPHABET for c in code):
        return None
    return code


def public_explanation(explanation: dict[str, Any]) -> dict[str, Any]:
    """The deadline's explanation without the officer who approved an extension."""
    out = dict(explanation)
    ext = out.get("extension")
    if ext:
        approver = ext.get("approver") or ""
        out["extension"] = {k: v for k, v in ext.items() if k != "approver"}
        if approver:
            out["text_zh"] = str(out.get("text_zh", "")).replace(f"负责人{approver}同意", "负责人同意")
    return out


def add_public_routes(app: FastAPI, cases: Any, secret: str, limiter: AttemptLimiter,  # noqa: ANN401
                      deadline_of: Callable[[str], Awaitable[dict[str, Any]]],
                      document_of: Callable[[str], Awaitable[dict[str, Any] | None]]) -> None:
    """``cases`` is the reply service's cases collection (it has each case's tracking number)."""

    async def case_of(request: Request, tracking_number: str, given: str) -> dict[str, Any] | JSONResponse:
        code = normalise(given)
        if code is None:  # a format error: nothing is looked up, nothing is counted
            return problem(422, "query_code", BAD_FORMAT, "string_pattern_mismatch")
        number = tracking_number.upper()
        keys = [("tracking", number), ("client", request.client.host if request.client else "unknown")]
        allowed, retry_after = await limiter.check(keys)
        if not allowed:
            raise HTTPException(429, f"查询码错误次数过多，请约 {math.ceil(retry_after / 60)} 分钟后再试",
                                headers={"Retry-After": str(retry_after)})
        doc = await cases.find_one({"tracking_number": number}, {"outbox": 0})
        expected = query_code(secret, doc["_id"] if doc else "\x00unknown")
        if doc is None or not hmac.compare_digest(expected.encode(), code.encode()):
            await limiter.hit(keys)
            raise HTTPException(404, NO_MATCH)
        return doc

    @app.get("/public/cases/{tracking_number}/deadline", tags=["public"], responses=REFUSALS)
    async def public_deadline(request: Request, tracking_number: TrackingNumber, query_code: QueryCode) -> Any:  # noqa: ANN401
        """The applicant's legal deadline and how it was computed, day by day."""
        doc = await case_of(request, tracking_number, query_code)
        if isinstance(doc, JSONResponse):
            return doc
        out = await deadline_of(doc["_id"])
        return {"tracking_number": doc["tracking_number"], "as_of": out["as_of"],
                "workdays_left": out["workdays_left"], "explanation": public_explanation(out["explanation"])}

    @app.get("/public/cases/{tracking_number}/reply.pdf", tags=["public"], response_class=Response,
             responses={200: {"content": {"application/pdf": {}}, "description": "答复书（PDF）"}, **REFUSALS})
    async def public_reply_pdf(request: Request, tracking_number: TrackingNumber, query_code: QueryCode) -> Response:
        """The reply (答复书) as a PDF, once issued and rendered."""
        doc = await case_of(request, tracking_number, query_code)
        if isinstance(doc, JSONResponse):
            return doc
        if not doc.get("reply_issued") or not (doc.get("reply") or {}).get("document_id"):
            raise HTTPException(404, "该申请尚未作出答复")
        rendered = await document_of(doc["reply"]["document_id"])
        if rendered is None or not rendered.get("pdf"):
            raise HTTPException(404, "答复书尚未生成，请稍后重试", headers={"Retry-After": "2"})
        name = f"答复书-{doc['tracking_number']}.pdf"
        return Response(bytes(rendered["pdf"]), media_type="application/pdf",
                        headers={"Content-Disposition": content_disposition("attachment", name)})
