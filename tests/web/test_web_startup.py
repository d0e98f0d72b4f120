"""The web service, like the API services, refuses to start with a page the access table
(contracts/access.py WEB_ROUTES) does not list: nothing is open by omission."""

from __future__ import annotations

import pytest
from fastapi.responses import PlainTextResponse

from tests.web.test_auth import FakeIdp, env, idp, make_app  # noqa: F401 - fixtures


async def test_a_page_missing_from_the_table_stops_the_start(env, idp: FakeIdp) -> None:  # noqa: ANN001, F811
    app = make_app("mongodb://127.0.0.1:1", idp)

    @app.get("/not-listed", response_class=PlainTextResponse)
    async def not_listed() -> str:
        return "open by omission"

    with pytest.raises(RuntimeError, match="GET /not-listed"):
        async with app.router.lifespan_context(app):
            pass


async def test_the_listed_pages_start(env, idp: FakeIdp) -> None:  # noqa: ANN001, F811
    app = make_app("mongodb://127.0.0.1:1", idp)
    async with app.router.lifespan_context(app):
        pass  # the store set-up retries in the background; the start itself goes through
