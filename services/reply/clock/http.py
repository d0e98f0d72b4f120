"""HTTP API of the case clock (officers): the deadline and its explanation, correction, extension,
consultations, overdue cases. Mounted on the reply service's app by ``add_routes``.

Identity is not wired yet: the officer is named by the ``X-User`` header and the role by
``X-Role`` (the extension requires ``ogi_head``). Dates default to today in China.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Literal

from fastapi import FastAPI, Header, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from contracts import events_procedure as ep
from contracts.envelope import deterministic_id
from services.reply.clock.clock import (
    OGI_HEAD_ROLE,
    ConsultationEnd,
    PartyKind,
    ProcedureRefused,
    approve_extension,
    end_consultation,
    issue_correction,
    receive_correction,
    start_consultation,
)
from services.reply.clock.service import CaseNotFound, ClockService
from services.reply.clock.triage import Answer as TriageAnswer
from services.reply.clock.triage import Question, TriageRefused


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CorrectionIn(_In):
    items: list[str] = Field(min_length=1, description="Every item the applicant must correct")
    due_on: date = Field(description="The applicant's deadline for the correction")
    issued_on: date | None = None


class CorrectionReceivedIn(_In):
    received_on: date | None = None
    late_reason: str | None = None


class ExtensionIn(_In):
    days: int = Field(ge=1, le=20)
    reason: str = Field(min_length=1)
    approved_on: date | None = None


class ConsultationIn(_In):
    party_kind: Literal["third_party", "other_agency"]
    party: str = Field(min_length=1)
    sent_on: date | None = None
    delivered_on: date | None = None


class TriageIn(_In):
    question: Literal["correction", "scope", "existence", "disclosure", "propriety"]
    answer: str = Field(min_length=1)
    outcome_codes: list[str] = Field(default_factory=list, description="contracts.decisions codes")
    referral_agency: str | None = None
    note: str = ""


class ConsultationEndIn(_In):
    end: Literal["answered", "silent"]
    ended_on: date | None = None


def add_routes(app: FastAPI, svc: ClockService, wake: Callable[[], None]) -> None:
    async def run(coro, changes: bool = True):  # noqa: ANN001, ANN202
        try:
            out = await coro
        except CaseNotFound:
            raise HTTPException(404, "未找到该案件") from None
        except ProcedureRefused as exc:
            raise HTTPException(403 if exc.code == "not_ogi_head" else 409, exc.message) from None
        except TriageRefused as exc:
            raise HTTPException(409, exc.message) from None
        if changes:
            wake()
        return out

    @app.get("/cases/overdue", tags=["clock"])
    async def overdue() -> dict:
        return {"as_of": svc.today().isoformat(), "cases": await svc.overdue()}

    @app.get("/cases/{case_id}/triage", tags=["triage"])
    async def get_triage(case_id: str) -> dict:
        return await run(svc.triage(case_id), changes=False)

    @app.post("/cases/{case_id}/triage", status_code=201, tags=["triage"])
    async def post_triage(case_id: str, body: TriageIn, x_user: str = Header(default="")) -> dict:
        if not x_user.strip():
            raise HTTPException(403, "请注明作答的工作人员（X-User）")
        answer = TriageAnswer(
            question=Question(body.question), answer=body.answer, by=x_user.strip(), at=datetime.now(UTC),
            outcome_codes=tuple(body.outcome_codes), note=body.note, referral_agency=body.referral_agency,
        )  # fmt: skip
        return await run(svc.record_triage(case_id, answer))

    @app.get("/cases/{case_id}/deadline", tags=["clock"])
    async def deadline(case_id: str) -> dict:
        return await run(svc.deadline(case_id), changes=False)

    @app.post("/cases/{case_id}/correction", status_code=201, tags=["clock"])
    async def correction(case_id: str, body: CorrectionIn, x_user: str = Header(default="")) -> dict:
        issued_on = body.issued_on or svc.today()

        def step(h, cal):  # noqa: ANN001, ANN202
            return issue_correction(h, cal, issued_on=issued_on, items=body.items, due_on=body.due_on)

        def events(h, old, new):  # noqa: ANN001, ANN202
            c = h.correction
            data = ep.CorrectionRequested(
                case_id=case_id, received_on=h.received_on, issued_on=c.issued_on, items=list(c.items),
                due_on=c.due_on, issued_by=x_user or "unknown",
            )  # fmt: skip
            return [(data, deterministic_id("correction.requested", case_id))]

        return await run(svc.change(case_id, step, events, "correction"))

    @app.post("/cases/{case_id}/correction/received", status_code=201, tags=["clock"])
    async def correction_received(case_id: str, body: CorrectionReceivedIn) -> dict:
        received_on = body.received_on or svc.today()

        def step(h, cal):  # noqa: ANN001, ANN202
            return receive_correction(h, received_on=received_on, late_reason=body.late_reason)

        def events(h, old, new):  # noqa: ANN001, ANN202
            data = ep.CorrectionReceived(
                case_id=case_id, received_on=received_on, late_reason=body.late_reason, new_due_on=new.due_on,
                provisional=new.provisional,
            )  # fmt: skip
            return [(data, deterministic_id("correction.received", case_id))]

        return await run(svc.change(case_id, step, events, "correction"))

    @app.post("/cases/{case_id}/extension", status_code=201, tags=["clock"])
    async def extension(
        case_id: str, body: ExtensionIn, x_role: str = Header(default=""), x_user: str = Header(default="")
    ) -> dict:
        if x_role != OGI_HEAD_ROLE:
            raise HTTPException(403, "延长答复期限须经政府信息公开工作机构负责人同意（《条例》第三十三条）")
        approved_on = body.approved_on or svc.today()

        def step(h, cal):  # noqa: ANN001, ANN202
            return approve_extension(
                h, cal, approved_on=approved_on, days=body.days, approver=x_user or "unknown",
                approver_role=x_role, reason=body.reason,
            )  # fmt: skip

        def events(h, old, new):  # noqa: ANN001, ANN202
            x = h.extension
            data = ep.ExtensionApproved(
                case_id=case_id, approved_on=x.approved_on, workdays=x.days, approver=x.approver,
                approver_role="ogi_head", reason=x.reason, old_due_on=old.due_on, new_due_on=new.due_on,
                provisional=new.provisional,
            )  # fmt: skip
            return [(data, deterministic_id("extension.approved", case_id))]

        return await run(svc.change(case_id, step, events, "extension"))

    @app.post("/cases/{case_id}/consultations", status_code=201, tags=["clock"])
    async def consultation(case_id: str, body: ConsultationIn, x_user: str = Header(default="")) -> dict:
        sent_on = body.sent_on or svc.today()

        def step(h, cal):  # noqa: ANN001, ANN202
            return start_consultation(
                h, cal, party_kind=PartyKind(body.party_kind), party=body.party, sent_on=sent_on,
                delivered_on=body.delivered_on,
            )  # fmt: skip

        def events(h, old, new):  # noqa: ANN001, ANN202
            c = h.consultations[-1]
            p = next(p for p in new.pauses if p.consultation == c.number)
            data = ep.ConsultationStarted(
                case_id=case_id, number=c.number, party_kind=c.party_kind.value, party=c.party, sent_on=c.sent_on,
                consultation_due=p.consultation_due, started_by=x_user or "unknown",
            )  # fmt: skip
            return [(data, deterministic_id("consultation.started", case_id, str(c.number)))]

        return await run(svc.change(case_id, step, events, "consultation"))

    @app.post("/cases/{case_id}/consultations/{number}/end", status_code=201, tags=["clock"])
    async def consultation_end(case_id: str, number: int, body: ConsultationEndIn) -> dict:
        ended_on = body.ended_on or svc.today()

        def step(h, cal):  # noqa: ANN001, ANN202
            return end_consultation(h, number=number, ended_on=ended_on, end=ConsultationEnd(body.end))

        def events(h, old, new):  # noqa: ANN001, ANN202
            p = next(p for p in new.pauses if p.consultation == number)
            data = ep.ConsultationEnded(
                case_id=case_id, number=number, end=body.end, ended_on=p.ended_on,
                paused_workdays=len(p.paused_workdays), new_due_on=new.due_on, provisional=new.provisional,
            )  # fmt: skip
            return [(data, deterministic_id("consultation.ended", case_id, str(number)))]

        return await run(svc.change(case_id, step, events, "consultation"))
