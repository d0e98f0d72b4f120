"""An officer signs in to the web service through the real Keycloak of the session's stack, as a
browser would (httpx, following the login form by hand), works, is refused another role's page and
a form without its CSRF token, and signs out: the web session and the IdP's session both end."""

from __future__ import annotations

import hashlib
import html
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pymongo import MongoClient

from contracts.access import WEB_ROUTES
from deploy.local import idp
from deploy.local.keycloak import realm as gen
from deploy.local.stack import WEB

pytestmark = pytest.mark.e2e

_DIRECTORY = gen.load_directory()
_USERS = {u["username"]: u for u in gen.users(_DIRECTORY)}
DEPT = gen.home_departments(_DIRECTORY)[0][0]["code"]


def display_name(username: str) -> str:
    return _USERS[username]["attributes"]["displayName"][0]


def _cookies(resp: httpx.Response) -> dict[str, str]:
    out = {}
    for header in resp.headers.get_list("set-cookie"):
        name, _, value = header.split(";", 1)[0].partition("=")
        out[name.strip()] = value
    return out


def keycloak_login(authorize_url: str, username: str) -> tuple[str, dict[str, str]]:
    """Sign in on Keycloak's login page; (the redirect back to the web service, Keycloak's cookies).

    Keycloak's cookies are Secure (a browser sends them to http://127.0.0.1, httpx does not): by hand."""
    page = httpx.get(authorize_url, timeout=30)
    assert page.status_code == 200 and "<form" in page.text, page.text[:300]
    kc_cookies = _cookies(page)
    action = html.unescape(re.search(r'<form[^>]*action="([^"]+)"', page.text).group(1))
    done = httpx.post(action, data={"username": username, "password": idp.DEV_PASSWORD}, timeout=30,
                      headers={"Cookie": "; ".join(f"{k}={v}" for k, v in kc_cookies.items())})
    assert done.status_code == 302, done.text[:500]
    kc_cookies.update(_cookies(done))
    return done.headers["location"], kc_cookies


def sign_in(web: httpx.Client, username: str, next_path: str = "/work") -> tuple[httpx.Response, dict[str, str]]:
    start = web.get("/login", params={"next": next_path})
    assert start.status_code == 303
    back, kc_cookies = keycloak_login(start.headers["location"], username)
    assert back.startswith(str(web.base_url).rstrip("/") + "/auth/callback?")
    done = web.get(back)
    return done, kc_cookies


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def other_roles_page(roles: set[str]) -> str:
    """A page of the table (no path parameters) that none of these roles may open."""
    for (method, path), acc in WEB_ROUTES.items():
        if method == "GET" and not acc.public and "{" not in path and not acc.allows(roles):
            return path
    raise AssertionError("no page refused to these roles")


def test_an_officer_signs_in_works_is_refused_and_signs_out(stack: Any) -> None:  # noqa: ANN401
    base = stack.cfg.url(WEB)
    username = f"{DEPT}-officer"
    with httpx.Client(base_url=base, timeout=30) as web:
        assert web.get("/work").headers["location"] == "/login?next=/work"
        done, kc_cookies = sign_in(web, username)
        assert done.status_code == 303 and done.headers["location"] == "/work"
        session_cookie = _cookies(done)["gk_session"]
        assert "HttpOnly" in done.headers["set-cookie"] and "SameSite=Lax" in done.headers["set-cookie"]

        home = web.get("/work")
        assert home.status_code == 200
        assert display_name(username) in home.text and "部门经办人" in home.text
        assert 'href="/work/dept"' in home.text and 'href="/work/ogi"' not in home.text
        assert "default-src 'self'" in home.headers["content-security-policy"]

        # Another role's page: a Chinese 403 page.
        refused = web.get(other_roles_page({"dept_officer"}))
        assert refused.status_code == 403 and "权限" in refused.text

        # A form posted without the CSRF token (a cross-site "sign out"): refused, still signed in.
        assert web.post("/logout").status_code == 403
        assert web.post("/logout", data={"csrf_token": "forged"}).status_code == 403
        assert web.get("/work").status_code == 200

        # Sign out: the web session is deleted, and the browser goes on to end the IdP's session.
        out = web.post("/logout", data={"csrf_token": csrf_of(home.text)})
        assert out.status_code == 303
        end = urlsplit(out.headers["location"])
        query = {k: v[0] for k, v in parse_qs(end.query).items()}
        assert out.headers["location"].startswith(idp.discovery(stack.cfg.issuer)["end_session_endpoint"])
        assert query["post_logout_redirect_uri"] == base + "/" and query["id_token_hint"]
        with MongoClient(stack.cfg.mongo_url, serverSelectionTimeoutMS=5000) as mongo:
            key = hashlib.sha256(session_cookie.encode()).hexdigest()
            assert mongo["gongkai_web"]["sessions"].count_documents({"_id": key}) == 0
        bye = httpx.get(out.headers["location"], timeout=30,
                        headers={"Cookie": "; ".join(f"{k}={v}" for k, v in kc_cookies.items())})
        assert bye.status_code == 302 and bye.headers["location"] == base + "/"

        assert web.get("/work").status_code == 303  # signed out here
        web.cookies.set("gk_session", session_cookie)  # the old cookie opens nothing
        assert web.get("/work").status_code == 303

        # Signed out at the IdP too: a new sign-in with the same browser asks for the password again.
        again = web.get("/login")
        form = httpx.get(again.headers["location"], timeout=30,
                         headers={"Cookie": "; ".join(f"{k}={v}" for k, v in kc_cookies.items())})
        assert form.status_code == 200 and "<form" in form.text


def test_an_ogi_officer_opens_the_ogi_home_and_not_the_departments(stack: Any) -> None:  # noqa: ANN401
    with httpx.Client(base_url=stack.cfg.url(WEB), timeout=30) as web:
        done, _ = sign_in(web, "ogi-head", next_path="/work?from=e2e")
        assert done.headers["location"] == "/work?from=e2e"
        home = web.get("/work")
        assert display_name("ogi-head") in home.text and "公开办负责人" in home.text
        assert 'href="/work/ogi"' in home.text and 'href="/work/stats"' in home.text
        assert 'href="/work/dept"' not in home.text


def test_a_user_without_roles_signs_in_and_is_refused_the_workbench(stack: Any) -> None:  # noqa: ANN401
    with httpx.Client(base_url=stack.cfg.url(WEB), timeout=30) as web:
        done, _ = sign_in(web, "nobody")
        assert done.status_code == 303
        page = web.get("/work")
        assert page.status_code == 403 and "权限" in page.text


def test_health(stack: Any) -> None:  # noqa: ANN401
    r = httpx.get(stack.cfg.url(WEB) + "/health", timeout=10)
    assert r.status_code == 200 and r.json() == {"service": "web", "status": "ok", "store": True, "idp": True}


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
async def test_in_the_browser_sign_in_work_home_refusal_and_sign_out(stack: Any, page: Any, viewport: str) -> None:  # noqa: ANN401
    """Chromium: the whole round trip through Keycloak's login page, under the web service's CSP
    (sign-out's form redirects on to the IdP: form-action must allow it); the pages pass axe-core."""
    from tests.browser import accessible

    base = stack.cfg.url(WEB)
    username = f"{DEPT}-reviewer"
    await page.goto(base + "/work")
    await page.wait_for_selector("#username")  # Keycloak's login page
    await page.fill("#username", username)
    await page.fill("#password", idp.DEV_PASSWORD)
    await page.click("#kc-login")
    await page.wait_for_url(base + "/work")
    assert display_name(username) in await page.inner_text("main")
    assert "部门保密审查人" in await page.inner_text("main")
    await accessible(page, "work-home")
    resp = await page.goto(base + other_roles_page({"dept_reviewer"}))
    assert resp is not None and resp.status == 403
    await accessible(page, "forbidden")
    await page.goto(base + "/work")
    await page.click("button:has-text('退出登录')")
    await page.wait_for_url(base + "/")
    resp = await page.goto(base + "/work")
    await page.wait_for_selector("#username")  # signed out here and at the IdP: the password again
