"""The applicant portal in-process, with a fake of the other services' HTTP APIs."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from services.web import portal
from services.web.app import build

NUMBER = "YN-20261202-00001"
CODE = "ABCD1234EFGH"
ACCEPTED = {"case_id": "c1", "tracking_number": NUMBER, "query_code": CODE, "received_on": "2026-12-02",
            "receipt_rule": "网上申请：以双方确认之日为收到申请之日", "message": "您的申请已登记。", "webhook_secret": None}
TIMELINE = {"tracking_number": NUMBER, "status": "办理中", "steps": [
    {"time": "2026-12-02T09:00:00+08:00", "step": "申请已登记", "detail": f"受理编号 {NUMBER}，收到申请之日 2026-12-02"},
    {"time": "2026-12-02T09:00:05+08:00", "step": "已发送登记通知", "detail": "通知方式：电子邮件"},
    {"time": "2026-12-02T09:00:06+08:00", "step": "已分送承办部门办理"},
    {"time": "2026-12-03T02:00:00+00:00", "step": "已发出补正通知", "detail": "请于 2026-12-20 前补正"}]}
DEADLINE = {"tracking_number": NUMBER, "as_of": "2026-12-03", "workdays_left": None, "explanation": {
    "due_on": None, "provisional": False, "text_zh": "收到申请之日：2026年12月2日。\n逐日计算：\n  2026年12月3日：计入，第1个工作日",
    "correction": {"issued_on": "2026-12-03", "items": ["请写明文件的年份", "请提供身份证明"], "due_on": "2026-12-20",
                   "received_on": None, "late_reason": None}}}


class FakeBackends:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str, dict[str, Any]]] = []
        self.answers: dict[tuple[str, str], httpx.Response] = {}

    def answer(self, method: str, path: str, status: int, body: Any = None, **kw: Any) -> None:  # noqa: ANN401
        self.answers[(method, path)] = httpx.Response(status, json=body, **kw) if body is not None else httpx.Response(status, **kw)

    async def request(self, method: str, service: str, path: str, **kw: Any) -> httpx.Response:  # noqa: ANN401
        self.calls.append((method, service, path, kw))
        return self.answers.get((method, path), httpx.Response(404, json={"detail": "受理编号或查询码不正确"}))

    async def get(self, service: str, path: str, **kw: Any) -> httpx.Response:  # noqa: ANN401
        return await self.request("GET", service, path, **kw)

    async def post(self, service: str, path: str, **kw: Any) -> httpx.Response:  # noqa: ANN401
        return await self.request("POST", service, path, **kw)

    async def close(self) -> None:
        pass


@pytest.fixture
async def web():
    app = build()
    fake = FakeBackends()
    app.state.backends = fake
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://web") as client:
        page = (await client.get("/apply")).text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        client.token = token  # type: ignore[attr-defined]
        yield Client(client), fake


class Client:
    """Posts forms with the CSRF token of the anonymous visitor's cookie (as a browser would)."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def get(self, url: str, **kw: Any) -> httpx.Response:  # noqa: ANN401
        return await self.client.get(url, **kw)

    async def post(self, url: str, data: dict[str, str], csrf: bool = True, **kw: Any) -> httpx.Response:  # noqa: ANN401
        return await self.client.post(url, data=data | ({"csrf_token": self.client.token} if csrf else {}), **kw)


FORM = {"applicant.type": "natural_person", "applicant.name": "张三", "applicant.id_type": "resident_id_card",
        "applicant.id_number": "11010519491231002X", "contact.phone": "", "contact.email": "zhang@example.cn",
        "contact.address": "", "contact.postcode": "", "description": "2025年度财政预算执行情况报告",
        "delivery.form": "electronic", "delivery.method": "email"}


async def test_guide_and_form_render_with_labels_tied_to_inputs(web):
    client, _ = web
    guide = await client.get("/")
    assert guide.status_code == 200 and "信访" in guide.text and "第三十三条" in guide.text and "10 件" in guide.text
    page = (await client.get("/apply")).text
    for name in portal.FIELDS:
        fid = portal.field_id(name)
        assert f'<label for="{fid}"' in page and f'id="{fid}" name="{name}"' in page, name
    assert 'method="post" action="/apply"' in page


async def test_intake_errors_are_shown_next_to_their_fields_with_values_kept(web):
    client, fake = web
    fake.answer("POST", "/applications", 422, {"detail": "提交的内容有误", "errors": [
        {"field": "applicant.id_number", "message": "居民身份证号码无效", "type": "value_error"},
        {"field": "contact.email", "message": "选择电子邮件获取信息的，须填写电子邮箱", "type": "value_error"},
        {"field": "agency_code", "message": "本机关不受理该机关的申请", "type": "value_error"}]})
    r = await client.post("/apply", data=FORM | {"applicant.id_number": "110105194912310021"})
    assert r.status_code == 422
    body = fake.calls[-1][3]["json"]
    assert body["applicant"]["id_number"] == "110105194912310021" and "phone" not in body["contact"]
    assert body["delivery"] == {"form": "electronic", "method": "email"}
    page = r.text
    m = re.search(r'<input id="f-applicant-id-number"[^>]*>', page, re.S)
    assert m and 'aria-describedby="f-applicant-id-number-error"' in m.group(0) and 'aria-invalid="true"' in m.group(0)
    assert 'value="110105194912310021"' in m.group(0)
    assert re.search(r'id="f-applicant-id-number-error">居民身份证号码无效<', page)
    assert re.search(r'id="f-contact-email-error">选择电子邮件获取信息的，须填写电子邮箱<', page)
    assert "本机关不受理该机关的申请" in page  # no input of its own: in the summary
    assert 'value="张三"' in page and "2025年度财政预算执行情况报告" in page


async def test_accepted_application_redirects_to_a_receipt_shown_once(web):
    client, fake = web
    fake.answer("POST", "/applications", 201, ACCEPTED)
    r = await client.post("/apply", data=FORM)
    assert r.status_code == 303 and r.headers["location"] == f"/receipt/{NUMBER}"
    assert CODE not in r.headers["location"]
    cookie = r.headers["set-cookie"]
    assert "httponly" in cookie.lower() and "path=/receipt" in cookie.lower()
    receipt = await client.get(r.headers["location"])
    assert receipt.status_code == 200 and CODE in receipt.text and NUMBER in receipt.text
    assert "20 个工作日" in receipt.text and "受理回执" in receipt.text and "2026-12-02" in receipt.text
    assert all(call[1] != "reply" for call in fake.calls)  # not routed yet: no failed attempt at reply
    assert receipt.headers["cache-control"] == "no-store"
    client.client.cookies.set(portal.RECEIPT_COOKIE, cookie.split(";")[0].split("=", 1)[1], path="/receipt")
    again = await client.get(f"/receipt/{NUMBER}")
    assert again.status_code == 404 and CODE not in again.text


async def test_status_shows_steps_deadline_explanation_notices_and_correction(web):
    client, fake = web
    fake.answer("GET", f"/public/cases/{NUMBER}/timeline", 200, TIMELINE)
    fake.answer("GET", f"/public/cases/{NUMBER}/deadline", 200, DEADLINE)
    r = await client.post("/status", data={"tracking_number": NUMBER.lower(), "query_code": CODE})
    assert r.status_code == 200
    # audit's timeline, then reply's deadline, the case's documents (issue #11) and their service (#17).
    assert [c[1] for c in fake.calls] == ["audit", "reply", "reply", "reply"]
    assert [c[2] for c in fake.calls[-2:]] == [f"/public/cases/{NUMBER}/documents", f"/public/cases/{NUMBER}/service"]
    for call in fake.calls:
        assert call[3]["params"] == {"query_code": CODE} and call[2].startswith(f"/public/cases/{NUMBER}/")
        assert call[3]["headers"] == {"X-Forwarded-For": "127.0.0.1"}
    page = r.text
    assert "申请已登记" in page and "已发出补正通知" in page and "第1个工作日" in page
    assert "2026-12-03 10:00" in page  # China time
    assert "请写明文件的年份" in page and "请提供身份证明" in page and "2026-12-20" in page
    assert re.search(r'<ul id="notices">\s*<li>已发送登记通知', page)
    assert "下载答复书" not in page  # not replied yet
    fake.calls.clear()
    unrouted = {**TIMELINE, "steps": TIMELINE["steps"][:2]}
    fake.answer("GET", f"/public/cases/{NUMBER}/timeline", 200, unrouted)
    page = (await client.post("/status", data={"tracking_number": NUMBER, "query_code": CODE})).text
    assert [c[1] for c in fake.calls] == ["audit"] and "答复期限正在计算" in page


async def test_status_refusals_are_tied_to_the_fields(web):
    client, fake = web
    r = await client.post("/status", data={"tracking_number": NUMBER, "query_code": ""})
    assert r.status_code == 422 and 'aria-describedby="query_code-error"' in r.text and not fake.calls
    fake.answer("GET", f"/public/cases/{NUMBER}/timeline", 422, {"detail": "x", "errors": [
        {"field": "query_code", "message": "查询码格式不正确", "type": "string_pattern_mismatch"}]})
    r = await client.post("/status", data={"tracking_number": NUMBER, "query_code": "12"})
    assert r.status_code == 422 and 'id="query_code-error">查询码格式不正确<' in r.text
    fake.answer("GET", f"/public/cases/{NUMBER}/timeline", 404, {"detail": "受理编号或查询码不正确"})
    r = await client.post("/status", data={"tracking_number": NUMBER, "query_code": CODE})
    assert r.status_code == 404 and "受理编号或查询码不正确" in r.text and CODE not in r.text
    assert 'id="query_code" name="query_code" type="text" value=""' in r.text and 'aria-describedby="form-error"' in r.text
    fake.answer("GET", f"/public/cases/{NUMBER}/timeline", 429, {"detail": "查询码错误次数过多，请约 15 分钟后再试"},
                headers={"Retry-After": "900"})
    r = await client.post("/status", data={"tracking_number": NUMBER, "query_code": CODE})
    assert r.status_code == 429 and "15 分钟" in r.text


async def test_replied_case_offers_the_pdf_through_a_post_form(web):
    client, fake = web
    fake.answer("GET", f"/public/cases/{NUMBER}/timeline", 200, TIMELINE | {"status": "已办结"})
    fake.answer("GET", f"/public/cases/{NUMBER}/deadline", 200, DEADLINE)
    fake.answer("GET", f"/public/cases/{NUMBER}/reply.pdf", 200, None, content=b"%PDF-1.7 test",
                headers={"content-type": "application/pdf", "content-disposition": "attachment; filename=r.pdf"})
    page = (await client.post("/status", data={"tracking_number": NUMBER, "query_code": CODE})).text
    assert 'action="/status/reply.pdf"' in page and "第1个工作日" in page
    pdf = await client.post("/status/reply.pdf", data={"tracking_number": NUMBER, "query_code": CODE})
    assert pdf.status_code == 200 and pdf.content == b"%PDF-1.7 test"
    assert pdf.headers["content-type"] == "application/pdf"


async def test_forms_carry_and_need_the_csrf_token(web):
    client, fake = web
    fake.answer("POST", "/applications", 201, ACCEPTED)
    assert (await client.post("/apply", data=FORM, csrf=False)).status_code == 403
    assert (await client.post("/status", data={"tracking_number": NUMBER, "query_code": CODE}, csrf=False)).status_code == 403
    assert not fake.calls
    assert (await client.post("/apply", data=FORM)).status_code == 303
    css = await client.get("/portal.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css") and b".error-summary" in css.content
