"""Closed sets as published in an earlier version of an event, kept for that version's model.

An enum is a closed set its consumers switch on: a value added needs the next version of the
events that carry it (docs/events-versioning.md). The class keeps the published name, so the
committed v1 schemas stay byte for byte what they were.
"""

from __future__ import annotations

from enum import StrEnum


class NoticeChannel(StrEnum):
    """notice.delivered v1's channels (v2 adds sms: contracts.vocabulary.NoticeChannel)."""

    EMAIL = "email"
    WEBHOOK = "webhook"
