"""Quarterly statistics and on-time rates. Pure logic.

Quarterly (one agency, one year): per quarter, applications received, applications handled
(replied or abandoned) by the first level of the annual report's rows (予以公开, 部分公开, 不予公开, 无法提供, 不予处理, 其他处理), and cases
open at the quarter's end.

On time: a reply (``reply.issued``; abandoned applications are not replies) is on time when its day
is on or before its deadline (see cases.py: the reply's ``deadline`` field, else the last
``deadline.changed``). Replies with no known deadline are counted as ``unknown`` and left out of
the rate, which is ``None`` when no reply has one. Per agency and per department (each department
that had a task in the case).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from services.audit.statistics.cases import ISSUED, Case

CATEGORIES = ("（一）予以公开", "（二）部分公开", "（三）不予公开", "（四）无法提供", "（五）不予处理", "（六）其他处理")


def category(report_row: str) -> str:
    return next(c for c in CATEGORIES if report_row.startswith(c))


def _quarter_bounds(year: int, q: int) -> tuple[date, date]:
    start = date(year, 3 * q - 2, 1)
    end = date(year + 1, 1, 1) if q == 4 else date(year, 3 * q + 1, 1)
    return start, end


def quarterly(cases: Iterable[Case], agency_code: str, year: int) -> list[dict[str, Any]]:
    mine = [c for c in cases if c.agency_code == agency_code]
    out = []
    for q in (1, 2, 3, 4):
        start, end = _quarter_bounds(year, q)
        replies = dict.fromkeys(CATEGORIES, 0)
        for c in mine:
            if c.replied_on is not None and start <= c.replied_on < end and c.outcome is not None:
                replies[category(c.outcome.report_row)] += 1
        out.append({
            "quarter": q,
            "received": sum(start <= c.received_on < end for c in mine),
            "handled": sum(replies.values()),
            "handled_by_category": replies,
            "open_at_end": sum(c.open_on(end) for c in mine),
        })
    return out


def _rate(on_time: int, late: int) -> float | None:
    return None if on_time + late == 0 else on_time / (on_time + late)


def on_time(cases: Iterable[Case], agency_code: str, start: date, end: date) -> dict[str, Any]:
    """On-time rate of the replies issued in [start, end) by one agency, and per department."""
    total = {"on_time": 0, "late": 0, "unknown": 0}
    depts: dict[str, dict[str, Any]] = {}
    for c in cases:
        if c.agency_code != agency_code or c.closed_by != ISSUED or not start <= c.replied_on < end:  # type: ignore[operator]
            continue
        verdict = "unknown" if c.deadline is None else ("on_time" if c.replied_on <= c.deadline else "late")
        total[verdict] += 1
        for code, name in c.departments.items():
            d = depts.setdefault(code, {"dept_code": code, "dept_name": name, "on_time": 0, "late": 0, "unknown": 0})
            d[verdict] += 1
    for d in depts.values():
        d["rate"] = _rate(d["on_time"], d["late"])
    return {"agency_code": agency_code, **total, "rate": _rate(total["on_time"], total["late"]),
            "departments": sorted(depts.values(), key=lambda d: d["dept_code"])}
