"""Issue 10 end to end, on the real stack: an application with a PDF attachment (multipart), the
file downloaded by the OGI office (same bytes, same SHA-256) and refused to a department officer
(403) and to anyone without a token (401); then the OGI office asks for a correction and the
applicant submits it online with the query code: intake publishes ``correction.submitted`` (no
personal data), the reply service records it received on that day (the clock restarts), the
applicant's public deadline and public timeline show it, and nothing is dead-lettered."""

from __future__ import annotations

import hashlib
import json
from datetime import date, timedelta

import pytest

from contracts import topics
from tests.e2e.helpers import OGI, OGI_HEAD, Client, application, eventually, events_of, officer_of, tag

pytestmark = pytest.mark.e2e

PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
       b"trailer<</Root 1 0 R>>\n%%EOF\n") + bytes(range(256)) * 64
CORRECTION_PDF = b"%PDF-1.4\n% correction material\n%%EOF\n" + b"\x00\x01" * 500
ITEMS = ["请写明所需征地补偿标准对应的村组名称"]


async def test_attachments_and_online_correction(stack) -> None:
    client = Client(stack)
    http = client.http
    t = tag()
    body = application(t, description=f"请公开某村2025年征地补偿标准（{t}）")
    resp = await http.post(client.url("intake", "/applications"),
                           files=[("application", (None, json.dumps(body, ensure_ascii=False))),
                                  ("attachments", ("身份证明.pdf", PDF, "application/pdf"))])
    assert resp.status_code == 201, resp.text
    accepted = resp.json()
    case_id, number, code = accepted["case_id"], accepted["tracking_number"], accepted["query_code"]
    [meta] = accepted["attachments"]
    assert meta["filename"] == "身份证明.pdf" and meta["content_type"] == "application/pdf"
    assert meta["size"] == len(PDF) and meta["sha256"] == hashlib.sha256(PDF).hexdigest()

    # Officers: the metadata with the application, the file to the OGI office only.
    seen = await client.get("intake", f"/applications/{case_id}", as_user=OGI)
    assert seen.status_code == 200 and seen.json()["attachments"] == [meta], seen.text
    path = f"/applications/{case_id}/attachments/{meta['attachment_id']}"
    for who in (OGI, OGI_HEAD):
        got = await client.get("intake", path, as_user=who)
        assert got.status_code == 200, (who, got.text[:200])
        assert got.content == PDF and hashlib.sha256(got.content).hexdigest() == meta["sha256"]
        assert got.headers["x-content-sha256"] == meta["sha256"]
    assert (await client.get("intake", path, as_user=officer_of("zrzy"))).status_code == 403
    assert (await http.get(client.url("intake", path))).status_code == 401

    # The case reaches the reply service's clock; the OGI office asks for a correction.
    await client.routing(case_id)

    async def clock() -> dict | None:
        r = await client.get("reply", f"/cases/{case_id}/deadline")
        return r.json() if r.status_code == 200 else None
    await eventually(clock, 60, what="the case's clock")
    due_on = date.fromisoformat(accepted["received_on"]) + timedelta(days=14)
    r = await client.post("reply", f"/cases/{case_id}/correction", as_user=OGI,
                          json={"items": ITEMS, "due_on": due_on.isoformat()})
    assert r.status_code == 201, r.text

    # Intake learns of it (correction.requested); until then the applicant is told there is none.
    url = client.url("intake", f"/public/applications/{number}/correction")
    corrected = f"请公开某村第三村民小组2025年征地补偿标准（{t}）"
    form = {"query_code": code, "description": corrected, "note": "已补充村组名称"}
    files = [("attachments", ("补正材料.pdf", CORRECTION_PDF, "application/pdf"))]

    async def requested() -> bool:
        s = await client.get("intake", f"/applications/{case_id}", as_user=OGI)
        return s.status_code == 200 and (s.json().get("correction") or {}).get("status") == "requested"
    await eventually(requested, 60, what="intake to record the correction notice")

    wrong = await http.post(url, data={**form, "query_code": "0" * 12}, files=files)
    assert wrong.status_code == 404, wrong.text
    r = await http.post(url, data=form, files=files)
    assert r.status_code == 201, r.text
    out = r.json()
    received_on = out["received_on"]
    assert out["tracking_number"] == number and [a["filename"] for a in out["attachments"]] == ["补正材料.pdf"]
    again = await http.post(url, data=form)
    assert again.status_code == 409, again.text

    # The reply service records it received on that day: the clock restarts from it.
    async def restarted() -> dict | None:
        d = await client.get("reply", f"/cases/{case_id}/deadline")
        ex = d.json()["explanation"] if d.status_code == 200 else {}
        return ex if (ex.get("correction") or {}).get("received_on") == received_on else None
    ex = await eventually(restarted, 60, what="the correction received by the reply service")
    assert ex["restarted_by_correction"] is True and ex["due_on"] and ex["due_on"] > received_on
    public = await http.get(client.url("reply", f"/public/cases/{number}/deadline"), params={"query_code": code})
    assert public.status_code == 200, public.text
    assert public.json()["explanation"]["correction"]["received_on"] == received_on
    assert public.json()["explanation"]["due_on"] == ex["due_on"]

    # Intake's view follows: received, with the corrected description beside the original.
    async def received() -> dict | None:
        s = (await client.get("intake", f"/applications/{case_id}", as_user=OGI)).json()
        return s if (s.get("correction") or {}).get("status") == "received" else None
    view = await eventually(received, 60, what="intake to record the correction received")
    assert view["description"] == corrected and view["original_description"] == body["description"]
    sub_file = view["correction"]["submitted"]["attachments"][0]
    got = await client.get("intake", f"/applications/{case_id}/attachments/{sub_file['attachment_id']}", as_user=OGI)
    assert got.status_code == 200 and got.content == CORRECTION_PDF

    # The event on the bus: dates and a count, nothing personal.
    screened = await events_of(stack.cfg.kafka_bootstrap, topics.APPLICATIONS_SCREENED.name, case_id)
    [event] = [e for e in screened if e["type"] == "cn.gongkai.correction.submitted.v1"]
    assert set(event["data"]) == {"case_id", "received_on", "submitted_at", "attachment_count"}
    assert event["data"]["attachment_count"] == 1 and event["data"]["received_on"] == received_on
    raw = json.dumps(screened, ensure_ascii=False)
    assert "补正材料" not in raw and "身份证明" not in raw and corrected not in raw and "已补充" not in raw
    procedure = await events_of(stack.cfg.kafka_bootstrap, topics.CASES_PROCEDURE.name, case_id)
    [got_in] = [e["data"] for e in procedure if e["type"] == "cn.gongkai.correction.received.v1"]
    assert got_in["received_on"] == received_on and got_in["new_due_on"] == ex["due_on"]

    # The applicant's public timeline shows the step in plain Chinese.
    async def step() -> list | None:
        v = await http.get(client.url("audit", f"/public/cases/{number}/timeline"), params={"query_code": code})
        steps = [s["step"] for s in v.json().get("steps", [])] if v.status_code == 200 else []
        return steps if "已在线提交补正申请" in steps and "已收到补正后的申请" in steps else None
    steps = await eventually(step, 60, what="the public timeline's correction steps")
    assert steps.index("已发出补正通知") < steps.index("已在线提交补正申请") < steps.index("已收到补正后的申请")

    # Nothing dead-lettered on the way (notify, reply, audit, intake's own consumer).
    for spec in (topics.APPLICATIONS_SCREENED, topics.CASES_PROCEDURE):
        assert await events_of(stack.cfg.kafka_bootstrap, spec.dlt, case_id) == [], spec.dlt
    await client.close()
