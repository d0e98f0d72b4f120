"""The department workbench in a real browser against the real stack: a department officer signs in
at Keycloak's login form, finds the task by searching the inbox, acknowledges it (签收), uploads one
file and answers with one withheld part (Art. 37); his own sign-off is refused (the API's message is
shown); a reviewer of the department signs off (保密审查) and the reply is released with the file,
whose bytes are the upload's. Screenshots and axe-core (0 serious/critical) on each page."""

from __future__ import annotations

import hashlib
import re
import time

import pytest

from deploy.local.keycloak import realm as gen
from deploy.local.stack import WEB
from tests.browser import accessible, sign_in
from tests.e2e.helpers import OGI, Client, application, eventually, tag

pytestmark = pytest.mark.e2e
DEPT = gen.home_departments(gen.load_directory())[0][0]["code"]
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\ntrailer <<>>\n" + b"0" * 5000 + b"\n%%EOF\n"


@pytest.mark.parametrize("viewport", ["desktop"])
async def test_officer_answers_with_a_file_and_a_withheld_part_reviewer_signs_off(
        page, new_page, stack, client) -> None:  # noqa: ANN001
    started = time.monotonic()
    web = stack.cfg.url(WEB)
    t = tag()
    receipt = await client.submit(application(t, departments=[DEPT], description=f"请公开{t}项目的土地出让合同及补偿标准"))
    task = await client.wait_task_open(receipt["case_id"], DEPT)
    task_id, tn = task["task_id"], receipt["tracking_number"]

    # The inbox: search, the deadline with its colour, 签收.
    await sign_in(page, web, f"{DEPT}-officer", "/work/dept")
    await page.get_by_label("搜索申请内容或受理编号").fill(t)
    await page.get_by_role("button", name="筛选").click()
    row = page.locator(f"#task-{task_id}")
    # The list is replaced in place (htmx; tests/web/test_dept_htmx_e2e.py): wait for it.
    await page.wait_for_function("(n) => document.querySelectorAll('table.tasks tbody tr').length === n", arg=1)
    assert "剩余" in await row.inner_text() and tn in await row.inner_text()
    await accessible(page, "dept-inbox")
    await row.get_by_role("button", name=f"签收 {tn}").click()
    await page.get_by_role("button", name=f"签收 {tn}").wait_for(state="detached")  # the row, swapped in place
    assert await page.locator("#live").inner_text() == f"已签收 {tn}。"
    assert "签收" in await page.locator(f"#task-{task_id}").inner_text()
    assert await page.get_by_role("button", name=f"签收 {tn}").count() == 0

    # The task page: the application, the deadline; upload one file, then answer.
    await page.get_by_role("link", name=f"办理 {tn}").click()
    assert f"{t}项目的土地出让合同" in await page.content()
    await accessible(page, "dept-task")
    await page.set_input_files("#upload-file", files=[{"name": "出让合同.pdf", "mimeType": "application/pdf", "buffer": PDF}])
    await page.get_by_role("button", name="上传该文件", exact=True).click()
    await page.wait_for_url(re.compile(r".*done=uploaded.*"))
    assert hashlib.sha256(PDF).hexdigest() in await page.locator("#materials").inner_text()
    await page.get_by_label("答复类型（《条例》第三十六条、第三十七条）").select_option("partially_disclosed")
    await page.get_by_label("理由（不予公开、部分公开等须写明）").fill("合同中含有第三方个人信息")
    await page.get_by_label("答复内容").fill("经检索，现公开土地出让合同（见附件），其中个人信息部分不予公开。")
    await page.locator("#withheld_0_description").fill("合同附件中的个人身份信息")
    await page.locator("#withheld_0_reason_code").select_option("withheld.third_party")
    await page.locator("#withheld_0_explanation").fill("涉及个人隐私，公开会对第三方合法权益造成损害")
    assert await page.get_by_label("出让合同.pdf").is_checked()
    await page.get_by_role("button", name="保存答复，提交保密审查").click()
    await page.wait_for_url(re.compile(r".*done=answered.*"))
    assert "草稿，待保密审查" in await page.content()
    await accessible(page, "dept-task-draft")

    # The author's own sign-off: refused by the reply API, its message shown.
    await page.goto(f"{web}/work/dept/review/{task_id}")
    assert "这是您本人撰写的答复" in await page.content()
    await page.get_by_role("button", name="保密审查通过，签署").click()
    alert = page.locator("#err-review")
    await alert.wait_for()
    refusal = await alert.inner_text()
    # The author is no reviewer: the API's own message (role), shown as the page's alert.
    assert refusal.startswith("无权执行此操作：须由部门保密审查人办理"), refusal
    await accessible(page, "dept-review-own-refused")
    r = await client.get("reply", f"/tasks/{task_id}", as_user=f"{DEPT}-officer")
    assert r.json()["answer"]["review"] is None  # nothing was signed

    # A reviewer of the department: the queue, the draft, the sign-off.
    rev = await new_page("desktop")
    await sign_in(rev, web, f"{DEPT}-reviewer", "/work/dept/review")
    await accessible(rev, "dept-review-queue")
    await rev.get_by_role("link", name=f"审查 {tn}").click()
    content = await rev.content()
    assert "合同附件中的个人身份信息" in content and "出让合同.pdf" in content
    await accessible(rev, "dept-review")
    await rev.get_by_role("button", name="保密审查通过，签署").click()
    await rev.wait_for_url(re.compile(r".*done=signed_off.*"))
    assert "已完成保密审查签署" in await rev.content()
    await accessible(rev, "dept-review-done")

    # The inbox at phone width, as a second officer of the department: the signed-off task has left it.
    ph = await new_page("phone")
    await sign_in(ph, web, f"{DEPT}-officer2", "/work/dept")
    assert await ph.locator(f"#task-{task_id}").count() == 0
    await accessible(ph, "dept-inbox")

    # Released with the reply: the file named by the signed-off answer, bytes equal to the upload.
    async def issued() -> dict | None:
        resp = await client.get("reply", f"/cases/{receipt['case_id']}/reply", as_user=OGI)
        return resp.json() if resp.status_code == 200 and resp.json()["issued"] else None

    reply = await eventually(issued, 60, what="the reply")
    assert reply["reply"]["decision"] == "partially_disclosed"
    view = (await client.get("reply", f"/tasks/{task_id}", as_user=f"{DEPT}-reviewer")).json()
    [m] = view["materials"]
    assert m["released"] is True and m["sha256"] == hashlib.sha256(PDF).hexdigest()
    got = await client.get("reply", f"/cases/{receipt['case_id']}/material/{m['material_id']}", as_user=OGI)
    assert got.status_code == 200 and got.content == PDF
    print(f"\ndept e2e: {time.monotonic() - started:.1f} s")
