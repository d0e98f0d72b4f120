"""Prometheus metrics every service exposes at /metrics."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

EVENTS_CONSUMED = Counter(
    "gongkai_events_consumed_total", "Events handled", ["topic", "outcome"]
)
EVENTS_PUBLISHED = Counter("gongkai_events_published_total", "Events published", ["topic"])
DEAD_LETTERS = Counter("gongkai_dead_letters_total", "Messages sent to a dead-letter topic", ["topic"])
HANDLER_SECONDS = Histogram("gongkai_handler_seconds", "Time to handle one event", ["topic"])
OUTBOX_PENDING = Counter(
    "gongkai_outbox_publish_failures_total", "Outbox publish attempts that failed (broker down)"
)
