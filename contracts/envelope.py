"""CloudEvents 1.0 envelope for every Gongkai event, and its Kafka binding (structured mode).

A Kafka record carries one event: the key is the case id (the CloudEvents ``subject``, also the
binding's partition key), the value is the whole event as JSON (``application/cloudevents+json``)
and the ``content-type`` header says so. ``type`` names the fact and its schema version, e.g.
``cn.gongkai.application.received.v1``; ``dataschema`` is the URL of the JSON Schema of that
version, served by the web service (``GET /schemas/<event>.v<n>.json``; committed in
contracts/jsonschema/). Its base is the deployment's web address, ``GONGKAI_SCHEMA_BASE_URL``
(default: the local web service, ``http://127.0.0.1:8106/schemas/``).
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

TYPE_PREFIX = "cn.gongkai."
# Where the JSON Schemas are served (services/web: GET /schemas/{file}); a deployment sets its own.
SCHEMA_BASE_ENV = "GONGKAI_SCHEMA_BASE_URL"
DEFAULT_SCHEMA_BASE = "http://127.0.0.1:8106/schemas/"
CONTENT_TYPE = "application/cloudevents+json; charset=UTF-8"
# Namespace of deterministic event ids: a replay computes the same id, so it is not a new fact.
EVENT_ID_NAMESPACE = uuid.UUID("6f1f7e63-2d0b-4f8e-9d43-8d1a6f0c2b71")


class EventData(BaseModel):
    """Base of every event's ``data``; subclasses name their fact and schema version."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_name: ClassVar[str]  # e.g. "application.received"
    schema_version: ClassVar[int] = 1

    @classmethod
    def ce_type(cls) -> str:
        return f"{TYPE_PREFIX}{cls.event_name}.v{cls.schema_version}"

    @classmethod
    def schema_file(cls) -> str:
        """The file name of this version's JSON Schema, e.g. ``application.received.v1.json``."""
        return f"{cls.event_name}.v{cls.schema_version}.json"

    @classmethod
    def dataschema(cls, base: str | None = None) -> str:
        """The URL of this version's JSON Schema (CloudEvents ``dataschema``)."""
        return f"{base or schema_base()}{cls.schema_file()}"


class EventPart(BaseModel):
    """Base of the nested shapes inside events' data (immutable, no unknown fields)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def schema_base() -> str:
    """The base URL of the served JSON Schemas (ends with a slash)."""
    base = os.environ.get(SCHEMA_BASE_ENV, "").strip() or DEFAULT_SCHEMA_BASE
    return base if base.endswith("/") else base + "/"


D = TypeVar("D", bound=EventData)


class CloudEvent(BaseModel, Generic[D]):
    """The CloudEvents 1.0 envelope (required + the optional attributes we always set)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(min_length=1)
    source: str = Field(min_length=1, description="URI-reference of the producing service")
    type: str = Field(min_length=1)
    subject: str = Field(min_length=1, description="The case id")
    time: datetime
    datacontenttype: Literal["application/json"] = "application/json"
    dataschema: str
    causationid: str | None = Field(
        default=None, description="Extension: id of the event that caused this one"
    )
    data: D


def deterministic_id(*parts: str) -> str:
    """An event id that a replay of the same fact computes again."""
    return str(uuid.uuid5(EVENT_ID_NAMESPACE, "/".join(parts)))


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_event(
    data: D,
    *,
    source: str,
    subject: str,
    event_id: str,
    causation_id: str | None = None,
    time: datetime | None = None,
) -> CloudEvent[D]:
    return CloudEvent[type(data)](  # type: ignore[misc]
        id=event_id,
        source=source,
        type=data.ce_type(),
        subject=subject,
        time=time or utcnow(),
        dataschema=data.dataschema(),
        causationid=causation_id,
        data=data,
    )


def encode(event: CloudEvent[Any]) -> bytes:
    return event.model_dump_json().encode("utf-8")


# The Kafka headers every producer sets (kafka_headers); docs/asyncapi declares exactly these.
HEADER_DESCRIPTIONS = {
    "content-type": "CloudEvents Kafka protocol binding, structured mode: the value is the whole event as JSON.",
    "ce_type": "The event's type (= `type` in the value), so that consumers and tools can filter without "
    "parsing the value.",
    "ce_id": "The event's id (= `id` in the value); deterministic where a replay must not create a new fact.",
}


def kafka_headers(event: CloudEvent[Any]) -> dict[str, str]:
    # Structured mode needs only content-type; ce_type/ce_id are added so that consumers and
    # tools can filter without parsing the value (the binding allows extra headers).
    return {"content-type": CONTENT_TYPE, "ce_type": event.type, "ce_id": event.id}


class UnknownEventType(ValueError):
    pass


def decode(raw: bytes | str | dict[str, Any], registry: dict[str, type[EventData]]) -> CloudEvent[Any]:
    """Parse and validate an event of one of the given types (raises ValueError/ValidationError)."""
    obj = raw if isinstance(raw, dict) else json.loads(raw)
    if not isinstance(obj, dict):
        raise ValueError("event is not a JSON object")
    ce_type = obj.get("type")
    model = registry.get(ce_type) if isinstance(ce_type, str) else None
    if model is None:
        raise UnknownEventType(f"unknown or missing event type {ce_type!r}")
    return CloudEvent[model].model_validate(obj)  # type: ignore[valid-type]
