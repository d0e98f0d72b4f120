"""Applicants' query codes, shared by the services that open a case to its applicant (intake
derives and hands them out; audit and reply check them).

A code is 12 characters of Crockford's base32 (digits and capitals without I, L, O, U), derived
with HMAC-SHA256 from the deployment's secret and the case id: a replayed submission gets it again
and nothing secret is stored. ``QueryCodeGate`` is the one check of a public route: a malformed
code is 422 and not looked up; failures are limited per tracking number and per client (429 with
``Retry-After``); an unknown number and a wrong code answer alike (404) and both count.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Awaitable, Callable

from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse

from servicekit.ratelimit import AttemptLimiter
from servicekit.validation import problem

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 12  # 60 bits
_READ_AS = str.maketrans({"I": "1", "L": "1", "O": "0", "-": None, " ": None})
BAD_FORMAT = "查询码格式不正确：应为受理回执上的 12 位字母和数字（不含 I、L、O、U）"
NO_MATCH = "受理编号或查询码不正确"


def query_code(secret: str, case_id: str) -> str:
    """The query code of a case."""
    digest = hmac.new(secret.encode(), f"gongkai-query-code/v2\x00{case_id}".encode(), hashlib.sha256).digest()
    n = int.from_bytes(digest[:8], "big") >> (64 - 5 * LENGTH)
    return "".join(ALPHABET[(n >> (5 * i)) & 31] for i in reversed(range(LENGTH)))


def normalise(given: str) -> str | None:
    """A query code as typed (any case, hyphens or spaces between groups, I/L for 1, O for 0), in
    its canonical form; None when it cannot be one."""
    code = given.strip().upper().translate(_READ_AS)
    if len(code) != LENGTH or any(c not in ALPHABET for c in code):
        return None
    return code


def matches(secret: str, case_id: str, given: str) -> bool:
    """Constant-time comparison of a (normalised) query code with the case's."""
    code = normalise(given) or ""
    return hmac.compare_digest(query_code(secret, case_id).encode(), code.encode())


def client_of(request: Request) -> str:
    """The client's address as the server saw it (behind a proxy: what uvicorn's trusted
    ``--forwarded-allow-ips`` made of it; never a header the client sets itself)."""
    return request.client.host if request.client else "unknown"


class QueryCodeGate:
    def __init__(self, secret: str, limiter: AttemptLimiter) -> None:
        self.secret = secret
        self.limiter = limiter

    async def open(self, request: Request, tracking_number: str, given: str,
                   lookup: Callable[[str], Awaitable[str | None]]) -> str | JSONResponse:
        """The case id behind ``tracking_number`` when ``given`` is its code (``lookup``: number →
        case id or None); a 422 response for a malformed code; raises 429 or 404."""
        code = normalise(given)
        if code is None:  # a format error: nothing is looked up, nothing is counted
            return problem(422, "query_code", BAD_FORMAT, "string_pattern_mismatch")
        number = tracking_number.upper()
        keys = [("tracking", number), ("client", client_of(request))]
        allowed, retry_after = await self.limiter.check(keys)
        if not allowed:
            raise HTTPException(429, f"查询码错误次数过多，请约 {math.ceil(retry_after / 60)} 分钟后再试",
                                headers={"Retry-After": str(retry_after)})
        case_id = await lookup(number)
        # Unknown number and wrong code answer alike (and take the same work): nothing to learn by
        # trying numbers; each failure counts against the number and the client.
        ok = matches(self.secret, case_id or "\x00unknown", code)
        if case_id is None or not ok:
            await self.limiter.hit(keys)
            raise HTTPException(404, NO_MATCH)
        return case_id
