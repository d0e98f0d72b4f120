"""The intake service's side of the trust boundary, against the built app over a private real
store: officers by verified token only (fee notices, clerk entries, screening), the receipt date of
an online application the server's, clerks' dates bounded, only the agencies served, tracking
numbers that never collide, keyed query codes and applicant references, webhook secrets given once,
bounded integers, no control characters, and no start in production without its secrets."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
import pytest_asyncio
from standardwebhooks import Webhook

from services.intake.app import build
from services.intake.identity import applicant_ref
from services.intake.settings import IntakeSettings
from tests import tokens

QUERY_KEY = "intake-query-key-of-the-test"
REF_KEY = "intake-ref-key-of-the-test"
OGI = tokens.bearer("ogi_officer", name="窗口登记员李", sub="clerk-li")
ID_NUMBER = "11010519491231002X"


def today() -> datetime:
    return datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai"))


def application(**changes) -> dict:  # noqa: ANN003
    body = {"applicant": {"name": "张三", "id_number": ID_NUMBER}, "contact": {"email": "zhangsan@example.com"},
            "description": "申请公开2025年度某区城市更新项目的立项批复文件"}
    body.update(changes)
    return body


async def _intake(store_url: str, monkeypatch: pytest.MonkeyPatch, env: str = "development",
                  **settings) -> tuple[httpx.AsyncClient, object, str]:  # noqa: ANN003
    for k, v in tokens.oidc_env().items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("GONGKAI_ENV", env)
    monkeypatch.setenv("GONGKAI_MONGO_URL", store_url)
    name = f"intake_sec_{uuid.uuid4().hex[:10]}"
    app = build(IntakeSettings(db_name=name, query_code_secret=QUERY_KEY, applicant_ref_secret=REF_KEY, **settings))
    rt = app.state.runtime
    for fn in rt._setup:  # the indexes (the lifespan, which would start Kafka, is not run)
        await fn()
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://intake"), rt, name


@pytest_asyncio.fixture
async def intake(store, monkeypatch) -> AsyncIterator[tuple[httpx.AsyncClient, object]]:  # noqa: F811
    http, rt, name = await _intake(store.url, monkeypatch,
                                   agencies=[{"code": "km-gov", "tracking_prefix": "KM"}])
    try:
        yield http, rt
    finally:
        await http.aclose()
        await rt.client.drop_database(name)
        await rt.client.close()


def field_of(resp: httpx.Response) -> list[str]:
    assert resp.status_code == 422, resp.text
    return [e["field"] for e in resp.json()["errors"]]


# ------------------------------------------------------------------ officers: tokens only

async def test_officer_routes_need_a_token_with_the_role(intake):
    http, _ = intake
    case_id = (await http.post("/applications", json=application())).json()["case_id"]
    clerk = application(channel="window")
    routes = [
        ("GET", f"/applications/{case_id}", None, "dept_officer"),
        ("GET", f"/applications/{case_id}/screening", None, "auditor"),
        ("POST", f"/applications/{case_id}/fee-notice", {"pages": 101}, "ogi_head"),
        ("POST", "/clerk/applications", clerk, "dept_officer"),
        ("GET", "/referrals/r-1", None, "directory_admin"),
    ]
    for method, path, body, wrong_role in routes:
        assert (await http.request(method, path, json=body)).status_code == 401, path
        # The identity headers of old are ignored: still no identity.
        old = await http.request(method, path, json=body, headers={"X-User": "officer-1", "X-Role": "ogi_officer"})
        assert old.status_code == 401, path
        wrong = await http.request(method, path, json=body, headers=tokens.bearer(wrong_role, department="czt"))
        assert wrong.status_code == 403, path
        forged = {"Authorization": f"Bearer {tokens.token('ogi_officer', audience='another-api')}"}
        assert (await http.request(method, path, json=body, headers=forged)).status_code == 401, path
    fee = await http.post(f"/applications/{case_id}/fee-notice", json={"pages": 101}, headers=OGI)
    assert fee.status_code == 201 and fee.json()["amount_yuan"] == 720


async def test_unknown_referral_is_404(intake):
    http, _ = intake
    assert (await http.get("/referrals/no-such-referral", headers=OGI)).status_code == 404
    assert (await http.get("/applications/no-such-case", headers=OGI)).status_code == 404
    assert (await http.get("/applications/no-such-case/screening", headers=OGI)).status_code == 404
    assert (await http.post("/applications/no-such-case/fee-notice", headers=OGI)).status_code == 404


# ------------------------------------------------------------------ dates of receipt

@pytest.mark.parametrize("field", ["confirmed_on", "signed_on"])
async def test_an_applicant_cannot_date_an_online_application(intake, field):
    http, _ = intake
    resp = await http.post("/applications", json=application(**{field: "1900-01-01"}))
    assert field_of(resp) == [field]
    assert "网上申请" in resp.json()["errors"][0]["message"]
    window = await http.post("/applications", json=application(channel="window"))
    assert field_of(window) == ["channel"] and "/clerk/applications" in window.json()["errors"][0]["message"]
    ok = await http.post("/applications", json=application())
    assert ok.status_code == 201 and ok.json()["received_on"] == today().date().isoformat()


async def test_a_clerk_enters_post_with_its_receipt_facts_and_is_recorded(intake):
    http, rt = intake
    signed = (today().date() - timedelta(days=3)).isoformat()
    resp = await http.post("/clerk/applications", headers=OGI,
                           json=application(channel="registered_mail", signed_on=signed))
    assert resp.status_code == 201, resp.text
    assert resp.json()["received_on"] == signed and "签收" in resp.json()["receipt_rule"]
    doc = await rt.db["applications"].find_one({"_id": resp.json()["case_id"]})
    assert doc["received_by"] == {"subject": "clerk-li", "username": doc["received_by"]["username"],
                                  "name": "窗口登记员李"}
    received = next(json.loads(r["value"]) for r in doc["outbox"] if r["topic"] == "gongkai.applications.received")
    assert received["data"]["channel"] == "registered_mail" and received["data"]["received_on"] == signed
    window = await http.post("/clerk/applications", headers=OGI, json=application(channel="window"))
    assert window.status_code == 201 and window.json()["received_on"] == today().date().isoformat()


@pytest.mark.parametrize(("channel", "field", "days"), [
    ("registered_mail", "signed_on", -1),  # tomorrow
    ("ordinary_mail", "confirmed_on", -30),
    ("fax", "confirmed_on", 61),  # more than 60 days back
    ("fax", "confirmed_on", 365 * 30),  # before the Regulations
])
async def test_a_clerk_date_in_the_future_or_too_far_back_is_422(intake, channel, field, days):
    http, _ = intake
    when = (today().date() - timedelta(days=days)).isoformat()
    resp = await http.post("/clerk/applications", headers=OGI, json=application(channel=channel, **{field: when}))
    assert field_of(resp) == [field]
    message = resp.json()["errors"][0]["message"]
    assert field in message and ("不能晚于今天" in message if days < 0 else "不能早于" in message)


async def test_a_clerk_cannot_name_another_clerk(intake):
    http, _ = intake
    resp = await http.post("/clerk/applications", headers=OGI, json=application(channel="window", received_by="王五"))
    assert field_of(resp) == ["received_by"]


# ------------------------------------------------------------------ agencies and numbers

async def test_an_unknown_agency_is_422_naming_agency_code(intake):
    http, rt = intake
    resp = await http.post("/applications", json=application(agency_code="nowhere-gov"))
    assert field_of(resp) == ["agency_code"]
    assert resp.json()["errors"][0]["message"].startswith("本机关不受理该机关的申请")
    assert await rt.db["applications"].count_documents({}) == 0  # nothing stored, nothing published


async def test_tracking_numbers_of_two_agencies_never_collide(intake):
    http, _ = intake
    day = today().strftime("%Y%m%d")
    yn = [(await http.post("/applications", json=application(description=f"申请公开第{i}号文件全文")))
          .json()["tracking_number"] for i in range(2)]
    km = [(await http.post("/applications", json=application(agency_code="km-gov", description=f"申请公开第{i}号文件全文")))
          .json()["tracking_number"] for i in range(2)]
    assert yn == [f"YN-{day}-00001", f"YN-{day}-00002"]
    assert km == [f"KM-{day}-00001", f"KM-{day}-00002"]  # its own prefix, its own counter


async def test_a_taken_tracking_number_is_passed_over_not_a_500(intake):
    http, rt = intake
    day = today().strftime("%Y%m%d")
    # Numbers already stored (restored data, or a counter reset): the next ones are drawn.
    for seq in (1, 2):
        await rt.db["applications"].insert_one({"_id": f"old-{seq}", "tracking_number": f"YN-{day}-{seq:05d}"})
    resp = await http.post("/applications", json=application())
    assert resp.status_code == 201 and resp.json()["tracking_number"] == f"YN-{day}-00003"
    doc = await rt.db["applications"].find_one({"_id": resp.json()["case_id"]})
    received = next(json.loads(r["value"]) for r in doc["outbox"] if r["topic"] == "gongkai.applications.received")
    assert received["data"]["tracking_number"] == f"YN-{day}-00003"  # the event carries the number stored


# ------------------------------------------------------------------ codes, references, webhooks

async def test_query_code_and_applicant_ref_are_keyed(intake):
    http, rt = intake
    body = (await http.post("/applications", json=application())).json()
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{12}", body["query_code"])
    doc = await rt.db["applications"].find_one({"_id": body["case_id"]})
    received = next(json.loads(r["value"]) for r in doc["outbox"] if r["topic"] == "gongkai.applications.received")
    ref = received["data"]["applicant_ref"]
    assert ref == applicant_ref(REF_KEY, "resident_id_card", ID_NUMBER)
    assert ref != "app-" + hashlib.sha256(f"resident_id_card:{ID_NUMBER}".encode()).hexdigest()[:24]
    # Stable per applicant: a second application has the same reference (repeats, fees).
    again = (await http.post("/applications", json=application(description="申请公开另一份文件的全文"))).json()
    doc2 = await rt.db["applications"].find_one({"_id": again["case_id"]})
    assert doc2["applicant_ref"] == ref


async def test_a_webhook_secret_is_given_once_and_again_on_a_replay(intake):
    http, rt = intake
    body = application(contact={"email": "zhangsan@example.com", "webhook_url": "https://hooks.example.org/gk"})
    key = {"Idempotency-Key": f"key-{uuid.uuid4()}"}
    first = await http.post("/applications", json=body, headers=key)
    assert first.status_code == 201
    secret = first.json()["webhook_secret"]
    assert secret.startswith("whsec_") and len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    # It signs and verifies as the Standard Webhooks package expects.
    wh = Webhook(secret)
    now = datetime.now(UTC)
    sig = wh.sign("msg_1", now, '{"a":1}')
    assert wh.verify('{"a":1}', {"webhook-id": "msg_1", "webhook-timestamp": str(int(now.timestamp())),
                                 "webhook-signature": sig}) == {"a": 1}
    doc = await rt.db["applications"].find_one({"_id": first.json()["case_id"]})
    contact = next(json.loads(r["value"]) for r in doc["outbox"] if r["topic"] == "gongkai.private.contacts")
    assert contact["data"]["webhook_secret"] == secret
    assert all("whsec_" not in r["value"] for r in doc["outbox"] if r["topic"] != "gongkai.private.contacts")
    replay = await http.post("/applications", json=body, headers=key)
    assert replay.status_code == 200 and replay.json() == first.json()
    # The same key with another application: refused, and nothing of the first is given away.
    other = await http.post("/applications", json=application(description="申请公开完全不同的一份文件"), headers=key)
    assert field_of(other) == ["idempotency-key"] and secret not in other.text
    plain = (await http.post("/applications", json=application())).json()
    assert plain["webhook_secret"] is None


@pytest.mark.parametrize(("url", "message"), [
    ("ftp://hooks.example.org/x", "http:// 或 https://"),
    ("https://user:pw@hooks.example.org/x", "用户名或密码"),
])
async def test_a_webhook_address_of_the_wrong_shape_is_422(intake, url, message):
    http, _ = intake
    resp = await http.post("/applications", json=application(contact={"email": "a@example.com", "webhook_url": url}))
    assert field_of(resp) == ["contact.webhook_url"] and message in resp.json()["errors"][0]["message"]


async def test_production_takes_https_webhooks_only_unless_allow_listed(store, monkeypatch):  # noqa: F811
    monkeypatch.setenv("GONGKAI_KAFKA_USERNAME", "svc-intake")
    monkeypatch.setenv("GONGKAI_KAFKA_PASSWORD", "k" * 32)
    http, rt, name = await _intake(store.url, monkeypatch, env="production", webhook_allow_hosts=["sink.internal"])
    try:
        def body(url: str) -> dict:
            return application(contact={"email": "a@example.com", "webhook_url": url})
        refused = await http.post("/applications", json=body("http://hooks.example.org/x"))
        assert field_of(refused) == ["contact.webhook_url"] and "https" in refused.json()["errors"][0]["message"]
        assert (await http.post("/applications", json=body("https://hooks.example.org/x"))).status_code == 201
        assert (await http.post("/applications", json=body("http://sink.internal:8109/x"))).status_code == 201
    finally:
        await http.aclose()
        await rt.client.drop_database(name)
        await rt.client.close()


# ------------------------------------------------------------------ input

@pytest.mark.parametrize("pages", [2**63, -1, 10_000_001, "many"])
async def test_out_of_range_pages_are_422(intake, pages):
    http, _ = intake
    case_id = (await http.post("/applications", json=application())).json()["case_id"]
    resp = await http.post(f"/applications/{case_id}/fee-notice", headers=OGI, json={"pages": pages})
    assert field_of(resp) == ["pages"]


@pytest.mark.parametrize(("body", "field"), [
    (application(description="申请公开某文件\x00全文内容"), "description"),
    (application(applicant={"name": "张\x00三", "id_number": ID_NUMBER}), "applicant.name"),
    (application(contact={"email": "a@example.com", "address": "昆明\x00"}), "contact.address"),
    (application(target_departments=["czt\x00"]), "target_departments.0"),
])
async def test_control_characters_are_422_naming_the_field(intake, body, field):
    http, _ = intake
    assert field_of(await http.post("/applications", json=body)) == [field]
    assert field in field_of(await http.post("/clerk/applications", headers=OGI, json={**body, "channel": "window"}))


async def test_a_path_id_with_a_control_character_is_422(intake):
    http, _ = intake
    assert field_of(await http.get("/applications/abc%00def", headers=OGI)) == ["case_id"]


# ------------------------------------------------------------------ secrets

def test_production_refuses_to_start_without_its_secrets(monkeypatch):
    for k, v in tokens.oidc_env().items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("GONGKAI_ENV", "production")
    monkeypatch.setenv("GONGKAI_MONGO_URL", "mongodb://127.0.0.1:1")  # never contacted
    monkeypatch.setenv("GONGKAI_KAFKA_USERNAME", "svc-intake")
    monkeypatch.setenv("GONGKAI_KAFKA_PASSWORD", "k" * 32)
    with pytest.raises(SystemExit) as refused:
        build(IntakeSettings())
    assert "INTAKE_QUERY_CODE_SECRET" in str(refused.value) and "INTAKE_APPLICANT_REF_SECRET" in str(refused.value)
    with pytest.raises(SystemExit) as refused:  # the development value of old is no secret
        build(IntakeSettings(query_code_secret="local-dev-only-secret", applicant_ref_secret="r" * 32))
    assert "INTAKE_QUERY_CODE_SECRET" in str(refused.value) and "INTAKE_APPLICANT_REF_SECRET" not in str(refused.value)
    assert build(IntakeSettings(query_code_secret="q" * 32, applicant_ref_secret="r" * 32)).state.runtime


def test_two_agencies_with_one_prefix_are_a_configuration_error(monkeypatch):
    for k, v in tokens.oidc_env().items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("GONGKAI_MONGO_URL", "mongodb://127.0.0.1:1")
    # The setting as the environment gives it: JSON.
    monkeypatch.setenv("INTAKE_AGENCIES", '[{"code": "km-gov", "tracking_prefix": "KM"}]')
    assert [(a.code, a.tracking_prefix) for a in IntakeSettings().agencies] == [("km-gov", "KM")]
    monkeypatch.setenv("INTAKE_AGENCIES", '[{"code": "km-gov", "tracking_prefix": "YN"}]')
    with pytest.raises(ValueError, match="INTAKE_AGENCIES"):
        build(IntakeSettings())
