"""Web service: the pages people use. The applicant portal (no account: apply, receipt, status by
tracking number and query code) and the officers' workbench (signed in with OIDC: the department
inbox, answers and review, the OGI office's triage, procedure and supervision). Server-rendered
(Jinja2, htmx for partial updates, served by us); a backend-for-frontend that talks to the other
services only over their HTTP APIs, relaying the signed-in officer's access token.

Routers: ``auth`` (sign-in, sign-out, sessions, CSRF), ``portal`` (applicants), ``dept``
(department officers and reviewers), ``ogi`` (the OGI office), ``integrators`` (the bus's AsyncAPI
document and the events' JSON Schemas, public). Each module exposes ``router``.
Every route is guarded by ``auth.page_guard`` against ``contracts.access.WEB_ROUTES``.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from contracts.access import WEB_ROUTES
from services.web import auth as web_auth
from services.web.backends import Backends
from services.web.bodylimit import BodyLimit
from services.web.idp import OidcClient
from services.web.sessions import SessionStore
from services.web.settings import WebSettings
from services.web.ui import HERE
from servicekit import secrets
from servicekit.logs import configure_logging
from servicekit.mongo import connect, ping
from servicekit.oidc import OidcSettings, TokenVerifier
from servicekit.settings import CommonSettings

NAME = "web"
ROUTERS = ("portal", "dept", "ogi", "lookup", "integrators", "learning", "followup", "uncertain", "sms_settings")
# The local realm's secret of the gongkai-web client (deploy/local/keycloak/realm.py): public, so
# production treats it as missing.
LOCAL_WEB_CLIENT_SECRET = "gongkai-web-local-dev-secret"


def _walk(routes: Iterable[Any]) -> Iterator[tuple[str, str]]:
    for r in routes:
        candidates = getattr(r, "effective_candidates", None)  # an included router (FastAPI >= 0.16x)
        if callable(candidates):
            yield from _walk(candidates())
        elif isinstance(r, APIRoute) or type(r).__name__ == "_EffectiveRouteContext":
            for m in r.methods or ():
                yield m, r.path


def served_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every route the app serves, included routers' with their prefixes."""
    return set(_walk(app.routes))


def missing_routes(app: FastAPI) -> list[str]:
    """Routes of the app that contracts.access.WEB_ROUTES does not list (the guard refuses them)."""
    return sorted(f"{m} {p}" for m, p in served_routes(app) if (m, p) not in WEB_ROUTES)


def build(settings: WebSettings | None = None, *, routers: Iterable[str] = ROUTERS,
          common: CommonSettings | None = None, oidc_settings: OidcSettings | None = None) -> FastAPI:
    settings = settings or WebSettings()
    common = common or CommonSettings()
    log = configure_logging(NAME, common.log_level)
    verifier = TokenVerifier(oidc_settings or OidcSettings())
    weak = {
        "WEB_SESSION_SECRET": settings.session_secret,
        "WEB_OIDC_CLIENT_SECRET": "" if settings.oidc_client_secret == LOCAL_WEB_CLIENT_SECRET
        else settings.oidc_client_secret,
        "GONGKAI_OIDC_ISSUER": verifier.settings.issuer,
    }
    secrets.check(common.env, NAME, weak)
    client, db = connect(common.mongo_url, settings.db_name)
    store = SessionStore(db, settings.session_minutes)
    oidc = OidcClient(verifier, settings.oidc_client_id, settings.oidc_client_secret,
                      timeout=settings.idp_timeout_seconds)
    auth = web_auth.Auth(settings, common.env, verifier, store, oidc)
    backends = Backends(settings)

    async def set_up_store() -> None:
        delay = 0.5
        while True:
            try:
                await store.setup()
                return
            except Exception as exc:  # noqa: BLE001 - store down: retry
                log.warning("setup_failed", step="sessions_indexes", error=repr(exc), retry_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if common.env == "development":
            secrets.warn_development(NAME, weak)
        missing = missing_routes(app)
        if missing:  # as the API services do: nothing is open by omission
            log.critical("routes_not_in_access_table", routes=missing)
            raise RuntimeError(f"web: pages missing from contracts/access.py WEB_ROUTES: {', '.join(missing)}")
        setup = asyncio.create_task(set_up_store(), name="web-setup")
        log.info("service_started", public_url=settings.public_url)
        try:
            yield
        finally:
            setup.cancel()
            with contextlib.suppress(BaseException):
                await setup
            await backends.close()
            await oidc.close()
            await client.close()
            log.info("service_stopped")

    app = FastAPI(title="Gongkai web", description="申请人门户与工作人员工作台", lifespan=lifespan,
                  docs_url=None, redoc_url=None, openapi_url=None, dependencies=web_auth.GUARD)
    app.state.settings = settings
    app.state.backends = backends
    web_auth.install(app, auth)
    app.add_middleware(BodyLimit)  # outside the session and CSRF checks: before any form is read

    @app.get("/health", include_in_schema=False)
    async def health() -> JSONResponse:
        store_ok, idp_ok = await asyncio.gather(ping(db), oidc.reachable())
        ok = store_ok and idp_ok
        return JSONResponse({"service": NAME, "status": "ok" if ok else "degraded", "store": store_ok,
                             "idp": idp_ok}, status_code=200 if ok else 503)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    for name in routers:
        if importlib.util.find_spec(f"services.web.{name}") is None:  # not written yet
            log.warning("router_missing", router=name)
            continue
        module = importlib.import_module(f"services.web.{name}")
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:  # a bug: a page, not a trace
        log.exception("unhandled_error", path=request.url.path, error=repr(exc))
        return web_auth.error_page(request, 500, "系统出现错误，未能完成请求。请稍后再试。")

    return app
