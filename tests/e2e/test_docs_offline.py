"""``/docs`` (Swagger UI) and ``/redoc`` of every API service work without the internet.

In-process: each page references only our own addresses, every asset it names is served (right
type, the bytes of the vendored npm file), its Content-Security-Policy lets the browser fetch
nothing from another host, and the pages are public and outside the OpenAPI document. No ``.py``
or ``.html`` file of the services names a CDN. In Chromium (marked e2e, no stack): Swagger UI
lists every operation of the service and ReDoc renders, with any request to another host refused.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import re
import socket
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
import uvicorn

from contracts import access
from deploy.local.assets import vendor
from tests import tokens
from tests.browser import blocked, shot

SERVICES = ("intake", "routing", "reply", "notify", "audit")
ROOT = Path(__file__).resolve().parents[2]
CDN = re.compile(r"https?://(cdn\.|[a-z0-9.-]*jsdelivr|unpkg\.com|cdnjs)")
TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}
SHA384 = {f["dest"].rsplit("/", 1)[-1]: f["sha384"]
          for f in json.loads(vendor.MANIFEST.read_text(encoding="utf-8"))["files"]
          if f["dest"].startswith(vendor.DOCS_STATIC)}


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href", "spec-url") and value:
                self.refs.append(value)


def refs_of(html: str) -> list[str]:
    parser = _Refs()
    parser.feed(html)
    return parser.refs


def build(name: str, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    for k, v in tokens.oidc_env().items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("GONGKAI_MONGO_URL", "mongodb://127.0.0.1:1")  # never contacted: nothing starts
    return importlib.import_module(f"services.{name}.app").build()


def client(app) -> httpx.AsyncClient:  # noqa: ANN001
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc.test")


@pytest.mark.parametrize("service", SERVICES)
async def test_docs_pages_reference_only_our_own_assets(service: str, monkeypatch: pytest.MonkeyPatch) -> None:
    app = build(service, monkeypatch)
    async with client(app) as http:
        for page, needed in (("/docs", {"/static-docs/swagger-ui-bundle.js", "/static-docs/swagger-ui.css"}),
                             ("/redoc", {"/static-docs/redoc.standalone.js"})):
            r = await http.get(page)  # no token: public
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/html"), (page, r.text[:200])
            assert app.title in r.text
            assert not re.search(r"https?://", r.text), f"{page} names another host"
            refs = refs_of(r.text)
            assert needed | {"/static-docs/favicon-32x32.png"} <= set(refs), refs
            for ref in refs:
                assert ref.startswith("/") and not ref.startswith("//"), (page, ref)
                asset = await http.get(ref)
                assert asset.status_code == 200, (page, ref)
                if ref.startswith("/static-docs/"):
                    name = ref.rsplit("/", 1)[-1]
                    assert asset.headers["content-type"].startswith(TYPES[Path(name).suffix]), (ref, asset.headers)
                    assert vendor.sri(asset.content) == SHA384[name], f"{ref} is not the vendored file"
                else:
                    assert ref == "/openapi.json" and asset.json()["info"]["title"] == app.title
            csp = r.headers["content-security-policy"]
            directives = dict(d.strip().split(" ", 1) for d in csp.split(";") if " " in d.strip())
            assert directives["default-src"] == "'none'"
            sources = {s for v in directives.values() for s in v.split()}
            other_hosts = {s for s in sources if "://" in s or s == "*" or s.startswith("http")}
            assert other_hosts <= {"https://idp.test.gongkai"}, csp  # the IdP, for Swagger UI's Authorize
            assert "'unsafe-eval'" not in csp and "'unsafe-inline'" not in directives["script-src"]
        assert (await http.get("/static-docs/nothing.js")).status_code == 404
        assert (await http.get("/static-docs/%2e%2e/docs.py")).status_code == 404  # only the assets


async def test_the_inline_script_of_swagger_ui_is_allowed_by_its_hash_only(monkeypatch: pytest.MonkeyPatch) -> None:
    import base64
    import hashlib

    app = build("intake", monkeypatch)
    async with client(app) as http:
        r = await http.get("/docs")
    scripts = re.findall(r"<script>(.*?)</script>", r.text, re.DOTALL)
    assert len(scripts) == 1 and "SwaggerUIBundle(" in scripts[0] and '"validatorUrl": null' in scripts[0]
    digest = base64.b64encode(hashlib.sha256(scripts[0].encode()).digest()).decode()
    assert f"script-src 'self' 'sha256-{digest}';" in r.headers["content-security-policy"]


@pytest.mark.parametrize("service", SERVICES)
def test_docs_routes_are_public_and_left_out_of_the_openapi_document(service: str,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    app = build(service, monkeypatch)
    for path in ("/docs", "/redoc"):
        assert access.access_of(service, "GET", path).public
    paths = app.openapi()["paths"]
    assert not {p for p in paths if p in ("/docs", "/redoc") or p.startswith("/static-docs")}
    app.state.runtime.check_access_table()  # still complete: the service would start


def test_no_service_code_or_page_names_a_cdn() -> None:
    found = []
    for top in ("services", "servicekit"):
        for path in (ROOT / top).rglob("*"):
            if path.suffix in (".py", ".html", ".j2") and path.is_file():
                text = path.read_text(encoding="utf-8", errors="replace")
                found += [f"{path.relative_to(ROOT)}: {m.group(0)}" for m in CDN.finditer(text)]
    assert found == []


# ---------------------------------------------------------------- in Chromium

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest_asyncio.fixture(loop_scope="session")
async def served(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[str, dict]]:
    """The reply service (the most routes) over real HTTP, without its store or broker."""
    app = build("reply", monkeypatch)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_config=None,
                                           access_log=False))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    yield f"http://127.0.0.1:{port}", app.openapi()
    server.should_exit = True
    await task


@pytest.mark.e2e
async def test_swagger_ui_and_redoc_render_in_chromium_offline(page, served) -> None:  # noqa: ANN001
    base, doc = served
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    operations = sum(len(item) for item in doc["paths"].values())

    await page.goto(f"{base}/docs")
    await page.locator(".opblock").first.wait_for(timeout=20_000)
    assert await page.locator(".opblock").count() == operations
    assert doc["info"]["title"] in await page.locator(".info .title").first.inner_text()
    await shot(page, "docs-swagger-ui", full_page=False)
    assert refused == [], refused
    # Swagger UI reads the identity provider's discovery document (its "Authorize" dialog): the
    # only other origin the page's CSP allows; the IdP is on the agency's network (the test's
    # issuer is not loopback, so the page fixture refused it).
    assert blocked(page) == [f"{tokens.ISSUER}/.well-known/openid-configuration"]
    blocked(page).clear()

    await page.goto(f"{base}/redoc")
    await page.locator("h1").first.wait_for(timeout=20_000)
    assert doc["info"]["title"] in await page.locator("h1").first.inner_text()
    assert await page.locator("[role=menuitem], .menu-content label").count() >= len(doc["paths"]) // 2
    await shot(page, "docs-redoc", full_page=False)
    # ReDoc's sidebar names its maker with a logo from its CDN: the page's CSP refuses it before any
    # request leaves; nothing else is refused.
    assert all("cdn.redoc.ly" in m for m in refused), refused
    assert blocked(page) == []
