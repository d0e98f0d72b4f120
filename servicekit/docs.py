"""``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) of a service, working without the internet.

FastAPI's own docs pages load Swagger UI and ReDoc from a CDN; ours load the copies vendored from
npm (``servicekit/static/``, checked against ``deploy/local/assets/manifest.json``) from
``/static-docs``. The two pages are public (contracts/access.py, ops routes) and left out of the
OpenAPI document. Their Content-Security-Policy lets the page fetch nothing from another origin
(the identity provider aside, for Swagger UI's "Authorize"), so an asset that tried to reach the
internet (ReDoc's sidebar logo, say) is refused by the browser instead of hanging offline.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).resolve().parent / "static"
PREFIX = "/static-docs"
SWAGGER_JS = f"{PREFIX}/swagger-ui-bundle.js"
SWAGGER_CSS = f"{PREFIX}/swagger-ui.css"
REDOC_JS = f"{PREFIX}/redoc.standalone.js"
FAVICON = f"{PREFIX}/favicon-32x32.png"

_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def _csp(html: str, connect: str) -> str:
    """A policy allowing our own scripts and exactly this page's inline script (by hash)."""
    hashes = " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'"
                      for s in _INLINE_SCRIPT.findall(html))
    return ("default-src 'none'; "
            f"script-src 'self' {hashes}".rstrip() + "; "
            "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; "
            f"connect-src 'self' {connect}".rstrip() + "; "
            "worker-src 'self' blob:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def _page(html: HTMLResponse, connect: str) -> tuple[str, dict[str, str]]:
    body = bytes(html.body).decode()
    return body, {"Content-Security-Policy": _csp(body, connect), "X-Content-Type-Options": "nosniff",
                  "Cache-Control": "no-cache"}


def install(app: FastAPI, title: str, issuer: str = "") -> None:
    """Serve ``/docs``, ``/redoc`` and their assets (``/static-docs``) on ``app``; FastAPI's own
    docs routes must be off (``docs_url=None, redoc_url=None``)."""
    parts = urlsplit(issuer)
    idp = f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") and parts.netloc else ""
    openapi_url = app.openapi_url or "/openapi.json"
    app.mount(PREFIX, StaticFiles(directory=STATIC), name="static-docs")
    # Built once: the pages depend only on the title and the OpenAPI address.
    swagger_body, swagger_headers = _page(get_swagger_ui_html(
        openapi_url=openapi_url, title=f"{title} - Swagger UI", swagger_js_url=SWAGGER_JS,
        swagger_css_url=SWAGGER_CSS, swagger_favicon_url=FAVICON,
        # No online validator badge (it would send the document to validator.swagger.io).
        swagger_ui_parameters={"validatorUrl": None}), idp)
    redoc_body, redoc_headers = _page(get_redoc_html(
        openapi_url=openapi_url, title=f"{title} - ReDoc", redoc_js_url=REDOC_JS, redoc_favicon_url=FAVICON,
        with_google_fonts=False), "")

    @app.get("/docs", include_in_schema=False, response_class=HTMLResponse)
    async def swagger_ui() -> HTMLResponse:
        return HTMLResponse(swagger_body, headers=swagger_headers)

    @app.get("/redoc", include_in_schema=False, response_class=HTMLResponse)
    async def redoc_ui() -> HTMLResponse:
        return HTMLResponse(redoc_body, headers=redoc_headers)
