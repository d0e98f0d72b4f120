"""The department workbench (services/web/dept.py) in-process: a fake reply API, the signed-in
officer given by overriding the auth dependency. What each page shows, what each form sends to
which reply route with the officer's token, the API's refusals shown with their status."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from contracts.access import WEB_ROUTES
from services.web import auth, dept
from servicekit.oidc import Principal

CSRF = "csrf-of-the-session"


@dataclass
class FakeOfficer:
    principal: Principal
    access_token: str

    @property
    def display(self) -> str:
        return self.principal.display

    @property
    def department(self) -> str | None:
        return self.principal.department

    def has(self, *roles: str) -> bool:
        return self.principal.has(*roles)


def officer(role: str, sub: str, dept_code: str | None = "zrzy") -> FakeOfficer:
    return FakeOfficer(Principal(subject=sub, username=sub, name=f"{sub}的名字", roles=frozenset({role}),
                                 department=dept_code), f"tok-{sub}")


OFFICER = officer("dept_officer", "zrzy-officer")
REVIEWER = officer("dept_reviewer", "zrzy-reviewer")


@dataclass
class FakeReply:
    answers: dict[tuple[str, str], tuple[int, Any]] = field(default_factory=dict)
    calls: list[dict[str, Any]] = field(default_factory=list)

    def on(self, method: str, path: str, status: int, body: Any = None, headers: dict | None = None) -> None:  # noqa: ANN401
        self.answers[(method, path)] = (status, body, headers or {})

    async def request(self, method: str, service: str, path: str, *, token: str | None = None, **kw: Any) -> httpx.Response:  # noqa: ANN401
        self.calls.append({"method": method, "service": service, "path": path, "token": token, **kw})
        status, body, headers = self.answers.get((method, path), (404, {"detail": "未找到"}, {}))
        if isinstance(body, bytes):
            return httpx.Response(status, content=body, headers=headers)
        return httpx.Response(status, json=body, headers=headers)

    def posts(self) -> list[dict[str, Any]]:
        return [c for c in self.calls if c["method"] == "POST"]


def task_row(task_id: str, n: int, left: int | None, **kw: Any) -> dict:  # noqa: ANN401
    return {"task_id": task_id, "case_id": f"c{n}", "tracking_number": f"YN-{n}", "dept_code": "zrzy",
            "dept_name": "自然资源厅", "received_on": f"2026-11-0{n}", "due_on": f"2026-12-{10 + n}",
            "workdays_left": left, "description": f"申请内容{n}", "draft": False, "late": False,
            "acknowledged": False, "acknowledged_by": None, "answered_by": None, "answered_by_subject": None,
            "sent_back": False, **kw}


LISTING = {"dept_code": "zrzy", "tasks": [
    task_row("t1", 1, 9), task_row("t2", 2, 4, acknowledged=True, acknowledged_by="张三"),
    task_row("t3", 3, 1, draft=True, answered_by="张三", answered_by_subject="zrzy-officer"),
    task_row("t4", 4, -2, draft=True, answered_by="李四", answered_by_subject="zrzy-officer2"),
    task_row("t5", 5, 3, draft=True, answered_by="王五", answered_by_subject="zrzy-officer3", sent_back=True),
]}
MATERIAL = {"material_id": "m1", "case_id": "c1", "task_id": "t1", "dept_code": "zrzy", "filename": "出让合同.pdf",
            "content_type": "application/pdf", "size": 2048, "sha256": "ab" * 32, "uploaded_by": "张三",
            "uploaded_at": "2026-12-01T01:00:00Z", "ref": "material:m1", "in_answer": False, "released": False}
VIEW = {"task_id": "t1", "case_id": "c1", "tracking_number": "YN-1", "dept_code": "zrzy", "dept_name": "自然资源厅",
        "received_on": "2026-11-23", "description": "请公开2025年土地出让收支情况", "due_on": "2026-12-21",
        "workdays_left": 13, "deadline_status": "running", "status": "open", "status_zh": "待答复",
        "acknowledged": None, "returned": None, "answer": None,
        "others": [{"dept_name": "财政厅", "status": "draft", "status_zh": "答复草稿待审查"}],
        "materials": [MATERIAL], "reply_issued": False}
DRAFT = {"answer": {"reply_type": "partially_disclosed", "text": "部分公开。", "reason": "涉及第三方",
                    "withheld": [{"description": "个人信息", "reason_code": "withheld.third_party", "explanation": "涉及隐私"}],
                    "material_refs": ["material:m1"]},
         "author": {"subject": "zrzy-officer", "name": "张三"}, "review": None, "sent_back": None, "at": "2026-12-01"}


@pytest.fixture
def fake() -> FakeReply:
    f = FakeReply()
    f.on("GET", "/departments/zrzy/tasks", 200, LISTING)
    f.on("GET", "/tasks/t1", 200, VIEW)
    return f


def client_for(fake: FakeReply, who: FakeOfficer) -> TestClient:
    app = FastAPI()
    app.state.backends = fake

    @app.middleware("http")
    async def session(request: Request, call_next):  # noqa: ANN001, ANN202
        request.state.csrf_token = CSRF
        request.state.officer = who
        return await call_next(request)

    app.include_router(dept.router)

    async def check_csrf(request: Request) -> None:
        form = await request.form()
        if form.get("csrf_token") != CSRF:
            raise auth.CsrfRefused()

    app.dependency_overrides[dept.dept_staff] = lambda: who
    app.dependency_overrides[auth.verify_csrf] = check_csrf
    return TestClient(app, follow_redirects=False)


def rows(html: str) -> list[str]:
    return re.findall(r'<tr id="task-(\w+)" class="([^"]*)"', html)


def post_forms_have_csrf(html: str) -> None:
    posts = re.findall(r'<form method="post".*?</form>', html, flags=re.S)
    assert posts
    for f in posts:
        assert f'name="csrf_token" value="{CSRF}"' in f


def test_every_dept_page_is_in_the_web_access_table() -> None:
    served = {(m, r.path) for r in dept.router.routes for m in r.methods}
    assert served and served <= set(WEB_ROUTES)
    for key in served:
        assert WEB_ROUTES[key].roles == {"dept_officer", "dept_reviewer"}


def test_inbox_colours_by_urgency_sorts_filters_and_searches(fake: FakeReply) -> None:
    c = client_for(fake, OFFICER)
    r = c.get("/work/dept")
    assert r.status_code == 200
    # Sorted by due date; colour by working days left: 9 none, 4 due-soon, 1 due-urgent, -2 overdue.
    assert rows(r.text) == [("t1", ""), ("t2", "due-soon"), ("t3", "due-urgent"), ("t4", "overdue"), ("t5", "due-soon")]
    assert "已逾期 2 个工作日" in r.text and "剩余 4 个工作日" in r.text
    assert fake.calls[0]["token"] == "tok-zrzy-officer" and fake.calls[0]["path"] == "/departments/zrzy/tasks"
    post_forms_have_csrf(r.text)
    # Only the unacknowledged tasks offer 签收 (t2 is acknowledged).
    assert 'aria-label="签收 YN-1"' in r.text and 'aria-label="签收 YN-2"' not in r.text
    assert [t for t, _ in rows(c.get("/work/dept?status=draft").text)] == ["t3", "t4"]
    assert [t for t, _ in rows(c.get("/work/dept?status=sent_back").text)] == ["t5"]
    assert [t for t, _ in rows(c.get("/work/dept?status=new").text)] == ["t1"]
    assert [t for t, _ in rows(c.get("/work/dept?q=内容3").text)] == ["t3"]
    fake.answers[("GET", "/departments/zrzy/tasks")] = (200, {"tasks": [task_row("a", 2, 9, due_on="2026-12-05"), task_row("b", 1, 15, due_on="2026-12-20")]}, {})
    assert [t for t, _ in rows(c.get("/work/dept?sort=received").text)] == ["b", "a"]
    assert [t for t, _ in rows(c.get("/work/dept?sort=due").text)] == ["a", "b"]


def test_inbox_without_department_and_api_refusal(fake: FakeReply) -> None:
    r = client_for(fake, officer("dept_officer", "x", None)).get("/work/dept")
    assert r.status_code == 403 and "未关联部门" in r.text
    fake.on("GET", "/departments/zrzy/tasks", 403, {"detail": "无权查看或办理部门 zrzy 的任务"})
    r = client_for(fake, OFFICER).get("/work/dept")
    assert r.status_code == 403 and "无权查看或办理部门 zrzy 的任务" in r.text


def test_acknowledge_and_return(fake: FakeReply) -> None:
    c = client_for(fake, OFFICER)
    fake.on("POST", "/tasks/t1/acknowledgement", 200, {"status": "recorded"})
    r = c.post("/work/dept/tasks/t1/acknowledgement", data={"csrf_token": CSRF, "back": "inbox"})
    assert r.status_code == 303 and r.headers["location"].startswith("/work/dept?done=acknowledged")
    assert fake.posts()[-1]["token"] == "tok-zrzy-officer"
    assert c.post("/work/dept/tasks/t1/acknowledgement", data={"csrf_token": "wrong"}).status_code == 403
    # 退回: a reason is required (the page says so, nothing sent), then sent.
    n = len(fake.posts())
    r = c.post("/work/dept/tasks/t1/return", data={"csrf_token": CSRF, "reason": " "})
    assert r.status_code == 422 and "请填写退回理由" in r.text and len(fake.posts()) == n
    fake.on("POST", "/tasks/t1/return", 200, {"status": "recorded"})
    r = c.post("/work/dept/tasks/t1/return", data={"csrf_token": CSRF, "reason": "不属于本部门职责"})
    assert r.status_code == 303 and "done=returned" in r.headers["location"]
    assert fake.posts()[-1]["json"] == {"reason": "不属于本部门职责"}
    fake.on("POST", "/tasks/t1/return", 409, {"detail": "该任务的答复已经保密审查签署，不能退回"})
    r = c.post("/work/dept/tasks/t1/return", data={"csrf_token": CSRF, "reason": "x"})
    assert r.status_code == 409 and "不能退回" in r.text


def test_task_page_shows_the_application_deadline_progress_materials_and_the_form(fake: FakeReply) -> None:
    r = client_for(fake, OFFICER).get("/work/dept/tasks/t1")
    assert r.status_code == 200
    html = r.text
    assert "请公开2025年土地出让收支情况" in html and "2026-12-21" in html and "剩余 13 个工作日" in html
    assert "财政厅：答复草稿待审查" in html
    assert "出让合同.pdf" in html and "ab" * 32 in html and "/work/dept/cases/c1/material/m1" in html
    assert 'enctype="multipart/form-data"' in html and 'name="withheld_0_reason_code"' in html
    assert "属于国家秘密（《条例》第十四条）" in html  # the reasons the Regulations allow
    assert html.count('<label for="withheld_') == 9  # every field labelled
    post_forms_have_csrf(html)
    # A reviewer sees the task but no answer form, no upload, no 签收.
    html = client_for(fake, REVIEWER).get("/work/dept/tasks/t1").text
    assert "请公开2025年土地出让收支情况" in html and 'action="/work/dept/tasks/t1/answer"' not in html
    assert 'enctype="multipart/form-data"' not in html and "签收本任务" not in html


def test_answer_form_sends_the_answer_with_withheld_parts_and_shows_field_errors(fake: FakeReply) -> None:
    c = client_for(fake, OFFICER)
    fake.on("POST", "/tasks/t1/answer", 201, {"status": "draft_recorded"})
    form = {"csrf_token": CSRF, "reply_type": "partially_disclosed", "reason": "涉及第三方", "text": "部分公开。",
            "withheld_0_description": "个人信息", "withheld_0_reason_code": "withheld.third_party",
            "withheld_0_explanation": "涉及隐私", "material_refs": "material:m1"}
    r = c.post("/work/dept/tasks/t1/answer", data=form)
    assert r.status_code == 303 and "done=answered" in r.headers["location"]
    sent = fake.posts()[-1]
    assert sent["path"] == "/tasks/t1/answer" and sent["token"] == "tok-zrzy-officer"
    assert sent["json"] == {"reply_type": "partially_disclosed", "text": "部分公开。", "reason": "涉及第三方",
                            "material_refs": ["material:m1"],
                            "withheld": [{"description": "个人信息", "reason_code": "withheld.third_party",
                                          "explanation": "涉及隐私"}]}
    # The API's 422: its message, tied to the field; what was typed is kept.
    fake.on("POST", "/tasks/t1/answer", 422, {"detail": "提交的内容有误", "errors": [
        {"field": "outcome_code", "message": "不予公开须选择办理结果"}]})
    r = c.post("/work/dept/tasks/t1/answer", data=form | {"reply_type": "not_disclosed"})
    assert r.status_code == 422
    assert 'aria-describedby="err-outcome_code" aria-invalid="true"' in r.text
    assert '<p class="error" id="err-outcome_code">不予公开须选择办理结果</p>' in r.text
    assert '<option value="not_disclosed" selected>' in r.text and "部分公开。" in r.text
    # Missing required fields: not sent.
    n = len(fake.posts())
    r = c.post("/work/dept/tasks/t1/answer", data={"csrf_token": CSRF, "reply_type": "", "text": ""})
    assert r.status_code == 422 and len(fake.posts()) == n and 'id="err-text"' in r.text


def test_upload_is_relayed_and_refusals_shown(fake: FakeReply) -> None:
    c = client_for(fake, OFFICER)
    fake.on("POST", "/tasks/t1/material", 201, MATERIAL)
    pdf = b"%PDF-1.4 test"
    r = c.post("/work/dept/tasks/t1/material", data={"csrf_token": CSRF}, files={"file": ("合同.pdf", pdf, "application/pdf")})
    assert r.status_code == 303 and "done=uploaded" in r.headers["location"]
    sent = fake.posts()[-1]
    assert sent["files"]["file"][0] == "合同.pdf" and sent["files"]["file"][1] == pdf and sent["token"] == "tok-zrzy-officer"
    fake.on("POST", "/tasks/t1/material", 415, {"detail": "不支持的文件类型：仅接受PDF"})
    r = c.post("/work/dept/tasks/t1/material", data={"csrf_token": CSRF}, files={"file": ("a.exe", b"MZ", "application/x-msdownload")})
    assert r.status_code == 415 and "不支持的文件类型" in r.text and 'id="err-upload"' in r.text
    r = c.post("/work/dept/tasks/t1/material", data={"csrf_token": CSRF})
    assert r.status_code == 422 and "请选择要上传的文件" in r.text


def test_material_download_is_proxied_with_the_officers_token(fake: FakeReply) -> None:
    fake.on("GET", "/cases/c1/material/m1", 200, b"%PDF-bytes",
            {"content-type": "application/pdf", "content-disposition": 'attachment; filename="a.pdf"',
             "x-content-sha256": "ab" * 32})
    r = client_for(fake, REVIEWER).get("/work/dept/cases/c1/material/m1")
    assert r.status_code == 200 and r.content == b"%PDF-bytes" and r.headers["x-content-sha256"] == "ab" * 32
    assert fake.calls[-1]["token"] == "tok-zrzy-reviewer"
    fake.on("GET", "/cases/c1/material/m1", 403, {"detail": "无权查看或办理部门 czt 的任务"})
    assert client_for(fake, REVIEWER).get("/work/dept/cases/c1/material/m1").status_code == 403


def test_review_queue_lists_other_officers_drafts_only(fake: FakeReply) -> None:
    html = client_for(fake, REVIEWER).get("/work/dept/review").text
    assert 'href="/work/dept/review/t3"' in html and 'href="/work/dept/review/t4"' in html
    assert "/work/dept/review/t5" not in html  # sent back: with its author
    # The author of t3 does not see his own draft to review.
    html = client_for(fake, officer("dept_reviewer", "zrzy-officer")).get("/work/dept/review").text
    assert "/work/dept/review/t3" not in html and "/work/dept/review/t4" in html


def test_sign_off_send_back_and_the_apis_four_eyes_refusal_shown(fake: FakeReply) -> None:
    fake.on("GET", "/tasks/t1", 200, VIEW | {"status": "draft", "answer": DRAFT})
    c = client_for(fake, REVIEWER)
    html = c.get("/work/dept/review/t1").text
    assert "部分公开。" in html and "个人信息" in html and "涉及隐私" in html and "张三" in html
    post_forms_have_csrf(html)
    fake.on("POST", "/tasks/t1/review", 200, {"status": "signed_off"})
    r = c.post("/work/dept/review/t1/sign-off", data={"csrf_token": CSRF})
    assert r.status_code == 303 and "done=signed_off" in r.headers["location"]
    assert fake.posts()[-1]["path"] == "/tasks/t1/review" and fake.posts()[-1]["token"] == "tok-zrzy-reviewer"
    # The author: the page says so, and the API's refusal is shown with its status.
    author = officer("dept_reviewer", "zrzy-officer")
    assert "这是您本人撰写的答复" in client_for(fake, author).get("/work/dept/review/t1").text
    fake.on("POST", "/tasks/t1/review", 403, {"detail": "保密审查须由撰写答复者以外的本部门审查人进行，不能审查本人撰写的答复"})
    r = client_for(fake, author).post("/work/dept/review/t1/sign-off", data={"csrf_token": CSRF})
    assert r.status_code == 403 and "不能审查本人撰写的答复" in r.text and 'role="alert"' in r.text
    # Send back: a comment is required.
    n = len(fake.posts())
    r = c.post("/work/dept/review/t1/return", data={"csrf_token": CSRF, "comment": ""})
    assert r.status_code == 422 and "请填写退回修改的意见" in r.text and len(fake.posts()) == n
    fake.on("POST", "/tasks/t1/review/return", 200, {"status": "recorded"})
    r = c.post("/work/dept/review/t1/return", data={"csrf_token": CSRF, "comment": "请写明获取方式"})
    assert r.status_code == 303 and fake.posts()[-1]["json"] == {"comment": "请写明获取方式"}


# ---------------------------------------------------------------- htmx: fragments, the plain page without

HX = {"HX-Request": "true"}


def test_inbox_filter_answers_htmx_with_the_list_only_and_the_page_otherwise(fake: FakeReply) -> None:
    c = client_for(fake, OFFICER)
    full = c.get("/work/dept?status=draft")
    assert full.status_code == 200 and "<html" in full.text and 'hx-get="/work/dept"' in full.text
    assert 'hx-push-url="true"' in full.text and 'id="live"' in full.text and 'aria-live="polite"' in full.text
    assert "HX-Request" in full.headers["vary"]
    part = c.get("/work/dept?status=draft", headers=HX)
    assert part.status_code == 200 and "<html" not in part.text and "<form" not in part.text.split("<table")[0]
    assert [t for t, _ in rows(part.text)] == ["t3", "t4"] and "HX-Request" in part.headers["vary"]
    # The announcement goes to the page's live region, out of band.
    assert '<div id="live" hx-swap-oob="innerHTML">任务列表已更新：共 5 项待办，显示 2 项。</div>' in part.text
    assert "没有符合条件的待办任务" in c.get("/work/dept?q=不存在的内容", headers=HX).text
    # htmx's history restore (the back button) wants the whole page.
    back = c.get("/work/dept?status=draft", headers=HX | {"HX-History-Restore-Request": "true"})
    assert "<html" in back.text


def test_inbox_says_the_urgency_in_words_too(fake: FakeReply) -> None:
    html = client_for(fake, OFFICER).get("/work/dept").text
    cells = dict(re.findall(r'<tr id="task-(\w+)".*?<td data-label="答复期限">(.*?)</td>', html, flags=re.S))
    assert "临近期限" in cells["t2"] and "紧急" in cells["t3"] and "已逾期" in cells["t4"]
    assert "tag" not in cells["t1"]  # 9 working days left: nothing to flag


def test_acknowledge_with_htmx_answers_the_row_and_announces_it(fake: FakeReply) -> None:
    c = client_for(fake, OFFICER)
    fake.on("POST", "/tasks/t1/acknowledgement", 200, {"status": "recorded"})
    acked = {"tasks": [task_row("t1", 1, 9, acknowledged=True, acknowledged_by="张三")] + LISTING["tasks"][1:]}
    fake.on("GET", "/departments/zrzy/tasks", 200, acked)
    r = c.post("/work/dept/tasks/t1/acknowledgement", data={"csrf_token": CSRF, "back": "inbox"}, headers=HX)
    assert r.status_code == 200 and "<html" not in r.text
    assert r.text.lstrip().startswith('<tr id="task-t1"') and rows(r.text) == [("t1", "")]
    assert "张三 签收" in r.text and 'aria-label="签收 YN-1"' not in r.text
    assert '<a href="/work/dept/tasks/t1" autofocus>YN-1</a>' in r.text  # the focus: the task's next step
    assert '<div id="live" hx-swap-oob="innerHTML">已签收 YN-1。</div>' in r.text
    assert fake.posts()[-1]["path"] == "/tasks/t1/acknowledgement"
    # Refused: the row again, with the API's message as an alert, the API's status.
    fake.on("GET", "/departments/zrzy/tasks", 200, LISTING)
    fake.on("POST", "/tasks/t1/acknowledgement", 409, {"detail": "该任务已退回，不能签收"})
    r = c.post("/work/dept/tasks/t1/acknowledgement", data={"csrf_token": CSRF, "back": "inbox"}, headers=HX)
    assert r.status_code == 409 and "<html" not in r.text and rows(r.text) == [("t1", "")]
    assert 'role="alert"' in r.text and "该任务已退回，不能签收" in r.text and "autofocus" in r.text
    assert "hx-swap-oob" not in r.text  # the alert is announced; not twice
    # Without htmx: the redirect, as before.
    fake.on("POST", "/tasks/t1/acknowledgement", 200, {"status": "recorded"})
    r = c.post("/work/dept/tasks/t1/acknowledgement", data={"csrf_token": CSRF, "back": "inbox"})
    assert r.status_code == 303 and r.headers["location"] == "/work/dept?done=acknowledged#task-t1"


def test_give_back_from_the_inbox_with_and_without_htmx(fake: FakeReply) -> None:
    c = client_for(fake, OFFICER)
    html = c.get("/work/dept").text
    # 退回 with a reason from the inbox, for the tasks not yet answered.
    assert 'action="/work/dept/tasks/t1/return"' in html and 'action="/work/dept/tasks/t3/return"' not in html
    assert '<label for="reason-t1">' in html
    post_forms_have_csrf(html)
    n = len(fake.posts())
    r = c.post("/work/dept/tasks/t1/return", data={"csrf_token": CSRF, "back": "inbox", "reason": ""}, headers=HX)
    assert r.status_code == 422 and "<html" not in r.text and len(fake.posts()) == n
    assert '<details class="give-back" open>' in r.text and 'aria-invalid="true" autofocus' in r.text
    assert "请填写退回理由" in r.text
    # Without JavaScript: the inbox again, the reason asked for in that row.
    r = c.post("/work/dept/tasks/t1/return", data={"csrf_token": CSRF, "back": "inbox", "reason": " "})
    assert r.status_code == 422 and "<html" in r.text and 'aria-describedby="err-reason-t1"' in r.text
    assert len(rows(r.text)) == 5
    fake.on("POST", "/tasks/t1/return", 200, {"status": "recorded"})
    fake.on("GET", "/departments/zrzy/tasks", 200, {"tasks": LISTING["tasks"][1:]})
    r = c.post("/work/dept/tasks/t1/return", headers=HX,
               data={"csrf_token": CSRF, "back": "inbox", "tn": "YN-1", "reason": "不属于本部门"})
    assert r.status_code == 200 and "<html" not in r.text and 'id="task-t1" class="gone"' in r.text
    assert '<div id="live" hx-swap-oob="innerHTML">YN-1 已退回政府信息公开工作机构重新分办。</div>' in r.text and fake.posts()[-1]["json"] == {"reason": "不属于本部门"}
    r = c.post("/work/dept/tasks/t1/return", data={"csrf_token": CSRF, "back": "inbox", "reason": "不属于本部门"})
    assert r.status_code == 303 and "done=returned" in r.headers["location"]


def test_answer_and_upload_with_htmx_show_errors_in_place_and_redirect_on_success(fake: FakeReply) -> None:
    c = client_for(fake, OFFICER)
    r = c.post("/work/dept/tasks/t1/answer", data={"csrf_token": CSRF, "reply_type": "", "text": "草稿"}, headers=HX)
    assert r.status_code == 422 and "<html" not in r.text
    assert r.text.split("#}", 1)[-1].lstrip().startswith('<section id="answer"')
    assert 'id="err-answer" tabindex="-1" autofocus' in r.text and 'id="err-reply_type"' in r.text
    assert ">草稿</textarea>" in r.text  # what was typed is kept
    fake.on("POST", "/tasks/t1/answer", 201, {"status": "draft_recorded"})
    r = c.post("/work/dept/tasks/t1/answer", data={"csrf_token": CSRF, "reply_type": "disclosed", "text": "公开"},
               headers=HX)
    assert r.status_code == 200 and r.headers["hx-redirect"] == "/work/dept/tasks/t1?done=answered"
    # The upload: multipart as before; a refusal answers the materials section.
    fake.on("POST", "/tasks/t1/material", 415, {"detail": "不支持的文件类型：仅接受PDF"})
    r = c.post("/work/dept/tasks/t1/material", data={"csrf_token": CSRF}, headers=HX,
               files={"file": ("a.exe", b"MZ", "application/x-msdownload")})
    assert r.status_code == 415 and "<html" not in r.text and 'id="materials"' in r.text
    assert 'id="err-upload" role="alert" tabindex="-1" autofocus' in r.text
    assert 'aria-describedby="upload-limits err-upload"' in r.text and "20 MiB" in r.text
    fake.on("POST", "/tasks/t1/material", 201, MATERIAL)
    r = c.post("/work/dept/tasks/t1/material", data={"csrf_token": CSRF}, headers=HX,
               files={"file": ("合同.pdf", b"%PDF-1.4", "application/pdf")})
    assert r.status_code == 200 and r.headers["hx-redirect"] == "/work/dept/tasks/t1?done=uploaded#materials"
    # The task page itself, with or without htmx, is the whole page.
    assert "<html" in c.get("/work/dept/tasks/t1", headers=HX).text


def test_the_inbox_names_the_department_from_the_public_directory(fake: FakeReply) -> None:
    c = client_for(fake, OFFICER)
    assert "<h1>部门待办（zrzy）</h1>" in c.get("/work/dept").text  # no directory: the code
    fake.on("GET", "/directory", 200, {"departments": [{"code": "zrzy", "name": "云南省自然资源厅"}]})
    fresh = client_for(fake, OFFICER)
    assert "<h1>部门待办（云南省自然资源厅）</h1>" in fresh.get("/work/dept").text
    directory_calls = [x for x in fake.calls if x["path"] == "/directory"]
    assert directory_calls[-1]["service"] == "routing" and directory_calls[-1]["token"] is None
    fresh.get("/work/dept")
    assert len([x for x in fake.calls if x["path"] == "/directory"]) == len(directory_calls)  # cached
