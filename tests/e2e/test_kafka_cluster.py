"""The three-node cluster of deploy/local/cluster.py: every catalogue topic with three replicas and
``min.insync.replicas=2``, the catalogue's ACLs in force, and one node's SIGKILL under load (the
controller quorum's leader, so the quorum and partition leadership both move) loses nothing and
duplicates nothing; the node comes back and catches up. The whole pipeline on the cluster, with
node kills among the chaos: tests/e2e/test_zz_chaos.py."""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import TopicAuthorizationFailedError

from contracts import topics
from deploy.local.cluster import NODES, Cluster, under_replicated
from deploy.local.credentials import kafka_client_kwargs
from deploy.local.kafka_acl import quorum
from tests.e2e.helpers import eventually

pytestmark = pytest.mark.e2e

# Below the ephemeral port range; not used by the session stack (29092..) nor the chaos runs.
BASE = 29400
TOPIC = topics.APPLICATIONS_RECEIVED.name  # written by svc-intake in the pipeline


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    c = Cluster(run_dir=Path(tempfile.mkdtemp(prefix="gk-cluster-")), base_port=BASE)
    try:
        c.up()
        yield c
    finally:
        for node in NODES:
            c.kill(node)


async def _admin(bootstrap: str) -> AIOKafkaAdminClient:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000, **kafka_client_kwargs())
    await admin.start()
    return admin


def test_every_topic_has_three_replicas_and_needs_two_in_sync(cluster: Cluster) -> None:
    async def go() -> None:
        admin = await _admin(cluster.bootstrap)
        try:
            names = [t.name for t in topics.topics_to_create([])]
            described = await admin.describe_topics(names)
            assert {t["topic"] for t in described} == set(names)
            for t in described:
                assert t["error_code"] == 0, t
                for p in t["partitions"]:
                    assert sorted(p["replicas"]) == [1, 2, 3], (t["topic"], p)
            configs = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, n) for n in names])
            seen = 0
            for response in configs:
                for _code, _msg, _type, name, entries in response.resources:
                    values = {e[0]: e[1] for e in entries}
                    assert values["min.insync.replicas"] == "2", name
                    assert values["unclean.leader.election.enable"] == "false", name
                    seen += 1
            assert seen == len(names)
        finally:
            await admin.close()

    asyncio.run(go())
    q = quorum(cluster.bootstrap)
    assert set(q.voters) == set(NODES) and q.leader in NODES, q


def test_the_catalogues_acls_hold_on_the_cluster(cluster: Cluster) -> None:
    """A department's principal may not read another department's inbox (the catalogue's ACLs,
    applied to the cluster as to the single broker)."""
    async def go() -> None:
        consumer = AIOKafkaConsumer(topics.department_inbox("czt").name, bootstrap_servers=cluster.bootstrap,
                                    group_id="dept-zrzy", auto_offset_reset="earliest",
                                    **kafka_client_kwargs("dept-zrzy"))
        try:
            with pytest.raises(TopicAuthorizationFailedError):
                await asyncio.wait_for(consumer.start(), 30)
                await asyncio.wait_for(consumer.getmany(timeout_ms=3000), 20)
        finally:
            await consumer.stop()
        own = AIOKafkaConsumer(topics.department_inbox("zrzy").name, bootstrap_servers=cluster.bootstrap,
                               group_id="dept-zrzy", auto_offset_reset="earliest", **kafka_client_kwargs("dept-zrzy"))
        try:
            await asyncio.wait_for(own.start(), 30)  # its own inbox: allowed
            await own.getmany(timeout_ms=500)
        finally:
            await own.stop()

    asyncio.run(go())


async def _create_during_outage(survivors: str, name: str, within: float = 60.0) -> bool:
    """Whether a topic can be created through the surviving nodes within ``within`` seconds. The
    first tries may come while the quorum is still electing its new leader (the answer is then an
    error code such as NOT_CONTROLLER or REQUEST_TIMED_OUT, not a raise); a quorum that works
    answers within a few seconds of its election. Each try and its answer are kept for the report."""
    tries: list[str] = []

    async def created() -> bool:
        try:
            admin = await _admin(survivors)
            try:
                response = await admin.create_topics([NewTopic(name, 1, 2)], timeout_ms=15000)
                tries.append(repr(getattr(response, "topic_errors", response)))
                return name in await admin.list_topics()
            finally:
                await admin.close()
        except Exception as exc:  # noqa: BLE001 - a try that failed is recorded and tried again
            tries.append(repr(exc))
            return False

    try:
        return await eventually(created, timeout=within, every=2, what="a topic created during the outage")
    except AssertionError:
        print("topic creation during the outage never succeeded:", tries)
        return False


def test_killing_the_quorum_leader_under_load_loses_and_duplicates_nothing(cluster: Cluster) -> None:
    run = uuid.uuid4().hex[:8]
    total, kill_at = 3000, 1000
    leader_before = quorum(cluster.bootstrap).leader

    async def go() -> dict[str, object]:
        producer = AIOKafkaProducer(bootstrap_servers=cluster.bootstrap, acks="all", enable_idempotence=True,
                                    request_timeout_ms=30000, **kafka_client_kwargs("svc-intake"))
        await producer.start()
        acked: list[str] = []
        failed: list[str] = []
        killed_at: float | None = None
        outage: asyncio.Task[bool] | None = None
        try:
            async def send(i: int) -> None:
                key = f"{run}-{i}"
                try:
                    await producer.send_and_wait(TOPIC, json.dumps({"id": key}).encode(), key=key.encode())
                    acked.append(key)
                except Exception:  # noqa: BLE001 - counted: a send that failed was never acknowledged
                    failed.append(key)

            pending: set[asyncio.Task] = set()
            for i in range(total):
                if i == kill_at:
                    await asyncio.to_thread(cluster.kill, leader_before)
                    killed_at = time.monotonic()
                t = asyncio.create_task(send(i))
                pending.add(t)
                t.add_done_callback(pending.discard)
                if len(pending) >= 50:
                    await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                if i == kill_at + 500:
                    # The controller quorum still works with one voter gone: a new topic can be made
                    # (in the background, while the sends go on).
                    outage = asyncio.create_task(_create_during_outage(
                        ",".join(cluster.address(n) for n in NODES if n != leader_before), f"gongkai.test.outage-{run}"))
            await asyncio.gather(*pending)
            outage_topic_created = await outage if outage is not None else False
        finally:
            await producer.stop()
        return {"acked": acked, "failed": failed, "killed_at": killed_at, "outage_topic": outage_topic_created}

    res = asyncio.run(go())
    survivors = ",".join(cluster.address(n) for n in NODES if n != leader_before)
    q = quorum(survivors)
    assert q.leader in NODES and q.leader != leader_before, f"no new quorum leader: {q}"
    assert res["outage_topic"], "the controller quorum could not create a topic with one node down"

    cluster.start(leader_before)
    cluster.wait_ready((leader_before,))
    deadline = time.monotonic() + 90
    while (short := asyncio.run(under_replicated(cluster.bootstrap, [TOPIC]))) and time.monotonic() < deadline:
        time.sleep(1)
    assert not short, f"node {leader_before} did not catch up: {short}"
    assert leader_before in quorum(cluster.bootstrap).voters

    async def read_back() -> Counter[str]:
        consumer = AIOKafkaConsumer(TOPIC, bootstrap_servers=cluster.bootstrap, group_id=None,
                                    auto_offset_reset="earliest", enable_auto_commit=False, **kafka_client_kwargs())
        await consumer.start()
        seen: Counter[str] = Counter()
        try:
            idle_until = time.monotonic() + 15
            while time.monotonic() < idle_until:
                batch = await consumer.getmany(timeout_ms=500)
                for recs in batch.values():
                    for rec in recs:
                        key = json.loads(rec.value).get("id", "")
                        if key.startswith(run):
                            seen[key] += 1
                if batch:
                    idle_until = time.monotonic() + 3
                if len(seen) >= len(res["acked"]) and not batch:  # type: ignore[arg-type]
                    break
        finally:
            await consumer.stop()
        return seen

    seen = asyncio.run(read_back())
    acked: list[str] = res["acked"]  # type: ignore[assignment]
    lost = [k for k in acked if k not in seen]
    twice = [k for k, n in seen.items() if n > 1]
    print(f"cluster: {len(acked)} of {total} sends acknowledged ({len(res['failed'])} failed), node "  # type: ignore[arg-type]
          f"{leader_before} (quorum leader) SIGKILLed after {kill_at}; new leader {q.leader}; read back "
          f"{len(seen)} distinct, lost {len(lost)}, duplicated {len(twice)}")
    assert not lost, f"{len(lost)} acknowledged records lost, e.g. {lost[:5]}"
    assert not twice, f"{len(twice)} records duplicated, e.g. {twice[:5]}"
    assert len(acked) >= total - len(res["failed"]) and len(acked) > kill_at  # type: ignore[arg-type]
    assert set(seen) <= {f"{run}-{i}" for i in range(total)}
