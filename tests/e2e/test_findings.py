"""Every finding of the black-box test of issue #9, replayed against the real system (broker with
SASL and ACLs, store, identity provider, the five services): each one of them worked before and
must be refused now."""

from __future__ import annotations

import asyncio
import hashlib
import threading
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError, KafkaError

from contracts import topics
from tests.e2e.helpers import AUDITOR, OGI, OGI_HEAD, Client, application, eventually, events_of, mails_for, tag

pytestmark = pytest.mark.e2e

BIG = str(2**63)
ID_NUMBER = "11010519491231002X"


class Counter:
    """A local HTTP server that only counts what reaches it (the SSRF target)."""

    def __init__(self) -> None:
        self.hits = 0
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                outer.hits += 1
                self.send_response(200)
                self.end_headers()

            do_GET = do_POST  # noqa: N815

            def log_message(self, *a) -> None:  # noqa: ANN002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
async def client(stack):  # noqa: ANN001, ANN201
    c = Client(stack)
    yield c
    await c.close()


async def _case(client: Client, **kw) -> dict:  # noqa: ANN003
    accepted = await client.submit(application(tag(), **kw))
    await client.routing(accepted["case_id"])

    async def clock() -> bool:
        return (await client.get("reply", f"/cases/{accepted['case_id']}/deadline")).status_code == 200
    await eventually(clock, 60, what="the case's clock")
    return accepted


async def test_procedure_steps_need_an_officer_and_nothing_reaches_the_applicant(stack, client, mail) -> None:
    t = tag()
    accepted = await client.submit(application(t, departments=["zrzy"]))
    case_id = accepted["case_id"]
    await client.routing(case_id)
    due = date.today().isoformat()
    attempts = {
        "/correction": {"items": ["请补充身份证明"], "due_on": due},
        "/correction/received": {},
        "/consultations": {"party_kind": "third_party", "party": "某公司"},
        "/consultations/1/end": {"end": "answered"},
        "/triage": {"question": "scope", "answer": "属于"},
        "/close": {"reason": "先行答复"},
        "/contradictions/x/resolve": {"note": "以某厅意见为准"},
        "/extension": {"days": 20, "reason": "需要调取档案"},
    }
    for path, body in attempts.items():
        # What the finding used: no credential at all, or a header naming a role and an officer.
        for headers in ({}, {"X-Role": "ogi_head", "X-User": "head-1"}):
            resp = await client.http.post(client.url("reply", f"/cases/{case_id}{path}"), json=body, headers=headers)
            assert resp.status_code == 401, (path, headers, resp.status_code, resp.text)
    # An OGI officer who is not the head cannot extend (Art. 33); a department officer can do none.
    resp = await client.post("reply", f"/cases/{case_id}/extension", as_user=OGI, json=attempts["/extension"])
    assert resp.status_code == 403, resp.text
    resp = await client.post("reply", f"/cases/{case_id}/correction", as_user="zrzy-officer",
                             json=attempts["/correction"])
    assert resp.status_code == 403, resp.text
    # The fee notice: X-User alone is nothing.
    resp = await client.http.post(client.url("intake", f"/applications/{case_id}/fee-notice"), json={"pages": 400},
                                  headers={"X-User": "ogi-1"})
    assert resp.status_code == 401, resp.text
    # The applicant heard of nothing but the registration.
    address = f"{t}@example.com"
    await eventually(lambda: asyncio.sleep(0, result=len(mails_for(mail, address)) >= 1), 30, what="registered mail")
    await asyncio.sleep(2)
    assert [("已登记" in m["subject"]) for m in mails_for(mail, address)] == [True]


async def test_reads_of_a_case_need_an_officer(stack, client) -> None:
    accepted = await _case(client, departments=["czt"])
    case_id = accepted["case_id"]
    reads = [("audit", "/ledger/export"), ("audit", f"/cases/{case_id}/file"), ("audit", f"/cases/{case_id}/timeline"),
             ("notify", f"/cases/{case_id}/notices"), ("routing", f"/cases/{case_id}/routing"),
             ("intake", f"/applications/{case_id}"), ("intake", f"/applications/{case_id}/screening"),
             ("reply", "/cases/overdue"), ("reply", f"/cases/{case_id}/reply"), ("reply", f"/cases/{case_id}/reply.pdf"),
             ("reply", f"/cases/{case_id}/deadline"), ("reply", "/departments/czt/tasks")]
    for svc, path in reads:
        resp = await client.http.get(client.url(svc, path))
        assert resp.status_code == 401, (svc, path, resp.status_code)
        assert resp.headers["www-authenticate"].startswith("Bearer"), (svc, path)
    # A department officer sees its own department's tasks only.
    assert (await client.get("reply", "/departments/czt/tasks", as_user="zrzy-officer")).status_code == 403
    assert (await client.get("reply", "/departments/czt/tasks", as_user="czt-officer")).status_code == 200
    # An unknown case is 404 everywhere, notify included.
    unknown = "00000000-0000-4000-8000-000000000000"
    for svc, path in [("notify", f"/cases/{unknown}/notices"), ("routing", f"/cases/{unknown}/routing"),
                      ("intake", f"/applications/{unknown}"), ("reply", f"/cases/{unknown}/reply"),
                      ("audit", f"/cases/{unknown}/timeline"), ("intake", f"/referrals/{unknown}")]:
        assert (await client.get(svc, path, as_user=OGI_HEAD if svc != "audit" else AUDITOR)).status_code == 404, path


async def test_query_codes_are_long_and_guessing_is_stopped(stack) -> None:
    # From a loopback address of its own, so that the lock-out it provokes touches no other test.
    transport = httpx.AsyncHTTPTransport(local_address="127.0.0.2")
    client = Client(stack)
    accepted = await client.submit(application(tag()))
    code, number = accepted["query_code"], accepted["tracking_number"]
    assert len(code) >= 10
    url = client.url("audit", f"/public/cases/{number}/timeline")
    # Every failure counts, an unknown number too: wait (as an auditor) until the ledger has the case.
    await eventually(lambda: client.timeline(accepted["case_id"]), 60, what="the case in the ledger")
    async with httpx.AsyncClient(transport=transport, timeout=10) as http:
        ok = await _ok(http, url, code)
        assert ok is not None
        assert ok["tracking_number"] == number
        wrong = code[:-1] + ("A" if code[-1] != "A" else "B")
        statuses = [(await http.get(url, params={"query_code": wrong})).status_code for _ in range(6)]
        assert statuses[:5] == [404] * 5 and statuses[5] == 429, statuses
        locked = await http.get(url, params={"query_code": code})
        assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0
        assert "次数" in locked.json()["detail"] or "稍后" in locked.json()["detail"]
        # The old 8-digit codes are not even looked up.
        assert (await http.get(url, params={"query_code": "12345678"})).status_code in (404, 422, 429)
    await client.close()


async def _ok(http: httpx.AsyncClient, url: str, code: str) -> dict | None:
    resp = await http.get(url, params={"query_code": code})
    return resp.json() if resp.status_code == 200 else None


async def test_applicant_ref_on_the_bus_is_keyed(stack, client) -> None:
    accepted = await client.submit(application(tag()))
    [received] = await eventually(
        lambda: events_of(stack.cfg.kafka_bootstrap, topics.APPLICATIONS_RECEIVED.name, accepted["case_id"]), 30,
        what="application.received")
    ref = received["data"]["applicant_ref"]
    # The finding recovered ID numbers from an unsalted SHA-256; no plain digest of it matches now.
    plain = {hashlib.sha256(f"{t}:{ID_NUMBER}".encode()).hexdigest() for t in ("resident_id", "id_card", "")}
    plain |= {hashlib.sha256(ID_NUMBER.encode()).hexdigest()}
    assert not any(p[:24] in ref for p in plain)
    assert ID_NUMBER not in str(received) and "13800138000" not in str(received)


async def test_webhooks_to_internal_addresses_are_refused_and_email_still_goes(stack, client, mail) -> None:
    target = Counter()
    try:
        t = tag()
        accepted = await client.submit(application(t, webhook=f"http://127.0.0.1:{target.port}/internal-admin"))
        address = f"{t}@example.com"
        await eventually(lambda: asyncio.sleep(0, result=bool(mails_for(mail, address))), 60, what="the e-mail")

        async def refused() -> dict | None:
            resp = await client.get("notify", f"/cases/{accepted['case_id']}/notices")
            if resp.status_code != 200:
                return None
            hooks = [n["deliveries"].get("webhook") for n in resp.json()["notices"]]
            return next((h for h in hooks if h and h.get("status") == "refused"), None)
        delivery = await eventually(refused, 60, what="the refused webhook delivery")
        assert delivery["refused_reason"]
        await asyncio.sleep(1)
        assert target.hits == 0
    finally:
        target.close()


async def test_the_broker_refuses_unknown_clients(stack) -> None:
    bootstrap = stack.cfg.kafka_bootstrap
    # No credentials: the SASL listener closes the connection.
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    with pytest.raises((KafkaConnectionError, KafkaError)):
        await producer.start()
    await producer.stop()
    # A department's name with a wrong password: refused.
    from deploy.local.credentials import kafka_client_kwargs

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, request_timeout_ms=5000,
                                **kafka_client_kwargs("dept-zrzy", password="guessed-password"))
    with pytest.raises(KafkaError):
        await producer.start()
    await producer.stop()


async def test_agencies_dates_and_integers(stack, client) -> None:
    http = client.http
    body = application(tag())
    resp = await http.post(client.url("intake", "/applications"), json={**body, "agency_code": "evil-agency"})
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "agency_code", resp.text
    resp = await http.post(client.url("intake", "/applications"), json={**body, "confirmed_on": "1900-01-01"})
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "confirmed_on", resp.text
    clerk = {**body, "channel": "fax", "confirmed_on": "2999-01-01"}
    resp = await client.post("intake", "/clerk/applications", as_user=OGI, json=clerk)
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "confirmed_on", resp.text
    resp = await http.post(client.url("intake", "/applications"), json={**body, "description": "请公开\u0000某文件的内容"})
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "description", resp.text
    resp = await http.post(client.url("intake", "/applications"), content=b"<xml/>",
                           headers={"content-type": "application/xml"})
    assert resp.status_code == 415, resp.text

    accepted = await _case(client, departments=["czt"])
    big = [("audit", f"/checkpoints/{BIG}", None), ("audit", f"/ledger/export?tree_size={BIG}", AUDITOR),
           ("audit", f"/proofs/consistency?first={BIG}", None), ("routing", f"/directory/versions/{BIG}", "dir-admin")]
    for svc, path, user in big:
        resp = await (client.get(svc, path, as_user=user) if user else http.get(client.url(svc, path)))
        assert resp.status_code == 422, (svc, path, resp.status_code, resp.text[:200])
    resp = await client.post("intake", f"/applications/{accepted['case_id']}/fee-notice", as_user=OGI,
                             json={"pages": 2**63})
    assert resp.status_code == 422, resp.text
    # A non-ASCII agency in a download's file name (RFC 6266).
    resp = await client.get("audit", "/statistics/annual", as_user=AUDITOR,
                            params={"year": date.today().year, "agency": "云南省政府", "format": "csv"})
    assert resp.status_code == 200, resp.text
    disposition = resp.headers["content-disposition"]
    assert "filename*=UTF-8''" in disposition
    assert "云南省政府" in unquote(disposition.split("filename*=UTF-8''")[1])
