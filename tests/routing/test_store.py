"""The routing store against the real document store: directory versions, first routing, the
OGI office's changes (add, remove, reassign, withdraw) and referrals, with their outbox records.

The store functions are called directly (no Kafka): what the relay would publish is read from the
case document's outbox and decoded as the consumers would decode it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from contracts.envelope import deterministic_id
from contracts.events_routing import REFERRAL_BASIS
from services.routing.casework import CaseworkError
from services.routing.directory import DEFAULT_PATH, DirectoryError, load_raw
from services.routing.store import DirectoryStore, RoutingStore, VersionConflict
from tests.routing.helpers import outbox_of, received

pytestmark = pytest.mark.asyncio

SOURCE = "/gongkai/routing"
THREE = "请公开某村2025年征地补偿标准、年度部门预算及某河段的水质监测数据"
UNCLEAR = "请公开相关文件"
ROUTED = "gongkai.cases.routed"
# Who changes the directory: a verified officer as servicekit.oidc.Principal.as_actor() records it.
ALICE = {"subject": "sub-alice", "username": "alice", "name": "张三", "department": None}
BOB = {"subject": "sub-bob", "username": "bob", "name": "李四", "department": None}


def inbox(code: str) -> str:
    return f"gongkai.dept.{code}.tasks"


def names(records) -> list[tuple[str, str]]:  # noqa: ANN001
    return [(r["topic"], r["event"].type.removeprefix("cn.gongkai.").removesuffix(".v1")) for r in records]


async def stores(db, path: Path = DEFAULT_PATH) -> tuple[DirectoryStore, RoutingStore]:  # noqa: ANN001
    directories, routing = DirectoryStore(db, path), RoutingStore(db, SOURCE)
    await directories.setup()
    await routing.setup()
    return directories, routing


NEW_DEPT = {"code": "tyj", "name": "云南省体育局", "subjects": ["体育场馆", "全民健身"],
            "keywords": ["体育场馆", "全民健身"], "catalogue": ["公共体育场馆开放"],
            "contact": {"address": "云南省昆明市", "phone": "0871-60000117", "office_hours": "工作日"}}


# ------------------------------------------------------------------------------ directory versions


async def test_the_file_is_version_1_and_setup_is_idempotent(db) -> None:
    directories, _ = await stores(db)
    await directories.setup()
    history = await directories.history()
    assert [h["version"] for h in history] == ["1"]
    assert history[0]["source"] == "file" and history[0]["change"]["op"] == "load_file"
    current = await directories.current()
    assert current.version == "1"
    assert current.home.division_code == "530000"
    assert {a.division_code for a in current.agencies} >= {"530000", "530100", "532502"}


async def test_a_change_is_a_new_version_with_who_when_what(db) -> None:
    directories, _ = await stores(db)
    v2 = await directories.change("upsert_department", "yn-gov-office", NEW_DEPT, ALICE, "新增体育局")
    assert v2.version == "2" and v2.get("tyj").name == "云南省体育局"
    v3 = await directories.change("remove_department", "yn-gov-office", {"code": "tyj"}, BOB, "撤销",
                                  base_version="2")
    assert v3.version == "3" and v3.get("tyj") is None
    history = await directories.history()
    assert [h["version"] for h in history] == ["1", "2", "3"]
    assert history[1]["changed_by"] == ALICE
    assert history[1]["change"]["op"] == "upsert_department" and history[1]["change"]["code"] == "tyj"
    assert history[1]["change"]["note"] == "新增体育局" and "tyj" in history[1]["change"]["summary"]
    assert history[2]["changed_by"]["subject"] == "sub-bob"
    assert history[1]["changed_at"] <= history[2]["changed_at"]
    # Every version stays readable as it was.
    v1 = await directories.version("1")
    assert "tyj" not in json.dumps(v1["raw"])
    assert "tyj" in json.dumps((await directories.version("2"))["raw"])
    # Anything that is not a version number is no version (never an error): e.g. beyond int64, a
    # superscript digit (str.isdigit() says yes, int() says no), a sign.
    for junk in ("9" * 30, str(2**63), "²", "-1", "1.0", "", "٣"):
        assert await directories.version(junk) is None, junk
    assert (await directories.current()).version == "3"


async def test_a_stale_base_version_or_an_invalid_change_stores_nothing(db) -> None:
    directories, _ = await stores(db)
    with pytest.raises(VersionConflict):
        await directories.change("upsert_department", "yn-gov-office", NEW_DEPT, ALICE, "", base_version="0")
    with pytest.raises(DirectoryError):  # a code that cannot be an inbox topic
        await directories.change("upsert_department", "yn-gov-office", {**NEW_DEPT, "code": "Bad Code"}, ALICE, "")
    with pytest.raises(DirectoryError):  # a second department named like an existing one
        await directories.change("upsert_department", "yn-gov-office", {**NEW_DEPT, "name": "云南省财政厅"}, ALICE, "")
    with pytest.raises(DirectoryError):  # the OGI office cannot be removed
        await directories.change("remove_department", "yn-gov-office", {"code": "ogi"}, ALICE, "")
    assert [h["version"] for h in await directories.history()] == ["1"]


async def test_a_changed_file_becomes_a_new_version(db, tmp_path: Path) -> None:
    path = tmp_path / "directory.json"
    raw = load_raw()
    path.write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")
    directories, _ = await stores(db, path)
    raw["agencies"][0]["departments"].append(NEW_DEPT)
    path.write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")
    await directories.setup()
    await directories.setup()  # the same file again: no third version
    history = await directories.history()
    assert [(h["version"], h["source"]) for h in history] == [("1", "file"), ("2", "file")]
    assert (await directories.current()).get("tyj") is not None


async def test_a_case_records_the_version_that_routed_it(db) -> None:
    directories, routing = await stores(db)
    doc1 = await routing.route(received("c-v1", "请公开某体育场馆的全民健身设施开放时间"), await directories.current())
    assert doc1["directory_version"] == "1" and doc1["triage_open"]  # nobody holds sports in version 1
    await directories.change("upsert_department", "yn-gov-office", NEW_DEPT, ALICE, "")
    doc2 = await routing.route(received("c-v2", "请公开某体育场馆的全民健身设施开放时间"), await directories.current())
    assert doc2["directory_version"] == "2"
    assert [t["dept_code"] for t in doc2["tasks"]] == ["tyj"]
    [routed] = [r for r in await outbox_of(routing.routings, "c-v2") if r["topic"] == ROUTED]
    assert routed["event"].data.directory_version == "2"


# ------------------------------------------------------------------------------ first routing


async def test_routing_writes_case_routed_and_one_task_per_department(db) -> None:
    directories, routing = await stores(db)
    directory = await directories.current()
    event = received("c-3", THREE)
    doc = await routing.route(event, directory)
    assert [t["dept_code"] for t in doc["tasks"]] == ["zrzy", "czt", "sthjt"]
    records = await outbox_of(routing.routings, "c-3")
    assert names(records) == [(ROUTED, "case.routed")] + [(inbox(c), "task.assigned") for c in ("zrzy", "czt", "sthjt")]
    assert records[0]["event"].id == deterministic_id("case.routed", "c-3")
    for rec, code in zip(records[1:], ("zrzy", "czt", "sthjt"), strict=True):
        task_id = deterministic_id("task", "c-3", code)
        assert rec["event"].data.task_id == task_id
        assert rec["event"].id == deterministic_id("task.assigned", task_id)
        assert rec["event"].causationid == event.id
    assert not doc["triage_open"]
    # A redelivery routes nothing again.
    assert await routing.route(event, directory) is None
    assert len(await outbox_of(routing.routings, "c-3")) == 4


async def test_an_unclear_case_goes_to_the_triage_queue(db) -> None:
    directories, routing = await stores(db)
    await routing.route(received("c-t", UNCLEAR), await directories.current())
    await routing.route(received("c-ok", THREE), await directories.current())
    queue = await routing.open_triage()
    assert [d["_id"] for d in queue] == ["c-t"]
    [task] = queue[0]["tasks"]
    assert task["dept_code"] == "ogi" and task["rule"].startswith("triage:")
    records = await outbox_of(routing.routings, "c-t")
    assert names(records) == [(ROUTED, "case.routed"), (inbox("ogi"), "task.assigned")]


# ------------------------------------------------------------------------------ OGI office changes


async def test_resolving_triage_by_reassignment(db) -> None:
    directories, routing = await stores(db)
    directory = await directories.current()
    await routing.route(received("c-r", UNCLEAR), directory)
    ogi_task = deterministic_id("task", "c-r", "ogi")
    result = await routing.change_departments("c-r", directory, add=["zrzy", "czt"], remove=["ogi"],
                                              reason="经核实涉及征地和预算", actor="王五")
    assert result["changed"] and result["operation"] == "reassign" and result["triage_resolved"]
    assert [t["dept_code"] for t in result["tasks"]] == ["zrzy", "czt"]
    records = (await outbox_of(routing.routings, "c-r"))[2:]  # after case.routed + the triage task
    assert names(records) == [(inbox("ogi"), "task.withdrawn"), (inbox("zrzy"), "task.assigned"),
                              (inbox("czt"), "task.assigned"), (ROUTED, "case.rerouted")]
    withdrawn, zrzy, czt, rerouted = (r["event"] for r in records)
    assert withdrawn.id == deterministic_id("task.withdrawn", ogi_task)
    assert withdrawn.data.task_id == ogi_task and withdrawn.data.replaced_by == ["zrzy", "czt"]
    assert withdrawn.data.reason == "经核实涉及征地和预算" and withdrawn.data.withdrawn_by == "王五"
    assert zrzy.data.task_id == deterministic_id("task", "c-r", "zrzy") and zrzy.data.rule == "manual:reassign"
    assert zrzy.id == deterministic_id("task.assigned", zrzy.data.task_id)
    assert rerouted.id == deterministic_id("case.rerouted", "c-r", "1")
    assert rerouted.data.change_seq == 1 and rerouted.data.operation == "reassign" and rerouted.data.triage_resolved
    assert [t.dept_code for t in rerouted.data.tasks] == ["zrzy", "czt"]
    assert [w.task_id for w in rerouted.data.withdrawn] == [ogi_task]
    assert await routing.open_triage() == []
    doc = await routing.get("c-r")
    assert doc["change_seq"] == 1 and doc["changes"][0]["operation"] == "reassign"


async def test_withdraw_a_task_then_retry_changes_nothing(db) -> None:
    directories, routing = await stores(db)
    directory = await directories.current()
    await routing.route(received("c-w", THREE), directory)
    czt_task = deterministic_id("task", "c-w", "czt")
    result = await routing.change_departments("c-w", directory, task_ids=[czt_task], reason="预算信息已主动公开",
                                              actor="王五")
    assert result["operation"] == "withdraw" and [t["task_id"] for t in result["withdrawn"]] == [czt_task]
    records = (await outbox_of(routing.routings, "c-w"))[4:]
    assert names(records) == [(inbox("czt"), "task.withdrawn"), (ROUTED, "case.rerouted")]
    assert records[0]["event"].id == deterministic_id("task.withdrawn", czt_task)
    assert [t.dept_code for t in records[1]["event"].data.tasks] == ["zrzy", "sthjt"]
    assert records[1]["event"].data.operation == "withdraw" and not records[1]["event"].data.triage_resolved
    # The same request again (a client's retry): no change, no new record.
    again = await routing.change_departments("c-w", directory, task_ids=[czt_task], reason="预算信息已主动公开",
                                             actor="王五")
    assert again["changed"] is False
    assert len(await outbox_of(routing.routings, "c-w")) == 6
    with pytest.raises(CaseworkError) as exc:
        await routing.change_departments("c-w", directory, task_ids=["no-such-task"], reason="xx", actor="王五")
    assert exc.value.status == 404


async def test_add_remove_and_add_again_gives_a_new_task_id(db) -> None:
    directories, routing = await stores(db)
    directory = await directories.current()
    await routing.route(received("c-a", THREE), directory)
    noop = await routing.change_departments("c-a", directory, add=["zrzy"], reason="重复", actor="王五")
    assert noop["changed"] is False  # already open
    added = await routing.change_departments("c-a", directory, add=["rst"], reason="涉及社保", actor="王五")
    assert added["operation"] == "add" and [t["dept_code"] for t in added["added"]] == ["rst"]
    removed = await routing.change_departments("c-a", directory, remove=["rst"], reason="不涉及", actor="王五")
    assert removed["operation"] == "remove"
    again = await routing.change_departments("c-a", directory, add=["rst"], reason="又涉及", actor="王五")
    first_id, second_id = deterministic_id("task", "c-a", "rst"), deterministic_id("task", "c-a", "rst", "2")
    assert [t["task_id"] for t in again["added"]] == [second_id] != [first_id]
    records = (await outbox_of(routing.routings, "c-a"))[4:]
    assert names(records) == [
        (inbox("rst"), "task.assigned"), (ROUTED, "case.rerouted"),
        (inbox("rst"), "task.withdrawn"), (ROUTED, "case.rerouted"),
        (inbox("rst"), "task.assigned"), (ROUTED, "case.rerouted"),
    ]
    assert [r["event"].data.change_seq for r in records if r["topic"] == ROUTED] == [1, 2, 3]
    assert len({r["event"].id for r in records}) == len(records)
    doc = await routing.get("c-a")
    assert [(t["dept_code"], t["status"]) for t in doc["tasks"] if t["dept_code"] == "rst"] == [
        ("rst", "withdrawn"), ("rst", "open")]


async def test_refused_changes(db) -> None:
    directories, routing = await stores(db)
    directory = await directories.current()
    await routing.route(received("c-x", "请公开2025年省级重大项目清单"), directory)
    for kwargs, status in (
        ({"remove": ["fgw"]}, 409),  # the last open task
        ({"add": ["nope"]}, 422),  # not in the directory
        ({"add": ["czt"], "remove": ["czt"]}, 422),
    ):
        with pytest.raises(CaseworkError) as exc:
            await routing.change_departments("c-x", directory, reason="测试", actor="王五", **kwargs)
        assert exc.value.status == status, kwargs
    with pytest.raises(CaseworkError) as exc:
        await routing.change_departments("no-case", directory, add=["czt"], reason="测试", actor="王五")
    assert exc.value.status == 404
    assert len(await outbox_of(routing.routings, "c-x")) == 2


async def test_a_change_computed_from_a_stale_document_is_refused(db) -> None:
    directories, routing = await stores(db)
    directory = await directories.current()
    await routing.route(received("c-s", THREE), directory)
    stale = await routing.get("c-s")
    await routing.change_departments("c-s", directory, add=["rst"], reason="涉及社保", actor="甲")
    with pytest.raises(CaseworkError) as exc:
        await routing._commit(stale, {"tasks": []}, {"changes": {"seq": 1}}, [])
    assert exc.value.status == 409
    assert [t["dept_code"] for t in (await routing.get("c-s"))["tasks"]] == ["zrzy", "czt", "sthjt", "rst"]


# ------------------------------------------------------------------------------ referrals


async def test_referral_to_an_agency_on_the_bus(db) -> None:
    directories, routing = await stores(db)
    directory = await directories.current()
    await routing.route(received("c-k", THREE), directory)
    result = await routing.refer("c-k", directory, target_agency_code="km-gov", target_agency_name=None,
                                 target_contact=None, reason="该村属昆明市，征地信息由昆明市人民政府负责公开",
                                 actor="王五")
    assert result["created"] and result["handed_over"] and result["target_agency_name"] == "昆明市人民政府"
    records = (await outbox_of(routing.routings, "c-k"))[4:]
    assert names(records) == [(inbox(c), "task.withdrawn") for c in ("zrzy", "czt", "sthjt")] + [
        ("gongkai.cases.referred", "case.referred"), (ROUTED, "referral.recorded")]
    referred, recorded = records[3]["event"], records[4]["event"]
    rid = deterministic_id("referral", "c-k", "km-gov", "whole")
    assert referred.id == deterministic_id("case.referred", rid)
    assert recorded.id == deterministic_id("referral.recorded", rid)
    d = referred.data
    assert (d.case_id, d.target_agency_code, d.description, d.applicant_ref) == ("c-k", "km-gov", THREE, "app-c-k")
    assert d.from_agency_code == "yn-gov-office" and d.tracking_number == (await routing.get("c-k"))["tracking_number"]
    # No personal data on the shared topic: the event has no field for a name, an ID or a contact.
    assert not {"name", "phone", "email", "id_number", "contact"} & set(type(d).model_fields)
    r = recorded.data
    assert r.handed_over and r.whole_case and r.target_agency_code == "km-gov" and r.legal_basis == REFERRAL_BASIS
    assert "昆明市人民政府" in r.message and "第三十六条第（五）项" in r.message and "已将您的申请转交" in r.message
    assert r.target_contact.phone == directory.agency("km-gov").contact.phone
    assert sorted(w.dept_code for w in r.withdrawn) == ["czt", "sthjt", "zrzy"]
    # The same referral again records nothing new; the case can no longer be rerouted.
    again = await routing.refer("c-k", directory, target_agency_code="km-gov", target_agency_name=None,
                                target_contact=None, reason="重复", actor="王五")
    assert again["created"] is False
    assert len(await outbox_of(routing.routings, "c-k")) == 9
    with pytest.raises(CaseworkError) as exc:
        await routing.change_departments("c-k", directory, add=["rst"], reason="测试", actor="王五")
    assert exc.value.status == 409


async def test_referral_to_an_agency_off_the_bus_only_tells_the_applicant(db) -> None:
    directories, routing = await stores(db)
    directory = await directories.current()
    await routing.route(received("c-off", UNCLEAR), directory)
    result = await routing.refer("c-off", directory, target_agency_code="ky-gov", target_agency_name=None,
                                 target_contact=None, reason="属开远市人民政府职责", actor="王五")
    assert result["handed_over"] is False
    records = (await outbox_of(routing.routings, "c-off"))[2:]
    assert names(records) == [(inbox("ogi"), "task.withdrawn"), (ROUTED, "referral.recorded")]
    message = records[1]["event"].data.message
    assert "请您向开远市人民政府提出申请" in message and "转交" not in message
    assert await routing.open_triage() == []  # the referral closed the triage


async def test_partial_referral_to_an_agency_not_in_the_directory(db) -> None:
    directories, routing = await stores(db)
    directory = await directories.current()
    await routing.route(received("c-p", THREE), directory)
    result = await routing.refer("c-p", directory, target_agency_code=None, target_agency_name="某县人民政府",
                                 target_contact={"address": "某县某路1号", "phone": "0870-0000000", "office_hours": ""},
                                 reason="水质监测数据由某县负责", actor="王五", whole_case=False, part="某河段的水质监测数据")
    assert result["handed_over"] is False and result["whole_case"] is False
    records = (await outbox_of(routing.routings, "c-p"))[4:]
    assert names(records) == [(ROUTED, "referral.recorded")]  # no task withdrawn, nothing handed over
    data = records[0]["event"].data
    assert data.target_agency_code is None and data.part == "某河段的水质监测数据"
    assert "某县某路1号" in data.message and "“某河段的水质监测数据”部分" in data.message
    assert [t["dept_code"] for t in (await routing.get("c-p"))["tasks"]] == ["zrzy", "czt", "sthjt"]
    with pytest.raises(CaseworkError) as exc:
        await routing.refer("c-p", directory, target_agency_code="yn-gov-office", target_agency_name=None,
                            target_contact=None, reason="本机关", actor="王五")
    assert exc.value.status == 422
