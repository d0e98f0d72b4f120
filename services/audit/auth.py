"""Bearer-token authentication of OGI officers on the audit service (``AUDIT_OFFICER_TOKEN``).

The setting holds one or more tokens, comma-separated, each ``token`` or ``name:token`` (the name
is recorded as the officer in the events; a bare token is recorded as "ogi-officer"). No token
configured: nobody is let in. Missing or malformed header: 401; unknown token: 403.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable

from fastapi import HTTPException, Request

ROLE = "ogi-officer"


def parse_tokens(setting: str, role: str = ROLE) -> list[tuple[str, str]]:
    out = []
    for item in (setting or "").split(","):
        item = item.strip()
        if not item:
            continue
        name, sep, token = item.partition(":")
        out.append((name, token) if sep and token else (role, item))
    return out


def officer(setting: str) -> Callable[[Request], str]:
    """A FastAPI dependency: the principal of the request's officer token."""
    tokens = parse_tokens(setting)

    def dependency(request: Request) -> str:
        scheme, _, presented = request.headers.get("authorization", "").partition(" ")
        presented = presented.strip()
        if scheme.lower() != "bearer" or not presented:
            raise HTTPException(401, "需要身份认证（Authorization: Bearer 令牌）", headers={"WWW-Authenticate": "Bearer"})
        found = None
        for principal, token in tokens:  # every token compared, each in constant time
            if hmac.compare_digest(presented.encode(), token.encode()) and found is None:
                found = principal
        if found is None:
            raise HTTPException(403, "令牌无权执行此操作")
        return found

    return dependency
