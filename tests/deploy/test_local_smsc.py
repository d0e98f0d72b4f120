"""The local SMSC (deploy/local/smsc/smsc.mjs on the npm package smpp, wrapped by deploy/local/smsc.py),
spoken to over real SMPP 3.4 with smpplib: it checks the account, answers each submit_sm with a
message id, records every part, reassembles concatenated messages in order, and sends delivery
receipts — queued while no receiving session is bound, and UNDELIV for the numbers told to fail."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
from smpplib import consts
from smpplib import exceptions as smpp_errors
from smpplib import smpp
from smpplib.client import Client

from deploy.local.smsc import Smsc, reassemble
from services.notify.sms import parse_receipt, split


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smsc(tmp_path: Path):
    center = Smsc(directory=tmp_path / "smsc", port=free_port(), receipt_delay_ms=100).start()
    yield center
    center.stop()


def client(center: Smsc, *, password: str | None = None, mode: str = "transceiver") -> Client:
    c = Client(center.host, center.port, timeout=5, allow_unknown_opt_params=True)
    c.connect()
    getattr(c, f"bind_{mode}")(system_id=center.system_id, password=center.password if password is None else password)
    return c


def submit(c: Client, text: str, to: str = "13800138000", source: str = "10690042") -> list[str]:
    """Submit every part in order; the message ids from the responses."""
    parts = split(text)
    ids = []
    for payload in parts.payloads:
        pdu = c.send_message(source_addr_ton=consts.SMPP_TON_UNK, source_addr=source, dest_addr_ton=consts.SMPP_TON_UNK,
                             destination_addr=to, short_message=payload, data_coding=parts.data_coding,
                             esm_class=parts.esm_class, registered_delivery=1)
        resp = c.read_pdu()
        assert resp.command == "submit_sm_resp" and resp.sequence == pdu.sequence and not resp.is_error()
        ids.append(resp.message_id.decode())
    return ids


def receipts(c: Client, n: int, timeout: float = 5.0) -> list:
    """Read ``n`` deliver_sm receipts, acknowledging each."""
    got = []
    deadline = time.time() + timeout
    while len(got) < n and time.time() < deadline:
        pdu = c.read_pdu()
        if pdu.command != "deliver_sm":
            continue
        got.append(pdu)
        ack = smpp.make_pdu("deliver_sm_resp", client=c)
        ack.sequence = pdu.sequence
        c.send_pdu(ack)
    return got


def test_a_wrong_password_is_refused(smsc):
    with pytest.raises(smpp_errors.PDUError) as refused:
        client(smsc, password="nope")
    assert refused.value.args[1] == consts.SMPP_ESME_RINVPASWD


def test_parts_are_recorded_and_reassembled_in_order_with_their_receipts(smsc):
    c = client(smsc)
    long_text = "您的政府信息公开申请已作出答复，请凭受理编号和查询码查看。" * 5  # 150 characters: 3 parts
    ids = submit(c, long_text)
    short_ids = submit(c, "您的申请已登记。", to="13900139000")
    assert len(ids) == 3 and len(set(ids + short_ids)) == 4
    got = receipts(c, 4)
    c.unbind()
    c.disconnect()
    parts = smsc.submits
    assert [p["message_id"] for p in parts] == ids + short_ids
    assert [(p["udh"]["total"], p["udh"]["seq"]) for p in parts[:3]] == [(3, 1), (3, 2), (3, 3)]
    assert len({p["udh"]["ref"] for p in parts[:3]}) == 1 and parts[3]["udh"] is None
    assert all(p["data_coding"] == 8 and p["source"] == "10690042" for p in parts)
    [long_msg] = smsc.messages("13800138000")
    assert long_msg["complete"] and long_msg["text"] == long_text and long_msg["message_ids"] == ids
    assert [m["text"] for m in smsc.messages()] == [long_text, "您的申请已登记。"]
    # one receipt per part, esm_class 0x04, naming the message id, DELIVRD
    assert all(int(p.esm_class) & 0x04 for p in got)
    read = [parse_receipt(p.short_message.decode()) for p in got]
    assert sorted(r.message_id for r in read) == sorted(ids + short_ids)
    assert {r.stat for r in read} == {"DELIVRD"} and all(r.done_at is not None for r in read)
    assert sorted(r["message_id"] for r in smsc.receipts) == sorted(ids + short_ids)  # acknowledged


def test_reassembly_puts_parts_in_sequence_order_whatever_their_arrival():
    def part(seq: int, text: str, ref: int = 7) -> dict:
        return {"source": "s", "destination": "d", "udh": {"ref": ref, "total": 3, "seq": seq}, "text": text,
                "message_id": f"m{seq}"}

    [msg] = reassemble([part(2, "乙"), part(1, "甲"), part(3, "丙")])
    assert msg["text"] == "甲乙丙" and msg["complete"] and msg["message_ids"] == ["m1", "m2", "m3"]
    [incomplete] = reassemble([part(1, "甲"), part(3, "丙")])
    assert not incomplete["complete"]


def test_receipts_wait_for_a_receiving_session_and_undeliverable_numbers_fail(smsc):
    smsc.fail("13700137000")
    sender = client(smsc, mode="transmitter")  # cannot receive: the receipts are queued
    ok = submit(sender, "您的申请已登记。")
    bad = submit(sender, "您的申请已登记。", to="13700137000")
    sender.unbind()
    sender.disconnect()
    time.sleep(0.5)
    assert smsc.receipts == []
    receiver = client(smsc, mode="receiver")  # the next bind of the system_id gets them
    got = receipts(receiver, 2)
    receiver.unbind()
    receiver.disconnect()
    assert [b["mode"] for b in smsc.binds] == ["transmitter", "receiver"]
    by_id = {r.message_id: r for r in (parse_receipt(p.short_message.decode()) for p in got)}
    assert by_id[ok[0]].stat == "DELIVRD" and by_id[bad[0]].stat == "UNDELIV"
