"""The AsyncAPI 3.0 documents of Gongkai's bus, generated from the code.

FastStream's own generator knows a subscriber's topics but not what it accepts (our consumers take
the raw record and decode it with a registry of event types, so it says ``{"type": "null"}``), and
it cannot say the headers, the key, the topic's configuration, parameterised channels or who may do
what. So this module writes the documents itself, from what the code declares:

- what a service sends: ``ServiceRuntime.publishes(topic, model)`` (its outbox publishes them);
- what it receives: its FastStream subscribers (topics or pattern, group, title) and, for those made
  by ``servicekit.consumer.subscribe``, the registry of event types they decode (a subscriber that
  reads raw records, as audit's, accepts what the topic carries); they dead-letter what they cannot
  process onto ``<topic>.dlt``;
- the channels: contracts/topics.py (partitions, key, configuration, the per-department templates as
  parameterised channels; a pattern subscription becomes the catalogue's channels it matches);
- the messages: contracts/events*.py, with the payload of contracts/jsonschema_export.py, the Kafka
  headers of contracts/envelope.kafka_headers and the key of the topic;
- the security: SASL/SCRAM-SHA-512, each operation naming the principal that performs it and the
  ACL of contracts/acl.py that allows it.

    python -m servicekit.asyncapi [OUT_DIR]   writes OUT_DIR/<service>.json and OUT_DIR/gongkai-bus.json
                                              (default: docs/asyncapi)

Output is deterministic (keys sorted); tests/servicekit/test_asyncapi.py regenerates and compares, and
validates with the official parser (@asyncapi/parser).
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
import inspect
import json
import os
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contracts import acl, topics
from contracts.envelope import (
    CONTENT_TYPE,
    DEFAULT_SCHEMA_BASE,
    HEADER_DESCRIPTIONS,
    CloudEvent,
    EventData,
    kafka_headers,
)
from contracts.events import ALL_EVENTS
from contracts.jsonschema_export import schema_of

ASYNCAPI = "3.0.0"
BINDING = "0.5.0"  # Kafka bindings (asyncapi/bindings kafka 0.5.0)
VERSION = "1.0.0"
SERVICES = ("intake", "routing", "reply", "notify", "audit")
BUS_FILE = "gongkai-bus.json"
DEPT_PARAM = "dept_code"
SCRAM = "scramSha512"
_SAMPLE = "sample-dept"  # a department code, to match patterns against the per-department templates
DLT_HEADERS = {  # servicekit.consumer.send_to_dlt
    "dlt-reason": "Why the record could not be processed (no personal data).",
    "dlt-original-topic": "The topic the record was consumed from.",
    "dlt-original-partition": "Its partition (decimal).",
    "dlt-original-offset": "Its offset (decimal).",
    "dlt-consumer-group": "The consumer group that gave up on it.",
}


# ------------------------------------------------------------------------------------ catalogue
@dataclass(frozen=True)
class Channel:
    id: str  # e.g. "applications.received", "dept.tasks", "dept.tasks.dlt"
    address: str  # the topic, or its template with {dept_code}
    spec: topics.TopicSpec
    sample: str  # a concrete topic name (to match subscription patterns)
    dead_letters_of: str | None = None  # the channel id this one holds the dead letters of

    @property
    def parameterised(self) -> bool:
        return "{" in self.address


def _short(name: str) -> str:
    return name.removeprefix(topics.PREFIX + ".")


def catalogue() -> list[Channel]:
    """Every channel of the bus: the static topics, the per-department templates, their DLTs."""
    out: list[Channel] = []
    templates = (
        (topics.DEPARTMENT_INBOX_TEMPLATE, topics.department_inbox(_SAMPLE),
         "The inbox of one department: the tasks assigned to it (routing writes; the department's own "
         "system and audit read)."),
        (topics.DEPARTMENT_ANSWERS_TEMPLATE, topics.department_answers(_SAMPLE),
         "The answers of one department, published by its own system (an integrator); only its principal "
         "dept-{dept_code} may write here, so the department of an answer is the topic's."),
        (topics.DEPARTMENT_REPLIES_TEMPLATE, topics.department_replies(_SAMPLE),
         "The replies copied to one department (抄送): each reply.issued / reply.amended whose cc names it, the "
         "same event (same id) as on gongkai.replies.issued (reply writes; the department's own system reads)."),
    )
    specs: list[tuple[str, topics.TopicSpec, str]] = [(s.name, s, s.name) for s in topics.STATIC_TOPICS]
    specs += [(tpl, dataclasses.replace(sample, name=tpl, description=text), sample.name)
              for tpl, sample, text in templates]
    for address, spec, sample in specs:
        out.append(Channel(_short(address).replace(".{" + DEPT_PARAM + "}", ""), address, spec, sample))
    for ch in list(out):
        if ch.spec.has_dlt:
            dlt = dataclasses.replace(ch.spec, name=topics.dead_letter_topic(ch.address), event_types=(),
                                      description=f"Dead letters of {ch.address}: each record a consumer could "
                                      "not process, as it was, with the reason in the headers.",
                                      has_dlt=False, partitions=1)
            out.append(Channel(ch.id + ".dlt", dlt.name, dlt, topics.dead_letter_topic(ch.sample), ch.id))
    return out


def _channel_of(topic: str, channels: list[Channel]) -> Channel:
    for ch in channels:
        if topic == ch.address:
            return ch
    raise ValueError(f"topic {topic!r} is not in contracts/topics.py")


def _channels_matching(pattern: str, channels: list[Channel]) -> list[Channel]:
    rx = re.compile(pattern)  # as the consumer applies it (aiokafka: re.match on each topic name)
    return [ch for ch in channels if rx.match(ch.sample)]


def _models(event_names: Iterable[str]) -> list[type[EventData]]:
    names = set(event_names)
    return [m for m in ALL_EVENTS if m.event_name in names]


def message_id(model: type[EventData]) -> str:
    return f"{model.event_name}.v{model.schema_version}"


# ------------------------------------------------------------------------------------ service use
@dataclass(frozen=True)
class Publication:
    topic: str
    model: type[EventData]
    description: str = ""


@dataclass(frozen=True)
class Subscription:
    title: str
    group_id: str
    client_id: str
    topics: tuple[str, ...]
    pattern: str | None
    accepts: tuple[type[EventData], ...] | None  # None: whatever the topic carries
    dead_letters: bool
    description: str = ""


def _doc_of(fn: Any) -> str:
    """A handler's docstring as one line ("" without one)."""
    doc = inspect.getdoc(fn) if callable(fn) else None
    return " ".join(doc.split()) if doc else ""


def subscriptions_of(broker: Any) -> list[Subscription]:
    """The subscribers of a FastStream KafkaBroker, as declared (nothing is started)."""
    out = []
    for sub in broker.subscribers:
        config = sub.specification.config
        # The function the subscriber runs (servicekit.consumer's own, under its acknowledgement).
        fn = inspect.unwrap(sub.calls[0].handler._original_call)  # noqa: SLF001
        accepts = getattr(fn, "accepts", None)
        names: dict[str, Any] = {}
        with_dlt = False
        if callable(fn):
            try:
                cv = inspect.getclosurevars(fn)
                names = {**cv.globals, **cv.nonlocals}
            except (TypeError, ValueError):
                names = {}
            with_dlt = "dead_letter" in names or "send_to_dlt" in names
        if accepts is None:
            accepts = names.get("registry") if isinstance(names.get("registry"), dict) else None
        out.append(Subscription(
            title=config.title_ or fn.__name__, group_id=sub.group_id or "", client_id=sub.client_id or "",
            topics=tuple(getattr(t, "name", t) for t in config.topics or ()),
            pattern=str(config.pattern) if config.pattern else None,
            accepts=tuple(accepts.values()) if isinstance(accepts, dict) else None,
            dead_letters=with_dlt, description=config.description_ or _doc_of(names.get("handle")) or _doc_of(fn)))
    return sorted(out, key=lambda s: (s.title, s.topics, s.pattern or ""))


# ------------------------------------------------------------------------------------ components
def _header_schema(model: type[EventData]) -> dict:
    sample = CloudEvent.model_construct(type=model.ce_type(), id="x", subject="x")
    sent = kafka_headers(sample)  # exactly what every producer sets
    props: dict[str, dict] = {}
    for name, value in sent.items():
        prop: dict[str, Any] = {"type": "string", "description": HEADER_DESCRIPTIONS.get(name, "")}
        if value in (CONTENT_TYPE, model.ce_type()):
            prop["const"] = value
        props[name] = prop
    return {"type": "object", "required": sorted(sent), "properties": props}


def _key_schema(spec: topics.TopicSpec) -> dict:
    if spec.key == "case id":
        text = "The case id (= the CloudEvents `subject`): every event of a case is on one partition, in order."
    else:
        text = f"The {spec.key} (= the CloudEvents `subject`)."
    return {"type": "string", "minLength": 1, "description": text}


def _split_defs(model: type[EventData], schemas: dict[str, dict]) -> dict:
    """The payload schema of an event, its $defs moved to components/schemas (AsyncAPI resolves
    references against the document)."""
    schema = copy.deepcopy(schema_of(model))
    schema.pop("$schema", None)
    schema.pop("$id", None)
    defs = schema.pop("$defs", {})
    # A name another event uses for a different shape gets this event's prefix.
    names = {n: n for n in defs}

    def relink(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: (f"#/components/schemas/{names[v.removeprefix('#/$defs/')]}" if k == "$ref"
                        and v.startswith("#/$defs/") else relink(v)) for k, v in node.items()}
        if isinstance(node, list):
            return [relink(v) for v in node]
        return node

    for _ in range(len(defs) + 1):  # renaming one may change another's relinked content
        clash = [n for n in defs if names[n] in schemas and schemas[names[n]] != relink(defs[n])
                 and names[n] == n]
        if not clash:
            break
        for n in clash:
            names[n] = f"{message_id(model)}.{n}"
    for name, sub in defs.items():
        sub = relink(sub)
        if names[name] in schemas and schemas[names[name]] != sub:
            raise ValueError(f"two different schemas are both named {names[name]!r}")
        schemas[names[name]] = sub
    return relink(schema)


def _message(model: type[EventData], spec: topics.TopicSpec, schemas: dict[str, dict]) -> dict:
    mid = message_id(model)
    schemas[mid] = _split_defs(model, schemas)
    doc = " ".join((model.__doc__ or "").split())
    return {
        "name": mid,
        "title": model.ce_type(),
        "summary": doc or f"{model.event_name} (schema version {model.schema_version})",
        "description": "A CloudEvents 1.0 event in structured mode: the record's value is the whole event "
        f"as JSON. Its JSON Schema (2020-12) is at its `dataschema`, e.g. {model.dataschema(DEFAULT_SCHEMA_BASE)} "
        f"(committed in contracts/jsonschema/{model.schema_file()}).",
        "contentType": CONTENT_TYPE,
        "headers": _header_schema(model),
        "payload": {"$ref": f"#/components/schemas/{mid}"},
        "bindings": {"kafka": {"key": _key_schema(spec), "bindingVersion": BINDING}},
        "externalDocs": {"description": "JSON Schema of this event version",
                         "url": model.dataschema(DEFAULT_SCHEMA_BASE)},
    }


def _dead_letter_message() -> dict:
    return {
        "name": "dead-letter",
        "title": "A record that could not be processed",
        "summary": "The consumed record's value and key as they were, the reason and origin in the headers.",
        "contentType": "application/octet-stream",
        "headers": {"type": "object", "required": sorted(DLT_HEADERS),
                    "properties": {k: {"type": "string", "description": v} for k, v in DLT_HEADERS.items()}},
        "payload": {"type": "string", "format": "binary",
                    "description": "The original record's value, unchanged (usually a CloudEvent; possibly not JSON)."},
        "bindings": {"kafka": {"key": {"type": "string", "description": "The original record's key (the case id)."},
                               "bindingVersion": BINDING}},
    }


def _security_schemes() -> dict:
    return {"sasl-scram": {
        "type": SCRAM,
        "description": "SASL/SCRAM-SHA-512 (SASL_SSL in production; SASL_PLAINTEXT on the local loopback stack). "
        "Every client is its own principal: svc-<service> for the services, dept-<code> for a department's "
        "own system. The broker's ACLs are exactly contracts/acl.py `acls(...)`; each operation here names "
        "its principal (x-gongkai-principal) and the ACLs that allow it (x-gongkai-acl).",
    }}


def _servers() -> dict:
    ref = [{"$ref": "#/components/securitySchemes/sasl-scram"}]
    return {
        "local": {"host": "127.0.0.1:19092", "protocol": "kafka", "protocolVersion": "4.4.0",
                  "description": "The local stack (./dev up): Apache Kafka 4.4.0 in KRaft mode on loopback, "
                  "SASL_PLAINTEXT with SCRAM-SHA-512 (passwords: deploy/local/credentials.py).",
                  "security": ref},
        "production": {"host": "{bootstrap}", "protocol": "kafka-secure",
                       "description": "An agency's cluster (Strimzi): SASL_SSL with SCRAM-SHA-512; its bootstrap "
                       "address and each principal's password come from the agency.",
                       "variables": {"bootstrap": {"description": "The agency's Kafka bootstrap address (host:port)."}},
                       "security": ref},
    }


# ------------------------------------------------------------------------------------ documents
def _acl_text(a: acl.Acl) -> str:
    return f"{a.permission} {a.operation} {a.resource_type} {a.pattern_type} {a.resource_name}"


def _grants(principal: str, table: list[acl.Acl], op: str, topic: str) -> list[str]:
    """The ACLs that allow ``principal`` to ``op`` (READ/WRITE) ``topic`` (raises if none do)."""
    name = principal.removeprefix("User:")
    if not acl.allowed(table, name, op, acl.TOPIC, topic):
        raise ValueError(f"{name} is not allowed to {op} {topic} (contracts/acl.py)")
    return sorted(_acl_text(a).replace(_SAMPLE, "{" + DEPT_PARAM + "}") for a in table
                  if a.principal == acl.user(name) and a.permission == acl.ALLOW
                  and a.operation in (op, acl.ALL) and a.matches(acl.TOPIC, topic))


class _Doc:
    def __init__(self, title: str, description: str) -> None:
        self.title, self.description = title, description
        self.channels: dict[str, dict] = {}
        self.operations: dict[str, dict] = {}
        self.messages: dict[str, dict] = {}
        self.schemas: dict[str, dict] = {}
        self.all_channels = catalogue()

    def channel(self, ch: Channel) -> dict:
        if ch.id not in self.channels:
            kafka: dict[str, Any] = {"partitions": ch.spec.partitions, "bindingVersion": BINDING,
                                     "topicConfiguration": self._topic_config(ch.spec)}
            if not ch.parameterised:
                kafka["topic"] = ch.address
            body: dict[str, Any] = {"address": ch.address, "title": ch.address, "description": self._describe(ch),
                                    "messages": {}, "bindings": {"kafka": kafka}}
            if ch.parameterised:
                body["parameters"] = {DEPT_PARAM: {
                    "description": "The department's code in the directory (services/routing): lower-case "
                    "letters, digits and hyphens, starting with a letter or digit, at most 63 characters.",
                    "examples": ["zrzy", "zjt"]}}
            self.channels[ch.id] = body
        return self.channels[ch.id]

    @staticmethod
    def _topic_config(spec: topics.TopicSpec) -> dict:
        config: dict[str, Any] = {"cleanup.policy": ["compact" if spec.compacted else "delete"]}
        for key, value in sorted(spec.extra_config.items()):
            if key != "cleanup.policy":
                config[key] = int(value) if value.lstrip("-").isdigit() else value
        return config

    @staticmethod
    def _describe(ch: Channel) -> str:
        text = ch.spec.description
        if ch.spec.restricted:
            text += " Restricted: personal data; only the named services may read it (contracts/acl.py)."
        if ch.spec.event_types:
            text += f" Key: the {ch.spec.key}."
        return text

    def message(self, ch: Channel, model: type[EventData] | None) -> dict:
        """Add a message to a channel; returns its reference for an operation."""
        body = self.channel(ch)
        if model is None:
            mid = "dead-letter"
            self.messages.setdefault(mid, _dead_letter_message())
        else:
            mid = message_id(model)
            if mid not in self.messages:
                self.messages[mid] = _message(model, ch.spec, self.schemas)
        body["messages"][mid] = {"$ref": f"#/components/messages/{mid}"}
        return {"$ref": f"#/channels/{ch.id}/messages/{mid}"}

    def operation(self, op_id: str, action: str, ch: Channel, refs: list[dict], *, title: str, description: str,
                  principal: str, grants: list[str], group_id: str | None = None, client_id: str | None = None) -> None:
        if op_id in self.operations:
            raise ValueError(f"duplicate operation {op_id}")
        kafka: dict[str, Any] = {"bindingVersion": BINDING}
        if group_id:
            kafka["groupId"] = {"type": "string", "enum": [group_id]}
        if client_id:
            kafka["clientId"] = {"type": "string", "enum": [client_id]}
        refs = sorted({r["$ref"]: r for r in refs}.values(), key=lambda r: r["$ref"])
        self.operations[op_id] = {
            "action": action, "channel": {"$ref": f"#/channels/{ch.id}"}, "title": title,
            "description": description, "messages": refs, "bindings": {"kafka": kafka},
            "security": [{"$ref": "#/components/securitySchemes/sasl-scram"}],
            "x-gongkai-principal": principal, "x-gongkai-acl": grants,
        }

    def render(self) -> dict:
        return {
            "asyncapi": ASYNCAPI,
            "info": {"title": self.title, "version": VERSION, "description": self.description},
            "defaultContentType": CONTENT_TYPE,
            "servers": _servers(),
            "channels": self.channels,
            "operations": self.operations,
            "components": {"messages": self.messages, "schemas": self.schemas,
                           "securitySchemes": _security_schemes()},
        }


def _accepted(sub: Subscription, ch: Channel) -> list[type[EventData] | None]:
    carried = _models(ch.spec.event_types)
    if sub.accepts is None:
        return list(carried) or [None]
    return [m for m in carried if m in sub.accepts] + [m for m in sub.accepts if m not in carried]


def add_service(doc: _Doc, service: str, publications: Iterable[Publication], subscriptions: Iterable[Subscription],
                dept_codes: tuple[str, ...] = (_SAMPLE,)) -> None:
    """The operations of one service: a send per channel it publishes to, a receive per channel a
    subscriber reads, a send per dead-letter topic it writes."""
    principal = acl.service_principal(service)
    table = acl.service_acls(service, list(dept_codes))
    client = f"gongkai-{service}"
    sends: dict[str, tuple[Channel, list[dict], list[str]]] = {}
    for pub in sorted(publications, key=lambda p: (p.topic, message_id(p.model))):
        ch = _channel_of(pub.topic, doc.all_channels)
        entry = sends.setdefault(ch.id, (ch, [], []))
        entry[1].append(doc.message(ch, pub.model))
        if pub.description:
            entry[2].append(f"{pub.model.event_name}: {pub.description}")
    dlts: dict[str, tuple[Channel, list[str]]] = {}
    for sub in subscriptions:
        chans = [_channel_of(t, doc.all_channels) for t in sub.topics]
        if sub.pattern:
            chans += _channels_matching(sub.pattern, doc.all_channels)
        for ch in chans:
            refs = [doc.message(ch, m) for m in _accepted(sub, ch)]
            how = (f"Subscribed by a pattern that matches this channel's topics (and those of departments added "
                   f"later) without a restart." if sub.pattern else "Subscribed by topic name.")
            what = sub.description.strip() or f"{service} consumes {ch.address} ({sub.title})."
            dlt_note = (" What it cannot process goes to the dead-letter topic, with the reason."
                        if sub.dead_letters else "")
            op_id = f"{service}.{sub.title}" + (f".{ch.id}" if len(chans) > 1 else "")
            doc.operation(op_id, "receive", ch, refs, title=f"{service}: {sub.title}",
                          description=f"{what} {how}{dlt_note} Consumer group {sub.group_id}.",
                          principal=principal, grants=_grants(principal, table, acl.READ, ch.sample),
                          group_id=sub.group_id, client_id=sub.client_id)
            if sub.dead_letters and ch.spec.has_dlt:
                dlt = next(c for c in doc.all_channels if c.dead_letters_of == ch.id)
                dlts.setdefault(dlt.id, (dlt, []))[1].append(sub.title)
    for ch_id, (ch, refs, notes) in sorted(sends.items()):
        names = ", ".join(sorted({r["$ref"].rsplit("/", 1)[1] for r in refs}))
        text = f"{service} publishes {names} (through its outbox: at least once, in order per case)."
        if notes:
            text += " " + " ".join(sorted(notes))
        doc.operation(f"{service}.send.{ch_id}", "send", ch, refs, title=f"{service}: publish to {ch.address}",
                      description=text, principal=principal, grants=_grants(principal, table, acl.WRITE, ch.sample),
                      client_id=client)
    for ch_id, (ch, titles) in sorted(dlts.items()):
        ref = doc.message(ch, None)
        doc.operation(f"{service}.send.{ch_id}", "send", ch, [ref], title=f"{service}: dead-letter to {ch.address}",
                      description=f"Records of {ch.address.removesuffix(topics.DLT_SUFFIX)} that {service} "
                      f"({', '.join(sorted(set(titles)))}) could not process.",
                      principal=principal, grants=_grants(principal, table, acl.WRITE, ch.sample), client_id=client)


def add_departments(doc: _Doc) -> None:
    """What a department's own system (principal dept-{dept_code}) does: read its inbox, write its
    answers, read the replies copied to it (docs/integrators.md)."""
    table = acl.department_acls(_SAMPLE)
    principal = "dept-{dept_code}"
    sample_principal = acl.department_principal(_SAMPLE)
    inbox = _channel_of(topics.DEPARTMENT_INBOX_TEMPLATE, doc.all_channels)
    answers = _channel_of(topics.DEPARTMENT_ANSWERS_TEMPLATE, doc.all_channels)
    replies = _channel_of(topics.DEPARTMENT_REPLIES_TEMPLATE, doc.all_channels)

    def grants(op: str, ch: Channel) -> list[str]:
        return _grants(sample_principal, table, op, ch.sample)

    doc.operation("department.receive.dept.tasks", "receive", inbox,
                  [doc.message(inbox, m) for m in _models(inbox.spec.event_types)],
                  title="department: read its inbox",
                  description="A department's own system reads the tasks assigned to it (and withdrawn from it) "
                  "with its own principal dept-{dept_code}, in a consumer group dept-{dept_code} or "
                  "dept-{dept_code}.<anything>. See docs/integrators.md.",
                  principal=principal, grants=grants(acl.READ, inbox), group_id="dept-{dept_code}")
    doc.operation("department.send.dept.answers", "send", answers,
                  [doc.message(answers, m) for m in _models(answers.spec.event_types)],
                  title="department: answer a task",
                  description="A department's own system publishes its answer to a task on its answers topic; "
                  "the reply service records it (or refuses it, with the reason, on gongkai.answers.recorded). "
                  "Key: the case id. See docs/integrators.md.",
                  principal=principal, grants=grants(acl.WRITE, answers))
    doc.operation("department.receive.dept.replies", "receive", replies,
                  [doc.message(replies, m) for m in _models(replies.spec.event_types)],
                  title="department: read the replies copied to it (抄送)",
                  description="A department's own system reads every reply (and amendment) that includes its answer, "
                  "in a consumer group dept-{dept_code} or dept-{dept_code}.<anything>. See docs/integrators.md.",
                  principal=principal, grants=grants(acl.READ, replies), group_id="dept-{dept_code}")


def service_document(service: str, runtime: Any) -> dict:
    doc = _Doc(f"gongkai-{service}", f"What the Gongkai {service} service publishes and consumes on the bus "
               "(generated from its code by servicekit/asyncapi.py).")
    add_service(doc, service, runtime.publications, subscriptions_of(runtime.broker))
    return doc.render()


def bus_document(runtimes: dict[str, Any]) -> dict:
    doc = _Doc("gongkai-bus", "Every topic of the Gongkai bus, what each service and each department's own system "
               "sends and receives there, with the payload, headers and key of every message, merged from the "
               "services' documents (generated from the code by servicekit/asyncapi.py). Integrators: "
               "docs/integrators.md.")
    for service in SERVICES:
        rt = runtimes[service]
        add_service(doc, service, rt.publications, subscriptions_of(rt.broker))
    add_departments(doc)
    return doc.render()


def render(doc: dict) -> str:
    return json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def build_runtimes() -> dict[str, Any]:
    """Build each service (nothing is started) and return its ServiceRuntime."""
    os.environ.setdefault("GONGKAI_ENV", "development")
    return {name: importlib.import_module(f"services.{name}.app").build().state.runtime for name in SERVICES}


def documents() -> dict[str, str]:
    """Every committed document, rendered: {file name: text}."""
    runtimes = build_runtimes()
    out = {f"{name}.json": render(service_document(name, rt)) for name, rt in runtimes.items()}
    out[BUS_FILE] = render(bus_document(runtimes))
    return out


def main(argv: list[str]) -> int:
    out = Path(argv[1]) if len(argv) > 1 else Path("docs/asyncapi")
    out.mkdir(parents=True, exist_ok=True)
    for name, text in documents().items():
        (out / name).write_text(text, encoding="utf-8")
        print(out / name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
