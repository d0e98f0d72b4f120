"""In-process apps of one service on the real local store (no broker, the lifespan not run), for
the tests that call a service's HTTP API through ``httpx.ASGITransport``: a database of the test's
own, dropped before and after, the service's indexes set up, verified tokens from ``tests.tokens``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.tokens import oidc_env


def db_name(prefix: str, request: pytest.FixtureRequest, limit: int = 50) -> str:
    """A database name of the test's own (the store's names allow letters, digits and _)."""
    return prefix + re.sub(r"[^A-Za-z0-9_]", "_", request.node.name)[:limit]


def _env(monkeypatch: pytest.MonkeyPatch, store_url: str, env: dict[str, str]) -> None:
    for key, value in {**oidc_env(), "GONGKAI_MONGO_URL": store_url, **env}.items():
        monkeypatch.setenv(key, value)


@asynccontextmanager
async def reply_app(store_url: str, name: str, monkeypatch: pytest.MonkeyPatch, *, env: dict[str, str] | None = None,
                    **settings: Any) -> AsyncIterator[FastAPI]:  # noqa: ANN401
    """The reply service's app on database ``name`` (its case store set up: ``app.state.store``)."""
    _env(monkeypatch, store_url, {"REPLY_DB_NAME": name, **(env or {})})
    from services.reply.app import build
    from services.reply.settings import ReplySettings

    app = build(ReplySettings(**settings))
    st = app.state.store
    await st.cases.database.client.drop_database(name)
    await st.setup()
    try:
        yield app
    finally:
        await st.cases.database.client.drop_database(name)
        await app.state.runtime.client.close()


@asynccontextmanager
async def intake_app(store_url: str, name: str, monkeypatch: pytest.MonkeyPatch,
                     **settings: Any) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:  # noqa: ANN401
    """An HTTP client of the intake service's app on database ``name``, and its runtime (whose
    ``app`` the client keeps as ``client.app``)."""
    _env(monkeypatch, store_url, {})
    from services.intake.app import build
    from services.intake.settings import IntakeSettings

    app = build(IntakeSettings(db_name=name, **settings))
    rt = app.state.runtime
    await rt.client.drop_database(name)
    for fn in rt._setup:  # the indexes (the lifespan, which would also start Kafka, is not run)
        await fn()
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://intake")
    client.app = app  # type: ignore[attr-defined]
    try:
        yield client, rt
    finally:
        await client.aclose()
        await rt.client.drop_database(name)
        await rt.client.close()
