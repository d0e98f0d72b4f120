"""The routing HTTP API on a real store (no Kafka: the app's lifespan is not run; the stores are set
up by the test): authentication of directory admins and OGI officers (401/403), directory changes
as versions, the triage queue, and the case operations."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio

from contracts.envelope import deterministic_id
from services.routing.app import build
from services.routing.settings import RoutingSettings
from tests.routing.conftest import db_name_for, free_port
from tests.routing.helpers import outbox_of, received

pytestmark = pytest.mark.asyncio

ADMIN = "admin-secret-1"
OFFICER = "officer-secret-1"
DEPT = {"name": "云南省体育局", "subjects": ["体育场馆"], "keywords": ["体育场馆"], "actor": "张三", "note": "新增"}


@pytest_asyncio.fixture
async def api(store, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator:  # noqa: ANN001
    monkeypatch.setenv("GONGKAI_MONGO_URL", store.url)
    # A port nobody listens on: nothing here may touch a broker (inbox creation fails in the background).
    monkeypatch.setenv("GONGKAI_KAFKA_BOOTSTRAP", f"127.0.0.1:{free_port()}")
    settings = RoutingSettings(db_name=db_name_for(request), admin_token=f"alice:{ADMIN}",
                               officer_token=f"wang:{OFFICER},{OFFICER}-2")
    app = build(settings)
    rt = app.state.runtime
    await rt.client.drop_database(settings.db_name)
    await app.state.directories.setup()
    await app.state.store.setup()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://routing") as client:
        client.app = app
        yield client
    for task in list(app.state.background):
        task.cancel()
    await rt.client.drop_database(settings.db_name)
    await rt.client.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


OFFICER_CALLS = [
    ("GET", "/triage", None),
    ("POST", "/cases/c1/departments", {"add": ["czt"], "reason": "涉及预算", "actor": "王五"}),
    ("POST", "/cases/c1/tasks/t1/withdrawal", {"reason": "撤回任务", "actor": "王五"}),
    ("POST", "/cases/c1/referral", {"target_agency_code": "km-gov", "reason": "属昆明市", "actor": "王五"}),
]
ADMIN_CALLS = [
    ("PUT", "/directory/agencies/yn-gov-office/departments/tyj", DEPT),
    ("DELETE", "/directory/agencies/yn-gov-office/departments/czt?actor=张三", None),
    ("PUT", "/directory/agencies/qj-gov", {"name": "曲靖市人民政府", "division_code": "530300", "actor": "张三"}),
]


@pytest.mark.parametrize(("method", "path", "body"), OFFICER_CALLS + ADMIN_CALLS)
async def test_without_a_bearer_token_401(api, method, path, body) -> None:  # noqa: ANN001
    for headers in ({}, {"Authorization": f"Basic {ADMIN}"}, {"Authorization": "Bearer "}):
        resp = await api.request(method, path, json=body, headers=headers)
        assert resp.status_code == 401, (headers, resp.text)
        assert resp.headers["www-authenticate"] == "Bearer"
        assert "身份认证" in resp.json()["detail"]


@pytest.mark.parametrize(("method", "path", "body"), OFFICER_CALLS)
async def test_officer_calls_refuse_other_tokens_403(api, method, path, body) -> None:  # noqa: ANN001
    for token in ("wrong", ADMIN, OFFICER + "x"):
        resp = await api.request(method, path, json=body, headers=bearer(token))
        assert resp.status_code == 403, (token, resp.text)


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_CALLS)
async def test_admin_calls_refuse_other_tokens_403(api, method, path, body) -> None:  # noqa: ANN001
    for token in ("wrong", OFFICER, f"{OFFICER}-2"):
        resp = await api.request(method, path, json=body, headers=bearer(token))
        assert resp.status_code == 403, (token, resp.text)
    assert [v["version"] for v in (await api.get("/directory/versions")).json()["versions"]] == ["1"]


async def test_no_token_configured_lets_nobody_in(store, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("GONGKAI_MONGO_URL", store.url)
    monkeypatch.setenv("GONGKAI_KAFKA_BOOTSTRAP", f"127.0.0.1:{free_port()}")
    app = build(RoutingSettings(db_name="r_no_tokens"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://routing") as client:
        for token in ("", "x"):
            resp = await client.get("/triage", headers=bearer(token) if token else {})
            assert resp.status_code == (403 if token else 401)
        resp = await client.put("/directory/agencies/yn-gov-office/departments/tyj", json=DEPT, headers=bearer("x"))
        assert resp.status_code == 403
    await app.state.runtime.client.close()


async def test_directory_changes_through_the_api_are_versions(api) -> None:  # noqa: ANN001
    resp = await api.put("/directory/agencies/yn-gov-office/departments/tyj", json=DEPT, headers=bearer(ADMIN))
    assert resp.status_code == 201, resp.text
    assert resp.json() == {"version": "2"}
    directory = (await api.get("/directory")).json()
    assert directory["version"] == "2"
    assert "tyj" in [d["code"] for d in directory["departments"]]
    assert {a["division_code"] for a in directory["agencies"]} >= {"530000", "530100", "532502"}
    # A stale base version is refused; an invalid department is refused with a Chinese message.
    stale = await api.put("/directory/agencies/yn-gov-office/departments/tyj",
                          json={**DEPT, "base_version": "1"}, headers=bearer(ADMIN))
    assert stale.status_code == 409
    bad = await api.put("/directory/agencies/yn-gov-office/departments/tyj",
                        json={**DEPT, "name": "云南省财政厅"}, headers=bearer(ADMIN))
    assert bad.status_code == 422 and "重复" in bad.json()["detail"]
    gone = await api.delete("/directory/agencies/yn-gov-office/departments/tyj?actor=李四&note=撤销",
                            headers=bearer(ADMIN))
    assert gone.status_code == 200 and gone.json() == {"version": "3"}
    history = (await api.get("/directory/versions")).json()["versions"]
    assert [(v["version"], v["changed_by"]["principal"], v["changed_by"]["actor"]) for v in history] == [
        ("1", "file", "directory.json"), ("2", "alice", "张三"), ("3", "alice", "李四")]
    assert history[2]["change"]["note"] == "撤销"
    v2 = (await api.get("/directory/versions/2")).json()
    assert "tyj" in [d["code"] for d in v2["directory"]["agencies"][0]["departments"]]
    assert (await api.get("/directory/versions/9")).status_code == 404


async def test_triage_queue_and_case_operations(api) -> None:  # noqa: ANN001
    store, directories = api.app.state.store, api.app.state.directories
    await store.route(received("c-q", "请公开相关文件"), await directories.current())
    await store.route(received("c-3", "请公开某村2025年征地补偿标准、年度部门预算及某河段的水质监测数据"),
                      await directories.current())
    queue = (await api.get("/triage", headers=bearer(OFFICER))).json()["cases"]
    assert [c["case_id"] for c in queue] == ["c-q"]
    assert queue[0]["triage"]["open"] and queue[0]["tasks"][0]["rule"].startswith("triage:")
    # Either officer token works; the principal is recorded with the actor.
    resp = await api.post("/cases/c-q/departments", json={"add": ["czt"], "remove": ["ogi"], "reason": "经核实涉及预算",
                                                           "actor": "王五"}, headers=bearer(f"{OFFICER}-2"))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["operation"] == "reassign" and body["triage_resolved"]
    assert [t["dept_code"] for t in body["tasks"]] == ["czt"]
    assert (await api.get("/triage", headers=bearer(OFFICER))).json()["cases"] == []
    routing = (await api.get("/cases/c-q/routing")).json()
    assert set(routing) >= {"case_id", "directory_version", "tasks"}
    assert [t["dept_code"] for t in routing["tasks"]] == ["czt"]
    assert routing["withdrawn_tasks"][0]["dept_code"] == "ogi"
    assert routing["changes"][0]["changed_by"] == "王五（ogi-officer）"
    # Withdraw a task of the other case; the routing view follows.
    task_id = deterministic_id("task", "c-3", "sthjt")
    resp = await api.post(f"/cases/c-3/tasks/{task_id}/withdrawal", json={"reason": "不属于本部门", "actor": "王五"},
                          headers=bearer(OFFICER))
    assert resp.status_code == 200 and resp.json()["operation"] == "withdraw"
    assert [t["dept_code"] for t in (await api.get("/cases/c-3/routing")).json()["tasks"]] == ["zrzy", "czt"]
    records = await outbox_of(store.routings, "c-3")
    assert records[-2]["topic"] == "gongkai.dept.sthjt.tasks" and records[-1]["topic"] == "gongkai.cases.routed"
    assert records[-2]["event"].data.withdrawn_by == "王五（wang）"
    # Refusals keep their status and a Chinese message.
    resp = await api.post("/cases/c-3/departments", json={"add": ["nope"], "reason": "测试", "actor": "王五"},
                          headers=bearer(OFFICER))
    assert resp.status_code == 422 and "目录中没有" in resp.json()["detail"]
    resp = await api.post("/cases/none/departments", json={"add": ["czt"], "reason": "测试", "actor": "王五"},
                          headers=bearer(OFFICER))
    assert resp.status_code == 404
    # A referral to an agency on the bus.
    resp = await api.post("/cases/c-3/referral", json={"target_agency_code": "km-gov", "reason": "属昆明市",
                                                       "actor": "王五"}, headers=bearer(OFFICER))
    assert resp.status_code == 200 and resp.json()["handed_over"] is True
    assert (await api.get("/cases/c-3/routing")).json()["tasks"] == []
