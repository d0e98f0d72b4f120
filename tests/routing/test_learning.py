"""services/routing/learning.py (pure): triage decisions → proposals with support and conflicts; an
accepted proposal is the department's entry with the phrase as a keyword, and then routes."""

from __future__ import annotations

from services.routing import learning
from services.routing.directory import load, parse
from services.routing.learning import NOT_OGI, example_from, propose
from services.routing.rules import decide

REAL = load()
BUY = [
    example_from("c1", "请公开某县政府购买服务项目的承接主体名单", ["czt"]),
    example_from("c2", "请公开某街道政府购买服务的合同", ["czt"]),
    example_from("c3", "请公开2025年政府购买服务指导性目录", ["czt"]),
]


def test_a_phrase_chosen_for_one_department_is_proposed_with_its_support():
    [top, *_] = propose(REAL, BUY)
    assert top.phrase == "购买服务" and top.dept_code == "czt" and top.dept_name == "云南省财政厅"
    assert set(top.support) == {"c1", "c2", "c3"} and top.conflicts == ()
    assert top.proposal_id == learning.proposal_id("购买服务", "czt")
    assert top.as_dict()["support_count"] == 3 and top.precision == 1.0


def test_one_example_is_not_enough():
    assert propose(REAL, BUY[:1]) == []


def test_conflicting_examples_are_listed_and_too_many_stop_the_proposal():
    other = example_from("c4", "请公开某医院政府购买服务的绩效", ["wjw"])
    # 3 for, 1 against: a precision of 0.75 is below MIN_PRECISION (0.8): not proposed.
    assert all(p.phrase != "购买服务" for p in propose(REAL, [*BUY, other]))
    fourth = example_from("c5", "请公开某乡镇政府购买服务的采购合同", ["czt"])
    [top, *_] = propose(REAL, [*BUY, fourth, other])
    assert top.phrase == "购买服务" and top.conflicts == (("c4", "wjw"),) and len(top.support) == 4
    assert top.precision == 0.8 >= learning.MIN_PRECISION


def test_not_ogi_examples_caught_by_a_marker_conflict_harmlessly():
    complaint = example_from("c6", "我要投诉某街道政府购买服务的问题", not_ogi=True)
    assert complaint.label == (NOT_OGI,)
    [top, *_] = propose(REAL, [*BUY, complaint])
    assert top.phrase == "购买服务" and top.conflicts == (("c6", NOT_OGI),) and top.harmless == 1
    assert top.precision == 1.0
    # A not-OGI decision the markers would not catch counts against the proposal.
    quiet = [example_from(f"n{i}", f"某街道政府购买服务的第{i}个问题", not_ogi=True) for i in range(2)]
    assert all(p.phrase != "购买服务" or p.precision < 1 for p in propose(REAL, [*BUY, *quiet]))


def test_multi_department_decisions_support_nothing_alone():
    both = [example_from(f"m{i}", f"请公开某县政府购买服务项目的预算{i}", ["czt", "rst"]) for i in range(3)]
    assert propose(REAL, both) == []


def test_decided_proposals_and_known_words_are_not_proposed_again():
    [top, *_] = propose(REAL, BUY)
    assert all(p.proposal_id != top.proposal_id for p in propose(REAL, BUY, closed=[top.proposal_id]))
    # A department's own keyword is never proposed (预算 is the finance department's already).
    budget = [example_from(f"b{i}", f"请公开某乡预算草案{i}", ["czt"]) for i in range(3)]
    assert all(p.phrase != "预算" for p in propose(REAL, budget))


def test_another_departments_word_is_not_proposed_for_this_one():
    roads = [example_from(f"r{i}", f"请公开某公路旁政府购买服务的名单{i}", ["czt"]) for i in range(3)]
    assert all("公路" not in p.phrase for p in propose(REAL, roads))


def test_candidates_are_content_words_and_their_pairs():
    c = learning.candidates("请公开某县政府购买服务项目的承接主体名单")
    assert "购买服务" in c and "承接主体" in c
    assert not c & {"请", "公开", "某县", "的", "名单", "项目"}


def test_an_accepted_proposal_routes_the_next_application():
    [top, *_] = propose(REAL, BUY)
    text = "请公开某镇政府购买服务的资金结算情况"
    assert decide(REAL, text).triage
    dept = learning.accepted_department(REAL, top.as_dict())
    assert dept["keywords"][-1] == "购买服务" and dept["code"] == "czt"
    raw = {**REAL.raw}
    agency = next(a for a in raw["agencies"] if a["code"] == REAL.agency_code)
    new_agency = {**agency, "departments": [dept if d["code"] == "czt" else d for d in agency["departments"]]}
    raw["agencies"] = [new_agency if a is agency else a for a in raw["agencies"]]
    after = parse(raw, "2")
    d = decide(after, text)
    assert not d.triage and d.codes == ["czt"] and d.picks[0].rule.startswith("keyword:购买服务")


def test_proposals_do_not_depend_on_the_words_taught_before():
    # Accepting a rule teaches the segmenter its phrase (kept whole); the phrase is not "common" for that.
    from services.routing import segmenter

    segmenter.learn_words(["购买服务"])
    assert segmenter.frequency("购买服务") < learning.COMMON
    [top, *_] = propose(REAL, BUY)
    assert top.phrase == "购买服务"
