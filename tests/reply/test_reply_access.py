"""Issue 9, reply: officers only by a verified token, each in its role and its department, the
保密审查 by a second person, the extension by the head, bus answers by their topic's department, and
no input turning into a 5xx. In-process: the reply app on a private store, tokens from
tests/tokens.py, the bus through FastStream's in-memory broker on the app's own subscribers.

Findings replayed: correction, consultations, triage, close, contradictions on reply answered
201/200 without any credential; ``/extension`` needed only ``X-Role: ogi_head``; an
``answer.submitted`` for zrzy produced by an unknown client was accepted; ``/cases/{id}/reply*``
readable by anyone; integers >= 2^63 answered 500."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import pytest_asyncio
from faststream.kafka import TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage

from contracts import topics
from contracts.access import ROUTES, Role
from contracts.envelope import deterministic_id, encode, kafka_headers, new_event
from contracts.events import Answer, AnswerSubmitted, CaseRouted, ConfidentialityReview, RoutedTask
from servicekit.http import content_disposition
from services.reply.cases import china_today
from deploy.local.store_instance import free_port
from tests.service_apps import db_name, reply_app
from tests.tokens import bearer, token


BIG = 2**63
BODY = {"reply_type": "disclosed", "text": "现予公开。", "material_refs": ["a.pdf"]}


def officer(dept: str, sub: str | None = None, *roles: str) -> dict[str, str]:
    return bearer(*(roles or ("dept_officer",)), department=dept, sub=sub or f"{dept}-officer", name=f"{dept}经办人")


def reviewer(dept: str, sub: str | None = None) -> dict[str, str]:
    return bearer("dept_reviewer", department=dept, sub=sub or f"{dept}-reviewer", name=f"{dept}审查员")


OGI = bearer("ogi_officer", sub="u-ogi", name="公开办李经办")
HEAD = bearer("ogi_head", sub="u-head", name="公开办张主任")


@pytest_asyncio.fixture
async def api(store, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator:  # noqa: ANN001, F811
    env = {"GONGKAI_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}",  # no broker: nothing may need one
           "REPLY_RENDER_DOCUMENTS": "false"}
    async with reply_app(store.url, db_name("sec_reply_", request, 40), monkeypatch, env=env) as app:
        routed = CaseRouted(case_id="c1", tracking_number="YN-1", agency_code="ag", agency_name="云南省人民政府办公厅",
                            received_on=china_today(), directory_version="v1",
                            tasks=[RoutedTask(task_id="t-zrzy", dept_code="zrzy", dept_name="云南省自然资源厅", rule="r"),
                                   RoutedTask(task_id="t-czt", dept_code="czt", dept_name="云南省财政厅", rule="r")])
        await app.state.store.open_case(routed)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://reply") as client:
            client.app = app
            yield client


async def outbox(api, case_id: str = "c1") -> list[tuple[str, dict]]:  # noqa: ANN001
    """The events queued for the case: the case's (answers, the reply) and its clock's (procedure)."""
    out = []
    for collection in (api.app.state.store.cases, api.app.state.clock.clocks):
        doc = await collection.find_one({"_id": case_id}) or {}
        out += [(json.loads(r["value"])["type"].removeprefix("cn.gongkai.").removesuffix(".v1"),
                 json.loads(r["value"])["data"]) for r in doc.get("outbox") or []]
    return out


async def clock_rev(api, case_id: str = "c1") -> int:  # noqa: ANN001
    return (await api.app.state.clock.clocks.find_one({"_id": case_id}))["procedure_rev"]


def due(days: int) -> str:
    return (china_today() + timedelta(days=days)).isoformat()


# Every reply route with a valid body (contracts/access.py is the list: a route missing here fails).
BODIES: dict[tuple[str, str], dict | None] = {
    ("GET", "/departments/{dept_code}/tasks"): None,
    ("POST", "/tasks/{task_id}/answer"): BODY,
    ("POST", "/tasks/{task_id}/review"): {},
    ("GET", "/cases/{case_id}/reply"): None,
    ("GET", "/cases/{case_id}/reply.pdf"): None,
    ("GET", "/cases/{case_id}/reply.html"): None,
    ("POST", "/cases/{case_id}/close"): {"reason": "超期未答复"},
    ("POST", "/cases/{case_id}/contradictions/{contradiction_id}/resolve"): {"note": "协调", "reopen": []},
    ("GET", "/cases/overdue"): None,
    ("GET", "/cases/due-soon"): None,
    ("GET", "/cases/{case_id}/triage"): None,
    ("POST", "/cases/{case_id}/triage"): {"question": "correction", "answer": "clear"},
    ("GET", "/cases/{case_id}/deadline"): None,
    ("POST", "/cases/{case_id}/correction"): {"items": ["请明确年份"], "due_on": "DUE"},
    ("POST", "/cases/{case_id}/correction/received"): {},
    ("POST", "/cases/{case_id}/extension"): {"days": 5, "reason": "需协调多个部门"},
    ("POST", "/cases/{case_id}/consultations"): {"party_kind": "third_party", "party": "某建筑公司"},
    ("POST", "/cases/{case_id}/consultations/{number}/end"): {"end": "answered"},
    ("GET", "/tasks/{task_id}"): None,
    ("POST", "/tasks/{task_id}/acknowledgement"): None,
    ("POST", "/tasks/{task_id}/return"): {"reason": "不属于本部门职责"},
    ("POST", "/tasks/{task_id}/review/return"): {"comment": "请补充理由"},
    ("POST", "/tasks/{task_id}/material"): None,  # multipart (tests/reply/test_desk_http.py)
    ("GET", "/cases/{case_id}/material/{material_id}"): None,
    ("GET", "/returned-tasks"): None,
    ("GET", "/cases/{case_id}/feedback"): None,
    ("POST", "/cases/{case_id}/follow-ups"): {"contacted_at": "2026-12-01T10:00:00+08:00", "means": "phone",
                                              "result": "need_met", "note": "申请人已收到答复"},
    ("GET", "/follow-ups"): None,
    ("GET", "/cases/{case_id}/documents"): None,  # the case's documents (issue #11)
    ("GET", "/cases/{case_id}/documents/{document_id}"): None,
    # The service (送达) of the documents (issue #17; tests/reply/test_service_http.py).
    ("GET", "/cases/{case_id}/service"): None,
    ("POST", "/cases/{case_id}/postal-dispatches"): {"document_ids": ["d1"], "postal_tracking_number": "EMS1",
                                                     "sent_on": "2026-12-01"},
    ("POST", "/cases/{case_id}/postal-dispatches/{dispatch_id}/signed"): {"signed_on": "2026-12-02"},
    ("POST", "/cases/{case_id}/postal-dispatches/{dispatch_id}/returned"): {"returned_on": "2026-12-02",
                                                                           "reason": "addressee_unknown"},
    ("POST", "/cases/{case_id}/handovers"): {"document_ids": ["d1"], "handed_on": "2026-12-01", "received_by": "张三",
                                             "signature_recorded": True},
    ("GET", "/cases/{case_id}/postal-dispatches/{dispatch_id}/proof-of-service.pdf"): None,
    ("GET", "/cases/{case_id}/postal-dispatches/{dispatch_id}/label.pdf"): None,
    ("GET", "/cases/{case_id}/handovers/{handover_id}/proof-of-service.pdf"): None,
}
OFFICER_ROUTES = [(m, p) for (m, p), acc in ROUTES["reply"].items() if not acc.public]


def concrete(path: str, case_id: str = "c1", task_id: str = "t-zrzy") -> str:
    values = {"dept_code": "zrzy", "task_id": task_id, "case_id": case_id, "contradiction_id": "x", "number": "1",
              "material_id": "m1", "document_id": "d1", "dispatch_id": "p1", "handover_id": "h1"}
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)


def body_of(method: str, path: str) -> dict | None:
    body = BODIES[(method, path)]
    return None if body is None else json.loads(json.dumps(body).replace('"DUE"', f'"{due(10)}"'))


def role_token(role: Role) -> dict[str, str]:
    dept = "zrzy" if role in (Role.DEPT_OFFICER, Role.DEPT_REVIEWER) else None
    return bearer(role.value, department=dept, sub=f"u-{role.value}", name=role.label_zh)


def test_every_officer_route_of_the_table_is_exercised() -> None:
    assert set(OFFICER_ROUTES) == set(BODIES)


@pytest.mark.parametrize(("method", "path"), OFFICER_ROUTES, ids=[f"{m} {p}" for m, p in OFFICER_ROUTES])
async def test_no_token_a_forged_one_or_headers_only_is_401_a_wrong_role_403(api, method, path) -> None:  # noqa: ANN001
    url, body = concrete(path), body_of(method, path)
    forged = token("ogi_officer", "ogi_head", "dept_officer", "dept_reviewer", department="zrzy",
                   issuer="https://evil.example/realms/gongkai")
    expired = token("ogi_officer", "ogi_head", "dept_officer", "dept_reviewer", department="zrzy", lifetime=-120)
    for headers in ({}, {"Authorization": f"Bearer {forged}"}, {"Authorization": f"Bearer {expired}"},
                    {"X-User": "boss", "X-Role": "ogi_head"}, {"X-Role": "dept_officer", "X-User": "zrzy"}):
        resp = await api.request(method, url, json=body, headers=headers)
        assert resp.status_code == 401, (headers.keys(), resp.status_code, resp.text)
    allowed = ROUTES["reply"][(method, path)].roles
    for role in Role:
        if role in allowed:
            continue
        resp = await api.request(method, url, json=body, headers=role_token(role))
        assert resp.status_code == 403, (role, resp.status_code, resp.text)
    doc = await api.app.state.store.cases.find_one({"_id": "c1"})
    assert doc["answers"] == [] and await clock_rev(api) == 0 and not doc.get("closed")
    assert [t for t, _ in await outbox(api)] == ["deadline.changed"]  # only the opening's event


@pytest.mark.parametrize(("method", "path"), OFFICER_ROUTES, ids=[f"{m} {p}" for m, p in OFFICER_ROUTES])
async def test_an_allowed_role_gets_past_the_guard_and_an_unknown_id_is_404(api, method, path) -> None:  # noqa: ANN001
    body = body_of(method, path)
    for role in sorted(ROUTES["reply"][(method, path)].roles):
        if "{case_id}" in path or "{task_id}" in path:
            resp = await api.request(method, concrete(path, case_id="nope", task_id="nope"), json=body,
                                     headers=role_token(role))
            assert resp.status_code == 404, (role, resp.status_code, resp.text)
            assert resp.json()["detail"]
        else:
            resp = await api.request(method, concrete(path), json=body, headers=role_token(role))
            assert resp.status_code == 200, (role, resp.status_code, resp.text)


async def test_a_token_with_an_x_role_header_is_still_only_its_own_roles(api) -> None:  # noqa: ANN001
    r = await api.post("/cases/c1/extension", json={"days": 5, "reason": "x"}, headers=OGI | {"X-Role": "ogi_head"})
    assert r.status_code == 403


async def test_a_department_sees_and_answers_only_its_own_tasks(api) -> None:  # noqa: ANN001
    zrzy = officer("zrzy")
    assert (await api.get("/departments/czt/tasks", headers=zrzy)).status_code == 403
    r = await api.get("/departments/zrzy/tasks", headers=zrzy)
    assert r.status_code == 200 and [t["task_id"] for t in r.json()["tasks"]] == ["t-zrzy"]
    for body in (BODY, BODY | {"dept_code": "czt"}, BODY | {"dept_code": "zrzy"}):
        r = await api.post("/tasks/t-czt/answer", json=body, headers=zrzy)
        assert r.status_code == 403, r.text
        assert "czt" in r.json()["detail"] or "zrzy" in r.json()["detail"]
    # Its own task, but the body naming another department: refused as well.
    r = await api.post("/tasks/t-zrzy/answer", json=BODY | {"dept_code": "czt"}, headers=zrzy)
    assert r.status_code == 403
    assert (await api.app.state.store.cases.find_one({"_id": "c1"}))["answers"] == []
    # A token without a department at all.
    r = await api.post("/tasks/t-zrzy/answer", json=BODY, headers=bearer("dept_officer", sub="u-x"))
    assert r.status_code == 403


async def test_four_eyes_the_author_cannot_review_own_answer(api, monkeypatch) -> None:  # noqa: ANN001
    import servicekit.oidc

    logged: list[dict] = []

    class Recorder:
        def warning(self, event: str, **kw) -> None:  # noqa: ANN003
            logged.append({"event": event, **kw})

        info = warning

    monkeypatch.setattr(servicekit.oidc, "log", Recorder())
    both = officer("zrzy", "zrzy-li", "dept_officer", "dept_reviewer")  # writes and reviews: not the same answer
    r = await api.post("/tasks/t-zrzy/answer", json=BODY, headers=both)
    assert r.status_code == 201 and r.json()["draft"] is True
    r = await api.post("/tasks/t-zrzy/review", json={}, headers=both)
    assert r.status_code == 403 and "本人撰写" in r.json()["detail"]
    assert any(e["event"] == "access_refused" and e["subject"] == "zrzy-li" and e["reason"] == "four eyes"
               for e in logged), logged
    # A reviewer of another department may not review it either.
    r = await api.post("/tasks/t-zrzy/review", json={}, headers=reviewer("czt"))
    assert r.status_code == 403
    r = await api.post("/tasks/t-zrzy/review", json={"dept_code": "zrzy"}, headers=reviewer("czt"))
    assert r.status_code == 403
    # Nor may the reviewer's name come from the body.
    r = await api.post("/tasks/t-zrzy/review", json={"reviewer": "李"}, headers=reviewer("zrzy", "zrzy-zhao"))
    assert r.status_code == 422
    doc = await api.app.state.store.cases.find_one({"_id": "c1"})
    assert doc["answers"][0]["review"] is None
    # Another reviewer of the same department can.
    r = await api.post("/tasks/t-zrzy/review", headers=reviewer("zrzy", "zrzy-zhao"))
    assert r.status_code == 200 and r.json()["status"] == "signed_off"
    signed = [d for t, d in await outbox(api) if t == "answer.recorded" and not d["draft"]]
    assert len(signed) == 1
    assert signed[0]["answered_by_subject"] == "zrzy-li" and signed[0]["review"]["reviewer_subject"] == "zrzy-zhao"
    assert signed[0]["review"]["reviewer"] == "zrzy审查员"


async def test_an_answer_cannot_carry_its_own_review(api) -> None:  # noqa: ANN001
    r = await api.post("/tasks/t-zrzy/answer", json=BODY | {"review": {"reviewer": "本人"}},
                       headers=officer("zrzy", "zrzy-li", "dept_officer", "dept_reviewer"))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "review"


async def test_the_extension_takes_the_head(api) -> None:  # noqa: ANN001
    body = {"days": 5, "reason": "需协调多个部门"}
    assert (await api.post("/cases/c1/extension", json=body, headers={"X-Role": "ogi_head"})).status_code == 401
    r = await api.post("/cases/c1/extension", json=body, headers=OGI)
    assert r.status_code == 403 and "负责人" in r.json()["detail"]
    r = await api.post("/cases/c1/extension", json=body, headers=HEAD)
    assert r.status_code == 201, r.text
    approved = [d for t, d in await outbox(api) if t == "extension.approved"]
    assert [(d["approver"], d["approver_subject"], d["approver_role"]) for d in approved] == [
        ("公开办张主任", "u-head", "ogi_head")]


async def test_officers_in_events_are_the_tokens(api) -> None:  # noqa: ANN001
    r = await api.post("/cases/c1/correction", json={"items": ["请明确年份"], "due_on": due(10)}, headers=OGI)
    assert r.status_code == 201, r.text
    r = await api.post("/cases/c1/triage", json={"question": "correction", "answer": "needs_correction"}, headers=OGI)
    assert r.status_code == 201, r.text
    evs = dict(await outbox(api))
    assert (evs["correction.requested"]["issued_by"], evs["correction.requested"]["issued_by_subject"]) == (
        "公开办李经办", "u-ogi")
    assert (evs["triage.recorded"]["answered_by"], evs["triage.recorded"]["answered_by_subject"]) == (
        "公开办李经办", "u-ogi")


async def test_out_of_range_integers_are_422_never_500(api) -> None:  # noqa: ANN001
    r = await api.post(f"/cases/c1/consultations/{BIG}/end", json={"end": "answered"}, headers=OGI)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "number"
    assert (await api.post("/cases/c1/consultations/0/end", json={"end": "answered"}, headers=OGI)).status_code == 422
    for q in (BIG, -1, 0):
        r = await api.get(f"/cases/c1/reply.pdf?amendment={q}", headers=OGI)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "amendment"
    r = await api.get(f"/cases/c1/reply.html?amendment={BIG}", headers=OGI)
    assert r.status_code == 422
    r = await api.post("/cases/c1/extension", json={"days": BIG, "reason": "x"}, headers=HEAD)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "days"


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/cases/c1/close", {"reason": "超\x00期"}, "reason"),
    ("/cases/c1/triage", {"question": "correction", "answer": "clear", "note": "a\x00"}, "note"),
    ("/cases/c1/correction", {"items": ["ok", "b\x00"], "due_on": "2030-01-01"}, "items.1"),
    ("/cases/c1/consultations", {"party_kind": "third_party", "party": "某\x00公司"}, "party"),
    ("/cases/c1/contradictions/x/resolve", {"note": "\x00", "reopen": []}, "note"),
], ids=["close", "triage", "correction", "consultation", "resolve"])
async def test_nul_in_text_is_422_naming_the_field(api, path, body, field) -> None:  # noqa: ANN001
    r = await api.post(path, json=body, headers=OGI)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == field, r.text


async def test_nul_in_an_answer_is_422(api) -> None:  # noqa: ANN001
    r = await api.post("/tasks/t-zrzy/answer", json=BODY | {"text": "现予\x00公开"}, headers=officer("zrzy"))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "text"
    r = await api.post("/tasks/t-zrzy/answer", headers=officer("zrzy"), json=BODY | {
        "reply_type": "partially_disclosed", "withheld": [{"description": "名\x00单", "reason_code": "withheld.third_party",
                                                           "explanation": "个人隐私"}]})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "withheld.0.description"
    assert (await api.app.state.store.cases.find_one({"_id": "c1"}))["answers"] == []


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/cases/c1/correction", {"items": ["x"], "due_on": "D+10", "issued_on": "D+1"}, "issued_on"),
    ("/cases/c1/correction", {"items": ["x"], "due_on": "D+10", "issued_on": "1900-01-01"}, "issued_on"),
    ("/cases/c1/correction", {"items": ["x"], "due_on": "9999-12-31"}, "due_on"),
    ("/cases/c1/correction/received", {"received_on": "D+3"}, "received_on"),
    ("/cases/c1/consultations", {"party_kind": "third_party", "party": "x", "sent_on": "1900-01-01"}, "sent_on"),
    ("/cases/c1/consultations", {"party_kind": "third_party", "party": "x", "delivered_on": "D+30"}, "delivered_on"),
    ("/cases/c1/consultations/1/end", {"end": "answered", "ended_on": "D+1"}, "ended_on"),
], ids=["issued-future", "issued-1900", "due-9999", "received-future", "sent-1900", "delivered-future", "ended-future"])
async def test_dates_never_in_the_future_nor_far_back(api, path, body, field) -> None:  # noqa: ANN001
    def fill(v):  # noqa: ANN001, ANN202
        return due(int(v[2:])) if isinstance(v, str) and v.startswith("D+") else v

    r = await api.post(path, json={k: fill(v) for k, v in body.items()}, headers=OGI)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == field, r.text
    assert await clock_rev(api) == 0


async def test_the_extension_date_is_bounded_and_domain_refusals_stay_409(api) -> None:  # noqa: ANN001
    r = await api.post("/cases/c1/extension", json={"days": 5, "reason": "x", "approved_on": due(1)}, headers=HEAD)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "approved_on"
    # Within bounds but before the receipt: the Regulations' refusal, 409.
    r = await api.post("/cases/c1/correction", json={"items": ["x"], "due_on": due(10), "issued_on": due(-30)},
                       headers=OGI)
    assert r.status_code == 409


def test_content_disposition_is_safe_for_any_name() -> None:
    assert content_disposition("inline", "0b5e-1.pdf") == 'inline; filename="0b5e-1.pdf"'
    header = content_disposition("inline", '答复书"; x=1\r\n.pdf')
    header.encode("latin-1")  # a valid header value
    assert "\r" not in header and "\n" not in header
    assert header.startswith('inline; filename="___') and '"; x=1' not in header.split("filename*")[0]
    assert "filename*=UTF-8''%E7%AD%94%E5%A4%8D%E4%B9%A6%22%3B%20x%3D1%0D%0A.pdf" in header


# -- the bus: an answer's department is its topic's --------------------------------------------


def submitted(case_id: str, task_id: str, dept: str, text: str) -> tuple[bytes, dict[str, str]]:
    review = ConfidentialityReview(reviewer="部门系统审查员", reviewed_at=datetime(2026, 11, 23, 9, 0, tzinfo=UTC))
    event = new_event(AnswerSubmitted(case_id=case_id, task_id=task_id, dept_code=dept,
                                      answer=Answer(reply_type="disclosed", text=text), review=review),
                      source="/integrator/test", subject=case_id, event_id=deterministic_id("t", task_id, dept, text))
    return encode(event), kafka_headers(event)


async def test_a_bus_answer_claiming_another_department_is_refused_and_dead_lettered(api) -> None:  # noqa: ANN001
    broker = api.app.state.runtime.broker
    czt_topic, zrzy_topic = topics.department_answers("czt").name, topics.department_answers("zrzy").name
    dead: list[tuple[str, dict]] = []

    @broker.subscriber(topics.dead_letter_topic(czt_topic))
    async def on_dlt(msg: KafkaMessage) -> None:
        dead.append((msg.raw_message.topic, dict(msg.headers)))

    async with TestKafkaBroker(broker) as br:
        # czt's system (the only writer of czt's topic) answering zrzy's task as "zrzy".
        value, headers = submitted("c1", "t-zrzy", "zrzy", "冒充的答复")
        await br.publish(value, czt_topic, key=b"c1", headers=headers)
        # zrzy's own system on its own topic: accepted, with its own 保密审查.
        value, headers = submitted("c1", "t-zrzy", "zrzy", "自然资源厅的答复")
        await br.publish(value, zrzy_topic, key=b"c1", headers=headers)
    assert len(dead) == 1 and dead[0][0] == "gongkai.dept.czt.answers.dlt"
    reason = dead[0][1]["dlt-reason"]
    assert "wrong_answers_topic" in reason and "dept_code" in reason and "冒充" not in reason
    refused = [d for t, d in await outbox(api) if t == "answer.refused"]
    assert [(d["code"], d["dept_code"], d["via"]) for d in refused] == [("wrong_answers_topic", "czt", "topic")]
    doc = await api.app.state.store.cases.find_one({"_id": "c1"})
    assert [(a["task_id"], a["answer"]["text"], a["review"]["reviewer"]) for a in doc["answers"]] == [
        ("t-zrzy", "自然资源厅的答复", "部门系统审查员")]


WEIRD_IDS = ["%00", "%E7%AD%94%E5%A4%8D", "a%0Ab", "$where", "x" * 300]


@pytest.mark.parametrize("weird", WEIRD_IDS, ids=["nul", "chinese", "newline", "operator", "long"])
async def test_odd_ids_are_404_never_500(api, weird) -> None:  # noqa: ANN001
    for method, path, headers, body in [
        ("GET", f"/cases/{weird}/reply", OGI, None), ("GET", f"/cases/{weird}/reply.pdf", OGI, None),
        ("GET", f"/cases/{weird}/reply.html", OGI, None), ("GET", f"/cases/{weird}/deadline", OGI, None),
        ("GET", f"/cases/{weird}/triage", OGI, None), ("POST", f"/cases/{weird}/close", OGI, {"reason": "x"}),
        ("POST", f"/cases/{weird}/extension", HEAD, {"days": 1, "reason": "x"}),
        ("POST", f"/tasks/{weird}/answer", officer("zrzy"), BODY), ("POST", f"/tasks/{weird}/review", reviewer("zrzy"), {}),
    ]:
        r = await api.request(method, path, json=body, headers=headers)
        assert r.status_code == 404, (method, path, r.status_code, r.text)


async def test_a_document_for_notify_only_with_a_valid_signed_link(store, request, monkeypatch) -> None:  # noqa: ANN001, F811
    """GET /service/documents/{id}: notify's fetch of a notice's attachment (issue #11). Without a
    signature, with a wrong, expired or another document's one: 404 like an unknown document."""
    from bson import Binary

    from servicekit import doclinks

    secret = "a-test-document-link-secret"
    env = {"GONGKAI_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}", "REPLY_RENDER_DOCUMENTS": "false",
           "REPLY_DOCUMENT_LINK_SECRET": secret}
    async with reply_app(store.url, db_name("sec_links_", request, 40), monkeypatch, env=env) as app:
        await app.state.store.cases.insert_one({"_id": "c1", "tracking_number": "YN-1"})
        await app.state.steps.documents.insert_one({"_id": "d1", "case_id": "c1", "kind": "acceptance_receipt",
                                                    "title": "政府信息公开申请受理回执", "status": "issued",
                                                    "pdf": Binary(b"%PDF-1.7 x"), "sha256": "0" * 64})
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://reply") as client:
            url = "/service/documents/d1"
            for headers in ({}, {doclinks.HEADER: "garbage"}, {doclinks.HEADER: doclinks.sign("other-secret", "d1")},
                            {doclinks.HEADER: doclinks.sign(secret, "d2")},
                            {doclinks.HEADER: doclinks.sign(secret, "d1", now=0)}, OGI):
                resp = await client.get(url, headers=headers)
                assert resp.status_code == 404, (headers, resp.status_code)
            ok = await client.get(url, headers={doclinks.HEADER: doclinks.sign(secret, "d1")})
            assert ok.status_code == 200 and ok.content == b"%PDF-1.7 x"
            assert ok.headers["content-type"] == "application/pdf"


async def test_the_applicant_lists_and_gets_only_the_documents_addressed_to_them(store, request, monkeypatch) -> None:  # noqa: ANN001, F811
    """/public/cases/{n}/documents: with the query code only; the letters to the parties consulted
    are not the applicant's (issue #11)."""
    from bson import Binary

    from servicekit.querycode import query_code

    secret = "a-test-query-code-secret"
    env = {"GONGKAI_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}", "REPLY_RENDER_DOCUMENTS": "false",
           "REPLY_QUERY_CODE_SECRET": secret}
    async with reply_app(store.url, db_name("sec_pubdocs_", request, 40), monkeypatch, env=env) as app:
        await app.state.store.cases.insert_one({"_id": "c1", "tracking_number": "YN-1"})
        for doc_id, kind, to in (("d1", "acceptance_receipt", "applicant"), ("d2", "consultation_third_party", "third_party")):
            await app.state.steps.documents.insert_one({
                "_id": doc_id, "case_id": "c1", "kind": kind, "title": kind, "status": "issued", "addressee": to,
                "pdf": Binary(b"%PDF-1.7 " + doc_id.encode()), "sha256": "0" * 64, "pdf_bytes": 11,
                "issued_at": datetime.now(UTC)})
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://reply") as client:
            code = query_code(secret, "c1")
            listed = await client.get("/public/cases/YN-1/documents", params={"query_code": code})
            assert listed.status_code == 200 and [d["document_id"] for d in listed.json()["documents"]] == ["d1"]
            got = await client.get("/public/cases/YN-1/documents/d1", params={"query_code": code})
            assert got.status_code == 200 and got.content == b"%PDF-1.7 d1"
            assert "attachment" in got.headers["content-disposition"]
            letter = await client.get("/public/cases/YN-1/documents/d2", params={"query_code": code})
            assert letter.status_code == 404
            wrong = await client.get("/public/cases/YN-1/documents", params={"query_code": "0" * 12})
            assert wrong.status_code in (404, 422)
