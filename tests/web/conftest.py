"""Fixtures of the browser tests of the pages."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from tests.e2e.helpers import Client


@pytest_asyncio.fixture(loop_scope="session")
async def client(stack) -> AsyncIterator[Client]:  # noqa: ANN001
    """The system's APIs as its users drive them (tests/e2e/helpers.py), for setting up cases."""
    c = Client(stack)
    yield c
    await c.http.aclose()
