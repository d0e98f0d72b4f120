"""The pages of issue #17 in-process, with fakes of the other services' APIs: the applicant's choice
of notice channels (application form, clerk entry), the date of service and the remedy deadlines on
the status page, and the workbench's 「送达」 section (post: dispatch, signed for, returned; handover
at the window), its htmx and plain forms, the API's refusals shown in place, the PDFs passed on,
and who may use them (a department officer and no session are refused)."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.web.test_auth import PUBLIC, FakeIdp, env, idp, make_app, sign_in  # noqa: F401
from tests.web.test_ogi_pages import CASE, CSRF, HEAD, OFFICER, FakeBackends, assert_every_post_form_has_csrf, client_for, fake, forms  # noqa: F401
from tests.web.test_portal import CODE, DEADLINE, FORM, NUMBER, TIMELINE, web  # noqa: F401

# ---------------------------------------------------------------------------- the application form


async def test_the_form_offers_email_and_sms_with_what_a_text_carries(web) -> None:  # noqa: F811
    client, _ = web
    page = (await client.get("/apply")).text
    group = re.search(r'<fieldset class="field checks[^"]*" id="f-contact-notify-by".*?</fieldset>', page, re.S).group(0)
    assert "通知方式" in group and "短信只含受理编号和办理环节，不含个人信息" in group and "夜间不发送" in group
    assert re.search(r'<input type="checkbox" id="f-contact-notify-by-email" name="contact.notify_by" value="email"', group)
    assert re.search(r'<input type="checkbox" id="f-contact-notify-by-sms" name="contact.notify_by" value="sms"', group)
    assert 'label class="check" for="f-contact-notify-by-sms"' in group and "手机短信" in group
    assert "checked" not in group  # none ticked: intake's default (e-mail when an address is given)


async def test_the_channels_ticked_go_to_intake_as_a_list(web) -> None:  # noqa: F811
    client, fake = web
    fake.answer("POST", "/applications", 201, {"case_id": "c1", "tracking_number": NUMBER, "query_code": CODE,
                                              "received_on": "2026-12-02", "receipt_rule": "x", "message": "ok"})
    form = {**FORM, "contact.phone": "13987654321"}
    r = await client.client.post("/apply", data={**form, "contact.notify_by": ["sms", "email"],
                                                 "csrf_token": client.client.token})
    assert r.status_code == 303
    assert fake.calls[-1][3]["json"]["contact"] == {"phone": "13987654321", "email": "zhang@example.cn",
                                                    "notify_by": ["sms", "email"]}
    await client.post("/apply", data=form)
    assert "notify_by" not in fake.calls[-1][3]["json"]["contact"]  # none ticked: left out


async def test_intakes_refusal_of_sms_without_a_mobile_is_shown_at_the_phone_with_the_choice_kept(web) -> None:  # noqa: F811
    client, fake = web
    fake.answer("POST", "/applications", 422, {"detail": "提交的内容有误", "errors": [
        {"field": "contact.phone", "message": "选择短信通知的，须填写手机号码", "type": "value_error"}]})
    r = await client.client.post("/apply", data={**FORM, "contact.phone": "0871-65432101", "contact.notify_by": "sms",
                                                 "csrf_token": client.client.token})
    assert r.status_code == 422
    page = r.text
    assert re.search(r'id="f-contact-phone-error">选择短信通知的，须填写手机号码<', page)
    phone = re.search(r'<input id="f-contact-phone"[^>]*>', page, re.S).group(0)
    assert 'aria-invalid="true"' in phone and "f-contact-phone-error" in phone and 'value="0871-65432101"' in phone
    assert re.search(r'id="f-contact-notify-by-sms" name="contact.notify_by" value="sms" checked', page)
    assert not re.search(r'id="f-contact-notify-by-email"[^>]*checked', page)
    assert '<a href="#f-contact-phone">选择短信通知的，须填写手机号码</a>' in page  # the summary links to it


async def test_an_error_about_the_channels_themselves_is_shown_at_the_group(web) -> None:  # noqa: F811
    client, fake = web
    fake.answer("POST", "/applications", 422, {"detail": "提交的内容有误", "errors": [
        {"field": "contact.notify_by.0", "message": "取值无效，可选值为：'email' 或 'sms'", "type": "literal_error"}]})
    r = await client.client.post("/apply", data={**FORM, "contact.notify_by": "fax", "csrf_token": client.client.token})
    assert r.status_code == 422
    group = re.search(r'<fieldset class="field checks has-error" id="f-contact-notify-by"[^>]*>.*?</fieldset>', r.text, re.S)
    assert group and "取值无效" in group.group(0) and 'aria-describedby="f-contact-notify-by-hint f-contact-notify-by-error"' in group.group(0)
    assert '<a href="#f-contact-notify-by">' in r.text


# ---------------------------------------------------------------------------- the status page

ROUTED = TIMELINE | {"status": "已办结"}
REPLY_DOC = {"document_id": "d-9", "kind": "reply", "title": "政府信息公开申请答复书", "seq": 1, "sha256": "ab" * 32,
             "size": 2048, "issued_on": "2026-12-20", "addressee": "applicant"}
SERVICE = {"tracking_number": NUMBER, "documents": [  # as services/reply/service_store.py shows it (public)
    {"document_id": "d-9", "kind": "consolidated_reply", "title": "政府信息公开申请答复书", "issued_on": "2026-12-20",
     "served": {"channel": "post", "channel_label": "邮寄送达", "served_on": "2026-12-23"}, "remedies": None},
    {"document_id": "d-8", "kind": "acceptance_receipt", "title": "受理回执", "issued_on": "2026-12-02", "served": None,
     "remedies": None}],
    "remedies": {"document_id": "d-9", "served_on": "2026-12-23", "review_deadline": "2027-02-21",
                 "lawsuit_deadline": "2027-06-23", "provisional": False,
                 "review_explanation_zh": "《中华人民共和国行政复议法》第二十条：自知道该行政行为之日起六十日内；届满日：x",
                 "lawsuit_explanation_zh": "《中华人民共和国行政诉讼法》第四十六条：六个月内；届满日：y",
                 "counting_zh": "送达当日不计入"}}


def status_answers(fake, service_status: int = 200, service: Any = SERVICE) -> None:  # noqa: ANN001, ANN401
    fake.answer("GET", f"/public/cases/{NUMBER}/timeline", 200, ROUTED)
    fake.answer("GET", f"/public/cases/{NUMBER}/deadline", 200, DEADLINE)
    fake.answer("GET", f"/public/cases/{NUMBER}/documents", 200, {"tracking_number": NUMBER, "documents": [REPLY_DOC]})
    fake.answer("GET", f"/public/cases/{NUMBER}/service", service_status, service)


async def test_the_status_page_shows_the_date_and_way_of_service_and_the_remedy_deadlines(web) -> None:  # noqa: F811
    client, fake = web
    status_answers(fake)
    r = await client.post("/status", data={"tracking_number": NUMBER, "query_code": CODE})
    assert r.status_code == 200
    page = r.text
    item = re.search(r'<li id="document-d-9">.*?</li>', page, re.S).group(0)
    assert re.search(r"<dt>送达日期</dt><dd[^>]*>2026年12月23日</dd>", item)
    assert re.search(r"<dt>送达方式</dt><dd[^>]*>邮寄送达</dd>", item)
    assert "政府信息公开申请答复书：2026年12月23日，邮寄送达" in page
    assert 'id="served-d-8"' not in page  # not served yet: not listed
    assert re.search(r"申请行政复议截止：<strong>2027年2月21日</strong></li>", page)
    assert re.search(r"提起行政诉讼截止：<strong>2027年6月23日</strong></li>", page)
    assert "（暂定）" not in page
    explained = re.search(r'<details id="remedies-explanation">.*?</details>', page, re.S).group(0)
    assert "行政复议法》第二十条" in explained and "第四十六条" in explained and "送达当日不计入" in explained
    (call,) = [c for c in fake.calls if c[2].endswith("/service")]
    assert call[1] == "reply" and call[3]["params"] == {"query_code": CODE}  # as the other public reads
    assert call[3]["headers"] == {"X-Forwarded-For": "127.0.0.1"}


async def test_provisional_remedy_deadlines_say_so(web) -> None:  # noqa: F811
    client, fake = web
    status_answers(fake, service={**SERVICE, "remedies": {**SERVICE["remedies"], "provisional": True}})
    page = (await client.post("/status", data={"tracking_number": NUMBER, "query_code": CODE})).text
    assert re.search(r"申请行政复议截止：<strong>2027年2月21日</strong>（暂定）", page)
    assert re.search(r"提起行政诉讼截止：<strong>2027年6月23日</strong>（暂定）", page)
    assert "部分节假日安排尚未录入" in page


@pytest.mark.parametrize("status", [404, 429, 500, 503])
async def test_a_failing_service_read_does_not_break_the_page(web, status: int) -> None:  # noqa: F811
    client, fake = web
    status_answers(fake, status, {"detail": "查询码错误次数过多，请约 5 分钟后再试"})
    r = await client.post("/status", data={"tracking_number": NUMBER, "query_code": CODE})
    assert r.status_code == 200
    assert "政府信息公开申请答复书" in r.text and "申请已登记" in r.text  # the rest of the page is there
    assert "送达情况暂时无法显示" in r.text and "申请行政复议截止" not in r.text and "<dt>送达日期</dt>" not in r.text


async def test_reply_out_of_reach_for_the_service_read_does_not_break_the_page(web) -> None:  # noqa: F811
    client, fake = web
    status_answers(fake)
    inner = fake.request

    async def request(method: str, service: str, path: str, **kw: Any) -> httpx.Response:  # noqa: ANN401
        if path.endswith("/service"):
            raise httpx.ConnectError("refused")
        return await inner(method, service, path, **kw)

    fake.request = request
    r = await client.post("/status", data={"tracking_number": NUMBER, "query_code": CODE})
    assert r.status_code == 200 and "送达情况暂时无法显示" in r.text and "答复书" in r.text


async def test_nothing_served_yet_shows_no_service_section(web) -> None:  # noqa: F811
    client, fake = web
    status_answers(fake, service={"tracking_number": NUMBER, "documents": [], "remedies": None})
    page = (await client.post("/status", data={"tracking_number": NUMBER, "query_code": CODE})).text
    assert 'id="service"' not in page and "<dt>送达日期</dt>" not in page and "政府信息公开申请答复书" in page


# ---------------------------------------------------------------------------- clerk entry


def test_the_clerk_form_records_the_applicants_channels(fake: FakeBackends) -> None:  # noqa: F811
    fake.on("POST", "intake", "/clerk/applications", 422, {"detail": "提交的内容有误", "errors": [
        {"field": "contact.phone", "message": "选择短信通知的，须填写手机号码", "type": "value_error"}]})
    c = client_for(fake, OFFICER)
    form = c.get("/work/ogi/clerk").text
    assert 'name="contact.notify_by" value="sms"' in form and "夜间不发送" in form
    r = c.post("/work/ogi/clerk", data={"csrf_token": CSRF, "channel": "window", "applicant.name": "张三",
                                        "applicant.id_number": "11010519491231002X", "contact.address": "某村",
                                        "contact.notify_by": ["sms", "sms"], "description": "请公开某文件"})
    assert r.status_code == 422
    assert fake.posts()[0]["json"]["contact"] == {"address": "某村", "notify_by": ["sms"]}
    assert 'id="f-contact-phone-error">选择短信通知的，须填写手机号码' in r.text
    assert re.search(r'id="f-contact-notify_by-sms" name="contact.notify_by" value="sms" checked', r.text)
    assert not re.search(r'id="f-contact-notify_by-email"[^>]*checked', r.text)
    c.post("/work/ogi/clerk", data={"csrf_token": CSRF, "channel": "window", "contact.address": "某村"})
    assert "notify_by" not in fake.posts()[1]["json"]["contact"]


# ---------------------------------------------------------------------------- the workbench's 「送达」 section

DOCS = [
    {"document_id": "d-1", "kind": "acceptance_receipt", "title": "受理回执", "issued_on": "2026-12-01",
     "served": {"channel": "email", "channel_label": "电子邮件", "served_on": "2026-12-01",
                "served_at": "2026-12-01T02:00:00+00:00", "basis": "申请人的邮件服务器已接收"}, "facts": []},
    {"document_id": "d-9", "kind": "reply", "title": "政府信息公开申请答复书", "issued_on": "2026-12-20", "served": None,
     "facts": []},
]
OPEN = {"dispatch_id": "p-1", "document_ids": ["d-9"], "carrier": "中国邮政", "postal_tracking_number": "1180123456789",
        "sent_on": "2026-12-21", "status": "sent", "signed_on": None, "signed_by": None, "returned_on": None,
        "reason": None, "recorded_by": "公开办tok-officer"}
SERVICE_VIEW = {"case_id": CASE, "tracking_number": "GK-2026-000001", "delivery_method": "post", "documents": DOCS,
                "dispatches": [OPEN], "handovers": [], "remedies": None, "unserved": ["d-9"]}
SIGNED = {**OPEN, "status": "signed", "signed_on": "2026-12-23", "signed_by": "张三"}
SERVED_VIEW = {**SERVICE_VIEW, "dispatches": [SIGNED], "unserved": [],
               "documents": [DOCS[0], {**DOCS[1], "served": {"channel": "post", "channel_label": "邮寄", "served_on": "2026-12-23",
                                                             "served_at": None, "basis": "邮件签收日期"}}],
               "remedies": {"document_id": "d-9", "served_on": "2026-12-23", "review_deadline": "2027-02-21",
                            "lawsuit_deadline": "2027-06-23", "provisional": True}}
PATH = f"/cases/{CASE}/service"
HTMX = {"HX-Request": "true"}


def section(html: str) -> str:
    return re.search(r'<section class="card" id="service".*?</section>', html, re.S).group(0)


def test_the_case_page_shows_each_documents_service_and_the_open_dispatchs_forms(fake: FakeBackends) -> None:  # noqa: F811
    fake.on("GET", "reply", PATH, 200, SERVICE_VIEW)
    html = client_for(fake, OFFICER).get(f"/work/ogi/cases/{CASE}").text
    s = section(html)
    assert re.search(r'<tr id="service-doc-d-1"><td>受理回执</td><td>2026-12-01</td>\s*<td>2026年12月1日，电子邮件</td>', s)
    assert "申请人的邮件服务器已接收" in s
    assert re.search(r'<tr id="service-doc-d-9">.*?未送达', s, re.S)
    assert "答复书尚未送达" in s and "申请人选择的获取方式：邮寄" in s
    assert "中国邮政 1180123456789" in s and "已寄出" in s
    assert f'href="/work/ogi/cases/{CASE}/postal-dispatches/p-1/proof-of-service.pdf"' in s
    assert f'href="/work/ogi/cases/{CASE}/postal-dispatches/p-1/label.pdf"' in s
    for action in ("postal-dispatches/p-1/signed", "postal-dispatches/p-1/returned", "postal-dispatches", "handovers"):
        assert re.search(rf'<form method="post" action="/work/ogi/cases/{CASE}/{action}"[^>]*\s+hx-post="/work/ogi/cases/'
                         rf'{CASE}/{action}" hx-target="#service" hx-swap="outerHTML"', s), action
    # The reply is in the post (not served, not ticked again); the receipt served; nothing ticked.
    assert re.search(r'<tr id="service-doc-d-9">.*?未送达</span> 2026-12-21 已寄出，待签收', s, re.S)
    assert re.search(r'id="dispatch-doc-d-9" name="document_ids" value="d-9">[^<]*<span class="tag">邮寄中', s)
    assert re.search(r'id="dispatch-doc-d-1" name="document_ids" value="d-1">[^<]*<span class="tag">已送达', s)
    assert 'name="carrier" value="中国邮政"' in s
    assert re.search(r'<input type="checkbox" id="handover-signed" name="signature_recorded" value="true" required', s)
    assert "受送达人已在送达回证上签名" in s
    assert_every_post_form_has_csrf(s)
    assert [c["token"] for c in fake.calls if c["path"] == PATH] == ["tok-officer"]
    assert 'href="#service"' in html


def test_served_documents_show_the_remedy_deadlines_and_a_closed_dispatch_has_no_forms(fake: FakeBackends) -> None:  # noqa: F811
    fake.on("GET", "reply", PATH, 200, SERVED_VIEW)
    s = section(client_for(fake, OFFICER).get(f"/work/ogi/cases/{CASE}").text)
    assert re.search(r"<dt>申请行政复议截止</dt><dd[^>]*>2027年2月21日（暂定）</dd>", s)
    assert re.search(r"<dt>提起行政诉讼截止</dt><dd[^>]*>2027年6月23日（暂定）</dd>", s)
    assert "<dt>答复书送达日期</dt><dd>2026年12月23日</dd>" in s
    assert "2026-12-23 由 张三 签收" in s and "已签收" in s
    assert "/postal-dispatches/p-1/signed" not in s and "/postal-dispatches/p-1/returned" not in s
    assert "邮件签收日期" in s


@pytest.mark.parametrize("status", [404, 503])
def test_the_case_page_without_the_service_read_still_works(fake: FakeBackends, status: int) -> None:  # noqa: F811
    fake.on("GET", "reply", PATH, status, {"detail": "答复服务暂时不可用，请稍后重试"})
    r = client_for(fake, OFFICER).get(f"/work/ogi/cases/{CASE}")
    assert r.status_code == 200 and "时间线" in r.text and "五问记录" in r.text
    s = section(r.text)
    assert 'id="service-unavailable"' in s and "<form" not in s


def test_a_dispatch_is_recorded_with_the_officers_token_and_a_plain_form_goes_back(fake: FakeBackends) -> None:  # noqa: F811
    fake.on("POST", "reply", f"/cases/{CASE}/postal-dispatches", 201, {"dispatch_id": "p-2"})
    r = client_for(fake, OFFICER).post(f"/work/ogi/cases/{CASE}/postal-dispatches", data={
        "csrf_token": CSRF, "document_ids": ["d-9", "d-1"], "carrier": "", "postal_tracking_number": " 1180123456789 ",
        "sent_on": "2026-12-21"})
    assert r.status_code == 303 and r.headers["location"] == f"/work/ogi/cases/{CASE}?done=dispatch#service"
    (call,) = fake.posts()
    assert call["token"] == "tok-officer" and call["service"] == "reply"
    assert call["json"] == {"document_ids": ["d-9", "d-1"], "carrier": "中国邮政",
                            "postal_tracking_number": "1180123456789", "sent_on": "2026-12-21"}


def test_an_htmx_dispatch_gets_the_section_back_updated(fake: FakeBackends) -> None:  # noqa: F811
    fake.on("POST", "reply", f"/cases/{CASE}/postal-dispatches", 201, {"dispatch_id": "p-1"})
    fake.on("GET", "reply", PATH, 200, SERVICE_VIEW)
    r = client_for(fake, OFFICER).post(f"/work/ogi/cases/{CASE}/postal-dispatches", headers=HTMX, data={
        "csrf_token": CSRF, "document_ids": "d-9", "carrier": "中国邮政", "postal_tracking_number": "1180123456789",
        "sent_on": "2026-12-21"})
    assert r.status_code == 200 and r.headers["vary"] == "HX-Request, HX-History-Restore-Request"
    assert r.text.lstrip().startswith("<section") and "<html" not in r.text  # the section alone
    assert re.search(r'<p class="ok" role="status" id="service-done"[^>]*>已登记邮寄</p>', r.text)
    assert "中国邮政 1180123456789" in r.text
    assert [c["path"] for c in fake.calls] == [f"/cases/{CASE}/postal-dispatches", PATH]  # read again after


@pytest.mark.parametrize("htmx", [True, False])
def test_the_apis_field_messages_are_shown_next_to_the_fields_with_the_values_kept(fake: FakeBackends, htmx: bool) -> None:  # noqa: F811
    fake.on("GET", "reply", PATH, 200, SERVICE_VIEW)
    fake.on("POST", "reply", f"/cases/{CASE}/postal-dispatches", 422, {"detail": "提交的内容有误，请按提示修改后重新提交", "errors": [
        {"field": "postal_tracking_number", "message": "邮件号格式不正确", "type": "value_error"},
        {"field": "sent_on", "message": "寄出日期不得早于文书出具日期（2026-12-20）", "type": "value_error"},
        {"field": "document_ids.0", "message": "该文书不是发给申请人的", "type": "value_error"}]})
    r = client_for(fake, OFFICER).post(f"/work/ogi/cases/{CASE}/postal-dispatches", headers=HTMX if htmx else {}, data={
        "csrf_token": CSRF, "document_ids": "d-1", "carrier": "顺丰速运", "postal_tracking_number": "x1",
        "sent_on": "2026-12-01"})
    assert r.status_code == 422
    assert ("<html" in r.text) is not htmx
    s = section(r.text)
    assert re.search(r'<p class="error" id="err-dispatch-postal_tracking_number">邮件号格式不正确</p>\s*'
                     r'<input id="dispatch-number" name="postal_tracking_number" value="x1"[^>]*aria-invalid="true" '
                     r'aria-describedby="err-dispatch-postal_tracking_number"', s)
    assert re.search(r'id="err-dispatch-sent_on">寄出日期不得早于文书出具日期（2026-12-20）</p>\s*<input id="dispatch-sent-on" '
                     r'name="sent_on" type="date" value="2026-12-01"', s)
    assert 'id="err-dispatch-document_ids">该文书不是发给申请人的' in s
    assert re.search(r'id="dispatch-doc-d-1" name="document_ids" value="d-1" checked', s)  # as ticked, not the default
    assert not re.search(r'id="dispatch-doc-d-9"[^>]*checked', s)
    assert 'name="carrier" value="顺丰速运"' in s
    assert "提交的内容有误，请按各项提示修改后重新提交" in s and 'role="alert"' in s
    # The handover form beside it keeps its defaults (the errors are the dispatch form's).
    assert not re.search(r'id="handover-doc-d-1"[^>]*checked', s) and "err-handover" not in s


def test_fastapis_own_422_shape_is_understood_too(fake: FakeBackends) -> None:  # noqa: F811
    fake.on("GET", "reply", PATH, 200, SERVICE_VIEW)
    fake.on("POST", "reply", f"/cases/{CASE}/postal-dispatches/p-1/signed", 422, {"detail": [
        {"loc": ["body", "signed_by"], "msg": "请填写签收人", "type": "missing"},
        {"loc": ["body"], "msg": "签收日期不得早于寄出日期", "type": "value_error"}]})
    r = client_for(fake, OFFICER).post(f"/work/ogi/cases/{CASE}/postal-dispatches/p-1/signed", headers=HTMX,
                                       data={"csrf_token": CSRF, "signed_on": "2026-12-20", "signed_by": ""})
    assert r.status_code == 422
    assert 'id="err-signed-p-1-signed_by">请填写签收人</p>' in r.text
    assert re.search(r'role="alert"[^>]*><strong>未能登记：</strong>签收日期不得早于寄出日期</p>', r.text)
    assert fake.posts()[0]["json"] == {"signed_on": "2026-12-20"}  # no signer given: left out (optional)


@pytest.mark.parametrize("htmx", [True, False])
def test_a_409_is_shown_as_a_message_never_a_500(fake: FakeBackends, htmx: bool) -> None:  # noqa: F811
    fake.on("GET", "reply", PATH, 200, SERVICE_VIEW)
    fake.on("POST", "reply", f"/cases/{CASE}/postal-dispatches/p-1/returned", 409, {"detail": "该邮件已登记签收，不能再登记退回"})
    r = client_for(fake, OFFICER).post(f"/work/ogi/cases/{CASE}/postal-dispatches/p-1/returned",
                                       headers=HTMX if htmx else {},
                                       data={"csrf_token": CSRF, "returned_on": "2026-12-24", "reason": "addressee_unknown",
                                             "note": "村委会称已外出务工"})
    assert r.status_code == 409
    s = section(r.text)
    assert re.search(r'<form method="post" action="/work/ogi/cases/case-1/postal-dispatches/p-1/returned".*?'
                     r'未能登记：</strong>该邮件已登记签收，不能再登记退回', s, re.S)
    # What was chosen and typed is kept: the reason code selected, the note in its field.
    assert '<option value="addressee_unknown" selected>查无此人</option>' in s
    assert 'name="note" value="村委会称已外出务工"' in s
    assert fake.posts()[0]["json"] == {"returned_on": "2026-12-24", "reason": "addressee_unknown",
                                       "note": "村委会称已外出务工"}


def test_an_unreachable_reply_service_is_a_message_too(fake: FakeBackends) -> None:  # noqa: F811
    inner = fake.request

    async def request(method: str, service: str, path: str, **kw: Any) -> httpx.Response:  # noqa: ANN401
        if method == "POST":
            raise httpx.ConnectError("refused")
        return await inner(method, service, path, **kw)

    fake.on("GET", "reply", PATH, 200, SERVICE_VIEW)
    fake.request = request  # type: ignore[method-assign]
    r = client_for(fake, OFFICER).post(f"/work/ogi/cases/{CASE}/handovers", headers=HTMX, data={
        "csrf_token": CSRF, "document_ids": "d-9", "handed_on": "2026-12-22", "received_by": "张三",
        "signature_recorded": "true"})
    assert r.status_code == 503 and "答复服务暂时不可用" in r.text


def test_a_handover_needs_the_signature_box_and_then_goes_to_the_api(fake: FakeBackends) -> None:  # noqa: F811
    fake.on("GET", "reply", PATH, 200, SERVICE_VIEW)
    fake.on("POST", "reply", f"/cases/{CASE}/handovers", 201, {"handover_id": "h-1"})
    c = client_for(fake, OFFICER)
    r = c.post(f"/work/ogi/cases/{CASE}/handovers", headers=HTMX, data={
        "csrf_token": CSRF, "document_ids": "d-9", "handed_on": "2026-12-22", "received_by": "张三"})
    assert r.status_code == 422 and fake.posts() == []
    assert 'id="err-handover-signature_recorded">受送达人须在送达回证上签名后才能登记当面送达' in r.text
    assert 'name="received_by" value="张三"' in r.text
    r = c.post(f"/work/ogi/cases/{CASE}/handovers", data={
        "csrf_token": CSRF, "document_ids": "d-9", "handed_on": "2026-12-22", "received_by": "张三",
        "signature_recorded": "true"})
    assert r.status_code == 303 and r.headers["location"].endswith("?done=handover#service")
    assert fake.posts()[0]["json"] == {"document_ids": ["d-9"], "handed_on": "2026-12-22", "received_by": "张三",
                                       "signature_recorded": True}


def test_signed_for_goes_to_the_api(fake: FakeBackends) -> None:  # noqa: F811
    fake.on("POST", "reply", f"/cases/{CASE}/postal-dispatches/p-1/signed", 200, SIGNED)
    r = client_for(fake, HEAD).post(f"/work/ogi/cases/{CASE}/postal-dispatches/p-1/signed",
                                    data={"csrf_token": CSRF, "signed_on": "2026-12-23", "signed_by": " 张三 "})
    assert r.status_code == 303 and r.headers["location"] == f"/work/ogi/cases/{CASE}?done=signed#service"
    assert fake.posts()[0]["json"] == {"signed_on": "2026-12-23", "signed_by": "张三"} and fake.posts()[0]["token"] == "tok-head"


def test_a_form_without_the_csrf_token_sends_nothing(fake: FakeBackends) -> None:  # noqa: F811
    c = client_for(fake, OFFICER)
    for path in ("postal-dispatches", "postal-dispatches/p-1/signed", "postal-dispatches/p-1/returned", "handovers"):
        assert c.post(f"/work/ogi/cases/{CASE}/{path}", data={"document_ids": "d-9"}).status_code == 403, path
    assert fake.posts() == []


@pytest.mark.parametrize("path", ["postal-dispatches/p-1/proof-of-service.pdf", "postal-dispatches/p-1/label.pdf",
                                  "handovers/h-1/proof-of-service.pdf"])
def test_the_pdfs_are_passed_on_with_the_officers_token(fake: FakeBackends, path: str) -> None:  # noqa: F811
    fake.on("GET", "reply", f"/cases/{CASE}/{path}", 200, b"%PDF-1.7 proof", "application/pdf")
    r = client_for(fake, OFFICER).get(f"/work/ogi/cases/{CASE}/{path}")
    assert r.status_code == 200 and r.content == b"%PDF-1.7 proof" and r.headers["content-type"] == "application/pdf"
    assert r.headers["cache-control"] == "no-store" and fake.calls[-1]["token"] == "tok-officer"
    fake.on("GET", "reply", f"/cases/{CASE}/{path}", 404, {"detail": "未找到该邮寄记录"})
    r = client_for(fake, OFFICER).get(f"/work/ogi/cases/{CASE}/{path}")
    assert r.status_code == 404 and "未找到该邮寄记录" in r.text


def test_a_malformed_dispatch_id_is_not_forwarded(fake: FakeBackends) -> None:  # noqa: F811
    c = client_for(fake, OFFICER)
    assert c.get(f"/work/ogi/cases/{CASE}/postal-dispatches/a%20b/label.pdf").status_code == 404
    assert c.post(f"/work/ogi/cases/{CASE}/postal-dispatches/a%20b/signed", data={"csrf_token": CSRF}).status_code == 404
    assert fake.calls == []


# ---------------------------------------------------------------------------- who may (the real page guard)

SERVICE_ROUTES = [
    ("POST", f"/work/ogi/cases/{CASE}/postal-dispatches"),
    ("POST", f"/work/ogi/cases/{CASE}/postal-dispatches/p-1/signed"),
    ("POST", f"/work/ogi/cases/{CASE}/postal-dispatches/p-1/returned"),
    ("POST", f"/work/ogi/cases/{CASE}/handovers"),
    ("GET", f"/work/ogi/cases/{CASE}/postal-dispatches/p-1/proof-of-service.pdf"),
    ("GET", f"/work/ogi/cases/{CASE}/postal-dispatches/p-1/label.pdf"),
    ("GET", f"/work/ogi/cases/{CASE}/handovers/h-1/proof-of-service.pdf"),
]


@pytest.fixture
async def guarded(env: None, store, idp: FakeIdp, fake: FakeBackends):  # noqa: ANN001, ANN201, F811
    app = make_app(store.url, idp, routers=("ogi",))
    await app.state.auth.store.setup()
    app.state.backends = fake
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=PUBLIC) as c:
        yield c


async def test_no_session_and_a_department_officer_are_refused(guarded: httpx.AsyncClient, idp: FakeIdp,  # noqa: F811
                                                               fake: FakeBackends) -> None:  # noqa: F811
    for method, path in SERVICE_ROUTES:  # an officer's page without a session: to the sign-in
        r = await guarded.request(method, path, data={"document_ids": "d-9"} if method == "POST" else None)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next="), path
    await sign_in(guarded, idp, idp.user("zrzy-officer", ("dept_officer",), "李丽华", "zrzy"))
    page = await guarded.get("/work")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    for method, path in SERVICE_ROUTES:
        data = {"document_ids": "d-9", "csrf_token": csrf} if method == "POST" else None
        r = await guarded.request(method, path, data=data)
        assert r.status_code == 403, (path, r.status_code)
    assert fake.calls == [] or all(c["path"] == "/directory" for c in fake.calls)  # nothing reached the reply API


async def test_an_ogi_officer_signed_in_gets_through(guarded: httpx.AsyncClient, idp: FakeIdp,  # noqa: F811
                                                    fake: FakeBackends) -> None:  # noqa: F811
    await sign_in(guarded, idp)
    fake.on("GET", "reply", PATH, 200, SERVICE_VIEW)
    page = await guarded.get(f"/work/ogi/cases/{CASE}")
    assert page.status_code == 200 and "邮寄登记" in page.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    fake.on("POST", "reply", f"/cases/{CASE}/postal-dispatches", 201, {"dispatch_id": "p-2"})
    r = await guarded.post(f"/work/ogi/cases/{CASE}/postal-dispatches", data={
        "csrf_token": csrf, "document_ids": "d-9", "postal_tracking_number": "1180123456789", "sent_on": "2026-12-21"})
    assert r.status_code == 303
    (call,) = fake.posts()
    assert call["token"].count(".") == 2  # the session's access token, relayed


async def test_the_flat_shape_of_the_brief_is_read_too(web) -> None:  # noqa: F811
    client, fake = web
    status_answers(fake, service={"tracking_number": NUMBER, "documents": [
        {"document_id": "d-9", "title": "政府信息公开申请答复书", "served_on": "2026-12-23", "channel": "window",
         "channel_label": "直接送达"}], "remedies": None})
    page = (await client.post("/status", data={"tracking_number": NUMBER, "query_code": CODE})).text
    assert "政府信息公开申请答复书：2026年12月23日，直接送达" in page and "申请行政复议截止" not in page


def test_unserved_documents_not_in_the_post_are_ticked_for_a_dispatch(fake: FakeBackends) -> None:  # noqa: F811
    fake.on("GET", "reply", PATH, 200, {**SERVICE_VIEW, "dispatches": []})
    s = section(client_for(fake, OFFICER).get(f"/work/ogi/cases/{CASE}").text)
    assert re.search(r'id="dispatch-doc-d-9" name="document_ids" value="d-9" checked', s)
    assert re.search(r'id="handover-doc-d-9" name="document_ids" value="d-9" checked', s)
    assert re.search(r'id="dispatch-doc-d-1" name="document_ids" value="d-1">', s)  # served already: offered, unticked
    assert "尚未登记邮寄" in s


async def test_an_amendments_own_remedy_deadlines_are_shown_too(web) -> None:  # noqa: F811
    client, fake = web
    amended = {**SERVICE, "documents": [*SERVICE["documents"], {
        "document_id": "d-10", "kind": "reply_amendment", "title": "补充答复书", "issued_on": "2027-01-05",
        "served": {"channel": "window", "channel_label": "直接送达", "served_on": "2027-01-06"}}],
        "amendment_remedies": [{"document_id": "d-10", "served_on": "2027-01-06", "review_deadline": "2027-03-07",
                                "lawsuit_deadline": "2027-07-06", "provisional": True}]}
    status_answers(fake, service=amended)
    page = (await client.post("/status", data={"tracking_number": NUMBER, "query_code": CODE})).text
    line = re.search(r'<p class="remedy" id="amendment-remedies-d-10">.*?</p>', page, re.S).group(0)
    assert "对补充答复书（2027年1月6日送达）不服的" in line
    assert "申请行政复议截止：<strong>2027年3月7日</strong>（暂定）" in line
    assert "提起行政诉讼截止：<strong>2027年7月6日</strong>（暂定）" in line
    assert re.search(r"申请行政复议截止：<strong>2027年2月21日</strong></li>", page)  # the reply's, as before


def test_the_workbench_shows_an_amendments_remedy_deadlines(fake: FakeBackends) -> None:  # noqa: F811
    fake.on("GET", "reply", PATH, 200, {**SERVED_VIEW, "documents": [*SERVED_VIEW["documents"], {
        "document_id": "d-10", "kind": "reply_amendment", "title": "补充答复书", "issued_on": "2027-01-05",
        "served": None, "facts": []}], "amendment_remedies": [
        {"document_id": "d-10", "served_on": "2027-01-06", "review_deadline": "2027-03-07",
         "lawsuit_deadline": "2027-07-06", "provisional": False}]})
    s = section(client_for(fake, OFFICER).get(f"/work/ogi/cases/{CASE}").text)
    assert "补充答复书（2027年1月6日送达）：申请行政复议截止 2027年3月7日，提起行政诉讼截止 2027年7月6日" in s


def test_the_dates_officers_enter_default_to_todays_date_in_china_whatever_the_servers_zone() -> None:
    """At 01:30 in Beijing (17:30 UTC the day before) the form's default and maximum are China's day."""
    from datetime import UTC, datetime
    from unittest import mock

    from services.web import ui

    class Frozen(datetime):
        @classmethod
        def now(cls, tz=None):  # noqa: ANN001, ANN206
            at = datetime(2026, 12, 3, 17, 30, tzinfo=UTC)
            return at.astimezone(tz) if tz else at.replace(tzinfo=None)

    with mock.patch.object(ui, "datetime", Frozen):
        assert ui.china_today().isoformat() == "2026-12-04"


# -- a notice that is itself a decision (referral, abandonment, fee): its own deadlines ----------------

REFERRAL_REMEDIES = {"document_id": "d-5", "served_on": "2026-12-10", "review_deadline": "2027-02-08",
                     "lawsuit_deadline": "2027-06-10", "provisional": True}
REFERRAL = {"document_id": "d-5", "kind": "referral_notice", "title": "非本机关负责公开告知书", "issued_on": "2026-12-09",
            "served": {"channel": "email", "channel_label": "电子邮件送达", "served_on": "2026-12-10"},
            "remedies": REFERRAL_REMEDIES}


async def test_a_served_referral_notice_shows_its_own_deadlines_to_the_applicant(web) -> None:  # noqa: F811
    client, fake = web
    status_answers(fake, service={**SERVICE, "documents": [*SERVICE["documents"], REFERRAL]})
    page = (await client.post("/status", data={"tracking_number": NUMBER, "query_code": CODE})).text
    notice = re.search(r'<p class="remedy" id="amendment-remedies-d-5">.*?</p>', page, re.S).group(0)
    assert "对非本机关负责公开告知书（2026年12月10日送达）不服的" in notice
    assert "申请行政复议截止：<strong>2027年2月8日</strong>（暂定）" in notice
    assert "提起行政诉讼截止：<strong>2027年6月10日</strong>（暂定）" in notice


def test_a_served_referral_notice_shows_its_own_deadlines_to_the_officer(fake: FakeBackends) -> None:  # noqa: F811
    fake.on("GET", "reply", PATH, 200, {**SERVICE_VIEW, "documents": [*DOCS, {**REFERRAL, "facts": []}]})
    s = section(client_for(fake, OFFICER).get(f"/work/ogi/cases/{CASE}").text)
    assert re.search(r'<span id="ogi-notice-remedies-d-5">申请行政复议截止 2027年2月8日，提起行政诉讼截止 2027年6月10日（暂定）'
                     r'</span>', s)
    assert "ogi-notice-remedies-d-1" not in s  # the receipt decides nothing: no deadlines
