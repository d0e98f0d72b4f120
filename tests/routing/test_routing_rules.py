"""Which departments answer a case, with the real directory (services/routing/directory.json)."""

from __future__ import annotations

import json
import re

import pytest

from contracts.topics import DEPARTMENT_INBOX_PATTERN, department_inbox
from services.routing import directory as directory_module
from services.routing.directory import Directory, load
from services.routing.rules import Pick, decide

DIRECTORY = load()
OGI = DIRECTORY.ogi_office.code


def codes(picks: list[Pick]) -> list[str]:
    return [p.dept_code for p in picks]


# --- the directory file ------------------------------------------------------------------------


def test_directory_loads():
    assert isinstance(DIRECTORY, Directory)
    assert DIRECTORY.version
    assert DIRECTORY.agency_code and DIRECTORY.agency_name
    assert DIRECTORY.ogi_office.name
    assert len(DIRECTORY.departments) >= 2
    raw = json.loads(directory_module.DEFAULT_PATH.read_text(encoding="utf-8"))
    [home] = [a for a in raw["agencies"] if a["code"] == raw["home_agency"]]
    assert [d.code for d in DIRECTORY.departments] == [d["code"] for d in home["departments"]]
    assert DIRECTORY.version == "1"  # the file is version 1; later versions come from the API


def test_codes_and_names_unique_including_the_ogi_office():
    codes_ = DIRECTORY.all_codes
    assert codes_[0] == OGI
    assert len(codes_) == len(set(codes_)) == len(DIRECTORY.departments) + 1
    names = [DIRECTORY.ogi_office.name] + [d.name for d in DIRECTORY.departments]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("dept", DIRECTORY.departments, ids=lambda d: d.code)
def test_every_department_has_keywords_and_subjects(dept):
    assert dept.keywords, dept.code
    assert all(isinstance(k, str) and k.strip() == k and k for k in dept.keywords)
    assert len(set(dept.keywords)) == len(dept.keywords)
    assert dept.subjects


@pytest.mark.parametrize("code", DIRECTORY.all_codes)
def test_every_code_is_a_valid_inbox_topic(code):
    topic = department_inbox(code)
    assert topic.name == f"gongkai.dept.{code}.tasks"
    assert re.match(DEPARTMENT_INBOX_PATTERN, topic.name)


def test_get_finds_departments_and_the_ogi_office():
    assert DIRECTORY.get(OGI) is DIRECTORY.ogi_office
    for d in DIRECTORY.departments:
        assert DIRECTORY.get(d.code) is d
    assert DIRECTORY.get("no-such-dept") is None


# --- explicit targets --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "targets",
    [["zrzy"], ["czt", "zrzy"], ["swj", "fgw", "rst"], [OGI], [OGI, "zjt"]],
)
def test_explicit_targets_are_exactly_those(targets):
    # The description would match other departments by keyword; explicit targets win.
    picks = list(decide(DIRECTORY, "关于征地补偿和预算的信息", targets).picks)
    assert codes(picks) == targets
    assert all(p.rule == "explicit-target" for p in picks)
    assert [p.dept_name for p in picks] == [DIRECTORY.get(c).name for c in targets]


def test_unknown_explicit_target_adds_the_ogi_office_for_triage():
    picks = list(decide(DIRECTORY, "关于征地补偿的信息", ["zrzy", "no-such-dept", "gone"]).picks)
    assert codes(picks) == ["zrzy", OGI]
    assert picks[0].rule == "explicit-target"
    assert picks[1].rule.startswith("triage:")
    assert "no-such-dept" in picks[1].rule and "gone" in picks[1].rule
    assert picks[1].dept_name == DIRECTORY.ogi_office.name


def test_only_unknown_targets_go_to_triage_only():
    picks = list(decide(DIRECTORY, "关于征地补偿的信息", ["no-such-dept"]).picks)
    assert codes(picks) == [OGI]
    assert picks[0].rule.startswith("triage:")


def test_unknown_target_with_ogi_named_explicitly_gives_one_ogi_pick():
    picks = list(decide(DIRECTORY, "任意", [OGI, "no-such-dept"]).picks)
    assert codes(picks) == [OGI]
    assert picks[0].rule == "explicit-target"


def test_one_pick_per_department_even_if_a_target_repeats():
    # The module promises "one pick per department"; each pick becomes a task whose id is derived
    # from (case, department), so two picks of one department give two tasks with the same id.
    picks = list(decide(DIRECTORY, "任意", ["zrzy", "czt", "zrzy"]).picks)
    assert sorted(codes(picks)) == ["czt", "zrzy"]


# --- keywords ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("description", "expected"),
    [
        # 征地 (zrzy) and 预算 (czt) in two clauses cut at 、; nothing else of the directory occurs.
        ("请公开某县2025年征地补偿标准、2025年预算", {"zrzy", "czt"}),
        # Head-final: the EIA report is the environment department's; the road is context.
        ("请公开昆明至某地高速公路的环评报告", {"sthjt"}),
        # Longest match: 水库移民 (swj) hides 水库 (slt).
        ("某水库移民安置补偿的发放情况", {"swj"}),
        ("某小区的施工许可证", {"zjt"}),
        ("某项目的立项批复文件", {"fgw"}),
        # Longest match: 被征地农民 (rst) hides 征地 (zrzy).
        ("被征地农民养老保险的缴费标准", {"rst"}),
    ],
)
def test_keyword_matches(description, expected):
    picks = list(decide(DIRECTORY, description, []).picks)
    assert set(codes(picks)) == expected
    assert len(picks) == len(expected)
    for p in picks:
        assert p.rule.startswith("keyword:")
        assert p.confidence >= 0.8
        hits = p.rule.removeprefix("keyword:").split(";")[0].split(",")
        dept = DIRECTORY.get(p.dept_code)
        assert hits and all(h in (*dept.keywords, *dept.aliases, *dept.weak_keywords) and h in description for h in hits)


def test_keyword_picks_follow_directory_order():
    picks = list(decide(DIRECTORY, "预算与征地", []).picks)
    order = [d.code for d in DIRECTORY.departments]
    assert codes(picks) == sorted(codes(picks), key=order.index) == ["zrzy", "czt"]


def test_keyword_rule_lists_at_most_five_hits():
    # Six keywords of one department in one clause (no delimiters between them).
    description = "征地土地征收集体土地用地审批建设用地不动产登记"
    [pick] = list(decide(DIRECTORY, description, []).picks)
    assert pick.dept_code == "zrzy"
    assert len(pick.rule.removeprefix("keyword:").split(";")[0].split(",")) == 5


@pytest.mark.parametrize("description", ["请公开本单位的会议纪要", "", "hello world"])
def test_nothing_matches_goes_to_ogi_triage(description):
    picks = list(decide(DIRECTORY, description, []).picks)
    assert len(picks) == 1
    assert picks[0].dept_code == OGI
    assert picks[0].dept_name == DIRECTORY.ogi_office.name
    assert picks[0].rule.startswith("triage:")


def test_ogi_office_has_no_keywords_so_it_is_never_a_keyword_pick():
    # Its only subject, as description, still goes to triage rather than a keyword pick.
    picks = list(decide(DIRECTORY, DIRECTORY.ogi_office.subjects[0], []).picks)
    assert [p.rule.startswith("triage:") for p in picks] == [True]
