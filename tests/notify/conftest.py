"""The private store (tests/store_fixture.py, started through deploy/local/infra.sh) and notify's
handlers and dispatcher on a database of their own with fake senders (``env``)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest
import pytest_asyncio
from pymongo import AsyncMongoClient

from services.notify.handlers import NoticeHandlers
from services.notify.notices import Dispatcher, NoticeStore
from services.notify.settings import NotifySettings


@dataclass
class FakeSmtp:
    """A two-phase e-mail sender, as ``SmtpSender``: ``commit`` before the server takes the message."""

    sent: list[dict] = field(default_factory=list)
    fail_next: int = 0  # the server refuses the next N messages (nothing taken)
    two_phase = True

    async def send(self, *, to: str, subject: str, body: str, notice_id: str,
                   commit: Callable[[], Awaitable[None]]) -> str:
        if self.fail_next > 0:
            self.fail_next -= 1
            raise ConnectionError("451 try again later (simulated)")
        await commit()
        self.sent.append({"to": to, "subject": subject, "body": body, "id": notice_id})
        return f"250 2.0.0 Ok: queued as Q{len(self.sent)}"


@dataclass
class FakeWebhook:
    sent: list[dict] = field(default_factory=list)

    async def send(self, *, url: str, payload: dict, notice_id: str, secret: str) -> None:
        self.sent.append({"url": url, "payload": payload, "id": notice_id, "secret": secret})


@dataclass
class Env:
    store: NoticeStore
    handlers: NoticeHandlers
    dispatcher: Dispatcher
    smtp: FakeSmtp
    webhook: FakeWebhook
    settings: NotifySettings

    async def drain(self) -> None:
        while await self.dispatcher.run_once():
            pass

    async def notices(self, case_id: str = "c1") -> list[dict]:
        return [d async for d in self.store.notices.find({"case_id": case_id})]

    def restarted(self, **settings: object) -> Dispatcher:
        """A new dispatcher on the same store: the process restarted (same instance, new process)."""
        return Dispatcher(self.store, self.settings.model_copy(update=settings), self.smtp, self.webhook,
                          lambda: None, owner="notify-test")


@pytest_asyncio.fixture
async def env(store, request: pytest.FixtureRequest) -> AsyncIterator[Env]:  # noqa: F811
    client = AsyncMongoClient(store.url, tz_aware=True, serverSelectionTimeoutMS=5000)
    name = "t_" + re.sub(r"[^A-Za-z0-9_]", "_", request.node.name)[:50]
    await client.drop_database(name)
    settings = NotifySettings(officer_emails={"ogi": "gkb@yn.gov.cn"}, poll_seconds=0.1, backoff_base_seconds=0.0,
                              backoff_max_seconds=0.0)
    notice_store = NoticeStore(client[name])
    await notice_store.setup()
    smtp, webhook = FakeSmtp(), FakeWebhook()
    e = Env(notice_store, NoticeHandlers(notice_store, settings, lambda: None),
            Dispatcher(notice_store, settings, smtp, webhook, lambda: None, owner="notify-test"), smtp, webhook,
            settings)
    try:
        yield e
    finally:
        await client.drop_database(name)
        await client.close()
