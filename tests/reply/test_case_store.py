"""The reply service's case store on the real local store: answers, sign-off, refusals, routing
changes, referrals, contradictions, closing, the one reply, amendments, documents."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import pytest
import pytest_asyncio
from pymongo import AsyncMongoClient

from contracts import events_routing as er
from contracts import topics
from contracts.events import (
    Answer,
    CaseRouted,
    ConfidentialityReview,
    RoutedTask,
    WithheldItem,
)
from services.reply.cases import AnswerRefusal, CaseStore, Officer, OgiRefusal, TaskNotYetKnown
from services.reply.reply_docs import AgencyInfo

REVIEW = ConfidentialityReview(reviewer="保密审查员甲", reviewed_at=datetime(2026, 11, 24, 9, 0, tzinfo=UTC))
AGENCY = AgencyInfo(name="", office="某省人民政府办公厅政府信息公开办公室", address="某市某路1号", phone="0871-60000101",
                    review_body="某省人民政府")
DEPTS = {"zrzy": "自然资源厅", "czt": "财政厅", "sthjt": "生态环境厅"}


def disclose(text: str = "现予公开。", refs: tuple[str, ...] = ("a.pdf",), **kw) -> Answer:
    return Answer(reply_type="disclosed", text=text, material_refs=list(refs), **kw)


class Env:
    def __init__(self, db, render: bool) -> None:  # noqa: ANN001
        self.store = CaseStore(db, "/gongkai/reply", AGENCY, render_documents=render,
                               today=lambda: date(2026, 12, 1))

    async def open(self, case_id: str = "c1", depts=tuple(DEPTS)) -> None:  # noqa: ANN001
        routed = CaseRouted(
            case_id=case_id, tracking_number=f"T-{case_id}", agency_code="ag", agency_name="某省人民政府办公厅",
            received_on=date(2026, 11, 23), directory_version="v1",
            tasks=[RoutedTask(task_id=f"{case_id}-{d}", dept_code=d, dept_name=DEPTS.get(d, d), rule="r") for d in depts],
        )
        assert await self.store.open_case(routed)

    async def doc(self, case_id: str = "c1") -> dict:
        return await self.store.cases.find_one({"_id": case_id})

    async def events(self, case_id: str = "c1") -> list[tuple[str, dict, str]]:
        """The case's events, each once (the copies of a reply to the departments' replies topics,
        抄送, are checked by ``copies``)."""
        doc = await self.doc(case_id)
        out = []
        records = [r for r in doc.get("outbox") or [] if not re.fullmatch(topics.DEPARTMENT_REPLIES_PATTERN, r["topic"])]
        for rec in records:
            ev = json.loads(rec["value"])
            out.append((ev["type"].removeprefix("cn.gongkai.").removesuffix(".v1"), ev["data"], rec["topic"]))
        ids = [r["event_id"] for r in records]
        assert len(ids) == len(set(ids)), "an event was appended twice"
        return out

    async def copies(self, case_id: str = "c1") -> dict[str, list[str]]:
        """Event id -> the departments' replies topics it was copied to (抄送), in outbox order."""
        doc = await self.doc(case_id)
        out: dict[str, list[str]] = {}
        for rec in doc.get("outbox") or []:
            if re.fullmatch(topics.DEPARTMENT_REPLIES_PATTERN, rec["topic"]):
                out.setdefault(rec["event_id"], []).append(rec["topic"])
        return out

    async def types(self, case_id: str = "c1") -> list[str]:
        return [t for t, _, _ in await self.events(case_id)]

    async def answer(self, dept: str, answer: Answer | None = None, review=REVIEW, case_id: str = "c1",  # noqa: ANN001
                     as_dept: str | None = None):  # noqa: ANN201
        return await self.store.record_answer(f"{case_id}-{dept}", as_dept or dept, answer or disclose(f"{dept}的答复"),
                                              "http", review=review)


@pytest_asyncio.fixture
async def env(store, request: pytest.FixtureRequest) -> AsyncIterator[Env]:
    client = AsyncMongoClient(store.url, tz_aware=True, serverSelectionTimeoutMS=5000)
    name = "r_" + re.sub(r"[^A-Za-z0-9_]", "_", request.node.name)[:50]
    await client.drop_database(name)
    e = Env(client[name], render="pdf" in request.node.name)
    await e.store.setup()
    try:
        yield e
    finally:
        await client.drop_database(name)
        await client.close()


async def test_one_reply_when_every_task_is_answered_and_signed(env):
    await env.open()
    await env.answer("zrzy")
    await env.answer("czt", Answer(reply_type="not_disclosed", outcome_code="withheld.internal_affairs",
                                   text="属于内部事务信息。"))
    assert not (await env.doc())["reply_issued"]
    await env.answer("sthjt", Answer(reply_type="not_exist", outcome_code="unavailable.not_held", text="经检索没有。"))
    doc = await env.doc()
    assert doc["reply_issued"]
    assert doc["reply"]["decision"] == "partially_disclosed" and doc["reply"]["outcome"] == "partial"
    assert doc["reply"]["cc"] == ["czt", "sthjt", "zrzy"]
    evs = await env.events()
    assert [t for t, _, _ in evs] == ["answer.recorded"] * 3 + ["reply.issued"]
    issued = evs[-1][1]
    assert {p["dept_code"]: p["outcome_code"] for p in issued["parts"]} == {
        "zrzy": "disclosed", "czt": "withheld.internal_affairs", "sthjt": "unavailable.not_held"}
    assert issued["outcome"] == "partial" and issued["cc"] == ["czt", "sthjt", "zrzy"]
    # 抄送: the same event, after it, on the replies topic of each department it names.
    reply_id = doc["reply"]["event_id"]
    assert await env.copies() == {reply_id: [topics.department_replies(c).name for c in ["czt", "sthjt", "zrzy"]]}
    outbox_topics = [r["topic"] for r in doc["outbox"]]
    assert outbox_topics.index(topics.REPLIES_ISSUED.name) < outbox_topics.index(topics.department_replies("czt").name)
    assert evs[-1][2] == "gongkai.replies.issued"


async def test_the_same_answer_twice_changes_nothing(env):
    await env.open(depts=("zrzy", "czt"))
    assert (await env.answer("zrzy")).status == "recorded"
    before = await env.doc()
    assert (await env.answer("zrzy")).status == "already_recorded"
    after = await env.doc()
    assert after["reply_rev"] == before["reply_rev"] and after["outbox_len"] == before["outbox_len"]


async def test_a_different_signed_answer_to_an_answered_task_is_refused_and_recorded(env):
    await env.open(depts=("zrzy", "czt"))
    await env.answer("zrzy")
    with pytest.raises(AnswerRefusal) as exc:
        await env.answer("zrzy", disclose("改了主意"))
    assert exc.value.status == 409 and exc.value.code == "conflicting_answer"
    assert await env.types() == ["answer.recorded", "answer.refused"]


async def test_someone_elses_task_is_refused_with_403_and_recorded_once(env):
    await env.open(depts=("zrzy", "czt"))
    for _ in range(2):
        with pytest.raises(AnswerRefusal) as exc:
            await env.answer("zrzy", as_dept="czt")
        assert exc.value.status == 403 and "不属于部门 czt" in exc.value.message
    evs = await env.events()
    assert [t for t, _, _ in evs] == ["answer.refused"]  # the same refusal twice is recorded once
    assert evs[0][1]["code"] == "not_your_task" and evs[0][1]["dept_code"] == "czt"
    assert evs[0][2] == "gongkai.answers.recorded"
    assert (await env.doc())["answers"] == []


async def test_unknown_task(env):
    with pytest.raises(TaskNotYetKnown):
        await env.answer("zrzy")


async def test_a_task_is_found_through_the_task_index_by_id(env):
    """``task_cases`` maps every task (open, withdrawn, added by a re-routing) to its case."""
    await env.open(depts=("zrzy", "czt"))
    entries = {d["_id"]: d["case_id"] async for d in env.store.task_cases.find({"case_id": {"$exists": True}})}
    assert entries == {"c1-zrzy": "c1", "c1-czt": "c1"}
    ev = er.CaseRerouted(
        case_id="c1", tracking_number="T-c1", agency_code="ag", change_seq=1, operation="add", directory_version="v1",
        added=[er.RoutedTask(task_id="c1-sthjt", dept_code="sthjt", dept_name="生态环境厅", rule="manual")],
        withdrawn=[er.WithdrawnTaskRef(task_id="c1-czt", dept_code="czt", dept_name="财政厅")],
        tasks=[er.RoutedTask(task_id="c1-zrzy", dept_code="zrzy", dept_name="自然资源厅", rule="r"),
               er.RoutedTask(task_id="c1-sthjt", dept_code="sthjt", dept_name="生态环境厅", rule="manual")],
        triage_resolved=False, reason="调整", changed_by="ogi")
    assert await env.store.apply_reroute(ev)
    assert (await env.store.task_cases.find_one({"_id": "c1-sthjt"}))["case_id"] == "c1"
    assert await env.store.task_department("c1-czt") == "czt"  # withdrawn: still found
    assert await env.store.task_department("c1-sthjt") == "sthjt"
    # An indexed task whose case is not stored yet is not known yet (no query over the cases).
    await env.store.task_cases.insert_one({"_id": "c9-zrzy", "case_id": "c9"})
    with pytest.raises(TaskNotYetKnown):
        await env.store.task_department("c9-zrzy")


async def test_cases_stored_before_the_task_index_are_indexed_and_found(env):
    await env.open("old", depts=("zrzy",))
    await env.store.task_cases.drop()  # as if stored by a version without the index
    fresh = CaseStore(env.store.cases.database, "/gongkai/reply", AGENCY, render_documents=False)
    assert await fresh.task_department("old-zrzy") == "zrzy"  # before setup: the old query, then indexed
    assert (await fresh.task_cases.find_one({"_id": "old-zrzy"}))["case_id"] == "old"
    await env.store.task_cases.drop()
    await fresh.setup()  # indexes every older case once
    assert (await fresh.task_cases.find_one({"_id": "old-zrzy"}))["case_id"] == "old"
    assert await fresh.task_department("old-zrzy") == "zrzy"
    with pytest.raises(TaskNotYetKnown):
        await fresh.task_department("nobody")


async def test_answer_without_sign_off_is_a_draft_and_holds_the_reply(env):
    await env.open(depts=("zrzy",))
    r = await env.answer("zrzy", review=None)
    assert r.status == "draft_recorded"
    doc = await env.doc()
    assert not doc["reply_issued"] and doc["open_depts"] == ["zrzy"]  # answered, but not releasable
    assert [(t["task_id"], t["draft"]) for t in await env.store.open_tasks("zrzy")] == [("c1-zrzy", True)]
    # The draft may be revised before its sign-off.
    await env.answer("zrzy", disclose("修改后的草稿"), review=None)
    assert not (await env.doc())["reply_issued"]
    r = await env.store.sign_off("c1-zrzy", "zrzy", REVIEW)
    assert r.status == "signed_off"
    doc = await env.doc()
    assert doc["open_depts"] == [] and await env.store.open_tasks("zrzy") == []
    assert doc["reply_issued"] and "修改后的草稿" in doc["reply"]["document"]
    evs = await env.events()
    assert [(t, d["draft"]) for t, d, _ in evs if t == "answer.recorded"] == [(
        "answer.recorded", True), ("answer.recorded", True), ("answer.recorded", False)]
    assert evs[-1][0] == "reply.issued"
    assert evs[-1][1]["parts"][0]["review"]["reviewer"] == "保密审查员甲"


async def test_sign_off_by_another_department_is_refused(env):
    await env.open(depts=("zrzy",))
    await env.answer("zrzy", review=None)
    with pytest.raises(AnswerRefusal) as exc:
        await env.store.sign_off("c1-zrzy", "czt", REVIEW)
    assert exc.value.status == 403
    assert not (await env.doc())["reply_issued"]


def review_by(subject: str, name: str) -> ConfidentialityReview:
    return ConfidentialityReview(reviewer=name, reviewer_subject=subject, reviewed_at=datetime(2026, 11, 24, 9, 0, tzinfo=UTC))


async def test_the_author_of_a_draft_cannot_sign_it_off_another_reviewer_can(env):
    await env.open(depts=("zrzy",))
    author = Officer(subject="u-li", name="李经办")
    r = await env.store.record_answer("c1-zrzy", "zrzy", disclose(), "http", author=author)
    assert r.status == "draft_recorded"
    assert (await env.doc())["answers"][0]["author"] == {"subject": "u-li", "name": "李经办"}
    with pytest.raises(AnswerRefusal) as exc:
        await env.store.sign_off("c1-zrzy", "zrzy", review_by("u-li", "李经办"))
    assert exc.value.status == 403 and exc.value.code == "four_eyes"
    assert not (await env.doc())["reply_issued"]
    # The draft rewritten by someone else: now 李 may review it, and the events say who did what.
    await env.store.record_answer("c1-zrzy", "zrzy", disclose("张改过的草稿"), "http",
                                  author=Officer(subject="u-zhang", name="张经办"))
    assert (await env.store.sign_off("c1-zrzy", "zrzy", review_by("u-li", "李经办"))).status == "signed_off"
    evs = [d for t, d, _ in await env.events() if t == "answer.recorded"]
    assert [(d["draft"], d["answered_by"], d["answered_by_subject"]) for d in evs] == [
        (True, "李经办", "u-li"), (True, "张经办", "u-zhang"), (False, "张经办", "u-zhang")]
    assert evs[-1]["review"] == {"reviewer": "李经办", "reviewer_subject": "u-li",
                                 "reviewed_at": "2026-11-24T09:00:00Z"}
    assert (await env.doc())["reply_issued"]


async def test_an_answer_on_another_departments_topic_is_refused_and_recorded(env):
    await env.open(depts=("zrzy", "czt"))
    for _ in range(2):
        with pytest.raises(AnswerRefusal) as exc:
            await env.store.refuse_wrong_topic("c1-zrzy", "czt", "zrzy")
        assert exc.value.status == 403 and exc.value.code == "wrong_answers_topic"
    evs = await env.events()
    assert [(t, d["code"], d["dept_code"], d["via"]) for t, d, _ in evs] == [
        ("answer.refused", "wrong_answers_topic", "czt", "topic")]  # once, naming the topic's department
    assert (await env.doc())["answers"] == []
    with pytest.raises(AnswerRefusal):  # an unknown task: refused all the same, nothing to record it on
        await env.store.refuse_wrong_topic("nope", "czt", "zrzy")


async def test_partial_needs_each_withheld_part_with_a_reason(env):
    await env.open(depts=("zrzy",))
    with pytest.raises(AnswerRefusal) as exc:
        await env.answer("zrzy", Answer(reply_type="partially_disclosed", text="部分公开", material_refs=["a.pdf"]))
    assert exc.value.status == 422 and "第三十七条" in exc.value.message
    with pytest.raises(AnswerRefusal):
        await env.answer("zrzy", Answer(reply_type="not_disclosed", text="不予公开"))  # which reason?
    assert await env.types() == ["answer.refused", "answer.refused"]


async def test_withdrawn_task_refuses_answers_and_reroute_completes_the_case(env):
    await env.open()
    await env.answer("zrzy")
    await env.answer("czt")
    ev = er.CaseRerouted(
        case_id="c1", tracking_number="T-c1", agency_code="ag", change_seq=1, operation="withdraw",
        directory_version="v1",
        withdrawn=[er.WithdrawnTaskRef(task_id="c1-sthjt", dept_code="sthjt", dept_name="生态环境厅")],
        tasks=[er.RoutedTask(task_id="c1-zrzy", dept_code="zrzy", dept_name="自然资源厅", rule="r"),
               er.RoutedTask(task_id="c1-czt", dept_code="czt", dept_name="财政厅", rule="r")],
        triage_resolved=False, reason="不涉及", changed_by="ogi")
    assert await env.store.apply_reroute(ev)
    assert not await env.store.apply_reroute(ev)  # the same change again: nothing
    doc = await env.doc()
    assert doc["reply_issued"] and doc["reply"]["cc"] == ["czt", "zrzy"]
    with pytest.raises(AnswerRefusal) as exc:
        await env.answer("sthjt")
    assert exc.value.status == 409 and "撤回" in exc.value.message


async def test_reroute_adds_a_task(env):
    await env.open(depts=("zrzy",))
    ev = er.CaseRerouted(
        case_id="c1", tracking_number="T-c1", agency_code="ag", change_seq=1, operation="add", directory_version="v1",
        added=[er.RoutedTask(task_id="c1-czt", dept_code="czt", dept_name="财政厅", rule="manual")],
        tasks=[er.RoutedTask(task_id="c1-zrzy", dept_code="zrzy", dept_name="自然资源厅", rule="r"),
               er.RoutedTask(task_id="c1-czt", dept_code="czt", dept_name="财政厅", rule="manual")],
        triage_resolved=False, reason="补充", changed_by="ogi")
    await env.store.apply_reroute(ev)
    await env.answer("zrzy")
    assert not (await env.doc())["reply_issued"]
    assert [t["task_id"] for t in await env.store.open_tasks("czt")] == ["c1-czt"]
    await env.answer("czt")
    assert (await env.doc())["reply_issued"]


def referral(whole: bool, withdrawn: list[str]) -> er.ReferralRecorded:
    return er.ReferralRecorded(
        case_id="c1", tracking_number="T-c1", referral_id="rf1", agency_code="ag", target_agency_code="km-gov",
        target_agency_name="昆明市人民政府", target_contact=er.AgencyContact(address="昆明市呈贡区", phone="0871-1"),
        handed_over=True, whole_case=whole, part=None if whole else "市级项目", reason="属于市级事权",
        withdrawn=[er.WithdrawnTaskRef(task_id=f"c1-{d}", dept_code=d, dept_name=DEPTS[d]) for d in withdrawn],
        message="已转送昆明市人民政府办理。", recorded_by="ogi")


async def test_whole_case_referral_completes_with_not_this_agency(env):
    await env.open()
    await env.store.apply_referral(referral(True, list(DEPTS)))
    doc = await env.doc()
    assert doc["reply_issued"] and doc["reply"]["decision"] == "not_this_agency"
    assert doc["reply"]["outcome"] == "unavailable.not_this_agency"
    assert "昆明市人民政府" in doc["reply"]["document"] and "0871-1" in doc["reply"]["document"]
    assert not await env.store.apply_referral(referral(True, list(DEPTS)))
    assert (await env.types()).count("reply.issued") == 1


async def test_partial_referral_is_one_part(env):
    await env.open()
    await env.store.apply_referral(referral(False, ["sthjt"]))
    await env.answer("zrzy")
    await env.answer("czt")
    doc = await env.doc()
    assert doc["reply_issued"] and doc["reply"]["decision"] == "partially_disclosed"
    issued = [d for t, d, _ in await env.events() if t == "reply.issued"][0]
    assert [p["outcome_code"] for p in issued["parts"]] == ["disclosed", "disclosed", "unavailable.not_this_agency"]
    assert "市级项目" in doc["reply"]["document"]


async def test_contradiction_is_flagged_and_holds_until_resolved(env):
    await env.open(depts=("zrzy", "czt"))
    await env.answer("zrzy", disclose(refs=("征地批复.pdf",)))
    await env.answer("czt", Answer(reply_type="not_disclosed", outcome_code="withheld.deliberative", text="过程稿",
                                   material_refs=["征地批复.pdf"]))
    doc = await env.doc()
    assert not doc["reply_issued"]
    [c] = doc["contradictions"]
    assert c["item_key"] == "征地批复.pdf" and not c["resolved"]
    flagged = [d for t, d, _ in await env.events() if t == "contradiction.flagged"]
    assert len(flagged) == 1 and {e["stance"] for e in flagged[0]["entries"]} == {
        "given", "withheld:withheld.deliberative"}
    await env.store.sweep()
    assert not (await env.doc())["reply_issued"]  # still held
    with pytest.raises(OgiRefusal):
        await env.store.resolve_contradiction("c1", c["id"], "ogi", "协调", ["c1-sthjt"])
    # Resolved by sending czt's answer back: czt answers again, consistently.
    await env.store.resolve_contradiction("c1", c["id"], "ogi", "经协调由财政厅重新答复", ["c1-czt"])
    assert not (await env.doc())["reply_issued"]
    await env.answer("czt", disclose("经协调予以公开", refs=("征地批复.pdf",)))
    doc = await env.doc()
    assert doc["reply_issued"] and doc["reply"]["decision"] == "disclosed"


async def test_contradiction_resolved_as_it_stands_releases(env):
    await env.open(depts=("zrzy", "czt"))
    await env.answer("zrzy", disclose(refs=("x",)))
    await env.answer("czt", Answer(reply_type="partially_disclosed", text="部分", material_refs=["y"], withheld=[
        WithheldItem(description="名单", reason_code="withheld.third_party", explanation="隐私", item_key="x")]))
    [c] = (await env.doc())["contradictions"]
    await env.store.resolve_contradiction("c1", c["id"], "ogi", "两部门所指不同版本，分别答复", [])
    assert (await env.doc())["reply_issued"]


async def test_close_with_missing_then_late_answer_amends(env):
    await env.open()
    await env.answer("zrzy")
    await env.answer("czt", review=None)  # a draft is not an answer that can be released
    closed = await env.store.close_case("c1", "王主任", "超期")
    assert [m["dept_code"] for m in closed["missing"]] == ["czt", "sthjt"]
    doc = await env.doc()
    assert doc["reply_issued"] and doc["reply"]["task_ids"] == ["c1-zrzy"]
    assert "财政厅、生态环境厅尚未答复" in doc["reply"]["document"]
    with pytest.raises(OgiRefusal):
        await env.store.close_case("c1", "王主任", "again")
    await env.answer("sthjt", Answer(reply_type="not_exist", outcome_code="unavailable.not_held", text="没有。"))
    doc = await env.doc()
    assert [a["task_ids"] for a in doc["amendments"]] == [["c1-sthjt"]]
    types = await env.types()
    assert types.count("reply.issued") == 1 and types.count("reply.amended") == 1 and types.count("case.closed") == 1
    amended = [d for t, d, _ in await env.events() if t == "reply.amended"][0]
    assert amended["amendment_seq"] == 1 and amended["reply_event_id"] == doc["reply"]["event_id"]
    assert "补充答复" in amended["document_text"]
    amendment_id = doc["amendments"][0]["event_id"]
    assert (await env.copies())[amendment_id] == [topics.department_replies(c).name for c in amended["cc"]]
    # The same late answer again, and a sweep: nothing new.
    await env.answer("sthjt", Answer(reply_type="not_exist", outcome_code="unavailable.not_held", text="没有。"))
    await env.store.sweep()
    assert (await env.types()).count("reply.amended") == 1
    # The draft signed later: a second amendment.
    await env.store.sign_off("c1-czt", "czt", REVIEW)
    assert [a["seq"] for a in (await env.doc())["amendments"]] == [1, 2]


async def test_close_needs_something_to_reply(env):
    await env.open()
    with pytest.raises(OgiRefusal):
        await env.store.close_case("c1", "王主任", "超期")


async def test_reply_pdf_and_html_are_stored(env):
    await env.open(depts=("zrzy", "czt"))
    await env.store.note_application("c1", "某村征地补偿标准")
    await env.answer("zrzy")
    await env.answer("czt", Answer(
        reply_type="partially_disclosed", text="部分公开。", material_refs=["预算.pdf"],
        withheld=[WithheldItem(description="供应商报价", reason_code="withheld.third_party", explanation="商业秘密")]))
    doc = await env.doc()
    stored = await env.store.document(doc["reply"]["document_id"])
    assert stored["case_id"] == "c1" and stored["pdf"][:5] == b"%PDF-"
    assert "某村征地补偿标准" in stored["html"] and "供应商报价" in stored["html"]
    text = subprocess.run(["pdftotext", "-layout", "-", "-"], input=bytes(stored["pdf"]), capture_output=True,
                          check=True).stdout.decode()
    for name in ("自然资源厅", "财政厅", "部分公开", "商业秘密"):
        assert name in re.sub(r"\s+", "", text), name


async def test_the_sweep_reads_again_only_the_cases_with_something_to_do(env, monkeypatch):
    await env.open("c1", depts=("zrzy",))
    await env.open("c2", depts=("zrzy", "czt"))
    real = env.store.advance

    async def crashed(case_id: str) -> None:  # the process died between an answer's write and its advance
        return None

    monkeypatch.setattr(env.store, "advance", crashed)
    assert (await env.answer("zrzy", case_id="c1")).status == "recorded"
    assert (await env.answer("zrzy", case_id="c2")).status == "recorded"  # c2 still waits for 财政厅
    advanced: list[str] = []

    async def counted(case_id: str):  # noqa: ANN202
        advanced.append(case_id)
        return await real(case_id)

    monkeypatch.setattr(env.store, "advance", counted)
    assert await env.store.sweep() == 1
    assert advanced == ["c1"]  # the case waiting for an answer is planned on the scan's copy, not read again
    assert (await env.doc("c1"))["reply_issued"] and not (await env.doc("c2"))["reply_issued"]
    assert await env.store.sweep() == 0 and advanced == ["c1"]
    assert (await env.types("c1")).count("reply.issued") == 1


async def test_a_failed_pdf_render_keeps_the_answer_and_the_sweep_issues_later(env, monkeypatch):
    from services.reply import cases

    real = cases.render
    calls = []

    async def broken(context):  # noqa: ANN001, ANN202
        calls.append(1)
        raise RuntimeError("no font")

    monkeypatch.setattr(cases, "render", broken)
    await env.open(depts=("zrzy",))
    assert (await env.answer("zrzy")).status == "recorded"
    doc = await env.doc()
    assert len(doc["answers"]) == 1 and not doc["reply_issued"] and calls == [1]
    assert await env.store.sweep() == 0  # still broken
    monkeypatch.setattr(cases, "render", real)
    assert await env.store.sweep() == 1
    doc = await env.doc()
    assert doc["reply_issued"] and (await env.store.document(doc["reply"]["document_id"]))["pdf"][:4] == b"%PDF"
    assert (await env.types()).count("reply.issued") == 1
