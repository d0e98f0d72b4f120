"""Issue 9, webhooks: notify POSTed to ``http://127.0.0.1:<port>/internal-admin`` (SSRF), unsigned.

Now: every delivery is signed per the Standard Webhooks spec with the subscription's own secret;
the destination is checked at send time (every resolved address: loopback, private, link-local
with the metadata address, CGNAT … refused, recorded, not retried, the applicant still gets
e-mail), the request goes to the checked address (a DNS rebind cannot bypass the check),
redirects are never followed, http is refused in production, and NOTIFY_WEBHOOK_ALLOW_HOSTS lets
the local sink through. Local HTTP servers count what reaches them."""

from __future__ import annotations

import http.server
import ipaddress
import re
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import httpx
import pytest
import pytest_asyncio
from pymongo import AsyncMongoClient
from standardwebhooks import Webhook

from services.notify.destinations import AllowList, Refused, blocked
from services.notify.handlers import NoticeHandlers
from services.notify.notices import Dispatcher, NoticeStore
from services.notify.senders import WebhookFailed, WebhookSender
from services.notify.settings import NotifySettings
from tests.notify import samples as s

SECRET = s.WEBHOOK_SECRET


# ---------------------------------------------------------------- a local receiver that counts


@dataclass
class Receiver:
    """A tiny HTTP server on a local address: counts and keeps every request; answers ``status``."""

    host: str = "127.0.0.1"
    status: int = 200
    location: str | None = None
    requests: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                receiver.requests.append({"path": self.path, "headers": dict(self.headers.items()), "body": body})
                self.send_response(receiver.status)
                if receiver.location:
                    self.send_header("Location", receiver.location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST  # noqa: N815 - a followed redirect could arrive as GET

            def log_message(self, *_: object) -> None:
                pass

        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        server_class = type("Server", (http.server.ThreadingHTTPServer,), {"address_family": family})
        self.server = server_class((self.host, 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def netloc(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()


@pytest.fixture
def receiver6() -> Iterator[Receiver]:
    r = Receiver(host="::1")
    yield r
    r.stop()


def counting_client(sender: WebhookSender, seen: list[httpx.Request], status: int = 204) -> None:
    """Replace the sender's connection layer by one that records each request instead of sending it."""

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status)

    sender.client = httpx.AsyncClient(transport=httpx.MockTransport(handle), follow_redirects=False)


PAYLOAD = {"notice_id": "n1:webhook", "case_id": "c1", "kind": "received", "subject": "已收到", "body": "……"}


# ---------------------------------------------------------------- refused destinations


@pytest.mark.asyncio
@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "127.1.2.3", "0.0.0.0", "2130706433", "[::ffff:127.0.0.1]"])
async def test_loopback_destinations_are_refused_and_nothing_reaches_the_server(receiver, host) -> None:  # noqa: ANN001
    sender = WebhookSender(5, production=False)
    with pytest.raises(Refused) as refused:
        await sender.send(url=f"http://{host}:{receiver.port}/internal-admin", payload=PAYLOAD, notice_id="n1",
                          secret=SECRET)
    assert "not allowed" in refused.value.reason and ("loopback" in refused.value.reason
                                                      or "unspecified" in refused.value.reason)
    assert receiver.requests == []
    await sender.close()


@pytest.mark.asyncio
async def test_ipv6_loopback_is_refused(receiver6) -> None:  # noqa: ANN001
    sender = WebhookSender(5, production=False)
    with pytest.raises(Refused, match="loopback"):
        await sender.send(url=f"http://[::1]:{receiver6.port}/", payload=PAYLOAD, notice_id="n1", secret=SECRET)
    assert receiver6.requests == []
    await sender.close()


@pytest.mark.asyncio
@pytest.mark.parametrize(("url", "why"), [
    ("http://10.0.0.1/hook", "private"),
    ("http://172.16.5.4/hook", "private"),
    ("http://192.168.1.1/hook", "private"),
    ("http://169.254.169.254/latest/meta-data/", "cloud metadata"),
    ("http://169.254.1.1/", "link-local"),
    ("http://100.64.0.1/", "CGNAT"),
    ("http://[fd00::1]/", "private"),
    ("http://[fe80::1]/", "link-local"),
    ("http://224.0.0.1/", "multicast"),
    ("http://240.0.0.1/", "reserved"),
    ("http://[64:ff9b::a9fe:a9fe]/", "cloud metadata"),  # NAT64 of 169.254.169.254
])
async def test_private_link_local_metadata_and_other_ranges_are_refused_without_a_connection(url, why) -> None:  # noqa: ANN001
    sender = WebhookSender(5, production=False)
    seen: list[httpx.Request] = []
    counting_client(sender, seen)
    with pytest.raises(Refused) as refused:
        await sender.send(url=url, payload=PAYLOAD, notice_id="n1", secret=SECRET)
    assert why in refused.value.reason
    assert seen == []  # no request was even attempted


@pytest.mark.asyncio
async def test_every_resolved_address_is_checked() -> None:
    """A name with one public and one private address is refused (the private one could be picked)."""

    async def resolver(host: str, port: int, timeout: float) -> list:
        return [ipaddress.ip_address("93.184.216.34"), ipaddress.ip_address("10.1.2.3")]

    sender = WebhookSender(5, production=False, resolver=resolver)
    seen: list[httpx.Request] = []
    counting_client(sender, seen)
    with pytest.raises(Refused, match=r"10\.1\.2\.3.*private"):
        await sender.send(url="http://hooks.example.com/h", payload=PAYLOAD, notice_id="n1", secret=SECRET)
    assert seen == []


@pytest.mark.asyncio
@pytest.mark.parametrize("scheme", ["https", "http"])
async def test_the_request_goes_to_the_checked_address_so_a_rebind_cannot_bypass_the_check(scheme) -> None:  # noqa: ANN001
    """The name resolves to a public address when checked and to 127.0.0.1 afterwards: notify
    connects to the checked address, naming the host in Host (and as the TLS server name)."""
    answers = iter([[ipaddress.ip_address("93.184.216.34")], [ipaddress.ip_address("127.0.0.1")]])

    async def resolver(host: str, port: int, timeout: float) -> list:
        return next(answers)

    sender = WebhookSender(5, production=False, resolver=resolver)
    seen: list[httpx.Request] = []
    counting_client(sender, seen)
    await sender.send(url=f"{scheme}://rebind.example.com:8443/h?x=1", payload=PAYLOAD, notice_id="n1", secret=SECRET)
    [request] = seen
    assert request.url.host == "93.184.216.34" and request.url.port == 8443 and request.url.path == "/h"
    assert request.headers["host"] == "rebind.example.com:8443"
    if scheme == "https":
        assert request.extensions["sni_hostname"] == "rebind.example.com"


@pytest.mark.asyncio
async def test_http_is_refused_in_production_https_is_not(receiver) -> None:  # noqa: ANN001
    sender = WebhookSender(5, production=True, allow=AllowList.parse(f"127.0.0.1:{receiver.port}"))
    with pytest.raises(Refused, match="https required"):
        await sender.send(url=f"http://127.0.0.1:{receiver.port}/h", payload=PAYLOAD, notice_id="n1", secret=SECRET)
    assert receiver.requests == []  # the allow-list does not lift the https rule
    for url in ("ftp://example.com/h", "file:///etc/passwd", "gopher://example.com/"):
        with pytest.raises(Refused):
            await sender.send(url=url, payload=PAYLOAD, notice_id="n1", secret=SECRET)
    seen: list[httpx.Request] = []

    async def resolver(host: str, port: int, timeout: float) -> list:
        return [ipaddress.ip_address("93.184.216.34")]

    https = WebhookSender(5, production=True, resolver=resolver)
    counting_client(https, seen)
    await https.send(url="https://hooks.example.com/h", payload=PAYLOAD, notice_id="n1", secret=SECRET)
    assert len(seen) == 1


@pytest.mark.asyncio
async def test_notify_built_in_production_refuses_http(monkeypatch) -> None:  # noqa: ANN001
    from services.notify.app import build
    from tests.tokens import oidc_env

    for key, value in oidc_env().items():
        monkeypatch.setenv(key, value)
    # What is checked here is notify's webhook wiring, not the deployment's other secrets.
    monkeypatch.setattr("servicekit.secrets.check", lambda *_a, **_k: None)
    monkeypatch.setenv("GONGKAI_ENV", "production")
    app = build(NotifySettings(db_name="t_notify_production"))
    assert app.state.webhook.production is True
    monkeypatch.setenv("GONGKAI_ENV", "development")
    dev = build(NotifySettings(db_name="t_notify_development"))
    assert dev.state.webhook.production is False
    for built in (app, dev):
        await built.state.webhook.close()
        await built.state.runtime.client.close()
    monkeypatch.setenv("NOTIFY_WEBHOOK_ALLOW_HOSTS", "127.0.0.1:8109, not a host/")
    with pytest.raises(ValueError, match="NOTIFY_WEBHOOK_ALLOW_HOSTS"):
        build()


# ---------------------------------------------------------------- the allow-list


def test_allow_list_entries() -> None:
    allow = AllowList.parse("127.0.0.1:8109, sink.local, [::1]:9000, 10.20.0.0/16, LocalHost:7000")
    lo, lo6 = ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")
    assert allow.allows("127.0.0.1", 8109, lo) and not allow.allows("127.0.0.1", 8110, lo)
    assert allow.allows("sink.local", 1234, lo) and allow.allows("SINK.local.", 80, lo)
    assert allow.allows("::1", 9000, lo6) and not allow.allows("::1", 9001, lo6)
    assert allow.allows("x.internal", 443, ipaddress.ip_address("10.20.3.4"))
    assert not allow.allows("x.internal", 443, ipaddress.ip_address("10.21.3.4"))
    assert allow.allows("localhost", 7000, lo) and not allow.allows("localhost", 7001, lo)
    assert AllowList.parse("").allows("localhost", 80, lo) is False
    for bad in ("10.0.0.0/33", "host:99999", "[::1", "a/b:1"):
        with pytest.raises(ValueError):
            AllowList.parse(bad)


def test_every_blocked_range_names_its_reason() -> None:
    assert blocked(ipaddress.ip_address("8.8.8.8")) is None
    assert blocked(ipaddress.ip_address("2606:4700::1111")) is None
    cases = {"127.0.0.1": "loopback", "::1": "loopback", "10.0.0.1": "private", "fc00::1": "private",
             "169.254.169.254": "cloud metadata", "fe80::1": "link-local", "100.64.0.1": "CGNAT",
             "0.0.0.0": "unspecified", "::": "unspecified", "239.1.1.1": "multicast", "ff02::1": "multicast",
             "240.0.0.1": "reserved", "::ffff:10.0.0.1": "private", "2002:7f00:1::1": "loopback",
             "198.18.0.1": "private", "192.0.2.1": "private"}
    for address, why in cases.items():
        assert why in (blocked(ipaddress.ip_address(address)) or ""), address


# ---------------------------------------------------------------- through the dispatcher, on the store


@dataclass
class FakeSmtp:
    sent: list[dict] = field(default_factory=list)

    async def send(self, *, to: str, subject: str, body: str, notice_id: str) -> None:
        self.sent.append({"to": to, "subject": subject})


@dataclass
class Env:
    store: NoticeStore
    handlers: NoticeHandlers
    dispatcher: Dispatcher
    smtp: FakeSmtp
    sender: WebhookSender

    async def deliver(self, url: str, secret: str | None = SECRET) -> dict:
        await self.handlers.on_contact(s.ev(s.contact(webhook=url, secret=secret), "contact"))
        await self.handlers.on_received(s.ev(s.received(), "received"))
        while await self.dispatcher.run_once():
            pass
        [notice] = [d async for d in self.store.notices.find({"case_id": "c1"})]
        return notice


@pytest_asyncio.fixture
async def make_env(store, request: pytest.FixtureRequest) -> AsyncIterator:  # noqa: ANN001, F811
    client = AsyncMongoClient(store.url, tz_aware=True, serverSelectionTimeoutMS=5000)
    made: list[tuple[str, WebhookSender]] = []

    async def make(allow: str = "", max_attempts: int = 8) -> Env:
        name = "sec_" + re.sub(r"[^A-Za-z0-9_]", "_", request.node.name)[:40] + str(len(made))
        await client.drop_database(name)
        settings = NotifySettings(poll_seconds=0.1, max_attempts=max_attempts, backoff_base_seconds=0.0,
                                  backoff_max_seconds=0.0)
        notice_store = NoticeStore(client[name])
        await notice_store.setup()
        sender = WebhookSender(5, production=False, allow=AllowList.parse(allow))
        smtp = FakeSmtp()
        made.append((name, sender))
        return Env(notice_store, NoticeHandlers(notice_store, settings, lambda: None),
                   Dispatcher(notice_store, settings, smtp, sender, lambda: None), smtp, sender)

    try:
        yield make
    finally:
        for name, sender in made:
            await sender.close()
            await client.drop_database(name)
        await client.close()


@pytest.mark.asyncio
async def test_a_refused_destination_is_recorded_not_retried_and_the_email_still_goes(make_env, receiver) -> None:  # noqa: ANN001
    env = await make_env()
    notice = await env.deliver(f"http://localhost:{receiver.port}/internal-admin")
    assert receiver.requests == []
    hook = notice["deliveries"]["webhook"]
    assert hook["status"] == "refused" and "loopback" in hook["refused_reason"] and hook["attempts"] == 1
    assert notice["deliveries"]["email"]["status"] == "delivered" and notice["status"] == "done"
    assert [m["to"] for m in env.smtp.sent] == ["zhang@example.com"]
    assert notice.get("outbox_len", len(notice.get("outbox", []))) == 1  # notice.delivered for the e-mail only
    assert [r["headers"]["ce_type"] for r in notice["outbox"]] == ["cn.gongkai.notice.delivered.v2"]


@pytest.mark.asyncio
async def test_an_allow_listed_sink_receives_a_request_whose_signature_verifies(make_env, receiver) -> None:  # noqa: ANN001
    env = await make_env(allow=f"127.0.0.1:{receiver.port}")
    notice = await env.deliver(f"http://127.0.0.1:{receiver.port}/hooks/h1")
    assert notice["deliveries"]["webhook"]["status"] == "delivered", notice["deliveries"]
    [req] = receiver.requests
    assert req["path"] == "/hooks/h1"
    payload = Webhook(SECRET).verify(req["body"], req["headers"])
    assert payload["case_id"] == "c1" and payload["kind"] == "received"
    headers = {k.lower(): v for k, v in req["headers"].items()}
    # The webhook-id is the stable notice id (the same on every retry), as is the Idempotency-Key.
    assert headers["webhook-id"] == payload["notice_id"] == headers["idempotency-key"] == f"{notice['_id']}:webhook"
    assert headers["webhook-signature"].startswith("v1,")
    assert headers["host"] == f"127.0.0.1:{receiver.port}"
    # Another secret does not verify it; a changed body does not verify.
    with pytest.raises(Exception, match="signature"):
        Webhook("whsec_" + "A" * 32).verify(req["body"], req["headers"])
    with pytest.raises(Exception, match="signature"):
        Webhook(SECRET).verify(req["body"].replace(b"c1", b"c2"), req["headers"])


@pytest.mark.asyncio
async def test_a_webhook_without_a_secret_is_never_sent_unsigned(make_env, receiver) -> None:  # noqa: ANN001
    env = await make_env(allow=f"127.0.0.1:{receiver.port}")
    notice = await env.deliver(f"http://127.0.0.1:{receiver.port}/hooks/h1", secret=None)
    assert receiver.requests == []
    assert notice["deliveries"]["webhook"]["status"] == "refused"
    assert notice["deliveries"]["webhook"]["refused_reason"] == "no signing secret"
    assert [m["to"] for m in env.smtp.sent] == ["zhang@example.com"]


@pytest.mark.asyncio
async def test_a_redirect_is_not_followed(make_env) -> None:  # noqa: ANN001
    target = Receiver()
    try:
        redirector = Receiver(status=302, location=f"http://127.0.0.1:{target.port}/internal-admin")
        try:
            # Both allow-listed: what stops the redirect is not the address check.
            env = await make_env(allow=f"127.0.0.1:{redirector.port},127.0.0.1:{target.port}", max_attempts=2)
            notice = await env.deliver(f"http://127.0.0.1:{redirector.port}/hooks/h1")
            assert len(redirector.requests) == 2  # tried, failed, retried (max_attempts=2), never followed
            assert target.requests == []
            hook = notice["deliveries"]["webhook"]
            assert hook["status"] == "failed" and "302" in hook["last_error"] and "redirect" in hook["last_error"]
            assert [m["to"] for m in env.smtp.sent] == ["zhang@example.com"]
        finally:
            redirector.stop()
    finally:
        target.stop()


@pytest.mark.asyncio
async def test_a_failing_receiver_is_retried_not_refused(receiver) -> None:  # noqa: ANN001
    receiver.status = 503
    sender = WebhookSender(5, production=False, allow=AllowList.parse(f"127.0.0.1:{receiver.port}"))
    with pytest.raises(WebhookFailed, match="503"):
        await sender.send(url=f"http://127.0.0.1:{receiver.port}/h", payload=PAYLOAD, notice_id="n1", secret=SECRET)
    assert len(receiver.requests) == 1
    await sender.close()
