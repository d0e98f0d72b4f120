"""One reply from the answers of all departments of a case (Art. 36, 37)."""

from __future__ import annotations

import itertools
from datetime import date

import pytest

from contracts.events import Answer, ReplyPart
from contracts.vocabulary import GIVING_TYPES, REPLY_TYPE_LABELS, ReplyType
from services.reply.aggregation import combined_decision, order_parts, reply_document

R = ReplyType


@pytest.mark.parametrize(
    ("types", "expected"),
    [
        ([R.DISCLOSED], R.DISCLOSED),
        ([R.DISCLOSED, R.DISCLOSED, R.DISCLOSED], R.DISCLOSED),
        ([R.ALREADY_PUBLIC], R.ALREADY_PUBLIC),
        ([R.ALREADY_PUBLIC, R.ALREADY_PUBLIC], R.ALREADY_PUBLIC),
        # Everything given, some of it by pointing at what is already public: still disclosed.
        ([R.ALREADY_PUBLIC, R.DISCLOSED], R.DISCLOSED),
        ([R.PARTIALLY_DISCLOSED], R.PARTIALLY_DISCLOSED),
        ([R.DISCLOSED, R.PARTIALLY_DISCLOSED], R.PARTIALLY_DISCLOSED),
        # Something given and something refused or missing: partial disclosure (Art. 37).
        ([R.DISCLOSED, R.NOT_DISCLOSED], R.PARTIALLY_DISCLOSED),
        ([R.NOT_DISCLOSED, R.DISCLOSED], R.PARTIALLY_DISCLOSED),
        ([R.ALREADY_PUBLIC, R.NOT_EXIST], R.PARTIALLY_DISCLOSED),
        ([R.DISCLOSED, R.NOT_THIS_AGENCY, R.REPEAT], R.PARTIALLY_DISCLOSED),
        # Nothing given: the weightiest refusal.
        ([R.NOT_EXIST], R.NOT_EXIST),
        ([R.NOT_EXIST, R.NOT_THIS_AGENCY], R.NOT_EXIST),
        ([R.NOT_THIS_AGENCY, R.NOT_EXIST], R.NOT_EXIST),
        ([R.NOT_THIS_AGENCY, R.NOT_THIS_AGENCY], R.NOT_THIS_AGENCY),
        ([R.NOT_EXIST, R.NOT_DISCLOSED], R.NOT_DISCLOSED),
        ([R.NOT_THIS_AGENCY, R.REPEAT], R.REPEAT),
        ([R.REPEAT, R.OTHER_LAW], R.OTHER_LAW),
        ([R.OTHER_LAW, R.NOT_DISCLOSED], R.NOT_DISCLOSED),
    ],
)
def test_combined_decision(types, expected):
    assert combined_decision(types) is expected


def test_empty_is_an_error():
    with pytest.raises(ValueError):
        combined_decision([])


@pytest.mark.parametrize("types", list(itertools.product(list(ReplyType), repeat=2)))
def test_combined_decision_is_total_and_order_free_on_pairs(types):
    a, b = types
    decision = combined_decision([a, b])
    assert decision is combined_decision([b, a])
    assert decision is combined_decision([a, b, a, b])  # repetitions change nothing
    # A reply gives something iff some department gave something.
    assert (decision in GIVING_TYPES) == bool({a, b} & GIVING_TYPES)
    if not {a, b} & GIVING_TYPES:
        assert decision in (a, b)


# --- the document ------------------------------------------------------------------------------


def part(task: str, dept: str, name: str, reply_type: ReplyType, text: str, **kw) -> ReplyPart:
    answer = Answer(reply_type=reply_type, text=text, **kw)
    return ReplyPart(task_id=task, dept_code=dept, dept_name=name, answer=answer)


PARTS = [
    part(
        "t-3", "zrzy", "云南省自然资源厅", R.DISCLOSED, "征地批复文件见附件。",
        material_refs=["批复.pdf", "公告.pdf"],
    ),
    part("t-1", "czt", "云南省财政厅", R.NOT_DISCLOSED, "该信息属于内部事务信息。", reason="第十六条第一款"),
    part("t-2", "rst", "云南省人力资源和社会保障厅", R.NOT_EXIST, "经检索，本部门未制作该信息。"),
]


def document(parts=PARTS, decision=R.PARTIALLY_DISCLOSED) -> str:
    return reply_document(
        tracking_number="YN-20261123-00042",
        agency_name="云南省人民政府办公厅",
        received_on=date(2026, 11, 23),
        issued_on=date(2026, 12, 10),
        parts=parts,
        decision=decision,
    )


def test_document_holds_everything_the_applicant_needs():
    doc = document()
    assert doc.startswith("政府信息公开申请答复书")
    assert "YN-20261123-00042" in doc
    assert "云南省人民政府办公厅" in doc
    assert "2026年11月23日" in doc  # received
    assert "2026年12月10日" in doc  # issued
    for p in PARTS:
        assert p.dept_name in doc
        assert p.answer.text in doc
        assert REPLY_TYPE_LABELS[p.answer.reply_type] in doc
    assert f"“{REPLY_TYPE_LABELS[R.PARTIALLY_DISCLOSED]}”" in doc
    assert "第十六条第一款" in doc
    assert "批复.pdf" in doc and "公告.pdf" in doc
    assert "3个承办部门" in doc
    assert "第三十六条" in doc


def test_document_states_the_remedies():
    doc = document()
    assert "60日" in doc and "行政复议" in doc
    assert "6个月" in doc and "行政诉讼" in doc


def test_document_numbers_parts_in_the_given_order():
    doc = document()
    positions = [doc.index(f"{n}、{p.dept_name}") for n, p in zip("一二三", PARTS)]
    assert positions == sorted(positions)


def test_document_numbers_beyond_ten():
    many = [part(f"t-{i:02d}", f"d{i:02d}", f"部门{i:02d}", R.DISCLOSED, "见附件。") for i in range(12)]
    doc = document(many, R.DISCLOSED)
    assert "十、部门09" in doc
    assert "11、部门10" in doc and "12、部门11" in doc


@pytest.mark.parametrize("perm", list(itertools.permutations(range(3))))
def test_order_parts_is_independent_of_input_order(perm):
    shuffled = [PARTS[i] for i in perm]
    ordered = order_parts(shuffled)
    assert [p.dept_code for p in ordered] == ["czt", "rst", "zrzy"]
    assert document(ordered) == document(order_parts(PARTS))


def test_order_parts_breaks_ties_by_task_id():
    a = part("t-b", "zrzy", "云南省自然资源厅", R.DISCLOSED, "甲")
    b = part("t-a", "zrzy", "云南省自然资源厅", R.NOT_EXIST, "乙")
    assert [p.task_id for p in order_parts([a, b])] == ["t-a", "t-b"]
    assert [p.task_id for p in order_parts([b, a])] == ["t-a", "t-b"]


# --- outcome codes, withheld parts, contradictions, readiness (issue #5) ---------------------------

from contracts.decisions import OUTCOMES  # noqa: E402
from contracts.events import ResponsibleAgencyRef, WithheldItem  # noqa: E402
from services.reply.aggregation import (  # noqa: E402
    AnswerInvalid,
    check_answer,
    contradictions,
    overall_outcome,
    readiness,
)

ELSEWHERE = ResponsibleAgencyRef(name="昆明市人民政府", address="昆明市呈贡区", phone="0871-1")
PRIVACY = WithheldItem(description="被征收户名单", reason_code="withheld.third_party", explanation="个人隐私", item_key="名单")


def test_outcome_code_is_needed_exactly_when_a_reply_type_has_several():
    for rt in ReplyType:
        codes = [o.code for o in OUTCOMES if o.reply_type is rt]
        kw = {"responsible_agency": ELSEWHERE} if rt is R.NOT_THIS_AGENCY else {}
        if rt is R.PARTIALLY_DISCLOSED:
            kw = {"withheld": [PRIVACY], "material_refs": ["a.pdf"]}
        answer = Answer(reply_type=rt, text="答复", **kw)
        if len(codes) == 1:
            assert check_answer(answer) == codes[0]
        else:
            with pytest.raises(AnswerInvalid, match="outcome_code"):
                check_answer(answer)
        for code in codes:
            assert check_answer(Answer(reply_type=rt, text="答复", outcome_code=code, **kw)) == code


def test_outcome_code_of_another_reply_type_is_refused():
    with pytest.raises(AnswerInvalid, match="不符"):
        check_answer(Answer(reply_type=R.DISCLOSED, text="x", outcome_code="withheld.state_secret"))


def test_partial_disclosure_names_each_withheld_part_with_a_withholding_reason():
    with pytest.raises(AnswerInvalid, match="第三十七条"):
        check_answer(Answer(reply_type=R.PARTIALLY_DISCLOSED, text="x", material_refs=["a"]))
    giving = WithheldItem(description="x", reason_code="disclosed", explanation="x")
    with pytest.raises(AnswerInvalid, match="理由代码"):
        check_answer(Answer(reply_type=R.PARTIALLY_DISCLOSED, text="x", material_refs=["a"], withheld=[giving]))
    with pytest.raises(AnswerInvalid, match="只有部分公开"):
        check_answer(Answer(reply_type=R.DISCLOSED, text="x", withheld=[PRIVACY]))


def test_not_this_agency_names_the_responsible_agency():
    with pytest.raises(AnswerInvalid, match="第三十六条第五项"):
        check_answer(Answer(reply_type=R.NOT_THIS_AGENCY, text="x"))
    with pytest.raises(AnswerInvalid):
        check_answer(Answer(reply_type=R.DISCLOSED, text="x", responsible_agency=ELSEWHERE))


def rp(task: str, dept: str, answer: Answer) -> ReplyPart:
    return ReplyPart(task_id=task, dept_code=dept, dept_name=dept, answer=answer)


def test_overall_outcome():
    give = rp("t1", "a", Answer(reply_type=R.DISCLOSED, text="x"))
    secret = rp("t2", "b", Answer(reply_type=R.NOT_DISCLOSED, outcome_code="withheld.deliberative", text="x"))
    none = rp("t3", "c", Answer(reply_type=R.NOT_EXIST, outcome_code="unavailable.needs_compiling", text="x"))
    assert overall_outcome(R.PARTIALLY_DISCLOSED, [give, secret]) == "partial"
    assert overall_outcome(R.DISCLOSED, [give]) == "disclosed"
    assert overall_outcome(combined_decision([R.NOT_DISCLOSED, R.NOT_EXIST]), [none, secret]) == "withheld.deliberative"
    assert overall_outcome(R.NOT_EXIST, [none]) == "unavailable.needs_compiling"


def test_same_material_given_by_one_and_withheld_by_another_is_a_contradiction():
    a = rp("t1", "zrzy", Answer(reply_type=R.DISCLOSED, text="x", material_refs=["批复.pdf", "公告.pdf"]))
    b = rp("t2", "czt", Answer(reply_type=R.NOT_DISCLOSED, outcome_code="withheld.deliberative", text="x",
                               material_refs=["批复.pdf"]))
    [c] = contradictions([b, a])
    assert c.item_key == "批复.pdf"
    assert {(e.dept_code, e.stance) for e in c.entries} == {("zrzy", "given"), ("czt", "withheld:withheld.deliberative")}
    assert "批复.pdf" in c.message() and "不予提供" in c.message()
    assert c.signature == contradictions([a, b])[0].signature  # order-free


def test_explicit_item_keys_and_withheld_items_count_as_the_same_item():
    a = rp("t1", "zrzy", Answer(reply_type=R.DISCLOSED, text="x", item_keys=["名单"]))
    b = rp("t2", "czt", Answer(reply_type=R.PARTIALLY_DISCLOSED, text="x", material_refs=["b.pdf"], withheld=[PRIVACY]))
    assert [c.item_key for c in contradictions([a, b])] == ["名单"]


def test_agreeing_or_unrelated_answers_are_no_contradiction():
    a = rp("t1", "zrzy", Answer(reply_type=R.DISCLOSED, text="x", material_refs=["a.pdf"]))
    b = rp("t2", "czt", Answer(reply_type=R.ALREADY_PUBLIC, text="x", material_refs=["a.pdf"]))
    c = rp("t3", "sthjt", Answer(reply_type=R.NOT_DISCLOSED, outcome_code="withheld.deliberative", text="x",
                                 material_refs=["c.pdf"]))
    assert contradictions([a, b, c]) == []
    # Two withholding reasons for one item are a contradiction too (the applicant is told one reason).
    d = rp("t4", "fgw", Answer(reply_type=R.NOT_DISCLOSED, outcome_code="withheld.state_secret", text="x",
                               material_refs=["c.pdf"]))
    assert [x.item_key for x in contradictions([c, d])] == ["c.pdf"]


def test_readiness():
    tasks = ["t1", "t2"]
    assert readiness(tasks, ["t1", "t2"], ["t1", "t2"], [], False).ready
    r = readiness(tasks, ["t1"], ["t1", "t2"], [], False)
    assert not r.ready and r.unsigned == ("t2",)
    r = readiness(tasks, ["t1"], ["t1"], [], False)
    assert not r.ready and r.unanswered == ("t2",)
    assert readiness(tasks, ["t1"], ["t1"], [], True).ready  # closed by the OGI office
    assert not readiness(tasks, ["t1", "t2"], ["t1", "t2"], ["sig"], False).ready  # held by a contradiction
    assert not readiness(tasks, [], [], [], True).ready  # nothing to reply with
    assert readiness([], [], [], [], False, extra_parts=1).ready  # a whole-case referral


def test_document_lists_withheld_parts_and_the_responsible_agency():
    parts = [
        rp("t1", "zrzy", Answer(reply_type=R.PARTIALLY_DISCLOSED, text="部分公开。", material_refs=["a.pdf"],
                                withheld=[PRIVACY])),
        rp("t2", "jtyst", Answer(reply_type=R.NOT_THIS_AGENCY, text="请向负责机关申请。", responsible_agency=ELSEWHERE)),
    ]
    doc = document(parts, R.PARTIALLY_DISCLOSED)
    assert "被征收户名单" in doc and "涉及商业秘密、个人隐私等" in doc and "个人隐私" in doc
    assert "昆明市人民政府" in doc and "0871-1" in doc
