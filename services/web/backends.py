"""The other services' HTTP APIs, as the web service calls them: with the signed-in officer's
access token (relayed, never one of its own), or with none for what the public may see."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
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


SERVICE_ZH = {"intake": "受理", "routing": "分办", "reply": "答复", "notify": "通知", "audit": "审计"}


@dataclass
class ApiResult:
    """An API's answer as the pages use it: status, JSON body (or None), the refusal's message."""

    status: int
    body: Any  # noqa: ANN401
    raw: httpx.Response | None = None
    # Names a field of a 422 (the API's dotted path) as the page labels it.
    label: Callable[[str], str] = field(default=str, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def message(self) -> str:
        """The API's Chinese message: its ``detail``, and for a 422 each field's message."""
        body = self.body
        if isinstance(body, dict):
            errors = [e for e in body.get("errors") or [] if isinstance(e, dict)]
            if errors:
                return "；".join(f"{self.label(str(e.get('field') or ''))}：{e.get('message')}" for e in errors)
            detail = body.get("detail")
            if isinstance(detail, str) and detail:
                return detail
        return f"操作未能完成（{self.status}）"

    def field_errors(self) -> dict[str, str]:
        """Each field's first message, by the API's dotted field path."""
        out: dict[str, str] = {}
        if isinstance(self.body, dict):
            for e in self.body.get("errors") or []:
                if isinstance(e, dict) and e.get("field"):
                    out.setdefault(str(e["field"]), str(e.get("message") or "输入无效"))
        return out


async def call(backends: Backends, method: str, service: str, path: str, token: str | None, *,
               label: Callable[[str], str] = str, **kw: Any) -> ApiResult:  # noqa: ANN401
    """One API call; a service out of reach is a 503 with a Chinese message, not an exception."""
    try:
        resp = await backends.request(method, service, path, token=token, **kw)
    except httpx.HTTPError:
        return ApiResult(503, {"detail": f"{SERVICE_ZH.get(service, service)}服务暂时不可用，请稍后重试"}, label=label)
    try:
        body = resp.json()
    except ValueError:
        body = None
    return ApiResult(resp.status_code, body, resp, label=label)
