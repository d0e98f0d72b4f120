"""notify's HTTP API in process, for the tests that call it: the app built against the test
store (its own database, dropped before and after) and the test issuer, an httpx client on it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest

from deploy.local.store_instance import free_port
from services.notify.app import build
from services.notify.settings import NotifySettings
from tests.tokens import oidc_env


@contextlib.asynccontextmanager
async def notify_api(store, db_name: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[httpx.AsyncClient]:  # noqa: ANN001
    for key, value in oidc_env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("GONGKAI_MONGO_URL", store.url)
    monkeypatch.setenv("GONGKAI_KAFKA_BOOTSTRAP", f"127.0.0.1:{free_port()}")
    settings = NotifySettings(db_name=db_name)
    app = build(settings)
    rt = app.state.runtime
    await rt.client.drop_database(settings.db_name)
    await app.state.store.setup()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://notify") as client:
        client.app = app
        yield client
    await app.state.webhook.close()
    await rt.client.drop_database(settings.db_name)
    await rt.client.close()
