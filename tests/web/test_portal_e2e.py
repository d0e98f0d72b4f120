"""The applicant portal in a real browser against the real stack: an applicant submits with one
invalid field first, sees the message next to it, fixes it, gets the receipt (tracking number and
query code), then opens the status page and sees the steps and the deadline's explanation.
Screenshots of each page; axe-core on each page: no serious or critical violation."""

from __future__ import annotations

import asyncio
import re
import time

import pytest

from tests.browser import accessible, shot

pytestmark = pytest.mark.e2e


DESCRIPTION = "请公开某村2025年征地补偿标准、年度部门预算及某河段的水质监测数据"


@pytest.mark.parametrize("viewport", ["phone"])
async def test_applicant_applies_fixes_an_error_gets_the_receipt_and_follows_progress(page, web_url, mail) -> None:  # noqa: ANN001
    pg = page
    started = time.monotonic()
    await pg.goto(web_url + "/")
    assert "不属于政府信息公开申请" in await pg.content()
    await accessible(pg, "portal-guide")

    await pg.goto(web_url + "/apply")
    await accessible(pg, "portal-apply")
    await pg.get_by_label("姓名或组织名称").fill("张三")
    await pg.get_by_label("证件号码").fill("110105194912310021")  # wrong check digit
    await pg.get_by_label("电子邮箱").fill("portal-e2e@example.com")
    await pg.get_by_label("联系电话").fill("13800138000")
    await pg.get_by_label("所需政府信息的名称、文号或者便于查询的其他特征性描述").fill(DESCRIPTION)
    await pg.get_by_role("button", name="提交申请").click()
    error = pg.locator("#f-applicant-id-number-error")
    assert await error.inner_text() == "居民身份证号码无效"
    id_input = pg.locator("#f-applicant-id-number")
    assert "f-applicant-id-number-error" in (await id_input.get_attribute("aria-describedby") or "")
    assert await id_input.input_value() == "110105194912310021"
    assert await pg.get_by_label("电子邮箱").input_value() == "portal-e2e@example.com"  # values kept
    await accessible(pg, "portal-apply-error")

    await id_input.fill("11010519491231002X")
    await pg.get_by_role("button", name="提交申请").click()
    await pg.wait_for_url(re.compile(r".*/receipt/[A-Z0-9-]+$"))
    number = (await pg.locator("#tracking-number").inner_text()).strip()
    code = (await pg.locator("#query-code").inner_text()).strip()
    assert re.fullmatch(r"[A-Z]+-\d{8}-\d{5}", number) and re.fullmatch(r"[0-9A-Z]{12}", code)
    assert code not in pg.url and "20 个工作日" in await pg.content()
    await accessible(pg, "portal-receipt")
    await pg.emulate_media(media="print")
    await shot(pg, "portal-receipt-print")
    await pg.emulate_media(media="screen")
    await pg.reload()
    assert code not in await pg.content()  # shown once

    await pg.goto(web_url + "/status")
    await accessible(pg, "portal-status-form")
    await pg.get_by_label("受理编号").fill(number)
    await pg.get_by_label("查询码").fill("0000-0000-0000" if code != "000000000000" else "1111-1111-1111")
    await pg.get_by_role("button", name="查询").click()
    assert "受理编号或查询码不正确" in await pg.locator("#form-error").inner_text()
    await accessible(pg, "portal-status-wrong-code")

    # The case is routed within seconds; the deadline (reply) follows routing; the notice of
    # receipt goes by e-mail (the session's SMTP sink).
    until = time.monotonic() + 60
    while True:
        await pg.goto(web_url + "/status")
        await pg.get_by_label("受理编号").fill(number)
        await pg.get_by_label("查询码").fill(code)
        await pg.get_by_role("button", name="查询").click()
        ready = await pg.locator("#deadline-explanation").count() and await pg.locator("#notices").count()
        if ready or time.monotonic() > until:
            break
        await asyncio.sleep(1)
    steps = await pg.locator("#steps").inner_text()
    assert "申请已登记" in steps and "已分送承办部门办理" in steps
    assert re.search(r"答复期限届满日：\d{4}-\d{2}-\d{2}", await pg.locator("#due-on").inner_text())
    await pg.locator("#deadline-explanation summary").click()
    explanation = await pg.locator("#deadline-explanation").inner_text()
    assert "逐日计算" in explanation and "第1个工作日" in explanation and "第20个工作日" in explanation
    assert "已发送登记通知" in await pg.locator("#notices").inner_text()
    assert code not in pg.url
    await accessible(pg, "portal-status")
    print(f"\nportal e2e: {time.monotonic() - started:.1f} s")


async def test_the_form_works_without_javascript(new_page, web_url) -> None:  # noqa: ANN001
    pg = await new_page("phone", javascript=False)
    await pg.goto(web_url + "/apply")
    await pg.get_by_label("姓名或组织名称").fill("李四")
    await pg.get_by_label("证件号码").fill("11010519491231002X")
    await pg.get_by_label("获取方式").select_option("post")  # post needs an address
    await pg.get_by_label("电子邮箱").fill("portal-nojs@example.com")
    await pg.get_by_label("所需政府信息的名称、文号或者便于查询的其他特征性描述").fill(DESCRIPTION)
    await pg.get_by_role("button", name="提交申请").click()
    assert await pg.locator("#f-contact-address-error").inner_text() == "选择邮寄获取信息的，须填写通信地址"
    await shot(pg, "portal-apply-error-nojs")
    await pg.get_by_label("通信地址").fill("云南省昆明市五华区某路1号")
    await pg.get_by_role("button", name="提交申请").click()
    await pg.wait_for_url(re.compile(r".*/receipt/[A-Z0-9-]+$"))
    assert re.fullmatch(r"[0-9A-Z]{12}", (await pg.locator("#query-code").inner_text()).strip())
