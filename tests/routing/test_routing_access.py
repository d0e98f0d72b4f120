"""Issue 9, routing: officers only by a verified token, the officer recorded is the token's, and no
input turns into a 5xx. In-process (the routing app on a private store, tokens from tests/tokens.py).

Findings replayed: ``/cases/{id}/routing`` answered without a credential; the officer of a change
was a free-text ``actor`` field; ``/directory/versions/{n}`` answered 500 for n >= 2^63."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio

from services.routing.app import build
from services.routing.settings import RoutingSettings
from tests.routing.helpers import outbox_of, received
from deploy.local.store_instance import free_port
from tests.tokens import bearer, oidc_env, token

pytestmark = pytest.mark.asyncio

DEPT = {"name": "云南省体育局", "subjects": ["体育场馆"], "keywords": ["体育场馆"], "note": "新增"}
CHANGE = {"add": ["czt"], "remove": ["ogi"], "reason": "经核实涉及预算"}


@pytest_asyncio.fixture
async def api(store, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator:  # noqa: ANN001, F811
    for key, value in oidc_env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("GONGKAI_MONGO_URL", store.url)
    monkeypatch.setenv("GONGKAI_KAFKA_BOOTSTRAP", f"127.0.0.1:{free_port()}")  # no broker: nothing may need one
    settings = RoutingSettings(db_name="sec_routing_" + request.node.name[:30].replace("[", "_").replace("]", "_"))
    app = build(settings)
    rt = app.state.runtime
    await rt.client.drop_database(settings.db_name)
    await app.state.directories.setup()
    await app.state.store.setup()
    directory = await app.state.directories.current()
    await app.state.store.route(received("c-q", "请公开相关文件"), directory)  # a case in triage (task for ogi)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://routing") as client:
        client.app = app
        yield client
    for task in list(app.state.background):
        task.cancel()
    await rt.client.drop_database(settings.db_name)
    await rt.client.close()


PROTECTED = [
    ("GET", "/cases/c-q/routing", None),
    ("GET", "/triage", None),
    ("GET", "/directory/versions", None),
    ("GET", "/directory/versions/1", None),
    ("POST", "/cases/c-q/departments", CHANGE),
    ("POST", "/cases/c-q/tasks/t1/withdrawal", {"reason": "撤回任务"}),
    ("POST", "/cases/c-q/referral", {"target_agency_code": "km-gov", "reason": "属昆明市"}),
    ("PUT", "/directory/agencies/yn-gov-office/departments/tyj", DEPT),
    ("DELETE", "/directory/agencies/yn-gov-office/departments/czt", None),
    ("PUT", "/directory/agencies/qj-gov", {"name": "曲靖市人民政府", "division_code": "530300"}),
]


@pytest.mark.parametrize(("method", "path", "body"), PROTECTED, ids=[f"{m} {p}" for m, p, _ in PROTECTED])
async def test_no_token_or_a_forged_one_is_401(api, method, path, body) -> None:  # noqa: ANN001
    forged = token("ogi_officer", "directory_admin", issuer="https://evil.example/realms/gongkai")
    expired = token("ogi_officer", "directory_admin", lifetime=-120)
    for headers in ({}, {"Authorization": f"Bearer {forged}"}, {"Authorization": f"Bearer {expired}"},
                    {"X-User": "wang", "X-Role": "ogi_officer"}):
        resp = await api.request(method, path, json=body, headers=headers)
        assert resp.status_code == 401, (headers.keys(), resp.status_code, resp.text)
    routing = await api.app.state.store.get("c-q")
    assert routing["changes"] == [] and routing.get("referrals") == []
    versions = await api.app.state.directories.history()
    assert [v["version"] for v in versions] == ["1"]


async def test_an_ogi_officer_changes_departments_a_department_officer_may_not(api) -> None:  # noqa: ANN001
    refused = await api.post("/cases/c-q/departments", json=CHANGE, headers=bearer("dept_officer", department="czt"))
    assert refused.status_code == 403
    assert (await api.app.state.store.get("c-q"))["changes"] == []
    for role in ("dept_reviewer", "directory_admin", "auditor", "ogi_head"):
        resp = await api.post("/cases/c-q/departments", json=CHANGE, headers=bearer(role, department="czt"))
        assert resp.status_code == 403, role
    allowed = await api.post("/cases/c-q/departments", json=CHANGE, headers=bearer("ogi_officer"))
    assert allowed.status_code == 200, allowed.text
    assert [t["dept_code"] for t in allowed.json()["tasks"]] == ["czt"]


async def test_a_directory_admin_changes_the_directory_an_ogi_officer_may_not(api) -> None:  # noqa: ANN001
    path = "/directory/agencies/yn-gov-office/departments/tyj"
    for role in ("ogi_officer", "ogi_head", "dept_officer", "auditor"):
        resp = await api.put(path, json=DEPT, headers=bearer(role, department="czt"))
        assert resp.status_code == 403, role
    assert [v["version"] for v in await api.app.state.directories.history()] == ["1"]
    resp = await api.put(path, json=DEPT, headers=bearer("directory_admin"))
    assert resp.status_code == 201 and resp.json() == {"version": "2"}
    # Reading the versions: directory admins and auditors; not the OGI office.
    assert (await api.get("/directory/versions/2", headers=bearer("auditor"))).status_code == 200
    assert (await api.get("/directory/versions/2", headers=bearer("ogi_officer"))).status_code == 403


async def test_the_officer_recorded_is_the_tokens_not_a_body_field(api) -> None:  # noqa: ANN001
    officer = bearer("ogi_officer", name="王五", sub="f0e1d2c3-wang", username="wang")
    # A body naming someone else is refused outright (the field does not exist any more) …
    spoof = await api.post("/cases/c-q/departments", json={**CHANGE, "actor": "李局长"}, headers=officer)
    assert spoof.status_code == 422 and spoof.json()["errors"][0]["field"] == "actor"
    # … and what is recorded is the token's display name and subject, in the case and its events.
    resp = await api.post("/cases/c-q/departments", json=CHANGE, headers=officer)
    assert resp.status_code == 200, resp.text
    routing = await api.app.state.store.get("c-q")
    assert [c["changed_by"] for c in routing["changes"]] == ["王五（f0e1d2c3-wang）"]
    records = await outbox_of(api.app.state.store.routings, "c-q")
    rerouted = [r["event"].data for r in records if r["event"].type.endswith("case.rerouted.v1")]
    withdrawn = [r["event"].data for r in records if r["event"].type.endswith("task.withdrawn.v1")]
    assert [e.changed_by for e in rerouted] == ["王五（f0e1d2c3-wang）"]
    assert [e.withdrawn_by for e in withdrawn] == ["王五（f0e1d2c3-wang）"]
    assert "李局长" not in str(records)
    # A directory version records the admin of the token.
    admin = bearer("directory_admin", name="张三", sub="9a8b-zhang", username="zhang")
    spoof = await api.put("/directory/agencies/yn-gov-office/departments/tyj", json={**DEPT, "actor": "李局长"},
                          headers=admin)
    assert spoof.status_code == 422
    assert (await api.put("/directory/agencies/yn-gov-office/departments/tyj", json=DEPT, headers=admin)).status_code == 201
    [_, v2] = await api.app.state.directories.history()
    assert v2["changed_by"] == {"subject": "9a8b-zhang", "username": "zhang", "name": "张三", "department": None}


@pytest.mark.parametrize("version", [str(2**63), str(2**64 + 1), "9" * 40, "-1", "0", "abc", "1.5", "²", "%00",
                                     "1e3", "1 2", "0x10"])
async def test_any_directory_version_is_a_4xx_never_a_5xx(api, version) -> None:  # noqa: ANN001
    resp = await api.get(f"/directory/versions/{version}", headers=bearer("directory_admin"))
    assert resp.status_code in (404, 422), (version, resp.status_code, resp.text)


async def test_a_large_version_within_the_bound_is_404(api) -> None:  # noqa: ANN001
    resp = await api.get(f"/directory/versions/{2**53 - 1}", headers=bearer("auditor"))
    assert resp.status_code == 404


@pytest.mark.parametrize(("method", "path", "body", "field"), [
    ("POST", "/cases/c-q/departments", {**CHANGE, "reason": "涉及\x00预算"}, "reason"),
    ("POST", "/cases/c-q/tasks/t1/withdrawal", {"reason": "撤回\x00"}, "reason"),
    ("POST", "/cases/c-q/referral", {"target_agency_name": "某\x00局", "reason": "属某局"}, "target_agency_name"),
    ("PUT", "/directory/agencies/yn-gov-office/departments/tyj", {**DEPT, "keywords": ["体育\x00"]}, "keywords.0"),
    ("DELETE", "/directory/agencies/yn-gov-office/departments/czt?note=%00", None, "note"),
])
async def test_control_characters_are_refused_naming_the_field(api, method, path, body, field) -> None:  # noqa: ANN001
    headers = bearer("ogi_officer", "directory_admin")
    resp = await api.request(method, path, json=body, headers=headers)
    assert resp.status_code == 422, resp.text
    assert resp.json()["errors"][0]["field"] == field
    assert (await api.app.state.store.get("c-q"))["changes"] == []
    assert [v["version"] for v in await api.app.state.directories.history()] == ["1"]
