"""Agencies side by side on one bus (issue #12): each namespace's topics, principals, groups and
ACLs, computed as each agency's own process computes them (GONGKAI_NAMESPACE is read at import, so
each namespace's table comes from a process of its own), and checked together with ``acl.allowed``,
which follows the broker's rules. The real broker's denials are in tests/e2e/test_agencies.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from contracts import acl, topics
from contracts.acl import READ, TOPIC, WRITE, Acl
from deploy.local.kafka_acl import BrokerState, plan

HOME = Path(__file__).resolve().parents[2]
KM = "gongkai-km"
KM_DIRECTORY = HOME / "deploy/local/agencies/km-gov.directory.json"
YN_SIDE = {"GONGKAI_NAMESPACE": "gongkai", "GONGKAI_BUS_AGENCIES": f"km-gov={KM}"}
KM_SIDE = {"GONGKAI_NAMESPACE": KM, "GONGKAI_BUS_AGENCIES": "yn-gov-office=gongkai",
           "ROUTING_DIRECTORY_PATH": str(KM_DIRECTORY)}

_DUMP = """
import dataclasses, json
from contracts import acl, topics
from deploy.local.kafka_acl import requested_departments
codes = requested_departments()
print(json.dumps({
    "codes": codes,
    "topics": [s.name for s in topics.topics_to_create(codes)],
    "principals": acl.principals(codes),
    "acls": [dataclasses.astuple(a) for a in acl.acls(codes)],
    "referrals_to_yn": topics.referrals_topic_of("yn-gov-office"),
    "referrals_to_km": topics.referrals_topic_of("km-gov"),
    "group": topics.scoped("reply"),
}))
"""


def side(env: dict[str, str]) -> dict:
    full = {**os.environ, "PYTHONPATH": str(HOME), **env}
    if "ROUTING_DIRECTORY_PATH" not in env:
        full.pop("ROUTING_DIRECTORY_PATH", None)
    done = subprocess.run([sys.executable, "-c", _DUMP], env=full, capture_output=True, text=True, check=True, cwd=HOME)
    out = json.loads(done.stdout)
    out["acls"] = [Acl(*a) for a in out["acls"]]
    return out


@pytest.fixture(scope="module")
def yn() -> dict:
    return side(YN_SIDE)


@pytest.fixture(scope="module")
def km() -> dict:
    return side(KM_SIDE)


def test_each_namespace_names_its_own_topics_principals_and_groups(yn: dict, km: dict) -> None:
    assert all(n.startswith("gongkai.") for n in yn["topics"])
    assert all(n.startswith(f"{KM}.") for n in km["topics"])
    assert f"{KM}.applications.received" in km["topics"] and f"{KM}.dept.km-zrzy.tasks" in km["topics"]
    assert set(km["principals"]) - {"admin"} == {f"{KM}.{p}" for p in yn["principals"] if p.startswith("svc-")} | {
        f"{KM}.dept-{c}" for c in km["codes"]}
    assert not set(yn["principals"]) & set(km["principals"]) - {"admin"}
    assert (yn["group"], km["group"]) == ("reply", f"{KM}.reply")
    # Every group ACL of km names a group of its own namespace.
    assert all(a.resource_name.startswith(f"{KM}.") for a in km["acls"] if a.resource_type == "GROUP")
    # Referrals: to the other agency's namespace; to an agency not on the list, this one's.
    assert (yn["referrals_to_km"], km["referrals_to_yn"]) == (f"{KM}.cases.referred", "gongkai.cases.referred")
    assert yn["referrals_to_yn"] == "gongkai.cases.referred" and km["referrals_to_km"] == f"{KM}.cases.referred"


def test_neither_agency_reads_the_others_topics_and_only_routing_hands_over_a_referral(yn: dict, km: dict) -> None:
    table = sorted(set(yn["acls"]) | set(km["acls"]))  # both applied to one cluster
    for own, other in ((yn, km), (km, yn)):
        for principal in set(own["principals"]) - {"admin"}:
            for name in other["topics"]:
                assert not acl.allowed(table, principal, READ, TOPIC, name), (principal, name)
                may_write = acl.allowed(table, principal, WRITE, TOPIC, name)
                hands_over = principal.endswith("svc-routing") and name == other["referrals_to_" + (
                    "km" if other is km else "yn")]
                assert may_write == hands_over, (principal, name)
            for group in ("reply", "routing", f"{KM}.reply", f"{KM}.routing", "intake-km-gov",
                          f"{KM}.intake-km-gov", "dept-ogi", f"{KM}.dept-ogi"):
                mine = group.startswith(f"{KM}.") == (own is km)
                if not mine:
                    assert not acl.allowed(table, principal, READ, "GROUP", group), (principal, group)
    # The referrals each side receives are read by its own intake.
    assert acl.allowed(table, f"{KM}.svc-intake", READ, TOPIC, f"{KM}.cases.referred")
    assert acl.allowed(table, "svc-intake", READ, TOPIC, "gongkai.cases.referred")
    # The private contacts stay each agency's: its notify and reply, nobody of the other.
    assert acl.allowed(table, f"{KM}.svc-notify", READ, TOPIC, f"{KM}.private.contacts")
    assert not acl.allowed(table, "svc-notify", READ, TOPIC, f"{KM}.private.contacts")


def test_one_agencys_acl_sync_never_touches_the_others(yn: dict, km: dict) -> None:
    # This process is the default namespace: its plan on a cluster that also holds km's ACLs.
    assert topics.NAMESPACE == "gongkai"
    state = BrokerState(frozenset({"admin", *yn["principals"], *km["principals"]}), frozenset(yn["acls"] + km["acls"]))
    p = plan(state, yn["codes"])
    # km's own ACLs are km's; yn's grant to km's routing (on yn's referrals topic) is yn's and wanted only
    # when GONGKAI_BUS_AGENCIES names km (this test process has no such setting: it would be removed).
    km_only = set(km["acls"]) - set(yn["acls"])
    assert not km_only & set(p.delete)
    assert {a for a in p.delete} <= {a for a in yn["acls"] if a.principal == f"User:{KM}.svc-routing"}
    assert not {u for u in p.upsert_users + p.delete_users if u.startswith(f"{KM}.")}
    assert all(acl.manages(a) for a in yn["acls"]) and not any(acl.manages(a) for a in km_only)


def test_namespace_and_bus_agencies_are_checked() -> None:
    assert topics.bus_agencies("km-gov=gongkai-km, ky-gov=gongkai-ky") == {"km-gov": KM, "ky-gov": "gongkai-ky"}
    assert topics.bus_agencies("") == {}
    with pytest.raises(ValueError):
        topics.bus_agencies("km-gov")
    with pytest.raises(ValueError):
        topics.bus_agencies("km-gov=other")
    with pytest.raises(ValueError):
        topics.scoped_in("Gongkai.KM", "svc-intake")
    assert topics.scoped_in("gongkai", "svc-intake") == "svc-intake"
    assert topics.referrals_topic_of("km-gov", {"km-gov": KM}) == f"{KM}.cases.referred"
    assert topics.referrals_topic_of("ky-gov", {"km-gov": KM}) == topics.CASES_REFERRED.name
    bad = subprocess.run([sys.executable, "-c", "import contracts.topics"], cwd=HOME, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(HOME), "GONGKAI_NAMESPACE": "km"})
    assert bad.returncode != 0 and "GONGKAI_NAMESPACE" in bad.stderr
