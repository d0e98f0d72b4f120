"""Invariants of the clock, over generated histories (hypothesis)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.vocabulary import Channel
from services.reply.clock.calendar import default_calendar
from services.reply.clock.clock import (
    Consultation,
    ConsultationEnd,
    Extension,
    History,
    PartyKind,
    Status,
    compute,
)

CAL = default_calendar()
# Receipt dates whose 40-WD + pauses horizon stays inside covered years (2024–2026) …
covered_dates = st.dates(min_value=date(2024, 1, 1), max_value=date(2026, 9, 30))
# … and some that run into 2027 (provisional).
any_dates = st.dates(min_value=date(2024, 1, 1), max_value=date(2026, 12, 31))


@st.composite
def consultations(draw, start: date) -> tuple[Consultation, ...]:
    out = []
    for n in range(draw(st.integers(0, 2))):
        sent = start + timedelta(days=draw(st.integers(0, 25)))
        answered = draw(st.one_of(st.none(), st.integers(0, 30)))
        end = None if answered is None else draw(st.sampled_from(list(ConsultationEnd)))
        out.append(
            Consultation(
                number=n + 1,
                party_kind=draw(st.sampled_from(list(PartyKind))),
                party="第三方",
                sent_on=sent,
                ended_on=None if answered is None else sent + timedelta(days=answered),
                end=end,
            )
        )
    return tuple(out)


@st.composite
def histories(draw, dates=covered_dates) -> History:
    received = draw(dates)
    ext = draw(st.one_of(st.none(), st.integers(1, 20)))
    return History(
        received_on=received,
        channel=draw(st.sampled_from(list(Channel))),
        extension=None if ext is None else Extension(received + timedelta(days=1), ext, "u", "ogi_head", "r"),
        consultations=draw(consultations(received)),
    )


as_of_offsets = st.integers(0, 80)


@settings(max_examples=300, deadline=None)
@given(histories(any_dates), as_of_offsets)
def test_deadline_is_never_before_receipt(hist, off):
    d = compute(hist, CAL, as_of=hist.received_on + timedelta(days=off))
    assert d.due_on is not None and d.due_on > hist.received_on
    # exactly limit_wd counted days, the last one is the deadline, and it is a working day
    counted = [e for e in d.days if e.counted is not None]
    assert len(counted) == d.limit_wd and counted[-1].day == d.due_on
    assert CAL.classify_provisional(d.due_on).is_workday
    assert bool(d.missing_years) == any(not CAL.covers(e.day.year) for e in d.days)


@settings(max_examples=300, deadline=None)
@given(histories(), st.data())
def test_a_pause_never_shortens_the_deadline(hist, data):
    without = compute(replace(hist, consultations=()), CAL)
    extra = data.draw(consultations(hist.received_on))
    with_ = compute(replace(hist, consultations=extra), CAL)
    assert with_.due_on >= without.due_on
    # and a longer pause (same consultation, later end) never gives an earlier date
    if extra and extra[0].ended_on is not None:
        longer = replace(extra[0], ended_on=extra[0].ended_on + timedelta(days=data.draw(st.integers(1, 10))))
        again = compute(replace(hist, consultations=(longer, *extra[1:])), CAL)
        assert again.due_on >= with_.due_on


@settings(max_examples=300, deadline=None)
@given(histories(), st.integers(0, 120))
def test_adding_a_holiday_never_moves_the_deadline_earlier(hist, off):
    holiday = hist.received_on + timedelta(days=off)
    before = compute(hist, CAL)
    after = compute(hist, CAL.with_holiday(holiday, "临时调整"))
    assert after.due_on >= before.due_on
    if before.due_on is not None and hist.received_on < holiday <= before.due_on and CAL.is_workday(holiday):
        paused = {x for p in before.pauses for x in p.paused_workdays}
        if holiday not in paused:
            assert after.due_on > before.due_on  # a counted day removed: strictly later


@settings(max_examples=300, deadline=None)
@given(histories(), st.integers(1, 20))
def test_an_extension_never_shortens_and_adds_exactly_its_days(hist, days):
    base = compute(replace(hist, extension=None), CAL)
    ext = compute(replace(hist, extension=Extension(hist.received_on, days, "u", "ogi_head", "r")), CAL)
    assert ext.due_on > base.due_on
    counted_after = [e for e in ext.days if e.counted is not None and e.day > base.due_on]
    assert len(counted_after) == days


@settings(max_examples=200, deadline=None)
@given(histories(), st.integers(1, 30))
def test_correction_restart_never_ends_before_the_corrected_application(hist, gap):
    from services.reply.clock.clock import Correction

    got = hist.received_on + timedelta(days=gap)
    c = Correction(issued_on=hist.received_on, items=("x",), due_on=got, received_on=got)
    d = compute(replace(hist, correction=c, consultations=()), CAL)
    assert d.status is Status.RUNNING and d.start == got and d.due_on > got
