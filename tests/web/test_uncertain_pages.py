"""The page of services/web/uncertain.py in-process (a fake of notify's API, the officer given):
投递结果不确定的邮件 lists notify's uncertain deliveries; 已发送 / 重新发送 post the officer's
finding to notify with the officer's token (plain form: back to the page with the result; htmx:
the row says what became of it, the navigation's count out of band); refusals are shown in
Chinese; a department officer is refused, nobody signed in is sent to the sign-in."""

from __future__ import annotations

import re

from services.web import uncertain
from services.web.auth import Officer
from tests.web.test_ogi_pages import CSRF, FakeBackends, assert_every_post_form_has_csrf, client_for, officer

ROW = {"case_id": "case-7", "tracking_number": "YN-20261203-00007", "notice_id": "n-7", "kind": "reply_issued",
       "audience": "applicant", "channel": "email", "subject": "政府信息公开申请已答复（YN-20261203-00007）",
       "recipient": "zhang@example.com", "attempts": 1, "uncertain_at": "2026-12-03T01:02:03+00:00",
       "uncertain_reason": "notify stopped after the message was committed to the SMTP server and before its reply "
                           "was recorded", "message_id": "<n-7.email@gongkai.notify>"}
PATH = "/notices/n-7/deliveries/email/resolution"
PAGE_POST = "/work/notices/n-7/deliveries/email/resolution"


def fake(rows: list[dict] | None = None) -> FakeBackends:
    f = FakeBackends()
    f.on("GET", "notify", "/notices/uncertain", 200, {"deliveries": [ROW] if rows is None else rows})
    return f


def test_the_page_lists_each_uncertain_email_with_what_the_officer_needs():
    f = fake()
    c = client_for(f, officer("ogi_officer", token="tok-li"), uncertain.router)
    resp = c.get("/work/notices/uncertain")
    assert resp.status_code == 200
    page = resp.text
    assert "<title>投递结果不确定的邮件" in page
    for shown in ("YN-20261203-00007", 'href="/work/ogi/cases/case-7"', "答复书", "政府信息公开申请已答复",
                  "zhang@example.com", "2026-12-03 09:02:03",  # Beijing time, to the second
                  "在记下服务器的确认之前通知服务中断", "&lt;n-7.email@gongkai.notify&gt;",
                  "已发送（已在邮件服务器日志中查到）", "重新发送", 'name="note"'):
        assert shown in page, shown
    assert_every_post_form_has_csrf(page)
    # The navigation names the page with its count (here known: no extra call).
    assert re.search(r'href="/work/notices/uncertain" aria-current="page">投递不确定的邮件 <span id="uncertain-count"'
                     r' class="tag overdue">1<', page)
    assert [c["token"] for c in f.calls] == ["tok-li"]


def test_an_empty_list_and_notify_down_are_said_in_chinese():
    c = client_for(fake([]), officer("ogi_officer"), uncertain.router)
    page = c.get("/work/notices/uncertain").text
    assert "目前没有投递结果不确定的邮件" in page and 'class="tag">0<' in page
    down = FakeBackends()
    down.on("GET", "notify", "/notices/uncertain", 503, {"detail": "通知服务暂时不可用，请稍后重试"})
    page = client_for(down, officer("ogi_officer"), uncertain.router).get("/work/notices/uncertain").text
    assert "通知服务暂时不可用" in page and "目前没有" not in page


def test_the_count_fragment_for_the_navigation():
    c = client_for(fake(), officer("ogi_officer"), uncertain.router)
    resp = c.get("/work/notices/uncertain/count", headers={"HX-Request": "true"})
    assert resp.status_code == 200 and resp.text.startswith('<span id="uncertain-count" class="tag overdue">1<')


def signed_in(*roles: str) -> Officer:
    """A signed-in officer as services/web/auth.py makes one (the real page guard reads it)."""
    return Officer(officer(*roles).principal, "tok", "sid")


def test_a_department_officer_is_refused_and_nobody_signed_in_goes_to_the_sign_in():
    f = fake()
    dept = client_for(f, signed_in("dept_officer"), uncertain.router)
    assert dept.get("/work/notices/uncertain").status_code == 403
    assert dept.post(PAGE_POST, data={"csrf_token": CSRF, "outcome": "resend"}).status_code == 403
    head = client_for(f, signed_in("ogi_head"), uncertain.router)  # notify takes ogi_officer only
    assert head.get("/work/notices/uncertain").status_code == 403
    anonymous = client_for(f, None, uncertain.router).get("/work/notices/uncertain")
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login?next=/work/notices/uncertain")
    assert f.calls == []


def test_resend_as_a_plain_form_goes_back_to_the_page_with_the_result():
    f = fake()
    f.on("POST", "notify", PATH, 200, {"status": "pending"})
    c = client_for(f, officer("ogi_officer", token="tok-wang"), uncertain.router)
    resp = c.post(PAGE_POST, data={"csrf_token": CSRF, "outcome": "resend", "note": " 日志中查不到 "})
    assert resp.status_code == 303 and resp.headers["location"] == "/work/notices/uncertain?done=resend"
    [post] = f.posts()
    assert post["json"] == {"outcome": "resend", "note": "日志中查不到"} and post["token"] == "tok-wang"
    f.on("GET", "notify", "/notices/uncertain", 200, {"deliveries": []})
    page = c.get(resp.headers["location"]).text
    assert "已重新发送" in page and "同一 Message-ID" in page


def test_sent_with_htmx_gets_the_row_back_saying_so_and_the_new_count():
    f = fake()
    f.on("POST", "notify", PATH, 200, {"status": "delivered"})
    c = client_for(f, officer("ogi_officer"), uncertain.router)
    resp = c.post(PAGE_POST, data={"csrf_token": CSRF, "outcome": "sent", "note": "Q42"},
                  headers={"HX-Request": "true"})
    assert resp.status_code == 200
    assert f.posts()[0]["json"] == {"outcome": "sent", "note": "Q42"}
    assert '<tr id="u-n-7-email" class="gone">' in resp.text and "已登记为已发送" in resp.text
    # The count as notify says it after the write (this fake still lists the row: 1).
    assert '<span id="uncertain-count" hx-swap-oob="outerHTML" class="tag overdue">1<' in resp.text
    assert '<p id="uncertain-total" hx-swap-oob="outerHTML">共 1 封，最新的在前。</p>' in resp.text


def test_a_refusal_is_shown_in_the_row_with_its_status():
    f = fake()
    f.on("POST", "notify", PATH, 409, {"detail": "该投递目前不是“结果不确定”状态（当前：已送达），无需处理或已由他人处理"})
    c = client_for(f, officer("ogi_officer"), uncertain.router)
    resp = c.post(PAGE_POST, data={"csrf_token": CSRF, "outcome": "sent"}, headers={"HX-Request": "true"})
    assert resp.status_code == 409 and "无需处理或已由他人处理" in resp.text and 'id="u-n-7-email"' in resp.text
    assert 'role="alert"' in resp.text
    plain = c.post(PAGE_POST, data={"csrf_token": CSRF, "outcome": "sent"})
    assert plain.status_code == 409 and "未能办理" in plain.text and "无需处理或已由他人处理" in plain.text
    bad = c.post(PAGE_POST, data={"csrf_token": CSRF, "outcome": "maybe"}, headers={"HX-Request": "true"})
    assert bad.status_code == 422 and "请选择" in bad.text
    assert len(f.posts()) == 2  # the invalid choice never reached notify


def test_a_post_without_the_csrf_token_is_refused():
    f = fake()
    c = client_for(f, officer("ogi_officer"), uncertain.router)
    assert c.post(PAGE_POST, data={"outcome": "resend"}).status_code == 403
    assert f.posts() == []


def test_every_page_is_in_the_web_access_table_for_ogi_officers_only():
    from contracts.access import WEB_ROUTES
    from fastapi import FastAPI

    from services.web.app import served_routes

    app = FastAPI()
    app.include_router(uncertain.router)
    mine = {k for k in served_routes(app) if k[1].startswith("/work/")}
    assert len(mine) == 3 and mine <= set(WEB_ROUTES)
    for key in mine:
        assert set(WEB_ROUTES[key].roles) == {"ogi_officer"}
