"""The department's desk on the reply service (services/reply/tasks.py), on the real store:
acknowledgement, return to the OGI office, the department-safe task view, the reviewer's send-back
and the material itself (size and type limits, checksums, chunks)."""

from __future__ import annotations

import hashlib
import json

from tests.reply.test_http import OGI, api, hdr, reviewer  # noqa: F401 - the fixture
from tests.tokens import bearer

PDF = b"%PDF-1.4\n" + b"0" * 1000 + b"\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200


async def events(st, type_: str) -> list[dict]:
    doc = await st.cases.find_one({"_id": "c1"})
    return [json.loads(x["value"])["data"] for x in doc["outbox"]
            if json.loads(x["value"])["type"] == f"cn.gongkai.{type_}.v1"]


async def test_listing_carries_the_deadline_and_the_acknowledgement(api):
    client, st = api
    tasks = (await client.get("/departments/zrzy/tasks", headers=hdr("zrzy"))).json()["tasks"]
    [t] = tasks
    # The case clock's deadline: 20 working days after receipt (2026-11-23).
    assert t["due_on"] == "2026-12-21" and isinstance(t["workdays_left"], int) and t["workdays_left"] <= 20
    assert t["acknowledged"] is False and t["sent_back"] is False

    assert (await client.post("/tasks/t-zrzy/acknowledgement")).status_code == 401
    assert (await client.post("/tasks/t-zrzy/acknowledgement", headers=hdr("czt"))).status_code == 403
    assert (await client.post("/tasks/t-zrzy/acknowledgement", headers=reviewer("zrzy"))).status_code == 403
    assert (await client.post("/tasks/nope/acknowledgement", headers=hdr("zrzy"))).status_code == 404
    r = await client.post("/tasks/t-zrzy/acknowledgement", headers=hdr("zrzy"))
    assert r.status_code == 200 and r.json()["status"] == "recorded" and r.json()["acknowledged_by"] == "自然资源厅经办人1"
    r2 = await client.post("/tasks/t-zrzy/acknowledgement", headers=hdr("zrzy", 2))
    assert r2.json()["status"] == "already_recorded" and r2.json()["acknowledged_by"] == "自然资源厅经办人1"
    acks = await events(st, "task.acknowledged")
    assert [(e["task_id"], e["acknowledged_by_subject"]) for e in acks] == [("t-zrzy", "zrzy-officer-1")]
    [t] = (await client.get("/departments/zrzy/tasks", headers=hdr("zrzy"))).json()["tasks"]
    assert t["acknowledged"] is True and t["acknowledged_by"] == "自然资源厅经办人1"


async def test_return_goes_back_to_the_ogi_office(api):
    client, st = api
    assert (await client.post("/tasks/t-zrzy/return", json={}, headers=hdr("zrzy"))).status_code == 422
    assert (await client.post("/tasks/t-zrzy/return", json={"reason": "x"}, headers=hdr("czt"))).status_code == 403
    assert (await client.post("/tasks/t-zrzy/return", json={"reason": "x"})).status_code == 401
    r = await client.post("/tasks/t-zrzy/return", json={"reason": "不属于本部门职责，建议由住建厅办理"}, headers=hdr("zrzy"))
    assert r.status_code == 200 and r.json()["status"] == "recorded"
    again = await client.post("/tasks/t-zrzy/return", json={"reason": "再次"}, headers=hdr("zrzy"))
    assert again.json()["status"] == "already_recorded" and again.json()["reason"].startswith("不属于本部门")
    assert (await client.get("/departments/zrzy/tasks", headers=hdr("zrzy"))).json()["tasks"] == []
    [ev] = await events(st, "task.returned")
    assert ev["task_id"] == "t-zrzy" and ev["returned_by_subject"] == "zrzy-officer-1"
    listed = (await client.get("/returned-tasks", headers=OGI)).json()["tasks"]
    assert [(x["task_id"], x["dept_code"], x["reason"]) for x in listed] == [("t-zrzy", "zrzy", "不属于本部门职责，建议由住建厅办理")]
    assert (await client.get("/returned-tasks", headers=hdr("zrzy"))).status_code == 403
    assert (await client.get("/cases/c1/reply", headers=OGI)).json()["returns"][0]["task_id"] == "t-zrzy"
    # The other department sees the status only.
    others = (await client.get("/tasks/t-czt", headers=hdr("czt"))).json()["others"]
    assert others == [{"dept_name": "云南省自然资源厅", "status": "returned", "status_zh": "已退回公开办"}]
    # A new routing of the case that keeps the task puts it back in the department's inbox.
    await st.cases.update_one({"_id": "c1"}, {"$set": {"route_seq": 1}})
    assert [t["task_id"] for t in (await client.get("/departments/zrzy/tasks", headers=hdr("zrzy"))).json()["tasks"]] == ["t-zrzy"]
    assert (await client.get("/returned-tasks", headers=OGI)).json()["tasks"] == []


async def test_task_view_is_department_safe(api):
    client, st = api
    await st.note_application("c1", "请公开2025年土地出让收支情况")
    body = {"reply_type": "disclosed", "text": "现予公开。"}
    assert (await client.post("/tasks/t-czt/answer", json=body, headers=hdr("czt"))).status_code == 201
    assert (await client.get("/tasks/t-zrzy")).status_code == 401
    assert (await client.get("/tasks/t-zrzy", headers=hdr("czt"))).status_code == 403
    assert (await client.get("/tasks/t-zrzy", headers=OGI)).status_code == 403
    v = (await client.get("/tasks/t-zrzy", headers=reviewer("zrzy"))).json()
    assert v["description"] == "请公开2025年土地出让收支情况" and v["due_on"] == "2026-12-21" and v["status"] == "open"
    # czt's draft: its status, not its text nor its author.
    assert v["others"] == [{"dept_name": "云南省财政厅", "status": "draft", "status_zh": "答复草稿待审查"}]
    assert "现予公开" not in json.dumps(v, ensure_ascii=False)


async def test_reviewer_sends_the_draft_back(api):
    client, st = api
    body = {"reply_type": "disclosed", "text": "现予公开。"}
    assert (await client.post("/tasks/t-zrzy/review/return", json={"comment": "补充"}, headers=reviewer("zrzy"))).status_code == 409
    assert (await client.post("/tasks/t-zrzy/answer", json=body, headers=hdr("zrzy"))).status_code == 201
    assert (await client.post("/tasks/t-zrzy/review/return", json={"comment": "x"}, headers=hdr("zrzy"))).status_code == 403
    assert (await client.post("/tasks/t-zrzy/review/return", json={"comment": "x"}, headers=reviewer("czt"))).status_code == 403
    assert (await client.post("/tasks/t-zrzy/review/return", json={"comment": ""}, headers=reviewer("zrzy"))).status_code == 422
    # Four eyes: an officer with both roles cannot send back (nor sign off) his own draft.
    both = bearer("dept_officer", "dept_reviewer", department="zrzy", sub="zrzy-both", name="双角色")
    assert (await client.post("/tasks/t-czt/answer", json=body, headers=hdr("czt"))).status_code == 201
    assert (await client.post("/tasks/t-zrzy/answer", json=body | {"text": "由本人撰写。"}, headers=both)).status_code == 201
    r = await client.post("/tasks/t-zrzy/review/return", json={"comment": "x"}, headers=both)
    assert r.status_code == 403 and "本人撰写" in r.json()["detail"]
    r = await client.post("/tasks/t-zrzy/review/return", json={"comment": "请写明获取方式"}, headers=reviewer("zrzy"))
    assert r.status_code == 200 and r.json()["status"] == "recorded"
    [t] = (await client.get("/departments/zrzy/tasks", headers=reviewer("zrzy"))).json()["tasks"]
    assert t["sent_back"] is True and t["answered_by_subject"] == "zrzy-both"
    r = await client.post("/tasks/t-zrzy/review", headers=reviewer("zrzy"))
    assert r.status_code == 409 and "退回" in r.json()["detail"]
    [ev] = await events(st, "answer.returned")
    assert ev["comment"] == "请写明获取方式" and ev["reviewer_subject"] == "zrzy-reviewer-1"
    # The author replaces the draft: it can be signed off again.
    assert (await client.post("/tasks/t-zrzy/answer", json=body | {"text": "现予公开，请登录网站获取。"}, headers=both)).status_code == 201
    assert (await client.post("/tasks/t-zrzy/review", headers=reviewer("zrzy"))).json()["status"] == "signed_off"


def upload(name: str, data: bytes, ctype: str = "application/octet-stream") -> dict:
    return {"files": {"file": (name, data, ctype)}}


async def test_material_limits_checksum_and_access(api):
    client, st = api
    assert (await client.post("/tasks/t-zrzy/material", **upload("a.pdf", PDF))).status_code == 401
    assert (await client.post("/tasks/t-zrzy/material", headers=hdr("czt"), **upload("a.pdf", PDF))).status_code == 403
    big = PDF[:9] + b"0" * (20 * 1024 * 1024)
    r = await client.post("/tasks/t-zrzy/material", headers=hdr("zrzy"), **upload("big.pdf", big))
    assert r.status_code == 413 and "20 MiB" in r.json()["detail"]
    r = await client.post("/tasks/t-zrzy/material", headers=hdr("zrzy"), **upload("run.exe", b"MZ" + b"0" * 100))
    assert r.status_code == 415 and "不支持的文件类型" in r.json()["detail"]
    r = await client.post("/tasks/t-zrzy/material", headers=hdr("zrzy"), **upload("fake.pdf", PNG))
    assert r.status_code == 415  # the name says PDF, the bytes do not
    r = await client.post("/tasks/t-zrzy/material", headers=hdr("zrzy") | {"content-type": "application/json"},
                          content=b"{}")
    assert r.status_code == 415
    # A file over one chunk (4 MiB): stored in pieces, read back whole.
    data = PDF[:9] + bytes(range(256)) * (9 * 1024 * 4) + b"%%EOF"
    r = await client.post("/tasks/t-zrzy/material", headers=hdr("zrzy"), **upload("土地出让 收支.pdf", data))
    assert r.status_code == 201, r.text
    m = r.json()
    assert m["sha256"] == hashlib.sha256(data).hexdigest() and m["size"] == len(data)
    assert m["content_type"] == "application/pdf" and m["filename"] == "土地出让 收支.pdf" and m["released"] is False
    chunks = [c async for c in st.cases.database["material_chunks"].find({"material_id": m["material_id"]})]
    assert len(chunks) == 3 and max(len(c["data"]) for c in chunks) <= 4 * 1024 * 1024
    for who in (reviewer("zrzy"), OGI):
        got = await client.get(f"/cases/c1/material/{m['material_id']}", headers=who)
        assert got.status_code == 200 and got.content == data and got.headers["x-content-sha256"] == m["sha256"]
    assert "attachment" in got.headers["content-disposition"]
    assert (await client.get(f"/cases/c1/material/{m['material_id']}", headers=hdr("czt"))).status_code == 403
    assert (await client.get(f"/cases/other/material/{m['material_id']}", headers=OGI)).status_code == 404
    assert (await client.get(f"/cases/c1/material/{m['material_id']}")).status_code == 401
    # Listed on the task; released with the reply when the signed-off answer names it.
    assert [x["sha256"] for x in (await client.get("/tasks/t-zrzy", headers=hdr("zrzy"))).json()["materials"]] == [m["sha256"]]
    desk = client._transport.app.state.desk
    case = await st.get("c1")
    assert await desk.released_material(case, m["material_id"]) is None and await desk.released_materials(case) == []
    body = {"reply_type": "disclosed", "text": "现予公开，见所附材料。", "material_refs": [m["ref"]]}
    assert (await client.post("/tasks/t-zrzy/answer", json=body, headers=hdr("zrzy"))).status_code == 201
    assert (await client.post("/tasks/t-czt/answer", json={"reply_type": "disclosed", "text": "现予公开。"},
                              headers=hdr("czt"))).status_code == 201
    for dept in ("zrzy", "czt"):
        assert (await client.post(f"/tasks/t-{dept}/review", headers=reviewer(dept))).status_code == 200
    [listed] = (await client.get("/tasks/t-zrzy", headers=hdr("zrzy"))).json()["materials"]
    assert listed["in_answer"] is True and listed["released"] is True
    case = await st.get("c1")
    meta, got_bytes = await desk.released_material(case, m["material_id"])
    assert got_bytes == data and [x["sha256"] for x in await desk.released_materials(case)] == [m["sha256"]]
    r = await client.post("/tasks/t-zrzy/material", headers=hdr("zrzy"), **upload("late.png", PNG))
    assert r.status_code == 409  # signed off: nothing more to add


def test_desk_events_round_trip_and_travel_on_answers_recorded():
    from datetime import UTC, datetime

    from contracts import topics
    from contracts.envelope import decode, encode, new_event
    from contracts.events import REGISTRY
    from contracts.events_desk import EVENTS, AnswerReturned, TaskAcknowledged, TaskReturned

    at = datetime(2026, 12, 1, 2, 3, 4, tzinfo=UTC)
    samples = [
        TaskAcknowledged(case_id="c1", task_id="t1", dept_code="zrzy", acknowledged_by="经办人",
                         acknowledged_by_subject="s1", acknowledged_at=at),
        TaskReturned(case_id="c1", task_id="t1", dept_code="zrzy", reason="不属于本部门", returned_by="经办人",
                     returned_by_subject="s1", returned_at=at),
        AnswerReturned(case_id="c1", task_id="t1", dept_code="zrzy", comment="请补充", reviewer="审查人",
                       reviewer_subject="s2", sent_back_at=at),
    ]
    assert {type(s) for s in samples} == set(EVENTS)
    for data in samples:
        event = new_event(data, source="/gongkai/reply", subject="c1", event_id=f"e-{data.event_name}", time=at)
        assert decode(encode(event), REGISTRY) == event
        assert data.event_name in topics.ANSWERS_RECORDED.event_types
