"""Issue #5 end to end: the OGI office refers a case to another agency on the bus (Art. 36(5)).
Routing publishes case.referred once; the applicant gets the referral notice once (e-mail and
webhook); the target agency's intake — a second intake process with its own agency code, port and
database on the same bus — accepts the case exactly once, with its own tracking number and date of
receipt, and publishes its application.received."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import pytest

from contracts import topics
from deploy.local.stack import Stack

from tests.e2e.helpers import OGI, Client, application, eventually, events_of, mails_for, read_topic, tag

pytestmark = pytest.mark.e2e

TARGET = "km-gov"  # 昆明市人民政府: in the directory, on the bus
TARGET_INTAKE = "intake-km"


@pytest.fixture(scope="module")
def target_intake(stack: Stack) -> Iterator[str]:
    """The target agency's intake, on a port and database of its own; its URL."""
    port = stack.cfg.http_base + 11
    env = {**stack.cfg.service_env("intake"), "GONGKAI_AGENCY_CODE": TARGET, "INTAKE_HTTP_PORT": str(port),
           "GONGKAI_KAFKA_INSTANCE_ID": f"intake-{port}", "INTAKE_DB_NAME": "gongkai_intake_km", "INTAKE_TRACKING_PREFIX": "KM"}
    stack._spawn(TARGET_INTAKE, [str(stack.cfg.venv / "bin/python"), "-m", "services.intake"], env)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(400):
            if not stack.pid(TARGET_INTAKE):
                raise RuntimeError(f"{TARGET_INTAKE} exited; see {stack.log_path(TARGET_INTAKE)}")
            try:
                if httpx.get(url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        else:
            raise TimeoutError(f"{TARGET_INTAKE} not healthy")
        yield url
    finally:
        stack.stop(TARGET_INTAKE)


async def test_referral_to_an_agency_on_the_bus(stack, mail, hooks, target_intake) -> None:
    client = Client(stack)
    t = tag()
    accepted = await client.submit(application(t, webhook=f"{hooks.url}/hooks/{t}"))
    case_id, number = accepted["case_id"], accepted["tracking_number"]
    await client.routing(case_id)

    refer = {"target_agency_code": TARGET, "reason": "所申请信息由昆明市人民政府制作并保存"}
    url = client.url("routing", f"/cases/{case_id}/referral")
    unauthorised = await client.http.post(url, json=refer)
    assert unauthorised.status_code == 401, unauthorised.text
    resp = await client.http.post(url, json=refer, headers=client.auth(OGI))
    assert resp.status_code == 200, resp.text
    referral = resp.json()
    assert referral["handed_over"] is True and referral["created"] is True
    replay = await client.http.post(url, json=refer, headers=client.auth(OGI))
    assert replay.status_code == 200 and replay.json()["created"] is False  # the same referral, not a second
    referral_id = referral["referral_id"]

    # Routing publishes case.referred once.
    referred = await eventually(lambda: _some(events_of(stack.cfg.kafka_bootstrap, topics.CASES_REFERRED.name,
                                                        case_id)), 30, what="case.referred")
    assert len(referred) == 1
    assert referred[0]["data"]["target_agency_code"] == TARGET
    assert referred[0]["data"]["referral_id"] == referral_id

    # The applicant is told once, by e-mail and by webhook.
    address = f"{t}@example.com"

    def referral_mails() -> list[dict]:
        return [m for m in mails_for(mail, address) if m["subject"].startswith("政府信息公开申请告知书：不属于本机关负责公开")]

    def referral_hooks() -> list[dict]:
        return [h for h in hooks.requests if h["hook"] == t and h["payload"]["kind"] == "referral_recorded"]

    await eventually(lambda: _n(bool(referral_mails()) and bool(referral_hooks())), 60, what="the referral notice")

    # The target agency's intake accepts the case once, as its own application.
    async def accepted_there() -> list | None:
        resp = await client.http.get(f"{target_intake}/referrals/{referral_id}", headers=client.auth(OGI))
        apps = resp.json()["applications"] if resp.status_code == 200 else []
        return apps if apps and apps[0]["published"] else None
    [there] = await eventually(accepted_there, 60, what="the application at the target agency")
    assert there["tracking_number"].startswith("KM-") and there["tracking_number"] != number
    assert there["original_tracking_number"] == number
    assert there["original_received_on"] == accepted["received_on"]
    assert there["contact"] == "pending"
    received = await events_of(stack.cfg.kafka_bootstrap, topics.APPLICATIONS_RECEIVED.name, there["case_id"])
    assert len(received) == 1
    assert received[0]["data"]["agency_code"] == TARGET
    assert received[0]["data"]["tracking_number"] == there["tracking_number"]
    assert received[0]["data"]["received_on"] == there["received_on"]

    await eventually(lambda: _n(len(mails_for(mail, address)) >= 3
                                and len([h for h in hooks.requests if h["hook"] == t]) >= 3), 60,
                     what="received, referral and reply notices")
    await asyncio.sleep(3)  # duplicates, if any, would show by now
    assert len(referral_mails()) == 1 and len(referral_hooks()) == 1
    assert referral["message"] in referral_mails()[0]["body"]
    # A whole-case referral is also the case's reply (Art. 36(5), issued by the reply service): the
    # applicant gets the received notice, the referral notice and the reply, each once.
    subjects = sorted(m["subject"].split("（")[0] for m in mails_for(mail, address))
    assert subjects == ["政府信息公开申请告知书：不属于本机关负责公开", "政府信息公开申请已登记", "政府信息公开申请已答复"]
    assert sorted(h["payload"]["kind"] for h in hooks.requests if h["hook"] == t) == [
        "received", "referral_recorded", "reply_issued"]
    resp = await client.http.get(f"{target_intake}/referrals/{referral_id}", headers=client.auth(OGI))
    assert len(resp.json()["applications"]) == 1
    # The referring agency's own intake did not take it.
    home = await client.get("intake", f"/referrals/{referral_id}")
    assert home.status_code == 404, home.text
    assert [r for r in await read_topic(stack.cfg.kafka_bootstrap, topics.CASES_REFERRED.dlt)
            if case_id.encode() in (r.value or b"")] == []
    await client.close()


async def _some(coro) -> list | None:  # noqa: ANN001
    found = await coro
    return found or None


async def _n(ok: bool) -> bool:
    return ok
