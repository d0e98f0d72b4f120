"""servicekit.kafka.OffsetCommits with a stand-in consumer: what is committed, when, and in how
many requests (the real broker: tests/e2e/test_offset_commits.py)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from servicekit.kafka import OffsetCommits, close_commits, offset_commits

pytestmark = pytest.mark.asyncio

A, B = TopicPartition("t", 0), TopicPartition("t", 1)


class Consumer(AIOKafkaConsumer):
    """Only what OffsetCommits uses: the assignment and commit(offsets)."""

    def __init__(self, assigned: set[TopicPartition]) -> None:  # noqa: D107 - no client at all
        self.assigned = set(assigned)
        self.commits: list[dict[TopicPartition, int]] = []
        self.fail = 0

    def assignment(self) -> set[TopicPartition]:
        return set(self.assigned)

    async def commit(self, offsets=None) -> None:  # noqa: ANN001
        assert offsets is not None, "never the whole assignment"
        await asyncio.sleep(0)
        if self.fail:
            self.fail -= 1
            raise ConnectionError("broker away")
        self.commits.append({tp: m.offset for tp, m in offsets.items()})

    def __del__(self) -> None:
        pass


def msg(consumer: Consumer, tp: TopicPartition, offset: int) -> SimpleNamespace:
    return SimpleNamespace(consumer=consumer, raw_message=SimpleNamespace(topic=tp.topic, partition=tp.partition,
                                                                          offset=offset))


async def test_processed_offsets_go_together_after_the_interval() -> None:
    c = Consumer({A, B})
    commits = OffsetCommits(0.05)
    for o in range(5):
        await commits.done(msg(c, A, o))
    await commits.done(msg(c, B, 0))
    assert c.commits == []  # not one request per record
    await asyncio.sleep(0.1)
    assert c.commits == [{A: 5, B: 1}]  # one request, each partition at its last record + 1
    await commits.done(msg(c, B, 1))
    await asyncio.sleep(0.1)
    assert c.commits[-1] == {B: 2}  # only the partition that moved


async def test_a_seek_back_sets_the_offset_back() -> None:
    c = Consumer({A})
    commits = OffsetCommits(0.05)
    await commits.done(msg(c, A, 9))
    await commits.done(msg(c, A, 3))  # read again after a rewind: 4..9 are not done any more
    await asyncio.sleep(0.1)
    assert c.commits == [{A: 4}]


async def test_revocation_commits_the_revoked_partitions_at_once() -> None:
    c = Consumer({A, B})
    inner = SimpleNamespace(revoked=None)

    class Listener:
        async def on_partitions_revoked(self, revoked):  # noqa: ANN001, ANN202
            inner.revoked = (set(revoked), list(c.commits))

        async def on_partitions_assigned(self, assigned):  # noqa: ANN001, ANN202
            pass

    commits = OffsetCommits(60, Listener())
    await commits.done(msg(c, A, 1))
    await commits.done(msg(c, B, 7))
    await commits.on_partitions_revoked({A})
    assert c.commits == [{A: 2}]
    assert inner.revoked == ({A}, [{A: 2}])  # committed before the service's own listener runs
    assert commits.pending() == {B: 8}


async def test_a_failed_commit_is_kept_and_unassigned_partitions_dropped() -> None:
    c = Consumer({A, B})
    commits = OffsetCommits(0.02)
    c.fail = 1
    await commits.done(msg(c, A, 0))
    await asyncio.sleep(0.05)
    assert c.commits == [] and commits.pending() == {A: 1}
    c.assigned = {B}  # A went to another member meanwhile
    await commits.done(msg(c, B, 4))
    await asyncio.sleep(0.05)
    assert c.commits == [{B: 5}] and commits.pending() == {}


async def test_stopping_commits_what_was_processed_and_then_each_record_at_once() -> None:
    c = Consumer({A})
    broker = object.__new__(type("Broker", (), {}))
    commits = offset_commits(broker, "s", 60)  # type: ignore[arg-type]
    await commits.done(msg(c, A, 0))
    await close_commits(broker)  # type: ignore[arg-type]
    assert c.commits == [{A: 1}]
    await commits.done(msg(c, A, 1))  # the handler in flight while the broker stops
    assert c.commits == [{A: 1}, {A: 2}]


async def test_the_in_memory_test_broker_is_left_alone() -> None:
    commits = OffsetCommits(0)
    fake = SimpleNamespace(consumer=object(), raw_message=SimpleNamespace(topic="t", partition=0, offset=1))
    await commits.done(fake)
    assert commits.pending() == {}
