"""Issue #11 (legal details), end to end: the processing fee (Art. 42; 国办函〔2020〕109号) stops the
reply clock from the fee notice to the payment.

1. A fee notice pauses the clock; an OGI officer (a verified token from the real IdP) records the
   payment in intake; the reply service's clock, told by ``fee.paid`` on the bus, moves the deadline
   by exactly the working days paused (those after the notice up to and including the payment day).
2. A fee notice never paid within its 20 WD: the case ends as abandoned (``application.abandoned``,
   reason ``fee_unpaid``); intake learns it and refuses a payment recorded afterwards.

Time control, as elsewhere in tests/e2e: the facts are dated back (a registered letter signed for
weeks ago, the fee notice entered afterwards with its ``issued_on``, the payment's ``settled_on``)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from contracts import topics
from services.reply.clock.calendar import default_calendar
from services.reply.clock.clock import nth_workday_after
from tests.e2e.helpers import AUDITOR, OGI, Client, application, eventually, events_of, mails_for, officer_of, tag

pytestmark = pytest.mark.e2e
CAL = default_calendar()


def china_today() -> date:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    return datetime.now(ZoneInfo("Asia/Shanghai")).date()


async def _letter(client: Client, t: str, signed_on: date) -> str:
    body = {**application(t), "channel": "registered_mail", "signed_on": signed_on.isoformat()}
    resp = await client.post("intake", "/clerk/applications", as_user=OGI, json=body)
    assert resp.status_code == 201, resp.text
    case_id = resp.json()["case_id"]
    await client.routing(case_id)
    return case_id


async def _deadline(client: Client, case_id: str, ready: Any = lambda e: True) -> dict:  # noqa: ANN401
    async def probe() -> dict | None:
        r = await client.get("reply", f"/cases/{case_id}/deadline")
        if r.status_code != 200:
            return None
        expl = r.json()["explanation"]
        return expl if ready(expl) else None
    return await eventually(probe, 60, what=f"the clock of {case_id}")


async def test_a_paid_fee_moves_the_deadline_by_the_paused_working_days(stack) -> None:
    client = Client(stack)
    today = china_today()
    signed_on, issued_on, paid_on = today - timedelta(days=20), today - timedelta(days=14), today - timedelta(days=7)
    case_id = await _letter(client, tag(), signed_on)
    before = await _deadline(client, case_id)
    assert before["receipt"]["date"] == signed_on.isoformat() and before["fee"] is None
    due_before = date.fromisoformat(before["due_on"])

    resp = await client.post("intake", f"/applications/{case_id}/fee-notice", as_user=OGI,
                             json={"pages": 101, "issued_on": issued_on.isoformat()})
    assert resp.status_code == 201 and resp.json()["amount_yuan"] == 720, resp.text
    paused = await _deadline(client, case_id, lambda e: e["fee"] is not None)
    assert paused["status"] == "paused" and paused["depends_on_unpaid_fee"]
    assert paused["status_zh"] == "等待申请人缴纳信息处理费，答复期限暂停计算"

    # Only an OGI officer records it: an auditor's token, or a department officer's, is refused.
    body = {"outcome": "paid", "settled_on": paid_on.isoformat()}
    for who in (AUDITOR, officer_of("zrzy")):
        denied = await client.post("intake", f"/applications/{case_id}/fee-settlement", as_user=who, json=body)
        assert denied.status_code == 403, denied.text
    no_token = await client.http.post(client.url("intake", f"/applications/{case_id}/fee-settlement"), json=body)
    assert no_token.status_code == 401
    resp = await client.post("intake", f"/applications/{case_id}/fee-settlement", as_user=OGI, json=body)
    assert resp.status_code == 201, resp.text

    after = await _deadline(client, case_id, lambda e: (e["fee"] or {}).get("settlement") == "paid")
    # The working days not counted: after the notice's day, up to and including the payment's.
    expected = [d.isoformat() for d in _workdays(issued_on, paid_on)]
    assert after["fee"]["paused_workdays"] == expected and len(expected) >= 3
    assert after["status"] == "running" and after["fee"]["recorded_by"]
    due_after = date.fromisoformat(after["due_on"])
    assert due_after == nth_workday_after(CAL, due_before, len(expected))
    assert f"其间{len(expected)}个工作日不计入答复期限" in after["text_zh"]

    # On the bus: fee.paid (intake, with the officer of the token) and the moved deadline (reply).
    screened = await events_of(stack.cfg.kafka_bootstrap, topics.APPLICATIONS_SCREENED.name, case_id)
    [paid] = [e["data"] for e in screened if e["type"] == "cn.gongkai.fee.paid.v1"]
    assert paid["paid_on"] == paid_on.isoformat() and paid["recorded_by_subject"]
    # (The notice, dated back, moved the date at once — paused up to today —; the payment fixes it.)
    async def moved() -> list | None:
        evs = await events_of(stack.cfg.kafka_bootstrap, topics.CASES_PROCEDURE.name, case_id)
        out = [e["data"] for e in evs if e["type"] == "cn.gongkai.deadline.changed.v1" and e["data"]["pause"] == "fee"]
        return out if out and out[-1]["new_due_on"] == due_after.isoformat() else None
    changes = await eventually(moved, 30, what="the deadline.changed of the payment")
    assert changes[0]["old_due_on"] == due_before.isoformat() and not changes[-1]["provisional"]
    assert await events_of(stack.cfg.kafka_bootstrap, topics.APPLICATIONS_SCREENED.dlt, case_id) == []
    await client.close()


async def test_a_fee_never_paid_ends_the_case_as_abandoned(stack, mail) -> None:
    client = Client(stack)
    today = china_today()
    t = tag()
    signed_on, issued_on = today - timedelta(days=50), today - timedelta(days=45)
    payment_due = nth_workday_after(CAL, issued_on, 20)
    assert payment_due < today
    case_id = await _letter(client, t, signed_on)
    await _deadline(client, case_id)
    resp = await client.post("intake", f"/applications/{case_id}/fee-notice", as_user=OGI,
                             json={"pages": 101, "issued_on": issued_on.isoformat()})
    assert resp.status_code == 201, resp.text

    gone = await _deadline(client, case_id, lambda e: e["status"] == "abandoned")
    assert gone["abandoned_for"] == "fee_unpaid" and gone["due_on"] is None
    assert gone["fee"]["payment_due"] == payment_due.isoformat()
    assert "申请人逾期未缴纳信息处理费，视为放弃申请" in gone["text_zh"]

    async def abandoned_event() -> dict | None:
        evs = await events_of(stack.cfg.kafka_bootstrap, topics.CASES_PROCEDURE.name, case_id)
        return next((e["data"] for e in evs if e["type"] == "cn.gongkai.application.abandoned.v1"), None)
    event = await eventually(abandoned_event, 60, what="application.abandoned")
    assert (event["reason"], event["outcome_code"]) == ("fee_unpaid", "other.fee_unpaid")
    assert event["payment_due"] == payment_due.isoformat()
    assert event["abandoned_on"] == (payment_due + timedelta(days=1)).isoformat()

    # Intake learns it from the bus, and then refuses a payment recorded too late.
    async def intake_knows() -> bool | None:
        r = await client.get("intake", f"/applications/{case_id}")
        corr = r.json().get("correction") if r.status_code == 200 else None
        return True if corr and corr.get("abandoned") else None
    await eventually(intake_knows, 60, what="intake records the abandonment")
    late = await client.post("intake", f"/applications/{case_id}/fee-settlement", as_user=OGI,
                             json={"outcome": "paid"})
    assert late.status_code == 409 and "逾期未缴纳信息处理费" in late.json()["detail"], late.text

    # The applicant is told (notify: 视为放弃, for the unpaid fee).
    address = f"{t}@example.com"

    async def told() -> list | None:
        ms = [m for m in mails_for(mail, address) if "视为放弃" in m["subject"]]
        return ms or None
    [notice] = await eventually(told, 60, what="the abandonment notice")
    assert "信息处理费" in notice["body"]
    await client.close()


def _workdays(after: date, upto: date) -> list[date]:
    out, d = [], after
    while d < upto:
        d += timedelta(days=1)
        if CAL.classify_provisional(d).is_workday:
            out.append(d)
    return out
