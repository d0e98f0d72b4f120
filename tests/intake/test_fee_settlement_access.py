"""Recording the payment or waiver of a processing fee (国办函〔2020〕109号) on intake: only an OGI
officer with a verified token (contracts/access.py), once, with dates in range, the officer
recorded from the token, and never on an application already deemed abandoned."""

from __future__ import annotations

import json
from datetime import timedelta

from contracts.access import WEB_ROUTES, Role, access_of
from tests import tokens
from tests.intake.test_intake_security import OGI, application, field_of, intake, today  # noqa: F401 - fixtures

OFFICER = tokens.bearer("ogi_officer", name="公开办王经办", sub="officer-wang")


def test_the_access_table_names_the_route():
    access = access_of("intake", "POST", "/applications/{case_id}/fee-settlement")
    assert access is not None and access.roles == frozenset({Role.OGI_OFFICER}) and not access.public
    web = WEB_ROUTES.get(("POST", "/work/ogi/cases/{case_id}/fee-settlement"))
    assert web is not None and Role.OGI_OFFICER in web.roles


async def _with_notice(http, **notice) -> str:  # noqa: ANN001, ANN003
    case_id = (await http.post("/applications", json=application())).json()["case_id"]
    r = await http.post(f"/applications/{case_id}/fee-notice", headers=OGI, json={"pages": 101, **notice})
    assert r.status_code == 201, r.text
    return case_id


async def test_only_an_ogi_officer_with_a_token_records_a_payment(intake):  # noqa: F811
    http, rt = intake
    case_id = await _with_notice(http)
    path, body = f"/applications/{case_id}/fee-settlement", {"outcome": "paid"}
    assert (await http.post(path, json=body)).status_code == 401
    old = await http.post(path, json=body, headers={"X-User": "officer-1", "X-Role": "ogi_officer"})
    assert old.status_code == 401  # a header is no identity
    for role in ("ogi_head", "auditor", "dept_officer", "dept_reviewer", "directory_admin"):
        assert (await http.post(path, json=body, headers=tokens.bearer(role, department="czt"))).status_code == 403, role
    forged = {"Authorization": f"Bearer {tokens.token('ogi_officer', audience='another-api')}"}
    assert (await http.post(path, json=body, headers=forged)).status_code == 401
    doc = await rt.db["applications"].find_one({"_id": case_id})
    assert "settlement" not in doc["screening"]["fee_notice"]  # nothing recorded by the refused calls

    r = await http.post(path, json=body, headers=OFFICER)
    assert r.status_code == 201, r.text
    assert r.json() | {} == {"case_id": case_id, "outcome": "paid", "settled_on": today().date().isoformat(),
                             "fee_notice_issued_on": today().date().isoformat(), "amount_yuan": 720}
    again = await http.post(path, json={"outcome": "waived", "reason": "经济困难"}, headers=OFFICER)
    assert again.status_code == 409 and "不能重复登记" in again.json()["detail"]
    doc = await rt.db["applications"].find_one({"_id": case_id})
    s = doc["screening"]["fee_notice"]["settlement"]
    assert (s["kind"], s["amount_yuan"], s["by"], s["by_subject"]) == ("paid", 720, "公开办王经办", "officer-wang")
    [rec] = [r for r in doc["outbox"] if json.loads(r["value"])["type"] == "cn.gongkai.fee.paid.v1"]
    data = json.loads(rec["value"])["data"]
    assert rec["topic"] == "gongkai.applications.screened"
    assert (data["recorded_by"], data["recorded_by_subject"], data["amount_yuan"]) == ("公开办王经办", "officer-wang", 720)


async def test_a_waiver_needs_its_reason_and_dates_are_bounded(intake):  # noqa: F811
    http, _ = intake
    case_id = await _with_notice(http)
    path = f"/applications/{case_id}/fee-settlement"
    assert field_of(await http.post(path, json={"outcome": "waived"}, headers=OFFICER)) == ["reason"]
    assert field_of(await http.post(path, json={"outcome": "refunded"}, headers=OFFICER)) == ["outcome"]
    tomorrow = (today().date() + timedelta(days=1)).isoformat()
    resp = await http.post(path, json={"outcome": "paid", "settled_on": tomorrow}, headers=OFFICER)
    assert field_of(resp) == ["settled_on"] and "不能晚于今天" in resp.json()["errors"][0]["message"]
    yesterday = (today().date() - timedelta(days=1)).isoformat()  # before the notice (issued today)
    resp = await http.post(path, json={"outcome": "paid", "settled_on": yesterday}, headers=OFFICER)
    assert field_of(resp) == ["settled_on"] and "收费通知发出之日" in resp.json()["errors"][0]["message"]
    assert field_of(await http.post(path, json={"outcome": "paid", "amount_yuan": -1}, headers=OFFICER)) == ["amount_yuan"]
    ok = await http.post(path, json={"outcome": "waived", "reason": "申请人享受最低生活保障"}, headers=OFFICER)
    assert ok.status_code == 201 and "amount_yuan" not in ok.json()


async def test_no_settlement_without_a_notice_nor_after_abandonment(intake):  # noqa: F811
    http, rt = intake
    bare = (await http.post("/applications", json=application())).json()["case_id"]
    r = await http.post(f"/applications/{bare}/fee-settlement", json={"outcome": "paid"}, headers=OFFICER)
    assert r.status_code == 409 and "尚未发出收费通知" in r.json()["detail"]
    assert (await http.post("/applications/no-such-case/fee-settlement", json={"outcome": "paid"},
                            headers=OFFICER)).status_code == 404
    case_id = await _with_notice(http)
    # The reply service's clock deemed it abandoned (application.abandoned, recorded by intake).
    await rt.db["applications"].update_one(
        {"_id": case_id}, {"$set": {"correction.abandoned": {"abandoned_on": "2026-01-01", "reason": "fee_unpaid"}}})
    r = await http.post(f"/applications/{case_id}/fee-settlement", json={"outcome": "paid"}, headers=OFFICER)
    assert r.status_code == 409 and "逾期未缴纳信息处理费" in r.json()["detail"]


async def test_a_fee_notice_entered_afterwards_is_dated_within_bounds(intake):  # noqa: F811
    http, _ = intake
    case_id = (await http.post("/applications", json=application())).json()["case_id"]
    before = (today().date() - timedelta(days=1)).isoformat()  # before the receipt (today)
    resp = await http.post(f"/applications/{case_id}/fee-notice", headers=OGI, json={"pages": 101, "issued_on": before})
    assert field_of(resp) == ["issued_on"] and "收到申请之日" in resp.json()["errors"][0]["message"]
