"""Delivery adapters: e-mail over SMTP (aiosmtplib) and webhooks (httpx).

Each notice carries a stable identity to the receiver (``Message-ID`` for e-mail,
``Idempotency-Key`` for webhooks), so that even the redelivery after a crash in the instant
between a successful send and its record can be recognised by the receiver.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib
import httpx


class SmtpSender:
    def __init__(self, host: str, port: int, mail_from: str, timeout: float) -> None:
        self.host, self.port, self.mail_from, self.timeout = host, port, mail_from, timeout

    async def send(self, *, to: str, subject: str, body: str, notice_id: str) -> None:
        msg = EmailMessage()
        msg["From"] = self.mail_from
        msg["To"] = to
        msg["Subject"] = subject
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = f"<{notice_id}@gongkai.notify>"
        msg.set_content(body, charset="utf-8")
        await aiosmtplib.send(msg, hostname=self.host, port=self.port, timeout=self.timeout)


class WebhookSender:
    def __init__(self, timeout: float) -> None:
        self.client = httpx.AsyncClient(timeout=timeout)

    async def send(self, *, url: str, payload: dict, notice_id: str) -> None:
        resp = await self.client.post(url, json=payload, headers={"Idempotency-Key": notice_id})
        resp.raise_for_status()

    async def close(self) -> None:
        await self.client.aclose()
