"""After the reply, through the pages, in a real browser against the real stack:

- the applicant opens the status page of a released reply (a read) and rates it 不满意 with a
  reason; the OGI officer signs in, finds the case in the follow-up queue (不满意), sees the reply
  read and the rating, records a telephone follow-up; the case leaves the queue; the applicant
  then changes the rating to 基本满意 (within the change period);
- the ledger has the events (reply.read, reply.rated twice, followup.recorded) with no applicant
  identity; the auditor's red/black page shows the quarter with the department's rating, and its
  CSV and XLSX downloads are the table;
- the public /where page lists every acceptance point (the OGI office's window from the
  directory, the other window, post, fax, online) and its QR code decodes (zxing-cpp) to the
  application form's address, on screen and in the print layout.

Screenshots and axe-core (0 serious/critical) on each page: .local/artifacts/screenshots/followup-*.
"""

from __future__ import annotations

import csv
import io
import re
import time

import openpyxl
import pytest
from playwright.async_api import Page

from tests.browser import accessible, shot, sign_in
from tests.e2e.helpers import AUDITOR, OGI, Client, application, eventually, tag
from tests.web.test_followup_pages import decode_qr
from tests.web.test_journey_e2e import open_status

pytestmark = pytest.mark.e2e


async def released_case(client: Client) -> dict:
    """An application answered by every department it was routed to, reviewed, replied."""
    receipt = await client.submit(application(tag(), description="请公开本机关2025年度部门预算"))
    routing = await client.routing(receipt["case_id"])
    for t in routing["tasks"]:
        await client.wait_task_open(receipt["case_id"], t["dept_code"])
        resp = await client.answer(t["task_id"], t["dept_code"], text="现予公开2025年度部门预算。")
        assert resp.status_code in (200, 201), resp.text
    reply = await client.reply(receipt["case_id"], timeout=90)
    return {**receipt, "reply": reply, "departments": sorted({t["dept_code"] for t in routing["tasks"]})}


async def rate(pg: Page, rating: str, reason: str = "", comment: str = "") -> str:
    form = pg.locator("#rating-form")
    await form.get_by_label(rating, exact=True).check()
    if reason:
        await form.get_by_label("主要理由（可选）").select_option(label=reason)
    await form.get_by_label(re.compile("意见和建议")).fill(comment)
    await form.get_by_role("button").click()
    await pg.wait_for_selector("#rating-ok")
    return await pg.locator("#rating-ok").inner_text()


async def ledgered(client: Client, case_id: str, kinds: list[str]) -> list[dict]:
    async def probe() -> list[dict] | None:
        events = await client.timeline(case_id)
        types = [str(e.get("type", "")).removeprefix("cn.gongkai.").rsplit(".v", 1)[0] for e in events]
        return events if all(types.count(k) >= kinds.count(k) for k in set(kinds)) else None
    return await eventually(probe, 60, what=f"{kinds} in the ledger of {case_id}")


@pytest.mark.parametrize("viewport", ["phone"])
async def test_read_rate_follow_up_and_the_red_black_list(page, new_page, web_url, client) -> None:  # noqa: ANN001, PLR0915
    started = time.monotonic()
    case = await released_case(client)
    number, code, case_id = case["tracking_number"], case["query_code"], case["case_id"]

    # The applicant opens the status page: the reply is released, the rating form is there.
    applicant = page
    await open_status(applicant, web_url, number, code)
    assert await applicant.locator("#case-status").inner_text() == "已办结"
    assert await applicant.locator("#rating-form").count() == 1
    await accessible(applicant, "followup-status-rating")
    # Submitting without a choice: the page says what is missing.
    await applicant.locator("#rating-form").get_by_role("button").click()
    assert "请选择" in await applicant.locator("#rating-error").inner_text()
    assert "感谢您的评价" in await rate(applicant, "不满意", "提供的信息不完整", "缺少各项目明细")
    current = await applicant.locator("#rating-current").inner_text()
    assert "不满意" in current and "可于" in current
    await accessible(applicant, "followup-status-rated")

    # The OGI officer: the follow-up queue has the case (不满意), the case page shows it read.
    ogi = await new_page("desktop")
    await sign_in(ogi, web_url, OGI, "/work/ogi/follow-ups")
    row = ogi.locator(f"tr[id='fu-{case_id}']")

    async def queued() -> bool:
        if await row.count():
            return True
        await ogi.reload()
        return False

    await eventually(queued, 30, what="the case in the follow-up queue")
    assert "申请人评价为不满意" in await row.inner_text() and "不满意" in await row.inner_text()
    await accessible(ogi, "followup-queue")
    await row.get_by_role("link", name="记录回访").click()
    await ogi.wait_for_url(re.compile(rf".*/work/ogi/follow-ups/{re.escape(case_id)}$"))
    assert "已查阅" in await ogi.locator("#read-status").inner_text()
    assert "查看了办理进度页面" in await ogi.locator("#reads").inner_text()
    rating = await ogi.locator("#rating").inner_text()
    assert "不满意" in rating and "缺少各项目明细" in rating and "提供的信息不完整" in rating
    await accessible(ogi, "followup-case")
    # A note left empty: refused next to the field, nothing recorded.
    await ogi.get_by_role("button", name="记录回访").click()
    assert "请填写申请人的意见" in await ogi.locator("#fu-note-error").inner_text()
    await ogi.get_by_label("联系方式", exact=True).select_option(label="电话")
    await ogi.get_by_label("回访结果", exact=True).select_option(label="部分满足需求")
    await ogi.get_by_label(re.compile("申请人的意见")).fill("申请人表示已收到答复书，希望补充各项目明细，已告知可另行申请")
    await ogi.get_by_role("button", name="记录回访").click()
    await ogi.wait_for_url(re.compile(r".*\?done=followup$"))
    followups = await ogi.locator("#followups").inner_text()
    assert "电话" in followups and "部分满足需求" in followups and "希望补充各项目明细" in followups
    await accessible(ogi, "followup-recorded")
    await ogi.goto(web_url + "/work/ogi/follow-ups")
    assert await ogi.locator(f"tr[id='fu-{case_id}']").count() == 0

    # The applicant changes the rating after the call.
    await open_status(applicant, web_url, number, code)
    assert "已修改" in await rate(applicant, "基本满意")
    assert "基本满意" in await applicant.locator("#rating-current").inner_text()

    # The ledger: the read, both ratings, the follow-up; no identity, no free text.
    events = await ledgered(client, case_id, ["reply.read", "reply.rated", "reply.rated", "followup.recorded"])
    for e in events:
        if str(e.get("type", "")).startswith(("cn.gongkai.reply.rated", "cn.gongkai.followup")):
            text = repr(e)
            assert "缺少各项目明细" not in text and "希望补充" not in text and "张三" not in text

    # The auditor: the quarter's red/black list with the department rated, and its downloads.
    auditor = await new_page("desktop")
    await sign_in(auditor, web_url, AUDITOR, "/work/stats/red-black")
    dept = case["departments"][0]
    rank_row = auditor.locator(f"#rank-{dept}")

    async def rated() -> bool:
        if await rank_row.count() and int((await rank_row.locator("td").nth(9).inner_text()).strip() or 0) >= 1:
            return True
        await auditor.reload()
        return False

    await eventually(rated, 60, what=f"{dept} rated on the red/black page")
    assert "季度红黑榜" in await auditor.locator("h1").inner_text()
    assert "收到评价" in await auditor.locator("#sat-total").inner_text()
    await accessible(auditor, "followup-red-black")
    quarter = await auditor.locator("#quarter").input_value()
    async with auditor.expect_download() as dl:
        await auditor.locator("#csv-link").click()
    rows = list(csv.reader(io.StringIO(open(await (await dl.value).path(), encoding="utf-8-sig").read())))
    assert quarter in rows[0][0] and rows[1][:3] == ["排名", "部门", "榜单"]
    assert len(rows) - 2 == await auditor.locator("#ranking tbody tr").count() >= 1  # the page's table
    async with auditor.expect_download() as dl:
        await auditor.locator("#xlsx-link").click()
    ws = openpyxl.load_workbook(io.BytesIO(open(await (await dl.value).path(), "rb").read())).active
    assert ws.title == f"{quarter}红黑榜" and ws["A2"].value == "排名" and ws.max_row >= 3
    print(f"\nfollow-up e2e: {time.monotonic() - started:.1f} s")


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
async def test_where_to_apply_lists_the_points_and_the_qr_code_opens_the_form(page, web_url, viewport) -> None:  # noqa: ANN001
    await page.goto(web_url + "/where")
    assert "受理点" in await page.locator("h1").inner_text()
    windows = await page.locator("#windows").inner_text()
    assert "政府信息公开办公室" in windows and "五华山" in windows and "工作日" in windows  # from the directory
    assert "政务服务中心" in windows  # acceptance_points.json
    assert "邮政编码" in await page.locator("#post").inner_text()
    assert "传真号码" in await page.locator("#fax").inner_text()
    assert web_url + "/apply" in await page.locator("#online").inner_text()
    await accessible(page, "followup-where")
    # The QR code as the browser shows it decodes to the form's address; so does the PNG itself.
    assert decode_qr(await page.locator("#qr").screenshot()) == [web_url + "/apply"]
    resp = await page.request.get(web_url + "/where/qr.png")
    assert resp.status == 200 and resp.headers["content-type"] == "image/png"
    assert decode_qr(await resp.body()) == [web_url + "/apply"]
    # Printed for a window: no site header, the QR code still readable.
    await page.emulate_media(media="print")
    assert not await page.locator("header.site").is_visible()
    assert await page.locator(".print-only").is_visible()
    await shot(page, "followup-where-print")
    assert decode_qr(await page.locator("#qr").screenshot()) == [web_url + "/apply"]
    # The form the code opens.
    await page.emulate_media(media="screen")
    await page.goto(web_url + "/apply")
    assert await page.get_by_role("button", name="提交申请").count() == 1
