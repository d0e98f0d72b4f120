"""The OGI office's workbench in a real browser against the real stack: officers sign in at the
identity provider's own login form (Keycloak); the OGI head approves an extension on a case, an OGI
officer without the head role cannot (the page says so, and the API's 403 message is shown when he
posts anyway); a case in the triage queue gets a department picked; a clerk entry with a date in the
future shows the field's error next to it. Screenshots and axe-core (0 serious/critical) on each page."""

from __future__ import annotations

import re
import time

import pytest

from tests.browser import accessible, sign_in
from tests.e2e.helpers import OGI, OGI_HEAD, Client, application, eventually, tag

pytestmark = pytest.mark.e2e


async def routed_case(client: Client, description: str | None = None) -> dict:
    t = tag()
    receipt = await client.submit(application(t, description=description))

    async def known() -> bool:
        r = await client.get("reply", f"/cases/{receipt['case_id']}/deadline", as_user=OGI)
        return r.status_code == 200

    await eventually(known, 60, what="the reply service to know the case")
    return receipt


@pytest.mark.parametrize("viewport", ["desktop"])
async def test_the_head_approves_an_extension(page, web_url, client) -> None:  # noqa: ANN001
    started = time.monotonic()
    case = await routed_case(client)
    await sign_in(page, web_url, OGI_HEAD, f"/work/ogi/cases/{case['case_id']}")
    assert case["tracking_number"] in await page.locator("h1").inner_text()
    assert "收到申请" in await page.locator("#timeline").inner_text()  # the ledger's timeline
    await accessible(page, "ogi-case-head")
    await page.get_by_label("延长的工作日数（不超过20）").fill("10")
    await page.get_by_label("理由", exact=True).fill("需协调多个部门检索")
    await page.get_by_role("button", name="批准延长").click()
    await page.wait_for_url(re.compile(r".*\?done=extension$"))
    assert "已延长答复期限" in await page.locator("[role=status]").inner_text()
    assert "延长 10 个工作日" in await page.locator("#procedure").inner_text()
    explanation = (await client.get("reply", f"/cases/{case['case_id']}/deadline")).json()["explanation"]
    assert explanation["extension"]["workdays"] == 10 and explanation["limit_workdays"] == 30
    await accessible(page, "ogi-case-extended")

    await page.goto(web_url + "/work/ogi/supervision")
    assert await page.locator("h1").inner_text() == "督办"
    await accessible(page, "ogi-supervision")
    await page.goto(web_url + "/work/stats")
    assert "年度报告" in await page.content()
    await page.get_by_role("button", name="校验台账").click()
    assert "台账校验通过" in await page.content()
    await accessible(page, "ogi-stats")
    print(f"\nogi head e2e: {time.monotonic() - started:.1f} s")


@pytest.mark.parametrize("viewport", ["phone"])
async def test_an_officer_without_the_head_role_cannot_extend(page, web_url, client) -> None:  # noqa: ANN001
    case = await routed_case(client)
    await sign_in(page, web_url, OGI, f"/work/ogi/cases/{case['case_id']}")
    procedure = page.locator("#procedure")
    assert await procedure.get_by_role("button", name="批准延长").count() == 0
    assert "须经政府信息公开工作机构负责人同意" in await page.locator("#ext-head-only").inner_text()
    await accessible(page, "ogi-case-officer")
    # Posting the form anyway (with the session's CSRF token): the reply API refuses, its message shown.
    await page.evaluate("""(caseId) => {
      const token = document.querySelector('input[name=csrf_token]').value;
      const f = document.createElement('form');
      f.method = 'post'; f.action = '/work/ogi/cases/' + encodeURIComponent(caseId) + '/extension';
      for (const [k, v] of [['csrf_token', token], ['days', '10'], ['reason', '需协调多个部门']]) {
        const i = document.createElement('input'); i.type = 'hidden'; i.name = k; i.value = v; f.appendChild(i);
      }
      document.body.appendChild(f); f.submit();
    }""", case["case_id"])
    await page.wait_for_load_state()
    alert = await page.locator("[role=alert]").first.inner_text()
    assert "无权执行此操作：须由公开办负责人办理" in alert
    explanation = (await client.get("reply", f"/cases/{case['case_id']}/deadline")).json()["explanation"]
    assert explanation["extension"] is None
    await accessible(page, "ogi-case-extension-refused")


@pytest.mark.parametrize("viewport", ["desktop"])
async def test_a_case_in_triage_gets_a_department(page, web_url, client) -> None:  # noqa: ANN001
    receipt = await client.submit(application(tag(), description="请公开相关文件"))
    case_id = receipt["case_id"]

    async def in_triage() -> bool:
        r = await client.get("routing", "/triage")
        return r.status_code == 200 and any(c["case_id"] == case_id for c in r.json()["cases"])

    await eventually(in_triage, 60, what="the case in the triage queue")
    await sign_in(page, web_url, OGI, "/work/ogi")
    card = page.locator(f"article[id='case-{case_id}']")
    assert receipt["tracking_number"] in await card.locator("h3").first.inner_text()
    await accessible(page, "ogi-triage-queue")
    await card.locator("input[name=add][value=czt]").check()
    await card.get_by_label("理由（必填）").first.fill("经核实涉及财政预算")
    await card.get_by_role("button", name="确定承办部门").click()
    await page.wait_for_url(re.compile(r".*/work/ogi\?done=departments"))
    assert "已调整承办部门" in await page.locator("[role=status]").inner_text()
    routing = (await client.get("routing", f"/cases/{case_id}/routing")).json()
    assert "czt" in [t["dept_code"] for t in routing["tasks"]]
    assert await page.locator(f"article[id='case-{case_id}']").count() == 0  # out of the queue
    await accessible(page, "ogi-triage-done")


@pytest.mark.parametrize("viewport", ["phone"])
async def test_a_clerk_entry_dated_in_the_future_shows_the_field_error(page, web_url) -> None:  # noqa: ANN001
    await sign_in(page, web_url, OGI, "/work/ogi/clerk")
    await accessible(page, "ogi-clerk")
    await page.get_by_label("申请渠道").select_option("registered_mail")
    await page.locator("#f-signed_on").fill("2099-01-01")
    await page.get_by_label("姓名或组织名称（必填）").fill("王五")
    await page.get_by_label("证件号码（必填）").fill("11010519491231002X")
    await page.get_by_label("联系电话").fill("13800138000")
    await page.get_by_label("通信地址").fill("某市某区某路1号")
    await page.get_by_label("所需政府信息的描述（必填）").fill("请公开某街道2025年老旧小区改造计划")
    await page.get_by_role("button", name="登记", exact=True).click()
    await page.wait_for_load_state()
    error = page.locator("#f-signed_on-error")
    assert "不能晚于今天" in await error.inner_text()
    assert "f-signed_on-error" in (await page.locator("#f-signed_on").get_attribute("aria-describedby") or "")
    assert await page.get_by_label("姓名或组织名称（必填）").input_value() == "王五"  # kept
    await accessible(page, "ogi-clerk-error")
    today = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 8 * 3600))
    await page.locator("#f-signed_on").fill(today)
    await page.get_by_role("button", name="登记", exact=True).click()
    await page.wait_for_load_state()
    assert "登记完成" in await page.locator("h1").inner_text()
    assert re.search(r"[0-9A-Z]{12}", await page.locator("dl.facts").inner_text())
    await accessible(page, "ogi-clerk-done")
