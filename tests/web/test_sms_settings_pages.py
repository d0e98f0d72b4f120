"""The page of services/web/sms_settings.py in-process (a fake of notify's API, the officer given):
短信防打扰时间 says notify's window in words (Beijing time), whether texts are held now and until
when, who set it; the head's form PUTs the window to notify with the head's token (plain form: 303
back to the page; htmx: the section in place); notify's 422 is shown at the field, its 403 as a
message; a department officer is refused, nobody signed in is sent to the sign-in."""

from __future__ import annotations

import re

from services.web import sms_settings
from services.web.auth import Officer
from tests.web.test_ogi_pages import CSRF, FakeBackends, assert_every_post_form_has_csrf, client_for, forms, officer

PAGE = "/work/ogi/settings/sms"
API = "/settings/sms-quiet-hours"
SET = {"quiet_hours": "21:00-08:00", "source": "set", "set_by": "公开办负责人王五", "set_at": "2026-12-03T02:04:00Z",
       "now_quiet": True, "until": "2026-12-04T00:00:00Z"}
DEFAULT = {"quiet_hours": "22:00-07:30", "source": "default", "set_by": None, "set_at": None, "now_quiet": False,
           "until": None}
NONE = {"quiet_hours": "", "source": "set", "set_by": "公开办负责人王五", "set_at": "2026-12-03T02:04:00Z",
        "now_quiet": False, "until": None}


def signed_in(*roles: str, token: str = "tok") -> Officer:
    """A signed-in officer as services/web/auth.py makes one (the real page guard reads it)."""
    return Officer(officer(*roles, token=token).principal, token, "sid")


HEAD = signed_in("ogi_head", token="tok-head")
OFFICER = signed_in("ogi_officer", token="tok-li")


def fake(current: dict | None = None) -> FakeBackends:
    f = FakeBackends()
    f.on("GET", "notify", API, 200, SET if current is None else current)
    return f


def client(f: FakeBackends, who: Officer | None):  # noqa: ANN201
    return client_for(f, who, sms_settings.router)


def the_form(page: str) -> str:
    [form] = [x for x in forms(page) if 'id="sms-form"' in x]
    return form


def test_the_page_says_the_window_whether_quiet_now_and_who_set_it() -> None:
    f = fake()
    resp = client(f, HEAD).get(PAGE)
    assert resp.status_code == 200
    page = resp.text
    assert "<title>短信防打扰时间" in page
    for shown in ("每日 21:00 至次日 08:00（北京时间）不发送短信，期间的短信在结束时发出",
                  "现在处于防打扰时间内", "2026-12-04 08:00（北京时间）发出",  # until, in Beijing time
                  "公开办负责人王五于 2026-12-03 10:04（北京时间）设置"):
        assert shown in page, shown
    form = the_form(page)
    assert "disabled" not in form and 'type="time"' in form
    assert 'name="start" value="21:00"' in form and 'name="end" value="08:00"' in form
    assert "仅公开办负责人可修改" not in page
    assert_every_post_form_has_csrf(page)
    # The OGI menu names the page.
    assert 'href="/work/ogi/settings/sms" aria-current="page">短信防打扰时间<' in page
    assert [(c["method"], c["service"], c["path"], c["token"]) for c in f.calls] == [("GET", "notify", API, "tok-head")]


def test_the_default_and_no_window_are_said_so() -> None:
    page = client(fake(DEFAULT), HEAD).get(PAGE).text
    assert "每日 22:00 至次日 07:30（北京时间）" in page and "部署默认值" in page and "现在不在防打扰时间内" in page
    page = client(fake(NONE), HEAD).get(PAGE).text
    assert "未设置：全天发送" in page
    assert re.search(r'id="sms-none" name="none" value="on" checked', page)
    page = client(fake({**DEFAULT, "quiet_hours": "12:00-14:00"}), HEAD).get(PAGE).text
    assert '<dd id="sms-window">每日 12:00 至 14:00（北京时间）不发送短信' in page


def test_an_officer_sees_the_value_and_a_disabled_form_with_the_note() -> None:
    page = client(fake(), OFFICER).get(PAGE).text
    assert "每日 21:00 至次日 08:00" in page and "仅公开办负责人可修改" in page
    assert re.search(r"<fieldset disabled", the_form(page))


def test_notify_down_is_said_in_chinese() -> None:
    down = FakeBackends()
    down.on("GET", "notify", API, 503, {"detail": "通知服务暂时不可用，请稍后重试"})
    resp = client(down, HEAD).get(PAGE)
    assert resp.status_code == 200 and "防打扰时间暂时无法显示：通知服务暂时不可用" in resp.text


def test_the_heads_post_puts_the_window_and_goes_back_to_the_page() -> None:
    f = fake()
    f.on("PUT", "notify", API, 200, {**SET, "quiet_hours": "22:30-07:00"})
    c = client(f, HEAD)
    resp = c.post(PAGE, data={"csrf_token": CSRF, "start": "22:30", "end": "07:00"})
    assert resp.status_code == 303 and resp.headers["location"] == "/work/ogi/settings/sms?done=set"
    [put] = [x for x in f.calls if x["method"] == "PUT"]
    assert put["service"] == "notify" and put["path"] == API and put["token"] == "tok-head"
    assert put["json"] == {"quiet_hours": "22:30-07:00"}
    f.on("GET", "notify", API, 200, {**SET, "quiet_hours": "22:30-07:00"})
    page = c.get(resp.headers["location"]).text
    assert "已保存防打扰时间" in page and "每日 22:30 至次日 07:00" in page


def test_seconds_from_a_time_input_and_none_ticked() -> None:
    f = fake()
    f.on("PUT", "notify", API, 200, NONE)
    c = client(f, HEAD)
    assert c.post(PAGE, data={"csrf_token": CSRF, "start": "9:05:00", "end": "10:00"}).status_code == 303
    resp = c.post(PAGE, data={"csrf_token": CSRF, "start": "21:00", "end": "08:00", "none": "on"})
    assert resp.headers["location"] == "/work/ogi/settings/sms?done=cleared"
    assert [x["json"] for x in f.calls if x["method"] == "PUT"] == [{"quiet_hours": "09:05-10:00"}, {"quiet_hours": ""}]


def test_with_htmx_the_section_comes_back_updated() -> None:
    f = fake()
    f.on("PUT", "notify", API, 200, NONE)
    f.on("GET", "notify", API, 200, NONE)
    resp = client(f, HEAD).post(PAGE, data={"csrf_token": CSRF, "none": "on"}, headers={"HX-Request": "true"})
    assert resp.status_code == 200
    assert '<section class="card" id="sms-quiet"' in resp.text
    assert "<html" not in resp.text
    assert "已取消防打扰时间" in resp.text and "未设置：全天发送" in resp.text


def test_notifys_422_is_shown_at_the_field_with_what_was_typed() -> None:
    f = fake()
    f.on("PUT", "notify", API, 422, {"detail": "输入无效", "errors": [
        {"field": "quiet_hours", "message": "开始时刻与结束时刻不能相同"}]})
    c = client(f, HEAD)
    for headers in ({}, {"HX-Request": "true"}):
        resp = c.post(PAGE, data={"csrf_token": CSRF, "start": "08:00", "end": "08:00"}, headers=headers)
        assert resp.status_code == 422
        assert re.search(r'<p class="error" id="err-sms-quiet-hours">开始时刻与结束时刻不能相同</p>', resp.text)
        form = the_form(resp.text)
        assert 'name="start" value="08:00" aria-invalid="true" aria-describedby="err-sms-quiet-hours"' in form
        assert "提交的内容有误" in resp.text


def test_a_missing_time_is_refused_here_and_never_sent() -> None:
    f = fake()
    resp = client(f, HEAD).post(PAGE, data={"csrf_token": CSRF, "start": "21:00", "end": ""})
    assert resp.status_code == 422
    assert re.search(r'id="err-sms-end">请填写开始时刻和结束时刻', resp.text) and 'name="start" value="21:00"' in resp.text
    assert [x for x in f.calls if x["method"] == "PUT"] == []


def test_notifys_403_for_an_officer_is_shown_as_a_message() -> None:
    f = fake()
    f.on("PUT", "notify", API, 403, {"detail": "需要以下角色之一：公开办负责人"})
    for headers in ({}, {"HX-Request": "true"}):
        resp = client(f, OFFICER).post(PAGE, data={"csrf_token": CSRF, "start": "20:00", "end": "08:00"},
                                       headers=headers)
        assert resp.status_code == 403
        assert 'role="alert"' in resp.text and "只有公开办负责人可以修改防打扰时间" in resp.text
        assert "需要以下角色之一：公开办负责人" in resp.text
        assert "每日 21:00 至次日 08:00" in resp.text  # the value in force still shown
    assert [x["token"] for x in f.calls if x["method"] == "PUT"] == ["tok-li", "tok-li"]


def test_a_department_officer_is_refused_and_nobody_signed_in_goes_to_the_sign_in() -> None:
    f = fake()
    dept = client(f, signed_in("dept_officer"))
    assert dept.get(PAGE).status_code == 403
    assert dept.post(PAGE, data={"csrf_token": CSRF, "none": "on"}).status_code == 403
    auditor = client(f, signed_in("auditor"))
    assert auditor.get(PAGE).status_code == 403  # the OGI office's pages are O and H only
    anonymous = client(f, None).get(PAGE)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login?next=/work/ogi/settings/sms")
    assert f.calls == []


def test_a_post_without_the_csrf_token_is_refused() -> None:
    f = fake()
    assert client(f, HEAD).post(PAGE, data={"none": "on"}).status_code == 403
    assert [x for x in f.calls if x["method"] == "PUT"] == []


def test_both_routes_are_in_the_web_access_table_for_the_ogi_office() -> None:
    from fastapi import FastAPI

    from contracts.access import WEB_ROUTES
    from services.web.app import ROUTERS, served_routes

    app = FastAPI()
    app.include_router(sms_settings.router)
    mine = {k for k in served_routes(app) if k[1].startswith("/work/")}
    assert mine == {("GET", PAGE), ("POST", PAGE)} and mine <= set(WEB_ROUTES)
    for key in mine:
        assert set(WEB_ROUTES[key].roles) == {"ogi_officer", "ogi_head"}
    assert "sms_settings" in ROUTERS
