"""Issue #17's pages in a real browser against the real stack: the applicant's choice of SMS on the
form (intake's refusal of SMS without a mobile number shown at the phone field), the OGI officer
recording the post of a reply through the workbench's 「送达」 section (htmx: the section is replaced
in place; a date in the future refused by the reply API, its message next to the field; then the
signed-for date), the 送达回证 and the address label as PDFs, the remedy deadlines computed from the
date of service shown to the officer and, on the status page, to the applicant. Screenshots and
axe-core (0 serious/critical) on each state: ``<artifacts>/screenshots/service-*``."""

from __future__ import annotations

import re
import time
from datetime import date, timedelta

import pytest

from deploy.local.keycloak import realm as gen
from tests.browser import accessible, screenshots, sign_in
from tests.e2e.helpers import OGI, Client, application, eventually, tag

pytestmark = pytest.mark.e2e
DEPT = gen.home_departments(gen.load_directory())[0][0]["code"]
KEPT = "() => window.__noReload === 'kept'"


async def section_shot(page, name: str) -> None:  # noqa: ANN001
    """The 「送达」 section alone, legible (the case page is long)."""
    await page.locator("#service").screenshot(path=str(screenshots() / f"{name}-section.png"))


def china_today() -> date:
    t = time.gmtime(time.time() + 8 * 3600)
    return date(t.tm_year, t.tm_mon, t.tm_mday)


def zh(d: str) -> str:
    y, m, day = (int(x) for x in d.split("-"))
    return f"{y}年{m}月{day}日"


async def replied_case(client: Client) -> dict:
    """A case whose reply is issued (one department, answered and signed off), to be sent by post:
    the applicant asked for the information by post, so the e-mail telling them of the reply does
    not serve it (no consent to electronic service) and the reply waits for the signed-for date."""
    t = tag()
    body = application(t, departments=[DEPT], description=f"请公开{t}项目的征地补偿标准")
    body["contact"] |= {"address": "云南省某县某乡某村1号", "postcode": "650000"}
    body["delivery"] = {"form": "paper", "method": "post"}
    receipt = await client.submit(body)
    task = await client.wait_task_open(receipt["case_id"], DEPT)
    resp = await client.answer(task["task_id"], DEPT, text="现予公开该项目的征地补偿标准。")
    assert resp.status_code in (200, 201), resp.text
    await client.reply(receipt["case_id"])

    async def reply_servable() -> dict | None:
        r = await client.get("reply", f"/cases/{receipt['case_id']}/service")
        if r.status_code != 200:
            return None
        return next((d for d in r.json()["documents"] if d["kind"] == "consolidated_reply"), None)

    receipt["reply_document"] = await eventually(reply_servable, 60, what="the reply among the documents to serve")
    return receipt


async def test_sms_needs_a_mobile_number_on_the_form(page, web_url) -> None:  # noqa: ANN001
    await page.goto(web_url + "/apply")
    await page.get_by_label("姓名或组织名称").fill("赵六")
    await page.get_by_label("证件号码").fill("11010519491231002X")
    await page.get_by_label("联系电话").fill("0871-65432101")
    await page.get_by_label("通信地址").fill("云南省某县某乡某村1号")
    await page.get_by_label("所需政府信息的名称、文号或者便于查询的其他特征性描述").fill("2025年度本村征地补偿标准")
    await page.get_by_label("获取方式").select_option("post")
    await page.get_by_label("手机短信").check()
    await accessible(page, "service-apply-form")
    await page.get_by_role("button", name="提交申请").click()
    error = page.locator("#f-contact-phone-error")
    assert await error.inner_text() == "选择短信通知的，须填写手机号码"
    assert await page.get_by_label("手机短信").is_checked()  # the choice is kept
    assert "f-contact-phone-error" in (await page.get_by_label("联系电话").get_attribute("aria-describedby") or "")
    await accessible(page, "service-apply-sms-error")
    await page.get_by_label("联系电话").fill("13987654321")
    await page.get_by_role("button", name="提交申请").click()
    await page.wait_for_url(re.compile(r".*/receipt/[A-Z0-9-]+$"))
    number = (await page.locator("#tracking-number").inner_text()).strip()
    assert number


async def test_post_recorded_on_the_workbench_and_the_remedy_deadlines_shown(page, new_page, web_url, client) -> None:  # noqa: ANN001
    started = time.monotonic()
    case = await replied_case(client)
    case_id, reply_id = case["case_id"], case["reply_document"]["document_id"]
    await sign_in(page, web_url, OGI, f"/work/ogi/cases/{case_id}")
    await page.wait_for_function("() => typeof window.htmx !== 'undefined'")
    await page.evaluate("window.__noReload = 'kept'")
    section = page.locator("#service")
    row = page.locator(f"#service-doc-{reply_id}")
    assert "未送达" in await row.inner_text()
    assert "答复书尚未送达" in await section.inner_text()
    await accessible(page, "service-case-unserved")
    await section_shot(page, "service-case-unserved")

    # 邮寄登记 (htmx): the reply is ticked (not yet served); the section is replaced in place.
    dispatch = page.locator("#dispatch-form")
    assert await dispatch.locator(f"#dispatch-doc-{reply_id}").is_checked()
    assert await dispatch.get_by_label("邮政企业").input_value() == "中国邮政"
    parcel = "1180" + str(int(time.time()))[-9:]
    await dispatch.get_by_label("邮件号").fill(parcel)
    await dispatch.get_by_role("button", name="登记邮寄").click()
    await page.locator("#service-done").wait_for()
    assert await page.locator("#service-done").inner_text() == "已登记邮寄"
    assert await page.evaluate(KEPT), "the dispatch reloaded the page"
    listed = page.locator("ul.dispatches > li").first
    assert parcel in await listed.inner_text() and "已寄出" in await listed.inner_text()
    dispatch_id = (await listed.get_attribute("id")).removeprefix("dispatch-")

    # The 送达回证 and the address label, passed on by the web service with the officer's session.
    for name in ("proof-of-service", "label"):
        href = await listed.get_by_role("link", name=re.compile("送达回证" if name != "label" else "邮寄面单")).get_attribute("href")
        assert href == f"/work/ogi/cases/{case_id}/postal-dispatches/{dispatch_id}/{name}.pdf"
        pdf = await page.request.get(web_url + href)
        assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf", name
        assert (await pdf.body()).startswith(b"%PDF"), name

    # 签收登记 with a date in the future: the reply API's message next to the field, in place.
    tomorrow = (china_today() + timedelta(days=1)).isoformat()
    await listed.get_by_label("签收日期").fill(tomorrow)
    await listed.get_by_label("签收人（可选）").fill("张三")
    await listed.get_by_role("button", name="登记签收").click()
    err = page.locator(f"#err-signed-{dispatch_id}-signed_on")
    await err.wait_for()
    assert "不能晚于今天" in await err.inner_text()
    assert await page.locator(f"#signed-on-{dispatch_id}").get_attribute("aria-invalid") == "true"
    assert await page.locator(f"#signed-by-{dispatch_id}").input_value() == "张三"  # what was typed is kept
    assert await page.evaluate(KEPT)
    await accessible(page, "service-case-signed-refused")
    await section_shot(page, "service-case-signed-refused")

    # The signed-for date: the reply is served by post that day; the remedy deadlines follow.
    today = china_today().isoformat()
    await page.locator(f"#signed-on-{dispatch_id}").fill(today)
    await page.locator(f"#dispatch-{dispatch_id}").get_by_role("button", name="登记签收").click()
    await page.locator("#service-done").filter(has_text="已登记签收").wait_for()
    assert await page.evaluate(KEPT)
    assert f"{zh(today)}，邮寄送达" in await page.locator(f"#service-doc-{reply_id}").inner_text()
    assert "已签收" in await page.locator(f"#dispatch-{dispatch_id}").inner_text()
    remedies = (await client.get("reply", f"/cases/{case_id}/service")).json()["remedies"]
    assert remedies["served_on"] == today
    suffix = "（暂定）" if remedies["provisional"] else ""
    assert await page.locator("#ogi-review-deadline").inner_text() == zh(remedies["review_deadline"]) + suffix
    assert await page.locator("#ogi-lawsuit-deadline").inner_text() == zh(remedies["lawsuit_deadline"]) + suffix
    await accessible(page, "service-case-served")
    await section_shot(page, "service-case-served")

    # 当面送达 without the signature box: refused in place, nothing recorded.
    handover = page.locator("#handover-form")
    await handover.get_by_label("受送达人（签名人）").fill("张三")
    await handover.get_by_role("button", name="登记当面送达").click()
    await page.locator("#err-handover-signature_recorded").wait_for()
    assert (await client.get("reply", f"/cases/{case_id}/service")).json()["handovers"] == []

    # The applicant's status page: the date and way of service, the deadlines.
    applicant = await new_page("desktop")
    await applicant.goto(web_url + "/status")
    await applicant.get_by_label("受理编号").fill(case["tracking_number"])
    await applicant.get_by_label("查询码").fill(case["query_code"])
    await applicant.get_by_role("button", name="查询").click()
    await applicant.locator("#service").wait_for()
    review = await applicant.locator("#review-deadline").inner_text()
    lawsuit = await applicant.locator("#lawsuit-deadline").inner_text()
    public = (await client.http.get(client.url("reply", f"/public/cases/{case['tracking_number']}/service"),
                                    params={"query_code": case["query_code"]})).json()["remedies"]
    suffix = "（暂定）" if public["provisional"] else ""
    assert review == f"申请行政复议截止：{zh(public['review_deadline'])}{suffix}"
    assert lawsuit == f"提起行政诉讼截止：{zh(public['lawsuit_deadline'])}{suffix}"
    assert public["served_on"] == today
    served = await applicant.locator(f"#document-{reply_id}").inner_text()
    assert zh(today) in served and "送达方式" in served
    await accessible(applicant, "service-status")
    print(f"\nservice e2e: {time.monotonic() - started:.1f} s")
