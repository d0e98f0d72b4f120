"""The OGI office's pages (services/web/ogi.py) in-process: a fake of the other services' APIs, the
signed-in officer given by overriding the auth dependencies. Who sees which form, what each form
sends to which API with the officer's token, the API's refusal shown with its status, CSRF fields."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from services.web import auth, ogi
from servicekit.oidc import Principal

CSRF = "csrf-token-of-the-session"
CASE = "case-1"


@dataclass
class FakeOfficer:
    principal: Principal
    access_token: str

    def has(self, *roles: str) -> bool:
        return self.principal.has(*roles)


def officer(*roles: str, token: str = "tok-officer") -> FakeOfficer:
    return FakeOfficer(Principal(subject=f"u-{token}", username=token, name="公开办" + token, roles=frozenset(roles)),
                       token)


@dataclass
class FakeBackends:
    """Answers by (method, service, path); records every call (service, method, path, token, json, params)."""

    answers: dict[tuple[str, str, str], tuple[int, Any]] = field(default_factory=dict)
    calls: list[dict[str, Any]] = field(default_factory=list)

    def on(self, method: str, service: str, path: str, status: int, body: Any = None,  # noqa: ANN401
           content_type: str | None = None) -> None:
        self.answers[(method, service, path)] = (status, body, content_type)

    async def request(self, method: str, service: str, path: str, *, token: str | None = None, **kw: Any) -> httpx.Response:  # noqa: ANN401
        self.calls.append({"method": method, "service": service, "path": path, "token": token, "json": kw.get("json"),
                           "params": kw.get("params"), "headers": kw.get("headers")})
        status, body, ctype = self.answers.get((method, service, path), (404, {"detail": "未找到"}, None))
        if isinstance(body, bytes | str):
            return httpx.Response(status, content=body if isinstance(body, bytes) else body.encode(),
                                  headers={"content-type": ctype or "text/html; charset=utf-8",
                                           "content-disposition": 'attachment; filename="x"'})
        return httpx.Response(status, json=body)

    def posts(self) -> list[dict[str, Any]]:
        return [c for c in self.calls if c["method"] == "POST"]


TRIAGE = {"cases": [{
    "case_id": CASE, "tracking_number": "GK-2026-000001", "directory_version": "3", "description": "请公开某小区规划许可",
    "routed_at": "2026-12-01T09:00:00", "tasks": [{"task_id": "t-ogi", "dept_code": "ogi", "dept_name": "公开办",
                                                    "rule": "triage:unsure", "confidence": 0.3}],
    "withdrawn_tasks": [], "changes": [], "referrals": [],
    "triage": {"open": True, "triage": True, "reasons": ["规则命中不足"],
               "suggestions": [{"dept_code": "zrzy", "dept_name": "自然资源局", "rule": "keyword:规划许可", "confidence": 0.55}]},
}]}
DIRECTORY = {"version": "3", "departments": [{"code": "ogi", "name": "公开办"}, {"code": "zrzy", "name": "自然资源局"},
                                             {"code": "zjj", "name": "住建局"}],
             "agencies": [{"code": "other", "name": "某区人民政府"}]}
FIVE = {"case_id": CASE, "answers": [], "next": {"step": "answer", "question": "correction", "outcome_codes": [],
                                                 "referral_agency": None, "text_zh": "请回答“补不补”"}}
EXPL = {"status": "running", "due_on": "2026-12-29", "provisional": False, "pauses": [], "correction": None,
        "extension": None, "text_zh": "收到申请之日：2026年12月1日。\n状态：答复期限计算中。\n答复期限届满日：2026年12月29日。"}


@pytest.fixture
def fake() -> FakeBackends:
    f = FakeBackends()
    f.on("GET", "routing", "/triage", 200, TRIAGE)
    f.on("GET", "routing", "/directory", 200, DIRECTORY)
    f.on("GET", "reply", f"/cases/{CASE}/triage", 200, FIVE)
    f.on("GET", "routing", f"/cases/{CASE}/routing", 200, {k: v for k, v in TRIAGE["cases"][0].items()
                                                          if k not in ("description", "routed_at")})
    f.on("GET", "reply", f"/cases/{CASE}/deadline", 200, {"case_id": CASE, "tracking_number": "GK-2026-000001",
                                                         "as_of": "2026-12-02", "workdays_left": 19, "explanation": EXPL})
    f.on("GET", "reply", f"/cases/{CASE}/reply", 200, {"case_id": CASE, "issued": False, "answered": 0, "expected": 1,
                                                      "signed_off": 0, "contradictions": [], "closed": None,
                                                      "amendments": []})
    f.on("GET", "audit", f"/cases/{CASE}/timeline", 200, {"case_id": CASE, "events": [
        {"seq": 7, "type": "cn.gongkai.application.received.v1", "source": "/gongkai/intake", "time": "2026-12-01T08:00:00+00:00"},
        {"seq": 9, "type": "cn.gongkai.case.routed.v1", "source": "/gongkai/routing", "time": "2026-12-01T08:00:01+00:00"}]})
    f.on("GET", "notify", f"/cases/{CASE}/notices", 200, {"notices": [{"subject": "您的申请已登记", "status": "sent"}]})
    f.on("GET", "intake", f"/applications/{CASE}/screening", 200, {"case_id": CASE})
    return f


def client_for(fake: FakeBackends, who: FakeOfficer | None, router: Any = ogi.router) -> TestClient:  # noqa: ANN401
    app = FastAPI()
    app.state.backends = fake

    @app.middleware("http")
    async def session(request: Request, call_next):  # noqa: ANN001, ANN202 - as auth's middleware sets it
        request.state.csrf_token = CSRF
        request.state.officer = who
        return await call_next(request)

    app.include_router(router)

    async def check_csrf(request: Request) -> None:
        form = await request.form()
        if form.get("csrf_token") != CSRF:
            raise auth.CsrfRefused()

    if who is not None:
        app.dependency_overrides[ogi.ogi_staff] = lambda: who
        app.dependency_overrides[ogi.stats_readers] = lambda: who
    app.dependency_overrides[auth.verify_csrf] = check_csrf
    return TestClient(app, follow_redirects=False)


def forms(page: str) -> list[str]:
    return re.findall(r"<form\b.*?</form>", page, flags=re.S)


def assert_every_post_form_has_csrf(page: str) -> None:
    posts = [f for f in forms(page) if 'method="post"' in f]
    assert posts, "no POST form on the page"
    for f in posts:
        assert f'name="csrf_token" value="{CSRF}"' in f, f[:200]


HEAD = officer("ogi_head", token="tok-head")
OFFICER = officer("ogi_officer", token="tok-officer")


def test_queue_shows_suggestions_with_evidence_and_every_form_has_csrf(fake: FakeBackends) -> None:
    page = client_for(fake, OFFICER).get("/work/ogi")
    assert page.status_code == 200
    html = page.text
    assert "GK-2026-000001" in html and "请公开某小区规划许可" in html
    assert "自然资源局" in html and "keyword:规划许可" in html and "55%" in html  # the evidence
    assert "规则命中不足" in html
    assert "补不补" in html and "当不当" in html and "请回答“补不补”" in html
    assert_every_post_form_has_csrf(html)
    assert re.search(r'name="remove" value="ogi" checked', html)  # the triage task, removed by default
    # The queue is read with the officer's token.
    assert {c["token"] for c in fake.calls if c["service"] != "routing" or c["path"] != "/directory"} == {"tok-officer"}


def test_accepting_a_suggestion_adds_that_department_with_the_officers_token(fake: FakeBackends) -> None:
    fake.on("POST", "routing", f"/cases/{CASE}/departments", 200, {"added": []})
    c = client_for(fake, OFFICER)
    accept = next(f for f in forms(c.get("/work/ogi").text) if "采纳建议：自然资源局" in f)
    data: dict[str, list[str]] = {}
    for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', accept):
        data.setdefault(name, []).append(value)
    r = c.post(f"/work/ogi/cases/{CASE}/departments", data=data)
    assert r.status_code == 303 and r.headers["location"].startswith("/work/ogi?done=departments")
    (call,) = fake.posts()
    assert call["token"] == "tok-officer"
    # The OGI office's triage task goes when a department is given (the case leaves the queue).
    assert call["json"] == {"add": ["zrzy"], "remove": ["ogi"], "reason": "采纳系统建议（keyword:规划许可）"}


def test_picking_departments_sends_all_checked_and_the_refusal_is_shown_with_its_status(fake: FakeBackends) -> None:
    fake.on("POST", "routing", f"/cases/{CASE}/departments", 422, {
        "detail": "提交的内容有误", "errors": [{"field": "add", "message": "目录中没有这些部门：xx", "type": "value_error"}]})
    r = client_for(fake, OFFICER).post(f"/work/ogi/cases/{CASE}/departments", data={
        "csrf_token": CSRF, "back": "queue", "add": ["zrzy", "zjj"], "remove": "ogi", "reason": "两个部门"})
    assert r.status_code == 422
    assert "目录中没有这些部门：xx" in r.text and 'role="alert"' in r.text
    assert fake.posts()[0]["json"] == {"add": ["zrzy", "zjj"], "remove": ["ogi"], "reason": "两个部门"}


def test_a_post_without_the_csrf_token_is_refused_and_nothing_is_sent(fake: FakeBackends) -> None:
    r = client_for(fake, OFFICER).post(f"/work/ogi/cases/{CASE}/departments", data={"add": "zrzy", "reason": "xx"})
    assert r.status_code == 403 and fake.posts() == []


def test_withdraw_and_refer_go_to_routing(fake: FakeBackends) -> None:
    fake.on("POST", "routing", f"/cases/{CASE}/tasks/t-ogi/withdrawal", 409, {"detail": "该案件至少须保留一项任务"})
    fake.on("POST", "routing", f"/cases/{CASE}/referral", 200, {"referral_id": "r1"})
    c = client_for(fake, OFFICER)
    r = c.post(f"/work/ogi/cases/{CASE}/tasks/t-ogi/withdrawal", data={"csrf_token": CSRF, "back": "case", "reason": "误派"})
    assert r.status_code == 409 and "该案件至少须保留一项任务" in r.text and "时间线" in r.text  # back on the case page
    r = c.post(f"/work/ogi/cases/{CASE}/referral", data={"csrf_token": CSRF, "back": "queue", "target_agency_code": "other",
                                                        "reason": "属于区政府"})
    assert r.status_code == 303
    assert fake.posts()[1]["json"] == {"reason": "属于区政府", "target_agency_code": "other"}


def test_five_questions_answer_is_split_into_question_and_answer(fake: FakeBackends) -> None:
    fake.on("POST", "reply", f"/cases/{CASE}/triage", 201, FIVE)
    r = client_for(fake, OFFICER).post(f"/work/ogi/cases/{CASE}/triage", data={
        "csrf_token": CSRF, "back": "queue", "answer": "scope:not_ogi", "outcome_codes": ["not_processed.petition"],
        "note": "信访事项"})
    assert r.status_code == 303
    assert fake.posts()[0]["json"] == {"question": "scope", "answer": "not_ogi", "outcome_codes": ["not_processed.petition"],
                                       "note": "信访事项"}


def test_case_page_shows_timeline_deadline_and_the_extension_form_only_to_the_head(fake: FakeBackends) -> None:
    head = client_for(fake, HEAD).get(f"/work/ogi/cases/{CASE}").text
    assert "收到申请" in head and "分办" in head and "2026-12-29" in head and "19" in head
    assert "逐日" in head and "答复期限计算中" in head
    assert f'action="/work/ogi/cases/{CASE}/extension"' in head and "批准延长" in head
    assert "您的申请已登记" in head  # notices
    assert_every_post_form_has_csrf(head)
    plain = client_for(fake, OFFICER).get(f"/work/ogi/cases/{CASE}").text
    assert f'action="/work/ogi/cases/{CASE}/extension"' not in plain
    assert "须经政府信息公开工作机构负责人同意" in plain
    assert_every_post_form_has_csrf(plain)


def test_an_officer_posting_an_extension_sees_the_apis_403_message(fake: FakeBackends) -> None:
    message = "无权执行此操作：须由公开办负责人办理"
    fake.on("POST", "reply", f"/cases/{CASE}/extension", 403, {"detail": message})
    r = client_for(fake, OFFICER).post(f"/work/ogi/cases/{CASE}/extension", data={"csrf_token": CSRF, "days": "10",
                                                                                  "reason": "需协调多个部门"})
    assert r.status_code == 403 and message in r.text
    assert fake.posts()[0]["json"] == {"days": 10, "reason": "需协调多个部门"} and fake.posts()[0]["token"] == "tok-officer"


def test_the_head_approves_an_extension(fake: FakeBackends) -> None:
    fake.on("POST", "reply", f"/cases/{CASE}/extension", 201, {"case_id": CASE})
    r = client_for(fake, HEAD).post(f"/work/ogi/cases/{CASE}/extension", data={"csrf_token": CSRF, "days": "15",
                                                                               "reason": "需协调多个部门"})
    assert r.status_code == 303 and r.headers["location"] == f"/work/ogi/cases/{CASE}?done=extension"
    assert fake.posts()[0]["token"] == "tok-head"


def test_correction_consultation_and_close_bodies(fake: FakeBackends) -> None:
    for path in ("correction", "consultations", "consultations/2/end", "close"):
        fake.on("POST", "reply", f"/cases/{CASE}/{path}", 201, {})
    c = client_for(fake, OFFICER)
    assert c.post(f"/work/ogi/cases/{CASE}/correction", data={"csrf_token": CSRF, "items": "请写明年份\n\n请提供身份证明 ",
                                                             "due_on": "2026-12-20"}).status_code == 303
    assert c.post(f"/work/ogi/cases/{CASE}/consultations", data={"csrf_token": CSRF, "party_kind": "third_party",
                                                                "party": "某建筑公司", "sent_on": ""}).status_code == 303
    assert c.post(f"/work/ogi/cases/{CASE}/consultations/2/end", data={"csrf_token": CSRF, "end": "silent"}).status_code == 303
    assert c.post(f"/work/ogi/cases/{CASE}/close", data={"csrf_token": CSRF, "reason": "住建局逾期未答复"}).status_code == 303
    assert [p["json"] for p in fake.posts()] == [
        {"items": ["请写明年份", "请提供身份证明"], "due_on": "2026-12-20"},
        {"party_kind": "third_party", "party": "某建筑公司"},
        {"end": "silent"},
        {"reason": "住建局逾期未答复"},
    ]


def test_contradictions_and_open_consultations_get_their_forms(fake: FakeBackends) -> None:
    fake.on("GET", "reply", f"/cases/{CASE}/reply", 200, {"case_id": CASE, "issued": True, "answered": 2, "expected": 2,
        "signed_off": 2, "closed": None, "amendments": [{"seq": 1}],
        "contradictions": [{"id": "x1", "message": "两个部门对同一事项答复不一", "resolved": False,
                            "entries": [{"task_id": "t1", "dept_name": "自然资源局", "stance": "公开"},
                                        {"task_id": "t2", "dept_name": "住建局", "stance": "不予公开"}]}]})
    expl = {**EXPL, "pauses": [{"consultation": 1, "party_kind": "third_party", "party": "某公司", "sent_on": "2026-12-01",
                                "consultation_due": "2026-12-22", "end": None}]}
    fake.on("GET", "reply", f"/cases/{CASE}/deadline", 200, {"case_id": CASE, "as_of": "2026-12-02", "workdays_left": 19,
                                                            "explanation": expl})
    html = client_for(fake, OFFICER).get(f"/work/ogi/cases/{CASE}").text
    assert "两个部门对同一事项答复不一" in html and f"/contradictions/x1/resolve" in html and 'value="t2"' in html
    assert f"/consultations/1/end" in html
    assert f'href="/work/ogi/cases/{CASE}/reply.pdf"' in html and "reply.pdf?amendment=1" in html
    assert_every_post_form_has_csrf(html)


def test_reply_documents_pass_through_with_the_officers_token(fake: FakeBackends) -> None:
    fake.on("GET", "reply", f"/cases/{CASE}/reply.pdf", 200, b"%PDF-1.7 test", "application/pdf")
    r = client_for(fake, OFFICER).get(f"/work/ogi/cases/{CASE}/reply.pdf")
    assert r.status_code == 200 and r.content == b"%PDF-1.7 test" and r.headers["content-type"] == "application/pdf"
    assert fake.calls[-1]["token"] == "tok-officer"
    assert client_for(fake, OFFICER).get(f"/work/ogi/cases/{CASE}/reply.exe").status_code == 404


def test_clerk_entry_shows_each_field_error_next_to_its_field(fake: FakeBackends) -> None:
    fake.on("POST", "intake", "/clerk/applications", 422, {"detail": "提交的内容有误", "errors": [
        {"field": "signed_on", "message": "签收日期（signed_on）不能晚于今天（2026-12-02）", "type": "value_error"},
        {"field": "applicant.id_number", "message": "居民身份证号码无效", "type": "value_error"}]})
    c = client_for(fake, OFFICER)
    form = c.get("/work/ogi/clerk").text
    assert_every_post_form_has_csrf(form)
    key = re.search(r'name="entry_key" value="([0-9a-f]{32})"', form).group(1)
    r = c.post("/work/ogi/clerk", data={"csrf_token": CSRF, "entry_key": key, "channel": "registered_mail",
                                        "signed_on": "2099-01-01", "applicant.type": "natural_person",
                                        "applicant.name": "张三", "applicant.id_type": "resident_id_card",
                                        "applicant.id_number": "123", "contact.phone": "13800000000",
                                        "description": "请公开某文件", "delivery.form": "paper", "delivery.method": "post",
                                        "contact.address": "某市某路1号"})
    assert r.status_code == 422
    html = r.text
    assert re.search(r'id="f-signed_on-error">签收日期（signed_on）不能晚于今天', html)
    assert re.search(r'id="f-signed_on"[^>]*aria-invalid="true"[^>]*aria-describedby="[^"]*f-signed_on-error', html)
    assert 'id="f-applicant-id_number-error">居民身份证号码无效' in html
    assert 'value="张三"' in html  # what was typed is kept
    (call,) = fake.posts()
    assert call["headers"] == {"Idempotency-Key": f"web-clerk-{key}"}
    assert call["json"]["signed_on"] == "2099-01-01" and call["json"]["channel"] == "registered_mail"
    assert call["json"]["applicant"] == {"type": "natural_person", "name": "张三", "id_type": "resident_id_card",
                                         "id_number": "123"}
    assert "confirmed_on" not in call["json"]


def test_clerk_entry_receipt(fake: FakeBackends) -> None:
    fake.on("POST", "intake", "/clerk/applications", 201, {
        "case_id": "c9", "tracking_number": "GK-2026-000009", "query_code": "ABCD2345EFGH", "received_on": "2026-12-01",
        "receipt_rule": "以邮寄方式提交申请的，以行政机关签收之日为收到申请之日", "message": "申请已登记"})
    r = client_for(fake, OFFICER).post("/work/ogi/clerk", data={"csrf_token": CSRF, "channel": "registered_mail",
                                                                "signed_on": "2026-12-01"})
    assert r.status_code == 200 and "GK-2026-000009" in r.text and "ABCD2345EFGH" in r.text
    assert "挂号信函" in r.text and 'href="/work/ogi/cases/c9"' in r.text


def test_supervision_groups_due_soon_and_overdue_by_department(fake: FakeBackends) -> None:
    fake.on("GET", "reply", "/cases/due-soon", 200, {"as_of": "2026-12-02", "within": 5, "cases": [
        {"case_id": "a", "tracking_number": "GK-A", "due_on": "2026-12-04", "workdays_left": 2, "open_departments": ["zrzy"]},
        {"case_id": "b", "tracking_number": "GK-B", "due_on": "2026-12-08", "workdays_left": 4, "open_departments": ["zrzy", "zjj"]}]})
    fake.on("GET", "reply", "/cases/overdue", 200, {"as_of": "2026-12-02", "cases": [
        {"case_id": "c", "tracking_number": "GK-C", "due_on": "2026-11-30", "workdays_overdue": 2, "open_departments": ["zjj"]}]})
    html = client_for(fake, OFFICER).get("/work/ogi/supervision").text
    assert [c["params"] for c in fake.calls if c["path"] == "/cases/due-soon"] == [{"within": 5}]
    zjj = html[html.index('id="d-zjj"'):]
    zrzy = html[html.index('id="d-zrzy"'):]
    assert html.index('id="d-zjj"') < html.index('id="d-zrzy"')  # the department with an overdue case first
    assert "逾期 1 件，剩余不超过2个工作日 0 件，剩余3至5个工作日 1 件" in zjj
    assert "逾期 0 件，剩余不超过2个工作日 1 件，剩余3至5个工作日 1 件" in zrzy
    assert 'class="overdue"' in html and 'class="due-urgent"' in html and "已逾期2个工作日" in html


HEATMAP = """<!doctype html><html><head><title>t</title><style>x</style></head><body><h1>ag 2026年 依申请公开热力图（按承办部门、月份）</h1>
<table><thead><tr><th>承办部门</th><th>1月</th></tr></thead><tbody>
<tr><th>自然资源局 &lt;b&gt;</th>""" + "".join(f'<td style="background:rgba(200,30,30,0.5)">{n}</td>' for n in [0, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 8]) + """<td>18</td></tr>
</tbody></table></body></html>"""


def test_statistics_render_the_apis_json_and_the_heat_map_as_tables(fake: FakeBackends) -> None:
    fake.on("GET", "audit", "/statistics/annual", 200, {"agency_code": "ag", "year": 2026, "columns": ["自然人", "总计"],
        "rows": [{"row": "一、本年新收政府信息公开申请数量", "values": [3, 3]}], "self_check_errors": [], "remedies": None,
        "problems": []})
    fake.on("GET", "audit", "/statistics/quarterly", 200, {"quarters": [{"quarter": 1, "received": 5, "handled": 4,
        "handled_by_category": {"（一）予以公开": 4}, "open_at_end": 1}]})
    fake.on("GET", "audit", "/statistics/on-time", 200, {"on_time": 9, "late": 1, "unknown": 0, "rate": 0.9, "departments": []})
    fake.on("GET", "audit", "/statistics/service", 200, {"consolidated_reply": {
        "issued": 10, "served": 8, "not_served": 2, "first_served_by": {"post": 3, "sms": 5},
        "days_to_service_median": 1, "days_to_service_max": 6,
        "not_served_list": [{"case_id": "c-9", "tracking_number": "YN-20261101-00009", "document_id": "d9",
                             "issued_on": "2026-11-02", "days_since_issue": 32}]}})
    fake.on("GET", "audit", "/statistics/heatmap", 200, HEATMAP)
    fake.on("GET", "audit", "/statistics/repeated-requests", 200, {"groups": [{"description": "某小区规划", "applicants": 3,
        "applications": 4, "first_received_on": "2026-01-02", "last_received_on": "2026-03-01"}]})
    fake.on("GET", "audit", "/checkpoints/latest", 200, {"tree_size": 42, "root_hash": "abc=", "signed_at": "2026-12-01T00:00:00Z",
                                                         "origin": "gongkai.example/ledger"})
    fake.on("GET", "audit", "/ledger/verify", 200, {"ok": True, "checked": 42})
    auditor = officer("auditor", token="tok-aud")
    html = client_for(fake, auditor).get("/work/stats", params={"year": "2026", "verify": "1"}).text
    assert "一、本年新收政府信息公开申请数量" in html and "自然人" in html
    assert "第1季度" in html and "90.0%" in html and "某小区规划" in html
    assert "自然资源局 &lt;b&gt;" in html  # the label stays text
    assert 'class="num heat-4">8<' in html and 'class="num heat-0">0<' in html and "style=" not in html
    assert "42 条记录" in html and "台账校验通过" in html
    # The replies' service (issue #17): the figures, the first channels, the replies not yet served
    # (an auditor sees the tracking number, not a link to the OGI office's case page).
    assert "已送达 <strong>8</strong> 件，尚未送达 <strong>2</strong> 件" in html
    assert "邮寄送达 3 件；短信送达 5 件" in html
    assert "YN-20261101-00009" in html and "/work/ogi/cases/c-9" not in html
    assert 'href="/work/stats/annual.csv?year=2026"' in html and 'href="/work/stats/annual.xlsx?year=2026"' in html
    assert {c["params"]["year"] for c in fake.calls if c["path"].startswith("/statistics/") and c["params"]} == {2026}


def test_annual_download_passes_the_file_through(fake: FakeBackends) -> None:
    fake.on("GET", "audit", "/statistics/annual", 200, "\ufeff项目,总计\n".encode(), "text/csv; charset=utf-8")
    r = client_for(fake, officer("ogi_officer")).get("/work/stats/annual.csv", params={"year": "2025"})
    assert r.status_code == 200 and r.content.startswith("\ufeff项目".encode())
    assert fake.calls[-1]["params"] == {"year": 2025, "format": "csv"}
    assert "attachment" in r.headers["content-disposition"]


def test_an_api_that_is_down_is_said_in_chinese(fake: FakeBackends) -> None:
    async def down(*_: Any, **__: Any) -> httpx.Response:  # noqa: ANN401
        raise httpx.ConnectError("refused")

    fake.request = down  # type: ignore[method-assign]
    r = client_for(fake, OFFICER).get("/work/ogi")
    assert r.status_code == 200 and "分办服务暂时不可用" in r.text


def test_every_ogi_page_is_in_the_web_access_table() -> None:
    from contracts.access import WEB_ROUTES

    from services.web.app import served_routes

    app = FastAPI()
    app.include_router(ogi.router)
    mine = served_routes(app) - {("GET", p) for p in ("/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc")}
    mine -= {("HEAD", p) for _, p in list(mine)}
    assert len(mine) >= 20
    assert mine <= set(WEB_ROUTES)
    for key in mine:
        assert not WEB_ROUTES[key].public
        assert WEB_ROUTES[key].roles & {"ogi_officer", "ogi_head"}


RETURNED_CASE = {
    "case_id": "c7", "tracking_number": "GK-7", "directory_version": "3", "description": "请公开本省重点项目投资计划",
    "routed_at": "2026-12-01T09:00:00", "tasks": [{"task_id": "t7", "dept_code": "zjj", "dept_name": "住建局",
                                                    "rule": "keyword:项目", "confidence": 0.9}],
    "withdrawn_tasks": [], "changes": [], "referrals": [], "triage": {"open": False, "triage": False, "reasons": []},
    "reason": "returned", "reasons": ["returned"],
    "returned": [{"task_id": "t7", "dept_code": "zjj", "dept_name": "住建局", "reason": "不属于本部门职责",
                  "returned_by": "住建局李四", "returned_at": "2026-12-01T10:00:00", "status": "open"}],
}


def test_returned_tasks_can_be_reassigned_from_the_queue(fake: FakeBackends) -> None:
    fake.on("GET", "routing", "/triage", 200, {"cases": [{**TRIAGE["cases"][0], "reason": "triage", "reasons": ["triage"],
                                                          "returned": []}, RETURNED_CASE]})
    fake.on("GET", "reply", "/cases/c7/triage", 200, {**FIVE, "case_id": "c7"})
    fake.on("POST", "routing", "/cases/c7/departments", 200, {})
    c = client_for(fake, OFFICER)
    html = c.get("/work/ogi").text
    assert "部门退回：住建局，理由：不属于本部门职责" in html and "住建局李四" in html
    assert "没有规则命中" not in html
    assert "依据不足" not in html and "规则命中不足" in html  # an unknown reason is shown as it is
    assert "全部（2）" in html and "部门退回（1）" in html and "系统无法确定（1）" in html
    card = html.split('id="case-c7"', 1)[1].split("</article>", 1)[0]
    assert "系统建议" not in card  # a returned case is no triage of the rules
    form = next(f for f in forms(card) if "/cases/c7/departments" in f)
    assert re.search(r'name="remove" value="zjj" checked', form) and "改派" in form
    assert 'name="add" value="zjj"' not in form  # the open department is not offered again
    assert_every_post_form_has_csrf(html)
    r = c.post("/work/ogi/cases/c7/departments", data={"csrf_token": CSRF, "back": "queue", "remove": "zjj", "add": "zrzy",
                                                       "reason": "改由自然资源局办理"})
    assert r.status_code == 303 and r.headers["location"].startswith("/work/ogi?done=departments")
    assert fake.posts()[0]["json"] == {"add": ["zrzy"], "remove": ["zjj"], "reason": "改由自然资源局办理"}


def test_the_queue_filter_works_as_a_link_and_as_an_htmx_partial(fake: FakeBackends) -> None:
    fake.on("GET", "routing", "/triage", 200, {"cases": [{**TRIAGE["cases"][0], "reason": "triage", "reasons": ["triage"],
                                                          "returned": []}, RETURNED_CASE]})
    fake.on("GET", "reply", "/cases/c7/triage", 200, {**FIVE, "case_id": "c7"})
    c = client_for(fake, OFFICER)
    page = c.get("/work/ogi?show=returned").text  # without JavaScript: a plain link, the whole page
    assert "<html" in page and 'id="case-c7"' in page and f'id="case-{CASE}"' not in page
    assert 'href="/work/ogi?show=returned" hx-get="/work/ogi?show=returned"' in page
    partial = c.get("/work/ogi?show=triage", headers={"HX-Request": "true", "HX-Target": "div#queue-list"}).text
    assert "<html" not in partial and partial.lstrip().startswith('<div id="queue-list">')
    assert f'id="case-{CASE}"' in partial and 'id="case-c7"' not in partial
    assert_every_post_form_has_csrf(partial)
    restore = c.get("/work/ogi?show=triage", headers={"HX-Request": "true", "HX-History-Restore-Request": "true"})
    assert "<html" in restore.text and "HX-Request" in restore.headers["vary"]  # htmx 4's history restore: the page
    assert "分办台" in c.get("/work/ogi?show=nonsense").text  # an unknown filter shows everything


def test_the_case_page_shows_the_return_and_ticks_its_withdrawal(fake: FakeBackends) -> None:
    routing = {k: v for k, v in RETURNED_CASE.items() if k not in ("description", "routed_at", "returned")}
    routing["returns"] = RETURNED_CASE["returned"]
    fake.on("GET", "routing", f"/cases/{CASE}/routing", 200, routing)
    html = client_for(fake, OFFICER).get(f"/work/ogi/cases/{CASE}").text
    section = html.split('id="routing"', 1)[1].split("</section>", 1)[0]
    assert "部门退回：住建局，理由：不属于本部门职责" in section and "已退回" in section
    form = next(f for f in forms(section) if "/departments" in f)
    assert re.search(r'name="remove" value="zjj" checked', form)
    assert any("/tasks/t7/withdrawal" in f for f in forms(section))
    routing["returns"] = [{**RETURNED_CASE["returned"][0], "status": "resolved"}]
    html = client_for(fake, OFFICER).get(f"/work/ogi/cases/{CASE}").text
    assert "部门退回：" not in html


def test_triage_reasons_in_chinese() -> None:
    assert ogi.triage_reason_zh("triage:ambiguous:年度预算") == "可能属于多个部门（“年度预算”）"
    assert ogi.triage_reason_zh("triage:no-rule-matched") == "没有规则命中"
