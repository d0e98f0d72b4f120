"""``SmppSender._await_response`` (issue #17 review): the wait for a part's ``submit_sm_resp``
is not declared timed out while the response is already readable — recording a receipt that
came before it may take longer than the timeout (the store slow) — and once past the deadline a
receipt is answered ESME_RX_T_APPN at once (the SMSC sends it again) so that the wait ends. The
sender's thread-side code driven directly, with an SMSC stand-in on a socket pair (smpplib reads
the socket unbuffered: one byte per PDU waiting makes it readable exactly while one is)."""

from __future__ import annotations

import asyncio
import socket
import time
from dataclasses import dataclass
from typing import Any

import pytest
from smpplib import consts

from services.notify.sms import ESME_RX_T_APPN, Receipt, SmppSender

pytestmark = pytest.mark.asyncio

TIMEOUT = 0.3


@dataclass
class Pdu:
    command: str
    sequence: int
    esm_class: int = 0
    short_message: bytes = b""
    receipted_message_id: Any = None  # noqa: ANN401
    message_state: Any = None  # noqa: ANN401
    status: int = 0

    def is_error(self) -> bool:
        return self.status != 0


def receipt_pdu(mid: str, sequence: int) -> Pdu:
    text = f"id:{mid} sub:001 dlvrd:001 submit date:2612040200 done date:2612040201 stat:DELIVRD err:000 text:"
    return Pdu("deliver_sm", sequence, esm_class=0x04, short_message=text.encode())


class Center:
    """What the SMSC wrote and what we answered."""

    def __init__(self) -> None:
        self._socket, self.far = socket.socketpair()
        self.waiting: list[Pdu] = []
        self.answers: list[Any] = []
        self.sequence = 1

    def arrives(self, *pdus: Pdu) -> None:
        self.waiting.extend(pdus)
        self.far.send(b"x" * len(pdus))

    def read_pdu(self) -> Pdu:
        self._socket.recv(1)
        return self.waiting.pop(0)

    def send_pdu(self, pdu: Any) -> None:  # noqa: ANN401
        self.answers.append(pdu)

    def next_sequence(self) -> int:
        self.sequence += 1
        return self.sequence

    def close(self) -> None:
        self._socket.close()
        self.far.close()


async def sender_on(center: Center, record_seconds: float) -> tuple[SmppSender, list[Receipt]]:
    recorded: list[Receipt] = []

    async def on_receipt(r: Receipt) -> None:
        await asyncio.sleep(record_seconds)  # the store is slow
        recorded.append(r)

    sender = SmppSender("127.0.0.1", 1, "gongkai", "pw", timeout=TIMEOUT)
    sender.client = center  # type: ignore[assignment]
    sender.loop = asyncio.get_running_loop()
    sender.on_receipt = on_receipt
    return sender, recorded


async def test_a_response_waiting_behind_a_slow_receipt_is_not_a_timeout():
    center = Center()
    try:
        sender, recorded = await sender_on(center, record_seconds=TIMEOUT * 2)
        center.arrives(receipt_pdu("m1", 70), Pdu("submit_sm_resp", 5))
        started = time.monotonic()
        resp = await asyncio.to_thread(sender._await_response, 5)  # noqa: SLF001
        assert resp.command == "submit_sm_resp" and resp.sequence == 5
        assert time.monotonic() - started >= TIMEOUT * 2  # the deadline passed while the receipt was recorded
        assert [r.message_id for r in recorded] == ["m1"]
        [ack] = center.answers
        assert ack.command == "deliver_sm_resp" and ack.sequence == 70 and ack.status == consts.SMPP_ESME_ROK
    finally:
        center.close()


async def test_past_the_deadline_a_receipt_is_answered_at_once_for_the_smsc_to_send_again():
    center = Center()
    try:
        sender, recorded = await sender_on(center, record_seconds=TIMEOUT * 2)
        center.arrives(receipt_pdu("m1", 70), receipt_pdu("m2", 71), Pdu("submit_sm_resp", 5))
        started = time.monotonic()
        resp = await asyncio.to_thread(sender._await_response, 5)  # noqa: SLF001
        assert resp.sequence == 5 and time.monotonic() - started < TIMEOUT * 3  # m2 was not recorded
        assert [r.message_id for r in recorded] == ["m1"]
        assert [(a.sequence, a.status) for a in center.answers] == [(70, consts.SMPP_ESME_ROK), (71, ESME_RX_T_APPN)]
    finally:
        center.close()


async def test_nothing_readable_is_a_timeout_at_the_deadline():
    center = Center()
    try:
        sender, _ = await sender_on(center, record_seconds=0)
        center.arrives(Pdu("enquire_link", 9))  # answered, then nothing more comes
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            await asyncio.to_thread(sender._await_response, 5)  # noqa: SLF001
        assert TIMEOUT * 0.9 <= time.monotonic() - started < TIMEOUT * 2
        assert [a.command for a in center.answers] == ["enquire_link_resp"]
    finally:
        center.close()
