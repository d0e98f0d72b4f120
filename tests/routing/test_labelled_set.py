"""Routes every description of the labelled set (labelled_set.py) with the real directory file and
counts: routed to exactly the right departments, sent to triage, routed wrongly. The goal, asserted:
none wrong. A pick is wrong when it names a department outside the label, misses one of the label,
or routes a description labelled triage."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from services.routing.directory import load
from services.routing.rules import PICK_THRESHOLD, decide
from tests.routing.figures import FIGURES
from tests.routing.labelled_set import LABELLED, LATER, TRIAGE

DIRECTORY = load()


@dataclass
class Outcome:
    description: str
    label: frozenset[str] | str
    triage: bool
    picked: frozenset[str]

    @property
    def verdict(self) -> str:
        if self.label == TRIAGE:
            return "right" if self.triage else "wrong"
        if self.triage:
            return "triage"
        return "right" if self.picked == self.label else "wrong"


def outcomes(labelled: list = LABELLED) -> list[Outcome]:  # noqa: B006
    out = []
    for description, label in labelled:
        d = decide(DIRECTORY, description, [])
        out.append(Outcome(description, label, d.triage, frozenset(d.codes)))
    return out


def test_the_set_is_large_and_well_formed():
    assert len(LABELLED) >= 50
    descriptions = [d for d, _ in LABELLED + LATER]
    assert len(set(descriptions)) == len(descriptions), "each description once"
    codes = {d.code for d in DIRECTORY.departments}
    for description, label in LABELLED + LATER:
        assert label == TRIAGE or (isinstance(label, frozenset) and label and label <= codes), description
    # Both kinds are represented, and several multi-department labels.
    assert sum(1 for _, lab in LABELLED if lab == TRIAGE) >= 10
    assert sum(1 for _, lab in LABELLED if lab != TRIAGE and len(lab) > 1) >= 4


def test_none_routed_wrongly():
    results = outcomes()
    counts = {v: sum(1 for r in results if r.verdict == v) for v in ("right", "triage", "wrong")}
    routable = [r for r in results if r.label != TRIAGE]
    unclear = [r for r in results if r.label == TRIAGE]
    FIGURES.update({
        "N": len(results),
        "exactly right (routed to exactly the label, or triage when labelled triage)": counts["right"],
        "sent to triage although routable": counts["triage"],
        "wrong": counts["wrong"],
        "routable descriptions": f"{len(routable)}: {sum(r.verdict == 'right' for r in routable)} right, "
                                 f"{sum(r.verdict == 'triage' for r in routable)} triage, "
                                 f"{sum(r.verdict == 'wrong' for r in routable)} wrong",
        "descriptions labelled triage": f"{len(unclear)}: {sum(r.triage for r in unclear)} sent to triage, "
                                        f"{sum(not r.triage for r in unclear)} routed (wrong)",
        "routable but sent to triage": [r.description for r in routable if r.verdict == "triage"],
    })
    print(f"\nlabelled set: N={len(results)} right={counts['right']} triage={counts['triage']} wrong={counts['wrong']}")
    wrong = [(r.description, r.label, sorted(r.picked), r.triage) for r in results if r.verdict == "wrong"]
    assert not wrong, wrong
    assert sum(counts.values()) == len(LABELLED)


@pytest.mark.parametrize(
    "description",
    [
        # The descriptions the end-to-end tests, the demo and the benchmark rely on.
        "请公开某村2025年征地补偿标准、年度部门预算及某河段的水质监测数据",
        "请公开某村2025年征地补偿标准、省级部门年度预算及某河段的水质监测数据",
        "[bench 1a2b3c #17] 请公开某村征地补偿标准、2025年预算执行情况以及某河段的水质环境监测数据",
    ],
)
def test_pipeline_descriptions_route_to_the_three_departments(description):
    d = decide(DIRECTORY, description, [])
    assert not d.triage
    assert d.codes == ["zrzy", "czt", "sthjt"]  # directory order
    assert all(p.confidence >= PICK_THRESHOLD for p in d.picks)


def test_every_routed_pick_carries_a_rule_and_a_confidence_above_the_threshold():
    for description, _ in LABELLED:
        d = decide(DIRECTORY, description, [])
        if d.triage:
            [pick] = d.picks
            assert pick.dept_code == DIRECTORY.ogi_office.code and pick.rule.startswith("triage:")
            assert d.reasons and d.reasons[0] == pick.rule
        else:
            for p in d.picks:
                assert p.rule.split(":")[0] in ("keyword", "phrasing", "weak-keyword", "catalogue", "words"), p.rule
                assert PICK_THRESHOLD <= p.confidence <= 1.0


def test_none_of_the_later_set_routed_wrongly():
    results = outcomes(LATER)
    counts = {v: sum(1 for r in results if r.verdict == v) for v in ("right", "triage", "wrong")}
    FIGURES["later set (out of sample)"] = (f"N={len(results)}: {counts['right']} right, {counts['triage']} "
                                            f"routable sent to triage, {counts['wrong']} wrong")
    wrong = [(r.description, r.label, sorted(r.picked), r.triage) for r in results if r.verdict == "wrong"]
    assert not wrong, wrong
