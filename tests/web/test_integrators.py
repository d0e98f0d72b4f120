"""The web service serves the bus's AsyncAPI document and every event's JSON Schema at the URL the
events carry as their ``dataschema`` (public, no account)."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import httpx
import pytest

from contracts.envelope import DEFAULT_SCHEMA_BASE, SCHEMA_BASE_ENV
from contracts.events import ALL_EVENTS
from contracts.jsonschema_export import DEFAULT_DIR, DIALECT
from services.web.app import build
from services.web.integrators import BUS_DOCUMENT
from services.web.settings import WebSettings

PUBLIC = "https://gongkai.example.gov.cn"


@pytest.fixture
async def web():
    app = build(WebSettings(public_url=PUBLIC))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=PUBLIC) as client:
        yield client


async def test_the_bus_document_is_served(web: httpx.AsyncClient) -> None:
    resp = await web.get("/asyncapi/gongkai-bus.json")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("application/json")
    assert resp.content == BUS_DOCUMENT.read_bytes()
    assert resp.json()["asyncapi"].startswith("3.")


@pytest.mark.parametrize("model", ALL_EVENTS, ids=lambda m: m.ce_type())
async def test_dataschema_resolves_to_the_served_schema(web: httpx.AsyncClient, model,  # noqa: ANN001
                                                        monkeypatch) -> None:  # noqa: ANN001
    # A deployment sets the events' schema base to its web service's public address.
    monkeypatch.setenv(SCHEMA_BASE_ENV, f"{PUBLIC}/schemas/")
    url = model.dataschema()
    assert url == f"{PUBLIC}/schemas/{model.schema_file()}"
    resp = await web.get(urlsplit(url).path)
    assert resp.status_code == 200, url
    assert resp.headers["content-type"].startswith("application/schema+json")
    schema = resp.json()
    assert schema["$id"] == url
    assert schema["$schema"] == DIALECT
    assert schema["properties"]["type"]["const"] == model.ce_type()
    committed = json.loads((DEFAULT_DIR / model.schema_file()).read_text(encoding="utf-8"))
    assert {k: v for k, v in schema.items() if k != "$id"} == {k: v for k, v in committed.items() if k != "$id"}


async def test_default_dataschema_is_the_local_web_service(monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.delenv(SCHEMA_BASE_ENV, raising=False)
    model = ALL_EVENTS[0]
    assert model.dataschema() == DEFAULT_SCHEMA_BASE + model.schema_file()
    assert DEFAULT_SCHEMA_BASE == "http://127.0.0.1:8106/schemas/"  # deploy/local: the web service's port


@pytest.mark.parametrize("name", ["nope.v1.json", "..%2F..%2Fpyproject.toml", "task.assigned.v1"])
async def test_unknown_schema_is_404(web: httpx.AsyncClient, name: str) -> None:
    assert (await web.get(f"/schemas/{name}")).status_code == 404
