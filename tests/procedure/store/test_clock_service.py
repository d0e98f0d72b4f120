"""The case clock wired into the reply service's case documents, on the real local store, through
its HTTP API: state and events stored together, each event once, warnings and overdue once."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import date

import httpx
import pytest
import pytest_asyncio
from fastapi import Depends, FastAPI
from fastapi.exceptions import RequestValidationError
from pymongo import AsyncMongoClient

from contracts import events_procedure as ep
from contracts.events import CaseRouted, RoutedTask
from services.reply.cases import CaseStore
from services.reply.clock.calendar import default_calendar, parse_year
from services.reply.clock.http import add_routes
from services.reply.clock.service import ClockService
from servicekit.oidc import AccessGuard, OidcSettings, TokenVerifier
from servicekit.validation import validation_error_handler
from tests.tokens import bearer, oidc_env

pytestmark = pytest.mark.asyncio
TOPIC = ep.CASES_PROCEDURE.name
CAL = default_calendar()
OGI = bearer("ogi_officer", sub="u-officer-1", name="公开办李经办")
HEAD = bearer("ogi_head", sub="u-head-1", name="公开办张主任")


class Today:
    def __init__(self, d: date) -> None:
        self.d = d

    def __call__(self) -> date:
        return self.d


class Env:
    def __init__(self, db) -> None:  # noqa: ANN001
        self.today = Today(date(2025, 3, 3))
        self.cal = CAL
        self.store = CaseStore(db, "/gongkai/reply")
        self.clock = ClockService(self.store.cases, "/gongkai/reply", lambda: self.cal, TOPIC, self.today)
        self.store.clock = self.clock
        # As mounted on the reply service: behind the app-wide guard (contracts/access.py).
        app = FastAPI(dependencies=[Depends(AccessGuard("reply", TokenVerifier(OidcSettings())))])
        app.add_exception_handler(RequestValidationError, validation_error_handler)
        self.wakes = 0

        def wake() -> None:
            self.wakes += 1

        add_routes(app, self.clock, wake)
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://reply", headers=OGI)

    async def open(self, case_id: str = "c1", received: date = date(2025, 3, 3)) -> None:
        routed = CaseRouted(
            case_id=case_id, tracking_number=f"T-{case_id}", agency_code="ag", agency_name="某市人民政府办公室",
            received_on=received, directory_version="v1",
            tasks=[RoutedTask(task_id=f"{case_id}-t1", dept_code="zrzy", dept_name="自然资源局", rule="r"),
                   RoutedTask(task_id=f"{case_id}-t2", dept_code="zjj", dept_name="住建局", rule="r")],
        )  # fmt: skip
        assert await self.store.open_case(routed)

    async def events(self, case_id: str = "c1") -> list[tuple[str, dict]]:
        doc = await self.store.cases.find_one({"_id": case_id})
        out = []
        for rec in doc["outbox"]:
            assert rec["topic"] == TOPIC and rec["key"] == case_id
            ev = json.loads(rec["value"])
            out.append((ev["type"].removeprefix("cn.gongkai.").removesuffix(".v1"), ev["data"]))
        ids = [r["event_id"] for r in doc["outbox"]]
        assert len(ids) == len(set(ids)), "an event was appended twice"
        return out


@pytest_asyncio.fixture
async def env(store, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Env]:
    for key, value in oidc_env().items():
        monkeypatch.setenv(key, value)
    client = AsyncMongoClient(store.url, tz_aware=True, serverSelectionTimeoutMS=5000)
    name = "t_" + re.sub(r"[^A-Za-z0-9_]", "_", request.node.name)[:50]
    await client.drop_database(name)
    e = Env(client[name])
    await e.store.setup()
    try:
        yield e
    finally:
        await e.http.aclose()
        await client.drop_database(name)
        await client.close()


async def test_opening_a_case_computes_its_deadline_with_the_event(env):
    await env.open()
    doc = await env.store.cases.find_one({"_id": "c1"})
    assert doc["clock"]["due_on"] == "2025-03-31" and doc["clock"]["status"] == "running"  # 20 WD after Mon 3/3
    assert doc["procedure"]["received_on"] == "2025-03-03" and doc["procedure_rev"] == 0
    assert await env.events() == [
        ("deadline.changed", {"case_id": "c1", "old_due_on": None, "new_due_on": "2025-03-31", "reason": "opened",
                              "calendar_version": CAL.fingerprint(), "provisional": False, "missing_calendar_years": [],
                              "pause": None}),
    ]  # fmt: skip
    assert doc["outbox_pending"] is True
    r = await env.http.get("/cases/c1/deadline")
    assert r.status_code == 200
    body = r.json()
    assert body["explanation"]["due_on"] == "2025-03-31" and body["workdays_left"] == 20
    assert "答复期限届满日：2025年3月31日（星期一）" in body["explanation"]["text_zh"]
    assert (await env.http.get("/cases/nope/deadline")).status_code == 404


async def test_correction_extension_and_consultation_through_the_api(env):
    await env.open()
    env.today.d = date(2025, 3, 10)
    r = await env.http.post("/cases/c1/correction", json={"items": ["请明确所需信息的年份"], "due_on": "2025-03-24"})
    assert r.status_code == 201 and r.json()["explanation"]["status"] == "awaiting_correction"
    r = await env.http.post("/cases/c1/correction", json={"items": ["另一事项"], "due_on": "2025-03-24"})
    assert r.status_code == 409 and "一次性" in r.json()["detail"]
    env.today.d = date(2025, 3, 20)
    r = await env.http.post("/cases/c1/correction/received", json={})
    assert r.status_code == 201 and r.json()["explanation"]["due_on"] == "2025-04-18"  # 20 WD after Thu 3/20
    # Extension: the head's role required (an OGI officer's token is not enough); then +5 WD:
    # 4/18 → 4/21–4/25 → Fri 4/25.
    r = await env.http.post("/cases/c1/extension", json={"days": 5, "reason": "需协调多个部门"})
    assert r.status_code == 403 and "负责人" in r.json()["detail"]
    hdr = HEAD
    r = await env.http.post("/cases/c1/extension", json={"days": 21, "reason": "x"}, headers=hdr)
    assert r.status_code == 422
    r = await env.http.post("/cases/c1/extension", json={"days": 5, "reason": "需协调多个部门"}, headers=hdr)
    assert r.status_code == 201 and r.json()["explanation"]["due_on"] == "2025-04-25"
    r = await env.http.post("/cases/c1/extension", json={"days": 5, "reason": "再延"}, headers=hdr)
    assert r.status_code == 409
    # Consultation sent Mon 3/24, answered Wed 3/26: 3/25–3/26 paused → +2 WD after Fri 4/25:
    # Sun 4/27 (劳动节 make-up day), Mon 4/28.
    env.today.d = date(2025, 3, 24)
    r = await env.http.post("/cases/c1/consultations", json={"party_kind": "third_party", "party": "某建筑公司"})
    assert r.status_code == 201
    env.today.d = date(2025, 3, 26)
    r = await env.http.post("/cases/c1/consultations/1/end", json={"end": "answered"})
    assert r.status_code == 201 and r.json()["explanation"]["due_on"] == "2025-04-28"
    assert (await env.http.post("/cases/c1/consultations/1/end", json={"end": "answered"})).status_code == 409
    assert (await env.http.post("/cases/c1/consultations/9/end", json={"end": "answered"})).status_code == 409

    evs = await env.events()
    assert [t for t, _ in evs] == [
        "deadline.changed",  # opened: 3/31
        "correction.requested",
        "deadline.changed",  # 3/31 → none while awaiting correction
        "correction.received",
        "deadline.changed",  # → 4/18
        "extension.approved",
        "deadline.changed",  # → 4/25
        "consultation.started",  # (open consultation as of the day it is sent: nothing paused yet)
        "consultation.ended",
        "deadline.changed",  # → 4/28
    ]
    assert evs[1][1]["items"] == ["请明确所需信息的年份"] and evs[1][1]["issued_by"] == "公开办李经办"
    assert evs[1][1]["issued_by_subject"] == "u-officer-1"
    assert evs[1][1]["due_on"] == "2025-03-24"
    assert evs[5][1]["old_due_on"] == "2025-04-18" and evs[5][1]["new_due_on"] == "2025-04-25"
    assert evs[5][1]["approver"] == "公开办张主任" and evs[5][1]["approver_role"] == "ogi_head"
    assert evs[5][1]["approver_subject"] == "u-head-1"
    assert evs[7][1]["started_by"] == "公开办李经办" and evs[7][1]["started_by_subject"] == "u-officer-1"
    # 15 WD after Mon 3/24: 3/25–28 (4), 3/31–4/3 (8), [清明 4/4], 4/7–11 (13), 4/14 (14), Tue 4/15.
    assert evs[7][1]["consultation_due"] == "2025-04-15"
    assert evs[8][1] == {"case_id": "c1", "number": 1, "end": "answered", "ended_on": "2025-03-26",
                         "paused_workdays": 2, "new_due_on": "2025-04-28", "provisional": False}  # fmt: skip
    assert [d["new_due_on"] for t, d in evs if t == "deadline.changed"] == ["2025-03-31", None, "2025-04-18", "2025-04-25", "2025-04-28"]
    text = (await env.http.get("/cases/c1/deadline")).json()["explanation"]["text_zh"]
    assert "收到补正后的申请" in text and "同意延长答复期限5个工作日" in text and "第1次征求意见" in text
    assert env.wakes == 5  # one per accepted change, none for refusals and reads


async def test_sweep_warns_at_5_and_2_days_then_overdue_each_once(env):
    await env.open()
    await env.open("c2", date(2025, 3, 17))  # due later: 20 WD after Mon 3/17 = Mon 4/14
    env.today.d = date(2025, 3, 21)  # 6 WD left: nothing
    assert await env.clock.sweep() == 0
    env.today.d = date(2025, 3, 24)  # 5 left
    assert await env.clock.sweep() == 1
    assert await env.clock.sweep() == 0  # nothing new
    env.today.d = date(2025, 3, 27)  # 2 left
    assert await env.clock.sweep() == 1
    env.today.d = date(2025, 4, 1)  # overdue
    assert await env.clock.sweep() == 1
    assert await env.clock.sweep() == 0
    evs = [e for e in await env.events() if e[0] != "deadline.changed"]
    assert [(t, d.get("threshold"), d.get("workdays_left")) for t, d in evs] == [
        ("deadline.warning.issued", 5, 5),
        ("deadline.warning.issued", 2, 2),
        ("case.overdue", None, None),
    ]
    assert evs[0][1]["open_departments"] == ["zjj", "zrzy"]
    r = (await env.http.get("/cases/overdue")).json()
    assert r["as_of"] == "2025-04-01"
    assert [(c["case_id"], c["due_on"], c["workdays_overdue"]) for c in r["cases"]] == [("c1", "2025-03-31", 1)]


async def test_missed_correction_abandons_the_case_once(env):
    await env.open()
    env.today.d = date(2025, 3, 5)
    r = await env.http.post("/cases/c1/correction", json={"items": ["请提供身份证明"], "due_on": "2025-03-14"})
    assert r.status_code == 201
    env.today.d = date(2025, 3, 14)
    assert await env.clock.sweep() == 0
    env.today.d = date(2025, 3, 17)
    assert await env.clock.sweep() == 1
    assert await env.clock.sweep() == 0
    evs = [e for e in await env.events() if e[0] == "application.abandoned"]
    assert evs == [("application.abandoned", {"case_id": "c1", "correction_due": "2025-03-14", "abandoned_on": "2025-03-15",
                                              "reason": "correction_overdue", "outcome_code": "other.correction_overdue",
                                              "fee_notice_issued_on": None, "payment_due": None})]  # fmt: skip
    body = (await env.http.get("/cases/c1/deadline")).json()
    assert body["explanation"]["status"] == "abandoned" and "视为放弃申请" in body["explanation"]["text_zh"]
    r = await env.http.post("/cases/c1/correction/received", json={"late_reason": "住院"})
    assert r.status_code == 409


async def test_a_new_calendar_moves_open_deadlines_with_an_event(env):
    # Provisional: 2027 has no notice; the estimate skips 1/1 (元旦) → 2027-01-08 (see test_clock).
    await env.open("late", date(2026, 12, 10))
    doc = await env.store.cases.find_one({"_id": "late"})
    assert doc["clock"]["due_on"] == "2027-01-08" and doc["clock"]["provisional"] is True
    assert doc["clock"]["missing_years"] == [2027]
    env.today.d = date(2026, 12, 11)
    assert await env.clock.sweep() == 0
    env.cal = CAL.with_files(
        parse_year({"year": 2027, "notice": "测试", "holidays": [{"name": "元旦", "start": "2027-01-01", "end": "2027-01-03"}]})
    )
    assert await env.clock.sweep() == 1
    assert await env.clock.sweep() == 0
    changed = [d for t, d in await env.events("late") if t == "deadline.changed"]
    assert changed[-1] | {"calendar_version": "-"} == {
        "case_id": "late", "old_due_on": "2027-01-08", "new_due_on": "2027-01-08", "reason": "calendar_changed",
        "calendar_version": "-", "provisional": False, "missing_calendar_years": [], "pause": None,
    }  # fmt: skip
    assert changed[-1]["calendar_version"] == env.cal.fingerprint() != CAL.fingerprint()


async def test_without_a_catalogued_topic_state_is_kept_and_nothing_is_queued(env):
    env.clock.topic = None
    await env.open()
    doc = await env.store.cases.find_one({"_id": "c1"})
    assert doc["clock"]["due_on"] == "2025-03-31" and doc["outbox"] == [] and doc["outbox_pending"] is False
    env.today.d = date(2025, 3, 5)
    r = await env.http.post("/cases/c1/correction", json={"items": ["x"], "due_on": "2025-03-14"})
    assert r.status_code == 201
    doc = await env.store.cases.find_one({"_id": "c1"})
    assert doc["outbox"] == [] and doc["procedure"]["correction"]["items"] == ["x"]


async def test_a_replied_case_is_closed_for_the_clock(env):
    await env.open()
    await env.store.cases.update_one({"_id": "c1"}, {"$set": {"reply_issued": True}})
    env.today.d = date(2025, 4, 2)
    assert await env.clock.sweep() == 0
    assert (await env.http.get("/cases/overdue")).json()["cases"] == []
    r = await env.http.post("/cases/c1/consultations", json={"party_kind": "third_party", "party": "x"})
    assert r.status_code == 409


async def test_a_pause_is_announced_when_it_ends_not_each_day(env):
    await env.open()  # due Mon 3/31
    env.today.d = date(2025, 3, 10)
    r = await env.http.post("/cases/c1/consultations", json={"party_kind": "other_agency", "party": "市自然资源局"})
    assert r.status_code == 201
    for day in (11, 12, 13, 14):  # the sweep follows the frozen clock silently
        env.today.d = date(2025, 3, day)
        await env.clock.sweep()
    doc = await env.store.cases.find_one({"_id": "c1"})
    assert doc["clock"]["status"] == "paused" and doc["clock"]["due_on"] == "2025-04-07"  # 3/11–3/14 paused
    assert [t for t, _ in await env.events()] == ["deadline.changed", "consultation.started"]
    # Silence: the 15 WD after Mon 3/10 end Mon 3/31 (see test_clock); on 4/1 the sweep sees it.
    # 15 WD paused → counted 3/4–7, 3/10, 4/1–3, [4/4], 4/7–11, 4/14–18, 4/21, Tue 4/22.
    env.today.d = date(2025, 4, 1)
    await env.clock.sweep()
    evs = await env.events()
    assert evs[-1] == ("deadline.changed", {
        "case_id": "c1", "old_due_on": "2025-03-31", "new_due_on": "2025-04-22", "reason": "consultation",
        "calendar_version": CAL.fingerprint(), "provisional": False, "missing_calendar_years": [], "pause": None,
    })  # fmt: skip
    body = (await env.http.get("/cases/c1/deadline")).json()["explanation"]
    assert body["status"] == "running" and body["pauses"][0]["end"] == "silent" and body["paused_workdays"] == 15


async def test_five_questions_recorded_with_who_and_when(env):
    await env.open()
    assert (await env.http.get("/cases/c1/triage")).json()["next"]["text_zh"] == "请回答“补不补”"
    r = await env.http.post("/cases/c1/triage", json={"question": "scope", "answer": "ogi"})
    assert r.status_code == 409 and "请先回答“补不补”" in r.json()["detail"]
    r = await env.http.post("/cases/c1/triage", json={"question": "correction", "answer": "clear"},
                            headers={"Authorization": "", "X-User": "o1"})
    assert r.status_code == 401  # a name in a header is no officer
    for q, a, extra in [("correction", "clear", {}), ("scope", "ogi", {}),
                        ("existence", "not_this_agency", {"outcome_codes": ["unavailable.not_this_agency"],
                                                          "referral_agency": "市住房和城乡建设局"})]:  # fmt: skip
        r = await env.http.post("/cases/c1/triage", json={"question": q, "answer": a, **extra})
        assert r.status_code == 201
    body = (await env.http.get("/cases/c1/triage")).json()
    assert [(a["question"], a["by"], a["by_subject"]) for a in body["answers"]] == [
        ("correction", "公开办李经办", "u-officer-1"), ("scope", "公开办李经办", "u-officer-1"),
        ("existence", "公开办李经办", "u-officer-1")]
    assert body["next"]["step"] == "refer" and body["next"]["referral_agency"] == "市住房和城乡建设局"
    recorded = [d for t, d in await env.events() if t == "triage.recorded"]
    assert [(d["question"], d["next_step"]) for d in recorded] == [
        ("correction", "answer"), ("scope", "answer"), ("existence", "refer"),
    ]
    assert {(d["answered_by"], d["answered_by_subject"]) for d in recorded} == {("公开办李经办", "u-officer-1")}


async def test_a_case_opened_before_the_clock_gets_its_deadline_from_the_sweep(env):
    env.store.clock = None  # as the reply service did before this capability
    await env.open()
    doc = await env.store.cases.find_one({"_id": "c1"})
    assert "clock" not in doc and doc["outbox"] == []
    env.today.d = date(2025, 3, 4)
    assert await env.clock.sweep() == 1
    assert await env.clock.sweep() == 0
    evs = await env.events()
    assert [(t, d["old_due_on"], d["new_due_on"], d["reason"]) for t, d in evs] == [
        ("deadline.changed", None, "2025-03-31", "opened")
    ]
    assert (await env.http.get("/cases/c1/deadline")).json()["explanation"]["due_on"] == "2025-03-31"


async def test_due_soon_lists_open_cases_within_the_working_days_left(env):
    await env.open()  # received Mon 3/3: due Mon 3/31
    await env.open("c2", date(2025, 3, 17))  # due Mon 4/14
    env.today.d = date(2025, 3, 24)  # c1: 5 WD left; c2: 15
    r = (await env.http.get("/cases/due-soon")).json()
    assert r["as_of"] == "2025-03-24" and r["within"] == 5
    assert [(c["case_id"], c["due_on"], c["workdays_left"], c["open_departments"]) for c in r["cases"]] == [
        ("c1", "2025-03-31", 5, ["zjj", "zrzy"])]
    assert (await env.http.get("/cases/due-soon", params={"within": 2})).json()["cases"] == []
    env.today.d = date(2025, 4, 1)  # c1 overdue: listed by /cases/overdue, not here
    assert [c["case_id"] for c in (await env.http.get("/cases/due-soon", params={"within": 20})).json()["cases"]] == ["c2"]
    assert (await env.http.get("/cases/due-soon", params={"within": 21})).status_code == 422


# ------------------------------------------------------------------ the processing fee (国办函〔2020〕109号)
# Received Mon 2025-03-03, due 3/31; fee notice Wed 3/5, to be paid by Wed 4/2 (see test_fee_pause).


async def test_a_fee_notice_pauses_and_the_payment_moves_the_deadline_once(env):
    await env.open()
    env.today.d = date(2025, 3, 5)
    await env.clock.fee_notice_issued("c1", date(2025, 3, 5), 720)
    for day in (6, 7, 10, 11):  # the sweep follows the frozen clock silently
        env.today.d = date(2025, 3, day)
        await env.clock.sweep()
    doc = await env.store.cases.find_one({"_id": "c1"})
    assert doc["clock"]["status"] == "paused" and doc["clock"]["fee_payment_due"] == "2025-04-02"
    assert [t for t, _ in await env.events()] == ["deadline.changed"]  # only the opening
    body = (await env.http.get("/cases/c1/deadline")).json()
    assert body["explanation"]["status_zh"] == "等待申请人缴纳信息处理费，答复期限暂停计算"
    assert body["workdays_left"] == 18
    env.today.d = date(2025, 3, 12)
    await env.clock.fee_settled("c1", date(2025, 3, 12), ep_settlement("paid"), "公开办王")
    await env.clock.sweep()
    evs = await env.events()
    # 5 WD paused (3/6–3/12) → 3/31 + 5 WD = 4/1–3, [4/4 清明], 4/7, Tue 4/8.
    assert evs[-1] == ("deadline.changed", {
        "case_id": "c1", "old_due_on": "2025-03-31", "new_due_on": "2025-04-08", "reason": "consultation",
        "calendar_version": CAL.fingerprint(), "provisional": False, "missing_calendar_years": [], "pause": "fee",
    })  # fmt: skip
    assert len([e for e in evs if e[0] == "deadline.changed"]) == 2
    body = (await env.http.get("/cases/c1/deadline")).json()["explanation"]
    assert body["status"] == "running" and body["fee"]["paused_workdays"][-1] == "2025-03-12" and body["due_on"] == "2025-04-08"
    with pytest.raises(Exception) as exc:  # a second settlement (a redelivered event) is refused
        await env.clock.fee_settled("c1", date(2025, 3, 13), ep_settlement("waived"), "x")
    assert getattr(exc.value, "code", None) == "fee_settled"


async def test_an_unpaid_fee_abandons_the_application_once(env):
    await env.open()
    env.today.d = date(2025, 3, 5)
    await env.clock.fee_notice_issued("c1", date(2025, 3, 5), 720)
    env.today.d = date(2025, 4, 2)  # the last day to pay
    await env.clock.sweep()
    assert not [e for e in await env.events() if e[0] == "application.abandoned"]
    env.today.d = date(2025, 4, 3)
    assert await env.clock.sweep() == 1
    assert await env.clock.sweep() == 0
    evs = await env.events()
    assert [d for t, d in evs if t == "application.abandoned"] == [{
        "case_id": "c1", "correction_due": "2025-04-02", "abandoned_on": "2025-04-03", "reason": "fee_unpaid",
        "outcome_code": "other.fee_unpaid", "fee_notice_issued_on": "2025-03-05", "payment_due": "2025-04-02",
    }]  # fmt: skip
    assert evs[-1][0] == "deadline.changed" and evs[-1][1]["new_due_on"] is None and evs[-1][1]["pause"] == "fee"
    doc = await env.store.cases.find_one({"_id": "c1"})
    assert doc["clock"]["status"] == "abandoned" and doc["procedure"]["abandoned_for"] == "fee_unpaid"
    body = (await env.http.get("/cases/c1/deadline")).json()["explanation"]
    assert body["abandoned_for"] == "fee_unpaid" and "逾期未缴纳信息处理费，视为放弃申请" in body["text_zh"]
    assert (await env.http.get("/cases/overdue")).json()["cases"] == []


async def test_a_notice_entered_after_its_20_working_days_abandons_at_once(env):
    await env.open()
    env.today.d = date(2025, 4, 10)
    await env.clock.fee_notice_issued("c1", date(2025, 3, 5), 720)  # no sweep in between
    [abandoned] = [d for t, d in await env.events() if t == "application.abandoned"]
    assert abandoned["reason"] == "fee_unpaid" and abandoned["abandoned_on"] == "2025-04-03"
    assert await env.clock.sweep() == 0


def ep_settlement(kind: str):  # noqa: ANN201
    from services.reply.clock.clock import FeeSettlement

    return FeeSettlement(kind)
