"""The role <-> route table (contracts/access.py) is the whole truth: every route of every service
is in it, nothing in it is missing from a service, and docs/access.md is generated from it."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from fastapi.routing import APIRoute

from contracts import access
from tests import tokens

SERVICES = ("intake", "routing", "reply", "notify", "audit")
DOC = Path(__file__).resolve().parents[2] / "docs" / "access.md"


@pytest.fixture
def apps(monkeypatch: pytest.MonkeyPatch) -> dict:
    for k, v in tokens.oidc_env().items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("GONGKAI_MONGO_URL", "mongodb://127.0.0.1:1")  # never contacted: nothing starts
    out = {}
    for name in SERVICES:
        out[name] = importlib.import_module(f"services.{name}.app").build()
    return out


def test_every_route_of_every_service_is_in_the_table_and_back(apps: dict) -> None:
    for name, app in apps.items():
        served = {(m, r.path) for r in app.routes if isinstance(r, APIRoute) for m in r.methods}
        listed = set(access.ROUTES[name])
        assert served - listed == set(), f"{name}: routes missing from contracts/access.py"
        assert listed - served == set(), f"{name}: table lists routes the service does not serve"
        app.state.runtime.check_access_table()  # what the service runs at start


def test_openapi_declares_security_and_the_real_error_bodies(apps: dict) -> None:
    for name, app in apps.items():
        doc = app.openapi()
        assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
        assert doc["components"]["securitySchemes"]["oidc"]["openIdConnectUrl"].startswith(tokens.ISSUER)
        for path, item in doc["paths"].items():
            for method, op in item.items():
                acc = access.access_of(name, method, path)
                assert acc is not None, (name, method, path)
                if acc.public:
                    assert op["security"] == [], (name, method, path)
                else:
                    assert {"bearer": []} in op["security"], (name, method, path)
                    assert {"401", "403"} <= set(op["responses"]), (name, method, path)
                if "422" in op["responses"]:
                    schema = op["responses"]["422"]["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/ValidationErrorOut"}, (name, method, path)


def test_docs_access_md_is_generated_from_the_table() -> None:
    assert DOC.read_text(encoding="utf-8") == access.markdown(), "run: python -m contracts.access > docs/access.md"
