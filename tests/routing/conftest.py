"""Fixtures of the routing tests: a private store (the tests/store pattern, started through
deploy/local/infra.sh on a free port), one fresh database per test, and the labelled-set figures
printed in the terminal summary."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from deploy.local.store_instance import StoreInstance, free_port  # noqa: F401

from tests.routing.figures import FIGURES


def client_for(url: str) -> AsyncMongoClient:
    # Same options as servicekit.mongo.connect.
    return AsyncMongoClient(url, tz_aware=True, serverSelectionTimeoutMS=5000, uuidRepresentation="standard")


def db_name_for(request: pytest.FixtureRequest) -> str:
    return "r_" + re.sub(r"[^A-Za-z0-9_]", "_", request.node.name)[:50]


@pytest_asyncio.fixture
async def db(store: StoreInstance, request: pytest.FixtureRequest) -> AsyncIterator[AsyncDatabase]:  # noqa: F811
    client = client_for(store.url)
    name = db_name_for(request)
    await client.drop_database(name)
    try:
        yield client[name]
    finally:
        await client.drop_database(name)
        await client.close()


def pytest_terminal_summary(terminalreporter) -> None:  # noqa: ANN001
    if FIGURES:
        terminalreporter.section("routing: labelled set")
        for key, value in FIGURES.items():
            terminalreporter.write_line(f"{key}: {value}")


__all__ = ["free_port"]
