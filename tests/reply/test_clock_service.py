"""The case clock on its own documents (collection ``clocks``), on the real local store, through its
HTTP API and its feed (the reply service's events): state and events stored together, each event
once, warnings and overdue once, the feed idempotent and order-tolerant, and the cases opened when
the clock lived on the ``cases`` documents adopted."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import httpx
import pytest
import pytest_asyncio
from fastapi import Depends, FastAPI
from fastapi.exceptions import RequestValidationError
from prometheus_client import REGISTRY
from pymongo import AsyncMongoClient

from contracts import events_procedure as ep
from contracts import events_routing as er
from contracts.envelope import deterministic_id, new_event
from contracts.events import Answer, AnswerRecorded, CaseRouted, ConfidentialityReview, ReplyIssued, RoutedTask
from services.reply.cases import CaseStore
from services.reply.clock.calendar import default_calendar, parse_year
from services.reply.clock.http import add_routes
from services.reply.clock.service import ClockService
from services.reply.release import content_hash
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
        self.clock = ClockService(db, "/gongkai/reply", lambda: self.cal, TOPIC, self.today)
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

    async def doc(self, case_id: str = "c1") -> dict:
        return await self.clock.clocks.find_one({"_id": case_id})

    async def events(self, case_id: str = "c1") -> list[tuple[str, dict]]:
        doc = await self.doc(case_id)
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
    await e.clock.setup(e.store.cases)
    try:
        yield e
    finally:
        await e.http.aclose()
        await client.drop_database(name)
        await client.close()


async def test_opening_a_case_computes_its_deadline_with_the_event(env):
    await env.open()
    doc = await env.doc()
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
    assert env.clock.tally == {"open": 2, "running": 2, "paused": 0, "due_soon": 0, "overdue": 0}
    env.today.d = date(2025, 3, 24)  # 5 left
    assert await env.clock.sweep() == 1
    assert await env.clock.sweep() == 0  # nothing new
    assert env.clock.tally["due_soon"] == 1 and env.clock.tally["overdue"] == 0
    env.today.d = date(2025, 3, 27)  # 2 left
    assert await env.clock.sweep() == 1
    env.today.d = date(2025, 4, 1)  # overdue
    assert await env.clock.sweep() == 1
    assert await env.clock.sweep() == 0
    assert env.clock.tally == {"open": 2, "running": 2, "paused": 0, "due_soon": 0, "overdue": 1}
    assert REGISTRY.get_sample_value("gongkai_cases", {"state": "overdue"}) == 1  # on /metrics
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
    doc = await env.doc("late")
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
    doc = await env.doc()
    assert doc["clock"]["due_on"] == "2025-03-31" and doc["outbox"] == [] and doc["outbox_pending"] is False
    env.today.d = date(2025, 3, 5)
    r = await env.http.post("/cases/c1/correction", json={"items": ["x"], "due_on": "2025-03-14"})
    assert r.status_code == 201
    doc = await env.doc()
    assert doc["outbox"] == [] and doc["procedure"]["correction"]["items"] == ["x"]


async def test_a_replied_case_is_closed_for_the_clock(env):
    await env.open()
    issued = reply_event("c1", datetime(2025, 3, 20, 17, 0, tzinfo=UTC))  # 3/21 01:00 in China
    assert await env.clock.feed(issued) is True
    assert await env.clock.feed(issued) is False  # a redelivery
    assert (await env.doc())["replied_on"] == "2025-03-21"
    explanation = (await env.http.get("/cases/c1/deadline")).json()["explanation"]
    assert explanation["status"] == "replied"
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
    doc = await env.doc()
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


async def start_up_over_old_data(env) -> int:  # noqa: ANN001
    """The first start-up of this version on a store the version before wrote: no migration mark
    yet (the fixture's own start-up, on an empty store, left one)."""
    await env.store.cases.database["migrations"].delete_many({})
    return await env.clock.adopt(env.store.cases)


async def test_once_adopted_a_start_up_does_not_scan_the_cases_again(env):
    env.store.clock = None  # a case the adoption would take...
    await env.open()
    assert await env.clock.adopt(env.store.cases) == 0  # ...is not looked for: the mark says it was done
    assert await start_up_over_old_data(env) == 1


async def test_a_case_opened_before_the_clock_gets_its_deadline_from_the_sweep(env):
    env.store.clock = None  # as the reply service did before this capability
    await env.open()
    assert await env.doc() is None
    assert await start_up_over_old_data(env) == 1  # at start-up
    assert await env.clock.adopt(env.store.cases) == 0
    doc = await env.doc()
    assert "clock" not in doc and doc["outbox"] == [] and doc["tracking_number"] == "T-c1"
    assert [t["dept_code"] for t in doc["tasks"]] == ["zrzy", "zjj"]
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
    doc = await env.doc()
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
    doc = await env.doc()
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


# ------------------------------------------------------------------ the feed: the reply service's events
DISCLOSED = Answer(reply_type="disclosed", text="见附件。", material_refs=["a.pdf"])
OTHER = Answer(reply_type="disclosed", text="另见附件。", material_refs=["b.pdf"])


def at(day: int, hour: int = 9) -> datetime:
    return datetime(2025, 3, day, hour, tzinfo=UTC)


def answer_event(task_id: str, dept: str, when: datetime, signed: bool = False, answer: Answer = DISCLOSED,
                 case_id: str = "c1"):  # noqa: ANN201
    review = ConfidentialityReview(reviewer="审查人", reviewed_at=when) if signed else None
    data = AnswerRecorded(case_id=case_id, task_id=task_id, dept_code=dept, via="http", answer=answer, review=review,
                          draft=not signed)
    eid = f"a-{task_id}-{content_hash(answer)}-{signed}"
    return new_event(data, source="/gongkai/reply", subject=case_id, event_id=eid, time=when)


def reply_event(case_id: str, when: datetime):  # noqa: ANN201
    from contracts.events import ReplyPart

    part = ReplyPart(task_id=f"{case_id}-t1", dept_code="zrzy", dept_name="自然资源局", answer=DISCLOSED)
    data = ReplyIssued(case_id=case_id, tracking_number=f"T-{case_id}", agency_code="ag", decision="disclosed",
                       parts=[part], document_text="答复书")
    return new_event(data, source="/gongkai/reply", subject=case_id, event_id=f"r-{case_id}", time=when)


async def test_a_department_holding_an_unsigned_draft_is_warned(env):
    """The issue: an answer is not the department's reply until signed off (保密审查), so a department
    with a draft only is still open, and named in the deadline warnings and the overdue listing."""
    await env.open()
    await env.clock.feed(answer_event("c1-t1", "zrzy", at(10)))  # a draft, not signed off
    await env.clock.feed(answer_event("c1-t2", "zjj", at(11)))
    await env.clock.feed(answer_event("c1-t2", "zjj", at(12), signed=True))  # zjj: signed off
    env.today.d = date(2025, 3, 24)  # 5 WD left
    assert await env.clock.sweep() == 1
    [warning] = [d for t, d in await env.events() if t == "deadline.warning.issued"]
    assert warning["open_departments"] == ["zrzy"]
    due = (await env.http.get("/cases/due-soon")).json()["cases"]
    assert [(c["case_id"], c["open_departments"]) for c in due] == [("c1", ["zrzy"])]
    await env.clock.feed(answer_event("c1-t1", "zrzy", at(24), signed=True))
    env.today.d = date(2025, 4, 1)  # overdue: every department signed off, none named
    assert await env.clock.sweep() == 1
    [overdue] = [d for t, d in await env.events() if t == "case.overdue"]
    assert overdue["open_departments"] == []


async def test_each_feed_is_idempotent_and_order_tolerant(env):
    # The answers and the reply come on other topics than case.routed: they may come first.
    signed = answer_event("c1-t1", "zrzy", at(5), signed=True)
    assert await env.clock.feed(signed) is True
    placeholder = await env.doc()
    assert "procedure" not in placeholder and placeholder["answers"][0]["review"] is not None
    assert (await env.http.get("/cases/c1/deadline")).status_code == 404  # not a case yet
    assert await env.clock.sweep() == 0 and await env.clock.overdue() == []
    assert await env.clock.feed(answer_event("c1-t1", "zrzy", at(4))) is False  # its draft, late: still signed
    rerouted = er.CaseRerouted(
        case_id="c1", tracking_number="T-c1", agency_code="ag", change_seq=1, operation="add", directory_version="v1",
        tasks=[er.RoutedTask(task_id="c1-t1", dept_code="zrzy", dept_name="自然资源局", rule="r"),
               er.RoutedTask(task_id="c1-t3", dept_code="czj", dept_name="财政局", rule="manual:x")],
        triage_resolved=False, reason="增加部门", changed_by="公开办李经办")  # fmt: skip
    assert await env.clock.on_rerouted(rerouted) is True  # before case.routed, too
    await env.open()  # case.routed: completes the placeholder, keeps the newer routing
    doc = await env.doc()
    assert doc["procedure"]["received_on"] == "2025-03-03" and doc["tracking_number"] == "T-c1"
    assert [t["task_id"] for t in doc["tasks"]] == ["c1-t1", "c1-t3"] and doc["route_seq"] == 1
    assert [t for t, _ in await env.events()] == ["deadline.changed"]  # the opening, once
    assert await env.clock.on_routed(CaseRouted(
        case_id="c1", tracking_number="T-c1", agency_code="ag", agency_name="x", received_on=date(2025, 3, 3),
        directory_version="v1", tasks=[RoutedTask(task_id="c1-t1", dept_code="zrzy", dept_name="x", rule="r")],
    )) is False  # fmt: skip - a redelivery
    assert await env.clock.on_rerouted(rerouted) is False
    assert await env.clock.feed(signed) is False
    # A different answer later (the OGI office set the first aside, the department answered again): a draft again.
    assert await env.clock.feed(answer_event("c1-t1", "zrzy", at(12), answer=OTHER)) is True
    assert [a["review"] for a in (await env.doc())["answers"]] == [None]
    assert await env.clock.feed(answer_event("c1-t1", "zrzy", at(6), answer=DISCLOSED)) is False  # older: ignored
    referral = er.ReferralRecorded(
        case_id="c1", tracking_number="T-c1", referral_id="ref-1", agency_code="ag", target_agency_name="某市财政局",
        target_contact=er.AgencyContact(), handed_over=False, whole_case=False, part="财政部分", reason="不属于本机关",
        withdrawn=[er.WithdrawnTaskRef(task_id="c1-t3", dept_code="czj", dept_name="财政局")], message="已告知",
        recorded_by="公开办李经办")  # fmt: skip
    assert await env.clock.on_referral(referral) is True
    assert await env.clock.on_referral(referral) is False
    assert [t["task_id"] for t in (await env.doc())["tasks"]] == ["c1-t1"]
    env.today.d = date(2025, 3, 24)
    await env.clock.sweep()
    [warning] = [d for t, d in await env.events() if t == "deadline.warning.issued"]
    assert warning["open_departments"] == ["zrzy"]  # czj referred away; zrzy's new answer a draft


async def test_a_case_whose_clock_lived_on_the_case_document_is_adopted_at_start_up(env):
    """Before ``clocks``, the clock's fields were on the reply's ``cases`` document; the pending
    events stay in the case's outbox; the revision is kept (event ids derive from it)."""
    await env.open("c2")  # a case of the new kind: left alone by the adoption
    env.today.d = date(2025, 3, 10)
    legacy = {
        "_id": "c1", "tracking_number": "T-c1", "received_on": "2025-03-03", "reply_issued": False, "reply": None,
        "tasks": [{"task_id": "c1-t1", "dept_code": "zrzy", "dept_name": "自然资源局", "rule": "r"},
                  {"task_id": "c1-t2", "dept_code": "zjj", "dept_name": "住建局", "rule": "r"}],
        "answers": [{"task_id": "c1-t2", "dept_code": "zjj", "hash": content_hash(DISCLOSED), "review": None,
                     "at": at(5)}],
        "route_seq": 0, "reply_rev": 3,
        "procedure": {"received_on": "2025-03-03", "channel": "online", "on_the_spot": False, "correction": None,
                      "extension": None, "consultations": [], "abandoned_on": None, "replied_on": None, "fee": None,
                      "abandoned_for": None},
        "procedure_rev": 4,
        "clock": {"status": "running", "due_on": "2025-03-31", "provisional": False, "missing_years": [],
                  "correction_due": None, "fee_payment_due": None, "calendar_version": CAL.fingerprint()},
        "clock_announced": {"due_on": "2025-03-31", "missing_years": []},
        "alerts_sent": ["warning:5:2025-03-31"],
        "triage": [{"question": "correction", "answer": "clear", "by": "公开办李经办", "by_subject": "u-1",
                    "at": at(4), "outcome_codes": [], "note": "", "referral_agency": None}],
        "outbox": [], "outbox_pending": False,
    }  # fmt: skip
    await env.store.cases.insert_one(legacy)
    assert await start_up_over_old_data(env) == 1
    assert await env.clock.adopt(env.store.cases) == 0  # every start-up: nothing more
    case = await env.store.cases.find_one({"_id": "c1"})
    assert not any(f in case for f in ("procedure", "procedure_rev", "clock", "clock_announced", "alerts_sent", "triage"))
    assert case["reply_rev"] == 3 and case["answers"] == legacy["answers"]  # the reply's own fields untouched
    doc = await env.doc()
    assert doc["procedure_rev"] == 4 and doc["alerts_sent"] == ["warning:5:2025-03-31"]
    assert doc["clock"] == legacy["clock"] and doc["procedure"] == legacy["procedure"]
    assert [t["dept_code"] for t in doc["tasks"]] == ["zrzy", "zjj"] and doc["answers"][0]["review"] is None
    r = await env.http.get("/cases/c1/deadline")
    assert r.status_code == 200 and r.json()["tracking_number"] == "T-c1" and r.json()["workdays_left"] == 15
    assert (await env.http.get("/cases/c1/triage")).json()["answers"][0]["by"] == "公开办李经办"
    r = await env.http.post("/cases/c1/correction", json={"items": ["请明确年份"], "due_on": "2025-03-20"})
    assert r.status_code == 201
    changed = [e for e in (await env.doc())["outbox"] if json.loads(e["value"])["type"].endswith("deadline.changed.v1")]
    assert changed[0]["event_id"] == deterministic_id("deadline.changed", "c1", "5")  # after revision 4: a new id
    assert [t for t, _ in await env.events("c2")] == ["deadline.changed"]  # the new-kind case: as it was
    assert await env.clock.overdue() == [] and await env.clock.due_soon(20) != []


async def test_an_answer_fed_before_the_adoption_is_kept_by_it(env):
    # An old replica opened the case (clock fields on the case); a new one fed its answer first.
    env.store.clock = None
    await env.open()
    await env.store.cases.update_one({"_id": "c1"}, {"$set": {"procedure_rev": 2, "alerts_sent": ["x"]}})
    assert await env.clock.feed(answer_event("c1-t1", "zrzy", at(5), signed=True)) is True
    assert "procedure" not in await env.doc()
    assert await start_up_over_old_data(env) == 1
    doc = await env.doc()
    assert doc["procedure"]["received_on"] == "2025-03-03" and doc["alerts_sent"] == ["x"]
    assert doc["procedure_rev"] == 3  # past both revisions: the ids it derives are new
    assert [(a["task_id"], a["review"] is not None) for a in doc["answers"]] == [("c1-t1", True)]
    assert "procedure_rev" not in await env.store.cases.find_one({"_id": "c1"})
    env.today.d = date(2025, 3, 24)
    await env.clock.sweep()
    [warning] = [d for t, d in await env.events() if t == "deadline.warning.issued"]
    assert warning["open_departments"] == ["zjj"]


# ------------------------------------------------------------------ the OGI office sets answers aside
WITHHELD = Answer(reply_type="not_disclosed", outcome_code="withheld.internal_affairs", text="属于内部事务信息。",
                  material_refs=["a.pdf"])


def resolved_event(case_id: str, when: datetime, *reopened: tuple[str, str], cid: str = "x1"):  # noqa: ANN201
    from contracts.events import ContradictionResolved, ReopenedTask

    data = ContradictionResolved(case_id=case_id, contradiction_id=cid, resolved_by="公开办李经办", note="请重新答复",
                                 reopened=[ReopenedTask(task_id=t, dept_code=d) for t, d in reopened],
                                 resolved_at=when)
    return new_event(data, source="/gongkai/reply", subject=case_id,
                     event_id=deterministic_id("contradiction.resolved", case_id, cid), time=when)


async def open_of(env, case_id: str = "c1") -> list[str]:  # noqa: ANN001
    from services.reply.clock.service import _open_departments

    return _open_departments(await env.doc(case_id))


async def test_a_resolution_reopening_an_answer_opens_its_department_again_on_the_clock(env):
    await env.open()
    await env.clock.feed(answer_event("c1-t1", "zrzy", at(5), signed=True))
    await env.clock.feed(answer_event("c1-t2", "zjj", at(6), signed=True, answer=WITHHELD))
    assert await open_of(env) == []
    resolution = resolved_event("c1", at(7), ("c1-t2", "zjj"))
    assert await env.clock.feed(resolution) is True
    doc = await env.doc()
    assert [a["task_id"] for a in doc["answers"]] == ["c1-t1"] and doc["resolutions"] == ["x1"]
    assert await open_of(env) == ["zjj"]
    assert await env.clock.feed(resolution) is False  # a redelivery
    # The set-aside answer redelivered after the resolution does not count again.
    assert await env.clock.feed(answer_event("c1-t2", "zjj", at(6), signed=True, answer=WITHHELD)) is False
    assert await env.clock.feed(answer_event("c1-t2", "zjj", at(6), answer=WITHHELD)) is False  # nor its draft
    env.today.d = date(2025, 3, 24)  # 5 WD left: zjj is warned, it must answer again
    assert await env.clock.sweep() == 1
    [warning] = [d for t, d in await env.events() if t == "deadline.warning.issued"]
    assert warning["open_departments"] == ["zjj"]
    assert [c["open_departments"] for c in (await env.http.get("/cases/due-soon")).json()["cases"]] == [["zjj"]]
    # Answered again after the resolution (the very same answer): it counts again.
    assert await env.clock.feed(answer_event("c1-t2", "zjj", at(24), signed=True, answer=WITHHELD)) is True
    assert await open_of(env) == []
    assert await env.clock.feed(resolution) is False  # the old resolution again: the new answer stands
    assert await open_of(env) == []


async def test_a_resolution_is_order_tolerant(env):
    # The resolution comes first (before case.routed and before the answer it sets aside).
    assert await env.clock.feed(resolved_event("c1", at(7), ("c1-t2", "zjj"))) is True
    assert await env.clock.feed(answer_event("c1-t2", "zjj", at(6), signed=True)) is False  # set aside
    await env.open()
    assert (await env.doc())["answers"] == []
    assert await env.clock.feed(answer_event("c1-t1", "zrzy", at(5), signed=True)) is True  # not reopened
    assert await open_of(env) == ["zjj"]
    assert await env.clock.feed(answer_event("c1-t2", "zjj", at(8), signed=True)) is True  # answered again
    assert await open_of(env) == []
    # A second resolution of another contradiction sets the new answer aside too; an older one does not.
    assert await env.clock.feed(resolved_event("c1", at(3), ("c1-t1", "zrzy"), cid="x0")) is True
    assert await open_of(env) == []  # zrzy's answer came after that resolution
    assert await env.clock.feed(resolved_event("c1", at(9), ("c1-t2", "zjj"), cid="x2")) is True
    assert await open_of(env) == ["zjj"]


async def test_the_reply_services_own_resolution_reopens_the_department_on_the_clock(env):
    """End to end through the case store: the events of its outbox (the answers, the flag, the
    resolution) fed to the clock in order, as the ``clock-answers`` subscription reads them back."""
    from contracts.envelope import decode
    from contracts.events import REGISTRY

    await env.open()
    review = ConfidentialityReview(reviewer="审查人", reviewed_at=at(5))
    await env.store.record_answer("c1-t1", "zrzy", DISCLOSED, "topic", review=review)
    await env.store.record_answer("c1-t2", "zjj", WITHHELD, "topic", review=review)
    case = await env.store.cases.find_one({"_id": "c1"})
    [item] = case["contradictions"]
    out = await env.store.resolve_contradiction("c1", item["id"], "公开办李经办", "请住建局重新答复", ["c1-t2"], "u-officer-1")
    assert out["reopened"] == ["c1-t2"]
    again = await env.store.resolve_contradiction("c1", item["id"], "公开办李经办", "再次", [])  # once: the first stands
    assert (again["note"], again["reopened"], again["event_id"]) == ("请住建局重新答复", ["c1-t2"], out["event_id"])

    async def feed_outbox() -> list[str]:
        case = await env.store.cases.find_one({"_id": "c1"})
        kinds = []
        for rec in case["outbox"]:
            event = decode(rec["value"].encode(), REGISTRY)
            kinds.append(event.data.event_name)
            await env.clock.feed(event)
        return kinds

    kinds = await feed_outbox()
    assert kinds == ["answer.recorded", "answer.recorded", "contradiction.flagged", "contradiction.resolved"]
    case = await env.store.cases.find_one({"_id": "c1"})
    [rec] = [r for r in case["outbox"] if json.loads(r["value"])["type"] == "cn.gongkai.contradiction.resolved.v1"]
    data = json.loads(rec["value"])["data"]
    assert rec["topic"] == "gongkai.answers.recorded"
    assert rec["event_id"] == deterministic_id("contradiction.resolved", "c1", item["id"])
    assert data["reopened"] == [{"task_id": "c1-t2", "dept_code": "zjj"}]
    assert data["resolved_by_subject"] == "u-officer-1"
    assert await open_of(env) == ["zjj"] == case["open_depts"]
    # zjj answers again (the same answer): a new event, and the clock counts it.
    await env.store.record_answer("c1-t2", "zjj", WITHHELD, "topic", review=review)
    await feed_outbox()  # everything again: the redeliveries change nothing, the new answer counts
    assert await open_of(env) == []
