"""The public reads added for the applicant portal (reply: deadline and reply PDF by tracking
number and query code), on the real store: refusals like audit's public timeline."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date

import httpx
import pytest
import pytest_asyncio

from contracts.events import CaseRouted, RoutedTask
from services.audit.public_timeline import query_code as audit_query_code
from services.intake.identity import query_code as intake_query_code
from services.reply.public import public_explanation, query_code
from tests.service_apps import db_name, reply_app

SECRET = "portal-test-secret"
NUMBER = "YN-20261123-00001"


def test_the_query_code_is_the_same_as_intakes_and_audits() -> None:
    for case_id in ("c1", "0b6f-uuid", "x" * 60):
        assert query_code(SECRET, case_id) == intake_query_code(SECRET, case_id) == audit_query_code(SECRET, case_id)


def test_the_public_explanation_leaves_out_the_approving_officer() -> None:
    x = {"extension": {"approved_on": "2026-12-01", "workdays": 20, "approver": "王主任", "reason": "需要检索"},
         "text_zh": "经政府信息公开工作机构负责人王主任同意延长答复期限20个工作日"}
    out = public_explanation(x)
    assert "王主任" not in str(out) and out["extension"]["workdays"] == 20 and "负责人同意" in out["text_zh"]


@pytest_asyncio.fixture
async def api(store, request: pytest.FixtureRequest, monkeypatch) -> AsyncIterator:  # noqa: F811
    async with reply_app(store.url, db_name("p_", request), monkeypatch, env={"REPLY_QUERY_CODE_SECRET": SECRET},
                         render_documents=False) as app:
        for fn in app.state.runtime._setup:  # the desk's and the limiter's indexes too
            await fn()
        st = app.state.store
        routed = CaseRouted(case_id="c1", tracking_number=NUMBER, agency_code="ag", agency_name="云南省人民政府办公厅",
                            received_on=date(2026, 11, 23), directory_version="v1",
                            tasks=[RoutedTask(task_id="t-czt", dept_code="czt", dept_name="云南省财政厅", rule="r")])
        await st.open_case(routed)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://reply") as client:
            yield client, st


async def test_deadline_needs_the_query_code_and_is_limited(api):
    client, _ = api
    url = f"/public/cases/{NUMBER}/deadline"
    good = query_code(SECRET, "c1")
    r = await client.get(url, params={"query_code": f"{good[:4]}-{good[4:8]}-{good[8:]}".lower()})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["tracking_number"] == NUMBER and body["explanation"]["due_on"]
    assert "逐日计算" in body["explanation"]["text_zh"] and "case_id" not in body
    malformed = await client.get(url, params={"query_code": "not-a-code"})
    assert malformed.status_code == 422 and malformed.json()["errors"][0]["field"] == "query_code"
    assert (await client.get(url)).status_code == 422  # no code at all
    wrong = "0" * 12 if good != "0" * 12 else "1" * 12
    assert (await client.get("/public/cases/YN-19990101-00001/deadline", params={"query_code": good})).status_code == 404
    for _ in range(4):
        assert (await client.get(url, params={"query_code": wrong})).status_code == 404
    limited = await client.get(url, params={"query_code": good})  # 5 failures from this client: even the right code
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    assert (await client.get(f"/public/cases/{NUMBER}/reply.pdf", params={"query_code": good})).status_code == 429


async def test_reply_pdf_is_refused_before_the_reply_and_with_a_wrong_code(api):
    client, st = api
    url = f"/public/cases/{NUMBER}/reply.pdf"
    good = query_code(SECRET, "c1")
    r = await client.get(url, params={"query_code": good})
    assert r.status_code == 404 and "尚未作出答复" in r.json()["detail"]
    assert (await client.get(url, params={"query_code": "Z" * 12})).status_code in (404,)
    assert (await client.get(url, params={"query_code": "!!"})).status_code == 422
    # Once the reply is issued and rendered, the right code downloads its bytes.
    await st.documents.insert_one({"_id": "doc-1", "case_id": "c1", "pdf": b"%PDF-1.7 reply", "html": "<p>r</p>"})
    await st.cases.update_one({"_id": "c1"}, {"$set": {"reply_issued": True, "reply": {"document_id": "doc-1"}}})
    r = await client.get(url, params={"query_code": good})
    assert r.status_code == 200 and r.content == b"%PDF-1.7 reply" and r.headers["content-type"] == "application/pdf"
    assert r.headers["content-disposition"].startswith("attachment")


PDF = b"%PDF-1.4\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"


async def test_released_material_by_query_code(api):
    """The material named by the signed-off answer the issued reply carries: listed (name, type,
    size, SHA-256) and downloadable with the query code; nothing before the reply, nothing unnamed."""
    import hashlib

    from tests.tokens import bearer

    client, st = api
    officer = bearer("dept_officer", department="czt", sub="czt-officer-1", name="财政厅经办人1")
    reviewer = bearer("dept_reviewer", department="czt", sub="czt-reviewer-1", name="财政厅审查员1")
    good = query_code(SECRET, "c1")
    listing = f"/public/cases/{NUMBER}/materials"
    r = await client.get(listing, params={"query_code": good})
    assert r.status_code == 200 and r.json() == {"tracking_number": NUMBER, "materials": []}
    assert r.headers["cache-control"] == "no-store"
    up = await client.post("/tasks/t-czt/material", headers=officer,
                           files={"file": ("预算 执行情况.pdf", PDF, "application/octet-stream")})
    assert up.status_code == 201, up.text
    m = up.json()
    other = (await client.post("/tasks/t-czt/material", headers=officer,
                               files={"file": ("未引用.pdf", PDF + b" ", "application/pdf")})).json()
    one = f"{listing}/{m['material_id']}"
    assert (await client.get(one, params={"query_code": good})).status_code == 404  # not released yet
    body = {"reply_type": "disclosed", "text": "现予公开，见所附材料。", "material_refs": [m["ref"]]}
    assert (await client.post("/tasks/t-czt/answer", json=body, headers=officer)).status_code == 201
    assert (await client.get(listing, params={"query_code": good})).json()["materials"] == []  # draft only
    assert (await client.post("/tasks/t-czt/review", headers=reviewer)).status_code == 200
    assert (await st.get("c1"))["reply_issued"] is True
    r = await client.get(listing, params={"query_code": good})
    assert r.status_code == 200
    assert r.json()["materials"] == [{"material_id": m["material_id"], "filename": "预算 执行情况.pdf",
                                      "content_type": "application/pdf", "size": len(PDF),
                                      "sha256": hashlib.sha256(PDF).hexdigest()}]
    got = await client.get(one, params={"query_code": good})
    assert got.status_code == 200 and got.content == PDF and got.headers["content-type"] == "application/pdf"
    assert got.headers["cache-control"] == "no-store" and got.headers["x-content-sha256"] == hashlib.sha256(PDF).hexdigest()
    assert got.headers["content-disposition"].startswith('attachment; filename="') and "filename*=UTF-8''" in got.headers["content-disposition"]
    # Not named by the answer: never the applicant's; an unknown id; a malformed one.
    r = await client.get(f"{listing}/{other['material_id']}", params={"query_code": good})
    assert r.status_code == 404 and "未随答复提供" in r.json()["detail"]
    assert (await client.get(f"{listing}/{'f' * 32}", params={"query_code": good})).status_code == 404
    assert (await client.get(f"{listing}/a.b", params={"query_code": good})).status_code == 422
    # The query code gate as for the deadline: malformed 422, wrong 404, no code 422.
    wrong = "0" * 12 if good != "0" * 12 else "1" * 12
    assert (await client.get(one, params={"query_code": wrong})).status_code == 404
    assert (await client.get(listing, params={"query_code": wrong})).status_code == 404
    assert (await client.get(one)).status_code == 422
    assert (await client.get(listing, params={"query_code": "!!"})).status_code == 422
