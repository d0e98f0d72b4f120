"""HTTP API of the statistics: annual report table (JSON, CSV, XLSX), quarterly statistics,
on-time rates, heat map (HTML), repeated requests. Computed from the ledger's events on request."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response

from services.audit.ledger import Ledger
from services.audit.statistics import annual, heatmap, periodic, repeated
from services.audit.statistics.cases import TYPES, Case, fold


def statistics_router(ledger: Ledger, default_agency: str) -> APIRouter:
    r = APIRouter(prefix="/statistics", tags=["statistics"])

    async def cases() -> list[Case]:
        folded, _ = fold(await ledger.events_of_types(TYPES))
        return list(folded.values())

    @r.get("/annual", responses={200: {"content": {"text/csv": {}, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {}}}})
    async def annual_report(year: int = Query(ge=2008, le=2100), agency: str | None = None,
                            format: Literal["json", "csv", "xlsx"] = "json") -> Any:  # noqa: A002
        table = annual.annual_table(await cases(), agency or default_agency, year)
        name = f"annual-{table.agency_code}-{year}"
        if format == "csv":
            return Response(("\ufeff" + annual.to_csv(table)).encode("utf-8"), media_type="text/csv; charset=utf-8",
                            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})
        if format == "xlsx":
            return Response(annual.to_xlsx(table),
                            media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                            headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'})
        return table.as_dict()

    @r.get("/quarterly")
    async def quarterly(year: int = Query(ge=2008, le=2100), agency: str | None = None) -> dict[str, Any]:
        code = agency or default_agency
        return {"agency_code": code, "year": year, "quarters": periodic.quarterly(await cases(), code, year)}

    @r.get("/on-time")
    async def on_time(year: int = Query(ge=2008, le=2100), agency: str | None = None) -> dict[str, Any]:
        return periodic.on_time(await cases(), agency or default_agency, date(year, 1, 1), date(year + 1, 1, 1))

    @r.get("/heatmap", response_class=HTMLResponse)
    async def heat_map(year: int = Query(ge=2008, le=2100), agency: str | None = None,
                       by: Literal["department", "subject"] = "department") -> str:
        return heatmap.to_html(heatmap.counts(await cases(), agency or default_agency, year, by))

    @r.get("/repeated-requests")
    async def repeated_requests(agency: str | None = None, threshold: float = Query(0.6, gt=0, le=1),
                                min_applicants: int = Query(2, ge=2)) -> dict[str, Any]:
        groups = repeated.repeated_requests(await cases(), agency or default_agency, threshold=threshold,
                                            min_applicants=min_applicants)
        return {"groups": groups}

    return r
