"""Quiet hours (防打扰时间, issue #17): a text due inside the window waits for its end. Hand-counted
cases in China time (UTC+8): windows over midnight and within a day, at and around their edges."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from services.notify.quiet import CHINA, QuietHours, quiet_until

NIGHT = QuietHours(time(21, 0), time(8, 0))
NOON = QuietHours(time(12, 0), time(14, 30))


def china(y: int, mo: int, d: int, h: int, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=CHINA)


def test_parse():
    assert QuietHours.parse("21:00-08:00") == NIGHT
    assert QuietHours.parse(" 12:00 - 14:30 ") == NOON
    assert QuietHours.parse("") is None and QuietHours.parse(None) is None and QuietHours.parse("  ") is None
    for bad in ("21-8", "25:00-08:00", "21:00-08:61", "21:00", "08:00-08:00", "nachts"):
        with pytest.raises(ValueError):
            QuietHours.parse(bad)


@pytest.mark.parametrize(("at", "until"), [
    # evening, inside: until 08:00 the next morning
    (china(2026, 12, 4, 21, 0), china(2026, 12, 5, 8, 0)),  # the start is inside
    (china(2026, 12, 4, 23, 59, 59), china(2026, 12, 5, 8, 0)),
    # after midnight, inside: until 08:00 the same day
    (china(2026, 12, 5, 0, 0), china(2026, 12, 5, 8, 0)),
    (china(2026, 12, 5, 7, 59, 59), china(2026, 12, 5, 8, 0)),
    # the end is outside; the day is outside
    (china(2026, 12, 5, 8, 0), None),
    (china(2026, 12, 5, 14, 0), None),
    (china(2026, 12, 5, 20, 59, 59), None),
    # over the year's end
    (china(2026, 12, 31, 22, 30), china(2027, 1, 1, 8, 0)),
])
def test_a_window_over_midnight(at, until):
    assert quiet_until(at, NIGHT) == (until.astimezone(UTC) if until else None)


@pytest.mark.parametrize(("at", "until"), [
    (china(2026, 12, 4, 11, 59, 59), None),
    (china(2026, 12, 4, 12, 0), china(2026, 12, 4, 14, 30)),
    (china(2026, 12, 4, 14, 29), china(2026, 12, 4, 14, 30)),
    (china(2026, 12, 4, 14, 30), None),
    (china(2026, 12, 4, 23, 0), None),
])
def test_a_window_within_a_day(at, until):
    assert quiet_until(at, NOON) == (until.astimezone(UTC) if until else None)


def test_the_clock_is_china_time_whatever_the_instant_is_given_in():
    # 13:30 UTC is 21:30 in China: inside; the morning's end is 00:00 UTC of the next day.
    assert quiet_until(datetime(2026, 12, 4, 13, 30, tzinfo=UTC), NIGHT) == datetime(2026, 12, 5, 0, 0, tzinfo=UTC)
    # 12:59 UTC is 20:59 in China: outside.
    assert quiet_until(datetime(2026, 12, 4, 12, 59, tzinfo=UTC), NIGHT) is None
    # 23:30 UTC is 07:30 the next day in China: inside, until 08:00 China = 00:00 UTC.
    assert quiet_until(datetime(2026, 12, 4, 23, 30, tzinfo=UTC), NIGHT) == datetime(2026, 12, 5, 0, 0, tzinfo=UTC)


def test_no_window_never_holds():
    assert quiet_until(china(2026, 12, 4, 3, 0), None) is None
