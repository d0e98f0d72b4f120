"""Issue #12, agencies side by side on one bus: the session's stack is the province office
(namespace ``gongkai``); 昆明市人民政府 runs a full instance of its own next to it (namespace
``gongkai-km``: intake, routing, reply, notify and audit as their own processes, its own store
process, its own principals, topics, consumer groups and directory) on the same Kafka broker.

- Neither agency's services can read the other's topics (the real broker's ACLs refuse them), and
  the only thing one namespace may write in the other is a referral: the province's routing writes
  昆明's ``gongkai-km.cases.referred``, nothing else.
- A referral from the province to 昆明 arrives once: 昆明's intake accepts it with its own
  tracking number and its own date of receipt, 昆明's routing routes it to 昆明's department.
- Each agency's officers are their own: 昆明 trusts its own identity platform (here a test issuer
  with a pinned key, standing for the city's 统一身份认证; the province's is the real Keycloak), so a
  province officer's token is refused by 昆明's services and the other way round.
- Each agency's ledger and annual report hold only its own cases.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import TopicAuthorizationFailedError

from deploy.local.credentials import kafka_client_kwargs
from deploy.local.stack import SERVICES, Stack, StackConfig
from tests import tokens
from tests.conftest import FAST
from tests.e2e.helpers import AUDITOR, OGI, Client, application, eventually, events_of, read_topic, tag

pytestmark = pytest.mark.e2e

HOME = Path(__file__).resolve().parents[2]
KM = "gongkai-km"
KM_AGENCY = "km-gov"
KM_ISSUER = "https://idp.km.example/realms/km-gov"  # 昆明's own identity platform (a test issuer)
KM_AUDIENCE = f"{KM}-api"
KM_DEPT = "km-zrzy"  # 昆明市自然资源和规划局: 征地补偿 is its subject


def china_today() -> date:
    """The agencies' today (dates of receipt are China's days)."""
    return datetime.now(ZoneInfo("Asia/Shanghai")).date()


def km_auth(*roles: str, department: str | None = None, name: str = "昆明测试人员") -> dict[str, str]:
    return {"Authorization": "Bearer " + tokens.token(*roles, department=department, name=name,
                                                       issuer=KM_ISSUER, audience=KM_AUDIENCE)}


KM_OGI = {"roles": ("ogi_officer",), "department": "ogi"}


@pytest.fixture(scope="module")
def km(stack: Stack) -> Iterator[Stack]:
    """昆明's instance on the province's broker; the province's routing told that 昆明 is on the bus
    in namespace gongkai-km (restored afterwards)."""
    host = stack.cfg
    cfg = StackConfig(
        run_dir=host.run_dir / "km", http_base=host.http_base + 200, store_port=host.store_port + 100,
        smtp_port=host.smtp_port, webhook_port=host.webhook_port, venv=host.venv,
        namespace=KM, agency_code=KM_AGENCY, directory_path=HOME / "deploy/local/agencies/km-gov.directory.json",
        bus_agencies="yn-gov-office=gongkai", guest_of=host,
        extra_env={**FAST, "INTAKE_TRACKING_PREFIX": "KM", "GONGKAI_OIDC_ISSUER": KM_ISSUER,
                   "GONGKAI_OIDC_AUDIENCE": KM_AUDIENCE, "GONGKAI_OIDC_JWKS_FILE": tokens.jwks_file()})
    km_stack = Stack(cfg)
    host.extra_env["GONGKAI_BUS_AGENCIES"] = f"{KM_AGENCY}={KM}"
    try:
        km_stack.infra("start")  # its store; its principals, ACLs and topics on the shared broker
        for service in SERVICES:
            km_stack.start(service)
        for service in SERVICES:
            km_stack.wait_healthy(service, timeout=120)
        stack.stop("routing")
        stack.start("routing")
        stack.wait_healthy("routing", timeout=120)
        yield km_stack
    finally:
        for service in reversed(SERVICES):
            km_stack.stop(service)
        km_stack.infra("stop")
        host.extra_env.pop("GONGKAI_BUS_AGENCIES", None)
        stack.stop("routing")
        stack.start("routing")
        stack.wait_healthy("routing", timeout=120)


async def _read_as(bootstrap: str, principal: str, topic: str, seconds: float = 15) -> list[Any]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest",
                                enable_auto_commit=False, metadata_max_age_ms=1000, **kafka_client_kwargs(principal))
    await asyncio.wait_for(consumer.start(), 30)
    try:
        got: list[Any] = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                got.extend(batch)
        return got
    finally:
        await consumer.stop()


async def _write_as(bootstrap: str, principal: str, topic: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, request_timeout_ms=10000, **kafka_client_kwargs(principal))
    await producer.start()
    try:
        await asyncio.wait_for(producer.send_and_wait(topic, b"{}", key=b"case-1"), 30)
    finally:
        await producer.stop()


async def test_neither_agency_reads_the_others_topics(stack: Stack, km: Stack) -> None:
    bootstrap = stack.cfg.kafka_bootstrap
    refusals = []
    for principal, topic in ((f"{KM}.svc-notify", "gongkai.private.contacts"),
                             (f"{KM}.svc-audit", "gongkai.applications.received"),
                             (f"{KM}.svc-reply", "gongkai.dept.zrzy.answers"),
                             ("svc-audit", f"{KM}.applications.received"),
                             ("svc-notify", f"{KM}.private.contacts"),
                             ("svc-intake", f"{KM}.cases.referred")):
        with pytest.raises(TopicAuthorizationFailedError):
            await _read_as(bootstrap, principal, topic, seconds=5)
        refusals.append(f"{principal} reads {topic}")
    for principal, topic in ((f"{KM}.svc-routing", "gongkai.cases.referred"),  # the province lists no peer
                             (f"{KM}.svc-intake", "gongkai.applications.received"),
                             ("svc-intake", f"{KM}.applications.received"),
                             ("svc-routing", f"{KM}.cases.routed"),
                             ("svc-routing", f"{KM}.dept.{KM_DEPT}.tasks")):
        with pytest.raises(TopicAuthorizationFailedError):
            await _write_as(bootstrap, principal, topic)
        refusals.append(f"{principal} writes {topic}")
    print("\n".join(["refused by the broker:", *refusals]))
    # Each agency's own service still reads its own (the same principals are not refused everything).
    assert isinstance(await _read_as(bootstrap, f"{KM}.svc-audit", f"{KM}.applications.received", seconds=2), list)


async def test_a_referral_arrives_once_with_its_own_number_and_date(stack: Stack, km: Stack) -> None:
    client = Client(stack)
    t = tag()
    accepted = await client.submit(application(t, description="请公开昆明市呈贡区某村2026年征地补偿安置方案"))
    case_id, number = accepted["case_id"], accepted["tracking_number"]
    await client.routing(case_id)
    refer = {"target_agency_code": KM_AGENCY, "reason": "所申请信息由昆明市人民政府制作并保存"}
    resp = await client.http.post(client.url("routing", f"/cases/{case_id}/referral"), json=refer,
                                  headers=client.auth(OGI))
    assert resp.status_code == 200, resp.text
    referral = resp.json()
    assert referral["handed_over"] is True

    # The same case.referred (one id) on the province's own topic (its ledger) and on 昆明's.
    async def on(topic: str) -> list | None:
        found = await events_of(stack.cfg.kafka_bootstrap, topic, case_id)
        return found or None
    here = await eventually(lambda: on("gongkai.cases.referred"), 30, what="case.referred at home")
    there = await eventually(lambda: on(f"{KM}.cases.referred"), 30, what="case.referred at 昆明")
    assert len(here) == len(there) == 1 and here[0]["id"] == there[0]["id"]
    assert there[0]["data"]["target_agency_code"] == KM_AGENCY

    # 昆明's intake accepts it once, as its own application.
    async def accepted_at_km() -> list | None:
        r = await client.http.get(f"{km.cfg.url('intake')}/referrals/{referral['referral_id']}",
                                  headers=km_auth(*KM_OGI["roles"], department="ogi"))
        apps = r.json()["applications"] if r.status_code == 200 else []
        return apps if apps and apps[0]["published"] else None
    [app] = await eventually(accepted_at_km, 60, what="the application at 昆明")
    assert app["tracking_number"].startswith("KM-") and app["original_tracking_number"] == number
    assert app["received_on"] == china_today().isoformat()  # 昆明's own date of receipt (Art. 31)
    assert app["original_received_on"] == accepted["received_on"]
    received = await events_of(stack.cfg.kafka_bootstrap, f"{KM}.applications.received", app["case_id"])
    assert len(received) == 1 and received[0]["data"]["agency_code"] == KM_AGENCY
    # ... and routes it to its own department (昆明's directory), on its own inbox topic.
    async def routed_at_km() -> dict | None:
        r = await client.http.get(f"{km.cfg.url('routing')}/cases/{app['case_id']}/routing",
                                  headers=km_auth(*KM_OGI["roles"], department="ogi"))
        return r.json() if r.status_code == 200 else None
    routing = await eventually(routed_at_km, 60, what="routing at 昆明")
    assert KM_DEPT in json.dumps(routing), routing
    tasks = await events_of(stack.cfg.kafka_bootstrap, f"{KM}.dept.{KM_DEPT}.tasks", app["case_id"])
    assert [e["type"] for e in tasks] == ["cn.gongkai.task.assigned.v1"]
    await asyncio.sleep(3)  # a second acceptance, if any, would show by now
    r = await client.http.get(f"{km.cfg.url('intake')}/referrals/{referral['referral_id']}",
                              headers=km_auth(*KM_OGI["roles"], department="ogi"))
    assert len(r.json()["applications"]) == 1
    # The province's intake did not take it; nothing went to a dead-letter topic on either side.
    home = await client.get("intake", f"/referrals/{referral['referral_id']}")
    assert home.status_code == 404, home.text
    for dlt in ("gongkai.cases.referred.dlt", f"{KM}.cases.referred.dlt", f"{KM}.applications.received.dlt"):
        assert [r for r in await read_topic(stack.cfg.kafka_bootstrap, dlt) if case_id.encode() in (r.value or b"")
                or app["case_id"].encode() in (r.value or b"")] == [], dlt
    await client.close()


async def test_each_agency_keeps_its_own_officers_ledger_and_annual_report(stack: Stack, km: Stack) -> None:
    client = Client(stack)
    year = china_today().year
    km_auditor = km_auth("auditor")

    async def annual(url: str, headers: dict[str, str], agency: str) -> int:
        r = await client.http.get(f"{url}/statistics/annual", params={"year": year, "agency": agency}, headers=headers)
        assert r.status_code == 200, r.text
        [new] = [row for row in r.json()["rows"] if row["row"].startswith("一、本年新收")]
        return int(new["values"][-1])  # the last column: 总计

    home_before = await annual(stack.cfg.url("audit"), client.auth(AUDITOR), KM_AGENCY)
    # An application made at 昆明 itself.
    t = tag()
    resp = await client.http.post(f"{km.cfg.url('intake')}/applications",
                                  json=application(t, description="请公开昆明市2026年义务教育招生划片方案"))
    assert resp.status_code in (200, 201), resp.text
    km_case = resp.json()["case_id"]
    assert resp.json()["tracking_number"].startswith("KM-")

    async def in_km_ledger() -> list | None:
        r = await client.http.get(f"{km.cfg.url('audit')}/cases/{km_case}/timeline", headers=km_auditor)
        events = r.json().get("events", []) if r.status_code == 200 else []
        return events if any("routed" in json.dumps(e) for e in events) else None
    await eventually(in_km_ledger, 60, what="昆明's ledger holding its case")

    # Officers: the province's real Keycloak token is refused at 昆明, 昆明's at the province.
    province_token = client.auth(OGI)
    r = await client.http.get(f"{km.cfg.url('routing')}/cases/{km_case}/routing", headers=province_token)
    assert r.status_code == 401, r.text
    r = await client.http.get(stack.cfg.url("routing") + f"/cases/{km_case}/routing",
                              headers=km_auth(*KM_OGI["roles"], department="ogi"))
    assert r.status_code == 401, r.text

    # The province's ledger never saw 昆明's own case; its annual report for 昆明 did not move.
    r = await client.http.get(stack.cfg.url("audit") + f"/cases/{km_case}/timeline", headers=client.auth(AUDITOR))
    assert r.status_code == 404 or not r.json().get("events"), r.text
    assert await annual(stack.cfg.url("audit"), client.auth(AUDITOR), KM_AGENCY) == home_before
    # 昆明's annual report counts its own: every application its intake holds (this one, and the
    # referred case when the referral test ran first), no more.
    held = await _km_applications(km)
    assert km_case in held
    async def km_counts() -> int | None:
        n = await annual(km.cfg.url("audit"), km_auditor, KM_AGENCY)
        return n if n >= len(held) else None
    assert await eventually(km_counts, 60, what="昆明's annual report") == len(held)
    # ... and none of the province's.
    assert await annual(km.cfg.url("audit"), km_auditor, "yn-gov-office") == 0
    await client.close()


async def _km_applications(km: Stack) -> list[str]:
    """The case ids of every application 昆明's intake holds (its own store: this module's instance)."""
    from pymongo import AsyncMongoClient

    mongo: AsyncMongoClient = AsyncMongoClient(km.cfg.mongo_url)
    try:
        return [d["_id"] async for d in mongo[f"{km.cfg.db_prefix}_intake"]["applications"].find({}, {"_id": 1})]
    finally:
        await mongo.close()
