"""The vendored front-end files and the real-browser test kit (tests/browser.py).

Offline: the committed htmx, axe-core, Swagger UI and ReDoc files are byte for byte those of the
npm packages the lock pins (deploy/local/assets/manifest.json), and a changed byte is caught.
In Chromium (marked e2e, no stack needed): a page served by the test is clicked, screenshotted and
checked by axe-core, which finds a seeded violation and none on a clean page, even under a strict
Content-Security-Policy; a request to another host is refused; a failing browser test leaves its
screenshot behind.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from deploy.local.assets import vendor
from tests.browser import accessible, axe, blocked, shot

ROOT = Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------- offline

def test_committed_assets_match_the_manifest_and_the_lock() -> None:
    assert vendor.check() == []
    manifest = json.loads(vendor.MANIFEST.read_text(encoding="utf-8"))
    versions = {name: p["version"] for name, p in manifest["packages"].items()}
    assert versions["htmx.org"].startswith("4.") and versions["axe-core"].startswith("4.")
    assert versions["swagger-ui-dist"].startswith("5.") and versions["redoc"].startswith("2.")
    lock = json.loads(vendor.LOCK.read_text(encoding="utf-8"))
    for name, pkg in manifest["packages"].items():  # exact pins, integrity from the lock
        assert lock["packages"][f"node_modules/{name}"]["integrity"] == pkg["tarball_integrity"].strip()
        assert json.loads(vendor.PACKAGE.read_text(encoding="utf-8"))["dependencies"][name] == pkg["version"]
    for f in manifest["files"]:
        assert f["sha384"].startswith("sha384-") and (ROOT / f["dest"]).stat().st_size == f["size"] > 0


def test_a_changed_byte_or_a_missing_file_is_caught(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    manifest = json.loads(vendor.MANIFEST.read_text(encoding="utf-8"))
    for f in manifest["files"]:
        (tmp_path / f["dest"]).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / f["dest"], tmp_path / f["dest"])
    monkeypatch.setattr(vendor, "ROOT", tmp_path)
    assert vendor.check() == []
    htmx = tmp_path / vendor.WEB_VENDOR / "htmx.min.js"
    data = bytearray(htmx.read_bytes())
    data[100] ^= 1  # same size, one bit
    htmx.write_bytes(bytes(data))
    (tmp_path / vendor.DOCS_STATIC / "redoc.standalone.js").unlink()
    problems = vendor.check()
    assert any(p.startswith(f"{vendor.WEB_VENDOR}/htmx.min.js: differs from htmx.org@4") for p in problems), problems
    assert f"{vendor.DOCS_STATIC}/redoc.standalone.js: missing" in problems
    assert vendor.main(["check"]) == 1


def test_the_web_pages_load_htmx_from_us() -> None:
    base = (ROOT / "services" / "web" / "templates" / "base.html").read_text(encoding="utf-8")
    assert re.search(r'<script src="/static/vendor/htmx\.min\.js"[^>]* defer', base)
    assert (ROOT / "services" / "web" / "static" / "vendor" / "htmx.min.js").is_file()
    for template in (ROOT / "services" / "web" / "templates").rglob("*.html"):  # nothing from elsewhere
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", template.read_text(encoding="utf-8")), template


# ---------------------------------------------------------------- in Chromium

CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'"
PAGES = {
    "/clean.html": ("text/html; charset=utf-8", """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>测试页</title>
<link rel="stylesheet" href="/site.css"><script src="/app.js" defer></script></head>
<body><header><h1>测试页</h1></header><main><p id="out">尚未点击</p>
<button type="button" id="go">点击这里</button></main></body></html>"""),
    "/bad.html": ("text/html; charset=utf-8", """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<title>有问题的页</title><link rel="stylesheet" href="/site.css"></head>
<body><main><h1>有问题的页</h1><img src="/pixel.svg"><p class="faint">几乎看不见的文字</p></main></body></html>"""),
    "/outside.html": ("text/html; charset=utf-8", """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<title>外链</title></head><body><main><h1>外链</h1><img alt="外部图片" src="http://192.0.2.1/x.png"></main></body></html>"""),
    "/app.js": ("text/javascript", """document.getElementById("go").addEventListener("click", () => {
  document.getElementById("out").textContent = "已点击";
});"""),
    "/site.css": ("text/css", "body { font: 16px sans-serif; color: #222; background: #fff; } "
                              ".faint { color: #d8d8d8; } button { padding: .5em 1em; }"),
    "/pixel.svg": ("image/svg+xml", '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40">'
                                    '<rect width="40" height="40" fill="#c00"/></svg>'),
}


class _Pages(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        ctype, body = PAGES.get(self.path, ("text/plain", ""))
        data = body.encode()
        self.send_response(200 if body else 404)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        # outside.html lets the browser try another host, so that the fixture's guard is what stops it
        self.send_header("Content-Security-Policy", CSP if self.path != "/outside.html" else "default-src *")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.e2e
@pytest.mark.parametrize("viewport", ["desktop", "phone"])
async def test_a_page_clicked_screenshotted_and_clean_for_axe(page, site: str, viewport: str) -> None:  # noqa: ANN001
    await page.goto(f"{site}/clean.html")
    assert await page.evaluate("document.documentElement.clientWidth") == (1280 if viewport == "desktop" else 390)
    await page.get_by_role("button", name="点击这里").click()
    await page.get_by_text("已点击").wait_for()
    path = await shot(page, "assets-clean")
    assert path.name == f"assets-clean-{viewport}.png" and path.parent.name == "screenshots"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 1000
    assert await accessible(page, "assets-clean") == path  # axe ran despite the page's strict CSP
    assert await page.evaluate("typeof axe.run") == "function"


@pytest.mark.e2e
async def test_axe_finds_the_seeded_violations(page, site: str, tmp_path: Path,  # noqa: ANN001
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GONGKAI_ARTIFACTS", str(tmp_path))  # not among the real pages' artifacts
    await page.goto(f"{site}/bad.html")
    found = await axe(page, "assets-bad")
    by_id = {v["id"]: v for v in found}
    assert by_id["image-alt"]["impact"] == "critical" and by_id["image-alt"]["nodes"][0]["target"] == ["img"]
    assert by_id["color-contrast"]["impact"] == "serious"
    assert "几乎看不见的文字" in by_id["color-contrast"]["nodes"][0]["html"]
    with pytest.raises(AssertionError, match="2 serious/critical accessibility violations"):
        await accessible(page, "assets-bad")
    lines = [json.loads(x) for x in (tmp_path / "axe.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [(x["page"], x["viewport"], x["serious_or_critical"], x["ids"]) for x in lines] == [
        ("assets-bad", "desktop", 2, ["color-contrast", "image-alt"])] * 2
    assert (tmp_path / "screenshots" / "assets-bad-desktop.png").is_file()


@pytest.mark.e2e
async def test_requests_to_other_hosts_are_refused_and_reported(new_page, site: str) -> None:  # noqa: ANN001
    page = await new_page("phone", javascript=False)
    await page.goto(f"{site}/outside.html")
    await page.wait_for_load_state("load")
    assert blocked(page) == ["http://192.0.2.1/x.png"]
    assert await page.evaluate("document.querySelector('img').naturalWidth") == 0
    blocked(page).clear()  # expected here; left in the list it would fail the test at teardown


FAILING = """
async def test_fails_on_a_page(page):
    await page.set_content('<main><h1>出错的页</h1></main>')
    assert await page.title() == 'never'
"""


@pytest.mark.e2e
def test_a_failing_browser_test_leaves_its_screenshot(tmp_path: Path) -> None:
    test_file = tmp_path / "test_inner.py"  # outside tests/: the plugin is loaded with -p
    test_file.write_text(FAILING, encoding="utf-8")
    env = {**os.environ, "GONGKAI_ARTIFACTS": str(tmp_path / "artifacts"), "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.browser",
                          "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(tmp_path), str(test_file)],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180)
    assert run.returncode == 1, run.stdout[-2000:] + run.stderr[-2000:]
    assert "1 failed" in run.stdout
    path = tmp_path / "artifacts" / "screenshots" / "FAILED-test_fails_on_a_page-1-desktop.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 1000, run.stdout[-2000:]
