"""The routing rules on small synthetic directories (so each rule is tested alone) and on the real one."""

from __future__ import annotations

import pytest

from services.routing import rules
from services.routing.directory import load, parse
from services.routing.rules import PICK_THRESHOLD, decide

REAL = load()


def directory(*departments: dict) -> object:
    raw = {
        "home_agency": "a",
        "agencies": [{"code": "a", "name": "某机关", "division_code": "530000", "on_bus": True,
                      "ogi_office": {"code": "ogi", "name": "某机关政府信息公开办公室"},
                      "departments": list(departments)}],
    }
    return parse(raw, "t")


FOREST = {"code": "lc", "name": "林草局", "subjects": ["林业"], "keywords": ["林地"], "weak_keywords": ["森林"],
          "catalogue": ["森林防火责任制落实情况", "天然林保护工程资金"]}
WATER = {"code": "gs", "name": "供水局", "subjects": ["供水"], "keywords": ["供水"], "weak_keywords": ["水厂", "管网"],
         "catalogue": ["城市供水水质公告"]}
ROADS = {"code": "gl", "name": "公路局", "subjects": ["公路"], "keywords": ["公路"], "catalogue": ["公路养护计划"]}
D = directory(FOREST, WATER, ROADS)


def test_one_strong_keyword_routes_with_its_confidence():
    d = decide(D, "请公开某县林地征占用审批情况")
    assert not d.triage and d.codes == ["lc"]
    assert d.picks[0].confidence == rules.STRONG_EVIDENCE >= PICK_THRESHOLD
    assert d.picks[0].rule == "keyword:林地"


def test_weak_keywords_alone_are_not_enough():
    one = decide(D, "请公开某地管网的情况")
    assert one.triage and one.reasons[0].startswith("triage:low-confidence:")
    assert [(p.dept_code, p.confidence) for p in one.suggestions] == [("gs", rules.WEAK_EVIDENCE)]
    two = decide(D, "请公开某水厂管网的情况")  # two weak hits: 1 - 0.5 * 0.5 = 0.75 < 0.8
    assert two.triage and [p.confidence for p in two.suggestions] == [0.75]


def test_a_weak_keyword_with_catalogue_support_routes():
    # 森林 (weak) + the catalogue entry 森林防火责任制落实情况 (containment >= 0.5): 1 - 0.5 * 0.4 = 0.8,
    # and each word (jieba) of the clause that only this department's vocabulary holds adds 0.6.
    d = decide(D, "请公开森林防火责任制落实情况")
    assert not d.triage and d.codes == ["lc"]
    rule = d.picks[0].rule
    assert "catalogue:森林防火责任制落实情况" in rule and rule.startswith("weak-keyword:森林;words:")
    words = rule.split(";words:")[1].split(";")[0].split(",")
    assert words and all(w in "防火责任制落实" for w in words)
    assert d.picks[0].confidence == pytest.approx(1 - 0.5 * 0.4 * 0.4 ** len(words), abs=1e-4)


def test_catalogue_alone_routes_when_clear_and_triages_when_partial():
    scores = rules.catalogue_scores(D, "请公开天然林保护工程资金的拨付")
    assert scores["lc"][0] >= rules.CATALOGUE_STRONG and scores["gs"][0] < rules.CATALOGUE_WEAK
    d = decide(D, "请公开天然林保护工程资金的拨付")
    assert not d.triage and d.codes == ["lc"] and d.picks[0].rule == "catalogue:天然林保护工程资金"
    assert d.picks[0].confidence == rules.CATALOGUE_EVIDENCE
    # Only part of the entry's bigrams, and no word of the department's vocabulary: uncertain.
    text = "请公开天然林的规定"
    score = rules.catalogue_scores(D, text)["lc"][0]
    assert score < rules.CATALOGUE_WEAK
    partial = decide(D, text)
    assert partial.triage and partial.reasons[0].startswith(("triage:uncertain:", "triage:uncovered:"))


def test_words_of_one_department_route_without_a_keyword():
    # 天然林 and 保护 are words (jieba) only the forestry department's catalogue holds: 1 - 0.4 * 0.4,
    # with the catalogue's partial support on top.
    d = decide(D, "请公开天然林保护的规定")
    assert not d.triage and d.codes == ["lc"]
    assert d.picks[0].rule.startswith("words:") and "天然林" in d.picks[0].rule
    assert d.picks[0].confidence >= rules.PICK_THRESHOLD
    # A word of another department in the same clause: ambiguous, never a guess.
    both = decide(D, "请公开天然林保护水厂的规定")
    assert both.triage and both.reasons[0].startswith("triage:ambiguous:")
    assert {p.dept_code for p in both.suggestions} == {"lc", "gs"}


def test_two_departments_in_the_head_are_ambiguous():
    d = decide(D, "请公开供水公路项目")
    assert d.triage and d.reasons[0].startswith("triage:ambiguous:")
    assert sorted(p.dept_code for p in d.suggestions) == ["gl", "gs"]


def test_head_final_context_is_dropped_but_coordination_keeps_both():
    assert decide(D, "请公开某公路沿线的供水管网改造方案").codes == ["gs"]
    assert decide(D, "请公开某公路养护计划和供水水质公告").codes == ["gs", "gl"]


def test_weak_head_after_a_strong_context_is_ambiguous():
    d = decide(D, "请公开某公路的管网")
    assert d.triage and d.reasons[0].startswith("triage:ambiguous:")


def test_uncovered_clause_sends_everything_to_triage():
    d = decide(D, "请公开林地审批结果以及某小区的物业合同")
    assert d.triage and d.reasons == ("triage:uncovered:某小区的物业合同",)
    assert [p.dept_code for p in d.suggestions] == ["lc"]  # kept as a suggestion, not as a task
    assert [p.dept_code for p in d.picks] == ["ogi"]


def test_generic_coordinate_follows_the_previous_clause():
    assert decide(D, "请公开林地审批标准和审批结果、发放名单").codes == ["lc"]


@pytest.mark.parametrize("marker", rules.NOT_OGI_MARKERS)
def test_not_ogi_markers_go_to_triage_even_with_keywords(marker):
    d = decide(D, f"关于林地的{marker}")
    assert d.triage and d.reasons == (f"triage:not-ogi:{marker}",) and d.suggestions == ()


def test_explicit_targets_win_and_do_not_triage():
    d = decide(D, "请公开林地", ["gs", "gl"])
    assert not d.triage and d.codes == ["gs", "gl"] and {p.rule for p in d.picks} == {"explicit-target"}
    unknown = decide(D, "请公开林地", ["gs", "xx"])
    assert unknown.triage and unknown.codes == ["gs", "ogi"]


def test_longest_match_and_blockers_on_the_real_directory():
    # 全省 blocks 省道 (a provincial road) across the word boundary of 全省道路.
    assert decide(REAL, "请公开2025年全省道路交通事故统计数据").codes == ["gat"]
    # 被征地农民 (rst) hides 征地 (zrzy); 水库移民 (swj) hides 水库 (slt).
    assert decide(REAL, "请公开被征地农民社会保障资金情况").codes == ["rst"]
    assert decide(REAL, "请公开某水库移民后期扶持标准").codes == ["swj"]


def test_the_triage_pick_is_the_ogi_office_with_the_first_reason():
    d = decide(REAL, "请公开相关文件")
    assert d.triage and d.codes == [REAL.ogi_office.code]
    assert d.picks[0].rule == "triage:no-rule-matched" == d.reasons[0]
