"""The composition of one service process: store, broker, background loops, HTTP app.

Each service builds a ``ServiceRuntime``, registers its subscribers, indexes and loops, and asks it
for the FastAPI app. The app serves at once; storage set-up, the broker and the loops start in the
background and retry while their dependency is down, and ``/health`` says what is up. Uvicorn
turns SIGTERM into the lifespan shutdown: loops are cancelled, the broker stopped, the client closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator, Awaitable, Callable

import structlog
import uvicorn
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from contracts.envelope import CloudEvent, EventData
from servicekit.kafka import BrokerHandle, KafkaSecurity, make_broker
from servicekit.logs import configure_logging
from contracts.access import ROUTES
from servicekit import asyncapi as asyncapi_doc, docs, openapi, secrets
from servicekit.mongo import connect, ping
from servicekit.oidc import AccessGuard, OidcSettings, TokenVerifier
from servicekit.outbox import OutboxRelay
from servicekit.settings import CommonSettings
from servicekit.validation import validation_error_handler

Loop = Callable[[], Awaitable[None]]


class ServiceRuntime:
    def __init__(self, name: str, db_name: str, common: CommonSettings | None = None) -> None:
        self.name = name
        self.common = common or CommonSettings()
        self.log = configure_logging(name, self.common.log_level)
        self.client, self.db = connect(self.common.mongo_url, db_name)
        kafka_security = KafkaSecurity.of(self.common)
        self.broker = make_broker(self.common.kafka_bootstrap, f"gongkai-{name}", kafka_security)
        self.kafka = BrokerHandle(self.broker, self.common.kafka_bootstrap, f"gongkai-{name}", kafka_security)
        self._setup: list[Loop] = []
        self._loops: list[Loop] = []
        self._health_checks: list[Callable[[], dict[str, str] | None]] = []
        self._gate: Loop | None = None
        self.gated = False  # waiting at the gate: a standby (HTTP served, no broker yet)
        self._health_fields: list[Callable[[], dict[str, object]]] = []
        self.ready = asyncio.Event()
        self.relay: OutboxRelay | None = None
        self.publications: list[asyncapi_doc.Publication] = []
        self.oidc = TokenVerifier(OidcSettings())
        self._secrets: dict[str, str | None] = {"GONGKAI_OIDC_ISSUER": self.oidc.settings.issuer}
        if kafka_security.sasl:  # the service's own Kafka principal's password
            self._secrets["GONGKAI_KAFKA_PASSWORD"] = self.common.kafka_password
        secrets.check(self.common.env, name, self._secrets)

    def require_secrets(self, values: dict[str, str | None]) -> None:
        """Refuse to start (SystemExit) in production with any of these settings missing or holding a
        development value; in development they are named in the one warning line at start."""
        self._secrets.update(values)
        secrets.check(self.common.env, self.name, values)

    def on_setup(self, fn: Loop) -> Loop:
        """Run once at start, before the broker starts (e.g. create indexes); retried until it works."""
        self._setup.append(fn)
        return fn

    def health_check(self, fn: Callable[[], dict[str, str] | None]) -> None:
        """A check of the service's own state for /health: it returns None when all is well, else
        {name: why}; any problem makes /health 503 "degraded" and is named in its ``problems``."""
        self._health_checks.append(fn)

    def gate(self, fn: Loop) -> Loop:
        """Awaited once set-up is done and before the broker (its subscribers) and the loops start,
        e.g. a standby waiting for its lease. HTTP is served meanwhile; /health is 200 without the
        broker while waiting (``kafka`` false: not connected yet)."""
        self._gate = fn
        return fn

    def health_fields(self, fn: Callable[[], dict[str, object]]) -> None:
        """Extra fields of the /health body (e.g. the audit service's role)."""
        self._health_fields.append(fn)

    def loop(self, fn: Loop) -> Loop:
        """A background loop, started once set-up is done, cancelled at shutdown."""
        self._loops.append(fn)
        return fn

    def outbox(self, *collections) -> OutboxRelay:  # noqa: ANN002
        relay = OutboxRelay(collections, self.kafka.publish_many, self.common.outbox_poll_seconds)

        async def outbox_relay() -> None:
            await self.kafka.connected.wait()
            await relay.run()

        self._loops.append(outbox_relay)
        self.relay = relay
        return relay

    def publishes(self, topic: str, model: type[EventData], description: str = "") -> None:
        """Declare, for the AsyncAPI document, an event this service publishes (via its outbox)."""
        self.publications.append(asyncapi_doc.Publication(topic, model, description))
        self.broker.publisher(topic, title=f"{topic}:{model.event_name}", schema=CloudEvent[model],  # type: ignore[valid-type]
                              description=description or model.__doc__)

    def asyncapi(self) -> dict:
        """This service's AsyncAPI 3.0 document (servicekit/asyncapi.py; committed in docs/asyncapi/)."""
        return asyncapi_doc.service_document(self.name, self)

    def check_access_table(self) -> None:
        """Every route of the app is in contracts/access.py (else the service refuses to start)."""
        table = ROUTES.get(self.name, {})
        missing = [f"{m} {r.path}" for r in self._app.routes if isinstance(r, APIRoute) for m in r.methods
                   if (m, r.path) not in table]
        if missing:
            raise RuntimeError(f"{self.name}: routes missing from contracts/access.py: {', '.join(sorted(missing))}")

    async def _start(self) -> None:
        delay = 0.5
        for fn in self._setup:
            while True:
                try:
                    await fn()
                    break
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 - store down: retry
                    self.log.warning("setup_failed", step=fn.__name__, error=repr(exc), retry_in=delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 10.0)
        self.ready.set()
        if self._gate is not None:
            self.gated = True
            try:
                await self._gate()
            finally:
                self.gated = False
        loops = [asyncio.create_task(fn(), name=fn.__name__) for fn in self._loops]
        try:
            await self.kafka.start_with_retry()
            await asyncio.gather(*loops)
        finally:
            for task in loops:
                task.cancel()

    def _on_main_done(self, task: asyncio.Task) -> None:
        if not task.cancelled() and task.exception() is not None:
            # A loop died of a bug: stop the process (SIGTERM: graceful) so that it gets restarted,
            # rather than serving HTTP with nothing consuming behind it.
            self.log.critical("service_failed", error=repr(task.exception()))
            os.kill(os.getpid(), signal.SIGTERM)

    def app(self, title: str, description: str = "") -> FastAPI:
        @contextlib.asynccontextmanager
        async def lifespan(_: FastAPI) -> AsyncIterator[None]:
            self.check_access_table()
            if self.common.env == "development":
                secrets.warn_development(self.name, self._secrets)
            main = asyncio.create_task(self._start(), name=f"{self.name}-start")
            main.add_done_callback(self._on_main_done)
            self.log.info("service_started")
            try:
                yield
            finally:
                main.cancel()
                with contextlib.suppress(BaseException):
                    await main
                with contextlib.suppress(Exception):
                    await self.kafka.stop()
                await self.client.close()
                self.log.info("service_stopped")

        guard = AccessGuard(self.name, self.oidc)
        app = FastAPI(title=title, description=description, lifespan=lifespan,
                      dependencies=[Depends(guard), Depends(json_only)], docs_url=None, redoc_url=None)
        app.add_exception_handler(RequestValidationError, validation_error_handler)
        openapi.install(app, self.name, self.oidc.settings.issuer)
        docs.install(app, title, self.oidc.settings.issuer)  # /docs and /redoc, assets served locally
        self._app = app

        health_body = {"type": "object", "required": ["service", "status", "store", "kafka"], "properties": {
            "service": {"type": "string"}, "status": {"type": "string", "enum": ["ok", "degraded"]},
            "store": {"type": "boolean"}, "kafka": {"type": "boolean"},
            "problems": {"type": "object", "additionalProperties": {"type": "string"},
                         "description": "what the service's own checks found wrong, by check"}}}

        @app.get("/health", tags=["ops"], responses={
            200: {"description": "store and broker reachable", "content": {"application/json": {"schema": health_body}}},
            503: {"description": "degraded: store or broker unreachable, or still starting",
                  "content": {"application/json": {"schema": health_body}}}})
        async def health() -> JSONResponse:
            store = await ping(self.db)
            kafka = await self.kafka.alive()
            problems: dict[str, str] = {}
            for check in self._health_checks:
                problems.update(check() or {})
            ok = store and (kafka or self.gated) and self.ready.is_set() and not problems
            body = {"service": self.name, "status": "ok" if ok else "degraded", "store": store, "kafka": kafka}
            for fields in self._health_fields:
                body.update(fields())
            if problems:
                body["problems"] = problems
            return JSONResponse(body, status_code=200 if ok else 503)

        @app.get("/metrics", tags=["ops"], response_class=Response, responses={
            200: {"description": "Prometheus text exposition format",
                  "content": {CONTENT_TYPE_LATEST.split(";")[0]: {"schema": {"type": "string"}}}}})
        async def metrics() -> Response:
            return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

        @app.get("/asyncapi.json", tags=["ops"])
        async def asyncapi() -> JSONResponse:
            return JSONResponse(self.asyncapi())

        return app


_JSON_TYPES = ("application/json",)


async def json_only(request: Request) -> None:
    """415 for a body that is not JSON on a route that takes a JSON body."""
    route = request.scope.get("route")
    if request.method not in ("POST", "PUT", "PATCH") or getattr(route, "body_field", None) is None:
        return
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype and not (ctype in _JSON_TYPES or ctype.endswith("+json")):
        raise HTTPException(415, f"不支持的内容类型 {ctype[:60]}：请以 application/json 提交")


def serve(app: FastAPI, host: str, port: int) -> None:
    # uvloop and httptools (pinned in requirements.lock): the event loop and HTTP parser in C. In
    # the pipeline benchmark they took reply's CPU per application from 134 to 109 ms, notify's from
    # 90 to 76, audit's from 52 to 43 (benchmarks/pipeline.py, back-to-back runs).
    config = uvicorn.Config(
        app, host=host, port=port, log_config=None, access_log=False, timeout_graceful_shutdown=10,
        loop="uvloop", http="httptools",
    )
    uvicorn.Server(config).run()


log = structlog.get_logger()
