"""Delivery adapters: e-mail over SMTP (aiosmtplib) and webhooks (httpx).

Each notice carries a stable identity to the receiver (``Message-ID`` for e-mail; for webhooks
``webhook-id`` and ``Idempotency-Key``, both the notice's id), so that a webhook redelivered after a
crash in the instant between a successful send and its record is recognised by the receiver.

E-mail is sent in two phases (``SmtpSender.send``): the envelope and the whole content go to the
server first; then ``commit`` is awaited (the dispatcher records the delivery as ``committing``
in the store), and only then the end-of-data (``<CRLF>.<CRLF>``) that makes the server take the
message, whose final reply (250, often with the server's queue id) is returned. A server that
loses the connection before the end of data discards the message (RFC 5321 §4.1.1.4), so a crash
before the commit is recorded can safely be retried; from the end of data until the reply is
recorded the outcome is unknown (RFC 1047), and ``SmtpUncertain`` says so if the conversation
breaks in that instant.

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
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

import aiosmtplib
import httpx
from aiosmtplib.email import flatten_message
from aiosmtplib.protocol import PERIOD_REGEX, normalize_message_line_endings
from aiosmtplib.status import SMTPStatus
from standardwebhooks import Webhook

from services.notify.destinations import AllowList, IPAddress, Refused, Target, check_addresses, check_scheme
from services.notify.faults import NONE as NO_FAULTS
from services.notify.faults import Faults


Commit = Callable[[], Awaitable[None]]


class SmtpUncertain(Exception):
    """The end of data was sent but no reply read: the server may or may not have taken the message."""


def message_id(notice_id: str) -> str:
    """The e-mail's Message-ID: the delivery key (``<notice id>:email``) as a valid dot-atom (a colon
    is not allowed there; mail parsers cut the id at it)."""
    return f"<{notice_id.replace(':', '.')}@gongkai.notify>"


class SmtpSender:
    def __init__(self, host: str, port: int, mail_from: str, timeout: float, faults: Faults = NO_FAULTS) -> None:
        self.host, self.port, self.mail_from, self.timeout = host, port, mail_from, timeout
        self.faults = faults

    def message(self, *, to: str, subject: str, body: str, notice_id: str,
                attachments: Sequence[Any] = ()) -> EmailMessage:  # noqa: ANN401 - documents.Attachment
        msg = EmailMessage()
        msg["From"] = self.mail_from
        msg["To"] = to
        msg["Subject"] = subject
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = message_id(notice_id)
        msg.set_content(body, charset="utf-8")
        for a in attachments:  # the step's document (PDF), its name in RFC 2231 encoding
            maintype, _, subtype = a.media_type.partition("/")
            msg.add_attachment(a.data, maintype=maintype, subtype=subtype, filename=a.filename)
        return msg

    # ``send`` awaits ``commit`` itself, just before the end of data (an e-mail sender without this
    # attribute is one-shot: the dispatcher records the commit before calling it).
    two_phase = True

    async def send(self, *, to: str, subject: str, body: str, notice_id: str, commit: Commit,
                   attachments: Sequence[Any] = ()) -> str:  # noqa: ANN401
        """One SMTP transaction; ``commit`` is awaited just before the end of data. Returns the
        server's final reply ("250 ..."). Raises ``SmtpUncertain`` when the conversation broke
        after the end of data, another error when the server did not take the message."""
        msg = self.message(to=to, subject=subject, body=body, notice_id=notice_id, attachments=attachments)
        smtp = aiosmtplib.SMTP(hostname=self.host, port=self.port, timeout=self.timeout)
        await smtp.connect()
        in_data = False  # between DATA and the end of data, a QUIT would be taken as content
        try:
            if smtp.is_ehlo_or_helo_needed:
                await smtp.ehlo()
            eight_bit = smtp.supports_extension("8BITMIME")
            await smtp.mail(self.mail_from, options=["BODY=8BITMIME"] if eight_bit else [])
            await smtp.rcpt(to)
            start = await smtp.execute_command(b"DATA")
            if start.code != SMTPStatus.start_input:
                raise aiosmtplib.SMTPDataError(start.code, start.message)
            content = PERIOD_REGEX.sub(b"..", normalize_message_line_endings(
                flatten_message(msg, utf8=False, cte_type="8bit" if eight_bit else "7bit")))
            if not content.endswith(b"\r\n"):
                content += b"\r\n"
            protocol = smtp.protocol
            if protocol is None:
                raise aiosmtplib.SMTPServerDisconnected("Connection lost")
            in_data = True
            protocol.write(content)
            self.faults.reached("notify.before_commit", to)
            await commit()  # recorded as committing: from here on, never sent again blindly
            self.faults.reached("notify.after_commit", to)
            protocol.write(b".\r\n")  # raises if the connection is gone: then never sent, safe to retry
            in_data = False
            try:
                reply = await protocol.read_response(timeout=self.timeout)
            except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, OSError) as exc:
                raise SmtpUncertain(f"no reply to the end of data: {exc!r}") from exc
            if reply.code != SMTPStatus.completed:
                raise aiosmtplib.SMTPDataError(reply.code, reply.message)
            self.faults.reached("notify.after_send", to)
            return f"{reply.code} {reply.message}"[:300]
        finally:
            if in_data:  # never ended: dropping the connection makes the server discard the message
                smtp.close()
            else:
                try:
                    await smtp.quit()
                except Exception:  # noqa: BLE001 - the message's fate is decided; the goodbye does not matter
                    smtp.close()


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
