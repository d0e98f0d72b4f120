"""Issue #17 on the real stack: an applicant who chose text messages and post.

One application whose contact says ``notify_by: ["sms"]`` and ``delivery.method: post``:

- the applicant gets exactly one text per step at the SMSC (the real SMPP server of
  deploy/local/smsc/), each split into UCS-2 parts that join back in order, carrying the tracking
  number and the step and nothing else of the person; no e-mail although an address is on file
  (the choice is the applicant's);
- none at night: with quiet hours set by the OGI head around this moment the first text is held
  (nothing at the SMSC), and goes when the window is put back;
- the operator's delivery receipts make the deliveries ``delivered``; the reply service records
  the text, but it does not serve the reply (the applicant asked for it by post: no consent to
  electronic service);
- an OGI officer records the postal dispatch and the signed-for date, which is the date of
  service; the remedy deadlines follow from it; the ledger holds the service and the statistics
  count the reply served.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from contracts import topics
from services.reply.clock.calendar import default_calendar
from services.reply.service import remedy_deadlines
from tests.e2e.helpers import AUDITOR, OGI_HEAD, Client, application, eventually, events_of, mails_for, tag

pytestmark = pytest.mark.e2e
CHINA = ZoneInfo("Asia/Shanghai")
UCS2_PART = 67  # characters of one part of a concatenated UCS-2 text (140 octets less the 6 of the UDH)


def china_today() -> date:
    return datetime.now(CHINA).date()


async def test_sms_and_post_one_text_per_step_and_the_date_of_service(stack, mail, smsc) -> None:  # noqa: PLR0915
    client = Client(stack)
    t = tag()
    phone = "139" + "".join(random.choice("0123456789") for _ in range(8))
    body = application(t, departments=["zrzy"], description="请公开某村2025年征地补偿标准")
    body["contact"] = {"phone": phone, "email": f"{t}@example.com", "address": "云南省某县某乡某村一组8号",
                       "postcode": "650000", "notify_by": ["sms"]}
    body["delivery"] = {"form": "paper", "method": "post"}

    def texts() -> list[dict]:
        return smsc.messages(destination=phone)

    # Night: the OGI head sets quiet hours around this moment; the registration's text is held.
    before = await client.get("notify", "/settings/sms-quiet-hours", as_user=OGI_HEAD)
    assert before.status_code == 200, before.text
    now = datetime.now(CHINA)
    window = f"{(now - timedelta(hours=1)):%H:%M}-{(now + timedelta(hours=1)):%H:%M}"
    put = await client.http.put(client.url("notify", "/settings/sms-quiet-hours"), headers=client.auth(OGI_HEAD),
                                json={"quiet_hours": window})
    assert put.status_code == 200 and put.json()["now_quiet"] is True, put.text
    try:
        accepted = await client.submit(body)
        case_id, number = accepted["case_id"], accepted["tracking_number"]

        async def held() -> dict | None:
            resp = await client.get("notify", f"/cases/{case_id}/notices")
            notices = resp.json()["notices"] if resp.status_code == 200 else []
            sms = [n["deliveries"].get("sms") or {} for n in notices if n["kind"] == "received"]
            return sms[0] if sms and sms[0].get("quiet_until") else None

        delivery = await eventually(held, 60, what="the registration's text held for the quiet hours")
        assert delivery["status"] == "pending"
        assert texts() == []  # nothing at the SMSC during the quiet hours
    finally:
        # Morning: the window is put back as it was; the held text goes at once.
        restored = await client.http.put(client.url("notify", "/settings/sms-quiet-hours"),
                                         headers=client.auth(OGI_HEAD), json={"quiet_hours": before.json()["quiet_hours"]})
        assert restored.status_code == 200, restored.text
    await eventually(lambda: _async(len(texts()) >= 1), 60, what="the text of the registration, after the quiet hours")

    task = await client.wait_task_open(case_id, "zrzy")
    assert (await client.answer(task["task_id"], "zrzy", "disclosed", text="现予公开征地补偿标准。")).status_code == 201
    reply = await client.reply(case_id)
    reply_doc = reply["reply"]["document_id"]

    await eventually(lambda: _async(len(texts()) >= 2), 60, what="the text of the reply")
    # Exactly one text per step, whole (every part, once), in the order of the steps.
    sent = texts()
    assert len(sent) == 2, [m["text"] for m in sent]
    assert all(m["complete"] for m in sent)
    assert "已登记" in sent[0]["text"], sent[0]["text"]
    assert "已作出答复" in sent[1]["text"], sent[1]["text"]
    for m in sent:
        assert number in m["text"]
        # Nothing of the person: not the name, the address, the phone, the ID number.
        for private in ("张三", "某村一组", phone, "11010519491231002X"):
            assert private not in m["text"]
        # UCS-2 (data coding 8); a text longer than one part is split, each part within its size.
        assert all(p["data_coding"] == 8 for p in m["parts"])
        if len(m["text"]) > 70:
            assert len(m["parts"]) == -(-len(m["text"]) // UCS2_PART)
            assert all(len(p["text"]) <= UCS2_PART for p in m["parts"])
            assert len({p["udh"]["ref"] for p in m["parts"]}) == 1
    assert {m["source"] for m in sent} == {sent[0]["source"]}  # the agency's sender id

    # The receipts make each text delivered (notify's record of the case).
    async def sms_delivered() -> list | None:
        resp = await client.get("notify", f"/cases/{case_id}/notices")
        notices = resp.json()["notices"] if resp.status_code == 200 else []
        sms = [n["deliveries"].get("sms") for n in notices if n["audience"] == "applicant"]
        return sms if len(sms) == 2 and all(d and d["status"] == "delivered" for d in sms) else None

    deliveries = await eventually(sms_delivered, 60, what="both texts delivered (receipts)")
    assert all("email" not in d for d in deliveries)
    # No e-mail: the applicant chose text messages only.
    assert mails_for(mail, f"{t}@example.com") == []

    # The reply service: the applicant asked for the information by post, so the text told them of
    # the reply but does not serve it (no consent to electronic service): a fact that does not count.
    async def text_noted() -> dict | None:
        view = (await client.get("reply", f"/cases/{case_id}/service")).json()
        doc = next((d for d in view.get("documents", []) if d["document_id"] == reply_doc), None)
        return view if doc and any(f["channel"] == "sms" for f in doc["facts"]) else None

    view = await eventually(text_noted, 60, what="the reply's text recorded by the reply service")
    assert view["delivery_method"] == "post"
    doc = next(d for d in view["documents"] if d["document_id"] == reply_doc)
    assert doc["served"] is None and view["remedies"] is None and reply_doc in view["unserved"]
    assert [f["counts"] for f in doc["facts"] if f["channel"] == "sms"] == [False]

    # The OGI officer posts the reply (the workbench's form posts exactly this), then the signed-for date.
    today = china_today()
    resp = await client.post("reply", f"/cases/{case_id}/postal-dispatches",
                             json={"document_ids": [reply_doc], "carrier": "中国邮政", "postal_tracking_number":
                                   "1151234567890", "sent_on": today.isoformat()})
    assert resp.status_code == 201, resp.text
    dispatch_id = resp.json()["dispatch_id"]
    for form in ("proof-of-service.pdf", "label.pdf"):
        pdf = await client.get("reply", f"/cases/{case_id}/postal-dispatches/{dispatch_id}/{form}")
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF"), (form, pdf.status_code)
    # A department officer may not record the service of the OGI office's documents.
    refused = await client.post("reply", f"/cases/{case_id}/postal-dispatches/{dispatch_id}/signed",
                                as_user="zrzy-officer", json={"signed_on": today.isoformat()})
    assert refused.status_code == 403
    signed = await client.post("reply", f"/cases/{case_id}/postal-dispatches/{dispatch_id}/signed",
                               json={"signed_on": today.isoformat(), "signed_by": "张三"})
    assert signed.status_code == 200, signed.text

    view = (await client.get("reply", f"/cases/{case_id}/service")).json()
    doc = next(d for d in view["documents"] if d["document_id"] == reply_doc)
    assert sorted({f["channel"] for f in doc["facts"]}) == ["post", "sms"]
    assert doc["served"]["channel"] == "post" and doc["served"]["served_on"] == today.isoformat()
    assert [d["status"] for d in view["dispatches"]] == ["signed"]
    # The remedy periods run from the date of service: the signed-for date.
    remedies = view["remedies"]
    assert remedies["document_id"] == reply_doc and remedies["served_on"] == today.isoformat()
    # The service's calendar is the clock's (the State Council's notices and the operators' files).
    expected = remedy_deadlines(today, default_calendar())
    assert remedies["review_deadline"] == expected.review.last_day.isoformat()
    assert remedies["lawsuit_deadline"] == expected.lawsuit.last_day.isoformat()
    assert remedies["provisional"] == expected.provisional
    # Counted from the day after service: at least 60 days, at most a holiday's roll beyond.
    assert 60 <= (date.fromisoformat(remedies["review_deadline"]) - today).days <= 60 + 9
    assert view["unserved"] == [d["document_id"] for d in view["documents"] if d["served"] is None]

    # The applicant's public view: the dates and the deadlines, no parcel number, no officer.
    public = await client.http.get(client.url("reply", f"/public/cases/{number}/service"),
                                   params={"code": accepted["query_code"]})
    assert public.status_code == 200, public.text
    assert public.json()["remedies"]["review_deadline"] == remedies["review_deadline"]
    assert "1151234567890" not in public.text and "ogi" not in public.text.lower()

    # The ledger: the reply served by text and by post, the dispatch; none of them carries the
    # parcel number or the signer's name.
    served = await events_of(stack.cfg.kafka_bootstrap, topics.DOCUMENTS_SERVED.name, case_id)
    kinds = sorted((e["type"].removeprefix("cn.gongkai.").rsplit(".v", 1)[0], e["data"].get("channel"))
                   for e in served if e["data"].get("document_id", reply_doc) == reply_doc
                   or reply_doc in e["data"].get("document_ids", []))
    assert ("document.dispatched", "post") in kinds
    assert ("document.served", "post") in kinds and ("document.served", "sms") not in kinds
    assert all("1151234567890" not in str(e["data"]) and "张三" not in str(e["data"]) for e in served)

    async def ledgered() -> list | None:
        events = await client.timeline(case_id)
        # Only the post serves here (the texts do not), so the one document.served is the reply's.
        got = [e for e in events if e["type"].startswith("cn.gongkai.document.served.")]
        return got if got else None

    await eventually(ledgered, 60, what="document.served in the ledger")

    async def counted() -> dict | None:
        resp = await client.get("audit", "/statistics/service", as_user=AUDITOR, params={"year": today.year})
        stats = resp.json()["consolidated_reply"] if resp.status_code == 200 else None
        return stats if stats and all(x["case_id"] != case_id for x in stats["not_served_list"]) \
            and stats["served"] >= 1 else None

    await eventually(counted, 60, what="the reply counted as served")
    refused_stats = await client.get("audit", "/statistics/service", as_user="zrzy-officer", params={"year": today.year})
    assert refused_stats.status_code == 403
    await client.close()


async def _async(value: bool) -> bool:
    return value
