"""短信防打扰时间 (issue #17) in a real browser against the real stack: the OGI head sets a window
on the page (htmx: the section is replaced in place; the same start and end are refused by notify,
its message at the fields), sees it in words with who set it, and notify
holds to it (its ``GET /settings/sms-quiet-hours``); then, without JavaScript (a plain POST and
the redirect), sets 「不设防打扰时间」. An OGI officer sees the value and 「仅公开办负责人可修改」
with the form disabled. The setting is put back as it was (other tests share the stack's notify).
Screenshots (axe-core, 0 serious/critical, on the pages with JavaScript):
``<artifacts>/screenshots/ogi-sms-quiet-*``, copied to /tmp/shots/."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.browser import accessible, shot, sign_in
from tests.e2e.helpers import OGI, OGI_HEAD, Client

pytestmark = pytest.mark.e2e
CHINA = ZoneInfo("Asia/Shanghai")
PAGE = "/work/ogi/settings/sms"
API = "/settings/sms-quiet-hours"
KEPT = "() => window.__noReload === 'kept'"


async def notify_setting(client: Client) -> dict:
    resp = await client.get("notify", API, as_user=OGI_HEAD)
    assert resp.status_code == 200, resp.text
    return resp.json()


def keep(path: Path) -> None:
    """A copy under /tmp/shots/ (for the report)."""
    Path("/tmp/shots").mkdir(exist_ok=True)
    shutil.copy(path, Path("/tmp/shots") / path.name)


async def test_the_head_sets_and_clears_the_quiet_hours(page, new_page, web_url, client) -> None:  # noqa: ANN001
    before = await notify_setting(client)
    # A window that does not cover now (texts of other tests are not held): from 2 h to 3 h from now.
    now = datetime.now(CHINA)
    start, end = f"{now + timedelta(hours=2):%H:%M}", f"{now + timedelta(hours=3):%H:%M}"
    try:
        await sign_in(page, web_url, OGI_HEAD, PAGE)
        assert await page.locator("h1").inner_text() == "短信防打扰时间"
        assert await page.locator('a[href="/work/ogi/settings/sms"][aria-current="page"]').count() == 1
        await page.wait_for_function("() => typeof window.htmx !== 'undefined'")
        await page.evaluate("window.__noReload = 'kept'")

        await page.get_by_label("不设防打扰时间（短信全天发送）").uncheck()
        # The same start and end: notify's 422, its message next to the fields, in place.
        await page.get_by_label("开始时刻").fill(start)
        await page.get_by_label("结束时刻").fill(start)
        await page.get_by_role("button", name="保存").click()
        await page.locator("#err-sms-quiet-hours").wait_for()
        assert "开始时刻与结束时刻不能相同" in await page.locator("#err-sms-quiet-hours").inner_text()
        assert await page.get_by_label("开始时刻").get_attribute("aria-invalid") == "true"
        assert await page.evaluate(KEPT), "the refusal reloaded the page (htmx expected)"
        assert (await notify_setting(client))["quiet_hours"] == before["quiet_hours"]  # nothing stored
        keep(await accessible(page, "ogi-sms-quiet-refused"))
        await page.get_by_label("开始时刻").fill(start)
        await page.get_by_label("结束时刻").fill(end)
        await page.get_by_role("button", name="保存").click()
        await page.locator("#sms-done").filter(has_text="已保存防打扰时间").wait_for()
        assert await page.evaluate(KEPT), "the save reloaded the page (htmx expected)"
        said = await notify_setting(client)
        assert said["quiet_hours"] == f"{start}-{end}" and said["source"] == "set" and said["now_quiet"] is False
        night = "次日 " if start > end else " "
        assert await page.locator("#sms-window").inner_text() == \
            f"每日 {start} 至{night}{end}（北京时间）不发送短信，期间的短信在结束时发出"
        assert "现在不在防打扰时间内" in await page.locator("#sms-now").inner_text()
        source = await page.locator("#sms-source").inner_text()
        assert said["set_by"] and said["set_by"] in source and "设置" in source
        path = await accessible(page, "ogi-sms-quiet-set")
        keep(path)

        # An OGI officer sees it, with the form disabled and the note.
        officer = await new_page("desktop")
        await sign_in(officer, web_url, OGI, PAGE)
        assert f"每日 {start} 至" in await officer.locator("#sms-window").inner_text()
        assert await officer.get_by_text("仅公开办负责人可修改").is_visible()
        assert await officer.get_by_label("开始时刻").is_disabled()
        keep(await accessible(officer, "ogi-sms-quiet-officer"))

        # Without JavaScript: a plain POST, the redirect, the page says what was set.
        plain = await new_page("desktop", javascript=False)
        await sign_in(plain, web_url, OGI_HEAD, PAGE)
        await plain.get_by_label("不设防打扰时间（短信全天发送）").check()
        await plain.get_by_role("button", name="保存").click()
        await plain.wait_for_url(lambda url: url.endswith(PAGE + "?done=cleared"))
        assert "已取消防打扰时间" in await plain.locator("#sms-done").inner_text()
        assert await plain.locator("#sms-window").inner_text() == "未设置：全天发送"
        assert await plain.get_by_label("不设防打扰时间（短信全天发送）").is_checked()
        assert (await notify_setting(client))["quiet_hours"] == ""
        keep(await shot(plain, "ogi-sms-quiet-cleared-nojs"))  # (axe needs JavaScript: checked on the others)
    finally:
        restored = await client.http.put(client.url("notify", API), headers=client.auth(OGI_HEAD),
                                         json={"quiet_hours": before["quiet_hours"]})
        assert restored.status_code == 200, restored.text
    assert (await notify_setting(client))["quiet_hours"] == before["quiet_hours"]
