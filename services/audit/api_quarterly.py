"""HTTP API of the quarterly red/black list (季度红黑榜: JSON, CSV, XLSX) and of the applicants'
satisfaction, computed on request from the ledger's events (services/audit/quarterly.py).

Working days (the departments' average time used) come from the operator calendar files
(``AUDIT_CALENDAR_DIR``: ``<YEAR>.json``, the State Council's holiday notice as the reply
service's clock reads it) and, for the years without a file, from the chinese-calendar package;
a year neither covers counts weekends only."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Query
from fastapi.responses import Response

from services.audit import quarterly as qr
from services.audit.ledger import Ledger
from services.audit.settings import AuditSettings
from servicekit.http import content_disposition
from servicekit.validation import problem

Agency = Annotated[str | None, Query(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$",
                                     description="机关代码；不填为本机关")]
QUARTER = r"^(200[89]|20[1-9][0-9]|2100)Q[1-4]$"  # 2008Q1 .. 2100Q4 (as the annual report's years)
Quarter = Annotated[str, Query(pattern=QUARTER, description="季度，如 2026Q3")]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def thresholds_of(settings: AuditSettings) -> qr.Thresholds:
    return qr.Thresholds(**{f: getattr(settings, f"ranking_{f}") for f in qr.Thresholds.__dataclass_fields__})


def calendar(directory: str | Path) -> qr.IsWorkday:
    """Working days: operator files first (their year entirely), else chinese-calendar, else Mon-Fri."""
    import chinese_calendar

    files: dict[int, tuple[set[date], set[date]]] = {}
    folder = Path(directory)
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            obj = json.loads(path.read_text("utf-8"))
            holidays = set()
            for h in obj.get("holidays") or []:
                d, last = date.fromisoformat(h["start"]), date.fromisoformat(h["end"])
                while d <= last:
                    holidays.add(d)
                    d += timedelta(days=1)
            makeup = {date.fromisoformat(m["date"]) for m in obj.get("makeup_workdays") or []}
            files[int(obj["year"])] = (holidays, makeup)
        except (OSError, ValueError, KeyError, TypeError):
            continue  # an unreadable file: the reply service's clock reports it; the package decides

    def is_workday(d: date) -> bool:
        for year in (d.year, d.year - 1, d.year + 1):  # a notice may name days of the adjacent year
            if year in files:
                holidays, makeup = files[year]
                if d in makeup:
                    return True
                if d in holidays:
                    return False
        if d.year in files:
            return d.weekday() < 5
        try:
            return bool(chinese_calendar.is_workday(d))
        except NotImplementedError:
            return d.weekday() < 5

    return is_workday


def add_quarterly_routes(app: FastAPI, ledger: Ledger, default_agency: str, settings: AuditSettings) -> None:
    tags: list = ["statistics"]

    @app.get("/statistics/red-black", tags=tags,
             responses={200: {"content": {"text/csv": {}, XLSX: {}}}})
    async def red_black(quarter: Quarter, agency: Agency = None,
                        format: Literal["json", "csv", "xlsx"] = "json") -> Any:  # noqa: A002, ANN401
        """季度红黑榜: the departments of the quarter ranked, with the red and the black list (thresholds
        ``AUDIT_RANKING_*``), from the ledger's events."""
        try:
            year, q = qr.parse_quarter(quarter)
        except ValueError as exc:
            return problem(422, "quarter", str(exc))
        events = await ledger.events_of_types(qr.TYPES)
        table = qr.red_black(events, agency or default_agency, year, q, calendar(settings.calendar_dir),
                             thresholds_of(settings))
        name = f"red-black-{table['agency_code']}-{table['quarter']}"
        if format == "csv":
            return Response(("\ufeff" + qr.to_csv(table)).encode("utf-8"), media_type="text/csv; charset=utf-8",
                            headers={"Content-Disposition": content_disposition("attachment", f"{name}.csv")})
        if format == "xlsx":
            return Response(qr.to_xlsx(table), media_type=XLSX,
                            headers={"Content-Disposition": content_disposition("attachment", f"{name}.xlsx")})
        return table

    @app.get("/statistics/satisfaction", tags=tags)
    async def satisfaction(quarter: Annotated[str | None, Query(pattern=QUARTER, description="季度，如 2026Q3")] = None,
                           year: Annotated[int | None, Query(ge=2008, le=2100)] = None,
                           agency: Agency = None) -> Any:  # noqa: ANN401
        """The applicants' ratings (每案最后一次评价) by department and by outcome: counts and shares."""
        if quarter:
            y, q = qr.parse_quarter(quarter)
            start, end = qr.quarter_bounds(y, q)
        elif year:
            start, end = date(year, 1, 1), date(year + 1, 1, 1)
        else:
            return problem(422, "quarter", "请指定季度（quarter，如 2026Q3）或年度（year）", "missing")
        events = await ledger.events_of_types(qr.TYPES)
        return qr.satisfaction(events, agency or default_agency, start, end)
