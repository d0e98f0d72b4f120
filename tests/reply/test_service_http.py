"""The service (送达) of the documents, on the real store (no broker: the outbox is inspected): the
OGI office's postal dispatches and handovers, the forms printed for them, notify's deliveries and
the applicant's online reads as service facts, the remedy deadlines, refusals, 422s and 409s.

The case's applicant asked for the information by post (an e-mail or text does not serve it) unless
a test says otherwise; its receipt was issued on 23 November, its reply released on 30 November at
10:00 China time."""

from __future__ import annotations

import json
import subprocess
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
import pytest_asyncio

from contracts.envelope import new_event
from contracts.events import CaseRouted, ContactRegistered, NoticeDelivered, NoticeDeliveredV2, RoutedTask
from contracts.vocabulary import ApplicantType
from servicekit.querycode import query_code
from services.reply.service import remedy_deadlines
from tests.service_apps import db_name, reply_app
from tests.tokens import bearer

SECRET = "service-test-secret"
NUMBER = "YN-20261123-00017"
OGI = bearer("ogi_officer", sub="ogi-li", name="公开办李经办")
HEAD = bearer("ogi_head", sub="ogi-head", name="公开办主任")
DEPT = bearer("dept_officer", department="czt", sub="czt-officer-1", name="财政厅经办人")
REVIEWER = bearer("dept_reviewer", department="czt", sub="czt-reviewer-1", name="财政厅审查员")
AUDITOR = bearer("auditor", sub="aud-1", name="审计员")
CODE = query_code(SECRET, "c1")
TODAY = date(2026, 12, 10)
RECEIPT, LETTER = "doc-receipt-1", "doc-letter-1"
ISSUED_AT = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # the receipt's issue: 10:00 China
RELEASED_AT = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)  # the reply's release: 10:00 China
ADDRESS = "云南省怒江傈僳族自治州福贡县上帕镇腊竹底村12号"


@pytest_asyncio.fixture
async def api(store, request: pytest.FixtureRequest, monkeypatch) -> AsyncIterator:
    async with reply_app(store.url, db_name("svc_", request), monkeypatch, env={"REPLY_QUERY_CODE_SECRET": SECRET},
                         render_documents=False) as app:
        for fn in app.state.runtime._setup:
            await fn()
        app.state.service.today = lambda: TODAY
        st, steps = app.state.store, app.state.steps
        await st.open_case(CaseRouted(
            case_id="c1", tracking_number=NUMBER, agency_code="ag", agency_name="云南省人民政府办公厅",
            received_on=date(2026, 11, 23), directory_version="v1",
            tasks=[RoutedTask(task_id="t-czt", dept_code="czt", dept_name="云南省财政厅", rule="r")]))
        await st.note_application("c1", "2025年移民搬迁安置资金分配情况", "post")
        await steps.save_applicant(ContactRegistered(
            case_id="c1", applicant_ref="ref-1", name="和建华", phone="13987654321",
            applicant_type=ApplicantType.NATURAL_PERSON, address=ADDRESS, postcode="673400"))
        now = ISSUED_AT
        for _id, kind, title, addressee in ((RECEIPT, "acceptance_receipt", "政府信息公开申请受理回执", "applicant"),
                                            (LETTER, "consultation_third_party", "政府信息公开第三方意见征询函",
                                             "third_party")):
            await steps.documents.insert_one({"_id": _id, "case_id": "c1", "kind": kind, "title": title,
                                              "status": "issued", "addressee": addressee, "issued_on": "2026-11-23",
                                              "seq": 1, "pdf": b"%PDF-1.7 x", "sha256": "0" * 64, "pdf_bytes": 10,
                                              "issued_at": now, "created_at": now})
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://reply") as client:
            yield client, app


async def release(client: httpx.AsyncClient, app) -> str:  # noqa: ANN001
    r = await client.post("/tasks/t-czt/answer", headers=DEPT, json={"reply_type": "disclosed", "text": "现予公开。"})
    assert r.status_code == 201, r.text
    assert (await client.post("/tasks/t-czt/review", headers=REVIEWER)).status_code == 200
    case = await app.state.store.get("c1")
    reply_id = case["reply"]["document_id"]
    await app.state.store.cases.update_one({"_id": "c1"}, {"$set": {"reply.issued_at": RELEASED_AT}})
    await app.state.steps.documents.update_one({"_id": reply_id}, {"$set": {
        "case_id": "c1", "kind": "reply", "title": "政府信息公开申请答复书", "status": "issued", "addressee": "applicant",
        "issued_on": "2026-11-30", "seq": 1, "pdf": b"%PDF-1.7 reply", "sha256": "1" * 64, "pdf_bytes": 14,
        "issued_at": RELEASED_AT - timedelta(minutes=5), "created_at": RELEASED_AT}}, upsert=True)
    return reply_id


async def chose(app, delivery_method: str | None) -> None:  # noqa: ANN001
    """The applicant's way of obtaining the information (None: an older case that has none)."""
    change = {"$set": {"delivery_method": delivery_method}} if delivery_method else {"$unset": {"delivery_method": ""}}
    await app.state.store.applications.update_one({"_id": "c1"}, change)


async def events(app) -> list[dict]:  # noqa: ANN001
    doc = await app.state.service.docs.find_one({"_id": "c1"})
    out = []
    for x in (doc or {}).get("outbox") or []:
        assert x["topic"] == "gongkai.documents.served"
        out.append(json.loads(x["value"]))
    return out


def pdf_text(data: bytes) -> str:
    """The PDF's text with the layout's spaces and line breaks removed (lines wrap anywhere in Chinese)."""
    out = subprocess.run(["pdftotext", "-", "-"], input=data, capture_output=True, check=True).stdout.decode()
    return "".join(out.split())


ROUTES = [("GET", "/cases/c1/service", None),
          ("POST", "/cases/c1/postal-dispatches", {"document_ids": [RECEIPT], "postal_tracking_number": "EMS1",
                                                   "sent_on": "2026-12-01"}),
          ("POST", "/cases/c1/postal-dispatches/x/signed", {"signed_on": "2026-12-02"}),
          ("POST", "/cases/c1/postal-dispatches/x/returned", {"returned_on": "2026-12-02", "reason": "addressee_unknown"}),
          ("POST", "/cases/c1/handovers", {"document_ids": [RECEIPT], "handed_on": "2026-12-02", "received_by": "和建华",
                                           "signature_recorded": True}),
          ("GET", "/cases/c1/postal-dispatches/x/proof-of-service.pdf", None),
          ("GET", "/cases/c1/postal-dispatches/x/label.pdf", None),
          ("GET", "/cases/c1/handovers/x/proof-of-service.pdf", None)]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
async def test_a_department_officer_and_an_anonymous_caller_are_refused(api, method, path, body):
    client, app = api
    assert (await client.request(method, path, json=body)).status_code == 401
    for token in (DEPT, REVIEWER):
        r = await client.request(method, path, json=body, headers=token)
        assert r.status_code == 403, (path, r.text)
    if method == "POST" or path.endswith(".pdf"):  # the auditor reads the service, records and prints nothing
        assert (await client.request(method, path, json=body, headers=AUDITOR)).status_code == 403
    assert await events(app) == []


async def test_post_dispatched_signed_for_serves_and_starts_the_remedies(api):
    client, app = api
    reply_id = await release(client, app)
    r = await client.get("/cases/c1/service", headers=AUDITOR)
    assert r.status_code == 200
    view = r.json()
    assert view["delivery_method"] == "post" and view["tracking_number"] == NUMBER
    assert [d["document_id"] for d in view["documents"]] == [RECEIPT, reply_id]  # not the letter to the third party
    assert view["unserved"] == [RECEIPT, reply_id] and view["remedies"] is None and view["dispatches"] == []

    body = {"document_ids": [RECEIPT, reply_id], "postal_tracking_number": "EMS1234567890CN", "sent_on": "2026-12-01"}
    r = await client.post("/cases/c1/postal-dispatches", headers=OGI, json=body)
    assert r.status_code == 201, r.text
    dispatch = r.json()
    assert dispatch["carrier"] == "中国邮政" and dispatch["status"] == "sent" and dispatch["recorded_by"] == "公开办李经办"
    did = dispatch["dispatch_id"]
    again = await client.post("/cases/c1/postal-dispatches", headers=OGI, json=body)
    assert again.status_code == 200 and again.json()["dispatch_id"] == did  # the same parcel: recorded once
    r = await client.post("/cases/c1/postal-dispatches", headers=OGI, json={**body, "document_ids": [RECEIPT]})
    assert r.status_code == 409 and "EMS1234567890CN" in r.json()["detail"]
    [dispatched] = await events(app)
    assert dispatched["type"] == "cn.gongkai.document.dispatched.v1" and dispatched["data"]["carrier"] == "中国邮政"
    assert "EMS1234567890CN" not in json.dumps(dispatched)  # the parcel number stays here

    url = f"/cases/c1/postal-dispatches/{did}"
    r = await client.post(f"{url}/signed", headers=OGI, json={"signed_on": "2026-11-30"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "signed_on"
    assert "不能早于寄出日期" in r.json()["errors"][0]["message"]
    r = await client.post(f"{url}/signed", headers=OGI, json={"signed_on": "2026-12-11"})
    assert r.status_code == 422 and "不能晚于今天" in r.json()["errors"][0]["message"]
    r = await client.post(f"{url}/signed", headers=HEAD, json={"signed_on": "2026-12-03", "signed_by": "和建华"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "signed" and r.json()["signed_on"] == "2026-12-03"
    assert (await client.post(f"{url}/signed", headers=OGI, json={"signed_on": "2026-12-03", "signed_by": "和建华"})
            ).status_code == 200  # the same again: nothing new
    r = await client.post(f"{url}/returned", headers=OGI,
                          json={"returned_on": "2026-12-04", "reason": "addressee_unknown"})
    assert r.status_code == 409 and "已登记为已签收" in r.json()["detail"]
    r = await client.post(f"{url}/signed", headers=OGI, json={"signed_on": "2026-12-04"})
    assert r.status_code == 409

    served = [e for e in await events(app) if e["type"] == "cn.gongkai.document.served.v1"]
    assert sorted(e["data"]["document_id"] for e in served) == sorted([RECEIPT, reply_id])
    assert {(e["data"]["channel"], e["data"]["served_on"], e["data"]["dispatch_id"]) for e in served} == {
        ("post", "2026-12-03", did)}
    assert next(e for e in served if e["data"]["document_id"] == reply_id)["data"]["document_kind"] == "consolidated_reply"
    assert len(await events(app)) == 3
    assert "和建华" not in json.dumps(await events(app), ensure_ascii=False)  # the signer stays here

    view = (await client.get("/cases/c1/service", headers=OGI)).json()
    assert view["unserved"] == []
    reply = next(d for d in view["documents"] if d["document_id"] == reply_id)
    assert reply["served"]["channel"] == "post" and reply["served"]["channel_label"] == "邮寄送达"
    assert reply["served"]["served_on"] == "2026-12-03" and len(reply["facts"]) == 1
    # Served 3 December 2026: review 60 days -> 1 February 2027 (Monday); lawsuit -> 3 June 2027.
    assert view["remedies"]["document_id"] == reply_id
    assert (view["remedies"]["review_deadline"], view["remedies"]["lawsuit_deadline"]) == ("2027-02-01", "2027-06-03")
    assert view["remedies"]["provisional"] is True
    receipt = next(d for d in view["documents"] if d["document_id"] == RECEIPT)
    assert receipt["remedies"] is None  # a receipt is not a decision to challenge
    assert view["dispatches"][0]["postal_tracking_number"] == "EMS1234567890CN"
    assert view["dispatches"][0]["signed_by"] == "和建华"


async def test_a_returned_dispatch_serves_nothing(api):
    client, app = api
    r = await client.post("/cases/c1/postal-dispatches", headers=OGI,
                          json={"document_ids": [RECEIPT], "carrier": "中国邮政 EMS", "postal_tracking_number": "1180",
                                "sent_on": "2026-11-24"})
    assert r.status_code == 201
    url = f"/cases/c1/postal-dispatches/{r.json()['dispatch_id']}"
    # The reason is one of the postal slip's (a closed set); the officer's words are a note.
    for body, field in (({"returned_on": "2026-11-28", "reason": "地址不详，退回"}, "reason"),
                        ({"returned_on": "2026-11-28"}, "reason"),
                        ({"returned_on": "2026-11-28", "reason": "moved", "note": "x" * 201}, "note"),
                        ({"returned_on": "2026-11-28", "reason": "moved", "note": " "}, "note")):
        r = await client.post(f"{url}/returned", headers=OGI, json=body)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == field, (body, r.text)
    r = await client.post(f"{url}/returned", headers=OGI, json={"returned_on": "2026-11-28", "reason": "wrong"})
    assert "取值无效" in r.json()["errors"][0]["message"]
    body = {"returned_on": "2026-11-28", "reason": "moved", "note": "村委会称张三已搬往昆明"}
    r = await client.post(f"{url}/returned", headers=OGI, json=body)
    assert r.status_code == 200 and r.json()["status"] == "returned"
    assert (r.json()["reason"], r.json()["reason_label"], r.json()["note"]) == ("moved", "迁移新址不明", body["note"])
    assert (await client.post(f"{url}/returned", headers=OGI, json=body)).status_code == 200  # the same again
    r = await client.post(f"{url}/returned", headers=OGI, json={**body, "reason": "refused"})
    assert r.status_code == 409
    r = await client.post(f"{url}/signed", headers=OGI, json={"signed_on": "2026-11-29"})
    assert r.status_code == 409 and "已登记为已退回" in r.json()["detail"]
    evs = await events(app)
    assert [e["type"] for e in evs] == ["cn.gongkai.document.dispatched.v1", "cn.gongkai.document.returned.v1"]
    assert evs[1]["data"]["reason"] == "moved"
    assert "张三" not in json.dumps(evs, ensure_ascii=False) and "note" not in evs[1]["data"]  # the note stays here
    view = (await client.get("/cases/c1/service", headers=OGI)).json()
    assert view["unserved"] == [RECEIPT] and view["dispatches"][0]["status"] == "returned"
    d = view["dispatches"][0]
    assert (d["reason"], d["reason_label"], d["note"]) == ("moved", "迁移新址不明", body["note"])
    # Without a note.
    r = await client.post("/cases/c1/postal-dispatches", headers=OGI, json={
        "document_ids": [RECEIPT], "postal_tracking_number": "1181", "sent_on": "2026-11-24"})
    r = await client.post(f"/cases/c1/postal-dispatches/{r.json()['dispatch_id']}/returned", headers=OGI,
                          json={"returned_on": "2026-11-29", "reason": "unclaimed"})
    assert r.status_code == 200 and (r.json()["reason_label"], r.json()["note"]) == ("逾期无人领取", None)


async def test_field_level_422s_in_chinese(api):
    client, _ = api
    ok = {"document_ids": [RECEIPT], "postal_tracking_number": "EMS1", "sent_on": "2026-12-01"}
    cases = [
        ({k: v for k, v in ok.items() if k != "postal_tracking_number"}, "postal_tracking_number", "必填"),
        ({**ok, "document_ids": []}, "document_ids", "至少"),
        ({**ok, "document_ids": [LETTER]}, "document_ids.0", "不是本案已印发的致申请人的文书"),
        ({**ok, "document_ids": ["no-such-doc"]}, "document_ids.0", "不是本案"),
        ({**ok, "sent_on": "2026-12-31"}, "sent_on", "不能晚于今天"),
        ({**ok, "sent_on": "2026-11-20"}, "sent_on", "印发日期"),
        ({**ok, "sent_on": "12/01/2026"}, "sent_on", "日期格式不正确"),
        ({**ok, "parcel": "x"}, "parcel", "不接受此字段"),
    ]
    for body, field, message in cases:
        r = await client.post("/cases/c1/postal-dispatches", headers=OGI, json=body)
        assert r.status_code == 422, (body, r.text)
        err = r.json()["errors"][0]
        assert err["field"] == field and message in err["message"], (body, err)
    hand = {"document_ids": [RECEIPT], "handed_on": "2026-12-02", "received_by": "和建华", "signature_recorded": False}
    r = await client.post("/cases/c1/handovers", headers=OGI, json=hand)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "signature_recorded"
    assert "签名" in r.json()["errors"][0]["message"]
    r = await client.post("/cases/c1/handovers", headers=OGI, json={**hand, "signature_recorded": True, "received_by": " "})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "received_by"
    assert (await client.post("/cases/nope/postal-dispatches", headers=OGI, json=ok)).status_code == 404
    assert (await client.post("/cases/c1/postal-dispatches/nope/signed", headers=OGI,
                              json={"signed_on": "2026-12-02"})).status_code == 404


async def test_handover_at_the_window_and_the_printed_forms(api):
    client, app = api
    reply_id = await release(client, app)
    r = await client.post("/cases/c1/handovers", headers=OGI, json={
        "document_ids": [reply_id], "handed_on": "2026-12-01", "received_by": "和建华", "signature_recorded": True})
    assert r.status_code == 201, r.text
    hid = r.json()["handover_id"]
    assert r.json()["received_by"] == "和建华" and r.json()["signature_recorded"] is True
    [served] = await events(app)
    assert served["data"]["channel"] == "window" and served["data"]["served_on"] == "2026-12-01"
    assert served["data"]["recorded_by"] == "公开办李经办" and "和建华" not in json.dumps(served, ensure_ascii=False)
    view = (await client.get("/cases/c1/service", headers=OGI)).json()
    assert view["handovers"][0]["handover_id"] == hid and view["remedies"]["served_on"] == "2026-12-01"
    assert view["unserved"] == [RECEIPT]

    r = await client.get(f"/cases/c1/handovers/{hid}/proof-of-service.pdf", headers=OGI)
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    text = pdf_text(r.content)
    assert "送达回证" in text and "政府信息公开申请答复书" in text and "直接送达" in text and "和建华" in text
    assert "受送达人（代收人）签名" in text and "邮件号" not in text

    r = await client.post("/cases/c1/postal-dispatches", headers=HEAD, json={
        "document_ids": [RECEIPT, reply_id], "postal_tracking_number": "EMS9876543210CN", "sent_on": "2026-12-02"})
    did = r.json()["dispatch_id"]
    r = await client.get(f"/cases/c1/postal-dispatches/{did}/proof-of-service.pdf", headers=HEAD)
    assert r.status_code == 200
    text = pdf_text(r.content)
    for s in ("送达回证", "政府信息公开申请受理回执", "政府信息公开申请答复书", "送达方式：邮寄（中国邮政", "EMS9876543210CN",
              "和建华", "受送达人（代收人）签名", "签收日期", "送达人", "673400", NUMBER, "腊竹底村12号"):
        assert s in text, s
    r = await client.get(f"/cases/c1/postal-dispatches/{did}/label.pdf", headers=OGI)
    assert r.status_code == 200
    text = pdf_text(r.content)
    for s in ("和建华", "腊竹底村12号", "673400", "13987654321", "云南省人民政府办公厅", NUMBER, "EMS9876543210CN"):
        assert s in text, s
    assert (await client.get("/cases/c1/postal-dispatches/nope/label.pdf", headers=OGI)).status_code == 404


def delivered(notice_id: str, document_id: str | None, channel: str = "email", at: datetime | None = None):  # noqa: ANN201
    at = at or datetime(2026, 12, 1, 1, 30, tzinfo=UTC)
    return new_event(NoticeDeliveredV2(case_id="c1", notice_id=notice_id, kind="reply_issued", channel=channel,
                                       attempts=1, delivered_at=at, document_id=document_id),
                     source="test", subject="c1", event_id=f"ev-{notice_id}-{channel}")


async def test_notices_delivered_serve_the_document_they_carried_once(api):
    client, app = api
    await chose(app, "email")  # consent to electronic service
    reply_id = await release(client, app)
    on = app.state.on_delivered
    await on(delivered("n1", reply_id))
    [served] = await events(app)
    assert served["data"]["channel"] == "email" and served["data"]["notice_id"] == "n1"
    assert served["data"]["served_on"] == "2026-12-01" and served["data"]["document_kind"] == "consolidated_reply"
    await on(delivered("n1", reply_id))  # redelivered: nothing changes
    assert len(await events(app)) == 1
    # v1 names no document; a webhook is not service; an unknown document and the third party's letter are ignored.
    await on(new_event(NoticeDelivered(case_id="c1", notice_id="n0", kind="reply_issued", channel="email", attempts=1,
                                       delivered_at=datetime.now(UTC)), source="test", subject="c1", event_id="ev-v1"))
    await on(delivered("n2", reply_id, channel="webhook"))
    await on(delivered("n3", "no-such-document"))
    await on(delivered("n4", LETTER))
    assert len(await events(app)) == 1
    # A text message the day before (its receipt came later): a new channel, and the earlier date is the service.
    await on(delivered("n5", reply_id, channel="sms", at=datetime(2026, 11, 30, 15, 0, tzinfo=UTC)))  # 23:00 China
    evs = await events(app)
    assert len(evs) == 2 and evs[1]["data"]["channel"] == "sms" and evs[1]["data"]["served_on"] == "2026-11-30"
    assert len({e["id"] for e in evs}) == 2
    view = (await client.get("/cases/c1/service", headers=OGI)).json()
    reply = next(d for d in view["documents"] if d["document_id"] == reply_id)
    assert reply["served"]["channel"] == "sms" and reply["served"]["served_on"] == "2026-11-30"
    assert [f["channel"] for f in reply["facts"]] == ["email", "sms"]
    # A text delivered before the document was rendered here (the step's event read by both
    # services independently): kept, and recorded by the sweep once the document is issued.
    await on(delivered("n6", "doc-late-1", channel="sms"))
    assert len(await events(app)) == 2 and await app.state.service.sweep() == 0
    late_issued = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)  # rendered a day after the text (11:00 China)
    await app.state.steps.documents.insert_one({
        "_id": "doc-late-1", "case_id": "c1", "kind": "extension_notice", "title": "政府信息公开申请延期答复告知书",
        "status": "issued", "addressee": "applicant", "issued_on": "2026-12-02", "seq": 1, "pdf": b"%PDF-1.7 x",
        "issued_at": late_issued, "created_at": late_issued})
    assert await app.state.service.sweep() == 1 and await app.state.service.sweep() == 0
    late = (await events(app))[-1]["data"]
    assert (late["document_id"], late["channel"], late["document_kind"]) == ("doc-late-1", "sms", "extension_notice")
    # Served when the document was issued, not when the text came (1 December): nothing before it exists.
    assert late["served_on"] == "2026-12-02" and datetime.fromisoformat(late["served_at"]) == late_issued
    later = (await client.get("/cases/c1/service", headers=OGI)).json()
    [notice] = [d for d in later["documents"] if d["document_id"] == "doc-late-1"]
    assert notice["served"]["served_on"] == "2026-12-02" and notice["facts"][0]["served_on"] == "2026-12-02"
    # The unknown document of n3 never comes: dropped after the patience, nothing published.
    assert await app.state.service.sweep(patience=timedelta(0)) == 0
    record = await app.state.service.docs.find_one({"_id": "c1"})
    assert record["awaiting"] == [] and record["awaiting_pending"] is False and len(await events(app)) == 3
    expected = remedy_deadlines(date(2026, 11, 30), app.state.service.calendar())
    assert view["remedies"]["review_deadline"] == expected.review.last_day.isoformat() == "2027-01-29"
    assert view["remedies"]["lawsuit_deadline"] == "2027-05-31"  # 30 May 2027 is a Sunday


async def test_opened_online_after_release_and_the_public_view(api):
    client, app = api
    pub = f"/public/cases/{NUMBER}"
    # Before the release: the receipt downloaded online serves it; the public view has no reply yet.
    r = await client.get(f"{pub}/documents/{RECEIPT}", params={"query_code": CODE})
    assert r.status_code == 200
    reply_id = await release(client, app)
    r = await client.get(f"{pub}/reply.pdf", params={"query_code": CODE})
    assert r.status_code == 200
    assert (await client.get(f"{pub}/reply.pdf", params={"query_code": CODE})).status_code == 200  # again: nothing new
    assert (await client.post(f"{pub}/read", params={"query_code": CODE})).status_code == 200  # a second fact
    evs = await events(app)
    assert [(e["data"]["document_id"], e["data"]["channel"]) for e in evs] == [
        (RECEIPT, "online"), (reply_id, "online"), (reply_id, "online")]  # each new fact that counts
    assert len({e["id"] for e in evs}) == 3
    r = await client.post("/cases/c1/postal-dispatches", headers=OGI, json={
        "document_ids": [reply_id], "postal_tracking_number": "EMS5550001CN", "sent_on": "2026-12-02"})
    await client.post(f"/cases/c1/postal-dispatches/{r.json()['dispatch_id']}/signed", headers=OGI,
                      json={"signed_on": "2026-12-02", "signed_by": "和建华"})

    r = await client.get(f"{pub}/service")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query_code"
    assert (await client.get(f"{pub}/service", params={"query_code": "0" * 12 if CODE != "0" * 12 else "1" * 12})
            ).status_code == 404
    r = await client.get(f"{pub}/service", params={"query_code": CODE})
    assert r.status_code == 200
    assert (await client.get(f"{pub}/service", params={"code": CODE})).json() == r.json()  # either name
    view = r.json()
    text = json.dumps(view, ensure_ascii=False)
    for hidden in ("EMS5550001CN", "公开办李经办", "和建华", "dispatches", "facts", "case_id", "delivery_method"):
        assert hidden not in text, hidden
    reply = next(d for d in view["documents"] if d["document_id"] == reply_id)
    # Opened online today (after 2 December, the day it was signed for by post): served by post on the 2nd.
    first = "2026-12-02"
    assert reply["served"] == {"channel": "post", "channel_label": "邮寄送达", "served_on": first}
    receipt = next(d for d in view["documents"] if d["document_id"] == RECEIPT)
    assert receipt["served"]["channel"] == "online" and receipt["served"]["channel_label"] == "网上查阅送达"
    expected = remedy_deadlines(date.fromisoformat(first), app.state.service.calendar())
    assert view["remedies"] == {**view["remedies"], "served_on": first, "document_id": reply_id,
                                "review_deadline": expected.review.last_day.isoformat(),
                                "lawsuit_deadline": expected.lawsuit.last_day.isoformat()}
    assert view["unserved"] == [] and [d["document_id"] for d in view["documents"]] == [RECEIPT, reply_id]


def served_events(evs: list[dict], document_id: str) -> list[dict]:
    return [e["data"] for e in evs
            if e["type"] == "cn.gongkai.document.served.v1" and e["data"]["document_id"] == document_id]


async def test_a_text_or_email_does_not_serve_a_case_asked_for_by_post(api):
    client, app = api
    reply_id = await release(client, app)
    on = app.state.on_delivered
    await on(delivered("n1", reply_id, channel="sms"))
    await on(delivered("n2", reply_id, channel="email"))
    assert await events(app) == []  # recorded, not published: no consent to electronic service
    view = (await client.get("/cases/c1/service", headers=OGI)).json()
    reply = next(d for d in view["documents"] if d["document_id"] == reply_id)
    assert reply["served"] is None and view["remedies"] is None and reply_id in view["unserved"]
    assert [(f["channel"], f["counts"]) for f in reply["facts"]] == [("sms", False), ("email", False)]
    assert "申请人选择邮寄" in reply["facts"][0]["note"] and "短信通知不作为送达" in reply["facts"][0]["note"]
    assert "电子邮件通知不作为送达" in reply["facts"][1]["note"]
    await on(delivered("n1", reply_id, channel="sms"))  # redelivered: nothing
    assert len(reply["facts"]) == len(next(d for d in (await client.get("/cases/c1/service", headers=OGI)).json()[
        "documents"] if d["document_id"] == reply_id)["facts"])

    r = await client.post("/cases/c1/postal-dispatches", headers=OGI, json={
        "document_ids": [reply_id], "postal_tracking_number": "EMS7770001CN", "sent_on": "2026-12-01"})
    did = r.json()["dispatch_id"]
    r = await client.post(f"/cases/c1/postal-dispatches/{did}/signed", headers=OGI, json={"signed_on": "2026-12-03"})
    assert r.status_code == 200
    view = (await client.get("/cases/c1/service", headers=OGI)).json()
    reply = next(d for d in view["documents"] if d["document_id"] == reply_id)
    assert reply["served"]["channel"] == "post" and reply["served"]["served_on"] == "2026-12-03"
    assert view["remedies"]["served_on"] == "2026-12-03" and view["remedies"]["review_deadline"] == "2027-02-01"
    assert [f["counts"] for f in reply["facts"]] == [False, False, True] and reply["facts"][2]["note"] is None
    served = served_events(await events(app), reply_id)
    assert [(e["channel"], e["served_on"]) for e in served] == [("post", "2026-12-03")]
    # The applicant sees the service by post only.
    public = (await client.get(f"/public/cases/{NUMBER}/service", params={"query_code": CODE})).json()
    assert next(d for d in public["documents"] if d["document_id"] == reply_id)["served"]["channel"] == "post"


async def test_pickup_online_and_older_cases(api):
    client, app = api
    await chose(app, "pickup")
    await app.state.on_delivered(delivered("n1", RECEIPT))
    view = (await client.get("/cases/c1/service", headers=OGI)).json()
    [fact] = next(d for d in view["documents"] if d["document_id"] == RECEIPT)["facts"]
    assert fact["counts"] is False and "申请人选择当面领取" in fact["note"] and view["unserved"] == [RECEIPT]
    assert await events(app) == []
    # Opening it online is actual knowledge: it serves whatever was chosen.
    r = await client.get(f"/public/cases/{NUMBER}/documents/{RECEIPT}", params={"query_code": CODE})
    assert r.status_code == 200
    view = (await client.get("/cases/c1/service", headers=OGI)).json()
    assert view["unserved"] == [] and view["documents"][0]["served"]["channel"] == "online"
    for method, notice in (("online", "n2"), (None, "n3")):  # online chosen; an older case: e-mail, the default
        await chose(app, method)
        await app.state.on_delivered(delivered(notice, RECEIPT, channel="sms"))
        facts = (await client.get("/cases/c1/service", headers=OGI)).json()["documents"][0]["facts"]
        assert (facts[-1]["channel"], facts[-1]["counts"], facts[-1]["note"]) == ("sms", True, None), method
    assert [e["channel"] for e in served_events(await events(app), RECEIPT)] == ["online", "sms", "sms"]


async def test_nothing_is_served_before_the_document_is_released(api):
    client, app = api
    await chose(app, "email")
    reply_id = await release(client, app)
    # An e-mail accepted at 04:00 China on 30 November, six hours before the reply's release (a
    # clock off, a notice about the step sent as it was released): served at the release.
    await app.state.on_delivered(delivered("n1", reply_id, at=RELEASED_AT - timedelta(hours=6)))
    [ev] = served_events(await events(app), reply_id)
    assert datetime.fromisoformat(ev["served_at"]) == RELEASED_AT and ev["served_on"] == "2026-11-30"
    view = (await client.get("/cases/c1/service", headers=OGI)).json()
    reply = next(d for d in view["documents"] if d["document_id"] == reply_id)
    assert datetime.fromisoformat(reply["served"]["served_at"]) == RELEASED_AT
    assert datetime.fromisoformat(reply["facts"][0]["served_at"]) == RELEASED_AT
    # Handed over on the day of the release: that day, not before the release's moment.
    r = await client.post("/cases/c1/handovers", headers=OGI, json={
        "document_ids": [reply_id], "handed_on": "2026-11-30", "received_by": "和建华", "signature_recorded": True})
    assert r.status_code == 201
    window = next(e for e in served_events(await events(app), reply_id) if e["channel"] == "window")
    assert window["served_on"] == "2026-11-30" and datetime.fromisoformat(window["served_at"]) == RELEASED_AT
    # A date before the issue date is still refused.
    r = await client.post("/cases/c1/handovers", headers=OGI, json={
        "document_ids": [reply_id], "handed_on": "2026-11-29", "received_by": "和建华", "signature_recorded": True})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "handed_on"


async def test_the_ledger_has_the_views_date_whatever_the_order_of_the_records(api):
    client, app = api
    reply_id = await release(client, app)

    async def dispatch(parcel: str) -> str:
        r = await client.post("/cases/c1/postal-dispatches", headers=OGI, json={
            "document_ids": [reply_id], "postal_tracking_number": parcel, "sent_on": "2026-12-01"})
        assert r.status_code == 201
        return f"/cases/c1/postal-dispatches/{r.json()['dispatch_id']}/signed"

    first, second = await dispatch("EMS0000001CN"), await dispatch("EMS0000002CN")
    assert (await client.post(first, headers=OGI, json={"signed_on": "2026-12-05"})).status_code == 200
    # The second dispatch's signed-for date (earlier) is entered after the first's.
    assert (await client.post(second, headers=OGI, json={"signed_on": "2026-12-03"})).status_code == 200

    async def agree(expected: str) -> list[dict]:
        view = (await client.get("/cases/c1/service", headers=OGI)).json()
        served = next(d for d in view["documents"] if d["document_id"] == reply_id)["served"]["served_on"]
        evs = served_events(await events(app), reply_id)
        assert served == view["remedies"]["served_on"] == min(e["served_on"] for e in evs) == expected
        return evs

    evs = await agree("2026-12-03")
    assert sorted((e["channel"], e["served_on"]) for e in evs) == [("post", "2026-12-03"), ("post", "2026-12-05")]
    # A handover at the window entered late, dated before both.
    r = await client.post("/cases/c1/handovers", headers=OGI, json={
        "document_ids": [reply_id], "handed_on": "2026-12-02", "received_by": "和建华", "signature_recorded": True})
    assert r.status_code == 201
    evs = await agree("2026-12-02")
    n = len(await events(app))
    assert len({e["id"] for e in await events(app)}) == n
    # Recorded again, redelivered: nothing new.
    assert (await client.post(second, headers=OGI, json={"signed_on": "2026-12-03"})).status_code == 200
    assert len(await events(app)) == n


async def test_a_handover_posted_twice_is_recorded_once(api):
    client, app = api
    reply_id = await release(client, app)
    body = {"document_ids": [RECEIPT, reply_id], "handed_on": "2026-12-02", "received_by": "和建华",
            "signature_recorded": True}
    r = await client.post("/cases/c1/handovers", headers=OGI, json=body)
    assert r.status_code == 201
    hid, n = r.json()["handover_id"], len(await events(app))
    # The form sent again (the documents in another order): the handover recorded before.
    again = await client.post("/cases/c1/handovers", headers=OGI, json={**body, "document_ids": [reply_id, RECEIPT]})
    assert again.status_code == 200 and again.json()["handover_id"] == hid
    same = {k: v for k, v in r.json().items() if k != "recorded_at"}  # (the store keeps milliseconds)
    assert {k: v for k, v in again.json().items() if k != "recorded_at"} == same
    assert len(await events(app)) == n
    view = (await client.get("/cases/c1/service", headers=OGI)).json()
    assert [h["handover_id"] for h in view["handovers"]] == [hid]
    assert all(len(d["facts"]) == 1 for d in view["documents"])
    # Another recipient, another day, other documents: other handovers.
    for other in ({"received_by": "和建国"}, {"handed_on": "2026-12-03"}, {"document_ids": [reply_id]}):
        r = await client.post("/cases/c1/handovers", headers=OGI, json={**body, **other})
        assert r.status_code == 201 and r.json()["handover_id"] != hid, other
