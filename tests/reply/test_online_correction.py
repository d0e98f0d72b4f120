"""The reply service's consumer of ``correction.submitted`` (the applicant's online correction,
through intake): recorded as received on its day exactly as the officer's route does (the clock
restarts, ``correction.received``), once on redelivery; nothing outstanding: logged and left, no
error (so no dead letter). The app is built without its lifespan; its handler is called in-process."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
import pytest_asyncio

from contracts.envelope import deterministic_id, new_event
from contracts.events import CaseRouted, RoutedTask
from contracts.events_procedure import CorrectionSubmitted, RepeatFlagged, RepeatMatchPart
from tests.service_apps import db_name, reply_app
from tests.tokens import bearer

OGI = bearer("ogi_officer", sub="ogi-wang", name="公开办王经办")


def china_today() -> date:
    return datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai")).date()


def submitted(case_id: str, on: date, n: int = 1):  # noqa: ANN201
    data = CorrectionSubmitted(case_id=case_id, received_on=on, submitted_at=datetime.now(UTC), attachment_count=n)
    return new_event(data, source="/gongkai/intake", subject=case_id,
                     event_id=deterministic_id("correction.submitted", case_id))


@pytest_asyncio.fixture
async def api(store, request: pytest.FixtureRequest, monkeypatch) -> AsyncIterator:
    async with reply_app(store.url, db_name("oc_", request), monkeypatch) as app:
        st = app.state.store
        for case_id in ("c1", "c2"):
            await st.open_case(CaseRouted(
                case_id=case_id, tracking_number=f"YN-{case_id}", agency_code="ag", agency_name="云南省人民政府办公厅",
                received_on=china_today(), directory_version="v1",
                tasks=[RoutedTask(task_id=f"t-{case_id}", dept_code="zrzy", dept_name="云南省自然资源厅", rule="r")]))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://reply",
                                     headers=OGI) as client:
            yield client, st, app.state.on_screened


async def procedure_events(st, case_id: str) -> list[tuple[str, dict]]:  # noqa: ANN001
    doc = await st.clock.clocks.find_one({"_id": case_id})  # the clock's own document, with its outbox
    out = []
    for rec in doc.get("outbox") or []:
        if rec["topic"] == "gongkai.cases.procedure":
            ev = json.loads(rec["value"])
            out.append((ev["type"].removeprefix("cn.gongkai.").rsplit(".v", 1)[0], ev["data"]))
    return out


async def test_an_online_correction_is_received_on_its_day_once(api):
    http, st, on_screened = api
    today = china_today()
    due = today + timedelta(days=15)
    r = await http.post("/cases/c1/correction", json={"items": ["请明确所需信息的年份"], "due_on": due.isoformat()})
    assert r.status_code == 201, r.text
    await on_screened(submitted("c1", today, 2))
    d = (await http.get("/cases/c1/deadline")).json()["explanation"]
    assert d["correction"]["received_on"] == today.isoformat()
    assert d["restarted_by_correction"] is True and d["due_on"] is not None
    evs = await procedure_events(st, "c1")
    received = [data for kind, data in evs if kind == "correction.received"]
    assert len(received) == 1 and received[0]["received_on"] == today.isoformat()
    assert received[0]["new_due_on"] == d["due_on"] and received[0]["late_reason"] is None
    # A redelivery: nothing new, no error.
    await on_screened(submitted("c1", today, 2))
    assert await procedure_events(st, "c1") == evs
    # The officer's route now says it is in.
    r = await http.post("/cases/c1/correction/received", json={})
    assert r.status_code == 409


async def test_nothing_outstanding_or_another_event_is_left_without_error(api):
    http, st, on_screened = api
    before = await procedure_events(st, "c2")
    await on_screened(submitted("c2", china_today()))  # no correction requested
    await on_screened(submitted("no-such-case", china_today()))  # not a case of this reply service
    flag = RepeatFlagged(case_id="c2", applicant_ref="r", agency_code="ag", threshold=0.8,
                         matches=[RepeatMatchPart(case_id="c1", similarity=0.9, received_on=china_today())])
    await on_screened(new_event(flag, source="/gongkai/intake", subject="c2", event_id="repeat-1"))
    assert await procedure_events(st, "c2") == before
    d = (await http.get("/cases/c2/deadline")).json()["explanation"]
    assert d["correction"] is None
