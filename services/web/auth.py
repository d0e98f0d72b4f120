"""Officers' sign-in, sessions, CSRF and the page guard of the web service.

- ``AuthMiddleware`` (ASGI) loads the server-side session named by the session cookie and sets
  ``request.state.officer`` (an ``Officer`` or None) and ``request.state.csrf_token``; an access
  token about to expire is refreshed with the refresh token first, and a session whose tokens no
  longer verify or refresh is ended. Applicants have no session: their CSRF token is keyed from a
  random cookie of their own. Every response gets the security headers (CSP without inline
  scripts, no framing, no sniffing, same-origin referrers, no caching of pages).
- ``page_guard``, applied to every route of the app, enforces ``contracts.access.WEB_ROUTES``
  (fail closed: a route not listed there is refused): public pages pass, officers' pages need a
  session (else 303 to ``/login?next=…``) and an allowed role (else a 403 page), and every
  POST/PUT/PATCH/DELETE must carry the CSRF token (form field ``csrf_token`` or header
  ``X-CSRF-Token``) and, when the browser says where it comes from (``Origin``), come from here.
- Handlers get the officer with ``officer: Officer = Depends(require_officer(Role.X, ...))`` and use
  ``officer.access_token`` to call the services; ``verify_csrf`` is also a dependency of its own.
- Routes: ``GET /login`` (authorization code + PKCE S256, state and nonce), ``GET /auth/callback``,
  ``POST /logout`` (ends the IdP's session too), ``GET /work`` (the officer's home).
"""

from __future__ import annotations

import asyncio
import hmac
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import quote, urlsplit

import structlog
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from prometheus_client import Counter
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from contracts.access import ROLE_LABELS, WEB_ROUTES, Access, Role
from services.web import ui
from services.web.idp import IdpError, OidcClient, pkce_pair
from services.web.sessions import Session, SessionStore, Signer, new_token
from services.web.settings import WebSettings
from servicekit.oidc import InvalidToken, KeysUnavailable, Principal, TokenVerifier

log = structlog.get_logger()

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Paths that never need a session (no store lookup, no cookie).
_NO_SESSION = ("/static/", "/health", "/metrics", "/favicon.ico")
SIGN_INS = Counter("web_sign_ins_total", "Officers' sign-ins by outcome", ["outcome"])
SIGN_OUTS = Counter("web_sign_outs_total", "Officers' sign-outs")
REFRESHES = Counter("web_token_refreshes_total", "Access tokens refreshed with the refresh token", ["outcome"])
REFUSALS = Counter("web_refusals_total", "Pages refused", ["reason"])


@dataclass(frozen=True)
class Officer:
    """A signed-in officer: the verified token's principal and the token to relay to the services."""

    principal: Principal
    access_token: str = field(repr=False)
    session_id: str = field(repr=False)

    @property
    def display(self) -> str:
        return self.principal.display

    @property
    def roles(self) -> frozenset[str]:
        return self.principal.roles

    @property
    def department(self) -> str | None:
        return self.principal.department

    def has(self, *roles: str) -> bool:
        return self.principal.has(*roles)

    @property
    def role_labels(self) -> list[str]:
        return [ROLE_LABELS[r] for r in Role if r.value in self.principal.roles]


class LoginRequired(HTTPException):
    def __init__(self, next_path: str) -> None:
        super().__init__(303, "请先登录", headers={"Location": login_path(next_path)})
        self.next_path = next_path


class Forbidden(HTTPException):
    def __init__(self, roles: frozenset[Role] | tuple[Role, ...] = (), detail: str = "") -> None:
        allowed = "、".join(ROLE_LABELS[Role(r)] for r in sorted(roles)) if roles else ""
        super().__init__(403, detail or (f"您没有办理此事项的权限：须由{allowed}办理。" if allowed
                                         else "您没有访问此页面的权限。"))


class CsrfRefused(HTTPException):
    def __init__(self) -> None:
        super().__init__(403, "表单已失效或来源不明，未予处理。请返回上一页，刷新后重新提交。")


def login_path(next_path: str) -> str:
    return "/login?next=" + quote(safe_next(next_path), safe="/")


_CONTROL = re.compile(r"[\x00-\x1f\x7f\\]")


def safe_next(target: str | None, default: str = "/work") -> str:
    """A local path to go to after sign-in: anything else (another site, a scheme) gives ``default``."""
    if not target or len(target) > 2000 or _CONTROL.search(target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target


def _cookie_header(name: str, value: str, *, max_age: int | None, path: str = "/", secure: bool,
                   http_only: bool = True) -> str:
    parts = [f"{name}={value}", f"Path={path}", "SameSite=Lax"]
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    if http_only:
        parts.append("HttpOnly")
    if secure:
        parts.append("Secure")
    return "; ".join(parts)


class Auth:
    """Everything sign-in needs, built once per app (``app.state.auth``)."""

    def __init__(self, settings: WebSettings, env: str, verifier: TokenVerifier, store: SessionStore,
                 oidc: OidcClient) -> None:
        self.settings = settings
        self.verifier = verifier
        self.store = store
        self.oidc = oidc
        self.public_url = settings.public_url.rstrip("/")
        self.secure = env == "production" or self.public_url.startswith("https://")
        # Development without WEB_SESSION_SECRET: a key of this process (production refuses to start).
        self.signer = Signer(settings.session_secret or secrets.token_urlsafe(32))
        self.session_cookie = "__Host-gk_session" if self.secure else "gk_session"
        self.csrf_cookie = "__Host-gk_csrf" if self.secure else "gk_csrf"
        self.login_cookie = "__Secure-gk_login" if self.secure else "gk_login"
        self._refreshing: dict[str, asyncio.Lock] = {}
        issuer = urlsplit(verifier.settings.issuer)
        self.idp_origin = f"{issuer.scheme}://{issuer.netloc}" if issuer.netloc else ""
        origin = urlsplit(self.public_url)
        self.public_origin = f"{origin.scheme}://{origin.netloc}"

    @property
    def redirect_uri(self) -> str:
        return f"{self.public_url}/auth/callback"

    # -- cookies ----------------------------------------------------------------------------------------
    def session_cookie_header(self, sid: str) -> str:
        return _cookie_header(self.session_cookie, sid, max_age=self.settings.session_minutes * 60,
                              secure=self.secure)

    def clear_cookie_header(self, name: str, path: str = "/") -> str:
        return _cookie_header(name, "", max_age=0, path=path, secure=self.secure)

    def anonymous_csrf(self, cookie_value: str) -> str:
        return self.signer.mac("csrf", cookie_value)

    # -- the session of a request --------------------------------------------------------------------
    async def officer_of(self, session: Session) -> tuple[Officer | None, Session]:
        """The session's officer, its access token refreshed when near expiry; None: the session ended."""
        if session.access_expires_within(self.settings.refresh_margin_seconds):
            session = await self._refresh(session) or session
        try:
            principal = await self.verifier.verify(session.access_token)
        except InvalidToken as exc:
            refreshed = await self._refresh(session)
            if refreshed is None:
                log.info("session_ended", reason=str(exc), subject=session.subject)
                await self.store.delete(session.id)
                return None, session
            try:
                principal = await self.verifier.verify(refreshed.access_token)
            except InvalidToken as exc2:
                log.info("session_ended", reason=str(exc2), subject=session.subject)
                await self.store.delete(session.id)
                return None, session
            session = refreshed
        if principal.subject != session.subject:  # never another person's token in this session
            log.warning("session_ended", reason="subject changed", subject=session.subject)
            await self.store.delete(session.id)
            return None, session
        return Officer(principal=principal, access_token=session.access_token, session_id=session.id), session

    async def _refresh(self, session: Session) -> Session | None:
        if not session.refreshable:
            return None
        lock = self._refreshing.setdefault(session.id, asyncio.Lock())
        try:
            async with lock:
                current = await self.store.get(session.id)
                if current is None:
                    return None
                if current.access_token != session.access_token:  # another request refreshed it meanwhile
                    return current
                try:
                    tokens = await self.oidc.refresh(current.refresh_token)
                except IdpError as exc:
                    REFRESHES.labels("refused").inc()
                    log.info("token_refresh_failed", subject=session.subject, error=str(exc))
                    return None
                REFRESHES.labels("ok").inc()
                return await self.store.refreshed(current, tokens)
        finally:
            if not lock.locked():
                self._refreshing.pop(session.id, None)

    async def load(self, cookies: dict[str, str]) -> tuple[Officer | None, str, list[str]]:
        """(officer, csrf token, Set-Cookie headers to add) of a request with these cookies."""
        set_cookies: list[str] = []
        officer: Officer | None = None
        csrf = ""
        sid = cookies.get(self.session_cookie)
        if sid:
            session = await self.store.get(sid)
            if session is not None:
                officer, session = await self.officer_of(session)
                if officer is not None:
                    csrf = session.csrf
            if officer is None:
                set_cookies.append(self.clear_cookie_header(self.session_cookie))
        if not csrf:
            anon = cookies.get(self.csrf_cookie, "")
            if not anon or len(anon) > 100:
                anon = new_token()
                set_cookies.append(_cookie_header(self.csrf_cookie, anon, max_age=None, secure=self.secure))
            csrf = self.anonymous_csrf(anon)
        return officer, csrf, set_cookies


def _csp(auth: Auth) -> str:
    # Forms post here only; sign-out's redirect goes on to the IdP (Chrome applies form-action to it).
    form_action = "'self'" + (f" {auth.idp_origin}" if auth.idp_origin else "")
    return ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
            "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-src 'none'; "
            f"form-action {form_action}; frame-ancestors 'none'")


class AuthMiddleware:
    """Loads the session (``request.state.officer``, ``request.state.csrf_token``) and adds the security
    headers to every response."""

    def __init__(self, app: ASGIApp, auth: Auth) -> None:
        self.app = app
        self.auth = auth
        self.headers = {
            "Content-Security-Policy": _csp(auth),
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY",
            "Referrer-Policy": "same-origin",
            "Cross-Origin-Opener-Policy": "same-origin",
            "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
        }
        if auth.secure:
            self.headers["Strict-Transport-Security"] = "max-age=31536000"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        set_cookies: list[str] = []
        state = dict(scope.get("state") or {})
        state.setdefault("officer", None)
        state.setdefault("csrf_token", "")
        if not path.startswith(_NO_SESSION):
            try:
                officer, csrf, set_cookies = await self.auth.load(HTTPConnection(scope).cookies)
                state["officer"], state["csrf_token"] = officer, csrf
            except Exception as exc:  # noqa: BLE001 - the store unreachable: officers' pages answer 503
                log.warning("session_store_unavailable", error=repr(exc), path=path)
                state["session_error"] = True
        scope["state"] = state
        static = path.startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    if name not in headers:
                        headers[name] = value
                if not static and "cache-control" not in headers:
                    headers["Cache-Control"] = "no-store"
                for cookie in set_cookies:
                    headers.append("set-cookie", cookie)
            await send(message)

        await self.app(scope, receive, send_with_headers)


# -- the guard -------------------------------------------------------------------------------------------


def _origin_ok(request: Request, auth: Auth) -> bool:
    origin = request.headers.get("origin")
    if origin is None:  # not said (an old browser, a non-browser client): the CSRF token decides
        return True
    own = f"{request.url.scheme}://{request.headers.get('host', '')}"
    return origin in (auth.public_origin, own)


async def verify_csrf(request: Request) -> None:
    """Refuses (403) a state-changing request without this session's CSRF token (constant time)."""
    if request.method in SAFE_METHODS or getattr(request.state, "csrf_checked", False):
        return
    auth: Auth = request.app.state.auth
    expected = getattr(request.state, "csrf_token", "") or ""
    presented: Any = request.headers.get("x-csrf-token")
    if not presented:
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            try:
                form = await request.form()
            except Exception:  # noqa: BLE001 - a malformed body: no token
                form = None
            presented = form.get("csrf_token") if form is not None else None
    if (not expected or not isinstance(presented, str)
            or not hmac.compare_digest(presented.encode(), expected.encode()) or not _origin_ok(request, auth)):
        REFUSALS.labels("csrf").inc()
        officer = getattr(request.state, "officer", None)
        log.warning("csrf_refused", path=request.url.path, method=request.method,
                    subject=officer.principal.subject if officer else None,
                    origin=request.headers.get("origin"))
        raise CsrfRefused()
    request.state.csrf_checked = True


def _next_of(request: Request) -> str:
    if request.method != "GET" or request.headers.get("hx-request"):
        return "/work"
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


def access_of(request: Request) -> Access | None:
    route = request.scope.get("route")
    path = getattr(route, "path", None)
    method = "GET" if request.method == "HEAD" else request.method.upper()
    return WEB_ROUTES.get((method, path)) if path else None


async def page_guard(request: Request) -> None:
    """App-wide: the route's entry in contracts.access.WEB_ROUTES, enforced; CSRF on every change."""
    acc = access_of(request)
    if acc is None:
        REFUSALS.labels("unlisted").inc()
        log.warning("access_refused", reason="route not in WEB_ROUTES", path=request.url.path)
        raise HTTPException(403, "此页面未开放。")
    if not acc.public:
        officer: Officer | None = request.state.officer
        if officer is None and getattr(request.state, "session_error", False):
            raise HTTPException(503, "系统暂时无法读取登录状态，请稍后再试。")
        if officer is None:
            raise LoginRequired(_next_of(request))
        if not acc.allows(officer.roles):
            REFUSALS.labels("role").inc()
            log.warning("access_refused", reason="role", subject=officer.principal.subject,
                        username=officer.principal.username, roles=sorted(officer.roles), path=request.url.path)
            raise Forbidden(acc.roles)
    await verify_csrf(request)


def require_officer(*roles: Role) -> Callable[[Request], Awaitable[Officer]]:
    """A dependency: the signed-in officer (303 to sign-in without one; 403 without one of ``roles``)."""
    wanted = frozenset(Role(r) for r in roles)

    async def dependency(request: Request) -> Officer:
        officer: Officer | None = getattr(request.state, "officer", None)
        if officer is None:
            raise LoginRequired(_next_of(request))
        if wanted and not officer.has(*wanted):
            REFUSALS.labels("role").inc()
            log.warning("access_refused", reason="role", subject=officer.principal.subject,
                        roles=sorted(officer.roles), path=request.url.path)
            raise Forbidden(wanted)
        return officer

    return dependency


# -- error pages ---------------------------------------------------------------------------------------

_DEFAULT_DETAIL = {400: "请求有误。", 401: "请先登录。", 403: "您没有访问此页面的权限。", 404: "您访问的页面不存在。",
                   405: "不支持此请求方式。", 413: "提交的内容过大。", 415: "不支持提交的内容类型。",
                   429: "请求过于频繁，请稍后再试。", 502: "系统暂时无法完成请求，请稍后再试。",
                   503: "服务暂时不可用，请稍后再试。"}
_CJK = re.compile(r"[\u4e00-\u9fff]")


def error_page(request: Request, status: int, detail: str | None = None,
               headers: dict[str, str] | None = None) -> Response:
    text = detail if detail and _CJK.search(detail) else _DEFAULT_DETAIL.get(status, "请求未能完成。")
    resp = ui.render(request, "auth/error.html", status_code=status, title=_TITLES.get(status, "请求未能完成"),
                     status=status, detail=text)
    for k, v in (headers or {}).items():
        if k.lower() not in ("content-type", "content-length"):
            resp.headers[k] = v
    return resp


_TITLES = {403: "无权访问", 404: "页面不存在", 401: "请先登录"}


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if isinstance(exc, LoginRequired):
        location = exc.headers["Location"] if exc.headers else "/login"
        if request.headers.get("hx-request"):  # htmx: a full-page redirect, not a fragment
            return Response(status_code=401, headers={"HX-Redirect": location})
        return RedirectResponse(location, status_code=303)
    if exc.status_code < 400:
        return Response(status_code=exc.status_code, headers=exc.headers)
    if "text/html" not in request.headers.get("accept", "text/html") and "*/*" not in request.headers.get("accept", ""):
        return Response(str(exc.detail), status_code=exc.status_code, headers=exc.headers,
                        media_type="text/plain; charset=utf-8")
    return error_page(request, exc.status_code, str(exc.detail), exc.headers)


# -- routes --------------------------------------------------------------------------------------------

router = APIRouter()


def _auth(request: Request) -> Auth:
    return request.app.state.auth


@router.get("/login", include_in_schema=False)
async def login(request: Request, next: str = "/work") -> Response:  # noqa: A002
    auth = _auth(request)
    target = safe_next(next)
    if request.state.officer is not None:
        return RedirectResponse(target, status_code=303)
    state, nonce = new_token(), new_token()
    verifier, challenge = pkce_pair()
    try:
        url = await auth.oidc.authorization_url(auth.redirect_uri, state, nonce, challenge)
    except IdpError as exc:
        SIGN_INS.labels("idp_unavailable").inc()
        return error_page(request, 503, str(exc))
    resp = RedirectResponse(url, status_code=303)
    cookie = auth.signer.dumps("login", {"s": state, "n": nonce, "v": verifier, "next": target},
                              max_age=auth.settings.login_minutes * 60)
    resp.headers.append("set-cookie", _cookie_header(auth.login_cookie, cookie, max_age=auth.settings.login_minutes * 60,
                                                     path="/auth", secure=auth.secure))
    return resp


@router.get("/auth/callback", include_in_schema=False)
async def callback(request: Request, code: str = "", state: str = "", error: str = "") -> Response:
    auth = _auth(request)
    pending = auth.signer.loads("login", request.cookies.get(auth.login_cookie))

    def fail(status: int, reason: str, text: str) -> Response:
        SIGN_INS.labels(reason).inc()
        log.info("sign_in_failed", reason=reason)
        resp = ui.render(request, "auth/login_failed.html", status_code=status, title="登录未完成", detail=text,
                         retry=login_path(pending.get("next", "/work") if pending else "/work"))
        resp.headers.append("set-cookie", auth.clear_cookie_header(auth.login_cookie, path="/auth"))
        return resp

    if pending is None:
        return fail(400, "no_pending", "登录请求已失效（超过时限或不是从本系统发起的），请重新登录。")
    if not hmac.compare_digest(state.encode(), str(pending.get("s", "")).encode()):
        return fail(400, "state", "登录请求与返回结果不匹配，请重新登录。")
    if error:
        return fail(400, "idp_error", "统一身份认证平台未完成登录（已取消或被拒绝），请重新登录。")
    if not code or len(code) > 4000:
        return fail(400, "no_code", "统一身份认证平台未返回授权码，请重新登录。")
    try:
        tokens = await auth.oidc.exchange(code, auth.redirect_uri, str(pending["v"]))
        await auth.oidc.verify_id_token(tokens.id_token, str(pending["n"]))
        principal = await auth.verifier.verify(tokens.access_token)
    except IdpError as exc:
        return fail(400, "exchange", str(exc))
    except InvalidToken as exc:
        return fail(400, "access_token", f"访问令牌未通过验证：{exc}")
    except KeysUnavailable as exc:
        return fail(503, "keys_unavailable", str(exc))
    old = request.cookies.get(auth.session_cookie)
    if old:  # session fixation: whatever the browser had is gone, the session is new
        await auth.store.delete(old)
    session = await auth.store.create(principal.subject, tokens)
    SIGN_INS.labels("ok").inc()
    log.info("officer_signed_in", subject=principal.subject, username=principal.username,
             roles=sorted(principal.roles), department=principal.department)
    resp = RedirectResponse(safe_next(str(pending.get("next", "/work"))), status_code=303)
    resp.headers.append("set-cookie", auth.session_cookie_header(session.id))
    resp.headers.append("set-cookie", auth.clear_cookie_header(auth.login_cookie, path="/auth"))
    return resp


@router.post("/logout", include_in_schema=False)
async def logout(request: Request) -> Response:
    auth = _auth(request)
    officer: Officer | None = request.state.officer
    target = auth.public_url + "/"
    sid = request.cookies.get(auth.session_cookie)
    if sid:
        session = await auth.store.get(sid)
        await auth.store.delete(sid)
        if officer is not None and session is not None:
            SIGN_OUTS.inc()
            log.info("officer_signed_out", subject=officer.principal.subject, username=officer.principal.username)
            target = await auth.oidc.end_session_url(session.id_token, auth.public_url + "/") or target
    resp = RedirectResponse(target, status_code=303)
    resp.headers.append("set-cookie", auth.clear_cookie_header(auth.session_cookie))
    return resp


@dataclass(frozen=True)
class Place:
    href: str
    title: str
    what: str
    roles: frozenset[Role]


PLACES = (
    Place("/work/dept", "部门工作台", "本部门待办任务：签收、退回、答复、保密审查。",
          frozenset({Role.DEPT_OFFICER, Role.DEPT_REVIEWER})),
    Place("/work/ogi", "公开办工作台", "分办、窗口登记、案件办理、补正、延期、征求意见、督办。",
          frozenset({Role.OGI_OFFICER, Role.OGI_HEAD})),
    Place("/work/ogi/follow-ups", "回访", "答复后申请人未查阅或不满意的案件：联系申请人并记录回访。",
          frozenset({Role.OGI_OFFICER, Role.OGI_HEAD})),
    Place("/work/notices/uncertain", "投递结果不确定的邮件",
          "通知服务中断、无法确定申请人是否收到的邮件：按 Message-ID 查邮件服务器日志后登记已发送或重新发送。",
          frozenset({Role.OGI_OFFICER})),
    Place("/work/stats", "统计与台账", "年度报告统计表、季度数据、按时办结率、台账核验。",
          frozenset({Role.OGI_OFFICER, Role.OGI_HEAD, Role.AUDITOR})),
    Place("/work/learning", "分办规则学习", "根据公开办的分办决定提出的新规则：逐条采纳或驳回，采纳即生成新的目录版本。",
          frozenset({Role.DIRECTORY_ADMIN})),
)


@router.get("/work", include_in_schema=False)
async def work_home(request: Request, officer: Officer = Depends(require_officer())) -> Response:
    places = [p for p in PLACES if officer.has(*p.roles)]
    return ui.render(request, "work_home.html", title="工作台", places=places)


# -- installation ----------------------------------------------------------------------------------------


def install(app: FastAPI, auth: Auth) -> None:
    """Middleware, error pages and the sign-in routes (the guard is an app dependency: see app.py)."""
    app.state.auth = auth
    app.add_middleware(AuthMiddleware, auth=auth)
    app.add_exception_handler(StarletteHTTPException, _http_exception)
    app.include_router(router)


GUARD = [Depends(page_guard)]
