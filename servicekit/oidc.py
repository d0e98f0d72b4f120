"""Officers' identity: OIDC access tokens (JWT), verified with PyJWT against the issuer's keys.

A token is accepted only when its signature verifies with a key of the issuer's JWKS (fetched
from the issuer's discovery document, cached, and fetched again when a token names a key id not
seen yet: rotated keys are picked up), and ``iss``, ``aud``, ``exp`` (and ``nbf``, ``iat`` where
present) hold. The officer recorded in events is the token's subject and display name; roles and
the department come from claims (``GONGKAI_OIDC_ROLES_CLAIM``, ``GONGKAI_OIDC_DEPARTMENT_CLAIM``).
Nothing here is Keycloak-specific: agencies point ``GONGKAI_OIDC_ISSUER`` at their own unified
identity platform (统一身份认证).

``AccessGuard`` is a FastAPI dependency applied to every route of a service: it looks the route
up in ``contracts.access.ROUTES`` (fail closed: an unlisted route is refused), lets public routes
through, and otherwise answers 401 without a valid token and 403 with a token lacking the role,
logging each refusal with the token's subject. Handlers read the officer with ``Depends(officer)``.

**Verified tokens are remembered** (``TokenVerifier``): a token that verified is kept, keyed by
its SHA-256 (not the token itself), with the officer and the key that verified it, for at most
``token_cache_seconds`` (default 60 s) and never past its ``exp``; at most ``token_cache_size``
tokens (least recently used dropped first). A remembered token is accepted again only while the
key set still holds *the same key object* under its key id: every JWKS refresh replaces the key
objects, so after a refresh (a rotation that removed a key, or the periodic
``jwks_lifespan_seconds`` one) each remembered token is verified again in full. The bound: a
token stays accepted up to ``token_cache_seconds`` after an issuer revoked its key only when this
service has not refreshed its keys in the meantime — the same as without the cache, where the
keys themselves are kept ``jwks_lifespan_seconds``. Refused tokens are never remembered.
``token_cache_seconds = 0`` turns the cache off.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import structlog
from fastapi import HTTPException, Request
from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts.access import ROUTES, Access

log = structlog.get_logger()


class OidcSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GONGKAI_OIDC_", extra="ignore")

    # The issuer (``iss``) of officers' tokens, e.g. http://127.0.0.1:18080/realms/gongkai. Its
    # discovery document (<issuer>/.well-known/openid-configuration) names the JWKS.
    issuer: str = ""
    # The audience (``aud``) the services' tokens must carry.
    audience: str = "gongkai-api"
    # Optional: the JWKS address (skips discovery), or a file holding a JWKS (pinned keys).
    jwks_url: str = ""
    jwks_file: str = ""
    roles_claim: str = "realm_access.roles"
    department_claim: str = "department"
    algorithms: list[str] = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"]
    leeway_seconds: int = 30
    # How long fetched keys are kept before they are fetched again (a new key id refetches at once).
    jwks_lifespan_seconds: int = 300
    # Unknown key ids refetch the JWKS at most this often (a flood of forged kids is not a flood of fetches).
    jwks_min_refetch_seconds: float = 10.0
    # Verified tokens remembered (module docstring): how long at most (never past ``exp``; 0: off),
    # and how many at most (least recently used dropped first).
    token_cache_seconds: float = 60.0
    token_cache_size: int = 2048


@dataclass(frozen=True)
class Principal:
    """A verified officer."""

    subject: str
    username: str
    name: str
    roles: frozenset[str]
    department: str | None = None

    @property
    def display(self) -> str:
        """What documents and timelines show: the display name, else the user name."""
        return self.name or self.username or self.subject

    def has(self, *roles: str) -> bool:
        return bool(self.roles & set(roles))

    def as_actor(self) -> dict[str, str | None]:
        return {"subject": self.subject, "username": self.username, "name": self.display,
                "department": self.department}


class InvalidToken(Exception):
    pass


class KeysUnavailable(Exception):
    """The identity provider's signing keys cannot be fetched and none are known yet (e.g. a
    service restarted while the IdP is down). Not the token's fault: the caller is asked to retry
    (503), and a signed-in officer's session is kept."""


def _claim(claims: dict[str, Any], dotted: str) -> Any:  # noqa: ANN401
    value: Any = claims
    for part in dotted.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


class KeySet:
    """The issuer's signing keys by key id, fetched over HTTP (discovery → JWKS) or read from a file."""

    def __init__(self, settings: OidcSettings) -> None:
        self.settings = settings
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()

    def _load(self, data: dict[str, Any]) -> None:
        keys = {}
        for jwk in jwt.PyJWKSet.from_dict(data).keys:
            if jwk.key_id and (jwk.public_key_use in (None, "sig")):
                keys[jwk.key_id] = jwk
        self._keys = keys
        self._fetched_at = time.monotonic()

    async def _jwks_url(self, client: httpx.AsyncClient) -> str:
        if self.settings.jwks_url:
            return self.settings.jwks_url
        issuer = self.settings.issuer.rstrip("/")
        resp = await client.get(f"{issuer}/.well-known/openid-configuration")
        resp.raise_for_status()
        return resp.json()["jwks_uri"]

    async def _refresh(self) -> None:
        if self.settings.jwks_file:
            self._load(json.loads(Path(self.settings.jwks_file).read_text(encoding="utf-8")))
            return
        async with httpx.AsyncClient(timeout=5, follow_redirects=False) as client:
            url = await self._jwks_url(client)
            resp = await client.get(url)
            resp.raise_for_status()
            self._load(resp.json())
        log.info("oidc_keys_fetched", key_ids=sorted(self._keys))

    async def key(self, kid: str | None) -> jwt.PyJWK:
        age = time.monotonic() - self._fetched_at
        stale = not self._keys or age > self.settings.jwks_lifespan_seconds
        unknown = kid not in self._keys and age > self.settings.jwks_min_refetch_seconds
        if stale or unknown:
            async with self._lock:
                age = time.monotonic() - self._fetched_at
                if not self._keys or age > self.settings.jwks_lifespan_seconds or (
                        kid not in self._keys and age > self.settings.jwks_min_refetch_seconds):
                    try:
                        await self._refresh()
                    except (httpx.HTTPError, OSError, ValueError, KeyError, jwt.PyJWKError) as exc:
                        log.warning("oidc_keys_unavailable", error=repr(exc))
                        if not self._keys:
                            raise KeysUnavailable("身份提供方暂不可用，无法核验令牌，请稍后重试") from exc
        if kid is None and len(self._keys) == 1:
            return next(iter(self._keys.values()))
        if kid not in self._keys:
            raise InvalidToken("令牌的签名密钥未知")
        return self._keys[kid]


@dataclass(frozen=True)
class _Verified:
    """A remembered verified token: who, with which key object, until when (monotonic, wall)."""

    principal: Principal
    kid: str | None
    key: jwt.PyJWK
    until_monotonic: float
    exp: float


class TokenVerifier:
    def __init__(self, settings: OidcSettings | None = None) -> None:
        self.settings = settings or OidcSettings()
        self.keys = KeySet(self.settings)
        self._verified: OrderedDict[bytes, _Verified] = OrderedDict()

    @property
    def configured(self) -> bool:
        return bool(self.settings.issuer)

    async def _remembered(self, digest: bytes) -> Principal | None:
        hit = self._verified.get(digest)
        if hit is None:
            return None
        if time.monotonic() >= hit.until_monotonic or time.time() >= hit.exp:
            del self._verified[digest]
            return None
        try:  # refreshes the key set when it is due, as a full verification would
            key = await self.keys.key(hit.kid)
        except InvalidToken:
            key = None
        if key is not hit.key:  # the keys were fetched again since: verify in full
            self._verified.pop(digest, None)
            return None
        self._verified.move_to_end(digest)
        return hit.principal

    def _remember(self, digest: bytes, principal: Principal, kid: str | None, key: jwt.PyJWK,
                  claims: dict[str, Any]) -> None:
        s = self.settings
        try:
            exp = float(claims["exp"])
        except (KeyError, TypeError, ValueError):
            return
        self._verified[digest] = _Verified(principal, kid, key, time.monotonic() + s.token_cache_seconds, exp)
        self._verified.move_to_end(digest)
        while len(self._verified) > max(1, s.token_cache_size):
            self._verified.popitem(last=False)

    async def verify(self, token: str) -> Principal:
        s = self.settings
        if not s.issuer:
            raise InvalidToken("未配置身份提供方（GONGKAI_OIDC_ISSUER），不接受任何令牌")
        caching = s.token_cache_seconds > 0 and s.token_cache_size > 0
        digest = hashlib.sha256(token.encode()).digest() if caching else b""
        if caching and (known := await self._remembered(digest)) is not None:
            return known
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken("令牌格式不正确") from exc
        if header.get("alg") not in s.algorithms:
            raise InvalidToken("令牌的签名算法不被接受")
        key = await self.keys.key(header.get("kid"))
        try:
            claims = jwt.decode(
                token, key=key, algorithms=s.algorithms, audience=s.audience, issuer=s.issuer,
                leeway=s.leeway_seconds, options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise InvalidToken("令牌已过期，请重新登录") from exc
        except jwt.ImmatureSignatureError as exc:
            raise InvalidToken("令牌尚未生效") from exc
        except jwt.InvalidAudienceError as exc:
            raise InvalidToken("令牌不是发给本系统的（aud）") from exc
        except jwt.InvalidIssuerError as exc:
            raise InvalidToken("令牌的签发方不被信任（iss）") from exc
        except jwt.PyJWTError as exc:
            raise InvalidToken("令牌无效") from exc
        roles = _claim(claims, s.roles_claim) or []
        dept = _claim(claims, s.department_claim)
        if isinstance(dept, list):
            dept = dept[0] if dept else None
        principal = Principal(
            subject=str(claims["sub"]),
            username=str(claims.get("preferred_username") or ""),
            name=str(claims.get("name") or ""),
            roles=frozenset(str(r) for r in roles) if isinstance(roles, list) else frozenset(),
            department=str(dept) if dept else None,
        )
        if caching:
            self._remember(digest, principal, header.get("kid"), key, claims)
        return principal


def bearer_token(request: Request) -> str | None:
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        return None
    return presented.strip()


UNAUTHENTICATED = {"WWW-Authenticate": 'Bearer realm="gongkai"'}


class AccessGuard:
    """The app-wide dependency: the route's entry in the access table, enforced."""

    def __init__(self, service: str, verifier: TokenVerifier) -> None:
        self.service = service
        self.verifier = verifier
        self.table = ROUTES.get(service, {})

    def access(self, request: Request) -> Access | None:
        route = request.scope.get("route")
        path = getattr(route, "path", None)
        return self.table.get((request.method.upper(), path)) if path else None

    async def __call__(self, request: Request) -> None:
        acc = self.access(request)
        if acc is None:  # fail closed: not in contracts/access.py
            log.warning("access_refused", reason="route not in the access table", path=request.url.path)
            raise HTTPException(403, "此接口未开放")
        if acc.public:
            return
        token = bearer_token(request)
        if token is None:
            log.info("access_refused", reason="no token", path=request.url.path, method=request.method)
            raise HTTPException(401, "需要身份认证：请登录后携带访问令牌（Authorization: Bearer）",
                                headers=UNAUTHENTICATED)
        try:
            principal = await self.verifier.verify(token)
        except InvalidToken as exc:
            log.info("access_refused", reason=str(exc), path=request.url.path, method=request.method)
            raise HTTPException(401, str(exc), headers=UNAUTHENTICATED) from None
        except KeysUnavailable as exc:
            log.warning("access_deferred", reason=str(exc), path=request.url.path, method=request.method)
            raise HTTPException(503, str(exc), headers={"Retry-After": "5"}) from None
        if not acc.allows(principal.roles):
            log.warning("access_refused", reason="role", subject=principal.subject, username=principal.username,
                        roles=sorted(principal.roles), path=request.url.path, method=request.method)
            allowed = "、".join(r.label_zh for r in sorted(acc.roles))
            raise HTTPException(403, f"无权执行此操作：须由{allowed}办理")
        request.state.principal = principal


async def officer(request: Request) -> Principal:
    """The verified officer of a request that passed the guard: a FastAPI dependency
    (``Depends(officer)``). A coroutine function, so FastAPI calls it on the event loop instead of
    handing it to a worker thread (a thread-pool hop on every officer request)."""
    principal = getattr(request.state, "principal", None)
    if principal is None:  # a public route asking for an officer: a wiring mistake
        raise HTTPException(401, "需要身份认证", headers=UNAUTHENTICATED)
    return principal


def refuse(principal: Principal, request: Request, message: str, reason: str) -> HTTPException:
    """A 403 beyond the role (wrong department, four eyes), logged with the subject."""
    log.warning("access_refused", reason=reason, subject=principal.subject, username=principal.username,
                department=principal.department, path=request.url.path, method=request.method)
    return HTTPException(403, message)


def require_department(principal: Principal, request: Request, dept_code: str) -> None:
    if principal.department != dept_code:
        raise refuse(principal, request, f"无权查看或办理部门 {dept_code} 的任务（本人所属部门：{principal.department or '无'}）",
                     "department")
