"""Fixtures of the audit tests: a private real store (tests/store_fixture.py), one database per test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from services.audit.checkpoint_log import CheckpointLog, Signer
from services.audit.ledger import Ledger

ORIGIN = "gongkai.audit/test-agency"


@pytest.fixture
async def db(store) -> AsyncIterator[AsyncDatabase]:  # noqa: F811
    client: AsyncMongoClient = AsyncMongoClient(store.url, tz_aware=True, serverSelectionTimeoutMS=10000)
    name = f"audit_test_{uuid.uuid4().hex[:10]}"
    try:
        yield client[name]
    finally:
        await client.drop_database(name)
        await client.close()


@pytest.fixture
def signing_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
async def ledger(db: AsyncDatabase) -> Ledger:
    led = Ledger(db)
    await led.setup()
    return led


@pytest.fixture
def cplog(db: AsyncDatabase, ledger: Ledger, signing_key: Ed25519PrivateKey) -> CheckpointLog:
    return CheckpointLog(db, ledger, Signer(signing_key, ORIGIN))
