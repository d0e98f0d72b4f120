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
