"""Bearer-token authentication of people with a role (directory admins, OGI officers, departments).

Each setting holds one or more tokens, comma-separated, each either ``token`` or ``name:token``
(the name is recorded as the principal of a change; a bare token is recorded as the role).
No token configured means nobody is let in. A missing or malformed ``Authorization`` header is
401 (with ``WWW-Authenticate: Bearer``); a token that is not one of the role's is 403.
"""

from __future__ import annotations

import hmac

from fastapi import HTTPException, Request


def parse_tokens(setting: str, role: str) -> list[tuple[str, str]]:
    """[(principal, token)] from a setting value."""
    out = []
    for item in (setting or "").split(","):
        item = item.strip()
        if not item:
            continue
        name, sep, token = item.partition(":")
        out.append((name, token) if sep and token else (role, item))
    return out


def bearer(request: Request, missing: str = "需要身份认证（Authorization: Bearer 令牌）") -> str:
    """The request's bearer token, or 401 (with ``WWW-Authenticate: Bearer``) and ``missing``."""
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        raise HTTPException(401, missing, headers={"WWW-Authenticate": "Bearer"})
    return presented.strip()


def authenticate(request: Request, tokens: list[tuple[str, str]]) -> str:
    """The principal of the request's bearer token, or an HTTPException (401/403)."""
    presented = bearer(request)
    found = None
    for principal, token in tokens:
        # Compare with every configured token (constant time each), whatever matches first.
        if hmac.compare_digest(presented.encode(), token.encode()) and found is None:
            found = principal
    if found is None:
        raise HTTPException(403, "令牌无权执行此操作")
    return found


def require(role: str, setting: str):  # noqa: ANN201 - a FastAPI dependency
    tokens = parse_tokens(setting, role)

    def dependency(request: Request) -> str:
        return authenticate(request, tokens)

    return dependency
