"""After the reply, on the real store (no broker: the outbox is inspected): the applicant's read
and rating by query code, the OGI office's case feedback, follow-ups and queue; refusals."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import date, timedelta

import httpx
import pytest
import pytest_asyncio

from contracts.events import CaseRouted, RoutedTask
from services.reply.feedback import sha256
from servicekit.querycode import query_code
from tests.service_apps import db_name, reply_app
from tests.tokens import bearer

SECRET = "feedback-test-secret"
NUMBER = "YN-20261123-00007"
OGI = bearer("ogi_officer", sub="ogi-li", name="公开办李经办")
HEAD = bearer("ogi_head", sub="ogi-head", name="公开办主任")
DEPT = bearer("dept_officer", department="czt", sub="czt-officer-1", name="财政厅经办人")
REVIEWER = bearer("dept_reviewer", department="czt", sub="czt-reviewer-1", name="财政厅审查员")
AUDITOR = bearer("auditor", sub="aud-1", name="审计员")
CODE = query_code(SECRET, "c1")


@pytest_asyncio.fixture
async def api(store, request: pytest.FixtureRequest, monkeypatch) -> AsyncIterator:
    async with reply_app(store.url, db_name("fb_", request), monkeypatch, env={"REPLY_QUERY_CODE_SECRET": SECRET},
                         render_documents=False) as app:
        for fn in app.state.runtime._setup:
            await fn()
        st = app.state.store
        await st.open_case(CaseRouted(
            case_id="c1", tracking_number=NUMBER, agency_code="ag", agency_name="云南省人民政府办公厅",
            received_on=date(2026, 11, 23), directory_version="v1",
            tasks=[RoutedTask(task_id="t-czt", dept_code="czt", dept_name="云南省财政厅", rule="r")]))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://reply") as client:
            yield client, app


async def release(client: httpx.AsyncClient) -> None:
    r = await client.post("/tasks/t-czt/answer", headers=DEPT, json={"reply_type": "disclosed", "text": "现予公开。"})
    assert r.status_code == 201, r.text
    assert (await client.post("/tasks/t-czt/review", headers=REVIEWER)).status_code == 200


async def feedback_events(app) -> list[dict]:
    doc = await app.state.feedback.docs.find_one({"_id": "c1"})
    return [json.loads(x["value"]) for x in (doc or {}).get("outbox") or []]


async def test_before_the_reply_nothing_can_be_read_or_rated(api):
    client, _ = api
    r = await client.post(f"/public/cases/{NUMBER}/read", params={"query_code": CODE})
    assert r.status_code == 409 and "尚未作出答复" in r.json()["detail"]
    r = await client.put(f"/public/cases/{NUMBER}/rating", params={"query_code": CODE}, json={"rating": "satisfied"})
    assert r.status_code == 409
    r = await client.post("/cases/c1/follow-ups", headers=OGI, json={
        "contacted_at": "2026-11-30T10:00:00+08:00", "means": "phone", "result": "need_met", "note": "已告知"})
    assert r.status_code == 409


async def test_read_rate_change_and_the_ledgered_events(api):
    client, app = api
    await release(client)
    url = f"/public/cases/{NUMBER}"
    r = await client.post(f"{url}/read", params={"query_code": CODE})
    assert r.status_code == 200 and r.json()["read"] is True and r.json()["rating"] is None
    assert "case_id" not in r.json() and "reads" not in r.json()
    assert (await client.post(f"{url}/read", params={"query_code": CODE})).status_code == 200  # again: no new event
    pdf = await client.get(f"{url}/reply.pdf", params={"query_code": CODE})
    assert pdf.status_code == 404  # documents not rendered in this test: no read recorded for the PDF
    case = await app.state.store.get("c1")
    await app.state.store.documents.insert_one({"_id": case["reply"]["document_id"], "case_id": "c1",
                                                "pdf": b"%PDF-1.7 reply", "html": "<p>r</p>"})
    pdf = await client.get(f"{url}/reply.pdf", params={"query_code": CODE})
    assert pdf.status_code == 200 and pdf.content == b"%PDF-1.7 reply"
    assert (await client.get(f"{url}/reply.pdf", params={"query_code": CODE})).status_code == 200  # once only
    r = await client.put(f"{url}/rating", params={"query_code": CODE},
                         json={"rating": "dissatisfied", "reason": "incomplete", "comment": "缺少附表"})
    assert r.status_code == 201 and r.json()["action"] == "new" and r.json()["rating"]["revision"] == 1
    until = r.json()["rating_changeable_until"]
    assert date.fromisoformat(until) > date.today()
    r = await client.put(f"{url}/rating", params={"query_code": CODE},
                         json={"rating": "dissatisfied", "reason": "incomplete", "comment": "缺少附表"})
    assert r.status_code == 200 and r.json()["action"] == "same"
    r = await client.put(f"{url}/rating", params={"query_code": CODE}, json={"rating": "basically_satisfied"})
    assert r.status_code == 200 and r.json()["action"] == "change" and r.json()["rating"]["revision"] == 2
    events = await feedback_events(app)
    assert [e["type"] for e in events] == ["cn.gongkai.reply.read.v1", "cn.gongkai.reply.read.v1",
                                          "cn.gongkai.reply.rated.v1", "cn.gongkai.reply.rated.v1"]
    assert [e["data"]["via"] for e in events[:2]] == ["status_page", "pdf"]
    first = events[2]["data"]
    assert first["comment_sha256"] == sha256("缺少附表") and "缺少附表" not in json.dumps(events, ensure_ascii=False)
    assert set(first) == {"case_id", "rating", "reason", "revision", "comment_sha256", "rated_at"}  # no identity
    assert {x["topic"] for x in (await app.state.feedback.docs.find_one({"_id": "c1"}))["outbox"]} == {
        "gongkai.replies.issued"}
    # After the period: refused. (The store's clock moved on by 20 calendar days.)
    app.state.feedback.today = lambda: date.today() + timedelta(days=30)
    r = await client.put(f"{url}/rating", params={"query_code": CODE}, json={"rating": "satisfied"})
    assert r.status_code == 409 and "截止修改" in r.json()["detail"]


async def test_public_routes_need_the_right_code_and_valid_input(api):
    client, _ = api
    await release(client)
    url = f"/public/cases/{NUMBER}"
    assert (await client.post(f"{url}/read", params={"query_code": "0" * 12 if CODE != "0" * 12 else "1" * 12})
            ).status_code == 404
    assert (await client.post(f"{url}/read")).status_code == 422
    r = await client.put(f"{url}/rating", params={"query_code": CODE}, json={"rating": "很好"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "rating"
    r = await client.put(f"{url}/rating", params={"query_code": CODE}, json={"rating": "satisfied", "name": "张三"})
    assert r.status_code == 422  # nothing but the rating, its reason and comment


async def test_ogi_feedback_follow_ups_and_queue(api):
    client, app = api
    await release(client)
    assert (await client.get("/cases/c1/feedback")).status_code == 401
    assert (await client.get("/cases/c1/feedback", headers=DEPT)).status_code == 403
    assert (await client.get("/follow-ups", headers=AUDITOR)).status_code == 403
    assert (await client.get("/follow-ups", headers=OGI)).json()["cases"] == []  # released today
    app.state.feedback.today = lambda: date.today() + timedelta(days=14)  # at least 5 working days later
    queue = (await client.get("/follow-ups", headers=HEAD)).json()
    assert [(c["tracking_number"], c["reasons"]) for c in queue["cases"]] == [(NUMBER, ["unread"])]
    assert queue["cases"][0]["workdays_since_release"] >= 5 and queue["unread_workdays"] == 5
    body = {"contacted_at": "2026-12-01T10:30:00+08:00", "means": "phone", "result": "need_met",
            "note": "申请人表示已收到答复书，需求已满足"}
    assert (await client.post("/cases/c1/follow-ups", headers=HEAD, json=body)).status_code == 403  # ogi_officer only
    r = await client.post("/cases/c1/follow-ups", headers=OGI, json=body)
    assert r.status_code == 201 and r.json()["by"] == "公开办李经办" and "by_subject" not in r.json()
    assert (await client.get("/follow-ups", headers=OGI)).json()["cases"] == []
    fb = (await client.get("/cases/c1/feedback", headers=AUDITOR)).json()
    assert fb["read"] is False and fb["followups"][0]["note"] == body["note"] and fb["followup_due"] == []
    event = (await feedback_events(app))[-1]
    assert event["type"] == "cn.gongkai.followup.recorded.v1"
    assert event["data"]["note_sha256"] == sha256(body["note"]) and event["data"]["recorded_by_subject"] == "ogi-li"
    assert event["data"]["contacted_at"].startswith("2026-12-01T02:30:00")
    r = await client.post("/cases/c1/follow-ups", headers=OGI, json={**body, "means": "pigeon"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "means"
    r = await client.post("/cases/c1/follow-ups", headers=OGI, json={**body, "contacted_at": "2099-01-01T00:00:00+08:00"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "contacted_at"
    assert (await client.post("/cases/nope/follow-ups", headers=OGI, json=body)).status_code == 404
