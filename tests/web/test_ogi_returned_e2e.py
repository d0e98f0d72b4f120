"""Issue #10 in a real browser against the real stack: a department returns its task (API, as the
department officer); the OGI officer finds the case in the triage queue with the department and the
reason in Chinese, filters the queue to the returns (htmx swaps the list; the link works without
JavaScript too), opens the case and reassigns it to another department, the returned task's
withdrawal ticked in the same form; the case leaves the queue. Screenshots and axe-core (0
serious/critical) on each page."""

from __future__ import annotations

import re
import time

import pytest

from tests.browser import accessible, shot, sign_in
from tests.e2e.helpers import OGI, Client, application, eventually, officer_of, tag

pytestmark = pytest.mark.e2e

REASON = "重点项目投资计划由发展改革委编制，建议改由其办理"


async def returned_case(client: Client) -> tuple[dict, dict]:
    receipt = await client.submit(application(tag(), departments=["czt"], description="请公开本省2025年重点项目投资计划"))
    case_id = receipt["case_id"]
    task = await client.wait_task_open(case_id, "czt")
    resp = await client.post("reply", f"/tasks/{task['task_id']}/return", as_user=officer_of("czt"),
                             json={"reason": REASON})
    assert resp.status_code == 200, resp.text

    async def queued() -> dict | None:
        r = await client.get("routing", "/triage")
        return next((c for c in r.json()["cases"] if c["case_id"] == case_id and c["returned"]), None)

    return receipt, await eventually(queued, 60, what="the returned case in the triage queue")


@pytest.mark.parametrize("viewport", ["desktop"])
async def test_a_returned_case_is_reassigned_through_the_pages(page, web_url, client) -> None:  # noqa: ANN001
    started = time.monotonic()
    receipt, entry = await returned_case(client)
    case_id = receipt["case_id"]
    dept_name = entry["returned"][0]["dept_name"]
    await sign_in(page, web_url, OGI, "/work/ogi")
    card = page.locator(f"article[id='case-{case_id}']")
    assert receipt["tracking_number"] in await card.locator("h3").inner_text()
    assert f"部门退回：{dept_name}，理由：{REASON}" in await card.inner_text()
    await accessible(page, "ogi-queue-returned")

    # The filter: htmx swaps the list in place (and pushes the URL); the same link without JavaScript.
    await page.locator("#queue-filters").get_by_role("link", name=re.compile("^部门退回")).click()
    await page.wait_for_url(re.compile(r".*/work/ogi\?show=returned$"))
    assert await page.locator("#queue-heading").inner_text() == "部门退回的任务"
    assert await page.locator(f"article[id='case-{case_id}']").count() == 1
    assert await page.locator("h1").count() == 1  # the list was swapped, not the page nested in itself
    await accessible(page, "ogi-queue-returned-filtered")
    await page.locator("#queue-filters").get_by_role("link", name=re.compile("^系统无法确定")).click()
    await page.wait_for_url(re.compile(r".*\?show=triage$"))
    assert await page.locator(f"article[id='case-{case_id}']").count() == 0

    # The case page: the return said in Chinese; reassign to 发展改革委, the returned task's withdrawal ticked.
    await page.goto(web_url + f"/work/ogi/cases/{case_id}")
    routing = page.locator("#routing")
    assert f"部门退回：{dept_name}，理由：{REASON}" in await routing.inner_text()
    remove = routing.locator(f"[id='rm-{case_id}-czt']")
    assert await remove.is_checked()
    await accessible(page, "ogi-case-returned")
    await routing.locator(f"[id='add-{case_id}-fgw']").check()
    await routing.locator(f"[id='reason-{case_id}-dept']").fill("经核实由发展改革委办理")
    await routing.get_by_role("button", name="改派", exact=True).click()
    await page.wait_for_url(re.compile(r".*\?done=departments$"))
    assert "已调整承办部门" in await page.locator("[role=status]").inner_text()
    assert "部门退回：" not in await page.locator("#routing").inner_text()
    await accessible(page, "ogi-case-reassigned")
    routing_api = (await client.get("routing", f"/cases/{case_id}/routing")).json()
    assert [t["dept_code"] for t in routing_api["tasks"]] == ["fgw"]
    assert routing_api["withdrawn_tasks"][0]["dept_code"] == "czt"
    await client.wait_task_open(case_id, "fgw")

    await page.goto(web_url + "/work/ogi?show=returned")
    assert await page.locator(f"article[id='case-{case_id}']").count() == 0  # out of the queue
    await accessible(page, "ogi-queue-after-reassignment")
    print(f"\nogi returned-task browser e2e: {time.monotonic() - started:.1f} s")


async def test_the_queue_filter_and_reassignment_work_without_javascript(new_page, web_url, client) -> None:  # noqa: ANN001
    receipt, _ = await returned_case(client)
    case_id = receipt["case_id"]
    page = await new_page("phone", javascript=False)
    await sign_in(page, web_url, OGI, "/work/ogi?show=returned")
    card = page.locator(f"article[id='case-{case_id}']")
    assert "部门退回：" in await card.inner_text()
    await shot(page, "ogi-queue-returned-nojs")  # (axe needs JavaScript: the same page passed it above)
    # The queue's own reassignment form, as a plain POST and redirect.
    await card.locator(f"[id='add-{case_id}-fgw']").check()
    await card.locator(f"[id='reason-{case_id}-dept']").fill("经核实由发展改革委办理")
    await card.get_by_role("button", name="改派", exact=True).click()
    await page.wait_for_url(re.compile(r".*/work/ogi\?done=departments"))
    assert await page.locator(f"article[id='case-{case_id}']").count() == 0
    routing = (await client.get("routing", f"/cases/{case_id}/routing")).json()
    assert [t["dept_code"] for t in routing["tasks"]] == ["fgw"]
