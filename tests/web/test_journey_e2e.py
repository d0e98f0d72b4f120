"""The whole journey through the pages only, in a real browser against the real stack.

Every action is a person's on a page: the applicant applies on the portal (an invalid ID number
first, its message shown next to the field), three departments' officers sign in at Keycloak's own
login form and work their inbox (签收, answer; one uploads the file, one withholds a part); the third
department returns its task (退回) and the OGI office reassigns it from its triage page to another
department, which answers; each department's reviewer signs off (保密审查); the applicant opens the
status page, reads the deadline's day-by-day explanation, downloads the reply PDF and the released
file (its bytes are the upload's). On a second case the OGI head approves an extension, which an
OGI officer without the head role cannot; on a third a correction is requested (Art. 30) and the
applicant submits it online, after which the clock counts again from that day.

The test reads the APIs only to wait for the asynchronous pipeline and to check what a page
cannot show (the stored routing, the released file's checksum). Screenshots of every page and
axe-core (0 serious or critical violations) on each: ``.local/artifacts/screenshots/journey-*``.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from datetime import date, timedelta
from typing import Any

import pytest
from playwright.async_api import Page

from tests.browser import accessible, sign_in
from tests.e2e.helpers import OGI, OGI_HEAD, Client, eventually

pytestmark = pytest.mark.e2e

# Routed by the directory's rules to 自然资源厅 (征地), 财政厅 (预算) and 生态环境厅 (水质).
DESCRIPTION = "请公开某村2025年征地补偿标准、年度部门预算及某河段的水质监测数据"
LAND, FINANCE, ENVIRONMENT, WATER = "zrzy", "czt", "sthjt", "slt"
PDF = (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\n% journey\n" + bytes(range(256)) * 40
       + b"\ntrailer << /Root 1 0 R >>\n%%EOF\n")
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201e2214bc60000000049454e44ae426082")


def china_today() -> date:
    t = time.gmtime(time.time() + 8 * 3600)
    return date(t.tm_year, t.tm_mon, t.tm_mday)


async def apply(pg: Page, web_url: str, email: str, description: str = DESCRIPTION, *,
                wrong_id_first: bool = False, id_proof: bool = False, name: str = "journey") -> tuple[str, str]:
    """Apply on the portal's form; (tracking number, query code) from the receipt page."""
    await pg.goto(web_url + "/apply")
    await pg.get_by_label("姓名或组织名称").fill("赵六")
    await pg.get_by_label("证件号码").fill("110105194912310021" if wrong_id_first else "11010519491231002X")
    await pg.get_by_label("电子邮箱").fill(email)
    await pg.get_by_label("联系电话").fill("13800138000")
    await pg.get_by_label("所需政府信息的名称、文号或者便于查询的其他特征性描述").fill(description)
    if wrong_id_first:
        await pg.get_by_role("button", name="提交申请").click()
        assert await pg.locator("#f-applicant-id-number-error").inner_text() == "居民身份证号码无效"
        assert await pg.get_by_label("所需政府信息的名称、文号或者便于查询的其他特征性描述").input_value() == description
        await accessible(pg, f"{name}-apply-error")
        await pg.get_by_label("证件号码").fill("11010519491231002X")
    if id_proof:  # chosen again after an error: browsers do not keep a file input's choice
        await pg.get_by_label("上传附件（身份证明等）").set_input_files(
            files=[{"name": "身份证复印件.png", "mimeType": "image/png", "buffer": PNG}])
    await pg.get_by_role("button", name="提交申请").click()
    await pg.wait_for_url(re.compile(r".*/receipt/[A-Z0-9-]+$"))
    number = (await pg.locator("#tracking-number").inner_text()).strip()
    code = (await pg.locator("#query-code").inner_text()).strip()
    if id_proof:
        assert "身份证复印件.png" in await pg.locator("#attachments").inner_text()
    await accessible(pg, f"{name}-receipt")
    return number, code


async def open_status(pg: Page, web_url: str, number: str, code: str) -> None:
    await pg.goto(web_url + "/status")
    await pg.get_by_label("受理编号").fill(number)
    await pg.get_by_label("查询码").fill(code)
    await pg.get_by_role("button", name="查询").click()
    await pg.wait_for_selector("#case-status")


async def status_until(pg: Page, web_url: str, number: str, code: str, selector: str, seconds: float = 90) -> str:
    """Reload the status page (as the applicant would) until ``selector`` shows; the element's text."""
    until = time.monotonic() + seconds
    while True:
        await open_status(pg, web_url, number, code)
        if await pg.locator(selector).count():
            return await pg.locator(selector).first.inner_text()
        if time.monotonic() > until:
            body = await pg.locator("main").inner_text()
            raise AssertionError(f"the status page of {number} never showed {selector}:\n{body}")
        await asyncio.sleep(1.5)


async def case_of(client: Client, number: str) -> str:
    async def found() -> str | None:
        r = await client.get("audit", f"/tracking-numbers/{number}", as_user=OGI)
        return r.json()["case_id"] if r.status_code == 200 else None
    return await eventually(found, 60, what=f"the case of {number}")


async def tasks_of(client: Client, case_id: str, n: int) -> dict[str, str]:
    """dept code -> task id of the case's open tasks, once it has ``n`` of them."""
    async def routed() -> dict[str, str] | None:
        r = await client.get("routing", f"/cases/{case_id}/routing", as_user=OGI)
        if r.status_code != 200:
            return None
        tasks = {t["dept_code"]: t["task_id"] for t in r.json()["tasks"] if t.get("status", "open") != "withdrawn"}
        return tasks if len(tasks) == n else None
    return await eventually(routed, 60, what=f"{n} tasks of {case_id}")


async def routed(client: Client, case_id: str) -> dict[str, str]:
    """dept code -> task id of the case's tasks once routing has decided (departments or triage)."""
    async def decided() -> dict[str, str] | None:
        r = await client.get("routing", f"/cases/{case_id}/routing", as_user=OGI)
        return {t["dept_code"]: t["task_id"] for t in r.json()["tasks"]} if r.status_code == 200 else None
    return await eventually(decided, 60, what=f"the routing of {case_id}")


async def settle_departments(pg: Page, web_url: str, case_id: str, now: set[str], wanted: set[str]) -> None:
    """The OGI office corrects the departments on the case page (指定/改派) when routing's decision is
    not the expected one — the suite's other tests change the shared directory (e.g. fuzzing adds
    departments whose keywords make routing unsure), as directory admins do in real life."""
    await pg.goto(f"{web_url}/work/ogi/cases/{case_id}")
    form = pg.locator(f"form:has(#reason-{case_id}-dept)")
    for code in wanted - now:
        await form.locator(f"#add-{case_id}-{code}").check()
    for code in now:
        box = form.locator(f"#rm-{case_id}-{code}")
        if code in wanted:
            await box.uncheck()
        else:
            await box.check()
    await form.locator(f"#reason-{case_id}-dept").fill("经核实，由自然资源、财政、生态环境部门分别办理")
    await form.get_by_role("button").click()
    await pg.wait_for_url(re.compile(r".*\?done=departments.*"))


async def acknowledge(pg: Page, web_url: str, dept: str, number: str, task_id: str) -> None:
    """The department officer signs in, finds the task by its number, 签收, opens it."""
    await sign_in(pg, web_url, f"{dept}-officer", "/work/dept")
    await pg.get_by_label("搜索申请内容或受理编号").fill(number)
    await pg.get_by_role("button", name="筛选").click()
    row = pg.locator(f"#task-{task_id}")
    await row.wait_for()
    assert "剩余" in await row.inner_text()
    await accessible(pg, f"journey-inbox-{dept}")
    await row.get_by_role("button", name=f"签收 {number}").click()
    await pg.get_by_role("button", name=f"签收 {number}").wait_for(state="detached")
    await pg.get_by_role("link", name=f"办理 {number}").click()
    await pg.wait_for_url(re.compile(rf".*/work/dept/tasks/{re.escape(task_id)}.*"))


async def answer(pg: Page, dept: str, reply_type: str, text: str, *, reason: str = "",
                 outcome: str = "", withheld: tuple[str, str, str] | None = None) -> None:
    await pg.get_by_label("答复类型（《条例》第三十六条、第三十七条）").select_option(reply_type)
    if outcome:
        await pg.locator("#outcome_code").select_option(outcome)
    if reason:
        await pg.get_by_label("理由（不予公开、部分公开等须写明）").fill(reason)
    await pg.get_by_label("答复内容").fill(text)
    if withheld:
        await pg.locator("#withheld_0_description").fill(withheld[0])
        await pg.locator("#withheld_0_reason_code").select_option(withheld[1])
        await pg.locator("#withheld_0_explanation").fill(withheld[2])
    await pg.get_by_role("button", name="保存答复，提交保密审查").click()
    await pg.wait_for_url(re.compile(r".*done=answered.*"))
    assert "草稿，待保密审查" in await pg.content()
    await accessible(pg, f"journey-draft-{dept}")


async def sign_off(pg: Page, web_url: str, dept: str, number: str) -> None:
    await sign_in(pg, web_url, f"{dept}-reviewer", "/work/dept/review")
    await pg.get_by_role("link", name=f"审查 {number}").click()
    await accessible(pg, f"journey-review-{dept}")
    await pg.get_by_role("button", name="保密审查通过，签署").click()
    await pg.wait_for_url(re.compile(r".*done=signed_off.*"))


@pytest.mark.parametrize("viewport", ["phone"])
async def test_the_whole_journey_through_the_pages(page, new_page, web_url, client, mail) -> None:  # noqa: ANN001, PLR0915
    started = time.monotonic()
    applicant = page  # the applicant on a phone; officers at desks

    # 1. The application, an invalid field first.
    number, code = await apply(applicant, web_url, "journey@example.com", wrong_id_first=True, id_proof=True,
                                 name="journey")
    case_id = await case_of(client, number)
    first = await routed(client, case_id)
    ogi = await new_page("desktop")
    await sign_in(ogi, web_url, OGI, "/work/ogi")
    if set(first) != {LAND, FINANCE, ENVIRONMENT}:
        print(f"\njourney: routing chose {sorted(first)}; the OGI office settles the departments")
        await settle_departments(ogi, web_url, case_id, set(first), {LAND, FINANCE, ENVIRONMENT})
    tasks = await tasks_of(client, case_id, 3)
    assert set(tasks) == {LAND, FINANCE, ENVIRONMENT}, tasks

    # 2. 自然资源厅: 签收, the file uploaded, answered with it.
    land = await new_page("desktop")
    await acknowledge(land, web_url, LAND, number, tasks[LAND])
    assert "征地补偿标准" in await land.content()
    await land.set_input_files("#upload-file", files=[{"name": "征地补偿标准.pdf", "mimeType": "application/pdf",
                                                        "buffer": PDF}])
    await land.get_by_role("button", name="上传该文件", exact=True).click()
    await land.wait_for_url(re.compile(r".*done=uploaded.*"))
    assert hashlib.sha256(PDF).hexdigest() in await land.locator("#materials").inner_text()
    await answer(land, LAND, "disclosed", "经检索，现向您提供某村2025年征地补偿标准（见附件）。")

    # 3. 财政厅: one part withheld with its own reason (Art. 37).
    finance = await new_page("desktop")
    await acknowledge(finance, web_url, FINANCE, number, tasks[FINANCE])
    await answer(finance, FINANCE, "partially_disclosed", "年度部门预算已公开如下；其中涉及个人信息的部分不予公开。",
                 reason="预算明细中含有个人信息",
                 withheld=("预算明细中个人补助对象的姓名和身份证号", "withheld.third_party", "涉及个人隐私，公开会损害第三方合法权益"))

    # 4. 生态环境厅 returns its task: the 水质 of a river section is the 水利厅's (in this directory).
    env = await new_page("desktop")
    await acknowledge(env, web_url, ENVIRONMENT, number, tasks[ENVIRONMENT])
    await env.get_by_label("退回理由（不属于本部门职责时，退回政府信息公开工作机构重新分办）").fill(
        "该河段水质监测由水利部门负责，请改派水利厅")
    await env.get_by_role("button", name="退回", exact=True).click()
    await env.wait_for_url(re.compile(r".*done=returned.*"))
    await accessible(env, "journey-returned")

    # 5. The OGI office reassigns it from its triage page.
    await ogi.goto(web_url + "/work/ogi")
    card = ogi.locator(f"article[id='case-{case_id}']")

    async def shown() -> bool:
        if await card.locator(f"#returned-{tasks[ENVIRONMENT]}").count():
            return True
        await ogi.reload()
        return False

    await eventually(shown, 60, what="the returned task on the triage page")
    returned = await card.locator(f"#returned-{tasks[ENVIRONMENT]}").inner_text()
    assert "部门退回" in returned and "该河段水质监测由水利部门负责" in returned, returned
    await accessible(ogi, "journey-ogi-returned")
    assert await card.locator(f"#rm-{case_id}-{ENVIRONMENT}").is_checked()  # 改派 withdraws the returned task
    await card.locator(f"#add-{case_id}-{WATER}").check()
    await card.locator(f"#reason-{case_id}-dept").fill("水质监测数据由水利厅负责")
    await card.get_by_role("button", name="改派", exact=True).click()
    await ogi.wait_for_url(re.compile(r".*/work/ogi\?done=departments.*"))
    assert "已调整承办部门" in await ogi.locator("[role=status]").first.inner_text()
    assert await ogi.locator(f"article[id='case-{case_id}']").count() == 0  # out of the queue
    await accessible(ogi, "journey-ogi-reassigned")
    tasks = await tasks_of(client, case_id, 3)
    assert set(tasks) == {LAND, FINANCE, WATER}, tasks

    # 6. 水利厅 answers; each department's reviewer signs off.
    water = await new_page("desktop")
    await acknowledge(water, web_url, WATER, number, tasks[WATER])
    await answer(water, WATER, "disclosed", "经检索，现公开该河段2025年水质监测数据：各月均达到Ⅲ类标准。")
    reviewer = await new_page("desktop")
    for dept in (LAND, FINANCE, WATER):
        await reviewer.context.clear_cookies()
        await sign_off(reviewer, web_url, dept, number)

    # 7. The applicant: the reply, the deadline's explanation, the reply PDF and the released file.
    seen: list[Any] = []

    async def issued() -> bool:
        r = await client.get("reply", f"/cases/{case_id}/reply", as_user=OGI)
        seen.append(r.json())
        return r.status_code == 200 and r.json().get("issued") is True

    try:
        await eventually(issued, 90, what="the reply issued")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; the reply service's view: {seen[-1] if seen else None}") from exc
    await status_until(applicant, web_url, number, code, "#materials", seconds=120)
    assert await applicant.locator("#case-status").inner_text() == "已办结"
    await applicant.locator("#deadline-explanation summary").click()
    explanation = await applicant.locator("#deadline-explanation").inner_text()
    assert "第1个工作日" in explanation and "第20个工作日" in explanation
    await accessible(applicant, "journey-status-replied")
    async with applicant.expect_download() as dl:
        await applicant.get_by_role("button", name="下载答复书（PDF）").click()
    reply_pdf = await (await dl.value).path()
    assert open(reply_pdf, "rb").read().startswith(b"%PDF")
    released = applicant.locator("#materials")
    assert "征地补偿标准.pdf" in await released.inner_text()
    assert hashlib.sha256(PDF).hexdigest() in await released.inner_text()
    async with applicant.expect_download() as dl:
        await released.get_by_role("button", name=re.compile("下载.*征地补偿标准.pdf")).click()
    got = open(await (await dl.value).path(), "rb").read()
    assert got == PDF

    # 8. The extension on a second case: an OGI officer without the head role cannot; the head does.
    applicant2 = await new_page("phone")
    number2, _ = await apply(applicant2, web_url, "journey2@example.com", name="journey2")
    case2 = await case_of(client, number2)

    async def clock_started() -> bool:
        return (await client.get("reply", f"/cases/{case2}/deadline", as_user=OGI)).status_code == 200

    await eventually(clock_started, 60, what="the reply service to know the second case")
    await find(ogi, web_url, number2)
    procedure = ogi.locator("#procedure")
    assert await procedure.get_by_role("button", name="批准延长").count() == 0
    assert "须经政府信息公开工作机构负责人同意" in await ogi.locator("#ext-head-only").inner_text()
    head = await new_page("desktop")
    await sign_in(head, web_url, OGI_HEAD, "/work/ogi")
    await find(head, web_url, number2)
    await head.get_by_label("延长的工作日数（不超过20）").fill("15")
    await head.get_by_label("理由", exact=True).fill("需协调三个部门检索并审查")
    await head.get_by_role("button", name="批准延长").click()
    await head.wait_for_url(re.compile(r".*\?done=extension$"))
    assert "延长 15 个工作日" in await head.locator("#procedure").inner_text()
    await accessible(head, "journey-extension")

    # 9. A correction on a third case, requested by the OGI office and submitted online.
    applicant3 = await new_page("phone")
    number3, code3 = await apply(applicant3, web_url, "journey3@example.com", "请公开相关文件", name="journey3")
    await case_of(client, number3)
    await find(ogi, web_url, number3)
    await ogi.get_by_label("需补正的事项（每行一项）").fill("请写明所需文件的名称、文号或发布时间\n请说明所涉地区或项目")
    await ogi.get_by_label("补正期限").fill((china_today() + timedelta(days=15)).isoformat())
    await ogi.get_by_role("button", name="发出补正通知").click()
    await ogi.wait_for_url(re.compile(r".*\?done=correction.*"))
    await accessible(ogi, "journey-correction-requested")
    items = await status_until(applicant3, web_url, number3, code3, "#correction-items")
    assert "请写明所需文件的名称" in items
    assert await applicant3.locator("#correction-items li").count() == 2
    await accessible(applicant3, "journey-correction-form")
    await applicant3.get_by_label("补正后的申请内容").fill("请公开某县2025年第3号文件《关于某镇征地补偿安置方案的批复》")
    await applicant3.get_by_role("button", name="提交补正").click()
    await applicant3.wait_for_selector("text=补正已提交")
    await accessible(applicant3, "journey-correction-submitted")
    received = await status_until(applicant3, web_url, number3, code3, "#correction-received")
    assert china_today().isoformat() in received and "重新计算" in received
    await accessible(applicant3, "journey-correction-received")
    print(f"\njourney e2e: {time.monotonic() - started:.1f} s")


async def find(pg: Page, web_url: str, number: str) -> None:
    """The OGI office finds a case by the number an applicant quotes (按受理编号查找)."""
    await pg.goto(web_url + "/work/ogi/find")
    await pg.get_by_label("受理编号").fill(number)
    await pg.get_by_role("button", name="查找").click()
    await pg.wait_for_url(re.compile(r".*/work/ogi/cases/[^/?]+$"))
    assert number in await pg.locator("h1").inner_text()

