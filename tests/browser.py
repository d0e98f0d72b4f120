"""Real-browser tests: Playwright (async API) driving Debian's Chromium, headless.

Registered as a pytest plugin by tests/conftest.py (``pytest_plugins``). Fixtures:

- ``browser``: one Chromium per test session (``/usr/bin/chromium``, installed by
  ``deploy/local/install.sh debs``; ``playwright install`` is never needed).
- ``page``: a fresh browser context (own cookies and storage) and page per test, at the width
  the ``viewport`` fixture names: "desktop" (1280x800, the default) or "phone" (390x844, mobile,
  touch). Test both with ``@pytest.mark.parametrize("viewport", ["desktop", "phone"])``.
- ``new_page``: a factory for more pages in one test, each in its own context (two officers signed
  in at once, an applicant beside them): ``await new_page("phone", javascript=False)``.

Every context speaks zh-CN in Asia/Shanghai and may reach loopback addresses only: a request to
any other host is aborted and recorded, and the test fails at teardown if one was (a page must not
load anything from the internet). ``blocked(page)`` is that list, for a test that expects one.

Helpers: ``await shot(page, name)`` saves a full-page PNG as ``<artifacts>/screenshots/
<name>-<viewport>.png`` (artifacts: ``$GONGKAI_ARTIFACTS``, default ``.local/artifacts``); a test
that fails saves a screenshot of each of its open pages there by itself (``FAILED-<test>-<n>-...``).
``await axe(page, name)`` runs the vendored axe-core on the page (WCAG 2.1 A and AA rules) and
returns the serious and critical violations (each line also goes to ``<artifacts>/axe.jsonl``);
``await accessible(page, name)`` takes the screenshot, runs axe and asserts there is no such
violation, with a readable message.

The browser tests run on the session's event loop (Playwright's objects belong to the loop that
made them): tests that use these fixtures are moved to it automatically. An async fixture of your
own that such a test uses must be declared with ``@pytest_asyncio.fixture(loop_scope="session")``.
"""

from __future__ import annotations

import functools
import inspect
import ipaddress
import json
import os
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, Playwright, Route, async_playwright

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("GONGKAI_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
AXE_JS = ROOT / "services" / "web" / "static" / "vendor" / "axe.min.js"
AXE_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa")
SERIOUS = ("serious", "critical")

VIEWPORTS: dict[str, dict[str, Any]] = {
    "desktop": {"viewport": {"width": 1280, "height": 800}},
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
              "device_scale_factor": 2},
}
BROWSER_FIXTURES = {"browser", "page", "new_page"}

_label: dict[Page, str] = {}  # page -> its viewport's name
_blocked: dict[Page, list[str]] = {}  # page -> requests to other hosts, aborted


def artifacts() -> Path:
    return Path(os.environ.get("GONGKAI_ARTIFACTS") or ROOT / ".local" / "artifacts")


def screenshots() -> Path:
    path = artifacts() / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_")[:120] or "page"


def _loopback(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about"):
        return True
    host = parts.hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# ---------------------------------------------------------------- fixtures

@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def _playwright() -> AsyncIterator[Playwright]:
    async with async_playwright() as pw:
        yield pw


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser(_playwright: Playwright) -> AsyncIterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} not found: run deploy/local/install.sh debs (installs Debian's chromium)")
    b = await _playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    yield b
    await b.close()


@pytest.fixture
def viewport() -> str:
    """The page fixture's width: "desktop" or "phone" (override with parametrize)."""
    return "desktop"


async def open_page(browser: Browser, viewport: str = "desktop", *, javascript: bool = True,
                    **context_options: Any) -> Page:  # noqa: ANN401
    """A new context and page: zh-CN, Asia/Shanghai, loopback only (see the module's docstring)."""
    if viewport not in VIEWPORTS:
        raise ValueError(f"viewport {viewport!r}: one of {', '.join(VIEWPORTS)}")
    ctx: BrowserContext = await browser.new_context(
        locale="zh-CN", timezone_id="Asia/Shanghai", java_script_enabled=javascript, accept_downloads=True,
        **VIEWPORTS[viewport], **context_options)
    blocked: list[str] = []

    async def only_loopback(route: Route) -> None:
        if _loopback(route.request.url):
            await route.continue_()
        else:
            blocked.append(route.request.url)
            await route.abort("blockedbyclient")

    await ctx.route("**/*", only_loopback)
    page = await ctx.new_page()
    _label[page] = viewport
    _blocked[page] = blocked
    return page


def blocked(page: Page) -> list[str]:
    """The requests to non-loopback hosts this page's context tried (aborted); clear it if expected."""
    return _blocked[page]


async def _close(request: pytest.FixtureRequest, pages: list[Page]) -> None:
    failed = any(getattr(request.node, f"_gongkai_rep_{when}", None) is not None
                 and getattr(request.node, f"_gongkai_rep_{when}").failed for when in ("setup", "call"))
    outside: list[str] = []
    for n, page in enumerate(pages, 1):
        if failed and not page.is_closed():
            try:
                path = screenshots() / f"FAILED-{_safe(request.node.name)}-{n}-{_label[page]}.png"
                await page.screenshot(path=str(path), full_page=True, timeout=10_000)
                print(f"screenshot of the failing page {page.url}: {path}")
            except Exception as exc:  # noqa: BLE001 - the test's own failure is what matters
                print(f"no screenshot of {page.url}: {exc!r}")
        outside += _blocked.pop(page, [])
        _label.pop(page, None)
        await page.context.close()
    if outside and not failed:
        pytest.fail("pages tried to load from outside this machine (aborted): " + ", ".join(sorted(set(outside))))


@pytest_asyncio.fixture(loop_scope="session")
async def page(browser: Browser, viewport: str, request: pytest.FixtureRequest) -> AsyncIterator[Page]:
    p = await open_page(browser, viewport)
    yield p
    await _close(request, [p])


@pytest_asyncio.fixture(loop_scope="session")
async def new_page(browser: Browser, request: pytest.FixtureRequest) -> AsyncIterator[Callable[..., Awaitable[Page]]]:
    pages: list[Page] = []

    async def make(viewport: str = "desktop", **kw: Any) -> Page:  # noqa: ANN401
        p = await open_page(browser, viewport, **kw)
        pages.append(p)
        return p

    yield make
    await _close(request, pages)


# ---------------------------------------------------------------- helpers

async def shot(page: Page, name: str, *, full_page: bool = True) -> Path:
    """Save a screenshot ``<artifacts>/screenshots/<name>-<viewport>.png`` (the whole page, or with
    ``full_page=False`` what the viewport shows); its path."""
    path = screenshots() / f"{_safe(name)}-{_label.get(page, 'page')}.png"
    await page.screenshot(path=str(path), full_page=full_page)
    return path


_AXE_RUN = """async (tags) => {
  const result = await axe.run(document, {runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]});
  return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl, tags: v.tags,
    nodes: v.nodes.map(n => ({target: n.target, html: n.html.slice(0, 300), summary: n.failureSummary}))}));
}"""


async def axe(page: Page, name: str | None = None, tags: tuple[str, ...] = AXE_TAGS) -> list[dict[str, Any]]:
    """The serious and critical accessibility violations axe-core finds on the page as it is now.

    axe-core (vendored, deploy/local/assets) is evaluated through the DevTools protocol, so the
    page's Content-Security-Policy does not stand in the way and the page itself loads nothing.
    With ``name``, the counts are appended to ``<artifacts>/axe.jsonl`` for the test report."""
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.evaluate(_axe_source())
    found = await page.evaluate(_AXE_RUN, list(tags))
    serious = [v for v in found if v["impact"] in SERIOUS]
    if name is not None:
        line = {"page": name, "viewport": _label.get(page, ""), "url": page.url, "serious_or_critical": len(serious),
                "all": len(found), "ids": sorted({v["id"] for v in found}), "at": time.strftime("%Y-%m-%dT%H:%M:%S")}
        with (artifacts() / "axe.jsonl").open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(line, ensure_ascii=False) + "\n")
    return serious


@functools.cache
def _axe_source() -> str:
    return AXE_JS.read_text(encoding="utf-8") + "\n;true"  # evaluated as a script; yields true


def describe(violations: list[dict[str, Any]]) -> str:
    return "\n".join(f"- {v['impact']} {v['id']}: {v['help']} ({v['helpUrl']})\n" +
                     "\n".join(f"    {n['target']}: {n['html']}" for n in v["nodes"][:5]) for v in violations)


async def accessible(page: Page, name: str) -> Path:
    """Screenshot the page, then assert axe-core finds no serious or critical violation on it."""
    path = await shot(page, name)
    found = await axe(page, name)
    assert not found, f"{name} ({page.url}): {len(found)} serious/critical accessibility violations\n{describe(found)}"
    return path


# ---------------------------------------------------------------- hooks

def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the tests that use a browser fixture on the session's event loop (where the browser lives)."""
    for item in items:
        func = getattr(item, "obj", None)
        if BROWSER_FIXTURES & set(getattr(item, "fixturenames", ())) and inspect.iscoroutinefunction(func):
            marker = item.get_closest_marker("asyncio")
            if marker is None or (marker.kwargs.get("loop_scope") or marker.kwargs.get("scope")) != "session":
                item.add_marker(pytest.mark.asyncio(loop_scope="session"), append=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:  # noqa: ANN401
    """Keep each phase's report on the item, so that the page fixtures know a test failed."""
    report = yield
    setattr(item, f"_gongkai_rep_{report.when}", report)
    return report


_warmed: set[str] = set()  # web services whose sign-in path has been run once this session


async def _sign_in_once(pg: Any, web_url: str, username: str, path: str, seconds: float) -> None:  # noqa: ANN401
    from deploy.local.idp import DEV_PASSWORD

    started = time.monotonic()
    await pg.goto(web_url + path)
    await pg.wait_for_selector("#kc-login", timeout=seconds * 1000)
    await pg.fill("#username", username)
    await pg.fill("#password", DEV_PASSWORD)
    await pg.click("#kc-login")
    target, callback = web_url + path, web_url + "/auth/callback"
    try:
        await pg.wait_for_url(lambda url: url.startswith(target) or url.startswith(callback),
                              wait_until="commit", timeout=seconds * 1000)
    except Exception as exc:
        problem = await pg.locator("#input-error, .alert-error, [role=alert]").all_inner_texts()
        raise AssertionError(f"sign-in of {username} did not come back from the identity provider in "
                             f"{time.monotonic() - started:.1f} s (at {pg.url}; on the page: {problem})") from exc
    if pg.url.startswith(callback):
        detail = await pg.locator("[role=alert]").all_inner_texts()
        raise AssertionError(f"the web service refused the sign-in of {username} after "
                             f"{time.monotonic() - started:.1f} s: {detail}")
    await pg.wait_for_load_state("load", timeout=seconds * 1000)


async def sign_in(pg: Any, web_url: str, username: str, path: str) -> None:  # noqa: ANN401
    """Open an officer's page: the web service sends the browser to the identity provider's login
    form (Keycloak), filled in as a sample user of the local realm; back on ``path`` once signed in.
    A sign-in the web service refuses fails at once with the page's own words (the 登录未完成 page
    says why), not after a timeout.

    The first sign-in of a session against a web service is made once beforehand in a context of its
    own, with a long time allowed: the first authorization-code sign-in of a Keycloak just started runs
    code paths its JVM has not compiled yet (seconds on a loaded two-core machine, enough to pass the
    web service's 10 s limit on the code exchange); the tests time their own sign-in, not that."""
    if web_url not in _warmed:
        context = await pg.context.browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai")
        try:
            await _sign_in_once(await context.new_page(), web_url, username, "/work", 90)
        except AssertionError as exc:  # the sign-in below says whether it works now
            print(f"warm-up sign-in: {exc}")
        finally:
            await context.close()
        _warmed.add(web_url)
    await _sign_in_once(pg, web_url, username, path, 30)
