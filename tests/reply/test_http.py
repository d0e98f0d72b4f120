"""The reply service's HTTP API on the real store (no broker: the app is driven without its
lifespan, so nothing is consumed or published; the outbox is inspected instead)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import date

import httpx
import pytest
import pytest_asyncio

from contracts.events import CaseRouted, RoutedTask
from tests.service_apps import db_name, reply_app
from tests.tokens import bearer

DEPT_NAMES = {"zrzy": "自然资源厅", "czt": "财政厅"}


def hdr(dept: str, n: int = 1) -> dict[str, str]:
    """A department officer's token (the one who writes answers)."""
    return bearer("dept_officer", department=dept, sub=f"{dept}-officer-{n}", name=f"{DEPT_NAMES[dept]}经办人{n}")


def reviewer(dept: str, n: int = 1) -> dict[str, str]:
    return bearer("dept_reviewer", department=dept, sub=f"{dept}-reviewer-{n}", name=f"{DEPT_NAMES[dept]}审查员{n}")


OGI = bearer("ogi_officer", sub="ogi-wang", name="公开办王经办")


@pytest_asyncio.fixture
async def api(store, request: pytest.FixtureRequest, monkeypatch) -> AsyncIterator:
    async with reply_app(store.url, db_name("h_", request), monkeypatch) as app:
        st = app.state.store
        routed = CaseRouted(case_id="c1", tracking_number="YN-1", agency_code="ag", agency_name="云南省人民政府办公厅",
                            received_on=date(2026, 11, 23), directory_version="v1",
                            tasks=[RoutedTask(task_id="t-zrzy", dept_code="zrzy", dept_name="云南省自然资源厅", rule="r"),
                                   RoutedTask(task_id="t-czt", dept_code="czt", dept_name="云南省财政厅", rule="r")])
        await st.open_case(routed)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://reply") as client:
            yield client, st


BODY = {"reply_type": "disclosed", "text": "现予公开。", "material_refs": ["a.pdf"]}


async def test_tokens_guard_the_task_list_and_answers(api):
    client, _ = api
    assert (await client.get("/departments/zrzy/tasks")).status_code == 401
    assert (await client.get("/departments/zrzy/tasks", headers=hdr("czt"))).status_code == 403
    r = await client.get("/departments/zrzy/tasks", headers=hdr("zrzy"))
    assert r.status_code == 200 and [t["task_id"] for t in r.json()["tasks"]] == ["t-zrzy"]
    r = await client.post("/tasks/t-zrzy/answer", json=BODY, headers=hdr("czt"))
    assert r.status_code == 403  # the task is zrzy's: czt's token does not make it zrzy
    r = await client.post("/tasks/t-zrzy/answer", json=BODY | {"dept_code": "czt"}, headers=hdr("czt"))
    assert r.status_code == 403 and "zrzy" in r.json()["detail"]
    r = await client.post("/tasks/t-zrzy/answer", json=BODY | {"dept_code": "zrzy"}, headers=hdr("czt"))
    assert r.status_code == 403  # nor does a body naming zrzy
    assert (await client.post("/tasks/nope/answer", json=BODY, headers=hdr("zrzy"))).status_code == 404


async def test_draft_then_review_then_reply_documents(api):
    client, st = api
    r = await client.post("/tasks/t-zrzy/answer", json=BODY | {"dept_code": "zrzy"}, headers=hdr("zrzy"))
    assert r.status_code == 201 and r.json()["draft"] is True
    r = await client.post("/tasks/t-czt/answer", headers=hdr("czt"), json={
        "reply_type": "partially_disclosed", "text": "部分公开。", "material_refs": ["预算.pdf"],
        "withheld": [{"description": "供应商报价", "reason_code": "withheld.third_party", "explanation": "商业秘密"}]})
    assert r.status_code == 201 and r.json()["draft"] is True
    r = await client.post("/tasks/t-czt/review", headers=reviewer("czt"))  # no body at all
    assert r.status_code == 200 and r.json()["status"] == "signed_off"
    assert (await client.get("/cases/c1/reply", headers=OGI)).json()["issued"] is False  # zrzy is only a draft
    assert (await client.get("/cases/c1/reply.pdf", headers=OGI)).status_code == 404
    r = await client.post("/tasks/t-zrzy/review", json={"dept_code": "zrzy"}, headers=reviewer("zrzy"))
    assert r.status_code == 200 and r.json()["status"] == "signed_off"
    state = (await client.get("/cases/c1/reply", headers=OGI)).json()
    assert state["issued"] and state["reply"]["outcome"] == "partial" and state["signed_off"] == 2
    pdf = await client.get("/cases/c1/reply.pdf", headers=OGI)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf" and pdf.content[:5] == b"%PDF-"
    assert pdf.headers["content-disposition"].startswith('inline; filename="')
    html = await client.get("/cases/c1/reply.html", headers=OGI)
    assert "供应商报价" in html.text and "云南省自然资源厅" in html.text
    # Who wrote and who reviewed, from the tokens, in the events.
    doc = await st.cases.find_one({"_id": "c1"})
    recorded = [json.loads(x["value"])["data"] for x in doc["outbox"]
                if json.loads(x["value"])["type"] == "cn.gongkai.answer.recorded.v1"]
    signed = [d for d in recorded if not d["draft"]]
    assert {(d["task_id"], d["answered_by_subject"], d["review"]["reviewer_subject"], d["review"]["reviewer"])
            for d in signed} == {("t-czt", "czt-officer-1", "czt-reviewer-1", "财政厅审查员1"),
                                 ("t-zrzy", "zrzy-officer-1", "zrzy-reviewer-1", "自然资源厅审查员1")}
    # The duplicate answer: 200 and nothing new in the outbox.
    before = doc["outbox_len"]
    r = await client.post("/tasks/t-zrzy/answer", json=BODY, headers=hdr("zrzy"))
    assert r.status_code == 200 and r.json()["status"] == "already_recorded" and r.json()["draft"] is False
    assert (await st.cases.find_one({"_id": "c1"}))["outbox_len"] == before


async def test_invalid_answer_is_422_in_chinese(api):
    client, st = api
    r = await client.post("/tasks/t-zrzy/answer", headers=hdr("zrzy"), json=BODY | {"reply_type": "not_disclosed"})
    assert r.status_code == 422 and "outcome_code" in r.json()["detail"]
    doc = await st.cases.find_one({"_id": "c1"})
    assert [json.loads(x["value"])["type"] for x in doc["outbox"]][-1] == "cn.gongkai.answer.refused.v1"


async def test_an_answer_cannot_carry_its_own_review(api):
    client, st = api
    r = await client.post("/tasks/t-zrzy/answer", headers=hdr("zrzy"), json=BODY | {"review": {"reviewer": "本人"}})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "review"
    assert (await st.cases.find_one({"_id": "c1"}))["answers"] == []


async def test_close_needs_an_ogi_officer(api):
    client, _ = api
    assert (await client.post("/cases/c1/close", json={"reason": "超期"})).status_code == 401
    assert (await client.post("/cases/c1/close", json={"reason": "超期"}, headers={"X-User": "ogi"})).status_code == 401
    assert (await client.post("/cases/c1/close", json={"reason": "超期"}, headers=hdr("zrzy"))).status_code == 403
    r = await client.post("/cases/c1/close", json={"reason": "超期"}, headers=OGI)
    assert r.status_code == 409  # nothing signed off yet
    await client.post("/tasks/t-zrzy/answer", json=BODY, headers=hdr("zrzy"))
    await client.post("/tasks/t-zrzy/review", headers=reviewer("zrzy"))
    r = await client.post("/cases/c1/close", json={"reason": "超期"}, headers=OGI)
    assert r.status_code == 200 and [m["dept_code"] for m in r.json()["missing"]] == ["czt"]
    state = (await client.get("/cases/c1/reply", headers=OGI)).json()
    assert state["issued"] and state["reply"]["missing"][0]["dept_code"] == "czt"
    assert state["closed"]["by"] == "公开办王经办" and state["closed"]["by_subject"] == "ogi-wang"
    assert (await client.post("/cases/nope/close", json={"reason": "超期"}, headers=OGI)).status_code == 404
