"""The OGI pages in the real web app (page guard, sessions, CSRF of services/web/auth.py), signed in
through the fake identity provider of test_auth.py; the other services' APIs faked."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.web.test_auth import PUBLIC, FakeIdp, env, idp, make_app, sign_in  # noqa: F401
from tests.web.test_ogi_pages import CASE, FakeBackends, fake  # noqa: F401

pytestmark = pytest.mark.asyncio


@pytest.fixture
async def web(env: None, store, idp: FakeIdp, fake: FakeBackends) -> AsyncIterator[Any]:  # noqa: ANN001, F811
    app = make_app(store.url, idp, routers=("ogi",))
    await app.state.auth.store.setup()
    app.state.backends = fake
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=PUBLIC) as c:
        yield c


async def test_ogi_pages_need_a_session_and_an_ogi_role(web: httpx.AsyncClient, idp: FakeIdp) -> None:  # noqa: F811
    r = await web.get("/work/ogi")
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=/work/ogi")
    await sign_in(web, idp, idp.user("zrzy-officer", ("dept_officer",), "李丽华", "zrzy"))
    for path in ("/work/ogi", f"/work/ogi/cases/{CASE}", "/work/ogi/clerk", "/work/ogi/supervision", "/work/stats"):
        r = await web.get(path)
        assert r.status_code == 403, path
    web.cookies.clear()
    await sign_in(web, idp, idp.user("auditor", ("auditor",), "赵春梅", None))
    assert (await web.get("/work/ogi")).status_code == 403
    assert (await web.get("/work/stats")).status_code == 200


async def test_a_signed_in_officers_form_is_relayed_with_his_token_and_csrf_is_enforced(
        web: httpx.AsyncClient, idp: FakeIdp, fake: FakeBackends) -> None:  # noqa: F811
    await sign_in(web, idp)
    page = await web.get("/work/ogi")
    assert page.status_code == 200 and "GK-2026-000001" in page.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    fake.on("POST", "routing", f"/cases/{CASE}/departments", 200, {"added": []})
    data = {"back": "queue", "add": "zrzy", "reason": "采纳系统建议"}
    r = await web.post(f"/work/ogi/cases/{CASE}/departments", data=data)
    assert r.status_code == 403 and fake.posts() == []
    r = await web.post(f"/work/ogi/cases/{CASE}/departments", data={**data, "csrf_token": csrf})
    assert r.status_code == 303
    (call,) = fake.posts()
    assert call["token"] and call["token"].count(".") == 2  # the session's access token (a JWT), relayed
    assert call["json"]["add"] == ["zrzy"]
