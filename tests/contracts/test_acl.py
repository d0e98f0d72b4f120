"""The Kafka ACL table (contracts/acl.py), evaluated with the broker's rules: departments reach only
their own two topics, private contacts only notify and reply (read) and intake (write), each answers topic only
its department; every topic a service uses per its AsyncAPI document is granted; the apply plan of
deploy/local/kafka_acl.py; the services' client security settings (servicekit.kafka)."""

from __future__ import annotations

import json
import re
import urllib.parse
from pathlib import Path

import pytest
from faststream.kafka.security import parse_security
from faststream.security import SASLScram512

from contracts import acl, topics
from contracts.acl import CREATE, DESCRIBE, GROUP, READ, TOPIC, WRITE, Acl, allowed
from deploy.local.credentials import kafka_password
from deploy.local.kafka_acl import BrokerState, directory_departments, plan
from servicekit.kafka import KafkaSecurity
from servicekit.settings import CommonSettings

REPO = Path(__file__).resolve().parents[2]
DEPTS = directory_departments()
TABLE = acl.acls(DEPTS)
NEW = "brand-new"  # a department the directory gains at run time, not yet onboarded
UNIVERSE = sorted({s.name for s in topics.topics_to_create([*DEPTS, NEW])})
PRINCIPALS = acl.principals(DEPTS)
ADMIN = acl.ADMIN


def who(op: str, topic: str) -> set[str]:
    return {p for p in PRINCIPALS if p != ADMIN and allowed(TABLE, p, op, TOPIC, topic)}


def test_the_directory_has_its_departments_and_the_ogi_office() -> None:
    assert "ogi" in DEPTS and {"zrzy", "czt"} <= set(DEPTS)
    assert len(PRINCIPALS) == 1 + len(acl.SERVICES) + len(DEPTS)
    assert len(TABLE) == len(set(TABLE)) and TABLE == sorted(TABLE)


@pytest.mark.parametrize("dept", DEPTS)
def test_a_department_reads_only_its_inbox_and_writes_only_its_answers(dept: str) -> None:
    p = acl.department_principal(dept)
    inbox, answers = topics.department_inbox(dept).name, topics.department_answers(dept).name
    replies = topics.department_replies(dept).name  # the replies copied to it (抄送)
    assert sorted(t for t in UNIVERSE if allowed(TABLE, p, READ, TOPIC, t)) == sorted([inbox, replies])
    assert [t for t in UNIVERSE if allowed(TABLE, p, WRITE, TOPIC, t)] == [answers]
    assert sorted(t for t in UNIVERSE if allowed(TABLE, p, DESCRIBE, TOPIC, t)) == sorted([inbox, answers, replies])
    assert not any(allowed(TABLE, p, CREATE, TOPIC, t) for t in UNIVERSE)
    assert not allowed(TABLE, p, READ, TOPIC, topics.PRIVATE_CONTACTS.name)


def test_no_department_reads_another_inbox_or_private_contacts() -> None:
    for dept in DEPTS:
        p = acl.department_principal(dept)
        for other in DEPTS:
            if other != dept:
                assert not allowed(TABLE, p, READ, TOPIC, topics.department_inbox(other).name)
                assert not allowed(TABLE, p, WRITE, TOPIC, topics.department_answers(other).name)
                assert not allowed(TABLE, p, READ, TOPIC, topics.department_replies(other).name)
        for t in UNIVERSE:
            if t.startswith(acl.PRIVATE_PREFIX):
                assert not allowed(TABLE, p, READ, TOPIC, t) and not allowed(TABLE, p, DESCRIBE, TOPIC, t)


def test_each_answers_topic_is_written_by_its_department_only() -> None:
    for dept in DEPTS:
        assert who(WRITE, topics.department_answers(dept).name) == {acl.department_principal(dept)}
    # Routing writes every inbox (prefix) but is denied every known department's answers topic.
    assert allowed(TABLE, "svc-routing", WRITE, TOPIC, topics.department_inbox("zrzy").name)
    assert not allowed(TABLE, "svc-routing", WRITE, TOPIC, topics.department_answers("zrzy").name)
    # Reply writes every department's replies topic (抄送), even a new department's, and no inbox
    # or answers topic of a known one.
    assert allowed(TABLE, "svc-reply", WRITE, TOPIC, topics.department_replies("zrzy").name)
    assert allowed(TABLE, "svc-reply", WRITE, TOPIC, topics.department_replies("new-dept").name)
    assert not allowed(TABLE, "svc-reply", WRITE, TOPIC, topics.department_answers("zrzy").name)
    assert not allowed(TABLE, "svc-reply", WRITE, TOPIC, topics.department_inbox("zrzy").name)
    assert who(WRITE, topics.department_replies("zrzy").name) == {"svc-reply", "svc-routing"}


def test_private_contacts_read_by_notify_and_reply_written_by_intake() -> None:
    private = topics.PRIVATE_CONTACTS
    # notify: the notices; reply: the applicant's name and address in the documents addressed to them.
    assert who(READ, private.name) == {"svc-notify", "svc-reply"}
    assert who(WRITE, private.name) == {"svc-intake"}
    assert who(DESCRIBE, private.name) == {"svc-notify", "svc-reply", "svc-intake"}
    assert who(WRITE, private.dlt) == {"svc-notify", "svc-reply"}  # their consumers dead-letter
    assert who(READ, private.dlt) == set()
    assert not allowed(TABLE, "svc-audit", READ, TOPIC, private.name)


def test_department_groups_are_their_own_and_no_code_is_a_prefix_of_another() -> None:
    table = acl.acls(["ab", "ab-c"])
    assert allowed(table, "dept-ab", READ, GROUP, "dept-ab")
    assert allowed(table, "dept-ab", READ, GROUP, "dept-ab.inbox-reader")
    assert not allowed(table, "dept-ab", READ, GROUP, "dept-ab-c")
    assert not allowed(table, "dept-ab", READ, GROUP, "routing")
    assert allowed(table, "dept-ab-c", READ, GROUP, "dept-ab-c")


def test_every_static_topic_has_one_producer_and_its_dead_letters_its_consumers() -> None:
    for spec in topics.STATIC_TOPICS:
        producers = [s for s, use in acl.USES.items() if spec in use.produces]
        assert len(producers) == 1, spec.name
        assert who(WRITE, spec.name) == {acl.service_principal(producers[0])}, spec.name
        consumers = {acl.service_principal(s) for s, use in acl.USES.items() if spec in use.consumes}
        assert consumers, f"nobody reads {spec.name}"
        assert who(READ, spec.name) == consumers, spec.name
        if spec.has_dlt:
            assert who(WRITE, spec.dlt) == consumers, spec.dlt
            assert who(READ, spec.dlt) == set(), spec.dlt


def test_audit_reads_every_shared_topic_new_departments_included() -> None:
    audited = [t for t in UNIVERSE if re.match(topics.AUDITED_PATTERN, t)]
    assert topics.department_inbox(NEW).name in audited
    assert all(allowed(TABLE, "svc-audit", READ, TOPIC, t) for t in audited)
    assert allowed(TABLE, "svc-audit", READ, GROUP, "audit")
    # Its pattern never matches what it may not read (a pattern subscription sees only described topics).
    for t in UNIVERSE:
        if not allowed(TABLE, "svc-audit", READ, TOPIC, t):
            assert not re.match(topics.AUDITED_PATTERN, t), t


def test_routing_creates_and_fills_the_inbox_of_a_new_department() -> None:
    for t in (topics.department_inbox(NEW).name, topics.department_inbox(NEW).dlt):
        assert allowed(TABLE, "svc-routing", CREATE, TOPIC, t)
    assert allowed(TABLE, "svc-routing", WRITE, TOPIC, topics.department_inbox(NEW).name)
    # ... and the new department itself has nothing until it is onboarded (kafka_acl.py apply --dept).
    assert not allowed(TABLE, f"dept-{NEW}", READ, TOPIC, topics.department_inbox(NEW).name)
    assert allowed(acl.acls([*DEPTS, NEW]), f"dept-{NEW}", READ, TOPIC, topics.department_inbox(NEW).name)


def test_web_has_a_principal_and_no_grant_yet() -> None:
    assert "svc-web" in PRINCIPALS
    assert not [a for a in TABLE if a.principal == "User:svc-web"]


def _asyncapi(service: str) -> list[tuple[str, str]]:
    doc = json.loads((REPO / "docs" / "asyncapi" / f"{service}.json").read_text(encoding="utf-8"))
    out = []
    for op in doc["operations"].values():
        channel = doc["channels"][urllib.parse.unquote(op["channel"]["$ref"].rsplit("/", 1)[1])]
        out.append((op["action"], channel["address"]))
    return out


def _resolve(address: str) -> list[str]:
    if address.startswith("^"):
        return [t for t in UNIVERSE if re.match(address, t) and NEW not in t]
    if "{dept_code}" in address:
        return [address.replace("{dept_code}", c) for c in DEPTS]
    return [address] if address in UNIVERSE else []  # not in the catalogue: a stale document


@pytest.mark.parametrize("service", ["intake", "routing", "reply", "notify", "audit"])
def test_every_topic_in_a_service_asyncapi_is_granted(service: str) -> None:
    p = acl.service_principal(service)
    by_topic = {s.name: s for s in topics.topics_to_create(DEPTS)}
    checked = 0
    for action, address in _asyncapi(service):
        for t in _resolve(address):
            checked += 1
            if action == "receive":
                assert allowed(TABLE, p, READ, TOPIC, t), (service, t)
                if by_topic[t].has_dlt:
                    assert allowed(TABLE, p, WRITE, TOPIC, by_topic[t].dlt), (service, by_topic[t].dlt)
            else:
                assert allowed(TABLE, p, WRITE, TOPIC, t), (service, t)
    assert checked >= 3
    for group in acl.USES[service].groups:
        assert allowed(TABLE, p, READ, GROUP, group + ("yn-gov-office" if group.endswith("-") else ""))


def test_reply_reads_every_answers_topic_it_subscribes_to() -> None:
    for t in UNIVERSE:
        if re.match(topics.DEPARTMENT_ANSWERS_PATTERN, t) and NEW not in t:
            assert allowed(TABLE, "svc-reply", READ, TOPIC, t)
            assert allowed(TABLE, "svc-reply", WRITE, TOPIC, topics.dead_letter_topic(t))
    assert not allowed(TABLE, "svc-reply", WRITE, TOPIC, topics.department_answers("zrzy").name)


# ------------------------------------------------------------------------------ the apply plan
def test_plan_on_an_empty_broker_creates_everything() -> None:
    p = plan(BrokerState(frozenset({ADMIN}), frozenset()), DEPTS)
    assert p.create == TABLE and p.delete == [] and p.delete_users == []
    assert set(p.upsert_users) == set(PRINCIPALS) - {ADMIN}


def test_plan_converges_managed_principals_and_keeps_onboarded_departments() -> None:
    foreign = Acl("User:agency-tool", TOPIC, "gongkai.", "PREFIXED", READ)
    stray = Acl("User:dept-zrzy", TOPIC, topics.PRIVATE_CONTACTS.name, "LITERAL", READ)
    state = BrokerState(frozenset({ADMIN, "dept-zrzy", f"dept-{NEW}"}), frozenset([*TABLE, foreign, stray]))
    p = plan(state, DEPTS)
    assert p.delete == [stray]  # an unmanaged principal's ACL stays
    assert NEW in p.departments  # onboarded at run time: kept by later starts
    assert set(p.create) == set(acl.acls([*DEPTS, NEW])) - set(TABLE)
    revoked = plan(BrokerState(frozenset({ADMIN, f"dept-{NEW}"}), frozenset(acl.acls([*DEPTS, NEW]))), DEPTS, [NEW])
    assert revoked.delete_users == [f"dept-{NEW}"] and NEW not in revoked.departments
    assert set(revoked.delete) == set(acl.acls([*DEPTS, NEW])) - set(TABLE) and revoked.create == []


def test_local_passwords_are_derived_and_distinct() -> None:
    passwords = {kafka_password(p) for p in PRINCIPALS}
    assert len(passwords) == len(PRINCIPALS)
    assert all(re.fullmatch(r"[0-9a-f]{32}", pw) for pw in passwords)
    assert kafka_password("admin") == kafka_password("admin") != kafka_password("admin", "another secret")


# ------------------------------------------------------------------------------ client security
def test_client_security_defaults_to_sasl_over_tls(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("GONGKAI_KAFKA_SECURITY_PROTOCOL", "GONGKAI_KAFKA_USERNAME", "GONGKAI_KAFKA_PASSWORD"):
        monkeypatch.delenv(key, raising=False)
    sec = KafkaSecurity.of(CommonSettings())
    assert (sec.protocol, sec.mechanism) == ("SASL_SSL", "SCRAM-SHA-512")
    kwargs = sec.client_kwargs()
    assert kwargs["security_protocol"] == "SASL_SSL" and kwargs["ssl_context"] is not None
    assert parse_security(sec.faststream())["security_protocol"] == "SASL_SSL"


def test_client_security_of_the_local_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GONGKAI_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("GONGKAI_KAFKA_USERNAME", "svc-reply")
    monkeypatch.setenv("GONGKAI_KAFKA_PASSWORD", "pw-1")
    sec = KafkaSecurity.from_env()
    assert "pw-1" not in repr(sec)
    assert sec.client_kwargs() == {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "SCRAM-SHA-512",
                                   "sasl_plain_username": "svc-reply", "sasl_plain_password": "pw-1"}
    fs = sec.faststream()
    assert isinstance(fs, SASLScram512)
    assert parse_security(fs) == {"security_protocol": "SASL_PLAINTEXT", "ssl_context": None,
                                  "sasl_mechanism": "SCRAM-SHA-512", "sasl_plain_username": "svc-reply",
                                  "sasl_plain_password": "pw-1"}
    monkeypatch.setenv("GONGKAI_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT")
    plain = KafkaSecurity.from_env()
    assert plain.client_kwargs() == {"security_protocol": "PLAINTEXT"} and plain.faststream() is None


def test_production_refuses_to_start_without_the_kafka_password(monkeypatch: pytest.MonkeyPatch) -> None:
    from servicekit.runtime import ServiceRuntime
    from servicekit.secrets import MissingSecret
    from tests.tokens import oidc_env

    for key, value in oidc_env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("GONGKAI_ENV", "production")
    monkeypatch.setenv("GONGKAI_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.delenv("GONGKAI_KAFKA_PASSWORD", raising=False)
    with pytest.raises(MissingSecret, match="GONGKAI_KAFKA_PASSWORD"):
        ServiceRuntime("intake", "t_acl_production")
    monkeypatch.setenv("GONGKAI_KAFKA_PASSWORD", "a-real-secret-of-this-deployment")
    rt = ServiceRuntime("intake", "t_acl_production")
    assert rt.kafka.security.username == "" and rt.kafka.security.password.startswith("a-real")
