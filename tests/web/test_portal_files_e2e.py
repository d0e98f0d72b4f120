"""The portal's files in a real browser against the real stack:

- an applicant attaches a file of the wrong type first (the message is tied to the file input),
  then a PNG; the receipt lists it;
- the OGI office requests a correction (补正): the status page shows the items and the online
  form; the applicant submits the corrected description and a file, sees the confirmation, and
  the status page then shows the correction received;
- a department answers with a file, its reviewer signs off: the status page lists the file (name,
  size, type, SHA-256) and the download's bytes are the department's upload.

Screenshots of each page; axe-core on each page: no serious or critical violation."""

from __future__ import annotations

import hashlib
import re
import time
from datetime import date, timedelta
from pathlib import Path

import pytest

from deploy.local.keycloak import realm as gen
from tests.browser import accessible
from tests.e2e.helpers import OGI, application, eventually, officer_of, tag

pytestmark = pytest.mark.e2e

DEPT = gen.home_departments(gen.load_directory())[0][0]["code"]
DESCRIPTION = "请公开某村2025年征地补偿标准、年度部门预算及某河段的水质监测数据"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(256)) * 8
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\ntrailer <<>>\n" + bytes(range(256)) * 30 + b"\n%%EOF\n"


async def open_status(pg, web_url: str, number: str, code: str) -> None:  # noqa: ANN001
    await pg.goto(web_url + "/status")
    await pg.get_by_label("受理编号").fill(number)
    await pg.get_by_label("查询码").fill(code)
    await pg.get_by_role("button", name="查询").click()
    await pg.wait_for_selector("#case-status")


@pytest.mark.parametrize("viewport", ["phone"])
async def test_apply_with_an_attachment_wrong_type_first(page, web_url) -> None:  # noqa: ANN001
    pg = page
    started = time.monotonic()
    await pg.goto(web_url + "/apply")
    files = pg.get_by_label("上传附件（身份证明等）")
    assert await files.get_attribute("type") == "file" and await files.get_attribute("multiple") is not None
    hint = await pg.locator("#f-attachments-hint").inner_text()
    assert "最多 5 个文件" in hint and "10 MiB" in hint and "20 MiB" in hint
    await pg.get_by_label("姓名或组织名称").fill("王五")
    await pg.get_by_label("证件号码").fill("11010519491231002X")
    await pg.get_by_label("电子邮箱").fill("portal-files@example.com")
    await pg.get_by_label("所需政府信息的名称、文号或者便于查询的其他特征性描述").fill(DESCRIPTION)
    await files.set_input_files(files=[{"name": "说明.txt", "mimeType": "text/plain", "buffer": "这不是图片".encode()}])
    await pg.get_by_role("button", name="提交申请").click()
    error = pg.locator("#f-attachments-error")
    await error.wait_for()
    message = await error.inner_text()
    assert "说明.txt" in message and "类型不支持" in message, message
    file_input = pg.locator("#f-attachments")
    assert "f-attachments-error" in (await file_input.get_attribute("aria-describedby") or "")
    assert await file_input.get_attribute("aria-invalid") == "true"
    assert await pg.get_by_label("姓名或组织名称").input_value() == "王五"  # values kept
    await accessible(pg, "portal-apply-attachment-error")

    await pg.get_by_label("上传附件（身份证明等）").set_input_files(
        files=[{"name": "身份证.png", "mimeType": "image/png", "buffer": PNG}])
    await pg.get_by_role("button", name="提交申请").click()
    await pg.wait_for_url(re.compile(r".*/receipt/[A-Z0-9-]+$"))
    listed = await pg.locator("#attachments").inner_text()
    assert "身份证.png" in listed and "2.0 KB" in listed, listed
    await accessible(pg, "portal-receipt-attachments")
    print(f"\nportal files (apply): {time.monotonic() - started:.1f} s")


@pytest.mark.parametrize("viewport", ["desktop"])
async def test_correction_online_from_the_status_page(page, web_url, client) -> None:  # noqa: ANN001
    pg = page
    started = time.monotonic()
    t = tag()
    accepted = await client.submit(application(t))
    case_id, number, code = accepted["case_id"], accepted["tracking_number"], accepted["query_code"]

    async def clock() -> dict | None:
        resp = await client.get("reply", f"/cases/{case_id}/deadline")
        return resp.json() if resp.status_code == 200 else None
    await eventually(clock, 60, what="the case's clock")
    items = ["请写明所需信息的年份", "请提供申请人身份证明"]
    due_on = date.fromisoformat(accepted["received_on"]) + timedelta(days=14)
    resp = await client.post("reply", f"/cases/{case_id}/correction", as_user=OGI,
                             json={"items": items, "due_on": due_on.isoformat()})
    assert resp.status_code == 201, resp.text

    async def intake_knows() -> bool:  # intake learns of the request from reply's event
        resp = await client.get("intake", f"/applications/{case_id}")
        return resp.status_code == 200 and ((resp.json().get("correction") or {}).get("status") == "requested")
    await eventually(intake_knows, 60, what="intake's record of the correction request")

    await open_status(pg, web_url, number, code)
    assert await pg.locator("#correction-items li").all_inner_texts() == items
    assert "本网站暂不支持在线提交补正" not in await pg.content()
    await accessible(pg, "portal-status-correction-form")
    # Nothing given: the message at the description.
    await pg.get_by_role("button", name="提交补正").click()
    err = pg.locator("#f-correction-description-error")
    await err.wait_for()
    assert await err.inner_text() == "请填写补正后的申请内容或上传补正材料"
    assert "f-correction-description-error" in (await pg.locator("#f-correction-description").get_attribute("aria-describedby") or "")
    await accessible(pg, "portal-status-correction-error")

    await pg.get_by_label("补正后的申请内容").fill("请公开某村2025年度征地补偿标准（文号：某政发〔2025〕1号）")
    await pg.get_by_label("补正说明").fill("已写明年份和文号，附身份证明")
    await pg.get_by_label("补正材料（身份证明等）").set_input_files(
        files=[{"name": "身份证明.pdf", "mimeType": "application/pdf", "buffer": PDF}])
    await pg.get_by_role("button", name="提交补正").click()
    await pg.wait_for_selector("#correction-done")
    assert await pg.locator("h1").inner_text() == "补正已提交"
    received_on = (await pg.locator("#received-on").inner_text()).strip()
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", received_on)
    assert "重新计算 20 个工作日" in await pg.locator("#deadline-restart").inner_text()
    assert "身份证明.pdf" in await pg.locator("#attachments").inner_text()
    assert code not in await pg.content()
    await accessible(pg, "portal-correction-done")

    # The reply service records it as received; the status page says so, the form is gone.
    until = time.monotonic() + 60
    while True:
        await open_status(pg, web_url, number, code)
        if await pg.locator("#correction-received").count() or time.monotonic() > until:
            break
        await pg.wait_for_timeout(1000)
    assert f"本机关已于 {received_on} 收到补正后的申请" in await pg.locator("#correction-received").inner_text()
    assert await pg.locator("#correction-form").count() == 0
    assert "已在线提交补正申请" in await pg.locator("#steps").inner_text()
    await accessible(pg, "portal-status-correction-received")
    print(f"\nportal files (correction): {time.monotonic() - started:.1f} s")


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
async def test_replied_case_lists_the_released_file_and_downloads_its_bytes(page, web_url, client) -> None:  # noqa: ANN001
    pg = page
    started = time.monotonic()
    t = tag()
    accepted = await client.submit(application(t, departments=[DEPT], description=f"请公开{t}项目的土地出让合同"))
    case_id, number, code = accepted["case_id"], accepted["tracking_number"], accepted["query_code"]
    task = await client.wait_task_open(case_id, DEPT)
    up = await client.post("reply", f"/tasks/{task['task_id']}/material", as_user=officer_of(DEPT),
                           files={"file": ("出让合同.pdf", PDF, "application/pdf")})
    assert up.status_code == 201, up.text
    material = up.json()
    resp = await client.answer(task["task_id"], DEPT, text="现予公开，详见所附出让合同。", material_refs=[material["ref"]])
    assert resp.status_code in (200, 201), resp.text
    await client.reply(case_id)

    async def listed() -> bool:
        await open_status(pg, web_url, number, code)
        return bool(await pg.locator("#materials").count())
    await eventually(listed, 60, every=1, what="the released material on the status page")
    item = pg.locator(f"#material-{material['material_id']}")
    text = await item.inner_text()
    assert "出让合同.pdf" in text and "application/pdf" in text and hashlib.sha256(PDF).hexdigest() in text
    assert "KB" in text
    await accessible(pg, "portal-status-material")
    async with pg.expect_download() as info:
        await item.get_by_role("button", name="下载 出让合同.pdf").click()
    download = await info.value
    assert download.suggested_filename == "出让合同.pdf"
    assert Path(await download.path()).read_bytes() == PDF
    # The reply PDF beside it still downloads.
    async with pg.expect_download() as info:
        await pg.get_by_role("button", name="下载答复书（PDF）").click()
    assert Path(await (await info.value).path()).read_bytes().startswith(b"%PDF")
    print(f"\nportal files (material): {time.monotonic() - started:.1f} s")


async def test_attachments_work_without_javascript(new_page, web_url) -> None:  # noqa: ANN001
    pg = await new_page("desktop", javascript=False)
    await pg.goto(web_url + "/apply")
    await pg.get_by_label("姓名或组织名称").fill("赵六")
    await pg.get_by_label("证件号码").fill("11010519491231002X")
    await pg.get_by_label("电子邮箱").fill("portal-files-nojs@example.com")
    await pg.get_by_label("所需政府信息的名称、文号或者便于查询的其他特征性描述").fill(DESCRIPTION)
    await pg.get_by_label("上传附件（身份证明等）").set_input_files(files=[
        {"name": "营业执照.pdf", "mimeType": "application/pdf", "buffer": PDF},
        {"name": "身份证.png", "mimeType": "image/png", "buffer": PNG}])
    await pg.get_by_role("button", name="提交申请").click()
    await pg.wait_for_url(re.compile(r".*/receipt/[A-Z0-9-]+$"))
    listed = await pg.locator("#attachments").inner_text()
    assert "营业执照.pdf" in listed and "身份证.png" in listed, listed
