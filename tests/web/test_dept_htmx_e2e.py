"""The department workbench's htmx partial updates in a real browser against the real stack, and the
same forms without JavaScript.

With JavaScript: the inbox's filter form replaces only the task list (a marker set on ``window``
survives, so the page was not reloaded) and pushes the shareable URL; 签收 replaces only that
task's row, the update is announced in the live region and the focus moves to the task's link; a
refused answer shows its error in place, focused. Without JavaScript the same filter and 签收 work
as plain GET/POST forms. At phone width (375×812) the inbox and the task page do not scroll
sideways and their controls are usable. Screenshots and axe-core (0 serious/critical) on each state."""

from __future__ import annotations

import re
import time

import pytest

from deploy.local.keycloak import realm as gen
from deploy.local.stack import WEB
from tests.browser import accessible, shot, sign_in
from tests.e2e.helpers import application, tag

pytestmark = pytest.mark.e2e
DEPT = gen.home_departments(gen.load_directory())[0][0]["code"]
NO_SIDEWAYS = "() => document.scrollingElement.scrollWidth <= window.innerWidth"
# Functions, not expressions: the pages' CSP (no 'unsafe-eval') refuses Playwright's eval of a string.
ROWS = "(n) => document.querySelectorAll('table.tasks tbody tr').length === n"
NO_ACK = "([id, tn]) => !document.querySelector(`#task-${id} button[aria-label=\"签收 ${tn}\"]`)"


async def open_tasks(client, n: int) -> list[tuple[str, str, str]]:  # noqa: ANN001
    """``n`` new applications to DEPT, each with its own search tag: (tag, task_id, tracking number)."""
    made = []
    for _ in range(n):
        t = tag()
        receipt = await client.submit(application(t, departments=[DEPT], description=f"请公开{t}项目的征地补偿标准"))
        made.append((t, receipt["case_id"], receipt["tracking_number"]))
    out = []
    for t, case_id, tn in made:
        task = await client.wait_task_open(case_id, DEPT)
        out.append((t, task["task_id"], tn))
    return out


async def test_filter_and_acknowledge_update_in_place_and_work_without_javascript(
        page, new_page, stack, client) -> None:  # noqa: ANN001
    started = time.monotonic()
    web = stack.cfg.url(WEB)
    (ta, ida, tna), (tb, idb, tnb) = await open_tasks(client, 2)

    # --- with JavaScript: the filter replaces the list only, the URL stays shareable.
    await sign_in(page, web, f"{DEPT}-officer", "/work/dept")
    await page.wait_for_function("() => typeof window.htmx !== 'undefined'")
    await page.evaluate("window.__noReload = 'kept'")
    await page.get_by_label("搜索申请内容或受理编号").fill(ta)
    await page.get_by_role("button", name="筛选").click()
    await page.wait_for_function(ROWS, arg=1)
    assert await page.evaluate("window.__noReload") == "kept", "the filter reloaded the page"
    await page.wait_for_url(re.compile(rf".*/work/dept\?.*q={ta}.*"))
    assert tna in await page.locator(f"#task-{ida}").inner_text()
    assert "任务列表已更新" in await page.locator("#live").inner_text()
    assert await page.get_by_label("搜索申请内容或受理编号").input_value() == ta  # the form was not replaced
    await accessible(page, "dept-htmx-filtered")
    # A select filters on change, no button press.
    await page.get_by_label("状态", exact=True).select_option("draft")
    await page.wait_for_function(ROWS, arg=0)
    assert await page.evaluate("window.__noReload") == "kept"
    assert "没有符合条件的待办任务" in await page.locator("#task-list").inner_text()
    await page.get_by_label("状态", exact=True).select_option("")
    await page.wait_for_function(ROWS, arg=1)

    # --- 签收 swaps only that row; announced; the focus on the task's link.
    row = page.locator(f"#task-{ida}")
    await row.get_by_role("button", name=f"签收 {tna}").click()
    await page.wait_for_function(NO_ACK, arg=[ida, tna])
    assert await page.evaluate("window.__noReload") == "kept", "签收 reloaded the page"
    assert "签收" in await page.locator(f"#task-{ida}").inner_text()
    assert "已签收" in await page.locator(f"#task-{ida}").inner_text()
    assert await page.locator("#live").inner_text() == f"已签收 {tna}。"
    assert await page.evaluate("document.activeElement && document.activeElement.textContent.trim()") == tna
    assert "done=" not in page.url
    await accessible(page, "dept-htmx-acknowledged")
    r = await client.get("reply", f"/tasks/{ida}", as_user=f"{DEPT}-officer")
    assert r.json()["acknowledged"] is not None

    # --- the answer form: a refusal by the reply API shown in place, focused; then a full success.
    await page.get_by_role("link", name=f"办理 {tna}").click()
    await page.wait_for_url(re.compile(rf".*/work/dept/tasks/{ida}$"))
    await page.evaluate("window.__noReload = 'kept'")
    await page.get_by_label("答复类型（《条例》第三十六条、第三十七条）").select_option("partially_disclosed")
    await page.get_by_label("答复内容").fill("部分公开，详见附件。")
    await page.get_by_role("button", name="保存答复，提交保密审查").click()
    err = page.locator("#err-answer")
    await err.wait_for()
    assert await page.evaluate("window.__noReload") == "kept", "the refused answer reloaded the page"
    assert await page.evaluate("document.activeElement && document.activeElement.id") == "err-answer"
    assert "第三十七条" in await err.inner_text(), await err.inner_text()
    assert await page.get_by_label("答复内容").input_value() == "部分公开，详见附件。"  # kept
    await accessible(page, "dept-htmx-answer-refused")

    # --- without JavaScript: the same filter and 签收 as plain forms.
    nojs = await new_page("desktop", javascript=False)
    await sign_in(nojs, web, f"{DEPT}-officer2", "/work/dept")
    await nojs.get_by_label("搜索申请内容或受理编号").fill(tb)
    await nojs.get_by_role("button", name="筛选").click()
    await nojs.wait_for_url(re.compile(rf".*/work/dept\?.*q={tb}.*"))
    assert await nojs.locator("table.tasks tbody tr").count() == 1
    await shot(nojs, "dept-nojs-filtered")
    await nojs.get_by_role("button", name=f"签收 {tnb}").click()
    await nojs.wait_for_url(re.compile(r".*done=acknowledged.*"))
    assert "已签收该任务" in await nojs.locator("p[role=status]").first.inner_text()
    assert await nojs.get_by_role("button", name=f"签收 {tnb}").count() == 0
    await shot(nojs, "dept-nojs-acknowledged")
    r = await client.get("reply", f"/tasks/{idb}", as_user=f"{DEPT}-officer")
    assert r.json()["acknowledged"] is not None
    # (No axe here: script evaluation never returns in a context without JavaScript; the markup is the
    # one axe checked above with JavaScript.)
    print(f"\ndept htmx e2e: {time.monotonic() - started:.1f} s")


async def test_inbox_and_task_page_at_phone_width(new_page, stack, client) -> None:  # noqa: ANN001
    web = stack.cfg.url(WEB)
    [(t, task_id, tn)] = await open_tasks(client, 1)
    ph = await new_page("phone")
    await ph.set_viewport_size({"width": 375, "height": 812})
    await sign_in(ph, web, f"{DEPT}-officer", "/work/dept")
    assert await ph.evaluate(NO_SIDEWAYS), await ph.evaluate("() => [document.scrollingElement.scrollWidth, innerWidth]")
    await accessible(ph, "dept-inbox-375")
    # The controls: the search, then 签收 in the task's card, in view and usable by touch.
    await ph.get_by_label("搜索申请内容或受理编号").fill(t)
    await ph.get_by_role("button", name="筛选").tap()
    await ph.wait_for_function(ROWS, arg=1)
    ack = ph.get_by_role("button", name=f"签收 {tn}")
    await ack.wait_for(state="visible")
    box = await ack.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= 375 and box["height"] >= 44, box
    await ack.tap()
    await ph.wait_for_function(NO_ACK, arg=[task_id, tn])
    assert await ph.evaluate(NO_SIDEWAYS)
    # 退回 opens in the card; its reason field fits.
    await ph.locator(f"#task-{task_id} summary").tap()
    reason = ph.locator(f"#reason-{task_id}")
    await reason.wait_for()
    rbox = await reason.bounding_box()
    assert rbox and rbox["x"] + rbox["width"] <= 375, rbox
    assert await ph.evaluate(NO_SIDEWAYS)
    await accessible(ph, "dept-inbox-375-acknowledged")
    # The task page: the application, the deadline, the forms, no sideways scroll.
    await ph.get_by_role("link", name=f"办理 {tn}").tap()
    await ph.wait_for_url(re.compile(rf".*/work/dept/tasks/{task_id}$"))
    assert f"{t}项目" in await ph.content()
    assert await ph.evaluate(NO_SIDEWAYS), await ph.evaluate("() => [document.scrollingElement.scrollWidth, innerWidth]")
    for label in ("答复类型（《条例》第三十六条、第三十七条）", "答复内容", "上传材料"):
        b = await ph.get_by_label(label).bounding_box()
        assert b and b["x"] >= 0 and b["x"] + b["width"] <= 375, (label, b)
    await accessible(ph, "dept-task-375")

    # 退回 with a reason from the inbox (htmx): an empty reason asked for in place, then the row says it left.
    await ph.goto(f"{web}/work/dept?q={t}")
    await ph.locator(f"#task-{task_id} summary").tap()
    await ph.locator(f"#task-{task_id} details.give-back button").tap()
    await ph.locator(f"#err-reason-{task_id}").wait_for()
    assert await ph.evaluate("() => document.activeElement.id") == f"reason-{task_id}"
    assert "请填写退回理由" in await ph.locator(f"#err-reason-{task_id}").inner_text()
    await ph.locator(f"#reason-{task_id}").fill("不属于本部门职责，建议由自然资源厅办理")
    await ph.locator(f"#task-{task_id} details.give-back button").tap()
    await ph.locator(f"#task-{task_id}.gone").wait_for()
    assert "已退回政府信息公开工作机构重新分办" in await ph.locator("#live").inner_text()
    assert await ph.evaluate(NO_SIDEWAYS)
    await accessible(ph, "dept-inbox-375-returned")
    r = await client.get("reply", f"/tasks/{task_id}", as_user=f"{DEPT}-officer")
    assert r.json()["status"] == "returned", r.json()["status"]
