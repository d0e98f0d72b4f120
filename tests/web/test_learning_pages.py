"""The learning page (services/web/learning.py) and the triage queue's ranked suggestions, in process
with a fake of the APIs (tests/web/test_ogi_pages.py's pattern): a directory admin sees each proposal
with its support and conflicts and accepts or rejects it with his token; routing's refusal is shown
with its status; only directory admins are let in; the queue ranks suggestions by evidence and the
first is one click."""

from __future__ import annotations

import re

import pytest

from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from services.web import auth, learning, ogi
from tests.web.test_ogi_pages import CASE, CSRF, OFFICER, FakeBackends, assert_every_post_form_has_csrf, client_for
from tests.web.test_ogi_pages import fake as fake  # noqa: F401, PLC0414 - the fixture
from tests.web.test_ogi_pages import forms, officer

PID = "0123456789abcdef"
PROPOSALS = {"directory_version": "4", "examples": 7, "proposals": [{
    "proposal_id": PID, "phrase": "购买服务", "dept_code": "czt", "dept_name": "云南省财政厅",
    "support": ["c1", "c2", "c3"], "support_count": 3, "conflicts": [{"case_id": "c9", "decided": "not-ogi"}],
    "harmless_conflicts": 1, "precision": 1.0,
    "evidence": [{"case_id": "c1", "excerpt": "…某县政府购买服务项目的承接…"}]}],
    "decided": [{"proposal_id": "fedcba9876543210", "phrase": "殡仪馆", "dept_code": "mzt", "dept_name": "云南省民政厅",
                 "status": "accepted", "decided_by": {"name": "张三"}, "decided_at": "2026-12-01T10:00:00",
                 "note": "一致", "directory_version": "4"}]}
ADMIN = officer("directory_admin", token="tok-admin")


def admin_client(fake: FakeBackends, who=ADMIN) -> TestClient:  # noqa: ANN001, F811
    app = FastAPI()
    app.state.backends = fake

    @app.middleware("http")
    async def session(request: Request, call_next):  # noqa: ANN001, ANN202
        request.state.csrf_token = CSRF
        request.state.officer = who
        return await call_next(request)

    app.include_router(learning.router)

    async def check_csrf(request: Request) -> None:
        if (await request.form()).get("csrf_token") != CSRF:
            raise auth.CsrfRefused()

    app.dependency_overrides[learning.admins] = lambda: who
    app.dependency_overrides[auth.verify_csrf] = check_csrf
    return TestClient(app, follow_redirects=False)


def test_the_page_shows_each_proposal_with_support_and_conflicts(fake: FakeBackends) -> None:  # noqa: F811
    fake.on("GET", "routing", "/learning/proposals", 200, PROPOSALS)
    page = admin_client(fake).get("/work/learning")
    assert page.status_code == 200
    html = page.text
    assert "“购买服务” → 云南省财政厅" in html and "支持：<strong>3</strong>" in html
    assert "冲突：<strong>1</strong>" in html and "不属于政府信息公开申请" in html
    assert "殡仪馆" in html and "已采纳" in html and "张三" in html
    assert 'id="example-count">7<' in html
    assert "…某县政府购买服务项目的承接…" in html  # the phrase in its context
    assert_every_post_form_has_csrf(html)
    assert [c["token"] for c in fake.calls] == ["tok-admin"]


def test_accepting_posts_to_routing_with_the_admins_token(fake: FakeBackends) -> None:  # noqa: F811
    fake.on("GET", "routing", "/learning/proposals", 200, PROPOSALS)
    fake.on("POST", "routing", f"/learning/proposals/{PID}/acceptance", 200, {"version": "5", "proposal": {}})
    c = admin_client(fake)
    form = next(f for f in forms(c.get("/work/learning").text) if "acceptance" in f)
    assert "采纳：购买服务 → 云南省财政厅" in form
    r = c.post(f"/work/learning/{PID}/acceptance", data={"csrf_token": CSRF, "note": "一致"})
    assert r.status_code == 303 and r.headers["location"] == "/work/learning?done=accepted&version=5"
    (call,) = fake.posts()
    assert call["token"] == "tok-admin" and call["json"] == {"note": "一致"}
    r = c.post(f"/work/learning/{PID}/rejection", data={"csrf_token": CSRF})
    assert fake.posts()[1]["path"] == f"/learning/proposals/{PID}/rejection"


def test_routings_refusal_is_shown_with_its_status_and_a_bad_id_is_404(fake: FakeBackends) -> None:  # noqa: F811
    fake.on("GET", "routing", "/learning/proposals", 200, PROPOSALS)
    fake.on("POST", "routing", f"/learning/proposals/{PID}/acceptance", 409, {"detail": "该建议已被处理"})
    c = admin_client(fake)
    r = c.post(f"/work/learning/{PID}/acceptance", data={"csrf_token": CSRF})
    assert r.status_code == 409 and "该建议已被处理" in r.text and 'role="alert"' in r.text
    assert c.post("/work/learning/..%2Fx/acceptance", data={"csrf_token": CSRF}).status_code == 404
    assert c.post(f"/work/learning/{PID}/acceptance", data={}).status_code == 403  # no CSRF token
    assert len(fake.posts()) == 1


async def test_only_directory_admins_are_let_in() -> None:
    # The page's dependency is the role guard of services/web/auth.py: directory_admin only.
    class Req:
        class state:  # noqa: N801
            officer = None

        url = type("U", (), {"path": "/work/learning", "query": ""})()

    for who in (OFFICER, officer("ogi_head"), officer("auditor")):
        who.roles = who.principal.roles  # what the guard logs
        Req.state.officer = who
        with pytest.raises(auth.Forbidden):
            await learning.admins(Req())
    Req.state.officer = ADMIN
    assert await learning.admins(Req()) is ADMIN
    place = next(p for p in auth.PLACES if p.href == "/work/learning")
    assert {r.value for r in place.roles} == {"directory_admin"}


def test_the_queue_ranks_suggestions_by_evidence_and_the_first_is_one_click(fake: FakeBackends) -> None:  # noqa: F811
    triage = {"cases": [{
        "case_id": CASE, "tracking_number": "GK-2026-000001", "directory_version": "3", "description": "请公开某县采购",
        "routed_at": "2026-12-01T09:00:00", "tasks": [{"task_id": "t-ogi", "dept_code": "ogi", "dept_name": "公开办",
                                                        "rule": "triage:ambiguous:x", "confidence": 1.0}],
        "withdrawn_tasks": [], "changes": [], "referrals": [],
        "triage": {"open": True, "triage": True, "reasons": ["triage:ambiguous:x"], "suggestions": [
            {"dept_code": "zjj", "dept_name": "住建局", "rule": "weak-keyword:住房", "confidence": 0.5},
            {"dept_code": "zrzy", "dept_name": "自然资源局", "rule": "keyword:征地;catalogue:征地批复文件",
             "confidence": 0.96},
            {"dept_code": "zjj", "dept_name": "住建局", "rule": "phrasing:配租", "confidence": 0.9}]},
    }]}
    fake.on("GET", "routing", "/triage", 200, triage)
    html = client_for(fake, OFFICER).get("/work/ogi").text
    rows = re.findall(r"<tr(?: class=\"top\")?><td>(.*?)</td>", html, flags=re.S)
    assert "自然资源局" in rows[0] and "首选" in rows[0] and "住建局" in rows[1] and len(rows) == 2
    assert "关键词“征地”；公开目录“征地批复文件”" in html and "常用表述“配租”" in html
    first = next(f for f in forms(html) if "采纳建议：自然资源局" in f)
    assert 'name="add" value="zrzy"' in first and 'name="remove" value="ogi"' in first
    assert ogi.ranked_suggestions(triage["cases"][0]["triage"])[1]["rule"] == "phrasing:配租"
