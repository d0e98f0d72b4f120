"""Recording administrative review and litigation over HTTP on the real store: officers only,
through the remedy outbox onto the bus, into the ledger, and into table 四 of the annual report."""

from __future__ import annotations

import csv
import io

import pytest

from contracts.envelope import decode
from contracts.events import REGISTRY
from services.audit.remedies import REMEDY_OUTBOX
from servicekit.outbox import OutboxRelay
from tests import tokens
from tests.audit.factory import case_events, raw
from tests.audit.service import OGI, audit_service

CASE = "case-00001"
OFFICER = OGI  # an OGI officer's token: 陈经办, subject officer-chen


@pytest.fixture
async def env(store, monkeypatch):  # noqa: ANN001, ANN201
    async with audit_service(store.url, monkeypatch, headers={}) as svc:
        ledger = svc.ledger
        for i, (topic, ev) in enumerate(case_events(1)):
            await ledger.append(ev, raw(ev), topic, 0, i)
        published: list[tuple[str, bytes]] = []

        async def publish_many(records) -> None:  # noqa: ANN001 - the relay's publisher: the bus, then the ledger
            for topic, _key, value, _headers in records:
                published.append((topic, value))
                await ledger.append(decode(value, REGISTRY), value, topic, 0, len(published))

        relay = OutboxRelay([svc.db[REMEDY_OUTBOX]], publish_many)
        yield svc.http, relay, published, svc.db, ledger


async def test_officers_only(env):
    client, *_ = env
    body = {"kind": "review", "filed_on": "2026-04-01"}
    assert (await client.post(f"/cases/{CASE}/remedies", json=body)).status_code == 401
    assert (await client.post(f"/cases/{CASE}/remedies", json=body,
                              headers={"Authorization": "Bearer wrong"})).status_code == 401  # not a valid token
    # Auditors read remedies; only OGI officers record them.
    auditor = tokens.bearer("auditor")
    assert (await client.post(f"/cases/{CASE}/remedies", json=body, headers=auditor)).status_code == 403
    assert (await client.post(f"/cases/{CASE}/remedies", json=body,
                              headers=tokens.bearer("dept_officer", department="czt"))).status_code == 403
    assert (await client.get(f"/cases/{CASE}/remedies", headers={"Authorization": "Basic x"})).status_code == 401
    # A token of another issuer (signed with the same key) is not accepted either.
    foreign = {"Authorization": f"Bearer {tokens.token('ogi_officer', issuer='https://evil.example/realms/x')}"}
    assert (await client.post(f"/cases/{CASE}/remedies", json=body, headers=foreign)).status_code == 401
    resp = await client.post(f"/cases/{CASE}/remedies", json=body, headers=OFFICER)
    assert resp.status_code == 201
    remedy = resp.json()["remedy"]
    assert (remedy["recorded_by"], remedy["recorded_by_subject"]) == ("陈经办", "officer-chen")
    assert (await client.get(f"/cases/{CASE}/remedies", headers=auditor)).status_code == 200


async def test_filing_and_outcome_reach_the_ledger_and_table_four(env):
    client, relay, published, db, ledger = env
    filed = await client.post(f"/cases/{CASE}/remedies", headers=OFFICER,
                              json={"kind": "review", "filed_on": "2026-04-01", "authority": "云南省人民政府"})
    assert filed.status_code == 201, filed.text
    rid = filed.json()["remedy"]["remedy_id"]
    assert filed.json()["remedy"]["published"] is False and filed.json()["remedy"]["result"] is None
    # The same filing again (same id, same facts): recorded once, answered 200.
    again = await client.post(f"/cases/{CASE}/remedies", headers=OFFICER,
                              json={"remedy_id": rid, "kind": "review", "filed_on": "2026-04-01", "authority": "云南省人民政府"})
    assert again.status_code == 200 and again.json()["created"] is False
    clash = await client.post(f"/cases/{CASE}/remedies", headers=OFFICER,
                              json={"remedy_id": rid, "kind": "review", "filed_on": "2026-04-02"})
    assert clash.status_code == 409
    decided = await client.post(f"/cases/{CASE}/remedies", headers=OFFICER,
                                json={"stage": "decided", "remedy_id": rid, "result": "corrected", "decided_on": "2026-06-30"})
    assert decided.status_code == 201 and decided.json()["remedy"]["result"] == "corrected"
    other = await client.post(f"/cases/{CASE}/remedies", headers=OFFICER,
                              json={"stage": "decided", "remedy_id": rid, "result": "upheld", "decided_on": "2026-06-30"})
    assert other.status_code == 409 and "不能重复登记" in other.json()["detail"]
    assert (await client.post(f"/cases/{CASE}/remedies", headers=OFFICER,
                              json={"stage": "decided", "remedy_id": "nope", "result": "upheld",
                                    "decided_on": "2026-06-30"})).status_code == 404
    # A lawsuit without review, filed and decided at once (entered afterwards).
    lit = await client.post(f"/cases/{CASE}/remedies", headers=OFFICER,
                            json={"kind": "litigation", "route": "direct", "filed_on": "2026-07-01",
                                  "result": "upheld", "decided_on": "2026-11-11", "authority": "昆明铁路运输中级法院"})
    assert lit.status_code == 201
    # Still pending a lawsuit after review, filed in December.
    assert (await client.post(f"/cases/{CASE}/remedies", headers=OFFICER,
                              json={"kind": "litigation", "route": "after_review", "filed_on": "2026-12-15"})).status_code == 201

    assert await db[REMEDY_OUTBOX].count_documents({}) == 5  # 3 filings, 2 outcomes
    assert published == []
    assert await relay.drain_once()
    assert await relay.drain_once() == []  # each record once
    assert [t for t, _ in published] == ["gongkai.cases.remedies"] * 5
    events = [decode(v, REGISTRY) for _, v in published]
    assert {(e.data.stage, e.data.kind, e.data.result) for e in events} == {
        ("filed", "review", None), ("decided", "review", "corrected"), ("filed", "litigation", None),
        ("decided", "litigation", "upheld")}
    assert all(e.subject == CASE and e.data.recorded_by == "陈经办" and e.data.recorded_by_subject == "officer-chen"
               and e.data.agency_code == "yn-gov-office" for e in events)
    assert [(await ledger.by_event_id(e.id))["topic"] for e in events] == ["gongkai.cases.remedies"] * 5
    assert (await ledger.verify()).ok

    listed = (await client.get(f"/cases/{CASE}/remedies", headers=OFFICER)).json()["remedies"]
    assert len(listed) == 3 and all(r["published"] for r in listed)

    annual_body = (await client.get("/statistics/annual", params={"year": 2026}, headers=OFFICER)).json()
    assert annual_body["problems"] == []
    table = annual_body["remedies"]
    assert table["values"] == [0, 1, 0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1, 1]
    rows = list(csv.reader(io.StringIO((await client.get("/statistics/annual", headers=OFFICER,
                                                          params={"year": 2026, "format": "csv"})).text.lstrip("\ufeff"))))
    assert [int(x) for x in rows[-1]] == table["values"]
    assert (await client.get("/statistics/annual", params={"year": 2025},
                             headers=OFFICER)).json()["remedies"]["values"] == [0] * 15


async def test_requests_that_make_no_sense_are_refused_in_chinese(env):
    client, *_ = env
    resp = await client.post(f"/cases/{CASE}/remedies", headers=OFFICER, json={"kind": "litigation", "filed_on": "2026-07-01"})
    assert resp.status_code == 422
    assert "route" in resp.text and "未经复议直接起诉" in resp.text
    resp = await client.post(f"/cases/{CASE}/remedies", headers=OFFICER,
                             json={"kind": "review", "filed_on": "2026-07-01", "result": "upheld", "decided_on": "2026-06-01"})
    assert resp.status_code == 422 and "不能早于" in resp.text
    resp = await client.post(f"/cases/{CASE}/remedies", headers=OFFICER, json={"stage": "decided", "remedy_id": "x"})
    assert resp.status_code == 422
    assert (await client.post("/cases/no-such-case/remedies", headers=OFFICER,
                              json={"kind": "review", "filed_on": "2026-07-01"})).status_code == 404
