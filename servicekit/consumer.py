"""Consuming events: validate, hand to the domain handler, dead-letter what cannot be processed.

- A record that is not a valid event of an expected type goes straight to ``<topic>.dlt`` with the
  reason in the ``dlt-reason`` header, and the consumer goes on.
- A handler raising ``Unprocessable`` does the same (a permanent, business-level refusal).
- Any other error is retried (the offset is not committed and the record is fetched again) with
  backoff; after ``max_attempts`` tries spread over at least ``patience_seconds`` (so that a
  store restart or a slightly late prerequisite is waited out) it is dead-lettered with the error.
Offsets are committed only after the handler succeeded (at-least-once); handlers are idempotent.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import ValidationError

from contracts.envelope import CloudEvent, EventData, decode
from contracts.topics import dead_letter_topic

from servicekit.logs import bind_event, unbind_event
from servicekit.metrics import DEAD_LETTERS, EVENTS_CONSUMED, HANDLER_SECONDS

log = structlog.get_logger()

Handler = Callable[[CloudEvent[Any]], Awaitable[None]]


class Unprocessable(Exception):
    """The event is valid but can never be processed (e.g. it names an unknown task)."""


async def send_to_dlt(broker: KafkaBroker, rec: Any, reason: str, group_id: str) -> None:
    """Put a consumed record on its topic's dead-letter topic, with the reason and its origin."""
    headers = {
        "dlt-reason": reason[:2000],
        "dlt-original-topic": rec.topic,
        "dlt-original-partition": str(rec.partition),
        "dlt-original-offset": str(rec.offset),
        "dlt-consumer-group": group_id,
    }
    await broker.publish(rec.value or b"", dead_letter_topic(rec.topic), key=rec.key, headers=headers)
    DEAD_LETTERS.labels(rec.topic).inc()
    EVENTS_CONSUMED.labels(rec.topic, "dead_lettered").inc()
    log.warning("dead_lettered", topic=rec.topic, offset=rec.offset, reason=reason[:300])


def subscribe(
    broker: KafkaBroker,
    *,
    group_id: str,
    registry: dict[str, type[EventData]],
    handle: Handler,
    topics: tuple[str, ...] = (),
    pattern: str | None = None,
    max_attempts: int = 5,
    patience_seconds: float = 30.0,
    title: str | None = None,
) -> None:
    """Register a subscriber for ``topics`` (or a ``pattern``) that dead-letters bad records."""
    failures: dict[tuple[str, int, int], tuple[int, float]] = {}

    async def dead_letter(rec: Any, reason: str) -> None:
        await send_to_dlt(broker, rec, reason, group_id)

    async def consume(msg: KafkaMessage) -> None:
        rec = msg.raw_message
        key = (rec.topic, rec.partition, rec.offset)
        try:
            event = decode(rec.value or b"", registry)
        except (ValidationError, ValueError) as exc:
            await dead_letter(rec, f"invalid event: {exc}")
            return
        bind_event(event.subject, event.id)
        started = time.perf_counter()
        try:
            await handle(event)
        except Unprocessable as exc:
            await dead_letter(rec, f"unprocessable: {exc}")
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            n, first = failures.get(key, (0, time.monotonic()))
            n += 1
            failures[key] = (n, first)
            log.warning("handler_failed", attempt=n, error=repr(exc))
            if n >= max_attempts and time.monotonic() - first >= patience_seconds:
                failures.pop(key, None)
                await dead_letter(rec, f"failed {n} times: {exc!r}")
                return
            EVENTS_CONSUMED.labels(rec.topic, "retried").inc()
            await asyncio.sleep(min(0.2 * 2**n, 5.0))
            raise
        finally:
            HANDLER_SECONDS.labels(rec.topic).observe(time.perf_counter() - started)
            unbind_event()
        failures.pop(key, None)
        EVENTS_CONSUMED.labels(rec.topic, "ok").inc()

    consume.__name__ = f"consume_{group_id}_{title or (pattern and 'pattern') or '_'.join(topics)}"
    kwargs: dict[str, Any] = {"pattern": pattern} if pattern else {}
    sub = broker.subscriber(
        *topics,
        group_id=group_id,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        title=title,
        **kwargs,
    )
    sub(consume)
