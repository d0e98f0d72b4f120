"""servicekit.consumer.subscribe on FastStream's in-memory Kafka broker: what reaches the handler,
what goes to the dead-letter topic."""

from __future__ import annotations

from datetime import date

import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage

from contracts.envelope import deterministic_id, encode, kafka_headers, new_event
from contracts.events import CaseRouted, RoutedTask, TaskAssigned, registry_of
from servicekit.consumer import Unprocessable, subscribe

TOPIC = "gongkai.dept.zrzy.tasks"
DLT = TOPIC + ".dlt"


def task_event(task_id: str = "t1"):
    data = TaskAssigned(
        case_id="case-1", task_id=task_id, tracking_number="YN-20261123-00001", agency_code="yn-gov-office",
        dept_code="zrzy", dept_name="自然资源厅", description="征地补偿", rule="keyword:征地",
        received_on=date(2026, 11, 23),
    )
    return new_event(data, source="/gongkai/routing", subject="case-1", event_id=deterministic_id("ta", task_id))


def routed_event():
    data = CaseRouted(
        case_id="case-1", tracking_number="YN-20261123-00001", agency_code="yn-gov-office", agency_name="办公厅",
        received_on=date(2026, 11, 23), directory_version="v1",
        tasks=[RoutedTask(task_id="t1", dept_code="zrzy", dept_name="自然资源厅", rule="keyword:征地")],
    )
    return new_event(data, source="/gongkai/routing", subject="case-1", event_id="routed-1")


def make_broker(handler):
    broker = KafkaBroker("localhost:9092", logger=None)
    subscribe(broker, group_id="test-group", registry=registry_of(TaskAssigned), handle=handler, topics=(TOPIC,))
    dead: list[tuple[bytes, dict, bytes | None]] = []

    @broker.subscriber(DLT)
    async def on_dlt(msg: KafkaMessage) -> None:
        dead.append((msg.body, dict(msg.headers), msg.raw_message.key))

    return broker, dead


@pytest.mark.asyncio
async def test_valid_event_reaches_the_handler_and_nothing_is_dead_lettered():
    seen = []

    async def handler(event):
        seen.append(event)

    broker, dead = make_broker(handler)
    event = task_event()
    async with TestKafkaBroker(broker) as br:
        await br.publish(encode(event), TOPIC, key=b"case-1", headers=kafka_headers(event))
    assert seen == [event]
    assert dead == []


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("payload", "reason_part"),
    [
        (b"{this is not json", "invalid event"),
        (b"[1, 2]", "invalid event"),
        (encode(routed_event()), "unknown or missing event type"),  # valid event, unexpected type
    ],
    ids=["malformed-json", "not-an-object", "unexpected-type"],
)
async def test_bad_records_go_to_the_dlt_with_a_reason(payload, reason_part):
    seen = []

    async def handler(event):
        seen.append(event)

    broker, dead = make_broker(handler)
    async with TestKafkaBroker(broker) as br:
        await br.publish(payload, TOPIC, key=b"case-1")
    assert seen == []
    assert len(dead) == 1
    body, headers, key = dead[0]
    assert body == payload  # the original bytes, for a later replay
    assert key == b"case-1"
    assert reason_part in headers["dlt-reason"]
    assert headers["dlt-original-topic"] == TOPIC
    assert headers["dlt-consumer-group"] == "test-group"
    assert headers["dlt-original-partition"].isdigit() and headers["dlt-original-offset"].isdigit()


@pytest.mark.asyncio
async def test_unprocessable_from_the_handler_dead_letters():
    calls = []

    async def handler(event):
        calls.append(event.id)
        raise Unprocessable("task t9 is unknown")

    broker, dead = make_broker(handler)
    event = task_event("t9")
    async with TestKafkaBroker(broker) as br:
        await br.publish(encode(event), TOPIC, key=b"case-1", headers=kafka_headers(event))
    assert calls == [event.id]  # called once, not retried
    assert len(dead) == 1
    body, headers, _ = dead[0]
    assert body == encode(event)
    assert headers["dlt-reason"].startswith("unprocessable:")
    assert "task t9 is unknown" in headers["dlt-reason"]
