"""Counting working days with a service's own calendar test (pure; shared by reply's follow-up
queue and audit's quarterly ranking, which each bring their own calendar)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

IsWorkday = Callable[[date], bool]


def workdays_after(start: date, end: date, is_workday: IsWorkday) -> int:
    """Working days d with start < d <= end (0 when end <= start)."""
    n, d = 0, start + timedelta(days=1)
    while d <= end:
        n += is_workday(d)
        d += timedelta(days=1)
    return n
