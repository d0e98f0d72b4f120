"""HTTP API of the statistics: annual report tables 三 and 四 (JSON, CSV, XLSX), quarterly statistics,
on-time rates, heat map (HTML), repeated requests. Computed from the ledger's events on request."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Query
from fastapi.responses import HTMLResponse, Response

from services.audit.ledger import Ledger
from services.audit.statistics import annual, heatmap, periodic, repeated, service
from services.audit.statistics.cases import TYPES, Case, fold
from services.audit.statistics.remedies import REMEDY_TYPES, Remedy, fold_remedies
from servicekit.http import content_disposition
from servicekit.validation import MAX_INT

# An agency code as recorded on its events (any text but control characters), default the home agency.
Agency = Annotated[str | None, Query(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$",
                                     description="机关代码；不填为本机关")]
Year = Annotated[int, Query(ge=2008, le=2100)]


def china_today() -> date:
    return datetime.now(ZoneInfo("Asia/Shanghai")).date()


TAGS: list = ["statistics"]  # the OpenAPI group of these routes


def add_statistics_routes(app: FastAPI, ledger: Ledger, default_agency: str) -> None:

    async def cases() -> list[Case]:
        folded, _ = fold(await ledger.events_of_types(TYPES))
        return list(folded.values())

    async def cases_and_remedies() -> tuple[list[Case], list[Remedy], list[str]]:
        events = await ledger.events_of_types(TYPES + REMEDY_TYPES)
        folded, problems = fold(events)
        return list(folded.values()), list(fold_remedies(events).values()), problems

    @app.get("/statistics/annual", tags=TAGS, responses={200: {"content": {"text/csv": {}, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {}}}})
    async def annual_report(year: Year, agency: Agency = None,
                            format: Literal["json", "csv", "xlsx"] = "json") -> Any:  # noqa: A002
        all_cases, remedies, problems = await cases_and_remedies()
        table = annual.annual_table(all_cases, agency or default_agency, year, remedies)
        name = f"annual-{table.agency_code}-{year}"
        if format == "csv":
            return Response(("\ufeff" + annual.to_csv(table)).encode("utf-8"), media_type="text/csv; charset=utf-8",
                            headers={"Content-Disposition": content_disposition("attachment", f"{name}.csv")})
        if format == "xlsx":
            return Response(annual.to_xlsx(table),
                            media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                            headers={"Content-Disposition": content_disposition("attachment", f"{name}.xlsx")})
        # Events the statistics could not place (e.g. a reply of a case with no application).
        return {**table.as_dict(), "problems": problems}

    @app.get("/statistics/quarterly", tags=TAGS)
    async def quarterly(year: Year, agency: Agency = None) -> dict[str, Any]:
        code = agency or default_agency
        return {"agency_code": code, "year": year, "quarters": periodic.quarterly(await cases(), code, year)}

    @app.get("/statistics/on-time", tags=TAGS)
    async def on_time(year: Year, agency: Agency = None) -> dict[str, Any]:
        return periodic.on_time(await cases(), agency or default_agency, date(year, 1, 1), date(year + 1, 1, 1))

    @app.get("/statistics/service", tags=TAGS)
    async def service_of_replies(year: Year, agency: Agency = None) -> dict[str, Any]:
        """Replies issued in the year: served (送达) or not, the channel that served each first, the
        days from issue to service, and the list of replies not yet served (issue #17)."""
        events = await ledger.events_of_types(service.TYPES)
        return service.service_statistics(events, agency or default_agency, date(year, 1, 1), date(year + 1, 1, 1),
                                          today=china_today())

    @app.get("/statistics/heatmap", tags=TAGS, response_class=HTMLResponse)
    async def heat_map(year: Year, agency: Agency = None,
                       by: Literal["department", "subject"] = "department") -> str:
        return heatmap.to_html(heatmap.counts(await cases(), agency or default_agency, year, by))

    @app.get("/statistics/repeated-requests", tags=TAGS)
    async def repeated_requests(agency: Agency = None, threshold: float = Query(0.6, gt=0, le=1),
                                min_applicants: int = Query(2, ge=2, le=MAX_INT)) -> dict[str, Any]:
        groups = repeated.repeated_requests(await cases(), agency or default_agency, threshold=threshold,
                                            min_applicants=min_applicants)
        return {"groups": groups}

