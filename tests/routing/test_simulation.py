"""The year's simulation of issue #13 (benchmarks/routing_learning.py), smaller: the triage share
falls as accepted rules accumulate, and nothing is routed wrongly on the way."""

from __future__ import annotations

from benchmarks.routing_learning import simulate


def test_the_triage_share_falls_and_nothing_is_routed_wrongly():
    rows = simulate(cases_per_month=40, seed=7, months=12)
    assert len(rows) == 12
    assert sum(r["wrong"] for r in rows) == 0
    first, last = rows[0]["share"], sum(r["share"] for r in rows[-3:]) / 3
    assert first > 0.35 and last < 0.25 and last < first / 2, (first, last)
    assert sum(r["accepted"] for r in rows) >= 10
    assert int(rows[-1]["version"]) == 1 + sum(r["accepted"] for r in rows)  # one version per accepted rule
