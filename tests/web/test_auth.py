"""Officers' sign-in, sessions, CSRF and the page guard of the web service (services/web/auth.py).

In process, against a fake identity provider (discovery, token endpoint with PKCE S256 and client
secret checks, refresh, end session) whose tokens are signed by the test issuer of tests/tokens.py
(the web service trusts it through the pinned JWKS file), and a private store (sessions are in
the web service's own database)."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse

from contracts.access import WEB_ROUTES, Access, Role
from services.web import app as web_app
from services.web.auth import Officer, require_officer, safe_next
from services.web.settings import WebSettings
from servicekit.secrets import MissingSecret
from servicekit.settings import CommonSettings
from tests import tokens

PUBLIC = "http://127.0.0.1:8106"
CLIENT_SECRET = "test-client-secret-0123456789"
AUTHORIZE = tokens.ISSUER + "/protocol/openid-connect/auth"
TOKEN = tokens.ISSUER + "/protocol/openid-connect/token"
LOGOUT = tokens.ISSUER + "/protocol/openid-connect/logout"
TEMPLATES = Path(web_app.__file__).resolve().parent / "templates"


class FakeIdp:
    """Just enough of an OpenID provider: what the web service calls, checked as strictly as Keycloak."""

    def __init__(self) -> None:
        self.pending: dict[str, dict[str, Any]] = {}  # code -> the authorization request and the user
        self.refresh_tokens: dict[str, dict[str, Any]] = {}
        self.token_calls: list[dict[str, str]] = []
        self.access_lifetime = 300
        self.refuse_refresh = False
        self.down = False

    def user(self, username: str = "ogi-officer", roles: tuple[str, ...] = ("ogi_officer",),
             name: str = "王建国", department: str | None = "ogi") -> dict[str, Any]:
        return {"sub": str(uuid.uuid5(uuid.NAMESPACE_DNS, username)), "username": username, "roles": roles,
                "name": name, "department": department}

    def authorize(self, location: str, user: dict[str, Any], *, nonce: str | None = None) -> str:
        """The user signs in at the IdP: the callback URL the browser is sent back to."""
        parts = urlsplit(location)
        assert f"{parts.scheme}://{parts.netloc}{parts.path}" == AUTHORIZE
        q = {k: v[0] for k, v in parse_qs(parts.query).items()}
        code = secrets.token_urlsafe(16)
        self.pending[code] = {**q, "user": user, "nonce": nonce or q["nonce"]}
        return f"{q['redirect_uri']}?code={code}&state={q['state']}"

    def _tokens(self, user: dict[str, Any], nonce: str | None) -> dict[str, Any]:
        access = tokens.token(*user["roles"], sub=user["sub"], username=user["username"], name=user["name"],
                              department=user["department"], lifetime=self.access_lifetime, jti=secrets.token_hex(8))
        now = int(time.time())
        id_claims = {"iss": tokens.ISSUER, "aud": "gongkai-web", "sub": user["sub"], "iat": now, "exp": now + 300,
                     "nonce": nonce or ""}
        id_token = jwt.encode(id_claims, tokens._key(tokens.KID), algorithm="RS256", headers={"kid": tokens.KID})
        refresh = secrets.token_urlsafe(16)
        self.refresh_tokens[refresh] = {"user": user, "nonce": nonce}
        return {"access_token": access, "expires_in": self.access_lifetime, "refresh_token": refresh,
                "refresh_expires_in": 1800, "id_token": id_token, "token_type": "Bearer"}

    def handler(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("down", request=request)
        url = str(request.url).split("?")[0]
        if url == tokens.ISSUER + "/.well-known/openid-configuration":
            return httpx.Response(200, json={"issuer": tokens.ISSUER, "authorization_endpoint": AUTHORIZE,
                                             "token_endpoint": TOKEN, "end_session_endpoint": LOGOUT,
                                             "jwks_uri": tokens.ISSUER + "/certs"})
        if url == TOKEN and request.method == "POST":
            form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
            self.token_calls.append(form)
            if form.get("client_id") != "gongkai-web" or form.get("client_secret") != CLIENT_SECRET:
                return httpx.Response(401, json={"error": "unauthorized_client"})
            if form.get("grant_type") == "authorization_code":
                req = self.pending.pop(form.get("code", ""), None)
                if req is None or form.get("redirect_uri") != req["redirect_uri"]:
                    return httpx.Response(400, json={"error": "invalid_grant"})
                challenge = base64.urlsafe_b64encode(
                    hashlib.sha256(form.get("code_verifier", "").encode()).digest()).rstrip(b"=").decode()
                if req["code_challenge_method"] != "S256" or challenge != req["code_challenge"]:
                    return httpx.Response(400, json={"error": "invalid_grant", "error_description": "PKCE"})
                return httpx.Response(200, json=self._tokens(req["user"], req["nonce"]))
            if form.get("grant_type") == "refresh_token":
                known = self.refresh_tokens.pop(form.get("refresh_token", ""), None)
                if known is None or self.refuse_refresh:
                    return httpx.Response(400, json={"error": "invalid_grant"})
                return httpx.Response(200, json=self._tokens(known["user"], known["nonce"]))
        return httpx.Response(404)


@pytest.fixture
def idp() -> FakeIdp:
    return FakeIdp()


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in tokens.oidc_env().items():
        monkeypatch.setenv(k, v)


def make_app(store_url: str, idp: FakeIdp, *, public_url: str = PUBLIC, routers: tuple[str, ...] = (),
             extra: APIRouter | None = None):  # noqa: ANN202
    settings = WebSettings(public_url=public_url, oidc_client_secret=CLIENT_SECRET, session_secret="s3cret-for-tests",
                           db_name=f"web_{uuid.uuid4().hex[:12]}")
    app = web_app.build(settings, routers=routers, common=CommonSettings(env="development", mongo_url=store_url))
    auth = app.state.auth
    auth.oidc.http = httpx.AsyncClient(transport=httpx.MockTransport(idp.handler))
    if extra is not None:
        app.include_router(extra)
    return app


# Test-only pages, listed in the table for the duration of a test.
extra = APIRouter()


@extra.get("/test/ogi")
async def ogi_page(officer: Officer = Depends(require_officer(Role.OGI_OFFICER))) -> PlainTextResponse:
    return PlainTextResponse(f"ogi {officer.display} {officer.access_token[:5]}")


@extra.get("/test/dept")
async def dept_page(officer: Officer = Depends(require_officer(Role.DEPT_OFFICER))) -> PlainTextResponse:
    return PlainTextResponse("dept")


@extra.get("/test/token")
async def token_page(request: Request) -> PlainTextResponse:
    return PlainTextResponse(request.state.csrf_token)


@extra.post("/test/form")
async def form_page() -> PlainTextResponse:
    return PlainTextResponse("accepted")


@extra.get("/test/unlisted")
async def unlisted_page() -> PlainTextResponse:
    return PlainTextResponse("should never be served")


EXTRA = {("GET", "/test/ogi"): Access(roles=frozenset({Role.OGI_OFFICER})),
         ("GET", "/test/dept"): Access(roles=frozenset({Role.DEPT_OFFICER})),
         ("GET", "/test/token"): Access(public=True), ("POST", "/test/form"): Access(public=True)}


@pytest.fixture
async def web(env: None, store, idp: FakeIdp, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Any]:  # noqa: ANN001, F811
    for key, acc in EXTRA.items():
        monkeypatch.setitem(WEB_ROUTES, key, acc)
    app = make_app(store.url, idp, extra=extra)
    await app.state.auth.store.setup()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=PUBLIC) as c:
        c.app = app  # type: ignore[attr-defined]
        yield c


async def sign_in(c: httpx.AsyncClient, idp: FakeIdp, user: dict[str, Any] | None = None,
                  next_path: str = "/work") -> httpx.Response:
    r = await c.get("/login", params={"next": next_path})
    assert r.status_code == 303
    callback = idp.authorize(r.headers["location"], user or idp.user())
    return await c.get(callback.removeprefix(PUBLIC))


def cookie_of(resp: httpx.Response, name: str) -> str:
    return next(h for h in resp.headers.get_list("set-cookie") if h.startswith(name + "="))


def sessions(c: httpx.AsyncClient):  # noqa: ANN201
    return c.app.state.auth.store.col  # type: ignore[attr-defined]


# -- sign-in ------------------------------------------------------------------------------------------


async def test_login_sends_the_browser_to_the_idp_with_pkce_s256_state_and_nonce(web: httpx.AsyncClient) -> None:
    r = await web.get("/login", params={"next": "/work/ogi"})
    assert r.status_code == 303
    loc = urlsplit(r.headers["location"])
    q = {k: v[0] for k, v in parse_qs(loc.query).items()}
    assert f"{loc.scheme}://{loc.netloc}{loc.path}" == AUTHORIZE
    assert q["response_type"] == "code" and q["client_id"] == "gongkai-web" and q["scope"] == "openid"
    assert q["redirect_uri"] == PUBLIC + "/auth/callback"
    assert q["code_challenge_method"] == "S256" and len(q["code_challenge"]) == 43
    assert len(q["state"]) >= 40 and len(q["nonce"]) >= 40 and q["state"] != q["nonce"]
    cookie = cookie_of(r, "gk_login")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/auth" in cookie
    assert q["state"] not in cookie.split(";")[0] or "." in cookie  # signed, not a bare value
    # Two sign-ins never share state, nonce or challenge.
    q2 = parse_qs(urlsplit((await web.get("/login")).headers["location"]).query)
    assert q2["state"][0] != q["state"] and q2["code_challenge"][0] != q["code_challenge"]


async def test_sign_in_creates_a_server_side_session_and_goes_next(web: httpx.AsyncClient, idp: FakeIdp) -> None:
    r = await sign_in(web, idp, next_path="/test/ogi?x=1")
    assert r.status_code == 303 and r.headers["location"] == "/test/ogi?x=1"
    cookie = cookie_of(r, "gk_session")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie and "Secure" not in cookie
    sid = cookie.split(";")[0].split("=", 1)[1]
    assert len(sid) >= 43
    # The store has the id's hash, never the id; and the officer's tokens.
    doc = await sessions(web).find_one({})
    assert doc["_id"] == hashlib.sha256(sid.encode()).hexdigest() and await sessions(web).count_documents(
        {"_id": sid}) == 0
    assert doc["subject"] == idp.user()["sub"] and doc["access_token"] and doc["refresh_token"]
    assert doc["expires_at"].replace(tzinfo=UTC) > datetime.now(UTC) + timedelta(hours=7)
    # The code was exchanged with the PKCE verifier and the client's secret.
    exchange = idp.token_calls[-1]
    assert exchange["grant_type"] == "authorization_code" and exchange["code_verifier"]
    page = await web.get("/test/ogi")
    assert page.status_code == 200 and page.text.startswith("ogi 王建国 eyJ")


async def test_work_home_shows_the_officer_and_what_the_roles_allow(web: httpx.AsyncClient, idp: FakeIdp) -> None:
    await sign_in(web, idp, idp.user("zrzy-officer", ("dept_officer",), "李丽华", "zrzy"))
    page = await web.get("/work")
    assert page.status_code == 200
    assert "李丽华" in page.text and "部门经办人" in page.text
    assert 'href="/work/dept"' in page.text and 'href="/work/ogi"' not in page.text
    assert 'href="/work/stats"' not in page.text and "退出登录" in page.text
    web.cookies.clear()
    await sign_in(web, idp, idp.user("auditor", ("auditor",), "赵春梅", None))
    page = await web.get("/work")
    assert 'href="/work/stats"' in page.text and 'href="/work/dept"' not in page.text


async def test_an_officers_page_without_a_session_redirects_to_sign_in(web: httpx.AsyncClient) -> None:
    r = await web.get("/work")
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/work"
    r = await web.get("/test/ogi", params={"a": "1"})
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/test/ogi%3Fa%3D1"
    # htmx asks for a fragment: it is told to load the sign-in page as a whole.
    r = await web.get("/test/ogi", headers={"HX-Request": "true"})
    assert r.status_code == 401 and r.headers["hx-redirect"].startswith("/login?next=")


async def test_another_roles_page_is_refused_with_a_chinese_403_page(web: httpx.AsyncClient, idp: FakeIdp) -> None:
    await sign_in(web, idp)
    r = await web.get("/test/dept")
    assert r.status_code == 403 and "text/html" in r.headers["content-type"]
    assert "部门经办人" in r.text and "权限" in r.text and 'lang="zh-CN"' in r.text


async def test_a_route_not_in_the_table_is_refused_even_when_signed_in(web: httpx.AsyncClient, idp: FakeIdp) -> None:
    await sign_in(web, idp, idp.user(roles=tuple(r.value for r in Role)))
    r = await web.get("/test/unlisted")
    assert r.status_code == 403 and "should never" not in r.text


@pytest.mark.parametrize("target", ["https://evil.example/x", "//evil.example/x", "/\\evil.example", "javascript:1",
                                    "work", "/ok\r\nSet-Cookie: a=b", ""])
def test_next_is_only_a_local_path(target: str) -> None:
    assert safe_next(target) == "/work"


def test_next_keeps_a_local_path_and_query() -> None:
    assert safe_next("/work/ogi/cases/1?tab=timeline") == "/work/ogi/cases/1?tab=timeline"


async def test_sign_in_refuses_an_open_redirect(web: httpx.AsyncClient, idp: FakeIdp) -> None:
    r = await sign_in(web, idp, next_path="https://evil.example/")
    assert r.status_code == 303 and r.headers["location"] == "/work"


async def test_a_callback_with_the_wrong_state_or_no_pending_sign_in_makes_no_session(
        web: httpx.AsyncClient, idp: FakeIdp) -> None:
    r = await web.get("/login")
    callback = idp.authorize(r.headers["location"], idp.user())
    code = parse_qs(urlsplit(callback).query)["code"][0]
    wrong = await web.get("/auth/callback", params={"code": code, "state": "forged"})
    assert wrong.status_code == 400 and "重新登录" in wrong.text
    web.cookies.clear()  # another browser: no pending sign-in
    r = await web.get(callback.removeprefix(PUBLIC))
    assert r.status_code == 400
    assert await sessions(web).count_documents({}) == 0 and "gk_session=" not in str(web.cookies)


async def test_a_tampered_sign_in_cookie_is_refused(web: httpx.AsyncClient, idp: FakeIdp) -> None:
    r = await web.get("/login")
    callback = idp.authorize(r.headers["location"], idp.user())
    value = web.cookies.get("gk_login", path="/auth")
    body, mac = value.rsplit(".", 1)
    web.cookies.set("gk_login", body + "." + mac[::-1], path="/auth")
    assert (await web.get(callback.removeprefix(PUBLIC))).status_code == 400
    assert await sessions(web).count_documents({}) == 0


async def test_an_id_token_with_another_nonce_is_refused(web: httpx.AsyncClient, idp: FakeIdp) -> None:
    r = await web.get("/login")
    callback = idp.authorize(r.headers["location"], idp.user(), nonce="replayed-nonce")
    r = await web.get(callback.removeprefix(PUBLIC))
    assert r.status_code == 400 and "nonce" in r.text
    assert await sessions(web).count_documents({}) == 0


async def test_the_idp_refusing_the_code_makes_no_session(web: httpx.AsyncClient, idp: FakeIdp) -> None:
    r = await web.get("/login")
    callback = idp.authorize(r.headers["location"], idp.user())
    idp.pending.clear()  # e.g. the code was already used
    r = await web.get(callback.removeprefix(PUBLIC))
    assert r.status_code == 400 and await sessions(web).count_documents({}) == 0


async def test_an_idp_error_at_the_callback_is_shown_in_chinese(web: httpx.AsyncClient) -> None:
    r = await web.get("/login")
    state = parse_qs(urlsplit(r.headers["location"]).query)["state"][0]
    r = await web.get("/auth/callback", params={"error": "access_denied", "state": state})
    assert r.status_code == 400 and "未完成登录" in r.text


async def test_sign_in_gives_a_new_session_id_never_the_one_brought_along(web: httpx.AsyncClient, idp: FakeIdp) -> None:
    await sign_in(web, idp)
    first = web.cookies.get("gk_session")
    for planted in (first, "attacker-chosen-id"):  # a session of before, or an id someone planted
        web.cookies.delete("gk_session")
        r = await web.get("/login")
        callback = idp.authorize(r.headers["location"], idp.user())
        web.cookies.set("gk_session", planted)
        r = await web.get(callback.removeprefix(PUBLIC))
        new = cookie_of(r, "gk_session").split(";")[0].split("=", 1)[1]
        assert new not in (first, planted)
        assert await sessions(web).count_documents({"_id": hashlib.sha256(planted.encode()).hexdigest()}) == 0
        web.cookies.set("gk_session", new)
        assert (await web.get("/work")).status_code == 200
    web.cookies.set("gk_session", first)  # the session the browser had before signing in again is gone
    assert (await web.get("/work")).status_code == 303


async def test_the_idp_down_at_sign_in_is_a_503_page(web: httpx.AsyncClient, idp: FakeIdp) -> None:
    idp.down = True
    r = await web.get("/login")
    assert r.status_code == 503 and "统一身份认证平台" in r.text


# -- sessions: expiry, refresh --------------------------------------------------------------------------


async def test_an_expired_session_is_not_signed_in(web: httpx.AsyncClient, idp: FakeIdp) -> None:
    await sign_in(web, idp)
    await sessions(web).update_many({}, {"$set": {"expires_at": datetime.now(UTC) - timedelta(seconds=1)}})
    r = await web.get("/work")
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert "gk_session=;" in " ".join(r.headers.get_list("set-cookie"))  # the stale cookie is cleared


async def test_an_access_token_near_expiry_is_refreshed(web: httpx.AsyncClient, idp: FakeIdp) -> None:
    idp.access_lifetime = 30  # within the refresh margin (60 s) from the start
    await sign_in(web, idp)
    before = (await sessions(web).find_one({}))["access_token"]
    r = await web.get("/test/ogi")
    assert r.status_code == 200
    assert idp.token_calls[-1]["grant_type"] == "refresh_token"
    after = (await sessions(web).find_one({}))["access_token"]
    assert after != before


async def test_a_refused_refresh_of_an_expired_token_ends_the_session(web: httpx.AsyncClient, idp: FakeIdp) -> None:
    await sign_in(web, idp)
    await sessions(web).update_many({}, {"$set": {"access_token": tokens.token("ogi_officer", lifetime=-120,
                                                                               sub=idp.user()["sub"])}})
    idp.refuse_refresh = True
    r = await web.get("/test/ogi")
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert await sessions(web).count_documents({}) == 0


async def test_a_session_holding_another_subjects_token_is_ended(web: httpx.AsyncClient, idp: FakeIdp) -> None:
    await sign_in(web, idp)
    await sessions(web).update_many({}, {"$set": {"access_token": tokens.token("ogi_officer", "ogi_head")}})
    assert (await web.get("/test/ogi")).status_code == 303
    assert await sessions(web).count_documents({}) == 0


# -- CSRF -----------------------------------------------------------------------------------------------


async def test_a_post_without_the_csrf_token_is_refused(web: httpx.AsyncClient) -> None:
    token = (await web.get("/test/token")).text
    assert len(token) >= 40
    assert (await web.post("/test/form", data={"x": "1"})).status_code == 403
    # One character changed (never to itself: a token ending in "A" made this test pass a forged one).
    forged = token[:-1] + ("B" if token.endswith("A") else "A")
    assert (await web.post("/test/form", data={"csrf_token": forged})).status_code == 403
    assert (await web.post("/test/form", data={"csrf_token": token})).text == "accepted"
    assert (await web.post("/test/form", headers={"X-CSRF-Token": token})).text == "accepted"
    multipart = await web.post("/test/form", data={"csrf_token": token}, files={"f": ("a.txt", b"x", "text/plain")})
    assert multipart.text == "accepted"


async def test_the_applicants_csrf_token_is_bound_to_their_cookie(web: httpx.AsyncClient) -> None:
    token = (await web.get("/test/token")).text
    assert (await web.post("/test/form", data={"csrf_token": token})).text == "accepted"
    web.cookies.clear()  # another browser (the attacker's) has another cookie: the token is worthless there
    assert (await web.post("/test/form", data={"csrf_token": token})).status_code == 403


async def test_the_csrf_cookie_is_httponly_lax(env: None, store, idp: FakeIdp) -> None:  # noqa: ANN001, F811
    app = make_app(store.url, idp)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=PUBLIC) as c:
        r = await c.get("/login")
        cookie = cookie_of(r, "gk_csrf")
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie


async def test_a_post_from_another_origin_is_refused_even_with_the_token(web: httpx.AsyncClient) -> None:
    token = (await web.get("/test/token")).text
    r = await web.post("/test/form", data={"csrf_token": token}, headers={"Origin": "https://evil.example"})
    assert r.status_code == 403 and "表单已失效" in r.text
    r = await web.post("/test/form", data={"csrf_token": token}, headers={"Origin": PUBLIC})
    assert r.text == "accepted"


async def test_the_officers_csrf_token_is_the_sessions(web: httpx.AsyncClient, idp: FakeIdp) -> None:
    anon = (await web.get("/test/token")).text
    await sign_in(web, idp)
    token = (await web.get("/test/token")).text
    doc = await sessions(web).find_one({})
    assert token == doc["csrf"] and token != anon
    page = await web.get("/work")
    assert f'name="csrf_token" value="{token}"' in page.text  # the sign-out form carries it
    assert (await web.post("/test/form", data={"csrf_token": anon})).status_code == 403


# -- sign-out -------------------------------------------------------------------------------------------


async def test_sign_out_needs_the_csrf_token_deletes_the_session_and_ends_the_idp_session(
        web: httpx.AsyncClient, idp: FakeIdp) -> None:
    await sign_in(web, idp)
    id_token = (await sessions(web).find_one({}))["id_token"]
    assert (await web.post("/logout")).status_code == 403  # a cross-site "log out" link does nothing
    assert await sessions(web).count_documents({}) == 1
    token = (await web.get("/test/token")).text
    r = await web.post("/logout", data={"csrf_token": token})
    assert r.status_code == 303
    loc = urlsplit(r.headers["location"])
    q = {k: v[0] for k, v in parse_qs(loc.query).items()}
    assert f"{loc.scheme}://{loc.netloc}{loc.path}" == LOGOUT
    assert q == {"client_id": "gongkai-web", "post_logout_redirect_uri": PUBLIC + "/", "id_token_hint": id_token}
    assert await sessions(web).count_documents({}) == 0
    assert "gk_session=;" in " ".join(r.headers.get_list("set-cookie"))
    assert (await web.get("/work")).status_code == 303


# -- headers, cookies in production, secrets -----------------------------------------------------------


async def test_security_headers_on_every_response(web: httpx.AsyncClient, idp: FakeIdp) -> None:
    for path in ("/work", "/login", "/nope", "/static/site.css", "/test/token"):
        r = await web.get(path)
        csp = r.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert "form-action 'self' https://idp.test.gongkai" in csp  # sign-out's redirect goes on to the IdP
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "same-origin"
        assert r.headers["x-frame-options"] == "DENY"
    assert (await web.get("/test/token")).headers["cache-control"] == "no-store"
    assert "strict-transport-security" not in r.headers  # http in development


async def test_a_404_is_a_chinese_page(web: httpx.AsyncClient) -> None:
    r = await web.get("/no/such/page")
    assert r.status_code == 404 and "页面不存在" in r.text


async def test_cookies_are_secure_with_an_https_public_url(env: None, store, idp: FakeIdp) -> None:  # noqa: ANN001, F811
    app = make_app(store.url, idp, public_url="https://gongkai.example.gov.cn")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://gongkai.example.gov.cn") as c:
        r = await c.get("/login")
        assert "Secure" in cookie_of(r, "__Secure-gk_login") and "Secure" in cookie_of(r, "__Host-gk_csrf")
        callback = idp.authorize(r.headers["location"], idp.user())
        r = await c.get(callback.removeprefix("https://gongkai.example.gov.cn"))
        cookie = cookie_of(r, "__Host-gk_session")
        assert "Secure" in cookie and "HttpOnly" in cookie and "Path=/" in cookie
        assert "max-age" in r.headers["strict-transport-security"]


def test_production_refuses_to_start_without_the_secrets(env: None) -> None:
    prod = CommonSettings(env="production", mongo_url="mongodb://127.0.0.1:1")
    with pytest.raises(MissingSecret) as exc:
        web_app.build(WebSettings(), routers=(), common=prod)
    assert "WEB_SESSION_SECRET" in str(exc.value) and "WEB_OIDC_CLIENT_SECRET" in str(exc.value)
    # The local realm's client secret is in this repository: no secret.
    with pytest.raises(MissingSecret) as exc:
        web_app.build(WebSettings(session_secret="x" * 40, oidc_client_secret="gongkai-web-local-dev-secret"),
                      routers=(), common=prod)
    assert "WEB_OIDC_CLIENT_SECRET" in str(exc.value) and "WEB_SESSION_SECRET" not in str(exc.value)
    app = web_app.build(WebSettings(session_secret="x" * 40, oidc_client_secret="y" * 40), routers=(), common=prod)
    assert app.state.auth.secure  # production: Secure cookies even behind an http public URL


def test_production_refuses_to_start_without_an_issuer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GONGKAI_OIDC_ISSUER", raising=False)
    prod = CommonSettings(env="production", mongo_url="mongodb://127.0.0.1:1")
    with pytest.raises(MissingSecret, match="GONGKAI_OIDC_ISSUER"):
        web_app.build(WebSettings(session_secret="x" * 40, oidc_client_secret="y" * 40), routers=(), common=prod)


# -- health, metrics ------------------------------------------------------------------------------------


async def test_health_says_whether_store_and_idp_are_reachable(web: httpx.AsyncClient, idp: FakeIdp) -> None:
    r = await web.get("/health")
    assert r.status_code == 200 and r.json() == {"service": "web", "status": "ok", "store": True, "idp": True}
    idp.down = True
    r = await web.get("/health")
    assert r.status_code == 503 and r.json()["idp"] is False and r.json()["store"] is True


async def test_metrics_count_sign_ins(web: httpx.AsyncClient, idp: FakeIdp) -> None:
    def ok_count(text: str) -> float:
        line = next((ln for ln in text.splitlines() if ln.startswith('web_sign_ins_total{outcome="ok"}')), None)
        return float(line.split()[-1]) if line else 0.0

    before = ok_count((await web.get("/metrics")).text)
    await sign_in(web, idp)
    r = await web.get("/metrics")
    assert r.status_code == 200 and ok_count(r.text) == before + 1


# -- the whole app: every route in the table; templates without inline script or style ------------------


def test_every_web_route_is_in_the_access_table(env: None) -> None:
    app = web_app.build(WebSettings(), common=CommonSettings(env="development", mongo_url="mongodb://127.0.0.1:1"))
    served = web_app.served_routes(app)
    assert {("GET", "/login"), ("GET", "/auth/callback"), ("POST", "/logout"), ("GET", "/work")} <= served
    assert web_app.missing_routes(app) == [], "add them to contracts/access.py WEB_ROUTES"
    assert set(WEB_ROUTES) - served == set(), "WEB_ROUTES lists pages the web service does not serve"


@pytest.fixture
def template_files() -> Iterator[list[Path]]:
    yield sorted(TEMPLATES.rglob("*.html"))


def test_templates_have_no_inline_script_or_style(template_files: list[Path]) -> None:
    """The CSP forbids them (script-src/style-src 'self'): a page with one would break in the browser."""
    import re

    bad = []
    for path in template_files:
        text = path.read_text(encoding="utf-8")
        for pattern in (r"<script(?![^>]*\bsrc=)[^>]*>", r"<style\b", r"\sstyle=", r"\son[a-z]+=", r"javascript:"):
            if re.search(pattern, text, flags=re.IGNORECASE):
                bad.append(f"{path.relative_to(TEMPLATES)}: {pattern}")
    assert bad == []


async def test_the_store_unreachable_is_a_503_for_officers_pages(env: None, idp: FakeIdp,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(WEB_ROUTES, ("POST", "/test/form"), Access(public=True))
    app = make_app("mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=300", idp, extra=extra)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=PUBLIC) as c:
        c.cookies.set("gk_session", "some-session-id")
        r = await c.get("/work")
        assert r.status_code == 503 and "登录状态" in r.text
        r = await c.post("/test/form", data={"csrf_token": "x"})
        assert r.status_code == 403  # no session, no token: a form is never accepted blind
        r = await c.get("/health")
        assert r.status_code == 503 and r.json()["store"] is False
