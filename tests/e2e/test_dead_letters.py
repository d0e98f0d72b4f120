"""A message that cannot be processed ends on the dead-letter topic with the reason; the consumer
goes on with the next application."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from contracts import topics
from contracts.envelope import deterministic_id
from tests.e2e.helpers import Client, application, eventually, produce, read_topic, tag

pytestmark = pytest.mark.e2e


def _dead(records, marker: bytes, group: str):  # noqa: ANN001, ANN202
    out = []
    for rec in records:
        headers = {k: v.decode() for k, v in rec.headers}
        if marker in (rec.value or b"") and headers.get("dlt-consumer-group") == group:
            out.append(headers)
    return out


async def test_malformed_messages_go_to_the_dead_letter_topic(stack) -> None:
    bootstrap = stack.cfg.kafka_bootstrap
    topic = topics.APPLICATIONS_RECEIVED.name
    marker = tag().encode()
    # Not JSON at all; JSON of an unknown type; a known type with a missing field.
    await produce(bootstrap, topic, b"not json " + marker, key=marker)
    await produce(bootstrap, topic, json.dumps({"type": "cn.gongkai.nonsense.v1", "m": marker.decode()}).encode(), key=marker)
    broken = {"specversion": "1.0", "id": deterministic_id("broken", marker.decode()), "source": "/test",
              "type": "cn.gongkai.application.received.v1", "subject": marker.decode(),
              "time": "2026-11-23T08:00:00Z", "dataschema": "urn:gongkai:schema:application.received:1",
              "data": {"case_id": marker.decode()}}
    await produce(bootstrap, topic, json.dumps(broken).encode(), key=marker)

    # The pipeline goes on: a valid application sent after them is routed.
    client = Client(stack)
    accepted = await client.submit(application(tag(), departments=["slt"]))
    routing = await client.routing(accepted["case_id"])
    assert [t["dept_code"] for t in routing["tasks"]] == ["slt"]

    async def routing_dead_letters():  # noqa: ANN202
        found = _dead(await read_topic(bootstrap, topics.APPLICATIONS_RECEIVED.dlt), marker, "routing")
        return found if len(found) >= 3 else None

    dead = await eventually(routing_dead_letters, 30, what="three dead letters from routing")
    assert len(dead) == 3
    reasons = [h["dlt-reason"] for h in dead]
    assert all(r.startswith("invalid event") for r in reasons)
    assert any("unknown or missing event type" in r for r in reasons)
    assert any("tracking_number" in r for r in reasons), reasons  # the missing field is named
    assert all(h["dlt-original-topic"] == topic for h in dead)
    # Every consumer of the topic (notify, audit too) dead-letters independently and goes on.
    for group in ("notify", "audit"):
        async def group_dead(group: str = group):  # noqa: ANN202
            found = _dead(await read_topic(bootstrap, topics.APPLICATIONS_RECEIVED.dlt), marker, group)
            return found if len(found) >= 3 else None
        await eventually(group_dead, 30, what=f"dead letters from {group}")
    await client.close()


async def test_answer_to_someone_elses_task_is_dead_lettered(stack) -> None:
    """An answer published on the answers topic for another department's task is refused with a
    reason on the dead-letter topic; the right department's answer still completes the case."""
    bootstrap = stack.cfg.kafka_bootstrap
    client = Client(stack)
    accepted = await client.submit(application(tag(), departments=["jtyst"]))
    case_id = accepted["case_id"]
    task = await client.wait_task_open(case_id, "jtyst")
    from contracts.envelope import encode, kafka_headers, new_event
    from contracts.events import Answer, AnswerSubmitted, ConfidentialityReview

    review = ConfidentialityReview(reviewer="保密审查员（测试）", reviewed_at=datetime(2026, 11, 23, 9, 0, tzinfo=UTC))

    def submitted(dept: str, sender: str | None = None):  # noqa: ANN202
        event = new_event(
            AnswerSubmitted(case_id=case_id, task_id=task["task_id"], dept_code=dept,
                            answer=Answer(reply_type="disclosed", text=f"{dept} 的答复"), review=review),
            source="/integrator/test", subject=case_id,
            event_id=deterministic_id("test-answer", case_id, dept, sender or dept))
        return encode(event), [(k, v.encode()) for k, v in kafka_headers(event).items()]

    # czt's own system publishes, on czt's own answers topic, an answer to jtyst's task: refused.
    value, headers = submitted("czt")
    czt_topic = topics.department_answers("czt").name
    await produce(bootstrap, czt_topic, value, key=case_id.encode(), headers=headers, principal="dept-czt")
    # Nor can czt publish on jtyst's answers topic: the broker refuses it (ACL).
    from aiokafka.errors import TopicAuthorizationFailedError
    with pytest.raises(TopicAuthorizationFailedError):
        await produce(bootstrap, topics.department_answers("jtyst").name, value, key=case_id.encode(),
                      headers=headers, principal="dept-czt")
    # Nor can czt's system pass its answer off as jtyst's on its own topic: the topic says czt.
    impostor, impostor_headers = submitted("jtyst", sender="czt")
    await produce(bootstrap, czt_topic, impostor, key=case_id.encode(), headers=impostor_headers, principal="dept-czt")
    value, headers = submitted("jtyst")
    await produce(bootstrap, topics.department_answers("jtyst").name, value, key=case_id.encode(), headers=headers,
                  principal="dept-jtyst")
    reply = await client.reply(case_id)
    assert "jtyst 的答复" in reply["reply"]["document"]
    assert "czt 的答复" not in reply["reply"]["document"]

    async def refused():  # noqa: ANN202
        recs = await read_topic(bootstrap, topics.dead_letter_topic(czt_topic))
        found = [dict((k, v.decode()) for k, v in r.headers) for r in recs if case_id.encode() in r.value]
        return found or None

    async def both_refused():  # noqa: ANN202
        found = await refused()
        return found if found and len(found) >= 2 else None

    dead = await eventually(both_refused, 30, what="the two refused answers on czt's DLT")
    reasons = sorted(h["dlt-reason"] for h in dead)
    assert len(dead) == 2, reasons
    assert any("不属于部门 czt" in r for r in reasons), reasons
    assert any("wrong_answers_topic" in r and "jtyst" in r for r in reasons), reasons
    await client.close()
