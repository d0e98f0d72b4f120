"""Driving the running system from tests: submit, answer, wait, read topics."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from deploy.local.credentials import ADMIN as KAFKA_ADMIN
from deploy.local.credentials import kafka_client_kwargs
from deploy.local.stack import Stack

# Officers of the local realm (deploy/local/keycloak/): who does what in the tests.
OGI = "ogi-officer"
OGI_HEAD = "ogi-head"
AUDITOR = "auditor"
ADMIN = "dir-admin"


def officer_of(dept: str) -> str:
    return f"{dept}-officer"


def reviewer_of(dept: str) -> str:
    return f"{dept}-reviewer"

T = TypeVar("T")


async def eventually(probe: Callable[[], Awaitable[T | None]], timeout: float = 60.0, every: float = 0.3,
                     what: str = "condition") -> T:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = await probe()
        except (httpx.HTTPError, OSError) as exc:  # a service restarting
            last = exc
        else:
            if last:
                return last
        await asyncio.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")


def application(tag: str, *, departments: list[str] | None = None, description: str | None = None,
                webhook: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "applicant": {"name": "张三", "id_number": "11010519491231002X"},
        "contact": {"email": f"{tag}@example.com", "phone": "13800138000"},
        "description": description or "请公开某村2025年征地补偿标准、年度部门预算及某河段的水质监测数据",
    }
    if departments is not None:
        body["target_departments"] = departments
    if webhook:
        body["contact"]["webhook_url"] = webhook
    return body


def tag() -> str:
    return "t" + uuid.uuid4().hex[:12]


class Client:
    """Drives the running system as its users would: applicants without an account, officers with
    access tokens from the real identity provider (Keycloak, password grant of the dev client)."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.http = httpx.AsyncClient(timeout=10)

    def url(self, service: str, path: str) -> str:
        return self.stack.cfg.url(service) + path

    def auth(self, username: str) -> dict[str, str]:
        """The Authorization header of an officer of the local realm."""
        return {"Authorization": f"Bearer {self.stack.token(username)}"}

    async def get(self, service: str, path: str, as_user: str = OGI, **kw: Any) -> httpx.Response:
        return await self.http.get(self.url(service, path), headers=self.auth(as_user), **kw)

    async def post(self, service: str, path: str, as_user: str = OGI, **kw: Any) -> httpx.Response:
        return await self.http.post(self.url(service, path), headers=self.auth(as_user), **kw)

    async def submit(self, body: dict[str, Any], **headers: str) -> dict[str, Any]:
        resp = await self.http.post(self.url("intake", "/applications"), json=body, headers=headers)
        assert resp.status_code in (200, 201), resp.text
        return resp.json()

    async def routing(self, case_id: str, timeout: float = 60) -> dict[str, Any]:
        async def probe() -> dict | None:
            resp = await self.get("routing", f"/cases/{case_id}/routing")
            return resp.json() if resp.status_code == 200 else None
        return await eventually(probe, timeout, what=f"routing of {case_id}")

    async def wait_task_open(self, case_id: str, dept: str, timeout: float = 60) -> dict[str, Any]:
        async def probe() -> dict | None:
            resp = await self.get("reply", f"/departments/{dept}/tasks", as_user=officer_of(dept))
            if resp.status_code != 200:
                return None
            return next((t for t in resp.json()["tasks"] if t["case_id"] == case_id), None)
        return await eventually(probe, timeout, what=f"open task of {dept} for {case_id}")

    async def answer(self, task_id: str, dept: str, reply_type: str = "disclosed", text: str = "现予公开，详见附件。",
                     reason: str | None = None, *, as_dept: str | None = None, review: bool = True,
                     **extra: Any) -> httpx.Response:
        """Answer as an officer of ``as_dept`` (default: ``dept``), then, unless ``review=False``,
        the department's reviewer signs it off (保密审查, a second person). ``extra`` adds fields
        (outcome_code, withheld, responsible_agency …). Returns the answer's response (or the
        review's, when there is one and the answer was accepted)."""
        body = {"dept_code": dept, "reply_type": reply_type, "text": text, "reason": reason,
                "material_refs": [f"{dept}-material-1.pdf"], **extra}
        resp = await self.post("reply", f"/tasks/{task_id}/answer", as_user=officer_of(as_dept or dept), json=body)
        if not review or resp.status_code not in (200, 201):
            return resp
        return await self.review(task_id, dept, expect_answer=resp)

    async def review(self, task_id: str, dept: str, *, as_user: str | None = None,
                     expect_answer: httpx.Response | None = None) -> httpx.Response:
        """The department reviewer's sign-off (保密审查) of a draft answer."""
        resp = await self.post("reply", f"/tasks/{task_id}/review", as_user=as_user or reviewer_of(dept),
                               json={"dept_code": dept})
        if expect_answer is not None and resp.status_code == 200:
            # Keep the answer's 201/200 (created or replayed) for callers that assert on it.
            return httpx.Response(expect_answer.status_code, json={**expect_answer.json(), **resp.json()},
                                  request=resp.request)
        return resp

    async def reply(self, case_id: str, timeout: float = 60) -> dict[str, Any]:
        async def probe() -> dict | None:
            resp = await self.get("reply", f"/cases/{case_id}/reply")
            return resp.json() if resp.status_code == 200 and resp.json()["issued"] else None
        return await eventually(probe, timeout, what=f"reply of {case_id}")

    async def timeline(self, case_id: str) -> list[dict[str, Any]]:
        resp = await self.get("audit", f"/cases/{case_id}/timeline", as_user=AUDITOR)
        return resp.json()["events"] if resp.status_code == 200 else []

    async def close(self) -> None:
        await self.http.aclose()


async def read_topic(bootstrap: str, topic: str, *, timeout: float = 10.0, principal: str = KAFKA_ADMIN,
                     password: str | None = None) -> list[Any]:
    """Every record now on a topic (all partitions, from the beginning), without a consumer group.
    Reads as ``principal`` (default: the local stack's admin; its local password unless given)."""
    # Without a group, a subscription is assigned every partition of the topic.
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None,
                                auto_offset_reset="earliest", **kafka_client_kwargs(principal, password))
    await consumer.start()
    try:
        deadline = time.monotonic() + timeout
        while not consumer.assignment():
            if time.monotonic() > deadline:
                raise AssertionError(f"topic {topic} has no partitions (does it exist?)")
            await asyncio.sleep(0.05)
        parts = list(consumer.assignment())
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        records: list[Any] = []
        async def behind() -> bool:
            return any([await consumer.position(tp) < ends[tp] for tp in parts])

        while await behind():
            if time.monotonic() > deadline:
                raise AssertionError(f"could not read {topic} to its end")
            batch = await consumer.getmany(timeout_ms=500)
            for recs in batch.values():
                records.extend(recs)
        return records
    finally:
        await consumer.stop()


async def events_of(bootstrap: str, topic: str, case_id: str) -> list[dict[str, Any]]:
    out = []
    for rec in await read_topic(bootstrap, topic):
        try:
            event = json.loads(rec.value)
        except ValueError:
            continue
        if isinstance(event, dict) and event.get("subject") == case_id:
            out.append(event)
    return out


async def produce(bootstrap: str, topic: str, value: bytes, key: bytes | None = None,
                  headers: list[tuple[str, bytes]] | None = None, *, principal: str = KAFKA_ADMIN,
                  password: str | None = None) -> None:
    """Publish one record as ``principal`` (default: the local stack's admin), e.g. ``dept-zrzy``
    for a department's own system."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **kafka_client_kwargs(principal, password))
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=key, headers=headers)
    finally:
        await producer.stop()


def mails_for(mail_sink, address: str) -> list[dict[str, Any]]:  # noqa: ANN001
    return [m for m in mail_sink.messages if address in m["to"]]
