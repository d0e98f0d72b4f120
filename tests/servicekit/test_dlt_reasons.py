"""Issue 9, dead-letter reasons: a record that cannot be processed goes to its DLT with a
``dlt-reason`` that names the field and the rule, never the record's values (pydantic's
``str(ValidationError)`` quotes ``input_value=...``, which carried ID numbers and phone numbers
into the DLT). On FastStream's in-memory broker, through ``servicekit.consumer.subscribe``."""

from __future__ import annotations

import json

import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import BaseModel

from contracts.envelope import deterministic_id, encode, new_event
from contracts.events import ContactRegistered, registry_of
from contracts.topics import PRIVATE_CONTACTS
from servicekit.consumer import reason_of, subscribe

TOPIC = PRIVATE_CONTACTS.name
ID_NUMBER = "53010219900307123X"
PHONE = "13800138000"
NAME = "张三丰"
EMAIL = "zhang.sanfeng@example.com"
VALUES = (ID_NUMBER, PHONE, NAME, EMAIL, "1990", "0307", "138001")


def contact_record() -> dict:
    data = ContactRegistered(case_id="case-1", applicant_ref="ref-1", name="张三", email="a@example.com")
    event = new_event(data, source="/gongkai/intake", subject="case-1", event_id=deterministic_id("contact", "c1"))
    return json.loads(encode(event))


def bad_records() -> dict[str, bytes]:
    """Records whose bad fields hold personal data."""
    phone_in_email = contact_record()
    phone_in_email["data"]["email"] = {"phone": PHONE}  # a dict where text belongs
    id_as_phone = contact_record()
    id_as_phone["data"]["phone"] = [ID_NUMBER, NAME]  # a list where text belongs
    number_in_name = contact_record()
    number_in_name["data"]["name"] = int(PHONE)
    extra_field = contact_record()
    extra_field["data"][ID_NUMBER] = EMAIL  # an unknown field named by the data itself
    bad_time = contact_record()
    bad_time["time"] = f"{ID_NUMBER} {NAME}"
    no_case = contact_record()
    del no_case["data"]["case_id"]
    no_case["data"]["webhook_url"] = {"url": f"https://{PHONE}.example.com/?id={ID_NUMBER}"}
    return {
        "dict-for-text": json.dumps(phone_in_email, ensure_ascii=False).encode(),
        "list-for-text": json.dumps(id_as_phone, ensure_ascii=False).encode(),
        "int-for-text": json.dumps(number_in_name, ensure_ascii=False).encode(),
        "extra-field": json.dumps(extra_field, ensure_ascii=False).encode(),
        "bad-time": json.dumps(bad_time, ensure_ascii=False).encode(),
        "missing-and-bad": json.dumps(no_case, ensure_ascii=False).encode(),
        "broken-json": f'{{"name": "{NAME}", "phone": "{PHONE}", "id": {ID_NUMBER}'.encode(),
        "type-is-data": json.dumps({"type": f"{ID_NUMBER}-{PHONE}", "data": {}}).encode(),
    }


def make_broker(handler, **kw):  # noqa: ANN001, ANN003
    broker = KafkaBroker("localhost:9092", logger=None)
    subscribe(broker, group_id="test-dlt", registry=registry_of(ContactRegistered), handle=handler, topics=(TOPIC,),
              **kw)
    dead: list[tuple[bytes, dict]] = []

    @broker.subscriber(TOPIC + ".dlt")
    async def on_dlt(msg: KafkaMessage) -> None:
        dead.append((msg.body, dict(msg.headers)))

    return broker, dead


def assert_no_values(reason: str) -> None:
    for value in VALUES:
        assert value not in reason, (value, reason)
    assert "input_value" not in reason and "errors.pydantic.dev" not in reason


RECORDS = bad_records()
EXPECTED_FIELDS = {
    "dict-for-text": "data.email", "list-for-text": "data.phone", "int-for-text": "data.name",
    "extra-field": "data.<key>: extra_forbidden", "bad-time": "time", "missing-and-bad": "data.case_id: missing",
    "broken-json": "not valid JSON at line 1", "type-is-data": "unknown or missing event type",
}


@pytest.mark.asyncio
@pytest.mark.parametrize("name", list(RECORDS))
async def test_a_bad_record_is_dead_lettered_with_a_reason_that_names_fields_not_values(name: str) -> None:
    seen = []

    async def handler(event):  # noqa: ANN001, ANN202
        seen.append(event)

    broker, dead = make_broker(handler)
    async with TestKafkaBroker(broker) as br:
        await br.publish(RECORDS[name], TOPIC, key=b"case-1")
    assert seen == []
    [(body, headers)] = dead
    assert body == RECORDS[name]  # the record itself is kept for a replay (the DLT is as restricted as its topic)
    reason = headers["dlt-reason"]
    assert reason.startswith("invalid event: ")
    assert EXPECTED_FIELDS[name] in reason, reason
    assert_no_values(reason)


class Applicant(BaseModel):
    id_number: int
    phone: int


@pytest.mark.asyncio
async def test_a_handler_failing_on_the_data_is_dead_lettered_without_its_values() -> None:
    """After the retries, the error of the handler becomes the reason: again fields, not values."""

    async def handler(event):  # noqa: ANN001, ANN202
        Applicant(id_number=ID_NUMBER, phone=f"{PHONE}-{NAME}")  # type: ignore[arg-type]

    broker, dead = make_broker(handler, max_attempts=1, patience_seconds=0)
    record = encode(new_event(ContactRegistered(case_id="c", applicant_ref="r", name=NAME, phone=PHONE),
                              source="/t", subject="c", event_id="e1"))
    async with TestKafkaBroker(broker) as br:
        await br.publish(record, TOPIC, key=b"c")
    [(_, headers)] = dead
    reason = headers["dlt-reason"]
    assert reason.startswith("failed 1 times: ")
    assert "id_number: int_parsing" in reason and "phone: int_parsing" in reason
    assert_no_values(reason)


def test_reason_of_for_other_errors_keeps_plain_words_only() -> None:
    assert reason_of(ValueError("event is not a JSON object")) == "ValueError: event is not a JSON object"
    assert reason_of(ValueError(f"bad phone {PHONE}")) == "ValueError"
    assert reason_of(KeyError(NAME)) == "KeyError"
    assert reason_of(RuntimeError(f"无法处理 {NAME}")) == "RuntimeError"
