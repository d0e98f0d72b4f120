"""The shared contracts: the envelope, every event type, the topic catalogue, the JSON Schemas."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from contracts import jsonschema_export, topics
from contracts.envelope import (
    CONTENT_TYPE,
    DEFAULT_SCHEMA_BASE,
    CloudEvent,
    EventData,
    UnknownEventType,
    decode,
    deterministic_id,
    encode,
    kafka_headers,
    new_event,
)
from contracts.events import (
    ALL_EVENTS,
    CORE_EVENTS,
    REGISTRY,
    Answer,
    AnswerRecorded,
    AnswerRefused,
    AnswerSubmitted,
    ApplicationReceived,
    CaseClosed,
    CaseRouted,
    ConfidentialityReview,
    ContactRegistered,
    ContradictionEntry,
    ContradictionFlagged,
    ContradictionResolved,
    MissingAnswer,
    NoticeDelivered,
    NoticeDeliveredV2,
    ReplyAmended,
    ReplyIssued,
    ReopenedTask,
    ReplyPart,
    ResponsibleAgencyRef,
    WithheldItem,
    RoutedTask,
    TaskAssigned,
    registry_of,
)

AT = datetime(2026, 11, 23, 8, 30, tzinfo=UTC)
ON = date(2026, 11, 23)
ANSWER = Answer(reply_type="disclosed", text="见附件。", material_refs=["a.pdf"])
PARTIAL = Answer(
    reply_type="partially_disclosed", text="部分公开。", material_refs=["b.pdf"], item_keys=["补偿标准"],
    withheld=[WithheldItem(description="被征收人名单", reason_code="withheld.third_party", explanation="个人隐私",
                           item_key="名单")],
)
ELSEWHERE = Answer(
    reply_type="not_this_agency", text="请向昆明市人民政府申请。",
    responsible_agency=ResponsibleAgencyRef(name="昆明市人民政府", address="昆明市", phone="0871-1"),
)
REVIEW = ConfidentialityReview(reviewer="李审查", reviewed_at=AT)
MISSING = MissingAnswer(task_id="t2", dept_code="czt", dept_name="财政厅")

SAMPLES: dict[type[EventData], EventData] = {
    ApplicationReceived: ApplicationReceived(
        case_id="c1", tracking_number="YN-20261123-00001", agency_code="yn-gov-office", channel="fax",
        received_on=ON, applicant_ref="app-1", applicant_type="research_institution", description="征地补偿",
        target_departments=["zrzy"], delivery_form="paper", delivery_method="post", accepted_at=AT,
    ),
    ContactRegistered: ContactRegistered(
        case_id="c1", applicant_ref="app-1", name="张三", email="a@example.com", webhook_url="https://x.example/h",
        phone="13800138000",
    ),
    CaseRouted: CaseRouted(
        case_id="c1", tracking_number="YN-20261123-00001", agency_code="yn-gov-office", agency_name="办公厅",
        received_on=ON, directory_version="v1",
        tasks=[RoutedTask(task_id="t1", dept_code="zrzy", dept_name="自然资源厅", rule="keyword:征地")],
    ),
    TaskAssigned: TaskAssigned(
        case_id="c1", task_id="t1", tracking_number="YN-20261123-00001", agency_code="yn-gov-office",
        dept_code="zrzy", dept_name="自然资源厅", description="征地补偿", rule="keyword:征地", received_on=ON,
    ),
    AnswerSubmitted: AnswerSubmitted(case_id="c1", task_id="t1", dept_code="zrzy", answer=PARTIAL, review=REVIEW),
    AnswerRecorded: AnswerRecorded(case_id="c1", task_id="t1", dept_code="zrzy", via="topic", answer=ELSEWHERE,
                                   review=REVIEW, late=True),
    ReplyIssued: ReplyIssued(
        case_id="c1", tracking_number="YN-20261123-00001", agency_code="yn-gov-office", decision="disclosed",
        parts=[ReplyPart(task_id="t1", dept_code="zrzy", dept_name="自然资源厅", answer=ANSWER,
                         outcome_code="disclosed", review=REVIEW)],
        document_text="政府信息公开申请答复书……", outcome="disclosed", document_id="d1", cc=["zrzy"],
        missing=[MISSING],
    ),
    AnswerRefused: AnswerRefused(case_id="c1", task_id="t1", dept_code="czt", via="http", code="not_your_task",
                                 status=403, message="任务 t1 不属于部门 czt，不能答复"),
    ContradictionFlagged: ContradictionFlagged(
        case_id="c1", tracking_number="YN-20261123-00001", contradiction_id="x1", item_key="a.pdf",
        entries=[ContradictionEntry(task_id="t1", dept_code="zrzy", dept_name="自然资源厅", stance="given"),
                 ContradictionEntry(task_id="t2", dept_code="czt", dept_name="财政厅",
                                    stance="withheld:withheld.third_party")],
        message="各部门对同一事项的答复不一致",
    ),
    ContradictionResolved: ContradictionResolved(
        case_id="c1", contradiction_id="x1", resolved_by="王主任", resolved_by_subject="u-ogi-1",
        note="请财政厅重新答复", reopened=[ReopenedTask(task_id="t2", dept_code="czt")], resolved_at=AT,
    ),
    CaseClosed: CaseClosed(case_id="c1", tracking_number="YN-20261123-00001", closed_by="王主任", reason="逾期未答复",
                           missing=[MISSING], statement="财政厅尚未答复"),
    ReplyAmended: ReplyAmended(
        case_id="c1", tracking_number="YN-20261123-00001", agency_code="yn-gov-office", amendment_seq=1,
        reply_event_id="e1", parts=[ReplyPart(task_id="t2", dept_code="czt", dept_name="财政厅", answer=PARTIAL,
                                              outcome_code="partial", review=REVIEW)],
        decision="partially_disclosed", outcome="partial", document_id="d2", document_text="补充答复书", cc=["czt"],
    ),
    NoticeDelivered: NoticeDelivered(
        case_id="c1", notice_id="n1:email", kind="reply_issued", channel="email", attempts=2, delivered_at=AT
    ),
    NoticeDeliveredV2: NoticeDeliveredV2(
        case_id="c1", notice_id="n1:sms", kind="reply_issued", channel="sms", attempts=1, delivered_at=AT,
        document_id="d1",
    ),
}


def make(data: EventData, **kw) -> CloudEvent:
    kw = {"source": "/gongkai/test", "subject": "c1", "event_id": deterministic_id("test", data.event_name)} | kw
    return new_event(data, **kw)


def test_every_core_event_type_has_a_sample():
    # Capability events (contracts/events_<area>.py) are sampled in their capability's tests.
    assert set(SAMPLES) == set(CORE_EVENTS)


@pytest.mark.parametrize("model", list(SAMPLES), ids=lambda m: m.event_name)
def test_round_trip_through_encode_and_decode(model):
    event = make(SAMPLES[model], causation_id="cause-1", time=AT)
    raw = encode(event)
    assert isinstance(raw, bytes)
    for form in (raw, raw.decode("utf-8"), json.loads(raw)):
        back = decode(form, REGISTRY)
        assert back == event
        assert type(back.data) is model
        assert back.causationid == "cause-1"
        assert back.time == AT


@pytest.mark.parametrize("model", list(SAMPLES), ids=lambda m: m.event_name)
def test_envelope_attributes(model):
    event = make(SAMPLES[model])
    assert event.specversion == "1.0"
    assert event.type == model.ce_type()
    assert event.dataschema == model.dataschema()
    assert event.datacontenttype == "application/json"
    assert event.time.tzinfo is not None  # defaults to an aware "now"
    obj = json.loads(encode(event))
    for attr in ("specversion", "id", "source", "type", "subject", "time", "data"):
        assert obj[attr] not in (None, "")


def test_ce_type_and_dataschema_naming():
    assert ApplicationReceived.ce_type() == "cn.gongkai.application.received.v1"
    assert ApplicationReceived.dataschema() == DEFAULT_SCHEMA_BASE + "application.received.v1.json"
    for model in ALL_EVENTS:
        assert re.fullmatch(r"cn\.gongkai\.[a-z]+(\.[a-z]+)+\.v[1-9]\d*", model.ce_type()), model
    assert len(REGISTRY) == len(ALL_EVENTS)  # no two models share a type
    assert all(REGISTRY[m.ce_type()] is m for m in ALL_EVENTS)


def test_kafka_headers():
    event = make(SAMPLES[CaseRouted])
    assert kafka_headers(event) == {"content-type": CONTENT_TYPE, "ce_type": event.type, "ce_id": event.id}
    assert CONTENT_TYPE.startswith("application/cloudevents+json")


def _obj(model=ApplicationReceived) -> dict:
    return json.loads(encode(make(SAMPLES[model])))


def _without(obj: dict, key: str) -> dict:
    return {k: v for k, v in obj.items() if k != key}


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (json.dumps(_obj() | {"type": "cn.gongkai.unknown.v1"}), UnknownEventType),
        (json.dumps(_obj() | {"type": "cn.gongkai.application.received.v2"}), UnknownEventType),
        (json.dumps(_without(_obj(), "type")), UnknownEventType),
        (json.dumps(_obj() | {"type": 7}), UnknownEventType),
        ("[1, 2, 3]", ValueError),
        ("42", ValueError),
        ('"an event"', ValueError),
        ("null", ValueError),
        (b"{not json", ValueError),
        (b"\xff\xfe\x00", ValueError),
        (b"", ValueError),
        (json.dumps(_without(_obj(), "subject")), ValidationError),
        (json.dumps(_obj() | {"subject": ""}), ValidationError),
        (json.dumps(_without(_obj(), "id")), ValidationError),
        (json.dumps(_without(_obj(), "time")), ValidationError),
        (json.dumps(_without(_obj(), "data")), ValidationError),
        (json.dumps(_obj() | {"specversion": "0.3"}), ValidationError),
        (json.dumps(_obj() | {"extra": "x"}), ValidationError),
        (json.dumps(_obj() | {"data": _obj()["data"] | {"id_number": "11010519491231002X"}}), ValidationError),
        (json.dumps(_obj() | {"data": _without(_obj()["data"], "case_id")}), ValidationError),
        # The type decides the schema of the data: a routed case's data is not an application.
        (json.dumps(_obj() | {"type": CaseRouted.ce_type()}), ValidationError),
    ],
)
def test_decode_rejects(raw, error):
    with pytest.raises(error):
        decode(raw, REGISTRY)


def test_every_rejection_is_a_value_error():
    # Consumers catch ValueError (and ValidationError) to dead-letter; both kinds must be caught.
    assert issubclass(UnknownEventType, ValueError)
    assert issubclass(ValidationError, ValueError)


def test_decode_only_knows_the_types_of_its_registry():
    raw = encode(make(SAMPLES[ApplicationReceived]))
    with pytest.raises(UnknownEventType):
        decode(raw, registry_of(CaseRouted, ReplyIssued))
    assert type(decode(raw, registry_of(ApplicationReceived)).data) is ApplicationReceived


def test_events_are_immutable():
    event = make(SAMPLES[CaseRouted])
    with pytest.raises(ValidationError):
        event.subject = "other"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        event.data.case_id = "other"  # type: ignore[misc]


def test_case_routed_needs_a_task():
    with pytest.raises(ValidationError):
        CaseRouted(**SAMPLES[CaseRouted].model_dump() | {"tasks": []})


def test_deterministic_id():
    a = deterministic_id("task", "case-1", "zrzy")
    assert a == deterministic_id("task", "case-1", "zrzy")
    assert uuid.UUID(a).version == 5
    others = {
        deterministic_id("task", "case-1", "czt"),
        deterministic_id("task", "case-2", "zrzy"),
        deterministic_id("task.assigned", "case-1", "zrzy"),
        deterministic_id("task", "case-1"),
        str(uuid.uuid5(uuid.NAMESPACE_URL, "task/case-1/zrzy")),  # our own namespace, not a standard one
    }
    assert a not in others
    assert len(others) == 5


# --- topics ------------------------------------------------------------------------------------


DEPTS = ["ogi", "zrzy", "czt"]


def test_every_static_topic_and_inbox_has_a_dlt():
    created = topics.topics_to_create(DEPTS)
    names = [t.name for t in created]
    assert len(names) == len(set(names))
    # Only the checkpoints topic has no DLT: no service processes it (it is for outside verifiers).
    assert [t.name for t in topics.STATIC_TOPICS if not t.has_dlt] == ["gongkai.ledger.checkpoints"]
    expected_sources = [t.name for t in topics.STATIC_TOPICS if t.has_dlt] + [
        f"gongkai.dept.{c}.{kind}" for c in DEPTS for kind in ("tasks", "answers")]
    for name in expected_sources:
        assert name in names
        assert name + ".dlt" in names
    by_name = {t.name: t for t in created}
    for name in expected_sources:
        dlt = by_name[name + ".dlt"]
        assert dlt.has_dlt is False and dlt.event_types == ()
        assert dlt.restricted == by_name[name].restricted  # personal data stays restricted in the DLT
    # No DLT of a DLT; + the checkpoints topic; + each department's replies topic (抄送), which no
    # service consumes (the department's own system reads it).
    replies = [topics.department_replies(c).name for c in DEPTS]
    assert all(name in by_name and not by_name[name].has_dlt for name in replies)
    assert len(created) == 2 * len(expected_sources) + 1 + len(replies)


def test_static_catalogue():
    assert topics.topics_to_create()[: len(topics.STATIC_TOPICS)] == list(topics.STATIC_TOPICS)
    assert topics.PRIVATE_CONTACTS.restricted and topics.PRIVATE_CONTACTS.compacted
    assert [t.name for t in topics.STATIC_TOPICS if t.restricted] == ["gongkai.private.contacts"]
    assert topics.APPLICATIONS_RECEIVED.dlt == "gongkai.applications.received.dlt"
    # Every event type travels on some topic.
    carried = {et for t in topics.STATIC_TOPICS for et in t.event_types} | {
        et for t in topics.department_topics("x") for et in t.event_types}
    assert carried == {m.event_name for m in ALL_EVENTS}


@pytest.mark.parametrize("code", ["", "ZRZY", "-zrzy", "zr.zy", "zr_zy", "zr zy", "a" * 64])
def test_department_inbox_rejects_bad_codes(code):
    with pytest.raises(ValueError):
        topics.department_inbox(code)
    with pytest.raises(ValueError):
        topics.department_answers(code)


def test_the_department_of_an_answer_is_its_topic():
    assert topics.department_answers("zrzy").name == "gongkai.dept.zrzy.answers"
    assert topics.department_of_answers_topic("gongkai.dept.zrzy.answers") == "zrzy"
    for other in ("gongkai.dept.zrzy.tasks", "gongkai.dept.zrzy.answers.dlt", "gongkai.answers.submitted",
                  "gongkai.dept..answers", "xgongkai.dept.zrzy.answers"):
        assert topics.department_of_answers_topic(other) is None


@pytest.mark.parametrize(
    ("name", "audited"),
    [
        *[(t.name, True) for t in topics.STATIC_TOPICS if not t.restricted],
        ("gongkai.dept.zrzy.tasks", True),
        ("gongkai.dept.zrzy.answers", True),
        ("gongkai.dept.some-new-dept.tasks", True),
        ("gongkai.private.contacts", False),
        ("gongkai.private.anything.else", False),
        *[(t.dlt, False) for t in topics.STATIC_TOPICS],
        ("gongkai.dept.zrzy.tasks.dlt", False),
        ("other.applications.received", False),
        ("gongkaix.applications.received", False),
        ("gongkai.", False),
    ],
)
def test_audited_pattern(name, audited):
    assert bool(re.match(topics.AUDITED_PATTERN, name)) is audited


def test_inbox_pattern():
    assert re.match(topics.DEPARTMENT_INBOX_PATTERN, topics.department_inbox("zrzy").name)
    assert not re.match(topics.DEPARTMENT_INBOX_PATTERN, "gongkai.dept.zrzy.tasks.dlt")
    assert not re.match(topics.DEPARTMENT_INBOX_PATTERN, topics.CASES_ROUTED.name)


# --- JSON Schemas ------------------------------------------------------------------------------


def test_committed_json_schemas_are_current():
    rendered = {name: jsonschema_export.render(s) for name, s in jsonschema_export.schemas().items()}
    committed = {p.name: p.read_text(encoding="utf-8") for p in jsonschema_export.DEFAULT_DIR.glob("*.json")}
    assert sorted(committed) == sorted(rendered), "run: python -m contracts.jsonschema_export"
    for name, text in rendered.items():
        assert committed[name] == text, f"{name} is stale: run python -m contracts.jsonschema_export"


@pytest.mark.parametrize("model", list(SAMPLES), ids=lambda m: m.event_name)
def test_json_schema_names_the_event(model):
    schema = jsonschema_export.schemas()[f"{model.event_name}.v{model.schema_version}.json"]
    assert schema["$id"] == model.dataschema()
    assert schema["title"] == model.ce_type()
    assert {"id", "source", "type", "subject", "time", "data"} <= set(schema["required"])
    assert schema.get("additionalProperties") is False
