"""The routing HTTP API on a real store (no Kafka: the app's lifespan is not run; the stores are set
up by the test): officers by their OIDC tokens (tests/tokens.py; the role table is contracts/access.py),
directory changes as versions recorded with the token's officer, the triage queue, and the case
operations."""

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
from tests.tokens import bearer, oidc_env

pytestmark = pytest.mark.asyncio

DEPT = {"name": "云南省体育局", "subjects": ["体育场馆"], "keywords": ["体育场馆"], "note": "新增"}


def admin(name: str = "张三", sub: str = "sub-alice") -> dict[str, str]:
    return bearer("directory_admin", name=name, sub=sub, username="alice")


def ogi(name: str = "王五", sub: str = "sub-wang") -> dict[str, str]:
    return bearer("ogi_officer", name=name, sub=sub, username="wang")


@pytest_asyncio.fixture
async def api(store, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator:  # noqa: ANN001
    for key, value in oidc_env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("GONGKAI_MONGO_URL", store.url)
    # A port nobody listens on: nothing here may touch a broker (topic creation fails in the background).
    monkeypatch.setenv("GONGKAI_KAFKA_BOOTSTRAP", f"127.0.0.1:{free_port()}")
    settings = RoutingSettings(db_name=db_name_for(request))
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


OFFICER_CALLS = [
    ("GET", "/triage", None),
    ("POST", "/cases/c1/departments", {"add": ["czt"], "reason": "涉及预算"}),
    ("POST", "/cases/c1/tasks/t1/withdrawal", {"reason": "撤回任务"}),
    ("POST", "/cases/c1/referral", {"target_agency_code": "km-gov", "reason": "属昆明市"}),
]
ADMIN_CALLS = [
    ("PUT", "/directory/agencies/yn-gov-office/departments/tyj", DEPT),
    ("DELETE", "/directory/agencies/yn-gov-office/departments/czt", None),
    ("PUT", "/directory/agencies/qj-gov", {"name": "曲靖市人民政府", "division_code": "530300"}),
]


@pytest.mark.parametrize(("method", "path", "body"), OFFICER_CALLS + ADMIN_CALLS)
async def test_without_a_valid_bearer_token_401(api, method, path, body) -> None:  # noqa: ANN001
    for headers in ({}, {"Authorization": "Basic YWRtaW46eA=="}, {"Authorization": "Bearer "},
                    {"Authorization": "Bearer not-a-jwt"}):
        resp = await api.request(method, path, json=body, headers=headers)
        assert resp.status_code == 401, (headers, resp.text)
        assert resp.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(("method", "path", "body"), OFFICER_CALLS)
async def test_officer_calls_refuse_other_roles_403(api, method, path, body) -> None:  # noqa: ANN001
    for role in ("directory_admin", "dept_officer", "auditor"):
        resp = await api.request(method, path, json=body, headers=bearer(role, department="czt"))
        assert resp.status_code == 403, (role, resp.text)


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_CALLS)
async def test_admin_calls_refuse_other_roles_403(api, method, path, body) -> None:  # noqa: ANN001
    for role in ("ogi_officer", "ogi_head", "dept_officer"):
        resp = await api.request(method, path, json=body, headers=bearer(role))
        assert resp.status_code == 403, (role, resp.text)
    versions = (await api.get("/directory/versions", headers=admin())).json()["versions"]
    assert [v["version"] for v in versions] == ["1"]


async def test_an_actor_field_is_no_longer_accepted(api) -> None:  # noqa: ANN001
    """Who acts is the token's officer: a body (or query) naming someone is refused, not recorded."""
    resp = await api.put("/directory/agencies/yn-gov-office/departments/tyj", json={**DEPT, "actor": "某人"},
                         headers=admin())
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "actor"
    resp = await api.delete("/directory/agencies/yn-gov-office/departments/czt?actor=某人", headers=admin())
    assert resp.status_code == 422
    resp = await api.post("/cases/c1/departments", json={"add": ["czt"], "reason": "涉及预算", "actor": "某人"},
                          headers=ogi())
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "actor"


async def test_directory_changes_through_the_api_are_versions(api) -> None:  # noqa: ANN001
    resp = await api.put("/directory/agencies/yn-gov-office/departments/tyj", json=DEPT, headers=admin())
    assert resp.status_code == 201, resp.text
    assert resp.json() == {"version": "2"}
    directory = (await api.get("/directory")).json()
    assert directory["version"] == "2"
    tyj = next(d for d in directory["departments"] if d["code"] == "tyj")
    assert (tyj["inbox"], tyj["answers"]) == ("gongkai.dept.tyj.tasks", "gongkai.dept.tyj.answers")
    assert {a["division_code"] for a in directory["agencies"]} >= {"530000", "530100", "532502"}
    # A stale base version is refused; an invalid department is refused with a Chinese message.
    stale = await api.put("/directory/agencies/yn-gov-office/departments/tyj",
                          json={**DEPT, "base_version": "1"}, headers=admin())
    assert stale.status_code == 409
    bad = await api.put("/directory/agencies/yn-gov-office/departments/tyj",
                        json={**DEPT, "name": "云南省财政厅"}, headers=admin())
    assert bad.status_code == 422 and "重复" in bad.json()["errors"][0]["message"]
    gone = await api.delete("/directory/agencies/yn-gov-office/departments/tyj?note=撤销",
                            headers=admin(name="李四", sub="sub-li"))
    assert gone.status_code == 200 and gone.json() == {"version": "3"}
    history = (await api.get("/directory/versions", headers=admin())).json()["versions"]
    assert [(v["version"], v["changed_by"]["subject"], v["changed_by"]["name"]) for v in history] == [
        ("1", "file", "directory.json"), ("2", "sub-alice", "张三"), ("3", "sub-li", "李四")]
    assert history[1]["changed_by"]["username"] == "alice"
    assert history[2]["change"]["note"] == "撤销"
    v2 = (await api.get("/directory/versions/2", headers=bearer("auditor"))).json()
    assert "tyj" in [d["code"] for d in v2["directory"]["agencies"][0]["departments"]]
    assert (await api.get("/directory/versions/9", headers=admin())).status_code == 404


async def test_triage_queue_and_case_operations(api) -> None:  # noqa: ANN001
    store, directories = api.app.state.store, api.app.state.directories
    await store.route(received("c-q", "请公开相关文件"), await directories.current())
    await store.route(received("c-3", "请公开某村2025年征地补偿标准、年度部门预算及某河段的水质监测数据"),
                      await directories.current())
    queue = (await api.get("/triage", headers=ogi())).json()["cases"]
    assert [c["case_id"] for c in queue] == ["c-q"]
    assert queue[0]["triage"]["open"] and queue[0]["tasks"][0]["rule"].startswith("triage:")
    # The officer recorded is the token's: display name and subject.
    resp = await api.post("/cases/c-q/departments", json={"add": ["czt"], "remove": ["ogi"], "reason": "经核实涉及预算"},
                          headers=ogi(name="赵六", sub="sub-zhao"))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["operation"] == "reassign" and body["triage_resolved"]
    assert [t["dept_code"] for t in body["tasks"]] == ["czt"]
    assert (await api.get("/triage", headers=ogi())).json()["cases"] == []
    routing = (await api.get("/cases/c-q/routing", headers=bearer("ogi_head"))).json()
    assert set(routing) >= {"case_id", "directory_version", "tasks"}
    assert [t["dept_code"] for t in routing["tasks"]] == ["czt"]
    assert routing["withdrawn_tasks"][0]["dept_code"] == "ogi"
    assert routing["changes"][0]["changed_by"] == "赵六（sub-zhao）"
    # Withdraw a task of the other case; the routing view follows.
    task_id = deterministic_id("task", "c-3", "sthjt")
    resp = await api.post(f"/cases/c-3/tasks/{task_id}/withdrawal", json={"reason": "不属于本部门"}, headers=ogi())
    assert resp.status_code == 200 and resp.json()["operation"] == "withdraw"
    routing = (await api.get("/cases/c-3/routing", headers=ogi())).json()
    assert [t["dept_code"] for t in routing["tasks"]] == ["zrzy", "czt"]
    records = await outbox_of(store.routings, "c-3")
    assert records[-2]["topic"] == "gongkai.dept.sthjt.tasks" and records[-1]["topic"] == "gongkai.cases.routed"
    assert records[-2]["event"].data.withdrawn_by == "王五（sub-wang）"
    assert records[-1]["event"].data.changed_by == "王五（sub-wang）"
    # Refusals keep their status and a Chinese message naming the field.
    resp = await api.post("/cases/c-3/departments", json={"add": ["nope"], "reason": "测试"}, headers=ogi())
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "add"
    assert "目录中没有" in resp.json()["errors"][0]["message"]
    resp = await api.post("/cases/c-3/departments", json={"reason": "测试"}, headers=ogi())
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "add"
    resp = await api.post(f"/cases/c-3/tasks/{task_id}-x/withdrawal", json={"reason": "测试"}, headers=ogi())
    assert resp.status_code == 404
    # A referral to an agency on the bus.
    resp = await api.post("/cases/c-3/referral", json={"target_agency_code": "km-gov", "reason": "属昆明市"},
                          headers=ogi())
    assert resp.status_code == 200 and resp.json()["handed_over"] is True
    assert resp.json()["recorded_by"] == "王五（sub-wang）"
    assert (await api.get("/cases/c-3/routing", headers=ogi())).json()["tasks"] == []
    resp = await api.post("/cases/c-3/referral", json={"target_agency_code": "nowhere", "reason": "属某地"},
                          headers=ogi())
    assert resp.status_code in (409, 422)


async def test_an_unknown_case_is_404_on_every_case_route(api) -> None:  # noqa: ANN001
    calls = [("GET", "/cases/no-such-case/routing", None),
             ("POST", "/cases/no-such-case/departments", {"add": ["czt"], "reason": "测试"}),
             ("POST", "/cases/no-such-case/tasks/t1/withdrawal", {"reason": "测试"}),
             ("POST", "/cases/no-such-case/referral", {"target_agency_code": "km-gov", "reason": "属昆明市"})]
    for method, path, body in calls:
        resp = await api.request(method, path, json=body, headers=ogi())
        assert resp.status_code == 404, (path, resp.text)
        assert "尚未分办" in resp.json()["detail"]
