"""A case's timeline: causes before effects whatever the clocks say; otherwise by time."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta

import pytest

from services.audit.timeline import causal_order

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def t(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def ev(eid: str, at: float, cause: str | None = None) -> dict:
    return {"id": eid, "time": t(at), "causationid": cause, "type": f"type-of-{eid}"}


def ids(events) -> list[str]:
    return [e["id"] for e in events]


def assert_causal(ordered: list[dict]) -> None:
    position = {e["id"]: i for i, e in enumerate(ordered)}
    for e in ordered:
        cause = e.get("causationid")
        if cause in position and cause != e["id"]:
            assert position[cause] < position[e["id"]], (cause, e["id"])


def test_independent_events_by_time():
    events = [ev("c", 3), ev("a", 1), ev("b", 2)]
    assert ids(causal_order(events)) == ["a", "b", "c"]


def test_effect_never_precedes_its_cause_despite_clock_skew():
    # routing's clock is 5 s behind intake's: the routed event carries an earlier time.
    received = ev("received", 10)
    routed = ev("routed", 5, cause="received")
    assert ids(causal_order([routed, received])) == ["received", "routed"]


def test_skewed_chain_of_three():
    events = [ev("c", 1, "b"), ev("b", 2, "a"), ev("a", 3)]
    assert ids(causal_order(events)) == ["a", "b", "c"]


def test_ready_events_interleave_by_time():
    # a (t=1) causes b (t=4); c (t=3) is independent: c goes between them.
    events = [ev("b", 4, "a"), ev("c", 3), ev("a", 1)]
    assert ids(causal_order(events)) == ["a", "c", "b"]


def test_a_skewed_effect_still_waits_for_its_cause_while_others_go_by_time():
    # a (t=5) causes b (t=1); c (t=3) is independent and earlier than a.
    events = [ev("a", 5), ev("b", 1, "a"), ev("c", 3)]
    assert ids(causal_order(events)) == ["c", "a", "b"]


def test_fan_out_effects_by_time():
    events = [
        ev("routed", 2, "received"),
        ev("task-zrzy", 3.5, "routed"),
        ev("task-czt", 3.2, "routed"),
        ev("received", 1),
        ev("notice", 1.5, "received"),
    ]
    assert ids(causal_order(events)) == ["received", "notice", "routed", "task-czt", "task-zrzy"]


def test_events_whose_cause_is_absent_are_roots():
    # The answer was caused by a task event recorded under another case, or not recorded yet.
    events = [ev("answer", 2, cause="not-in-this-case"), ev("received", 1), ev("late", 0.5, cause="gone")]
    assert ids(causal_order(events)) == ["late", "received", "answer"]


def test_self_caused_event_is_a_root():
    assert ids(causal_order([ev("a", 2, "a"), ev("b", 1)])) == ["b", "a"]


def test_empty():
    assert causal_order([]) == []


def test_events_are_returned_unchanged():
    events = [ev("a", 1), ev("b", 0, "a")]
    out = causal_order(events)
    assert out[0] is events[0] and out[1] is events[1]


CASE = [
    ev("received", 10),
    ev("contact", 10),
    ev("routed", 9, "received"),  # skewed
    ev("task-1", 12, "routed"),
    ev("task-2", 12, "routed"),  # same time as task-1
    ev("answer-1", 11, "task-1"),  # skewed
    ev("answer-2", 20, "task-2"),
    ev("reply", 21, "answer-2"),
    ev("notice", 19, "reply"),  # skewed
]


@pytest.mark.parametrize("seed", range(12))
def test_result_is_a_causal_permutation_independent_of_input_order(seed):
    events = list(CASE)
    random.Random(seed).shuffle(events)
    out = causal_order(events)
    assert sorted(ids(out)) == sorted(ids(CASE))
    assert_causal(out)
    assert ids(out) == ids(causal_order(CASE))


def test_ties_in_time_are_deterministic():
    a = [ev("x", 1), ev("y", 1), ev("z", 1)]
    orders = {tuple(ids(causal_order(list(p)))) for p in itertools.permutations(a)}
    assert len(orders) == 1


def test_no_event_is_lost_even_with_a_causation_cycle():
    # Two events naming each other as cause cannot both come first; a timeline of the ledger must
    # still show every recorded event rather than silently dropping them.
    events = [ev("a", 1, "b"), ev("b", 2, "a"), ev("c", 3)]
    out = causal_order(events)
    assert sorted(ids(out)) == ["a", "b", "c"]
