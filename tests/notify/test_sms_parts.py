"""Texts (issue #17), pure: what a text says (the tracking number and the step, nothing more), how a
long Chinese text is split into UCS-2 parts with concatenation headers, which numbers get texts,
and what the SMSC's delivery receipts say."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.notify.kinds import Audience, Kind
from services.notify.messages import SMS_STEPS, sms_text
from services.notify.order import STEP
from services.notify.sms import (
    UCS2,
    mobile_number,
    parse_receipt,
    receipt_outcome,
    smpp_time,
    split,
    text_of,
    udh_of,
)

URL = "http://127.0.0.1:8106/status"
NUMBER = "YN-20261123-00042"


def test_every_applicant_step_has_one_text_naming_only_the_number_and_the_step():
    for kind in STEP[Audience.APPLICANT.value]:
        text = sms_text(kind, NUMBER, URL)
        assert NUMBER in text and URL in text and SMS_STEPS[kind] in text
        # nothing personal: no name, no description, no decision text; just the fixed frame
        rest = text.replace(NUMBER, "").replace(URL, "").replace(SMS_STEPS[kind], "")
        assert rest == "【政府信息公开】您的申请（受理编号）。请凭受理编号和查询码查看："
    assert len({sms_text(k, NUMBER, URL) for k in STEP[Audience.APPLICANT.value]}) == len(STEP[Audience.APPLICANT.value])


def test_a_text_without_a_known_tracking_number():
    assert sms_text(Kind.EXTENSION_APPROVED, None, URL) == \
        f"【政府信息公开】您的申请答复期限已延长。请凭受理编号和查询码查看：{URL}"


def test_a_short_text_is_one_ucs2_part_without_header():
    parts = split("您的申请已登记。")
    assert parts.data_coding == UCS2 == 8 and parts.esm_class == 0
    assert parts.payloads == ("您的申请已登记。".encode("utf-16-be"),)
    assert udh_of(parts.payloads[0], parts.esm_class) is None
    # 70 characters still fit one message (140 octets)
    assert len(split("政" * 70).payloads) == 1


def test_a_long_chinese_text_is_split_into_concatenated_parts_that_reassemble():
    text = "政府信息公开申请答复" * 15  # 150 characters: 67 + 67 + 16
    parts = split(text)
    assert parts.data_coding == 8 and parts.esm_class == 0x40
    assert len(parts.payloads) == 3
    headers = [udh_of(p, parts.esm_class) for p in parts.payloads]
    assert {h.ref for h in headers} == {headers[0].ref}  # one reference for the message
    assert [(h.total, h.seq) for h in headers] == [(3, 1), (3, 2), (3, 3)]
    for p in parts.payloads:
        assert p[:3] == b"\x05\x00\x03" and len(p) <= 140  # UDH length 5, IE 0x00, IE length 3
    texts = [text_of(p, parts.esm_class) for p in parts.payloads]
    assert [len(t) for t in texts] == [67, 67, 16]
    assert "".join(texts) == text


def test_the_real_texts_fit_two_parts_at_most():
    for kind in STEP[Audience.APPLICANT.value]:
        parts = split(sms_text(kind, NUMBER, URL))
        assert 1 <= len(parts.payloads) <= 2
        assert "".join(text_of(p, parts.esm_class) for p in parts.payloads) == sms_text(kind, NUMBER, URL)


@pytest.mark.parametrize(("phone", "mobile"), [
    ("13800138000", "13800138000"),
    ("138 0013 8000", "13800138000"),
    ("138-0013-8000", "13800138000"),
    ("+86 139 1234 5678", "13912345678"),
    ("008619912345678", "19912345678"),
    ("8615012345678", "15012345678"),
    ("12800138000", None),  # 12x is no mobile prefix
    ("1380013800", None),  # ten digits
    ("0871-12345678", None),  # a landline (Kunming)
    ("087112345678", None),
    ("", None),
    (None, None),
])
def test_which_numbers_get_texts(phone, mobile):
    assert mobile_number(phone) == mobile


def test_a_receipt_is_read_from_its_text_in_china_time():
    r = parse_receipt("id:9f3a sub:001 dlvrd:001 submit date:2612042059 done date:2612042101 stat:DELIVRD "
                      "err:000 text:")
    assert r.message_id == "9f3a" and r.stat == "DELIVRD" and r.err == "000"
    assert r.done_at == datetime(2026, 12, 4, 13, 1, tzinfo=UTC)  # 21:01 in China
    assert smpp_time("261204210130") == datetime(2026, 12, 4, 13, 1, 30, tzinfo=UTC)
    assert smpp_time("26120421") is None and smpp_time(None) is None
    # the TLVs, when given, name the message and its state
    r = parse_receipt("stat:UNDELIV err:001", receipted_message_id="abc", message_state=5)
    assert r.message_id == "abc" and r.stat == "UNDELIV"
    assert parse_receipt("hello", message_state=2) is None  # names no message


def test_the_outcome_of_the_receipts_of_a_texts_parts():
    t1, t2 = datetime(2026, 12, 4, 1, 0, tzinfo=UTC), datetime(2026, 12, 4, 1, 1, tzinfo=UTC)
    ok1, ok2 = {"stat": "DELIVRD", "done_at": t1}, {"stat": "DELIVRD", "done_at": t2}
    assert receipt_outcome(["a", "b"], {}).status is None
    assert receipt_outcome(["a", "b"], {"a": ok1}).status is None  # the second part's receipt not yet in
    done = receipt_outcome(["a", "b"], {"a": ok1, "b": ok2})
    assert done.status == "delivered" and done.at == t2  # the last part's time
    failed = receipt_outcome(["a", "b"], {"a": ok1, "b": {"stat": "UNDELIV", "done_at": t2, "err": "001"}})
    assert failed.status == "failed" and "part 2/2" in failed.reason and "UNDELIV" in failed.reason
    assert receipt_outcome(["a"], {"a": {"stat": "EXPIRED", "done_at": None}}).status == "failed"
    assert receipt_outcome([], {}).status is None
