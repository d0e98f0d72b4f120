"""The audit service as it is built for production (services.audit.app.build: access guard, routes,
limiter), in-process over a private real store, for the HTTP tests. Officers' tokens come from the
local test issuer (tests/tokens.py); the broker is never started (the lifespan is not run)."""

from __future__ import annotations

import base64
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI

from services.audit.app import build
from services.audit.checkpoint_log import CheckpointLog
from services.audit.ledger import Ledger
from services.audit.settings import AuditSettings
from tests import tokens

SECRET = "test-query-secret-0123456789"
ORIGIN = "gongkai.audit/test-agency"
AUDITOR = tokens.bearer("auditor", name="审计员甲")
OGI = tokens.bearer("ogi_officer", name="陈经办", sub="officer-chen")


@dataclass
class AuditUnderTest:
    app: FastAPI
    http: httpx.AsyncClient
    ledger: Ledger
    cplog: CheckpointLog
    db: Any  # AsyncDatabase  # noqa: ANN401
    signing_key: Ed25519PrivateKey


@contextlib.asynccontextmanager
async def audit_service(store_url: str, monkeypatch: pytest.MonkeyPatch, *, signing_key: Ed25519PrivateKey | None = None,
                        headers: dict[str, str] | None = None, db_name: str | None = None,
                        client: tuple[str, int] = ("127.0.0.1", 50000),
                        **settings: Any) -> AsyncIterator[AuditUnderTest]:  # noqa: ANN401
    """``db_name``: share a database with another instance (it is then not dropped here);
    ``client``: the address the requests come from."""
    for k, v in tokens.oidc_env().items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("GONGKAI_MONGO_URL", store_url)
    key = signing_key or Ed25519PrivateKey.generate()
    name = db_name or f"audit_api_{uuid.uuid4().hex[:10]}"
    app = build(AuditSettings(db_name=name, signing_key=base64.b64encode(key.private_bytes_raw()).decode(),
                              query_code_secret=SECRET, origin=ORIGIN, **settings))
    rt = app.state.runtime
    for fn in rt._setup:  # the indexes and the ledger's load (the lifespan, which starts Kafka, is not run)
        await fn()
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=client), base_url="http://audit",
                             headers=AUDITOR if headers is None else headers)
    try:
        yield AuditUnderTest(app, http, app.state.ledger, app.state.checkpoints, rt.db, key)
    finally:
        await http.aclose()
        if db_name is None:
            await rt.client.drop_database(name)
        await rt.client.close()
