"""Routing's learning (issue #13) through its HTTP API on the real store (the routing app in process,
tokens from tests/tokens.py): the OGI office's triage decisions are kept as labelled examples, the
proposal shows its support, only a directory admin accepts it (a non-admin gets 403), the accepted
rule is a new directory version (who, when, why), and the next application with the phrase is
routed automatically. A "not an OGI request" answer of the five questions (triage.recorded) is an
example too; a rejected proposal is not proposed again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
import pytest_asyncio

from contracts.envelope import deterministic_id, new_event
from contracts.events_procedure import TriageRecorded
from deploy.local.store_instance import free_port
from services.routing.app import build
from services.routing.learning import proposal_id
from services.routing.settings import RoutingSettings
from tests.routing.helpers import received
from tests.tokens import bearer, oidc_env

BUY = ["请公开某县政府购买服务项目的承接主体名单", "请公开某街道政府购买服务的合同"]
PID = proposal_id("购买服务", "czt")
OGI = bearer("ogi_officer", name="李四", sub="s-li", username="li")
ADMIN = bearer("directory_admin", name="张三", sub="s-zhang", username="zhang")


@pytest_asyncio.fixture
async def api(store, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator:  # noqa: ANN001
    for key, value in oidc_env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("GONGKAI_MONGO_URL", store.url)
    monkeypatch.setenv("GONGKAI_KAFKA_BOOTSTRAP", f"127.0.0.1:{free_port()}")  # no broker needed
    settings = RoutingSettings(db_name="learn_" + request.node.name[:40].replace("[", "_").replace("]", "_"))
    app = build(settings)
    rt = app.state.runtime
    await rt.client.drop_database(settings.db_name)
    await app.state.directories.setup()
    await app.state.store.setup()
    await app.state.learning.setup()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://routing") as client:
        client.app = app
        yield client
    for task in list(app.state.background):
        task.cancel()
    await rt.client.drop_database(settings.db_name)
    await rt.client.close()


async def triaged(api: httpx.AsyncClient, case_id: str, description: str) -> dict:  # noqa: ANN001
    directory = await api.app.state.directories.current()
    doc = await api.app.state.store.route(received(case_id, description), directory)
    assert doc is not None and doc["triage_open"], description
    return doc


async def decide(api: httpx.AsyncClient, case_id: str, dept: str) -> None:
    resp = await api.post(f"/cases/{case_id}/departments", json={"add": [dept], "remove": ["ogi"],
                                                                 "reason": "经核实属财政厅"}, headers=OGI)
    assert resp.status_code == 200, resp.text
    assert resp.json()["triage_resolved"]


async def test_triage_decisions_become_a_proposal_an_admin_accepts_and_the_rule_routes(api) -> None:  # noqa: ANN001
    for i, text in enumerate(BUY):
        await triaged(api, f"c{i}", text)
        await decide(api, f"c{i}", "czt")
    examples = await api.app.state.learning.all_examples()
    assert [(e["_id"], e["label"], e["decided_by"], e["source"]) for e in examples] == [
        ("c0", ["czt"], "李四（s-li）", "departments"), ("c1", ["czt"], "李四（s-li）", "departments")]

    listing = await api.get("/learning/proposals", headers=ADMIN)
    assert listing.status_code == 200, listing.text
    body = listing.json()
    assert body["examples"] == 2 and body["directory_version"] == "1"
    [prop] = [p for p in body["proposals"] if p["proposal_id"] == PID]
    assert prop["phrase"] == "购买服务" and prop["dept_code"] == "czt" and sorted(prop["support"]) == ["c0", "c1"]
    assert prop["conflicts"] == [] and prop["support_count"] == 2
    assert {e["case_id"]: e["excerpt"] for e in prop["evidence"]} == {
        "c0": "请公开某县政府购买服务项目的承接主体名…", "c1": "请公开某街道政府购买服务的合同"}

    # Nothing learned acts without acceptance: a third application still goes to triage.
    await triaged(api, "c2", "请公开某社区政府购买服务的验收结果")
    # Only a directory admin accepts (the OGI officer who taught it may not, nor an auditor).
    for who in (OGI, bearer("ogi_head"), bearer("auditor"), bearer("dept_officer", department="czt")):
        refused = await api.post(f"/learning/proposals/{PID}/acceptance", json={"note": "x"}, headers=who)
        assert refused.status_code == 403
    assert (await api.post(f"/learning/proposals/{PID}/acceptance", json={})).status_code == 401
    assert [v["version"] for v in await api.app.state.directories.history()] == ["1"]

    accepted = await api.post(f"/learning/proposals/{PID}/acceptance", json={"note": "公开办决定一致"}, headers=ADMIN)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["version"] == "2"
    [_, v2] = await api.app.state.directories.history()
    assert v2["changed_by"] == {"subject": "s-zhang", "username": "zhang", "name": "张三", "department": None}
    assert v2["change"]["op"] == "upsert_department" and v2["change"]["code"] == "czt"
    assert "购买服务" in v2["change"]["note"] and "公开办决定一致" in v2["change"]["note"] and PID in v2["change"]["note"]
    czt = next(d for d in (await api.app.state.directories.current()).departments if d.code == "czt")
    assert "购买服务" in czt.keywords

    # Decided once: a second acceptance is 409; the proposal is listed as decided, with who and the version.
    again = await api.post(f"/learning/proposals/{PID}/acceptance", json={}, headers=ADMIN)
    assert again.status_code == 409
    after = (await api.get("/learning/proposals", headers=ADMIN)).json()
    assert all(p["proposal_id"] != PID for p in after["proposals"])
    [done] = [d for d in after["decided"] if d["proposal_id"] == PID]
    assert done["status"] == "accepted" and done["directory_version"] == "2" and done["decided_by"]["name"] == "张三"

    # The next application with the phrase is routed to the finance department by the accepted rule.
    directory = await api.app.state.directories.current()
    doc = await api.app.state.store.route(received("c3", "请公开某镇政府购买服务的资金结算情况"), directory)
    assert not doc["triage_open"] and [t["dept_code"] for t in doc["tasks"]] == ["czt"]
    assert doc["tasks"][0]["rule"].startswith("keyword:购买服务") and doc["directory_version"] == "2"


async def test_a_rejected_proposal_is_not_proposed_again_and_changes_nothing(api) -> None:  # noqa: ANN001
    for i, text in enumerate(BUY):
        await triaged(api, f"c{i}", text)
        await decide(api, f"c{i}", "czt")
    assert (await api.post(f"/learning/proposals/{PID}/rejection", json={}, headers=OGI)).status_code == 403
    resp = await api.post(f"/learning/proposals/{PID}/rejection", json={"note": "用语过宽"}, headers=ADMIN)
    assert resp.status_code == 200, ((await api.get("/learning/proposals", headers=ADMIN)).json(), resp.text)
    assert resp.status_code == 200 and resp.json()["proposal"]["status"] == "rejected"
    assert [v["version"] for v in await api.app.state.directories.history()] == ["1"]
    listing = (await api.get("/learning/proposals", headers=bearer("auditor"))).json()
    assert all(p["proposal_id"] != PID for p in listing["proposals"])
    assert [d["note"] for d in listing["decided"]] == ["用语过宽"]
    # Unknown or malformed proposal ids: 404 / 422, never a 5xx.
    assert (await api.post("/learning/proposals/0123456789abcdef/acceptance", json={},
                           headers=ADMIN)).status_code == 404
    assert (await api.post("/learning/proposals/nope/acceptance", json={}, headers=ADMIN)).status_code == 422
    spoof = await api.post(f"/learning/proposals/{PID}/acceptance", json={"actor": "李局长"}, headers=ADMIN)
    assert spoof.status_code == 422


async def test_not_an_ogi_request_in_the_five_questions_is_an_example(api) -> None:  # noqa: ANN001
    await triaged(api, "n1", "请公开某单位的内部人事考核结果")
    at = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    data = TriageRecorded(case_id="n1", question="scope", answer="not_ogi", answered_by="李四（s-li）",
                          answered_at=at, next_step="reply_not_ogi")
    def event(d: TriageRecorded, n: str) -> object:
        return new_event(d, source="/gongkai/reply", subject=d.case_id, event_id=deterministic_id("triage.recorded", n))

    await api.app.state.on_procedure(event(data, "1"))
    # Another question, or a case the rules routed, teaches nothing.
    other = TriageRecorded(case_id="n1", question="correction", answer="clear", answered_by="李四（s-li）",
                           answered_at=at, next_step="scope")
    await api.app.state.on_procedure(event(other, "2"))
    directory = await api.app.state.directories.current()
    await api.app.state.store.route(received("r1", "请公开2025年省级部门预算"), directory)
    routed = TriageRecorded(case_id="r1", question="scope", answer="not_ogi", answered_by="李四（s-li）",
                            answered_at=at, next_step="reply_not_ogi")
    await api.app.state.on_procedure(event(routed, "3"))
    examples = await api.app.state.learning.all_examples()
    assert [(e["_id"], e["label"], e["source"]) for e in examples] == [("n1", ["not-ogi"], "triage.recorded")]
