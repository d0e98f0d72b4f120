"""The other services' HTTP APIs, as the web service calls them: with the signed-in officer's
access token (relayed, never one of its own), or with none for what the public may see."""

from __future__ import annotations

from typing import Any

import httpx

from services.web.settings import WebSettings

SERVICES = ("intake", "routing", "reply", "notify", "audit")


class Backends:
    def __init__(self, settings: WebSettings) -> None:
        self.urls = {name: getattr(settings, f"{name}_url").rstrip("/") for name in SERVICES}
        self.http = httpx.AsyncClient(timeout=settings.backend_timeout_seconds, follow_redirects=False)

    async def request(self, method: str, service: str, path: str, *, token: str | None = None,
                      **kw: Any) -> httpx.Response:  # noqa: ANN401
        headers = dict(kw.pop("headers", None) or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return await self.http.request(method, self.urls[service] + path, headers=headers, **kw)

    async def get(self, service: str, path: str, *, token: str | None = None, **kw: Any) -> httpx.Response:  # noqa: ANN401
        return await self.request("GET", service, path, token=token, **kw)

    async def post(self, service: str, path: str, *, token: str | None = None, **kw: Any) -> httpx.Response:  # noqa: ANN401
        return await self.request("POST", service, path, token=token, **kw)

    async def close(self) -> None:
        await self.http.aclose()
