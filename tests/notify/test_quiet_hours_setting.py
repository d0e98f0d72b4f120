"""The quiet hours the OGI office sets (防打扰时间, issue #17): ``GET``/``PUT /settings/sms-quiet-hours``
on the real local store — who may read and set them, the 422s, who set them and when — and, with the
real local SMSC, the running service holding a text at night and sending it at once, exactly one,
when the office's new window no longer covers now; the dispatcher re-examining held texts when the
window changes (also one stored by another instance, seen through its cache)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from pymongo import AsyncMongoClient

from deploy.local.smsc import Smsc
from services.notify.messages import sms_text
from services.notify.notices import Dispatcher
from services.notify.quiet import CHINA
from services.notify.quiet_setting import QuietHoursSetting
from tests.notify import samples as s
from tests.notify.api_client import notify_api
from tests.notify.test_sms_delivery import contact, registered, sms, sms_delivery, smsc, until  # noqa: F401
from tests.tokens import bearer

pytestmark = pytest.mark.asyncio

ROUTE = "/settings/sms-quiet-hours"


def covering_now(hours: int = 1) -> tuple[str, datetime]:
    """A window from an hour ago to ``hours`` from now (China time), and its end (UTC)."""
    local = datetime.now(CHINA)
    end = (local + timedelta(hours=hours)).replace(second=0, microsecond=0)
    return f"{(local - timedelta(hours=1)):%H:%M}-{end:%H:%M}", end.astimezone(UTC)


@pytest_asyncio.fixture
async def api(store, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator:  # noqa: ANN001, F811
    monkeypatch.setenv("NOTIFY_SMS_QUIET_HOURS", "21:00-08:00")
    async with notify_api(store, "quiet_" + request.node.name[:30], monkeypatch) as client:
        yield client


async def test_who_may_read_and_who_may_set_the_quiet_hours(api) -> None:  # noqa: ANN001
    body = {"quiet_hours": "22:00-07:30"}
    assert (await api.get(ROUTE)).status_code == 401
    assert (await api.put(ROUTE, json=body)).status_code == 401
    assert (await api.put(ROUTE, json=body, headers={"X-Role": "ogi_head"})).status_code == 401
    for role in ("dept_officer", "dept_reviewer", "directory_admin"):
        assert (await api.get(ROUTE, headers=bearer(role, department="czt"))).status_code == 403, role
    # a department's officer, the OGI office's officer and the auditor may not set them
    for role, dept in (("dept_officer", "czt"), ("dept_reviewer", "czt"), ("ogi_officer", None), ("auditor", None),
                       ("directory_admin", None)):
        refused = await api.put(ROUTE, json=body, headers=bearer(role, department=dept))
        assert refused.status_code == 403, role
        assert "公开办负责人" in refused.json()["detail"]
    for role in ("ogi_officer", "ogi_head", "auditor"):
        got = await api.get(ROUTE, headers=bearer(role))
        assert got.status_code == 200, role
        # nothing set yet: the deployment's default (NOTIFY_SMS_QUIET_HOURS)
        assert got.json()["quiet_hours"] == "21:00-08:00" and got.json()["source"] == "default"
        assert got.json()["set_by"] is None and got.json()["set_at"] is None
    assert await api.app.state.quiet_setting.versioned.load("sms_quiet_hours") is None  # no refusal wrote anything


async def test_the_head_sets_them_and_who_and_when_are_recorded(api) -> None:  # noqa: ANN001
    before = datetime.now(UTC)
    head = bearer("ogi_head", sub="head-1", name="李主任")
    put = await api.put(ROUTE, json={"quiet_hours": " 9:30 - 7:00 "}, headers=head)
    assert put.status_code == 200, put.text
    body = put.json()
    assert body["quiet_hours"] == "09:30-07:00" and body["source"] == "set" and body["set_by"] == "李主任"
    assert before <= datetime.fromisoformat(body["set_at"]) <= datetime.now(UTC)
    assert isinstance(body["now_quiet"], bool)
    got = (await api.get(ROUTE, headers=bearer("auditor"))).json()
    assert got == body
    # cleared: no quiet hours at all (not the default again)
    cleared = await api.put(ROUTE, json={"quiet_hours": ""}, headers=bearer("ogi_head", sub="head-2", name="王主任"))
    assert cleared.status_code == 200
    assert cleared.json() | {"set_at": None} == {"quiet_hours": "", "source": "set", "set_by": "王主任", "set_at": None,
                                                  "now_quiet": False, "until": None}
    doc = await api.app.state.quiet_setting.versioned.load("sms_quiet_hours", {})
    assert doc["set_by_subject"] == "head-2" and doc["rev"] == 1
    assert [(h["quiet_hours"], h["set_by_subject"]) for h in doc["history"]] == [("09:30-07:00", "head-1")]


async def test_now_quiet_and_until_say_whether_a_text_due_now_is_held(api) -> None:  # noqa: ANN001
    window, end = covering_now()
    got = (await api.put(ROUTE, json={"quiet_hours": window}, headers=bearer("ogi_head"))).json()
    assert got["now_quiet"] is True and datetime.fromisoformat(got["until"]) == end
    local = datetime.now(CHINA)
    later = f"{(local + timedelta(hours=2)):%H:%M}-{(local + timedelta(hours=3)):%H:%M}"
    got = (await api.put(ROUTE, json={"quiet_hours": later}, headers=bearer("ogi_head"))).json()
    assert got["now_quiet"] is False and got["until"] is None


@pytest.mark.parametrize(("value", "message"), [
    ("21-8", "格式不正确"),
    ("21:00", "格式不正确"),
    ("晚上九点到早上八点", "格式不正确"),
    ("25:00-08:00", "不是有效的时刻"),
    ("21:00-08:60", "不是有效的时刻"),
    ("08:00-08:00", "不能相同"),
    ("21:00-08:00" + " " * 40, "内容过长"),
    (2100, "应为文本"),
    (None, "应为文本"),
])
async def test_an_invalid_window_is_422_on_the_field_and_changes_nothing(api, value, message) -> None:  # noqa: ANN001
    head = bearer("ogi_head")
    resp = await api.put(ROUTE, json={"quiet_hours": value}, headers=head)
    assert resp.status_code == 422, resp.text
    [error] = resp.json()["errors"]
    assert error["field"] == "quiet_hours" and message in error["message"], error
    assert resp.json()["detail"] == "提交的内容有误，请按提示修改后重新提交"
    assert (await api.get(ROUTE, headers=head)).json()["source"] == "default"


async def test_a_missing_or_unknown_field_is_422(api) -> None:  # noqa: ANN001
    head = bearer("ogi_head")
    missing = await api.put(ROUTE, json={}, headers=head)
    assert missing.status_code == 422
    assert missing.json()["errors"] == [{"field": "quiet_hours", "message": "此项为必填项", "type": "missing"}]
    extra = await api.put(ROUTE, json={"quiet_hours": "", "set_by": "别人"}, headers=head)
    assert extra.status_code == 422 and extra.json()["errors"][0]["field"] == "set_by"
    nul = await api.put(ROUTE, json={"quiet_hours": "21:00\x00-08:00"}, headers=head)
    assert nul.status_code == 422 and nul.json()["errors"][0]["field"] == "quiet_hours"


# -- the dispatcher: a changed window re-examines the held texts -----------------------------------

async def test_a_changed_window_reexamines_held_texts(env, sms, smsc) -> None:  # noqa: ANN001
    setting = QuietHoursSetting(env.store.notices.database, "", cache_seconds=0)
    env.dispatcher = Dispatcher(env.store, env.settings, env.smtp, env.webhook, lambda: None, owner="notify-test",
                                sms=sms, quiet_setting=setting)
    window, end = covering_now()
    await setting.put(window, by="李主任", by_subject="head-1")
    await registered(env, ["sms"])
    await env.drain()
    d = await sms_delivery(env)
    assert smsc.submits == [] and d["status"] == "pending" and d["quiet_until"] == end
    # still covered, by a longer window: held until the new end, not the old one
    longer, longer_end = covering_now(hours=3)
    await setting.put(longer, by="李主任", by_subject="head-1")
    await env.drain()
    d = await sms_delivery(env)
    assert smsc.submits == [] and d["quiet_until"] == longer_end and d["retry_at"] == longer_end
    notice = (await env.notices())[0]
    assert notice["next_at"] <= longer_end
    # no longer covered: sent in this round, held until now
    local = datetime.now(CHINA)
    await setting.put(f"{(local + timedelta(hours=4)):%H:%M}-{(local + timedelta(hours=5)):%H:%M}",
                      by="李主任", by_subject="head-1")
    released_at = datetime.now(UTC)
    await env.drain()
    assert len(smsc.messages()) == 1
    d = await sms_delivery(env)
    assert d["status"] in ("submitted", "delivered") and released_at - timedelta(seconds=1) <= d["quiet_until"]
    assert d["quiet_until"] <= datetime.now(UTC)
    await env.drain()
    assert len(smsc.messages()) == 1


async def test_a_window_stored_by_another_instance_is_seen_through_the_cache(env, sms, smsc) -> None:  # noqa: ANN001
    window, _ = covering_now()
    mine = QuietHoursSetting(env.store.notices.database, window, cache_seconds=0.5)
    env.dispatcher = Dispatcher(env.store, env.settings.model_copy(update={"sms_quiet_hours": window}), env.smtp,
                                env.webhook, lambda: None, owner="notify-test", sms=sms, quiet_setting=mine)
    await registered(env, ["sms"])
    await env.drain()
    assert smsc.submits == []  # the deployment's default covers now
    other = QuietHoursSetting(env.store.notices.database, window)
    await other.put("", by="李主任", by_subject="head-1")  # the head, through another notify instance
    await env.drain()
    assert smsc.submits == []  # this instance's cache is not stale yet: one read at most every 0.5 s
    await asyncio.sleep(0.6)
    await env.drain()
    assert len(smsc.messages()) == 1


# -- the running service with the real SMSC ---------------------------------------------------------

async def test_the_running_service_holds_a_text_at_night_and_sends_it_when_the_window_is_lifted(
        store, smsc: Smsc, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001, F811
    from deploy.local.store_instance import free_port
    from services.notify.app import build
    from services.notify.settings import NotifySettings
    from tests.tokens import oidc_env

    for key, value in oidc_env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("GONGKAI_MONGO_URL", store.url)
    monkeypatch.setenv("GONGKAI_KAFKA_BOOTSTRAP", f"127.0.0.1:{free_port()}")  # no broker: the loops run anyway
    # a poll longer than the test's patience: the text can only go "at once" by the PUT's wake
    settings = NotifySettings(db_name="t_sms_quiet_setting", smpp_port=smsc.port, poll_seconds=30,
                              status_url="http://portal.test/status")
    app = build(settings)
    rt = app.state.runtime
    await rt.client.drop_database(settings.db_name)
    head = bearer("ogi_head", sub="head-1", name="李主任")
    try:
        async with app.router.lifespan_context(app), \
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://notify") as api:
            await asyncio.wait_for(rt.ready.wait(), 20)
            await asyncio.to_thread(app.state.sms.bound.wait, 10)
            window, end = covering_now()
            put = await api.put(ROUTE, json={"quiet_hours": window}, headers=head)
            assert put.status_code == 200 and put.json()["now_quiet"] is True
            handlers = app.state.handlers  # the service's own (they wake its dispatcher)
            await handlers.on_contact(s.ev(contact(["sms"]), "contact"))
            await handlers.on_received(s.ev(s.received(), "received"))

            async def held() -> dict | None:
                docs = [d async for d in app.state.store.notices.find({"case_id": "c1"})]
                sms = docs[0]["deliveries"].get("sms") if docs else None
                return sms if sms and sms.get("quiet_until") else None

            d = await until(held, timeout=10)
            assert d["status"] == "pending" and d["quiet_until"] == end
            await asyncio.sleep(1.0)
            assert smsc.submits == []  # no text at night
            lifted = await api.put(ROUTE, json={"quiet_hours": ""}, headers=head)
            assert lifted.status_code == 200 and lifted.json()["now_quiet"] is False
            lifted_at = asyncio.get_running_loop().time()
            await asyncio.to_thread(smsc.wait_for, lambda c: [m for m in c.messages() if m["complete"]], 3,
                                    "the text, every part, at once")
            assert asyncio.get_running_loop().time() - lifted_at < 3
            [text] = smsc.messages()
            assert text["text"] == sms_text("received", s.NUMBER, "http://portal.test/status") and text["complete"]

            async def delivered() -> bool:
                [n] = [x async for x in app.state.store.notices.find({"case_id": "c1"})]
                return n["deliveries"]["sms"]["status"] == "delivered"

            assert await until(delivered, timeout=15)
            await asyncio.sleep(1.0)
            assert len(smsc.messages()) == 1  # exactly one
    finally:
        cleanup = AsyncMongoClient(store.url)  # the service closed its own client at shutdown
        await cleanup.drop_database(settings.db_name)
        await cleanup.close()



# -- production: the SMSC account's password is a secret of the deployment --------------------------

async def test_production_refuses_the_local_smsc_password(monkeypatch: pytest.MonkeyPatch) -> None:
    from services.notify.app import build
    from services.notify.settings import NotifySettings
    from servicekit.secrets import MissingSecret
    from tests.tokens import oidc_env

    for key, value in oidc_env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("GONGKAI_ENV", "production")
    monkeypatch.setenv("GONGKAI_MONGO_URL", "mongodb://127.0.0.1:1")  # never contacted
    monkeypatch.setenv("GONGKAI_KAFKA_PASSWORD", "a-kafka-password-of-this-deployment")
    strong = {"document_link_secret": "a-secret-of-this-deployment-0123456789"}
    with pytest.raises(MissingSecret, match="NOTIFY_SMPP_PASSWORD"):
        build(NotifySettings(**strong))  # the local SMSC's password (the default)
    with pytest.raises(MissingSecret, match="NOTIFY_SMPP_PASSWORD"):
        build(NotifySettings(**strong, smpp_password=""))
    built = [build(NotifySettings(**strong, smpp_password="Kp7#qv2x")), build(NotifySettings(**strong, smpp_host=""))]
    assert built[0].state.sms is not None and built[1].state.sms is None  # no SMSC: no password needed
    for app in built:
        await app.state.webhook.close()
        await app.state.runtime.client.close()
