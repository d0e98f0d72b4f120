"""The workbench as an OpenID Connect client (confidential, authorization code + PKCE S256).

Only standard OpenID Connect: the issuer's discovery document names the authorization, token and
end-session endpoints; nothing Keycloak-specific, so agencies point GONGKAI_OIDC_ISSUER at their
own unified identity platform (统一身份认证). Access tokens are verified with
``servicekit.oidc.TokenVerifier`` (the same checks as every service); the ID token's signature,
issuer, audience (this client) and nonce are checked here with the issuer's keys.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
import time
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt
import structlog

from services.web.sessions import Tokens
from servicekit.oidc import InvalidToken, TokenVerifier

log = structlog.get_logger()

DISCOVERY_LIFESPAN_SECONDS = 3600.0


class IdpError(Exception):
    """The identity provider refused or could not be reached (text for the officer, in Chinese)."""


def pkce_pair() -> tuple[str, str]:
    """(code_verifier, S256 code_challenge), RFC 7636."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


class OidcClient:
    def __init__(self, verifier: TokenVerifier, client_id: str, client_secret: str, *,
                 http: httpx.AsyncClient | None = None, timeout: float = 10.0) -> None:
        self.verifier = verifier
        self.issuer = verifier.settings.issuer.rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret
        self.http = http or httpx.AsyncClient(timeout=timeout, follow_redirects=False)
        self._doc: dict[str, Any] | None = None
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()

    async def close(self) -> None:
        await self.http.aclose()

    async def discovery(self, *, fresh: bool = False) -> dict[str, Any]:
        if self._doc is None or fresh or time.monotonic() - self._fetched_at > DISCOVERY_LIFESPAN_SECONDS:
            async with self._lock:
                if self._doc is None or fresh or time.monotonic() - self._fetched_at > DISCOVERY_LIFESPAN_SECONDS:
                    if not self.issuer:
                        raise IdpError("未配置身份提供方（GONGKAI_OIDC_ISSUER）")
                    try:
                        resp = await self.http.get(f"{self.issuer}/.well-known/openid-configuration")
                        resp.raise_for_status()
                        doc = resp.json()
                    except (httpx.HTTPError, ValueError) as exc:
                        log.warning("idp_discovery_failed", issuer=self.issuer, error=repr(exc))
                        raise IdpError("统一身份认证平台暂时无法访问，请稍后再试") from exc
                    if doc.get("issuer", "").rstrip("/") != self.issuer:
                        raise IdpError("身份提供方的配置与本系统不一致（issuer）")
                    self._doc, self._fetched_at = doc, time.monotonic()
        assert self._doc is not None
        return self._doc

    async def reachable(self) -> bool:
        try:
            await self.discovery(fresh=True)
            return True
        except IdpError:
            return False

    async def authorization_url(self, redirect_uri: str, state: str, nonce: str, challenge: str) -> str:
        endpoint = (await self.discovery())["authorization_endpoint"]
        query = urlencode({"response_type": "code", "client_id": self.client_id, "redirect_uri": redirect_uri,
                           "scope": "openid", "state": state, "nonce": nonce, "code_challenge": challenge,
                           "code_challenge_method": "S256"})
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"

    async def _token(self, form: dict[str, str]) -> Tokens:
        endpoint = (await self.discovery())["token_endpoint"]
        try:
            resp = await self.http.post(endpoint, data={**form, "client_id": self.client_id,
                                                        "client_secret": self.client_secret})
        except httpx.HTTPError as exc:
            log.warning("idp_token_unreachable", error=repr(exc))
            raise IdpError("统一身份认证平台暂时无法访问，请稍后再试") from exc
        try:
            body = resp.json()
        except ValueError:
            body = {}
        if resp.status_code != 200 or not isinstance(body, dict) or "access_token" not in body:
            log.info("idp_token_refused", grant=form.get("grant_type"), status=resp.status_code,
                     error=body.get("error") if isinstance(body, dict) else None)
            raise IdpError("统一身份认证平台未能完成登录，请重新登录")
        return Tokens.of(body)

    async def exchange(self, code: str, redirect_uri: str, verifier: str) -> Tokens:
        return await self._token({"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
                                  "code_verifier": verifier})

    async def refresh(self, refresh_token: str) -> Tokens:
        return await self._token({"grant_type": "refresh_token", "refresh_token": refresh_token})

    async def verify_id_token(self, id_token: str, nonce: str) -> dict[str, Any]:
        """The ID token's claims: signed by the issuer, for this client, with this sign-in's nonce."""
        s = self.verifier.settings
        try:
            header = jwt.get_unverified_header(id_token)
            if header.get("alg") not in s.algorithms:
                raise InvalidToken("ID 令牌的签名算法不被接受")
            key = await self.verifier.keys.key(header.get("kid"))
            claims = jwt.decode(id_token, key=key, algorithms=s.algorithms, audience=self.client_id,
                                issuer=s.issuer, leeway=s.leeway_seconds,
                                options={"require": ["exp", "iss", "aud", "sub", "nonce"]})
        except (jwt.PyJWTError, InvalidToken) as exc:
            log.info("id_token_refused", error=str(exc))
            raise IdpError("统一身份认证平台返回的身份凭据无效，请重新登录") from exc
        if not secrets.compare_digest(str(claims.get("nonce", "")).encode(), nonce.encode()):
            raise IdpError("登录请求与返回结果不匹配（nonce），请重新登录")
        return claims

    async def end_session_url(self, id_token: str, post_logout_redirect_uri: str) -> str | None:
        """Where the browser goes to end the IdP's session too (None: the IdP has no such endpoint)."""
        try:
            endpoint = (await self.discovery()).get("end_session_endpoint")
        except IdpError:
            return None
        if not endpoint:
            return None
        params = {"client_id": self.client_id, "post_logout_redirect_uri": post_logout_redirect_uri}
        if id_token:
            params["id_token_hint"] = id_token
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(params)}"
