"""Issue #12 on the real stack (broker, store, Keycloak, the services, the tests' own SMTP sink):
the chaos campaign's lost e-mail, made on purpose with notify's fault points, and resolved by the
OGI office.

Three applicants' registration e-mails become ``uncertain``: notify is SIGKILLed (``GONGKAI_FAULT``)
once just after recording the commit and before the end of data (``notify.after_commit``: the
server discards the message — the applicant never got it, yet notify cannot know) and once just
after the server's 250 (``notify.after_send``: the mailbox has it). Then:

- notify's ``GET /notices/uncertain`` lists them (recipient, Message-ID); a department officer
  gets 403, no token 401;
- ``resend`` makes the real SMTP sink receive the mail that never arrived, once, same Message-ID;
- ``sent`` makes the other delivered, ``confirmed_manually.by`` the officer of the token, with
  its ``notice.delivered`` on the bus;
- in a real browser the OGI officer sees the third on 投递结果不确定的邮件 and clicks 重新发送:
  the row says so, the mail arrives, the list no longer shows it; a department officer is refused
  the page, nobody signed in is sent to the sign-in.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import pytest
import pytest_asyncio

from contracts import topics
from tests.browser import accessible, shot, sign_in
from tests.e2e.helpers import OGI, Client, application, eventually, events_of, mails_for, officer_of, tag

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]

DEPT_OFFICER = officer_of("zjt")


async def _down(stack) -> bool:  # noqa: ANN001
    return stack.pid("notify") is None


async def _restart_notify(stack) -> None:  # noqa: ANN001
    stack.start("notify")
    await asyncio.to_thread(stack.wait_healthy, "notify")


async def _received_email(client: Client, case_id: str) -> dict[str, Any] | None:
    resp = await client.get("notify", f"/cases/{case_id}/notices")
    notices = resp.json()["notices"] if resp.status_code == 200 else []
    received = next((n for n in notices if n["kind"] == "received"), None)
    return received["deliveries"].get("email") if received else None


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def uncertain_cases(stack, mail) -> AsyncIterator[dict[str, dict[str, Any]]]:  # noqa: ANN001
    """Three cases whose registration e-mail is uncertain: ``lost`` and ``browser`` killed after the
    commit (never at the sink), ``arrived`` killed after the 250 (at the sink once)."""
    client = Client(stack)
    tags = {"lost": tag(), "arrived": tag(), "browser": tag()}
    points = {"lost": "notify.after_commit", "arrived": "notify.after_send", "browser": "notify.after_commit"}
    stack.cfg.extra_env["GONGKAI_FAULT"] = ",".join(f"{points[k]}:kill@{t}@" for k, t in tags.items())
    cases: dict[str, dict[str, Any]] = {}
    try:
        stack.stop("notify")
        await _restart_notify(stack)
        for n, (key, t) in enumerate(tags.items()):
            cases[key] = {**await client.submit(application(t)), "address": f"{t}@example.com", "tag": t}
            await eventually(lambda: _down(stack), 60, what=f"notify killed at {points[key]} ({key})")
            if n == len(tags) - 1:
                stack.cfg.extra_env.pop("GONGKAI_FAULT", None)
            await _restart_notify(stack)
    finally:
        stack.cfg.extra_env.pop("GONGKAI_FAULT", None)
        if stack.pid("notify") is None:
            await _restart_notify(stack)
    for key, case in cases.items():
        async def is_uncertain(case: dict = case) -> dict | None:
            email = await _received_email(client, case["case_id"])
            return email if email and email["status"] == "uncertain" else None
        case["email"] = await eventually(is_uncertain, 60, what=f"the {key} e-mail uncertain after the restart")
    await asyncio.sleep(2)  # several dispatch polls: nothing is sent again by itself
    assert len(mails_for(mail, cases["lost"]["address"])) == 0
    assert len(mails_for(mail, cases["browser"]["address"])) == 0
    assert len(mails_for(mail, cases["arrived"]["address"])) == 1
    yield cases
    await client.close()


def officer_name(stack, username: str) -> str:  # noqa: ANN001
    """The officer's display name as notify records it (the token's name, else its user name)."""
    claims = jwt.decode(stack.token(username), options={"verify_signature": False})
    return claims.get("name") or claims.get("preferred_username") or claims["sub"]


async def test_the_ogi_office_lists_and_resolves_uncertain_emails(stack, mail, uncertain_cases) -> None:  # noqa: ANN001
    client = Client(stack)
    lost, arrived = uncertain_cases["lost"], uncertain_cases["arrived"]
    # Who may see the list: the OGI office's officers; not a department, not without a token.
    assert (await client.get("notify", "/notices/uncertain", as_user=DEPT_OFFICER)).status_code == 403
    anonymous = await client.http.get(client.url("notify", "/notices/uncertain"))
    assert anonymous.status_code == 401
    listed = await client.get("notify", "/notices/uncertain", as_user=OGI)
    assert listed.status_code == 200, listed.text
    rows = {r["case_id"]: r for r in listed.json()["deliveries"]}
    for case in (lost, arrived):
        row = rows[case["case_id"]]
        assert row["recipient"] == case["address"] and row["kind"] == "received" and row["channel"] == "email"
        assert row["tracking_number"] == case["tracking_number"] and "已登记" in row["subject"]
        assert row["message_id"] == case["email"]["message_id"] and row["uncertain_reason"]
    # The sink holds the 250'd one under the Message-ID the officer looks up.
    assert mails_for(mail, arrived["address"])[0]["message_id"] == rows[arrived["case_id"]]["message_id"]
    times = [r["uncertain_at"] for r in listed.json()["deliveries"]]
    assert times == sorted(times, reverse=True)  # newest first

    # A department officer may not resolve either.
    path = f"/notices/{rows[lost['case_id']]['notice_id']}/deliveries/email/resolution"
    assert (await client.post("notify", path, as_user=DEPT_OFFICER, json={"outcome": "resend"})).status_code == 403

    # resend: the mail that never arrived is sent again, once, with the same Message-ID.
    resent = await client.post("notify", path, as_user=OGI, json={"outcome": "resend", "note": "服务器日志中查不到"})
    assert resent.status_code == 200, resent.text
    assert resent.json()["resolution"]["by"] == officer_name(stack, OGI)
    [got] = await eventually(lambda: _some(mails_for(mail, lost["address"])), 60, what="the resent e-mail at the sink")
    assert got["message_id"] == rows[lost["case_id"]]["message_id"] and "已登记" in got["subject"]

    async def delivered(case: dict = lost) -> dict | None:
        email = await _received_email(client, case["case_id"])
        return email if email and email["status"] == "delivered" else None
    email = await delivered() or await eventually(delivered, 30, what="the resent e-mail recorded delivered")
    assert email["attempts"] == 1 and email["smtp_reply"].startswith("250")
    assert email["resolution"]["outcome"] == "resend" and email["resolution"]["note"] == "服务器日志中查不到"
    twice = await client.post("notify", path, as_user=OGI, json={"outcome": "sent"})
    assert twice.status_code == 409 and "结果不确定" in twice.json()["detail"]

    # sent: the one the server took is recorded delivered, confirmed by the officer, and told on the bus.
    path = f"/notices/{rows[arrived['case_id']]['notice_id']}/deliveries/email/resolution"
    bad = await client.post("notify", path, as_user=OGI, json={"outcome": "yes"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "outcome"
    confirmed = await client.post("notify", path, as_user=OGI, json={"outcome": "sent", "note": "日志：250 已投递"})
    assert confirmed.status_code == 200, confirmed.text
    email = await _received_email(client, arrived["case_id"])
    assert email["status"] == "delivered" and email["confirmed_manually"]["by"] == officer_name(stack, OGI)
    assert email["confirmed_manually"]["note"] == "日志：250 已投递"

    async def on_the_bus() -> list | None:
        events = await events_of(stack.cfg.kafka_bootstrap, topics.NOTICES_DELIVERED.name, arrived["case_id"])
        return [e for e in events if e["data"]["channel"] == "email" and e["data"]["kind"] == "received"] or None
    [event] = await eventually(on_the_bus, 30, every=1, what="notice.delivered of the confirmed e-mail")
    assert event["data"]["notice_id"] == f"{rows[arrived['case_id']]['notice_id']}:email"
    await asyncio.sleep(1.5)
    assert len(mails_for(mail, arrived["address"])) == 1  # nothing sent again

    after = {r["case_id"] for r in (await client.get("notify", "/notices/uncertain")).json()["deliveries"]}
    assert lost["case_id"] not in after and arrived["case_id"] not in after
    assert uncertain_cases["browser"]["case_id"] in after
    await client.close()


async def _some(items: list) -> list | None:
    return items or None


async def test_the_officer_resends_from_the_page(stack, mail, uncertain_cases, page, new_page, web_url) -> None:  # noqa: ANN001
    case = uncertain_cases["browser"]
    # Nobody signed in: to the sign-in, as every /work page.
    async with httpx.AsyncClient(follow_redirects=False) as anon:
        r = await anon.get(web_url + "/work/notices/uncertain")
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next=/work/notices/uncertain")

    await sign_in(page, web_url, OGI, "/work/notices/uncertain")
    assert await page.locator("h1").inner_text() == "投递结果不确定的邮件"
    row = page.locator("tr", has_text=case["tracking_number"])
    await row.wait_for()
    text = await row.inner_text()
    assert case["address"] in text and case["email"]["message_id"] in text and "申请已登记" in text
    assert await row.get_by_role("link", name=case["tracking_number"]).get_attribute("href") == \
        f"/work/ogi/cases/{case['case_id']}"
    count = page.locator("#uncertain-count")
    assert int((await count.inner_text()).strip().split()[0]) >= 1
    await accessible(page, "ogi-uncertain-emails")
    phone = await new_page("phone")  # the same list on a phone: the table scrolls, the forms stay usable
    await sign_in(phone, web_url, OGI, "/work/notices/uncertain")
    await phone.locator("tr", has_text=case["tracking_number"]).wait_for()
    await accessible(phone, "ogi-uncertain-emails")

    await row.get_by_label("备注（可选）").fill("日志中查不到该 Message-ID")
    await row.get_by_role("button", name="重新发送").click()
    await page.get_by_text("已重新发送").wait_for()
    assert "同一 Message-ID" in await page.locator("tr.gone").inner_text()
    assert await page.locator("tr", has_text=case["address"]).count() == 0  # the row is replaced by the result
    await shot(page, "ogi-uncertain-emails-resent")
    [got] = await eventually(lambda: _some(mails_for(mail, case["address"])), 60, what="the e-mail resent from the page")
    assert got["message_id"] == case["email"]["message_id"]
    # The navigation's count came with the answer (out of band): what notify lists now.
    swapped = int((await count.inner_text()).strip().split()[0])
    total = await page.locator("#uncertain-total").inner_text()
    assert (f"共 {swapped} 封" in total) if swapped else ("目前没有其他" in total)
    await page.reload()
    assert await page.locator("tr", has_text=case["tracking_number"]).count() == 0
    assert swapped == await page.locator("#uncertain-list tbody tr").count()
    assert int((await page.locator("#uncertain-count").inner_text()).strip().split()[0]) == swapped

    # A department officer is refused the page.
    other = await new_page("desktop")
    await sign_in(other, web_url, DEPT_OFFICER, "/work")
    resp = await other.goto(web_url + "/work/notices/uncertain")
    assert resp is not None and resp.status == 403
    assert "无权" in await other.locator("h1").inner_text() or "权限" in await other.content()
