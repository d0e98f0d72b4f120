"""Fixtures of the servicekit tests: the private store of tests/store (started through
deploy/local/infra.sh on a free port) and one fresh database per test."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from deploy.local.store_instance import StoreInstance


@pytest_asyncio.fixture
async def db(store: StoreInstance, request: pytest.FixtureRequest) -> AsyncIterator[AsyncDatabase]:  # noqa: F811
    # Same options as servicekit.mongo.connect.
    client = AsyncMongoClient(store.url, tz_aware=True, serverSelectionTimeoutMS=5000, uuidRepresentation="standard")
    name = "sk_" + re.sub(r"[^A-Za-z0-9_]", "_", request.node.name)[:50]
    await client.drop_database(name)
    try:
        yield client[name]
    finally:
        await client.drop_database(name)
        await client.close()
