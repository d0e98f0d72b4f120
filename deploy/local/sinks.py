"""A local mail catcher and webhook receiver, to see the notices the system sends.

``MailSink`` is a real SMTP server (aiosmtpd); ``WebhookSink`` a real HTTP server (uvicorn). Both
keep what they receive in memory and, when given a directory, also as JSON lines on disk. The
tests run them in-process; ``python -m deploy.local.sinks`` runs them for the local stack.
"""

from __future__ import annotations

import argparse
import base64
import email
import hashlib
import email.policy
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import uvicorn
from aiosmtpd.controller import Controller
from fastapi import FastAPI, Request


class _Recorder:
    def __init__(self, path: Path | None) -> None:
        self.items: list[dict[str, Any]] = []
        self.path = path
        self.lock = threading.Lock()

    def add(self, item: dict[str, Any]) -> None:
        with self.lock:
            self.items.append(item)
            if self.path:
                with self.path.open("a", encoding="utf-8") as fh:
                    fh.write(json.dumps(item, ensure_ascii=False) + "\n")

    def snapshot(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.items)


class MailSink:
    """An SMTP server that accepts every message."""

    def __init__(self, host: str = "127.0.0.1", port: int = 2525, directory: Path | None = None) -> None:
        self.recorder = _Recorder(directory / "mail.jsonl" if directory else None)
        self.controller = Controller(self, hostname=host, port=port)
        # Called (in the server's thread) with each message once it is recorded, before the 250 reply:
        # the chaos harness kills the sender there, between the acceptance and its acknowledgement.
        self.before_reply: Callable[[dict[str, Any]], None] | None = None

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: ANN001, N802 - aiosmtpd API
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        body = msg.get_body(preferencelist=("plain",))
        record = {
            "message_id": msg["Message-ID"],
            "to": list(envelope.rcpt_tos),
            "subject": str(msg["Subject"]),
            "body": body.get_content() if body else "",
            # Each attachment: its name, type, size, SHA-256 and bytes (base64), as the recipient gets it.
            "attachments": [{"filename": part.get_filename(), "content_type": part.get_content_type(),
                             "size": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                             "data": base64.b64encode(data).decode()}
                            for part in msg.iter_attachments()
                            for data in [part.get_payload(decode=True) or b""]],
            "at": time.time(),
        }
        self.recorder.add(record)
        hook = self.before_reply
        if hook is not None:
            hook(record)
        return "250 Message accepted for delivery"

    def start(self) -> MailSink:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    @property
    def messages(self) -> list[dict[str, Any]]:
        return self.recorder.snapshot()


class WebhookSink:
    """An HTTP server that records every POST to /hooks/<name>; can be told to fail N times."""

    def __init__(self, host: str = "127.0.0.1", port: int = 8109, directory: Path | None = None) -> None:
        self.recorder = _Recorder(directory / "webhooks.jsonl" if directory else None)
        self.fail_next = 0
        app = FastAPI()

        @app.post("/hooks/{name}")
        async def hook(name: str, request: Request) -> dict:
            if self.fail_next > 0:
                self.fail_next -= 1
                from fastapi import HTTPException

                raise HTTPException(503, "receiver unavailable (simulated)")
            raw = await request.body()
            # The Standard Webhooks headers and the exact body, so that a receiver's check of the
            # signature can be replayed (standardwebhooks.Webhook(secret).verify(body, headers)).
            signed = {k: request.headers[k] for k in ("webhook-id", "webhook-timestamp", "webhook-signature")
                      if k in request.headers}
            self.recorder.add({"hook": name, "idempotency_key": request.headers.get("idempotency-key"),
                               "payload": json.loads(raw), "body": raw.decode("utf-8"), "signature_headers": signed,
                               "at": time.time()})
            return {"ok": True}

        @app.get("/received")
        async def received() -> list[dict]:
            return self.recorder.snapshot()

        self.server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = f"http://{host}:{port}"

    def start(self) -> WebhookSink:
        self.thread.start()
        deadline = time.time() + 10
        while not self.server.started and time.time() < deadline:
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)

    @property
    def requests(self) -> list[dict[str, Any]]:
        return self.recorder.snapshot()


def main() -> None:
    parser = argparse.ArgumentParser(description="Local SMTP catcher and webhook receiver")
    parser.add_argument("--smtp-port", type=int, default=2525)
    parser.add_argument("--http-port", type=int, default=8109)
    parser.add_argument("--dir", type=Path, required=True)
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    mail = MailSink(port=args.smtp_port, directory=args.dir).start()
    hooks = WebhookSink(port=args.http_port, directory=args.dir)
    try:
        hooks.server.run()  # foreground; SIGTERM ends it
    finally:
        mail.stop()


if __name__ == "__main__":
    main()
