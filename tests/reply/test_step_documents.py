"""Every procedural step produces its document (issue #11), on the real local store: the reply
service renders the document of each step event (receipt, correction, extension, consultations,
fee, referral, abandonment), addressed to the applicant by the name from the restricted contacts
topic, stores it with its SHA-256, and publishes ``document.issued`` (no personal data) in the same
write; the consolidated reply and amendments too. A document waits for the contact it is addressed
with, and a redelivered step event changes nothing."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from pymongo import AsyncMongoClient

from contracts import topics
from contracts.envelope import CloudEvent, EventData, deterministic_id, new_event
from contracts.events import (
    Answer,
    ApplicationReceived,
    CaseRouted,
    ConfidentialityReview,
    ContactRegistered,
    RoutedTask,
)
from contracts.events_documents import step_document_id
from contracts.events_procedure import (
    ApplicationAbandoned,
    ConsultationStarted,
    CorrectionRequested,
    DeadlineChanged,
    ExtensionApproved,
    FeeNoticeIssued,
)
from contracts.events_routing import AgencyContact, ReferralRecorded
from services.reply.cases import CaseStore
from services.reply.reply_docs import AgencyInfo
from services.reply.documents.models import Mailing
from services.reply.step_documents import StepDocuments, addressee_name, mailing_of

AGENCY = AgencyInfo(name="", office="某省人民政府办公厅政府信息公开办公室", address="某市某路1号", phone="0871-60000101",
                    review_body="某省人民政府")
NAME = "欧阳明远"
ADDRESS = "昆明市五华区翠湖南路8号"
RECEIVED = date(2026, 11, 23)
REVIEW = ConfidentialityReview(reviewer="保密审查员甲", reviewed_at=datetime(2026, 11, 30, 9, 0, tzinfo=UTC))


def ev(data: EventData, name: str, day: date = RECEIVED) -> CloudEvent[Any]:
    return new_event(data, source="/test", subject=data.case_id, event_id=deterministic_id("t", data.case_id, name),
                     time=datetime(day.year, day.month, day.day, 2, 0, tzinfo=UTC))


def pdf_text(pdf: bytes) -> str:
    out = subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True).stdout
    return re.sub(r"\s+", "", out.decode("utf-8"))


class Env:
    def __init__(self, db) -> None:  # noqa: ANN001
        self.db = db
        self.store = CaseStore(db, "/gongkai/reply", AGENCY, render_documents=True, today=lambda: date(2026, 12, 1))
        self.steps = StepDocuments(db, "/gongkai/reply", AGENCY, query_code_secret="test-secret-for-codes",
                                   contact_patience=timedelta(minutes=10))

    async def received(self, case_id: str, delivery_method: str = "email") -> CloudEvent[Any]:
        e = ev(ApplicationReceived(
            case_id=case_id, tracking_number=f"YN-{case_id}", agency_code="ag", channel="online", received_on=RECEIVED,
            applicant_ref="ref-1", applicant_type="natural_person", description="2026年度某县征地补偿标准及安置方案",
            delivery_form="paper" if delivery_method == "post" else "electronic", delivery_method=delivery_method,
            accepted_at=datetime(2026, 11, 23, 2, tzinfo=UTC)), "received")
        await self.store.note_application(case_id, e.data.description, e.data.delivery_method.value)
        await self.steps.on_step(e)
        return e

    async def contact(self, case_id: str, **kw: Any) -> None:
        await self.steps.save_applicant(ContactRegistered(
            case_id=case_id, applicant_ref="ref-1", name=kw.pop("name", NAME), email="a@example.com",
            phone="13800000000", address=ADDRESS, **kw))
        await self.steps.render_case(case_id)

    async def routed(self, case_id: str, depts: tuple[str, ...] = ("zrzy",)) -> None:
        await self.store.open_case(CaseRouted(
            case_id=case_id, tracking_number=f"YN-{case_id}", agency_code="ag", agency_name="某省人民政府办公厅",
            received_on=RECEIVED, directory_version="v1", channel="online",
            tasks=[RoutedTask(task_id=f"{case_id}-{d}", dept_code=d, dept_name=f"{d}厅", rule="r") for d in depts]))
        await self.steps.render_case(case_id)

    async def doc(self, document_id: str) -> dict[str, Any] | None:
        return await self.steps.documents.find_one({"_id": document_id})

    async def issued_events(self, *collections: str) -> list[dict[str, Any]]:
        out = []
        for name in collections:
            async for d in self.db[name].find({}):
                for r in d.get("outbox") or []:
                    if r["topic"] == topics.DOCUMENTS_ISSUED.name:
                        out.append(json.loads(r["value"]))
        return out


@pytest_asyncio.fixture
async def env(store, request: pytest.FixtureRequest) -> AsyncIterator[Env]:
    client = AsyncMongoClient(store.url, tz_aware=True, serverSelectionTimeoutMS=5000)
    name = "sd_" + re.sub(r"[^A-Za-z0-9_]", "_", request.node.name)[:50]
    await client.drop_database(name)
    e = Env(client[name])
    await e.store.setup()
    await e.steps.setup()
    try:
        yield e
    finally:
        await client.drop_database(name)
        await client.close()


async def test_every_step_renders_its_document_addressed_by_name(env: Env) -> None:
    received = await env.received("c1")
    # Neither the case (routing) nor the contact is known yet: the receipt waits for both.
    receipt_id = step_document_id(received.id)
    assert (await env.doc(receipt_id))["status"] == "pending"
    await env.routed("c1")
    assert (await env.doc(receipt_id))["status"] == "pending"  # still no name to address it with
    await env.contact("c1")
    steps = [
        ev(CorrectionRequested(case_id="c1", received_on=RECEIVED, issued_on=date(2026, 11, 25),
                               items=["请写明所需补偿标准对应的村组名称"], due_on=date(2026, 12, 9), issued_by="公开办甲"),
           "correction", date(2026, 11, 25)),
        ev(ExtensionApproved(case_id="c1", approved_on=date(2026, 12, 10), workdays=15, approver="负责人乙",
                             approver_role="ogi_head", reason="需要调取多个部门的档案材料", old_due_on=date(2027, 1, 6),
                             new_due_on=date(2027, 1, 27)), "extension", date(2026, 12, 10)),
        ev(ConsultationStarted(case_id="c1", number=1, party_kind="third_party", party="某某建设有限公司",
                               sent_on=date(2026, 12, 11), consultation_due=date(2027, 1, 4), started_by="公开办甲"),
           "consult-1", date(2026, 12, 11)),
        ev(ConsultationStarted(case_id="c1", number=2, party_kind="other_agency", party="某市自然资源和规划局",
                               sent_on=date(2026, 12, 11), consultation_due=date(2027, 1, 4), started_by="公开办甲"),
           "consult-2", date(2026, 12, 11)),
        ev(FeeNoticeIssued(case_id="c1", applicant_ref="ref-1", agency_code="ag", method="per_application",
                           amount_yuan=100, month="2026-11", rank_in_month=11, confirmed_by="公开办甲",
                           issued_on=date(2026, 11, 24)), "fee", date(2026, 11, 24)),
    ]
    for e in steps:
        assert await env.steps.on_step(e) == "issued"
    # A step without a document (a deadline change) is none of this.
    assert await env.steps.on_step(ev(DeadlineChanged(case_id="c1", old_due_on=None, new_due_on=date(2026, 12, 21),
                                                      reason="opened", calendar_version="v", provisional=False),
                                      "deadline")) is None

    expected = {
        receipt_id: ("acceptance_receipt", [NAME, "受理回执", "2026年11月23日"]),
        step_document_id(steps[0].id): ("correction_notice", [NAME, "请写明所需补偿标准对应的村组名称", "2026年12月9日"]),
        step_document_id(steps[1].id): ("extension_notice", [NAME, "需要调取多个部门的档案材料", "2027年1月27日"]),
        step_document_id(steps[2].id): ("consultation_third_party", ["某某建设有限公司"]),
        step_document_id(steps[3].id): ("consultation_agency", ["某市自然资源和规划局"]),
        step_document_id(steps[4].id): ("fee_notice", [NAME, "100.00"]),
    }
    for document_id, (kind, printed) in expected.items():
        d = await env.doc(document_id)
        assert d["status"] == "issued" and d["kind"] == kind, (kind, d["status"])
        pdf = bytes(d["pdf"])
        assert d["sha256"] == hashlib.sha256(pdf).hexdigest() and d["pdf_bytes"] == len(pdf)
        text = pdf_text(pdf)
        for what in printed:
            assert what in text, (kind, what)
        if kind.startswith("consultation"):
            assert NAME not in text  # a letter to the party consulted does not name the applicant

    # The ledger's event for each: kind, id, hash, size; never the name or the address.
    events = await env.issued_events("documents")
    assert {e["data"]["document_id"]: e["data"]["kind"] for e in events} == {k: v[0] for k, v in expected.items()}
    for e in events:
        d = await env.doc(e["data"]["document_id"])
        assert e["data"]["sha256"] == d["sha256"] and e["data"]["size"] == d["pdf_bytes"]
        assert e["data"]["step_event_id"] == d["step_event_id"] and e["causationid"] == d["step_event_id"]
        raw = json.dumps(e, ensure_ascii=False)
        assert NAME not in raw and ADDRESS not in raw

    # A redelivered step event renders nothing again: same bytes, no second event.
    before = await env.doc(step_document_id(steps[0].id))
    assert await env.steps.on_step(steps[0]) == "issued"
    after = await env.doc(step_document_id(steps[0].id))
    assert after["sha256"] == before["sha256"] and after["outbox_len"] == before["outbox_len"] == 1

    # The case's list (officers, the applicant, the case file) holds each one, oldest first.
    listed = await env.steps.case_documents("c1")
    assert {d["document_id"] for d in listed} == set(expected)


async def test_the_receipt_does_not_wait_for_routing(env: Env) -> None:
    """A case the OGI office triages by hand is routed days later; its receipt is due at once."""
    received = await env.received("c0")
    await env.contact("c0")  # the contact, but no case.routed
    d = await env.doc(step_document_id(received.id))
    assert d["status"] == "issued" and d["kind"] == "acceptance_receipt"
    text = pdf_text(bytes(d["pdf"]))
    assert NAME in text and "YN-c0" in text and "2026年11月23日" in text


async def test_reply_and_amendment_are_addressed_by_name_and_named_in_the_ledger(env: Env) -> None:
    await env.received("c2")
    await env.routed("c2", ("zrzy", "czt"))
    await env.contact("c2", name="某某环保科技有限公司", applicant_type="commercial_enterprise", contact_person="张三")
    await env.store.record_answer("c2-zrzy", "zrzy", Answer(reply_type="disclosed", text="现予公开。"), "http",
                                  review=REVIEW)
    await env.store.close_case("c2", "公开办甲", "财政厅逾期未答复", "sub-1")
    case = await env.store.get("c2")
    assert case["reply_issued"]
    reply = await env.store.document(case["reply"]["document_id"])
    assert "某某环保科技有限公司（联系人：张三）" in pdf_text(bytes(reply["pdf"]))
    assert case["reply"]["sha256"] == hashlib.sha256(bytes(reply["pdf"])).hexdigest()
    # The late answer: an amendment, its own document and document.issued.
    await env.store.record_answer("c2-czt", "czt", Answer(reply_type="disclosed", text="补充公开。"), "http",
                                  review=REVIEW)
    case = await env.store.get("c2")
    [amendment] = case["amendments"]
    amended = await env.store.document(amendment["document_id"])
    assert "某某环保科技有限公司" in pdf_text(bytes(amended["pdf"]))
    events = {e["data"]["kind"]: e["data"] for e in await env.issued_events("cases")}
    assert events["consolidated_reply"]["sha256"] == case["reply"]["sha256"]
    assert events["reply_amendment"]["sha256"] == hashlib.sha256(bytes(amended["pdf"])).hexdigest()
    assert events["reply_amendment"]["seq"] == 1
    # The texts on the shared topics keep the applicant unnamed.
    for r in (await env.db["cases"].find_one({"_id": "c2"}))["outbox"]:
        assert "某某环保科技有限公司" not in r["value"] and ADDRESS not in r["value"]
    kinds = [d["kind"] for d in await env.steps.case_documents("c2")]
    assert kinds[-2:] == ["consolidated_reply", "reply_amendment"]


async def correction_then_abandoned(env: Env, case_id: str) -> Any:  # noqa: ANN401
    """A case received, routed and with its contact, asked for a correction (its notice rendered),
    and the application.abandoned (correction overdue) that follows, not yet handled."""
    await env.received(case_id)
    await env.routed(case_id)
    await env.contact(case_id)
    correction = ev(CorrectionRequested(case_id=case_id, received_on=RECEIVED, issued_on=date(2026, 11, 25),
                                        items=["请写明所需信息的名称"], due_on=date(2026, 12, 9), issued_by="公开办甲"),
                    "correction", date(2026, 11, 25))
    await env.steps.on_step(correction)
    return ev(ApplicationAbandoned(case_id=case_id, correction_due=date(2026, 12, 9), abandoned_on=date(2026, 12, 10)),
              "abandoned", date(2026, 12, 10))


async def test_referral_and_abandonment_end_their_cases_with_their_notices(env: Env) -> None:
    await env.received("c3")
    await env.routed("c3")
    await env.contact("c3")
    referral = ev(ReferralRecorded(
        case_id="c3", tracking_number="YN-c3", referral_id="r1", agency_code="ag", target_agency_name="某县人民政府",
        target_contact=AgencyContact(address="某县人民路1号", phone="0871-1234567"), handed_over=True,
        whole_case=True, reason="属于县级政府负责公开", message="已转送某县人民政府。", recorded_by="公开办甲"),
        "referral", date(2026, 11, 26))
    assert await env.steps.on_step(referral) == "issued"
    text = pdf_text(bytes((await env.doc(step_document_id(referral.id)))["pdf"]))
    assert NAME in text and "某县人民政府" in text and "0871-1234567" in text

    abandoned = await correction_then_abandoned(env, "c4")
    assert await env.steps.on_step(abandoned) == "issued"
    text = pdf_text(bytes((await env.doc(step_document_id(abandoned.id)))["pdf"]))
    assert NAME in text and "2026年11月25日" in text and "2026年12月9日" in text


async def test_a_document_without_a_contact_goes_to_the_applicant_after_the_patience(env: Env) -> None:
    """A case referred in from another agency: its contact stays there. After the patience the
    document is rendered addressed to 申请人 rather than never."""
    env.steps.contact_patience = timedelta(0)
    received = await env.received("c5")
    await env.routed("c5")
    d = await env.doc(step_document_id(received.id))
    assert d["status"] == "issued" and "申请人" in pdf_text(bytes(d["pdf"]))


def test_addressee_name() -> None:
    assert addressee_name(None) == "申请人"
    assert addressee_name({"name": "李四", "applicant_type": "natural_person", "contact_person": None}) == "李四"
    assert addressee_name({"name": "某律师事务所", "applicant_type": "legal_service_org", "contact_person": "王五"}) == \
        "某律师事务所（联系人：王五）"


async def test_an_unpaid_fee_abandons_with_the_fee_text_not_the_correction_text(env: Env) -> None:
    """视为放弃 for a fee unpaid within 20 WD of its notice (Art. 42, 国办函〔2020〕109号): the notice
    names the fee notice, its amount and the payment deadline, never a correction."""
    await env.received("c6")
    await env.routed("c6")
    await env.contact("c6")
    fee = ev(FeeNoticeIssued(case_id="c6", applicant_ref="ref-1", agency_code="ag", method="per_application",
                             amount_yuan=200, month="2026-11", rank_in_month=31, confirmed_by="公开办甲",
                             issued_on=date(2026, 11, 24)), "fee", date(2026, 11, 24))
    assert await env.steps.on_step(fee) == "issued"
    abandoned = ev(ApplicationAbandoned(case_id="c6", correction_due=date(2026, 12, 22),
                                        abandoned_on=date(2026, 12, 23), reason="fee_unpaid", outcome_code="other.fee_unpaid",
                                        fee_notice_issued_on=date(2026, 11, 24), payment_due=date(2026, 12, 22)),
                   "abandoned", date(2026, 12, 23))
    assert await env.steps.on_step(abandoned) == "issued"
    d = await env.doc(step_document_id(abandoned.id))
    assert d["kind"] == "abandonment_notice" and d["issued_on"] == "2026-12-23"
    text = pdf_text(bytes(d["pdf"]))
    for what in (NAME, "视为放弃政府信息公开申请告知书", "本机关已于2026年11月24日向您发出信息处理费收费通知",
                 "请您于2026年12月22日前缴纳信息处理费200.00元", "未收到您缴纳的信息处理费", "第四十二条",
                 "《政府信息公开信息处理费管理办法》（国办函〔2020〕109号）", "您的申请视为放弃",
                 "您仍可以重新提出政府信息公开申请", "缴费期限：2026年12月22日前", "2026年12月23日"):
        assert what in text, what
    assert "补正" not in text and "第三十条" not in text
    assert "送达地址" not in text  # delivery by e-mail: no mailing block


async def test_a_correction_abandonment_keeps_the_correction_text(env: Env) -> None:
    abandoned = await correction_then_abandoned(env, "c7")
    assert await env.steps.on_step(abandoned) == "issued"
    text = pdf_text(bytes((await env.doc(step_document_id(abandoned.id)))["pdf"]))
    for what in ("本机关已于2026年11月25日向您发出补正申请告知书", "请您于2026年12月9日前补正", "第三十条",
                 "截至补正期限届满", "您的申请视为放弃"):
        assert what in text, what
    assert "信息处理费" not in text and "第四十二条" not in text


POSTCODE = "650031"
MAILING = f"（送达方式：邮寄；送达地址：{ADDRESS}；邮政编码：{POSTCODE}）"


async def test_documents_sent_by_post_give_the_address_in_the_notes(env: Env) -> None:
    """An applicant who asked for the information by post (邮寄): every document addressed to them
    (receipt, notices, the reply) gives the 送达地址 and 邮政编码 in the 附注; the letter to a third
    party does not, and no event carries the address."""
    received = await env.received("c8", delivery_method="post")
    await env.routed("c8", ("zrzy",))
    await env.contact("c8", postcode=POSTCODE)
    correction = ev(CorrectionRequested(case_id="c8", received_on=RECEIVED, issued_on=date(2026, 11, 25),
                                        items=["请写明所需信息的名称"], due_on=date(2026, 12, 9), issued_by="公开办甲"),
                    "correction", date(2026, 11, 25))
    consult = ev(ConsultationStarted(case_id="c8", number=1, party_kind="third_party", party="某某建设有限公司",
                                     sent_on=date(2026, 11, 26), consultation_due=date(2026, 12, 17), started_by="甲"),
                 "consult", date(2026, 11, 26))
    for e in (correction, consult):
        assert await env.steps.on_step(e) == "issued"
    await env.store.record_answer("c8-zrzy", "zrzy", Answer(reply_type="disclosed", text="现予公开。"), "http",
                                  review=REVIEW)
    case = await env.store.get("c8")
    assert case["reply_issued"]
    to_applicant = [step_document_id(received.id), step_document_id(correction.id), case["reply"]["document_id"]]
    for document_id in to_applicant:
        d = await env.doc(document_id)
        html = re.sub(r"\s+", "", d["html"])
        assert MAILING in pdf_text(bytes(d["pdf"])), d["kind"]
        assert f"送达地址：{ADDRESS}</span><spanclass=\"meta\">邮政编码：{POSTCODE}" in html, d["kind"]
    letter = pdf_text(bytes((await env.doc(step_document_id(consult.id)))["pdf"]))
    assert "送达地址" not in letter and ADDRESS not in letter
    for e in await env.issued_events("documents", "cases"):
        assert ADDRESS not in json.dumps(e, ensure_ascii=False) and POSTCODE not in json.dumps(e)
    for r in (await env.db["cases"].find_one({"_id": "c8"}))["outbox"]:
        assert ADDRESS not in r["value"]


async def test_documents_not_sent_by_post_print_no_address(env: Env) -> None:
    """By e-mail (the address is known but was not asked for as the way to get the information):
    nothing postal is printed."""
    received = await env.received("c9")
    await env.routed("c9")
    await env.contact("c9", postcode=POSTCODE)
    text = pdf_text(bytes((await env.doc(step_document_id(received.id)))["pdf"]))
    assert NAME in text and "送达地址" not in text and ADDRESS not in text and POSTCODE not in text


def test_mailing_only_for_post_with_an_address() -> None:
    post, email = {"delivery_method": "post"}, {"delivery_method": "email"}
    person = {"name": NAME, "address": f" {ADDRESS} ", "postcode": POSTCODE}
    assert mailing_of(person, post) == Mailing(address=ADDRESS, postcode=POSTCODE)
    assert mailing_of(person | {"postcode": None}, post) == Mailing(address=ADDRESS)
    assert mailing_of(person | {"postcode": "65003"}, post) == Mailing(address=ADDRESS)  # not a postcode: left out
    assert mailing_of(person, email) is None
    assert mailing_of(person, {}) is None  # noted before delivery methods were kept
    assert mailing_of(person | {"address": "  "}, post) is None
    assert mailing_of(None, post) is None  # no contact (a case referred in)
