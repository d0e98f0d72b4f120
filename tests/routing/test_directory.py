"""The directory file and the pure directory changes (validation, versions are in test_store.py)."""

from __future__ import annotations

import copy

import pytest

from contracts.topics import department_inbox
from services.routing.directory import DirectoryError, apply_change, load, load_raw, parse

RAW = load_raw()
DIRECTORY = load()


def test_the_sample_directory():
    assert DIRECTORY.version == "1"
    assert (DIRECTORY.agency_code, DIRECTORY.agency_name, DIRECTORY.home.division_code) == (
        "yn-gov-office", "云南省人民政府办公厅", "530000")
    assert len(DIRECTORY.departments) >= 10
    names = {d.name for d in DIRECTORY.departments}
    assert {"云南省教育厅", "云南省卫生健康委员会", "云南省公安厅", "云南省自然资源厅", "云南省财政厅"} <= names
    others = {a.code: a for a in DIRECTORY.agencies if a.code != DIRECTORY.agency_code}
    assert others["km-gov"].division_code == "530100" and others["km-gov"].on_bus
    assert others["ky-gov"].division_code == "532502" and not others["ky-gov"].on_bus
    for dept in (DIRECTORY.ogi_office, *DIRECTORY.departments):
        assert dept.contact.address and dept.contact.phone and dept.contact.office_hours, dept.code
        assert department_inbox(dept.code).name == f"gongkai.dept.{dept.code}.tasks"
    for dept in DIRECTORY.departments:
        assert dept.subjects and dept.catalogue and dept.keywords, dept.code


def test_no_keyword_belongs_to_two_departments():
    seen: dict[str, str] = {}
    for dept in DIRECTORY.departments:
        for word in (*dept.keywords, *dept.weak_keywords, *dept.aliases, dept.name):
            assert seen.setdefault(word, dept.code) == dept.code, (word, seen[word], dept.code)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda r: r["agencies"][0].update(division_code="53000"), "行政区划代码"),
        (lambda r: r["agencies"][1]["departments"].append({"code": "czt", "name": "昆明市财政局", "subjects": ["x"]}),
         "唯一"),
        (lambda r: r.update(home_agency="nope"), "home_agency"),
        (lambda r: r["agencies"][0].pop("ogi_office"), "ogi_office"),
        (lambda r: r["agencies"][0]["departments"][0].update(code="Fgw"), "代码"),
        (lambda r: r["agencies"][0]["departments"][0].update(keywords=["价格", "价格"]), "重复"),
        (lambda r: r["agencies"][0]["departments"][0].update(weak_keywords=["立项"]), "同时"),
        (lambda r: r["agencies"][0]["departments"][0].update(subjects=[]), "subjects"),
        (lambda r: r["agencies"][0]["departments"][0].update(contact={"fax": "1"}), "联系方式"),
    ],
)
def test_invalid_directories_are_refused(mutate, message):
    raw = copy.deepcopy(RAW)
    mutate(raw)
    with pytest.raises(DirectoryError) as exc:
        parse(raw, "x")
    assert message in str(exc.value)


def test_changes_are_pure_and_summarised():
    dept = {"code": "tyj", "name": "云南省体育局", "subjects": ["体育"]}
    raw2, summary = apply_change(RAW, "upsert_department", "yn-gov-office", dept)
    assert "新增部门" in summary and parse(raw2, "2").get("tyj").name == "云南省体育局"
    assert load_raw() == RAW and DIRECTORY.get("tyj") is None  # the input is untouched
    raw3, summary = apply_change(raw2, "upsert_department", "yn-gov-office", {**dept, "name": "云南省体育局（改）"})
    assert "修改部门" in summary and parse(raw3, "3").get("tyj").name == "云南省体育局（改）"
    raw4, summary = apply_change(raw3, "remove_department", "yn-gov-office", {"code": "tyj"})
    assert "删除部门" in summary and parse(raw4, "4").get("tyj") is None
    raw5, summary = apply_change(raw4, "upsert_agency", "qj-gov", {"name": "曲靖市人民政府", "division_code": "530300"})
    assert "新增机关" in summary and parse(raw5, "5").agency("qj-gov").division_code == "530300"
    raw6, _ = apply_change(raw5, "upsert_agency", "yn-gov-office",
                           {"name": "云南省人民政府办公厅", "division_code": "530000", "on_bus": True})
    assert len(parse(raw6, "6").departments) == len(DIRECTORY.departments)  # departments kept
    for op, agency, payload in (("remove_department", "yn-gov-office", {"code": "ogi"}),
                                ("remove_department", "yn-gov-office", {"code": "none"}),
                                ("upsert_department", "none", dept), ("rename", "yn-gov-office", {})):
        with pytest.raises(DirectoryError):
            apply_change(RAW, op, agency, payload)
