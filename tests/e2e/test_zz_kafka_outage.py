"""An application accepted over HTTP while Kafka is down is stored and published once Kafka is
back: no loss, no duplicate. (Runs last in the e2e suite: it stops the shared broker.)"""

from __future__ import annotations

import asyncio

import pytest

from contracts import topics
from tests.e2e.helpers import Client, application, eventually, events_of, mails_for, tag

pytestmark = pytest.mark.e2e


async def test_accepted_while_kafka_is_down_then_published_once(stack, mail) -> None:
    client = Client(stack)
    stack.infra("stop", "kafka")
    try:
        t = tag()
        accepted = await client.submit(application(t, departments=["rst"]))
        case_id = accepted["case_id"]
        status = (await client.get("intake", f"/applications/{case_id}")).json()
        assert status["published"] is False
        health = await client.http.get(client.url("intake", "/health"))
        assert health.status_code == 503 and health.json()["kafka"] in (True, False)
        await asyncio.sleep(2)
    finally:
        stack.infra("start", "kafka")

    async def published():  # noqa: ANN202
        resp = await client.get("intake", f"/applications/{case_id}")
        return resp.json()["published"] or None

    await eventually(published, 120, what="publication after Kafka came back")
    task = await client.wait_task_open(case_id, "rst", timeout=120)
    resp = await client.answer(task["task_id"], "rst")
    assert resp.status_code == 201
    await client.reply(case_id, timeout=120)
    received = await events_of(stack.cfg.kafka_bootstrap, topics.APPLICATIONS_RECEIVED.name, case_id)
    assert len({e["id"] for e in received}) == 1
    await eventually(lambda: _ge(len(mails_for(mail, f"{t}@example.com")), 2), 90, what="both notices")
    await asyncio.sleep(2)
    assert len(mails_for(mail, f"{t}@example.com")) == 2
    await client.close()


async def _ge(n: int, m: int) -> bool:
    return n >= m
