"""The two-phase SMTP sender against a real SMTP server (aiosmtpd, deploy/local/sinks.py): the
commit comes after the server has the whole content and before it takes the message; a commit that
fails leaves nothing at the server; the server's final reply is returned."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import pytest

from deploy.local.sinks import MailSink
from services.notify.senders import SmtpSender

pytestmark = pytest.mark.asyncio


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def sink() -> Iterator[tuple[MailSink, SmtpSender]]:
    port = free_port()
    mail = MailSink(port=port).start()
    try:
        yield mail, SmtpSender("127.0.0.1", port, "gongkai@localhost", 5.0)
    finally:
        mail.stop()


async def test_the_commit_comes_before_the_server_takes_the_message_and_its_reply_is_returned(sink):
    mail, sender = sink
    seen = []

    async def commit() -> None:
        await asyncio.sleep(0.3)  # the content has long reached the server
        seen.append(len(mail.messages))

    reply = await sender.send(to="zhang@example.com", subject="政府信息公开申请已登记（受理编号 X-1）",
                              body="您好！您的申请已登记。", notice_id="n1:email", commit=commit)
    assert seen == [0]  # the server had the content but had not taken the message
    assert reply.startswith("250")
    [m] = mail.messages
    assert m["message_id"] == "<n1.email@gongkai.notify>" and m["to"] == ["zhang@example.com"]
    assert m["subject"] == "政府信息公开申请已登记（受理编号 X-1）" and "您的申请已登记" in m["body"]


async def test_a_failed_commit_leaves_nothing_at_the_server_and_the_next_try_sends_one(sink):
    mail, sender = sink

    async def down() -> None:
        raise ConnectionError("store down (simulated)")

    with pytest.raises(ConnectionError):
        await sender.send(to="zhang@example.com", subject="s", body="b", notice_id="n2:email", commit=down)
    await asyncio.sleep(0.3)
    assert mail.messages == []  # no end of data: the server discarded it

    async def ok() -> None:
        return None

    assert (await sender.send(to="zhang@example.com", subject="s", body="b", notice_id="n2:email",
                              commit=ok)).startswith("250")
    assert len(mail.messages) == 1


async def test_a_line_of_a_single_dot_does_not_end_the_message(sink):
    mail, sender = sink

    async def ok() -> None:
        return None

    await sender.send(to="zhang@example.com", subject="s", body="first\n.\n.second\nlast", notice_id="n3:email",
                      commit=ok)
    [m] = mail.messages
    assert m["body"].splitlines() == ["first", ".", ".second", "last"]
