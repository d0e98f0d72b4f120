"""What the applicant is told, and how often delivery is retried."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from contracts.events import Answer, ApplicationReceived, ReplyIssued, ReplyPart
from contracts.vocabulary import CHANNEL_LABELS, REPLY_TYPE_LABELS, Channel, ReplyType
from services.notify.messages import Message, backoff_seconds, received, reply_issued


def application(channel: Channel, number: str = "YN-20261123-00042") -> ApplicationReceived:
    return ApplicationReceived(
        case_id="c1", tracking_number=number, agency_code="yn-gov-office", channel=channel,
        received_on=date(2026, 11, 20), applicant_ref="app-1", applicant_type="natural_person",
        description="征地补偿", delivery_form="electronic", delivery_method="email",
        accepted_at=datetime(2026, 11, 23, tzinfo=UTC),
    )


def reply(decision: ReplyType, number: str = "YN-20261123-00042") -> ReplyIssued:
    part = ReplyPart(task_id="t1", dept_code="zrzy", dept_name="自然资源厅",
                     answer=Answer(reply_type=decision, text="答复内容"))
    return ReplyIssued(case_id="c1", tracking_number=number, agency_code="yn-gov-office", decision=decision,
                       parts=[part], document_text="政府信息公开申请答复书\n受理编号：" + number + "\n……")


@pytest.mark.parametrize("channel", list(Channel))
def test_received_message(channel):
    m = received(application(channel, "YN-20261123-00042"))
    assert isinstance(m, Message)
    assert "YN-20261123-00042" in m.subject
    assert "YN-20261123-00042" in m.body
    assert CHANNEL_LABELS[channel] in m.body
    assert "2026年11月20日" in m.body  # the Art. 31 date of receipt, not the acceptance time
    assert "第三十三条" in m.body  # the time limit for the reply


def test_received_messages_differ_by_tracking_number():
    a = received(application(Channel.ONLINE, "YN-20261123-00001"))
    b = received(application(Channel.ONLINE, "YN-20261123-00002"))
    assert a.subject != b.subject and a.body != b.body
    assert "00002" not in a.body


@pytest.mark.parametrize("decision", list(ReplyType))
def test_reply_issued_message(decision):
    r = reply(decision, "YN-20261124-00007")
    m = reply_issued(r)
    assert "YN-20261124-00007" in m.subject
    assert REPLY_TYPE_LABELS[decision] in m.subject
    assert r.document_text in m.body  # the whole reply document, unabridged


@pytest.mark.parametrize(
    ("attempts", "base", "cap", "expected"),
    [
        (0, 1.0, 300.0, 1.0),
        (1, 1.0, 300.0, 1.0),
        (2, 1.0, 300.0, 2.0),
        (3, 1.0, 300.0, 4.0),
        (4, 1.0, 300.0, 8.0),
        (9, 1.0, 300.0, 256.0),
        (10, 1.0, 300.0, 300.0),  # 512 capped
        (3, 0.5, 300.0, 2.0),
        (5, 2.0, 10.0, 10.0),  # 32 capped
        (100, 1.0, 300.0, 300.0),
    ],
)
def test_backoff_values(attempts, base, cap, expected):
    assert backoff_seconds(attempts, base, cap) == pytest.approx(expected)


def test_backoff_doubles_until_the_cap_and_never_shrinks():
    delays = [backoff_seconds(n, 1.0, 60.0) for n in range(1, 20)]
    assert all(b >= a for a, b in zip(delays, delays[1:]))
    assert max(delays) == 60.0
    for a, b in zip(delays, delays[1:]):
        assert b == a * 2 or b == 60.0
