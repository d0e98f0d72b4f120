"""The bus refuses what contracts/acl.py does not grant, on a real broker (issue 9, section 2).

A private broker (SASL/SCRAM-SHA-512, StandardAuthorizer, no ACL means no access) is started
through deploy/local/infra.sh in a temporary run directory on free ports, which applies the
principals and ACLs exactly as ``./dev up`` does. Real aiokafka clients then show each denial: an
unauthenticated client gets nothing, a wrong password is refused, a department reads only its own
inbox and writes only its own answers topic, private contacts are notify's and reply's alone. The error class
of each denial is printed (``pytest -s``) so that it can be quoted.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.conn import create_conn
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    SaslAuthenticationFailed,
    TopicAuthorizationFailedError,
)
from aiokafka.protocol.metadata import MetadataRequest

from contracts import acl, topics
from deploy.local import kafka_acl
from deploy.local.credentials import ADMIN, kafka_client_kwargs, kafka_password
from deploy.local.store_instance import free_port
from servicekit.kafka import BrokerHandle, KafkaSecurity, ensure_topics, make_broker

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "deploy" / "local" / "infra.sh"
INSTALL = REPO / "deploy" / "local" / "install.sh"
ZRZY_INBOX, CZT_INBOX = topics.department_inbox("zrzy").name, topics.department_inbox("czt").name
ZRZY_ANSWERS, CZT_ANSWERS = topics.department_answers("zrzy").name, topics.department_answers("czt").name
ZRZY_REPLIES, CZT_REPLIES = topics.department_replies("zrzy").name, topics.department_replies("czt").name
PRIVATE = topics.PRIVATE_CONTACTS.name
DENIALS: list[str] = []


@dataclass
class Broker:
    run_dir: Path
    port: int
    controller_port: int

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def infra(self, command: str) -> str:
        env = {**os.environ, "GONGKAI_RUN_DIR": str(self.run_dir), "KAFKA_PORT": str(self.port),
               "KAFKA_CONTROLLER_PORT": str(self.controller_port), "GONGKAI_START_TIMEOUT": "90"}
        if (Path(sys.prefix) / "bin" / "python").exists() and sys.prefix != sys.base_prefix:
            env["VENV"] = sys.prefix
        done = subprocess.run(["bash", str(INFRA), command, "kafka"], env=env, capture_output=True, text=True,
                              timeout=240, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"infra.sh {command} kafka failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        return done.stdout


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    done = subprocess.run(["bash", str(INSTALL), "kafka"], capture_output=True, text=True, timeout=900, check=False)
    if done.returncode != 0:
        pytest.fail(f"install.sh kafka failed:\n{done.stdout}\n{done.stderr}")
    b = Broker(tmp_path_factory.mktemp("kafka-acl-run"), free_port(), free_port())
    try:
        out = b.infra("start")
        print(out)
        assert re.search(r"kafka_acl: \d+ principals", out), out
        yield b
    finally:
        b.infra("stop")
        print("\n--- denials seen (principal, attempt: error) ---")
        for line in DENIALS:
            print(line)


def denied(what: str, exc: BaseException) -> None:
    DENIALS.append(f"{what}: {type(exc).__name__}: {exc}")
    print(DENIALS[-1])


async def within(coro: Awaitable[Any], seconds: float = 30) -> Any:
    return await asyncio.wait_for(coro, seconds)


# ------------------------------------------------------------------------------ clients
async def produce(b: Broker, principal: str, topic: str, value: bytes = b"{}", password: str | None = None) -> Any:
    producer = AIOKafkaProducer(bootstrap_servers=b.bootstrap, request_timeout_ms=10000,
                                **kafka_client_kwargs(principal, password))
    await producer.start()
    try:
        return await within(producer.send_and_wait(topic, value, key=b"case-1"))
    finally:
        await producer.stop()


async def consume(b: Broker, principal: str, topic: str | None = None, *, group: str | None = None,
                  pattern: str | None = None, until: set[str] | None = None, marker: bytes = b"",
                  seconds: float = 20) -> list[Any]:
    """Subscribe as ``principal`` and collect records until ``marker`` came on every topic of
    ``until`` (default: on ``topic``), or time ran out."""
    until = until if until is not None else {topic} if topic else set()
    consumer = AIOKafkaConsumer(*([topic] if topic else []), bootstrap_servers=b.bootstrap, group_id=group,
                                auto_offset_reset="earliest", enable_auto_commit=False, metadata_max_age_ms=1000,
                                **kafka_client_kwargs(principal))
    if pattern:
        consumer.subscribe(pattern=pattern)
    await within(consumer.start())
    records: list[Any] = []
    try:
        deadline = asyncio.get_running_loop().time() + seconds
        while asyncio.get_running_loop().time() < deadline:
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                records.extend(batch)
            if until <= {r.topic for r in records if r.value == marker}:
                break
        return records
    finally:
        await consumer.stop()


async def visible_topics(b: Broker, principal: str) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=b.bootstrap, request_timeout_ms=10000,
                                **kafka_client_kwargs(principal))
    await within(admin.start())
    try:
        return sorted(await within(admin.list_topics()))
    finally:
        await admin.close()


# ------------------------------------------------------------------------------ authentication
async def test_an_unauthenticated_client_gets_nothing(broker: Broker) -> None:
    conn = await within(create_conn("127.0.0.1", broker.port))  # PLAINTEXT: the TCP connection opens ...
    try:
        with pytest.raises(KafkaConnectionError) as exc:  # ... and the broker closes it at the first request
            await within(conn.send(MetadataRequest([])))
        denied("PLAINTEXT client, metadata (list topics)", exc.value)
    finally:
        conn.close()
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, request_timeout_ms=5000)
    with pytest.raises(KafkaConnectionError) as exc:
        await within(producer.start())
    denied("PLAINTEXT producer, start", exc.value)
    await producer.stop()


async def test_a_wrong_password_or_unknown_principal_is_refused(broker: Broker) -> None:
    for principal, password in (("dept-zrzy", "not-its-password"), ("dept-nobody", kafka_password("dept-nobody")),
                                (ADMIN, kafka_password("dept-zrzy"))):
        with pytest.raises(SaslAuthenticationFailed) as exc:
            await within(create_conn("127.0.0.1", broker.port, **kafka_client_kwargs(principal, password)))
        denied(f"{principal} with a wrong password", exc.value)
    conn = await within(create_conn("127.0.0.1", broker.port, **kafka_client_kwargs("dept-zrzy")))
    conn.close()  # the right one is accepted


# ------------------------------------------------------------------------------ departments
async def test_a_department_sees_only_its_own_three_topics(broker: Broker) -> None:
    assert await visible_topics(broker, "dept-zrzy") == sorted([ZRZY_INBOX, ZRZY_ANSWERS, ZRZY_REPLIES])
    assert len(await visible_topics(broker, ADMIN)) > 50


async def test_reply_copies_to_a_departments_replies_topic_which_only_it_reads(broker: Broker) -> None:
    # 抄送: svc-reply writes the replies topics; dept-zrzy reads its own, not czt's, and writes none.
    marker = uuid.uuid4().hex.encode()
    await produce(broker, "svc-reply", ZRZY_REPLIES, marker)
    got = await consume(broker, "dept-zrzy", ZRZY_REPLIES, group="dept-zrzy.replies", marker=marker)
    assert marker in [r.value for r in got]
    with pytest.raises(TopicAuthorizationFailedError) as exc:
        await consume(broker, "dept-zrzy", CZT_REPLIES, group="dept-zrzy.replies")
    denied(f"dept-zrzy reads {CZT_REPLIES}", exc.value)
    with pytest.raises(TopicAuthorizationFailedError) as exc:
        await produce(broker, "dept-zrzy", ZRZY_REPLIES)
    denied(f"dept-zrzy writes {ZRZY_REPLIES}", exc.value)
    with pytest.raises(TopicAuthorizationFailedError) as exc:
        await produce(broker, "svc-reply", ZRZY_ANSWERS)
    denied(f"svc-reply writes {ZRZY_ANSWERS}", exc.value)


async def test_a_department_reads_its_inbox_not_another(broker: Broker) -> None:
    marker = uuid.uuid4().hex.encode()
    await produce(broker, "svc-routing", ZRZY_INBOX, marker)
    await produce(broker, "svc-routing", CZT_INBOX, marker)
    got = await consume(broker, "dept-zrzy", ZRZY_INBOX, group="dept-zrzy", marker=marker)
    assert marker in [r.value for r in got]
    with pytest.raises(TopicAuthorizationFailedError) as exc:
        await consume(broker, "dept-zrzy", CZT_INBOX, group="dept-zrzy")
    denied(f"dept-zrzy reads {CZT_INBOX}", exc.value)
    with pytest.raises(TopicAuthorizationFailedError) as exc:
        await consume(broker, "dept-zrzy", CZT_INBOX)  # without a group
    denied(f"dept-zrzy reads {CZT_INBOX} (no group)", exc.value)
    with pytest.raises(GroupAuthorizationFailedError) as exc:
        await consume(broker, "dept-zrzy", ZRZY_INBOX, group="dept-czt")
    denied("dept-zrzy joins group dept-czt", exc.value)


async def test_a_department_writes_its_answers_not_another(broker: Broker) -> None:
    meta = await produce(broker, "dept-zrzy", ZRZY_ANSWERS)
    assert meta.topic == ZRZY_ANSWERS
    for topic in (CZT_ANSWERS, ZRZY_INBOX, topics.APPLICATIONS_RECEIVED.name):
        with pytest.raises(TopicAuthorizationFailedError) as exc:
            await produce(broker, "dept-zrzy", topic)
        denied(f"dept-zrzy writes {topic}", exc.value)
    # Only the department writes its answers: routing, which writes every inbox, is denied them.
    with pytest.raises(TopicAuthorizationFailedError) as exc:
        await produce(broker, "svc-routing", CZT_ANSWERS)
    denied(f"svc-routing writes {CZT_ANSWERS}", exc.value)


async def test_a_department_cannot_create_topics(broker: Broker) -> None:
    sec = KafkaSecurity("SASL_PLAINTEXT", "SCRAM-SHA-512", "dept-zrzy", kafka_password("dept-zrzy"))
    with pytest.raises(RuntimeError, match="TopicAuthorizationFailedError") as exc:
        await within(ensure_topics(broker.bootstrap, [topics.department_inbox("zrzy-2")], sec))
    denied("dept-zrzy creates gongkai.dept.zrzy-2.tasks", exc.value)


# ------------------------------------------------------------------------------ private contacts
async def test_private_contacts_are_notify_s_and_reply_s_alone(broker: Broker) -> None:
    marker = uuid.uuid4().hex.encode()
    await produce(broker, "svc-intake", PRIVATE, marker)
    got = await consume(broker, "svc-notify", PRIVATE, group="notify", marker=marker)
    assert marker in [r.value for r in got]
    # reply reads it too: the applicant's name and address, printed in the documents addressed to them.
    got = await consume(broker, "svc-reply", PRIVATE, group="reply", marker=marker)
    assert marker in [r.value for r in got]
    for principal, group in (("dept-zrzy", "dept-zrzy"), ("svc-audit", "audit"), ("svc-routing", "routing")):
        with pytest.raises(TopicAuthorizationFailedError) as exc:
            await consume(broker, principal, PRIVATE, group=group)
        denied(f"{principal} reads {PRIVATE}", exc.value)
    with pytest.raises(TopicAuthorizationFailedError) as exc:
        await produce(broker, "svc-notify", PRIVATE)
    denied(f"svc-notify writes {PRIVATE}", exc.value)


# ------------------------------------------------------------------------------ services
async def test_audit_pattern_subscription_gets_shared_topics_never_private(broker: Broker) -> None:
    marker = uuid.uuid4().hex.encode()
    await produce(broker, "svc-intake", topics.APPLICATIONS_RECEIVED.name, marker)
    await produce(broker, "svc-routing", topics.department_inbox("fgw").name, marker)
    await produce(broker, "svc-intake", PRIVATE, marker)
    shared = {topics.APPLICATIONS_RECEIVED.name, topics.department_inbox("fgw").name}
    got = await consume(broker, "svc-audit", group="audit", pattern=topics.AUDITED_PATTERN, until=shared,
                        marker=marker)
    assert {r.topic for r in got if r.value == marker} == shared
    assert not any(r.topic.startswith(acl.PRIVATE_PREFIX) for r in got)


async def test_reply_pattern_subscription_gets_every_department_answer(broker: Broker) -> None:
    marker = uuid.uuid4().hex.encode()
    for dept in ("zrzy", "ogi"):
        await produce(broker, f"dept-{dept}", topics.department_answers(dept).name, marker)
    answers = {ZRZY_ANSWERS, topics.department_answers("ogi").name}
    got = await consume(broker, "svc-reply", group="reply", pattern=topics.DEPARTMENT_ANSWERS_PATTERN,
                        until=answers, marker=marker)
    assert {r.topic for r in got if r.value == marker} == answers


async def test_a_service_runs_as_its_own_principal(broker: Broker) -> None:
    """servicekit's own clients (FastStream broker, outbox producer) with the stack's settings."""
    sec = KafkaSecurity("SASL_PLAINTEXT", "SCRAM-SHA-512", "svc-notify", kafka_password("svc-notify"))
    handle = BrokerHandle(make_broker(broker.bootstrap, "gongkai-notify-test", sec), broker.bootstrap,
                          "gongkai-notify-test", sec)
    await within(handle.start_with_retry(max_delay=1))
    try:
        assert await handle.alive()
        await handle.publish_many([(topics.NOTICES_DELIVERED.name, b"case-1", b"{}", {})])
        with pytest.raises(TopicAuthorizationFailedError) as exc:
            await handle.publish_many([(topics.REPLIES_ISSUED.name, b"case-1", b"{}", {})])
        denied(f"svc-notify (outbox producer) writes {topics.REPLIES_ISSUED.name}", exc.value)
    finally:
        await handle.stop()


async def test_routing_creates_a_new_department_s_topics_which_is_then_onboarded(broker: Broker) -> None:
    """A department the directory gains at run time: routing creates its topics (and could fill
    its inbox at once); ``kafka_acl.py apply --dept`` gives it its principal; revoke takes it away."""
    new = f"t{uuid.uuid4().hex[:8]}"
    routing = KafkaSecurity("SASL_PLAINTEXT", "SCRAM-SHA-512", "svc-routing", kafka_password("svc-routing"))
    created = await within(ensure_topics(broker.bootstrap, topics.with_dead_letters(topics.department_topics(new)),
                                         routing))
    assert topics.department_answers(new).name in created
    with pytest.raises(SaslAuthenticationFailed):  # not onboarded yet: no such principal
        await within(create_conn("127.0.0.1", broker.port, **kafka_client_kwargs(f"dept-{new}")))
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, kafka_acl.apply, broker.bootstrap, [new])
    await produce(broker, f"dept-{new}", topics.department_answers(new).name)
    assert await visible_topics(broker, f"dept-{new}") == sorted(t.name for t in topics.department_topics(new))
    with pytest.raises(TopicAuthorizationFailedError) as exc:
        await produce(broker, "svc-routing", topics.department_answers(new).name)
    denied(f"svc-routing writes {topics.department_answers(new).name} (onboarded)", exc.value)
    await loop.run_in_executor(None, lambda: kafka_acl.apply(broker.bootstrap, [], [new]))
    with pytest.raises(SaslAuthenticationFailed):
        await within(create_conn("127.0.0.1", broker.port, **kafka_client_kwargs(f"dept-{new}")))


async def test_the_broker_holds_exactly_the_table(broker: Broker) -> None:
    loop = asyncio.get_running_loop()
    before, _, after = await loop.run_in_executor(None, kafka_acl.sync, broker.bootstrap, lambda state: None)
    departments = kafka_acl.requested_departments()
    managed = {a for a in after.acls if acl.is_managed(a.principal.removeprefix("User:"))}
    assert managed == set(acl.acls(departments)) and before == after
    assert set(acl.principals(departments)) <= after.users
    print(f"ACL table: {len(managed)} ACLs for {len(after.users)} principals ({len(departments)} departments)")


logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # refused connections are the point here
