"""Intake's attachments (Art. 29) and the applicant's online correction (Art. 30), through its HTTP
API on the real local store (no broker: the consumer's handler is called in-process and the outbox
inspected): multipart next to JSON, the limits and the errors' fields, officers' access to the
files, the query-code gate, the correction's states (409) and its event without personal data."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
import pytest_asyncio

from contracts.envelope import deterministic_id, new_event
from contracts.events_procedure import (
    ApplicationAbandoned,
    CorrectionReceived,
    CorrectionRequested,
    DeadlineWarning,
)
from servicekit.querycode import query_code
from tests import tokens
from tests.service_apps import db_name, intake_app

pytestmark = pytest.mark.asyncio
QUERY_KEY = "test-query-code-key"
OGI = tokens.bearer("ogi_officer", name="王经办", sub="officer-wang")
HEAD = tokens.bearer("ogi_head", name="张主任", sub="head-zhang")
DEPT = tokens.bearer("dept_officer", department="zrzy", name="部门经办", sub="dept-1")
AUDITOR = tokens.bearer("auditor", name="审计", sub="aud-1")
PDF = b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n" + bytes(range(256)) * 40
PNG = b"\x89PNG\r\n\x1a\n" + b"\x01" * 100
EXE = b"MZ\x90\x00" + b"\x00" * 100


def china_today() -> date:
    return datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai")).date()


def application(description: str = "申请公开2025年度某区城市更新项目的立项批复文件") -> dict:
    return {"applicant": {"name": "张三", "id_number": "11010519491231002X"},
            "contact": {"email": "zhangsan@example.com"}, "description": description}


def multipart(body: object | None, *files: tuple[str, bytes, str]) -> dict:
    """A multipart body (also without files): the ``application`` part as a plain field."""
    parts: list = [] if body is None else [("application", (None, body if isinstance(body, str) else json.dumps(body)))]
    return {"files": [*parts, *(("attachments", f) for f in files)]}


def fields(r: httpx.Response) -> list[str]:
    assert r.status_code == 422, r.text
    return [e["field"] for e in r.json()["errors"]]


@pytest_asyncio.fixture
async def intake(store, request: pytest.FixtureRequest, monkeypatch) -> AsyncIterator[tuple[httpx.AsyncClient, object]]:
    async with intake_app(store.url, db_name("a_", request), monkeypatch, query_code_secret=QUERY_KEY,
                          applicant_ref_secret="test-ref-key", query_code_attempts="3/15 minutes") as out:
        yield out


# ------------------------------------------------------------------ attachments on the application

async def test_multipart_application_with_files_then_officers_download_them(intake):
    http, rt = intake
    r = await http.post("/applications", **multipart(application(), ("身份证明.pdf", PDF, "application/pdf"),
                                                     ("photo.png", PNG, "application/octet-stream")))
    assert r.status_code == 201, r.text
    out = r.json()
    assert [(a["filename"], a["content_type"], a["size"], a["sha256"]) for a in out["attachments"]] == [
        ("身份证明.pdf", "application/pdf", len(PDF), hashlib.sha256(PDF).hexdigest()),
        ("photo.png", "image/png", len(PNG), hashlib.sha256(PNG).hexdigest())]
    case_id = out["case_id"]
    seen = (await http.get(f"/applications/{case_id}", headers=OGI)).json()
    assert seen["attachments"] == out["attachments"] and seen["correction"] is None
    pdf_id = out["attachments"][0]["attachment_id"]
    path = f"/applications/{case_id}/attachments/{pdf_id}"
    for who in (OGI, HEAD):
        d = await http.get(path, headers=who)
        assert d.status_code == 200 and d.content == PDF, d.text[:200]
        assert d.headers["content-type"] == "application/pdf"
        assert d.headers["x-content-sha256"] == hashlib.sha256(PDF).hexdigest()
        assert "attachment" in d.headers["content-disposition"]
    assert (await http.get(path)).status_code == 401
    assert (await http.get(path, headers=DEPT)).status_code == 403
    assert (await http.get(path, headers=AUDITOR)).status_code == 403
    assert (await http.get(f"/applications/{case_id}/attachments/{'0' * 32}", headers=OGI)).status_code == 404
    # Another case's file is not found under this case.
    other = (await http.post("/applications", json=application("申请公开XX路拓宽工程的规划许可证"))).json()
    assert other["attachments"] == []
    assert (await http.get(f"/applications/{other['case_id']}/attachments/{pdf_id}", headers=OGI)).status_code == 404
    # Nothing of the files on the bus: not the names, not the contents.
    doc = await rt.db["applications"].find_one({"_id": case_id})
    for rec in doc["outbox"]:
        assert "身份证明" not in rec["value"] and "photo.png" not in rec["value"] and "sha256" not in rec["value"]


async def test_multipart_errors_name_the_part_the_fields_and_the_files(intake):
    http, _ = intake
    assert fields(await http.post("/applications", **multipart(None, ("a.pdf", PDF, "application/pdf")))) == [
        "application"]
    assert fields(await http.post("/applications", **multipart("{not json"))) == ["application"]
    assert fields(await http.post("/applications", **multipart("[1, 2]"))) == ["application"]
    # The application's own errors exactly as for JSON, with the files' beside them.
    bad = application("短")
    as_json = await http.post("/applications", json=bad)
    r = await http.post("/applications", **multipart(bad, ("x.exe", EXE, "application/pdf"), ("e.pdf", b"", "application/pdf")))
    assert fields(r) == [*fields(as_json), "attachments[0]", "attachments[1]"]
    assert r.json()["errors"][0] == as_json.json()["errors"][0]
    assert r.json()["errors"][1]["message"] == "附件「x.exe」类型不支持：仅限 PDF、JPG、PNG"
    r = await http.post("/applications", **multipart(application(), *[(f"{i}.pdf", PDF, "application/pdf") for i in range(6)]))
    assert fields(r) == ["attachments"] and "5" in r.json()["errors"][0]["message"]
    big = PDF + b"\x00" * (10 * 1024 * 1024)
    r = await http.post("/applications", **multipart(application(), ("big.pdf", big, "application/pdf")))
    assert fields(r) == ["attachments[0]"] and "10 MiB" in r.json()["errors"][0]["message"]
    nine = PDF + b"\x00" * (9 * 1024 * 1024)
    r = await http.post("/applications", **multipart(application(), *[(f"{i}.pdf", nine, "application/pdf") for i in range(3)]))
    assert fields(r) == ["attachments"] and "20 MiB" in r.json()["errors"][0]["message"]
    # A clerk-only field is refused by name, as for JSON.
    r = await http.post("/applications", **multipart({**application(), "signed_on": "2026-01-01"}))
    assert fields(r) == ["signed_on"]


async def test_json_applications_are_unchanged(intake):
    http, _ = intake
    r = await http.post("/applications", content=b'{"applicant": ', headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["errors"][0]["type"] == "json_invalid"
    r = await http.post("/applications", content=b"<xml/>", headers={"content-type": "application/xml"})
    assert r.status_code == 415
    r = await http.post("/applications", content=b"", headers={"content-type": "application/json"})
    assert fields(r) == ["(body)"]
    r = await http.post("/applications", json={**application(), "channel": "fax"})
    assert fields(r) == ["channel"]
    r = await http.post("/applications", json=application())
    assert r.status_code == 201 and r.json()["attachments"] == []
    # A multipart application without files is the JSON one.
    r = await http.post("/applications", **multipart(application("申请公开某区2024年度财政预算执行情况")))
    assert r.status_code == 201 and r.json()["attachments"] == []
    # The application part sent as a JSON blob (e.g. a script's FormData) is read the same way.
    blob = json.dumps(application("申请公开某区2023年度政府债务情况"), ensure_ascii=False).encode()
    r = await http.post("/applications", files=[("application", ("application.json", blob, "application/json")),
                                                ("attachments", ("a.png", PNG, "image/png"))])
    assert r.status_code == 201 and [a["content_type"] for a in r.json()["attachments"]] == ["image/png"]


async def test_a_replay_with_the_same_key_and_files_is_the_same_case(intake):
    http, rt = intake
    key = {"Idempotency-Key": "retry-with-files-1"}
    first = await http.post("/applications", headers=key, **multipart(application(), ("a.pdf", PDF, "application/pdf")))
    again = await http.post("/applications", headers=key, **multipart(application(), ("a.pdf", PDF, "application/pdf")))
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["case_id"] == first.json()["case_id"]
    assert again.json()["attachments"] == first.json()["attachments"]
    assert await rt.db["attachments"].count_documents({"case_id": first.json()["case_id"]}) == 1
    other = await http.post("/applications", headers=key, **multipart(application(), ("b.png", PNG, "image/png")))
    assert fields(other) == ["idempotency-key"]
    plain = await http.post("/applications", headers=key, json=application())
    assert fields(plain) == ["idempotency-key"]


async def test_openapi_documents_both_bodies(intake):
    http, _ = intake
    doc = (await http.get("/openapi.json")).json()
    body = doc["paths"]["/applications"]["post"]["requestBody"]["content"]
    assert set(body) == {"application/json", "multipart/form-data"}
    assert body["application/json"]["schema"]["$ref"] == "#/components/schemas/ApplicationIn"
    assert "ApplicationIn" in doc["components"]["schemas"]
    assert set(body["multipart/form-data"]["schema"]["properties"]) == {"application", "attachments"}
    corr = doc["paths"]["/public/applications/{tracking_number}/correction"]["post"]
    assert set(corr["requestBody"]["content"]["multipart/form-data"]["schema"]["properties"]) == {
        "query_code", "description", "note", "attachments"}
    assert {"201", "404", "409", "422", "429"} <= set(corr["responses"])


# ------------------------------------------------------------------ the online correction

def procedure_event(data, name: str):  # noqa: ANN001, ANN201
    return new_event(data, source="/gongkai/reply", subject=data.case_id, event_id=deterministic_id(name, data.case_id))


async def requested(http: httpx.AsyncClient, case_id: str, due_on: date | None = None) -> None:
    today = china_today()
    data = CorrectionRequested(case_id=case_id, received_on=today, issued_on=today, items=["请明确所需信息的年份"],
                               due_on=due_on or today + timedelta(days=15), issued_by="王经办")
    await http.app.state.on_procedure(procedure_event(data, "correction.requested"))  # type: ignore[attr-defined]


async def test_the_applicant_corrects_online_once(intake):
    http, rt = intake
    case = (await http.post("/applications", json=application())).json()
    number, code = case["tracking_number"], case["query_code"]
    url = f"/public/applications/{number}/correction"
    r = await http.post(url, data={"query_code": code, "description": "申请公开2024年度某区城市更新项目的立项批复文件"})
    assert r.status_code == 409 and r.json()["detail"] == "本申请没有补正通知，无需补正"
    await requested(http, case["case_id"])
    await requested(http, case["case_id"])  # a redelivery changes nothing
    r = await http.post(url, data={"query_code": code, "note": "只有说明"})
    assert fields(r) == ["description"] and r.json()["errors"][0]["message"] == "请填写补正后的申请内容或上传补正材料"
    r = await http.post(url, data={"query_code": code, "description": "短"})
    assert fields(r) == ["description"]
    r = await http.post(url, data={"query_code": code}, files=[("attachments", ("x.exe", EXE, "application/pdf"))])
    assert fields(r) == ["attachments[0]"]
    r = await http.post(url, json={"query_code": code})
    assert r.status_code == 415
    corrected = "申请公开2024年度某区城市更新项目的立项批复文件（文号：某发〔2024〕12号）"
    r = await http.post(url, data={"query_code": code.lower(), "description": corrected, "note": "补充了年份和文号"},
                        files=[("attachments", ("补正材料.pdf", PDF, "application/pdf"))])
    assert r.status_code == 201, r.text
    out = r.json()
    assert set(out) == {"tracking_number", "received_on", "attachments"}
    assert out["tracking_number"] == number and out["received_on"] == china_today().isoformat()
    assert [a["filename"] for a in out["attachments"]] == ["补正材料.pdf"]
    again = await http.post(url, data={"query_code": code, "description": corrected})
    assert again.status_code == 409 and again.json()["detail"] == "补正材料已经提交，不能重复提交"
    # Officers see the corrected description, the original, the note and the files.
    seen = (await http.get(f"/applications/{case['case_id']}", headers=OGI)).json()
    assert seen["description"] == corrected and seen["original_description"] == application()["description"]
    c = seen["correction"]
    assert c["status"] == "submitted" and c["submitted"]["note"] == "补充了年份和文号"
    assert c["requested"]["items"] == ["请明确所需信息的年份"]
    file_id = out["attachments"][0]["attachment_id"]
    d = await http.get(f"/applications/{case['case_id']}/attachments/{file_id}", headers=OGI)
    assert d.status_code == 200 and d.content == PDF
    # The event: on intake's screened topic, a count of files and dates only.
    doc = await rt.db["applications"].find_one({"_id": case["case_id"]})
    [rec] = [r for r in doc["outbox"] if "correction.submitted" in r["value"]]
    assert rec["topic"] == "gongkai.applications.screened" and doc["outbox_pending"] is True
    event = json.loads(rec["value"])
    assert set(event["data"]) == {"case_id", "received_on", "submitted_at", "attachment_count"}
    assert event["data"]["attachment_count"] == 1 and event["data"]["received_on"] == out["received_on"]
    assert corrected not in rec["value"] and "补正材料" not in rec["value"] and "补充了" not in rec["value"]
    # The reply service then records it received: the state follows.
    today = china_today()
    await http.app.state.on_procedure(procedure_event(  # type: ignore[attr-defined]
        CorrectionReceived(case_id=case["case_id"], received_on=today), "correction.received"))
    seen = (await http.get(f"/applications/{case['case_id']}", headers=OGI)).json()
    assert seen["correction"]["status"] == "received"
    r = await http.post(url, data={"query_code": code, "description": corrected})
    assert r.status_code == 409 and r.json()["detail"] == "补正材料已经收到，不能重复提交"


async def test_a_correction_received_on_paper_abandoned_or_overdue_is_refused(intake):
    http, _ = intake
    data = {"description": "申请公开2024年度某区城市更新项目的立项批复文件"}
    cases = [(await http.post("/applications", json=application(f"申请公开第{i}号文件的全文内容"))).json() for i in range(3)]
    paper, gone, late = cases
    for c in cases:
        await requested(http, c["case_id"], due_on=china_today() - timedelta(days=1) if c is late else None)
    await http.app.state.on_procedure(procedure_event(  # type: ignore[attr-defined]
        CorrectionReceived(case_id=paper["case_id"], received_on=china_today()), "correction.received"))
    await http.app.state.on_procedure(procedure_event(  # type: ignore[attr-defined]
        ApplicationAbandoned(case_id=gone["case_id"], correction_due=china_today(), abandoned_on=china_today()),
        "application.abandoned"))
    # Other procedure events (and another agency's cases) are left alone.
    await http.app.state.on_procedure(procedure_event(  # type: ignore[attr-defined]
        DeadlineWarning(case_id=late["case_id"], due_on=china_today(), workdays_left=2, threshold=2),
        "deadline.warning"))
    await http.app.state.on_procedure(procedure_event(  # type: ignore[attr-defined]
        CorrectionReceived(case_id="elsewhere", received_on=china_today()), "correction.received"))
    for c, detail in ((paper, "补正材料已经收到"), (gone, "申请已视为放弃"), (late, "已届满")):
        r = await http.post(f"/public/applications/{c['tracking_number']}/correction",
                            data={"query_code": c["query_code"], **data})
        assert r.status_code == 409 and detail in r.json()["detail"], r.text


async def test_the_query_code_gate(intake):
    http, _ = intake
    case = (await http.post("/applications", json=application())).json()
    await requested(http, case["case_id"])
    url = f"/public/applications/{case['tracking_number']}/correction"
    data = {"description": "申请公开2024年度某区城市更新项目的立项批复文件"}
    assert fields(await http.post(url, data={"query_code": "short", **data})) == ["query_code"]
    assert fields(await http.post(url, data=data)) == ["query_code"]
    wrong = query_code("another-key", case["case_id"])
    unknown = await http.post("/public/applications/YN-20260101-99999/correction",
                              data={"query_code": case["query_code"], **data})
    assert unknown.status_code == 404
    for _ in range(2):
        r = await http.post(url, data={"query_code": wrong, **data})
        assert r.status_code == 404 and r.json()["detail"] == "受理编号或查询码不正确"
    r = await http.post(url, data={"query_code": wrong, **data})
    assert r.status_code == 429 and "Retry-After" in r.headers
    # Exhausted for this number: even the right code waits.
    r = await http.post(url, data={"query_code": case["query_code"], **data})
    assert r.status_code == 429
