"""The web service's cap on request bodies (services/web/bodylimit.py): a body over it is refused
with 413 and a Chinese page before any handler reads it, whether its size is declared or not."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from services.web.bodylimit import BodyLimit

CAP = 1000


def app_with_a_form() -> tuple[FastAPI, list[int]]:
    app = FastAPI()
    read: list[int] = []

    @app.post("/upload")
    async def upload(request: Request) -> dict:
        body = await request.body()
        read.append(len(body))
        return {"size": len(body)}

    app.add_middleware(BodyLimit, max_bytes=CAP)
    return app, read


def test_a_declared_size_over_the_cap_is_refused_before_the_handler() -> None:
    app, read = app_with_a_form()
    resp = TestClient(app).post("/upload", content=b"x" * (CAP + 1))
    assert resp.status_code == 413 and "合计不能超过 20 MiB" in resp.text
    assert resp.headers["content-type"].startswith("text/html") and read == []


def test_a_chunked_body_is_cut_off_at_the_cap() -> None:
    app, read = app_with_a_form()

    def chunks():  # no Content-Length: the middleware counts
        for _ in range(5):
            yield b"y" * 400

    resp = TestClient(app).post("/upload", content=chunks())
    assert resp.status_code == 413 and read == []


def test_a_body_within_the_cap_passes_whole() -> None:
    app, read = app_with_a_form()
    resp = TestClient(app).post("/upload", content=b"z" * CAP)
    assert resp.status_code == 200 and resp.json() == {"size": CAP} and read == [CAP]
