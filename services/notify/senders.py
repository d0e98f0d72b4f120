"""Delivery adapters: e-mail over SMTP (aiosmtplib) and webhooks (httpx).

Each notice carries a stable identity to the receiver (``Message-ID`` for e-mail; for webhooks
``webhook-id`` and ``Idempotency-Key``, both the notice's id), so that even the redelivery after a
crash in the instant between a successful send and its record can be recognised by the receiver.

Webhooks are signed per the Standard Webhooks spec (``standardwebhooks``: ``webhook-id``,
``webhook-timestamp``, ``webhook-signature`` = ``v1,<HMAC-SHA256 of id.timestamp.body>``) with the
subscription's own secret. The destination is checked at send time (``destinations``): the host
is resolved, every address checked, and the request goes to the checked address itself (the URL's
host is sent as ``Host`` and, for https, as the TLS server name, against which the certificate is
verified), so a DNS rebind between the check and the connection cannot bypass the check. No proxy
from the environment, no redirects (a 3xx is a failed delivery), no kept-alive connections.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

import aiosmtplib
import httpx
from standardwebhooks import Webhook

from services.notify.destinations import AllowList, IPAddress, Refused, Target, check_addresses, check_scheme


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


class WebhookFailed(Exception):
    """The receiver did not take the webhook (retried with backoff)."""


def signature_headers(secret: str, msg_id: str, body: str, at: datetime | None = None) -> dict[str, str]:
    """The Standard Webhooks headers of one message (raises ``Refused`` for an unusable secret)."""
    try:
        hook = Webhook(secret)
    except Exception as exc:  # noqa: BLE001 - not base64, empty …: never send unsigned
        raise Refused("signing secret unusable") from exc
    at = at or datetime.now(UTC)
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": hook.sign(msg_id, at, body)}


async def resolve(host: str, port: int, timeout: float) -> list[IPAddress]:
    """Every address of a host (an address stays itself), in the resolver's order, without duplicates."""
    loop = asyncio.get_running_loop()
    infos = await asyncio.wait_for(
        loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP), timeout)
    out: list[IPAddress] = []
    for *_, sockaddr in infos:
        ip = ipaddress.ip_address(str(sockaddr[0]))
        if ip not in out:
            out.append(ip)
    return out


class WebhookSender:
    def __init__(self, timeout: float, *, production: bool = True, allow: AllowList | None = None,
                 resolver: Any = None) -> None:  # noqa: ANN401 - async (host, port, timeout) -> addresses
        self.timeout = timeout
        self.production = production
        self.allow = allow or AllowList()
        self.resolver = resolver or resolve
        self.client = httpx.AsyncClient(timeout=timeout, follow_redirects=False, trust_env=False,
                                        limits=httpx.Limits(max_keepalive_connections=0))

    def target(self, url: str) -> tuple[httpx.URL, Target]:
        try:
            parsed = httpx.URL(url)
            host = parsed.raw_host.decode("ascii")
        except (httpx.InvalidURL, UnicodeError, ValueError) as exc:
            raise Refused("invalid URL") from exc
        return parsed, check_scheme(parsed.scheme, host, parsed.port, self.production)

    async def send(self, *, url: str, payload: dict, notice_id: str, secret: str) -> None:
        """POST the signed payload, or raise ``Refused`` (never to be sent) / another error (retry)."""
        parsed, target = self.target(url)
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        headers = {**signature_headers(secret, notice_id, body), "Idempotency-Key": notice_id,
                   "Content-Type": "application/json", "Host": parsed.netloc.decode("ascii")}
        try:
            addresses = await self.resolver(target.host, target.port, self.timeout)
        except (OSError, TimeoutError) as exc:  # no answer now: perhaps later
            raise WebhookFailed(f"{target.host} not resolved: {type(exc).__name__}") from exc
        ip = check_addresses(target, addresses, self.allow)
        pinned = parsed.copy_with(host=str(ip))
        extensions: dict[str, Any] = {}
        if target.scheme == "https":
            extensions["sni_hostname"] = target.host  # the certificate is verified against the name
        resp = await self.client.post(pinned, content=body.encode("utf-8"), headers=headers, extensions=extensions)
        if resp.is_redirect or 300 <= resp.status_code < 400:
            raise WebhookFailed(f"HTTP {resp.status_code}: redirect not followed")
        if resp.status_code >= 400:
            raise WebhookFailed(f"HTTP {resp.status_code}")

    async def close(self) -> None:
        await self.client.aclose()
