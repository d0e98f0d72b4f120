"""Where the audit consumer reads from: never after its durable ledger.

The subscriber acknowledges (commits) a record only after its append returned, and the store
acknowledges an insert only once it is durable (deploy/local/store, STORE_DURABILITY=commit), so
the committed offsets follow the ledger. But a store can still lose what it acknowledged (a crash
of the machine, a restore from an older backup), and then the committed offsets are ahead of the
ledger. So the ledger, not the group's committed offsets, says where to read:

- on every assignment of partitions (start-up, rebalance) each partition is sought to just after
  the highest offset the durable ledger records for it (``Ledger.resume_positions``); a partition
  the ledger holds nothing of is read from its beginning. Everything before that position was
  handled (recorded, skipped as a duplicate, or sent to a dead-letter topic) before the last
  durable entry, because one consumer appends in the order it reads;
- after a heal (``LedgerHealed``), the same seek on every partition assigned, and those positions
  are committed at once, so the group's offsets are rewound too.

Records re-read are skipped by their event id (already in the ledger); an invalid record re-read is
sent to its dead-letter topic again (the dead-letter consumers see the same record twice).
"""

from __future__ import annotations

from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from contracts.events_ledger import LEDGER_CHECKPOINTS
from services.audit.ledger import Ledger

log = structlog.get_logger("audit.resume")


async def targets(consumer: AIOKafkaConsumer, ledger: Ledger,
                  partitions: set[TopicPartition] | None = None) -> dict[TopicPartition, int]:
    """The offset each assigned partition is to be read from, per the durable ledger."""
    positions = ledger.resume_positions()
    parts = [tp for tp in (partitions if partitions is not None else consumer.assignment())
             if tp.topic != LEDGER_CHECKPOINTS.name]  # never leaves of the ledger: read on
    out: dict[TopicPartition, int] = {}
    unknown = [tp for tp in parts if (tp.topic, tp.partition) not in positions]
    if unknown:
        out.update(await consumer.beginning_offsets(unknown))
    for tp in parts:
        if (tp.topic, tp.partition) in positions:
            out[tp] = positions[(tp.topic, tp.partition)]
    return out


async def rewind(consumer: AIOKafkaConsumer, ledger: Ledger, partitions: set[TopicPartition] | None = None,
                 commit: bool = True) -> dict[TopicPartition, int]:
    """Seek the partitions (default: all assigned) back to the ledger's resume positions, and
    commit them (so that the group's offsets are not ahead of the ledger either)."""
    async with ledger.lock:
        goal = await targets(consumer, ledger, partitions)
        for tp, offset in goal.items():
            consumer.seek(tp, offset)
        if partitions is None:
            ledger.rewound()
    if commit and goal:
        try:
            await consumer.commit({tp: OffsetAndMetadata(offset, "") for tp, offset in goal.items()})
        except Exception as exc:  # noqa: BLE001 - the seek stands; the next assignment seeks again
            log.warning("ledger_rewind_commit_failed", error=repr(exc))
    log.info("ledger_consumer_rewound", partitions=len(goal),
             positions={f"{tp.topic}:{tp.partition}": o for tp, o in sorted(goal.items()) if o})
    return goal


class ResumeFromLedger(ConsumerRebalanceListener):  # type: ignore[misc]
    """On each assignment, seek to the ledger's positions (``subscriber`` is the FastStream
    subscriber: its ``consumer`` is the aiokafka consumer once started)."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.subscriber: Any = None

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        return None

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        consumer = getattr(self.subscriber, "consumer", None)
        if consumer is None or not assigned:
            return
        if self.ledger.problem is not None or self.ledger._tree is None:
            return  # nothing is appended meanwhile; the seek follows the heal
        try:
            await rewind(consumer, self.ledger, set(assigned), commit=False)
        except Exception as exc:  # noqa: BLE001 - store down: the handler's heal rewinds later
            log.warning("ledger_resume_seek_failed", error=repr(exc))
            self.ledger._want_rewind()
