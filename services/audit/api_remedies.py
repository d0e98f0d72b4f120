"""HTTP API of administrative review and litigation (OGI officers record, auditors read; the
officer recorded is the verified token's display name and subject).

``POST /cases/{case_id}/remedies`` with ``stage`` "filed" records a review (行政复议) or a lawsuit
(行政诉讼, ``route`` direct / after_review) about the case - with ``result`` and ``decided_on`` too
when it is already decided; with ``stage`` "decided" it records the outcome of a filed one
(``remedy_id``). Each record is a ``remedy.recorded`` event, published through the outbox and
recorded by the ledger. 201 when recorded, 200 when the same request was already recorded, 404
for an unknown case or remedy, 409 for a contradiction. ``GET`` lists the case's remedies.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, HTTPException, Path, Request
from fastapi.responses import JSONResponse
from pydantic import ConfigDict, Field, model_validator

from contracts.events_ledger import LitigationRoute, RemedyKind, RemedyResult
from services.audit.ledger import Ledger
from services.audit.remedies import CaseFacts, RemedyConflict, RemedyNotFound, RemedyStore
from servicekit.oidc import Principal
from servicekit.openapi import errors
from servicekit.validation import FieldProblem, StrictIn

CaseId = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")]


class RemedyRequest(StrictIn):
    model_config = ConfigDict(extra="forbid")

    stage: Literal["filed", "decided"] = "filed"
    remedy_id: str | None = Field(default=None, min_length=1, max_length=80, pattern=r"^[A-Za-z0-9._-]+$")
    kind: RemedyKind | None = None
    route: LitigationRoute | None = None
    filed_on: date | None = None
    authority: str = Field(default="", max_length=200)
    result: RemedyResult | None = None
    decided_on: date | None = None
    note: str = Field(default="", max_length=2000)

    @model_validator(mode="after")
    def _check(self) -> RemedyRequest:
        if self.stage == "decided":
            for name in ("remedy_id", "result", "decided_on"):
                if getattr(self, name) is None:
                    raise FieldProblem(name, "登记审结结果时此项为必填项")
            return self
        if self.kind is None:
            raise FieldProblem("kind", "此项为必填项（review：行政复议；litigation：行政诉讼）")
        if self.filed_on is None:
            raise FieldProblem("filed_on", "此项为必填项")
        if self.kind == "litigation" and self.route is None:
            raise FieldProblem("route", "行政诉讼须注明：direct（未经复议直接起诉）或 after_review（复议后起诉）")
        if self.kind == "review" and self.route is not None:
            raise FieldProblem("route", "行政复议不填写此项")
        if (self.result is None) != (self.decided_on is None):
            raise FieldProblem("decided_on" if self.decided_on is None else "result", "审结结果与审结日期须同时填写")
        if self.decided_on is not None and self.decided_on < self.filed_on:
            raise FieldProblem("decided_on", "审结日期不能早于立案（提起）日期")
        return self


TAGS: list = ["remedies"]  # the OpenAPI group of these routes


def add_remedies_routes(app: FastAPI, ledger: Ledger, store: RemedyStore, officer: Callable[[Request], Awaitable[Principal]],
                        wake: Callable[[], None] = lambda: None) -> None:

    async def case_facts(case_id: str) -> CaseFacts:
        app = await ledger.application_of(case_id)
        if app is None:
            raise HTTPException(404, "台账中没有该案件的申请记录")
        d = app["data"]
        return CaseFacts(case_id, d["agency_code"], d.get("tracking_number"))

    @app.post("/cases/{case_id}/remedies", tags=TAGS,
              responses={201: {"description": "已登记"}, 200: {"description": "同一登记已有记录（未重复登记）"},
                         **errors(409)})
    async def record(case_id: CaseId, body: RemedyRequest, principal: Principal = Depends(officer)) -> JSONResponse:
        """Record a review or lawsuit about the case, or its outcome (officers)."""
        case = await case_facts(case_id)
        who = {"officer": principal.display, "officer_subject": principal.subject}
        try:
            if body.stage == "filed":
                data, created = await store.file(case, kind=body.kind, route=body.route,  # type: ignore[arg-type]
                                                 filed_on=body.filed_on, authority=body.authority,  # type: ignore[arg-type]
                                                 note=body.note, **who, remedy_id=body.remedy_id)
                if body.result is not None:
                    _, decided = await store.decide(case_id, data.remedy_id, result=body.result,
                                                    decided_on=body.decided_on, note=body.note, **who)  # type: ignore[arg-type]
                    created = created or decided
            else:
                data, created = await store.decide(case_id, body.remedy_id, result=body.result,  # type: ignore[arg-type]
                                                   decided_on=body.decided_on, note=body.note, **who)  # type: ignore[arg-type]
        except RemedyNotFound:
            raise HTTPException(404, "本案没有该编号的行政复议或行政诉讼登记") from None
        except RemedyConflict as exc:
            raise HTTPException(409, str(exc)) from None
        if created:
            wake()
        remedy = next(x for x in await store.of_case(case_id) if x["remedy_id"] == data.remedy_id)
        return JSONResponse({"created": created, "remedy": remedy}, status_code=201 if created else 200)

    @app.get("/cases/{case_id}/remedies", tags=TAGS)
    async def list_remedies(case_id: CaseId) -> dict[str, Any]:
        await case_facts(case_id)
        return {"case_id": case_id, "remedies": await store.of_case(case_id)}

