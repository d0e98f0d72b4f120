"""Consuming events: validate, hand to the domain handler, dead-letter what cannot be processed.

- A record that is not a valid event of an expected type goes straight to ``<topic>.dlt`` with the
  reason in the ``dlt-reason`` header, and the consumer goes on.
- A handler raising ``Unprocessable`` does the same (a permanent, business-level refusal).
- Any other error is retried (the offset is not committed and the record is fetched again) with
  backoff; after ``max_attempts`` tries spread over at least ``patience_seconds`` (so that a
  store restart or a slightly late prerequisite is waited out) it is dead-lettered with the error.
Offsets are committed only after the record was processed (handled or dead-lettered; at-least-once),
and in batches: each subscriber's ``servicekit.kafka.OffsetCommits`` commits the partitions that
moved at most ``GONGKAI_KAFKA_COMMIT_INTERVAL_MS`` after a record was done, on revocation and at
shutdown. A crash redelivers what was processed since the last commit; handlers are idempotent.

A ``dlt-reason`` names the field and the rule, never the record's values (a dead-letter topic is
read by operators; a record may carry an ID number, a phone number, a name): ``reason_of(exc)``
builds it. ``Unprocessable`` messages are the handler's own words and must follow the same rule.
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import ValidationError
from pydantic_core import PydanticKnownError

from contracts.envelope import CloudEvent, EventData, UnknownEventType, decode
from contracts.topics import dead_letter_topic

from servicekit.kafka import membership, offset_commits
from servicekit.logs import bind_event, unbind_event
from servicekit.metrics import DEAD_LETTERS, EVENTS_CONSUMED, HANDLER_SECONDS
from servicekit.settings import CommonSettings

log = structlog.get_logger()

Handler = Callable[[CloudEvent[Any]], Awaitable[None]]


class Unprocessable(Exception):
    """The event is valid but can never be processed (e.g. it names an unknown task). Its message
    goes into ``dlt-reason``: name the field and the rule, not the record's values."""


# ---------------------------------------------------------------- dead-letter reasons
# Context entries of a pydantic error that are the rule (from the schema), never the input.
_RULE_CONTEXT = frozenset({
    "max_length", "min_length", "pattern", "expected", "gt", "ge", "lt", "le", "multiple_of", "max_digits",
    "decimal_places", "whole_digits", "expected_tags", "discriminator", "class_name", "field_type",
    "max_items", "min_items",
})
# A location part that is a field name (or an index): a dict key holding data is not shown.
_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_\-\[\](),. ]{0,79}", re.ASCII)
# Text that cannot carry a record's value: ASCII words and punctuation, no digits, no quotes.
_PLAIN_TEXT = re.compile(r"[A-Za-z ,;:()/_\-]{1,200}", re.ASCII)
_EVENT_TYPE = re.compile(r"'[a-z0-9][a-z0-9._-]{0,119}'", re.ASCII)
_MAX_LISTED = 10


def _loc(loc: tuple[int | str, ...]) -> str:
    parts = [str(p) if isinstance(p, int) or _FIELD_NAME.fullmatch(p) else "<key>" for p in loc]
    return ".".join(parts) or "(record)"


def _rule_message(err: dict[str, Any]) -> str | None:
    """pydantic's message rebuilt from the rule alone (None when it would need the input)."""
    etype = err.get("type", "")
    if etype in ("value_error", "assertion_error"):  # a validator's own words may quote the input
        return None
    ctx = {k: v for k, v in (err.get("ctx") or {}).items() if k in _RULE_CONTEXT}
    try:
        return PydanticKnownError(etype, ctx or None).message()  # type: ignore[arg-type]
    except (KeyError, TypeError, ValueError):
        return None


def reason_of(exc: BaseException) -> str:
    """Why a record cannot be processed, naming fields and rules only (for ``dlt-reason``).

    - pydantic ``ValidationError``: ``"<loc>: <type> (<message from the rule>)"`` per error, built
      from ``errors(include_input=False, include_url=False)``, never from ``str(exc)`` (which
      quotes ``input_value``); a dict key in a location shows as ``<key>``.
    - JSON that does not parse: the position only; text that is not UTF-8: the byte offset.
    - an unknown event type: named if it looks like an event type.
    - anything else: its class, and its message only if it cannot carry a value (plain words).
    """
    if isinstance(exc, ValidationError):
        errors = exc.errors(include_input=False, include_url=False)
        listed = []
        for err in errors[:_MAX_LISTED]:
            message = _rule_message(dict(err))
            listed.append(f"{_loc(tuple(err.get('loc', ())))}: {err.get('type', 'invalid')}"
                          + (f" ({message})" if message else ""))
        more = len(errors) - _MAX_LISTED
        return "; ".join(listed) + (f"; (+{more} more)" if more > 0 else "")
    if isinstance(exc, json.JSONDecodeError):
        return f"not valid JSON at line {exc.lineno} column {exc.colno} (char {exc.pos})"
    if isinstance(exc, UnicodeDecodeError):
        return f"not valid {exc.encoding} text at byte {exc.start}"
    if isinstance(exc, UnknownEventType):
        named = re.search(r"'.*'$", str(exc))
        shown = named.group(0) if named and _EVENT_TYPE.fullmatch(named.group(0)) else None
        return "type: unknown or missing event type" + (f" {shown}" if shown else "")
    text = str(exc)
    return type(exc).__name__ + (f": {text}" if _PLAIN_TEXT.fullmatch(text) else "")


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
    common: CommonSettings | None = None,
) -> None:
    """Register a subscriber for ``topics`` (or a ``pattern``) that dead-letters bad records.
    Its group membership (static instance id, session timeout) and its commit interval come from
    ``common`` (default: the GONGKAI_* settings of the process)."""
    failures: dict[tuple[str, int, int], tuple[int, float]] = {}
    common = common or CommonSettings()
    member = title or (pattern and "pattern") or "_".join(topics)
    commits = offset_commits(broker, f"{group_id}:{member}", common.kafka_commit_interval_ms / 1000)

    async def dead_letter(rec: Any, reason: str) -> None:
        await send_to_dlt(broker, rec, reason, group_id)

    async def consume(msg: KafkaMessage) -> None:
        rec = msg.raw_message
        key = (rec.topic, rec.partition, rec.offset)
        try:
            event = decode(rec.value or b"", registry)
        except (ValidationError, ValueError) as exc:
            await dead_letter(rec, f"invalid event: {reason_of(exc)}")
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
            # A validation error quotes the data it refused: log its fields and rules only.
            log.warning("handler_failed", attempt=n,
                        error=reason_of(exc) if isinstance(exc, ValidationError) else repr(exc))
            if n >= max_attempts and time.monotonic() - first >= patience_seconds:
                failures.pop(key, None)
                await dead_letter(rec, f"failed {n} times: {reason_of(exc)}")
                return
            EVENTS_CONSUMED.labels(rec.topic, "retried").inc()
            await asyncio.sleep(min(0.2 * 2**n, 5.0))
            raise
        finally:
            HANDLER_SECONDS.labels(rec.topic).observe(time.perf_counter() - started)
            unbind_event()
        failures.pop(key, None)
        EVENTS_CONSUMED.labels(rec.topic, "ok").inc()

    consume.__name__ = f"consume_{group_id}_{member}"
    consume.accepts = registry  # type: ignore[attr-defined] - what it decodes, for servicekit/asyncapi.py

    @functools.wraps(consume)
    async def acknowledged(msg: KafkaMessage) -> None:
        # Acknowledged by hand (AckPolicy.MANUAL): a record processed (handled or dead-lettered)
        # goes to the batched commit; one that failed is read again (nack seeks back to it), and
        # nothing after it is committed meanwhile.
        try:
            await consume(msg)
        except asyncio.CancelledError:
            raise
        except Exception:
            await msg.nack()
            raise
        await commits.done(msg)

    kwargs: dict[str, Any] = {"pattern": pattern} if pattern else {}
    kwargs.update(membership(common, f"{group_id}:{member}"))
    sub = broker.subscriber(
        *topics,
        group_id=group_id,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.MANUAL,
        listener=commits,
        title=title,
        **kwargs,
    )
    sub(acknowledged)
