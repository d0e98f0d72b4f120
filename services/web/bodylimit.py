"""A cap on the size of a request body, applied before anything reads it.

The pages' forms are parsed (by the CSRF check, then the page) with Starlette's multipart parser,
which spools file parts to disk: without a cap, one large upload would fill the disk before any
handler could refuse it. The cap is the largest form a page takes — a department's material
(≤ 20 MiB) or an applicant's attachments (≤ 20 MiB in all) — plus room for the other fields. A
declared ``Content-Length`` above it is refused at once (413, a Chinese page); a body sent without
one (chunked) is counted as it arrives and cut off at the cap."""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 21 * 1024 * 1024
PAGE = ("<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>文件过大</title></head>"
        "<body><main><h1>提交的内容过大</h1><p>一次提交的文件合计不能超过 20 MiB。请减少或压缩文件后重新提交。</p>"
        "<p><a href=\"/\">返回首页</a></p></main></body></html>").encode()


class TooLarge(Exception):
    pass


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise TooLarge
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except TooLarge:
            if not started:
                await self._refuse(send)

    @staticmethod
    async def _refuse(send: Send) -> None:
        headers: list[Any] = [(b"content-type", b"text/html; charset=utf-8"),
                              (b"content-length", str(len(PAGE)).encode()), (b"connection", b"close")]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": PAGE})
