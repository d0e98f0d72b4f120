"""The reply service's decisions (services/reply/release.py) on hand-built case documents: no store.

Each test plans on a case dict and, to go on, applies the plan's fields as the store's one
conditional write would (``apply``)."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime
from typing import Any

import pytest

from contracts import events_routing as er
from contracts import topics
from contracts.envelope import deterministic_id
from contracts.events import Answer, ConfidentialityReview, WithheldItem
from services.reply import release
from services.reply.release import AnswerRefusal, Officer, OgiRefusal, Plan, RecordRefusal

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
TODAY = date(2026, 12, 1)
DEPTS = {"zrzy": "自然资源厅", "czt": "财政厅", "sthjt": "生态环境厅"}
AUTHOR = Officer(subject="zrzy-officer-1", name="撰写人甲")


def review(subject: str = "reviewer-1") -> ConfidentialityReview:
    return ConfidentialityReview(reviewer="保密审查员甲", reviewer_subject=subject,
                                 reviewed_at=datetime(2026, 11, 30, 9, 0, tzinfo=UTC))


def task(dept: str, case_id: str = "c1") -> dict[str, Any]:
    return {"task_id": f"{case_id}-{dept}", "dept_code": dept, "dept_name": DEPTS[dept], "rule": "r"}


def case(*depts: str, case_id: str = "c1") -> dict[str, Any]:
    tasks = [task(d, case_id) for d in depts or tuple(DEPTS)]
    return {"_id": case_id, "tracking_number": f"T-{case_id}", "agency_code": "ag", "agency_name": "某省人民政府办公厅",
            "received_on": "2026-11-23", "tasks": tasks, "withdrawn": [],
            "open_depts": sorted({t["dept_code"] for t in tasks}), "expected": len(tasks), "answers": [],
            "answered_count": 0, "referrals": [], "contradictions": [], "closed": None, "reply_issued": False,
            "reply": None, "amendments": [], "route_seq": 0, "reply_rev": 0}


def disclose(text: str = "现予公开。", refs: tuple[str, ...] = ("a.pdf",)) -> Answer:
    return Answer(reply_type="disclosed", text=text, material_refs=list(refs))


def withhold(ref: str = "a.pdf") -> Answer:
    return Answer(reply_type="not_disclosed", outcome_code="withheld.internal_affairs", text="属于内部事务信息。",
                  material_refs=[ref])


def apply(doc: dict[str, Any], plan: Plan | None) -> dict[str, Any]:
    """The case after the plan's write (as ``servicekit.versioned.Change`` applies it)."""
    assert plan is not None
    out = copy.deepcopy(doc)
    out.update(copy.deepcopy(plan.set))
    for name, value in plan.push.items():
        out.setdefault(name, []).append(copy.deepcopy(value))
    if plan.writes:
        out["reply_rev"] = out.get("reply_rev", 0) + 1
    return out


def answered(doc: dict[str, Any], dept: str, answer: Answer | None = None, signed: bool = True,
             at: datetime = NOW) -> dict[str, Any]:
    """The case with ``dept``'s answer recorded (signed off unless ``signed`` is False)."""
    plan = release.plan_answer(doc, f"{doc['_id']}-{dept}", dept, answer or disclose(f"{dept}的答复"), "http", at,
                               review=review() if signed else None, author=AUTHOR)
    return apply(doc, plan)


def all_signed(doc: dict[str, Any], **answers: Answer) -> dict[str, Any]:
    for t in doc["tasks"]:
        doc = answered(doc, t["dept_code"], answers.get(t["dept_code"]))
    return doc


def advance(doc: dict[str, Any], today: date = TODAY) -> Plan:
    return release.plan_advance(doc, today, NOW, "某政府信息公开办公室")


# ----------------------------------------------------------------------------- open departments


def test_a_department_is_open_until_its_answer_is_signed_off():
    tasks = [task("zrzy"), task("czt"), task("sthjt")]
    answers = [{"task_id": "c1-zrzy", "review": None},  # a draft: still open
               {"task_id": "c1-czt", "review": {"reviewer": "甲"}}]
    assert release.open_departments(tasks, answers) == ["sthjt", "zrzy"]
    assert release.open_departments(tasks, []) == ["czt", "sthjt", "zrzy"]
    assert release.open_departments([], answers) == []


def test_two_tasks_of_one_department_keep_it_open_until_both_are_signed():
    tasks = [task("zrzy"), {**task("zrzy"), "task_id": "c1-zrzy-2"}]
    assert release.open_departments(tasks, [{"task_id": "c1-zrzy", "review": {"r": 1}}]) == ["zrzy"]


# ----------------------------------------------------------------------------- answers


def test_a_draft_then_its_sign_off():
    doc = case("zrzy", "czt")
    draft = release.plan_answer(doc, "c1-zrzy", "zrzy", disclose(), "http", NOW, author=AUTHOR)
    assert draft.result == "draft_recorded" and draft.release is None
    assert draft.set["open_depts"] == ["czt", "zrzy"] and draft.set["answered_count"] == 1
    [emit] = draft.emits
    assert emit.data.event_name == "answer.recorded" and emit.data.draft is True
    assert emit.topics == (topics.ANSWERS_RECORDED.name,)
    assert emit.causation_id == deterministic_id("task.assigned", "c1-zrzy")
    doc = apply(doc, draft)
    entry = doc["answers"][0]
    assert entry["author"] == AUTHOR.dump() and entry["review"] is None and entry["at"] == NOW

    signed = release.plan_sign_off(doc, "c1-zrzy", "zrzy", review(), "http")
    assert signed.result == "signed_off" and signed.set["open_depts"] == ["czt"]
    assert signed.emits[0].causation_id == entry["event_id"]  # caused by the draft's event
    assert signed.emits[0].data.answered_by == AUTHOR.name
    doc = apply(doc, signed)
    assert release.plan_sign_off(doc, "c1-zrzy", "zrzy", review(), "http").result == "already_recorded"


def test_the_same_answer_again_is_a_duplicate_and_plans_nothing():
    doc = answered(case("zrzy", "czt"), "zrzy")
    again = release.plan_answer(doc, "c1-zrzy", "zrzy", disclose("zrzy的答复"), "topic", NOW, review=review())
    assert again.result == "already_recorded" and not again.writes


def test_the_same_draft_submitted_with_its_review_is_its_sign_off():
    doc = answered(case("zrzy"), "zrzy", signed=False)
    plan = release.plan_answer(doc, "c1-zrzy", "zrzy", disclose("zrzy的答复"), "topic", NOW, review=review())
    assert plan.result == "signed_off"


def test_event_ids_are_deterministic():
    doc = case("zrzy")
    a = release.plan_answer(doc, "c1-zrzy", "zrzy", disclose(), "topic", NOW, review=review())
    b = release.plan_answer(doc, "c1-zrzy", "zrzy", disclose(), "topic", datetime.now(UTC), review=review())
    assert a.emits[0].event_id == b.emits[0].event_id == deterministic_id("answer.recorded", "c1-zrzy")


def test_the_author_cannot_sign_off_their_own_draft():
    doc = answered(case("zrzy"), "zrzy", signed=False)
    with pytest.raises(AnswerRefusal) as exc:
        release.plan_sign_off(doc, "c1-zrzy", "zrzy", review(AUTHOR.subject), "http")
    assert exc.value.code == "four_eyes" and exc.value.status == 403


def test_a_draft_sent_back_cannot_be_signed_off():
    doc = answered(case("zrzy"), "zrzy", signed=False)
    doc["answers"][0]["sent_back"] = {"comment": "请补充"}
    with pytest.raises(AnswerRefusal) as exc:
        release.plan_sign_off(doc, "c1-zrzy", "zrzy", review(), "http")
    assert exc.value.code == "sent_back"


@pytest.mark.parametrize(("dept", "answer", "code", "status"), [
    ("czt", disclose(), "not_your_task", 403),
    ("zrzy", Answer(reply_type="partially_disclosed", text="部分公开。"), "invalid_answer", 422),
])
def test_refusals_to_record(dept, answer, code, status):  # noqa: ANN001
    doc = case("zrzy", "czt")
    with pytest.raises(RecordRefusal) as exc:
        release.plan_answer(doc, "c1-zrzy", dept, answer, "topic", NOW)
    assert exc.value.refusal.code == code and exc.value.refusal.status == status
    assert exc.value.detail == release.content_hash(answer)


def test_a_different_answer_after_the_sign_off_is_refused():
    doc = answered(case("zrzy"), "zrzy")
    with pytest.raises(RecordRefusal) as exc:
        release.plan_answer(doc, "c1-zrzy", "zrzy", disclose("改了主意"), "http", NOW)
    assert exc.value.refusal.code == "conflicting_answer"


def test_a_refusal_is_recorded_once():
    doc = case("zrzy")
    refusal = AnswerRefusal(403, "not_your_task", "不属于")
    plan = release.plan_refusal(doc, "c1-zrzy", "czt", "topic", refusal, "h1", NOW)
    assert plan is not None and plan.push["refused"]["code"] == "not_your_task"
    assert plan.emits[0].data.event_name == "answer.refused"
    assert release.plan_refusal(apply(doc, plan), "c1-zrzy", "czt", "topic", refusal, "h1", NOW) is None
    assert release.plan_refusal(apply(doc, plan), "c1-zrzy", "czt", "topic", refusal, "h2", NOW) is not None


# ----------------------------------------------------------------------------- the release


def test_held_back_while_answers_are_missing_or_unsigned():
    doc = answered(case("zrzy", "czt"), "zrzy")
    assert advance(doc).outcome == release.NOTHING
    doc = answered(doc, "czt", signed=False)
    plan = advance(doc)
    assert plan.outcome == release.NOTHING and not plan.writes and plan.release is None


def test_issued_when_every_task_is_signed_off():
    doc = all_signed(case(), czt=withhold("b.pdf"))
    plan = advance(doc)
    assert plan.outcome == release.ISSUE and plan.guard == {"reply_issued": False}
    assert plan.set["reply_issued"] is True
    reply = plan.set["reply"]
    assert reply["decision"] == "partially_disclosed" and reply["cc"] == ["czt", "sthjt", "zrzy"]
    assert reply["task_ids"] == ["c1-czt", "c1-sthjt", "c1-zrzy"]  # reply order: by department code
    assert reply["issued_at"] == NOW and reply["document_id"] == deterministic_id("reply.document", "c1", "reply")
    [emit] = plan.emits
    assert emit.event_id == deterministic_id("reply.issued", "c1") == reply["event_id"]
    assert emit.topics == (topics.REPLIES_ISSUED.name, *(topics.department_replies(c).name for c in reply["cc"]))
    assert emit.data.document_text == reply["document"] and "2026年12月01日" in reply["document"]
    rel = plan.release
    assert rel is not None and rel.kind == "reply" and rel.document_kind == "consolidated_reply"
    assert rel.emit is emit and rel.issued_on == TODAY and rel.notes == []
    rel.add_document("ab" * 32)
    assert plan.set["reply"]["sha256"] == "ab" * 32  # the entry the write stores
    assert advance(apply(doc, plan)).outcome == release.NOTHING  # issued once


def test_a_contradiction_is_flagged_then_holds_the_reply_until_resolved():
    doc = answered(answered(case("zrzy", "czt"), "zrzy", disclose(refs=("a.pdf",))), "czt", withhold("a.pdf"))
    flag = advance(doc)
    assert flag.outcome == release.FLAG and flag.release is None
    [item] = flag.set["contradictions"]
    assert item["item_key"] == "a.pdf" and not item["resolved"] and item["flagged_at"] == NOW
    assert {e["dept_code"] for e in item["entries"]} == {"zrzy", "czt"}
    assert flag.emits[0].event_id == deterministic_id("contradiction.flagged", item["id"])
    doc = apply(doc, flag)
    held = advance(doc)
    assert held.outcome == release.HOLD and not held.writes
    # The OGI office lets the answers stand: the reply follows.
    resolve = release.plan_resolve(doc, item["id"], "公开办甲", "以财政厅意见为准", [], NOW)
    assert resolve.result["resolved"] and resolve.set["answers"] == doc["answers"]
    doc = apply(doc, resolve)
    assert advance(doc).outcome == release.ISSUE
    again = release.plan_resolve(doc, item["id"], "公开办甲", "再次", [], NOW)
    assert not again.writes and again.result["note"] == "以财政厅意见为准"


def test_a_resolution_reopening_an_answer_reopens_its_department():
    doc = answered(answered(case("zrzy", "czt"), "zrzy"), "czt", withhold("a.pdf"))
    doc = apply(doc, advance(doc))
    cid = doc["contradictions"][0]["id"]
    with pytest.raises(OgiRefusal):
        release.plan_resolve(doc, cid, "公开办甲", "x", ["c1-other"], NOW)
    with pytest.raises(OgiRefusal) as exc:
        release.plan_resolve(doc, "nope", "公开办甲", "x", [], NOW)
    assert exc.value.status == 404
    doc = apply(doc, release.plan_resolve(doc, cid, "公开办甲", "请财政厅重新答复", ["c1-czt"], NOW))
    assert [a["task_id"] for a in doc["answers"]] == ["c1-zrzy"] and doc["open_depts"] == ["czt"]
    assert advance(doc).outcome == release.NOTHING


def test_a_resolution_emits_contradiction_resolved_once_in_the_same_write():
    doc = answered(answered(case("zrzy", "czt"), "zrzy"), "czt", withhold("a.pdf"))
    doc = apply(doc, advance(doc))
    cid = doc["contradictions"][0]["id"]
    plan = release.plan_resolve(doc, cid, "公开办甲", "请财政厅重新答复", ["c1-czt", "c1-czt"], NOW, "ogi-sub-1")
    [emit] = plan.emits  # with the change itself (one write, its outbox record)
    assert plan.set["open_depts"] == ["czt"]
    assert emit.event_id == deterministic_id("contradiction.resolved", "c1", cid)
    assert emit.causation_id == deterministic_id("contradiction.flagged", cid)
    assert emit.topics == (topics.ANSWERS_RECORDED.name,)
    data = emit.data
    assert data.event_name == "contradiction.resolved" and data.event_name in topics.ANSWERS_RECORDED.event_types
    assert (data.case_id, data.contradiction_id, data.resolved_by, data.resolved_by_subject, data.note,
            data.resolved_at) == ("c1", cid, "公开办甲", "ogi-sub-1", "请财政厅重新答复", NOW)
    assert [(t.task_id, t.dept_code) for t in data.reopened] == [("c1-czt", "czt")]  # each task once
    assert plan.result["reopened"] == ["c1-czt"] and plan.result["event_id"] == emit.event_id
    # The same resolution planned again (a retry from a fresh read) plans the same event.
    assert release.plan_resolve(doc, cid, "公开办甲", "请财政厅重新答复", ["c1-czt"], NOW,
                                "ogi-sub-1").emits[0].event_id == emit.event_id
    doc = apply(doc, plan)
    again = release.plan_resolve(doc, cid, "公开办乙", "再次", [], NOW)
    assert again.outcome == "already_resolved" and not again.writes and not again.emits
    # Letting the answers stand is a decision too: the event, with nothing reopened.
    other = answered(answered(case("zrzy", "czt", case_id="c2"), "zrzy"), "czt", withhold("a.pdf"))
    other = apply(other, advance(other))
    stand = release.plan_resolve(other, other["contradictions"][0]["id"], "公开办甲", "以财政厅意见为准", [], NOW)
    assert [e.data.reopened for e in stand.emits] == [[]] and stand.emits[0].data.resolved_by_subject is None


def test_an_answer_given_again_after_it_was_set_aside_is_a_new_fact():
    doc = answered(answered(case("zrzy", "czt"), "zrzy"), "czt", withhold("a.pdf"))
    first = next(a["event_id"] for a in doc["answers"] if a["task_id"] == "c1-czt")
    doc = apply(doc, advance(doc))
    doc = apply(doc, release.plan_resolve(doc, doc["contradictions"][0]["id"], "公开办甲", "x", ["c1-czt"], NOW))
    # The department insists: the very same answer, signed off again, is not a duplicate of the first.
    plan = release.plan_answer(doc, "c1-czt", "czt", withhold("a.pdf"), "topic", NOW, review=review())
    assert plan.result == "recorded" and plan.set["open_depts"] == []
    assert plan.emits[0].event_id == deterministic_id("answer.recorded", "c1-czt", "reopened-1") != first
    draft = release.plan_answer(doc, "c1-czt", "czt", withhold("a.pdf"), "http", NOW, author=AUTHOR)
    doc = apply(doc, draft)
    signed = release.plan_sign_off(doc, "c1-czt", "czt", review(), "http")
    assert signed.emits[0].event_id == deterministic_id(
        "answer.recorded", "c1-czt", release.content_hash(withhold("a.pdf")), "signed", "reopened-1")
    # The other department's answer, never set aside, keeps its first-round ids.
    assert release.plan_answer(case("zrzy"), "c1-zrzy", "zrzy", disclose(), "topic", NOW,
                               review=review()).emits[0].event_id == deterministic_id("answer.recorded", "c1-zrzy")


def test_a_late_answer_after_a_closure_is_an_amendment():
    doc = answered(case("zrzy", "czt"), "zrzy")
    closed = release.plan_close(doc, "公开办甲", "逾期未答复", NOW, "ogi-1")
    missing = closed.result["missing"]
    assert [m["dept_code"] for m in missing] == ["czt"] and "财政厅尚未答复" in closed.result["statement"]
    assert closed.emits[0].data.event_name == "case.closed"
    doc = apply(doc, closed)
    issue = advance(doc)
    assert issue.outcome == release.ISSUE and issue.emits[0].data.missing[0].dept_code == "czt"
    assert issue.release is not None and "财政厅尚未答复" in issue.release.notes[0]
    assert issue.emits[0].causation_id == closed.result["event_id"]
    doc = apply(doc, issue)
    assert advance(doc).outcome == release.NOTHING
    # The late answer: recorded as late, then the amendment (its own document, number 1).
    late = release.plan_answer(doc, "c1-czt", "czt", disclose("财政厅的答复", ("b.pdf",)), "http",
                               datetime(2026, 12, 2, 1, 0, tzinfo=UTC), review=review())
    assert late.emits[0].data.late is True
    doc = apply(doc, late)
    amend = advance(doc, date(2026, 12, 2))
    assert amend.outcome == release.AMEND
    [entry] = amend.set["amendments"]
    assert entry["seq"] == 1 and entry["task_ids"] == ["c1-czt"]
    assert entry["document_id"] == deterministic_id("reply.document", "c1", "amendment", "1")
    [emit] = amend.emits
    assert emit.event_id == deterministic_id("reply.amended", "c1", "1")
    assert emit.causation_id == doc["answers"][-1]["event_id"]
    assert emit.data.reply_event_id == doc["reply"]["event_id"]
    assert "补充答复（第1次）" in entry["document"] and "2026年12月1日" in entry["document"]
    assert amend.release is not None and amend.release.kind == "amendment"
    assert [p.task_id for p in amend.release.parts] == ["c1-czt"] and amend.release.seq == 1
    doc = apply(doc, amend)
    assert advance(doc).outcome == release.NOTHING


def test_closing_needs_a_signed_answer_and_happens_once():
    doc = answered(case("zrzy", "czt"), "zrzy", signed=False)
    with pytest.raises(OgiRefusal):
        release.plan_close(doc, "公开办甲", "x", NOW)
    doc = answered(doc, "zrzy")  # the draft signed off
    doc = apply(doc, release.plan_close(doc, "公开办甲", "x", NOW))
    again = release.plan_close(doc, "公开办乙", "y", NOW)
    assert not again.writes and again.result["by"] == "公开办甲"
    doc = apply(doc, advance(doc))
    with pytest.raises(OgiRefusal):
        release.plan_close(doc, "公开办甲", "x", NOW)


# ----------------------------------------------------------------------------- routing changes


def rerouted(seq: int, *depts: str, withdrawn: tuple[str, ...] = ()) -> er.CaseRerouted:
    return er.CaseRerouted(
        case_id="c1", tracking_number="T-c1", agency_code="ag", change_seq=seq, operation="remove",
        directory_version="v2", tasks=[er.RoutedTask(**task(d)) for d in depts],
        withdrawn=[er.WithdrawnTaskRef(**{k: task(d)[k] for k in ("task_id", "dept_code", "dept_name")})
                   for d in withdrawn],
        triage_resolved=False, reason="调整", changed_by="公开办甲")


def test_a_reroute_withdrawing_a_task_releases_the_reply_with_the_others():
    doc = answered(answered(case(), "zrzy"), "czt")
    assert advance(doc).outcome == release.NOTHING  # sthjt has not answered
    plan = release.plan_reroute(doc, rerouted(1, "zrzy", "czt", withdrawn=("sthjt",)))
    assert plan is not None and plan.result is True and not plan.emits
    assert plan.set["withdrawn"] == [{"task_id": "c1-sthjt", "dept_code": "sthjt", "dept_name": "生态环境厅"}]
    assert plan.set["expected"] == 2 and plan.set["open_depts"] == [] and plan.set["route_seq"] == 1
    doc = apply(doc, plan)
    assert release.plan_reroute(doc, rerouted(1, "zrzy", "czt")) is None  # applied already
    with pytest.raises(RecordRefusal) as exc:
        release.plan_answer(doc, "c1-sthjt", "sthjt", disclose(), "http", NOW)
    assert exc.value.refusal.code == "task_withdrawn"
    issue = advance(doc)
    assert issue.outcome == release.ISSUE and issue.set["reply"]["task_ids"] == ["c1-czt", "c1-zrzy"]


def test_a_task_given_back_by_a_later_reroute_is_open_again():
    doc = apply(case(), release.plan_reroute(case(), rerouted(1, "zrzy", "czt")))
    assert [w["task_id"] for w in doc["withdrawn"]] == ["c1-sthjt"]
    doc = apply(doc, release.plan_reroute(doc, rerouted(2, "zrzy", "czt", "sthjt")))
    assert doc["withdrawn"] == [] and doc["open_depts"] == ["czt", "sthjt", "zrzy"]


def referral(whole: bool, withdrawn: tuple[str, ...] = (), part: str | None = None) -> er.ReferralRecorded:
    return er.ReferralRecorded(
        case_id="c1", tracking_number="T-c1", referral_id="ref-1" if whole else "ref-2", agency_code="ag",
        target_agency_name="某市人民政府", target_contact=er.AgencyContact(phone="0871-1"), handed_over=False,
        whole_case=whole, part=part, reason="属于该机关", message="请向某市人民政府申请。", recorded_by="公开办甲",
        withdrawn=[er.WithdrawnTaskRef(**{k: task(d)[k] for k in ("task_id", "dept_code", "dept_name")})
                   for d in withdrawn])


def test_a_whole_case_referral_is_the_reply():
    doc = case("zrzy", "czt")
    plan = release.plan_referral(doc, referral(True, ("zrzy", "czt")))
    assert plan is not None and plan.set["tasks"] == [] and plan.set["expected"] == 0
    [ref] = plan.set["referrals"]
    assert ref["address"] == "（未登记）" and ref["phone"] == "0871-1"
    doc = apply(doc, plan)
    assert release.plan_referral(doc, referral(True, ("zrzy", "czt"))) is None  # recorded already
    issue = advance(doc)
    assert issue.outcome == release.ISSUE
    [part] = issue.emits[0].data.parts
    assert part.dept_code == release.OGI_DEPT and part.dept_name == "某政府信息公开办公室"
    assert part.answer.reply_type.value == "not_this_agency" and issue.set["reply"]["cc"] == []
    assert "您申请公开的政府信息不属于本机关负责公开" in part.answer.text


def test_a_partial_referral_is_one_part_of_the_reply():
    doc = case("zrzy", "czt")
    doc = apply(doc, release.plan_referral(doc, referral(False, part="2019年的资料")))
    assert len(doc["tasks"]) == 2
    assert advance(doc).outcome == release.NOTHING  # the departments still answer
    doc = all_signed(doc)
    issue = advance(doc)
    assert issue.outcome == release.ISSUE
    parts = issue.emits[0].data.parts
    assert [p.dept_code for p in parts] == ["czt", "zrzy", release.OGI_DEPT]
    assert "“2019年的资料”部分" in parts[-1].answer.text
    assert issue.emits[0].data.decision.value == "partially_disclosed"


def test_partial_withheld_items_of_the_same_material_are_no_contradiction_with_themselves():
    answer = Answer(reply_type="partially_disclosed", text="部分公开。", material_refs=["a.pdf"],
                    withheld=[WithheldItem(description="报价", reason_code="withheld.third_party", explanation="商业秘密",
                                           item_key="报价")])
    doc = all_signed(case("zrzy"), zrzy=answer)
    assert advance(doc).outcome == release.ISSUE


def test_the_decisions_do_no_io():
    """release.py imports nothing that reaches a store, the bus or the clock of the machine."""
    import ast
    from pathlib import Path

    tree = ast.parse(Path(release.__file__).read_text(encoding="utf-8"))
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not {m for m in imported if m.split(".")[0] in {"pymongo", "bson", "asyncio", "servicekit", "fastapi"}}
    assert "now()" not in Path(release.__file__).read_text(encoding="utf-8")  # times come from the caller
