"""Issue #16: the notices of one case reach the applicant in the order of the steps, whatever the
order in which notify consumes its topics (each topic is its own consumer).

The events of a case are published here in the wrong order — the reply (and the correction and the
extension) before ``application.received`` — straight onto the topics notify consumes, and the test
asserts the order in which the real SMTP sink and webhook receiver get them: registered first,
then correction, extension (by the time of their events), then the reply.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from contracts import topics
from contracts.envelope import CloudEvent, EventData, deterministic_id, encode, kafka_headers, new_event
from contracts.events import Answer, ApplicationReceived, ContactRegistered, ReplyIssued, ReplyPart
from contracts.events_procedure import CorrectionRequested, ExtensionApproved
from contracts.vocabulary import ReplyType
from tests.e2e.helpers import Client, eventually, mails_for, produce, tag

pytestmark = pytest.mark.e2e

CASES = 6
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # a Standard Webhooks secret (base64 of 24 bytes)
T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
HOLD_SECONDS = 4  # how long the received event is kept back after the later steps were published


async def _publish(bootstrap: str, topic: str, data: EventData, name: str, case_id: str, at: datetime) -> None:
    event: CloudEvent = new_event(data, source="/e2e/notice-order", subject=case_id,
                                  event_id=deterministic_id("e2e-order", name, case_id), time=at)
    headers = [(k, v.encode()) for k, v in kafka_headers(event).items()]
    await produce(bootstrap, topic, encode(event), key=case_id.encode(), headers=headers)


def _received(case_id: str, number: str, t: str) -> ApplicationReceived:
    return ApplicationReceived(
        case_id=case_id, tracking_number=number, agency_code="yn-gov-office", channel="online",
        received_on=date(2026, 11, 23), applicant_ref=f"app-{t}", applicant_type="natural_person",
        description="请公开某村2025年征地补偿标准", delivery_form="electronic", delivery_method="email",
        accepted_at=T0,
    )


def _reply(case_id: str, number: str) -> ReplyIssued:
    part = ReplyPart(task_id=f"{case_id}-t1", dept_code="zrzy", dept_name="自然资源厅",
                     answer=Answer(reply_type=ReplyType.DISCLOSED, text="予以公开"))
    return ReplyIssued(case_id=case_id, tracking_number=number, agency_code="yn-gov-office",
                       decision=ReplyType.DISCLOSED, parts=[part], document_text="政府信息公开申请答复书（测试）")


def _correction(case_id: str) -> CorrectionRequested:
    return CorrectionRequested(case_id=case_id, received_on=date(2026, 11, 23), issued_on=date(2026, 11, 24),
                               items=["请写明所需信息的具体年份"], due_on=date(2026, 12, 8), issued_by="ogi-officer")


def _extension(case_id: str) -> ExtensionApproved:
    return ExtensionApproved(case_id=case_id, approved_on=date(2026, 12, 10), workdays=15, approver="ogi-head",
                             approver_role="ogi_head", reason="需要调取多个部门的档案材料",
                             old_due_on=date(2026, 12, 22), new_due_on=date(2027, 1, 13))


def _kind_of_mail(subject: str) -> str:
    for word, kind in (("已登记", "received"), ("补正", "correction_requested"), ("延期", "extension_approved"),
                       ("已答复", "reply_issued")):
        if word in subject:
            return kind
    return subject


async def _notices(client: Client, case_id: str) -> list[dict[str, Any]]:
    resp = await client.get("notify", f"/cases/{case_id}/notices")
    return resp.json()["notices"] if resp.status_code == 200 else []


async def test_later_steps_published_before_received_reach_the_applicant_after_it(stack, mail, hooks) -> None:
    bootstrap = stack.cfg.kafka_bootstrap
    client = Client(stack)
    cases: list[tuple[str, str, str, list[str]]] = []  # tag, case id, number, expected kinds in order
    for i in range(CASES):
        t = tag()
        case_id, number = f"order-{t}", f"E2E-20261123-{i:05d}"
        await _publish(bootstrap, topics.PRIVATE_CONTACTS.name,
                       ContactRegistered(case_id=case_id, applicant_ref=f"app-{t}", name="测试",
                                         email=f"{t}@example.com", webhook_url=f"{hooks.url}/hooks/{t}",
                                         webhook_secret=SECRET), "contact", case_id, T0)
        expected = ["received"]
        if i % 2 == 1:  # every other case: a correction and an extension as well, published late-first
            await _publish(bootstrap, topics.CASES_PROCEDURE.name, _extension(case_id), "extension", case_id,
                           T0 + timedelta(days=17))
            await _publish(bootstrap, topics.CASES_PROCEDURE.name, _correction(case_id), "correction", case_id,
                           T0 + timedelta(days=1))
            expected += ["correction_requested", "extension_approved"]
        await _publish(bootstrap, topics.REPLIES_ISSUED.name, _reply(case_id, number), "reply", case_id,
                       T0 + timedelta(days=20))
        expected.append("reply_issued")
        cases.append((t, case_id, number, expected))

    # notify has every later step (and the contact), but not the registration yet ...
    for t, case_id, _, expected in cases:
        await eventually(lambda c=case_id, n=len(expected) - 1: _has(client, c, n), 60,
                         what=f"the later notices of {case_id} stored")
    await asyncio.sleep(HOLD_SECONDS)
    early = {t: [_kind_of_mail(m["subject"]) for m in mails_for(mail, f"{t}@example.com")] for t, *_ in cases}
    # ... then application.received comes, last.
    for t, case_id, number, _ in cases:
        await _publish(bootstrap, topics.APPLICATIONS_RECEIVED.name, _received(case_id, number, t), "received",
                       case_id, T0)

    for t, _, _, expected in cases:
        await eventually(lambda t=t, n=len(expected): _ge(len(mails_for(mail, f"{t}@example.com")), n), 60,
                         what=f"{len(expected)} e-mails to {t}")
        await eventually(lambda t=t, n=len(expected): _ge(len([h for h in hooks.requests if h["hook"] == t]), n),
                         60, what=f"{len(expected)} webhooks for {t}")
    await asyncio.sleep(2)  # room for a duplicate

    out_of_order_mail = out_of_order_hooks = 0
    report = []
    for t, case_id, _, expected in cases:
        mails = [_kind_of_mail(m["subject"]) for m in mails_for(mail, f"{t}@example.com")]
        webhooks = [h["payload"]["kind"] for h in hooks.requests if h["hook"] == t]
        out_of_order_mail += mails != expected
        out_of_order_hooks += webhooks != expected
        report.append((case_id, early[t], mails, webhooks))
    print(f"\nnotice order: e-mail out of order in {out_of_order_mail} of {CASES} cases, "
          f"webhooks in {out_of_order_hooks} of {CASES}; sent before received was known: "
          f"{sum(len(v) for v in early.values())}")
    for line in report:
        print("  ", *line)
    assert all(not v for v in early.values()), early  # nothing went out before the registration
    for case_id, _, mails, webhooks in report:
        expected = next(e for _, c, _, e in cases if c == case_id)
        assert mails == expected, (case_id, mails)
        assert webhooks == expected, (case_id, webhooks)
    # The wait is on record (officer-visible on GET /cases/{id}/notices), and it ended.
    for _, case_id, _, _ in cases:
        notices = await _notices(client, case_id)
        assert all(n["status"] == "done" for n in notices), notices
        [reply] = [n for n in notices if n["kind"] == "reply_issued"]
        for channel in ("email", "webhook"):
            assert reply["deliveries"][channel]["waited_for"], reply  # held (the last thing it waited for)
            assert reply["deliveries"][channel]["held_since"], reply
            assert "order_note" not in reply["deliveries"][channel]  # not sent for want of patience
    await client.close()


async def _has(client: Client, case_id: str, n: int) -> bool:
    return len(await _notices(client, case_id)) >= n


async def _ge(n: int, m: int) -> bool:
    return n >= m
