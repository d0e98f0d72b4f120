"""HTTP API of the case clock (officers): the deadline and its explanation, correction, extension,
consultations, overdue cases, the five questions. Mounted on the reply service's app by ``add_routes``.

Who acts comes from the verified token only (``servicekit.oidc``; the roles per route are in
``contracts/access.py``): the officer recorded in events is the token's display name, with its
subject beside it; the extension (Art. 33) takes the ``ogi_head`` role. Dates default to today in
China; a date given is never in the future and at most ``PAST_DAYS`` back (422 naming the field),
a deadline given at most ``FUTURE_DAYS`` ahead. What the Regulations refuse answers 409.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, HTTPException, Path, Query
from fastapi.exceptions import RequestValidationError
from pydantic import Field

from contracts import events_procedure as ep
from contracts.envelope import deterministic_id
from services.reply.clock.clock import (
    OGI_HEAD_ROLE,
    ConsultationEnd,
    FeeSettlement,
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
from servicekit.oidc import Principal, officer
from servicekit.openapi import errors
from servicekit.validation import MAX_INT, StrictIn

PAST_DAYS = 366  # a procedural date more than a year back is a slip, not a fact of an open case
FUTURE_DAYS = 366  # the furthest deadline an officer may set (the applicant's for a correction)

Text = Annotated[str, Field(min_length=1, max_length=500)]
Me = Annotated[Principal, Depends(officer)]  # the verified officer (servicekit.oidc)
Number = Annotated[int, Path(ge=1, le=MAX_INT, description="征求意见的序号（1, 2, …）")]


class _In(StrictIn):
    pass


class CorrectionIn(_In):
    items: list[Text] = Field(min_length=1, max_length=50, description="Every item the applicant must correct")
    due_on: date = Field(description="The applicant's deadline for the correction")
    issued_on: date | None = None


class CorrectionReceivedIn(_In):
    received_on: date | None = None
    late_reason: str | None = Field(default=None, max_length=500)


class ExtensionIn(_In):
    days: int = Field(ge=1, le=20)
    reason: str = Field(min_length=1, max_length=500)
    approved_on: date | None = None


class ConsultationIn(_In):
    party_kind: Literal["third_party", "other_agency"]
    party: str = Field(min_length=1, max_length=200)
    sent_on: date | None = None
    delivered_on: date | None = None


class TriageIn(_In):
    question: Literal["correction", "scope", "existence", "disclosure", "propriety"]
    answer: str = Field(min_length=1, max_length=40)
    outcome_codes: list[Annotated[str, Field(min_length=1, max_length=80)]] = Field(
        default_factory=list, max_length=20, description="contracts.decisions codes")
    referral_agency: str | None = Field(default=None, max_length=200)
    note: str = Field(default="", max_length=1000)


class ConsultationEndIn(_In):
    end: Literal["answered", "silent"]
    ended_on: date | None = None


def check_dates(today: date, past: dict[str, date | None], future: dict[str, date | None] | None = None) -> None:
    """422 naming the first date out of range: ``past`` dates (facts) neither after today nor more
    than ``PAST_DAYS`` back; ``future`` dates (deadlines) not more than ``FUTURE_DAYS`` ahead either."""
    earliest, latest = today - timedelta(days=PAST_DAYS), today + timedelta(days=FUTURE_DAYS)
    checks = [(name, d, today) for name, d in past.items()] + [(name, d, latest) for name, d in (future or {}).items()]
    for name, d, last in checks:
        if d is None:
            continue
        if d > last:
            message = f"日期不能晚于今天（{today.isoformat()}）" if last == today else f"日期不能晚于{last.isoformat()}（一年以后）"
        elif d < earliest:
            message = f"日期不能早于{earliest.isoformat()}（一年以前）"
        else:
            continue
        raise RequestValidationError([{"loc": ("body", name), "type": "value_error", "msg": message,
                                       "input": None, "ctx": {"error": ValueError(message)}}])


async def record_correction_received(svc: ClockService, case_id: str, received_on: date,
                                     late_reason: str | None = None) -> dict:
    """The corrected application was received on ``received_on`` (Art. 30): the clock restarts
    (``correction.received``). The officer's route for a correction on paper, and the reply
    service's consumer of ``correction.submitted`` (the applicant's, online, through intake)."""

    def step(h, cal):  # noqa: ANN001, ANN202
        return receive_correction(h, received_on=received_on, late_reason=late_reason)

    def events(h, old, new):  # noqa: ANN001, ANN202
        data = ep.CorrectionReceived(
            case_id=case_id, received_on=received_on, late_reason=late_reason, new_due_on=new.due_on,
            provisional=new.provisional,
        )  # fmt: skip
        return [(data, deterministic_id("correction.received", case_id))]

    return await svc.change(case_id, step, events, "correction")


async def record_fee_event(svc: ClockService, data: ep.FeeNoticeIssued | ep.FeePaid | ep.FeeWaived,
                           log: Any) -> bool:  # noqa: ANN401
    """Intake's fee events (国办函〔2020〕109号) on the clock: the notice stops the reply time, the
    payment or the waiver restarts it. Once: a redelivery, an unknown case, a payment after the 20 WD
    (the sweep abandons the application) are logged and left, never dead-lettered; a concurrent
    change is retried. True when the case changed."""
    try:
        if isinstance(data, ep.FeeNoticeIssued):
            await svc.fee_notice_issued(data.case_id, data.issued_on, data.amount_yuan)
        elif isinstance(data, ep.FeePaid):
            await svc.fee_settled(data.case_id, data.paid_on, FeeSettlement.PAID, data.recorded_by)
        else:
            await svc.fee_settled(data.case_id, data.waived_on, FeeSettlement.WAIVED, data.recorded_by)
    except CaseNotFound:
        log.warning("fee_event_ignored", event_type=data.event_name, reason="case_not_found")
        return False
    except ProcedureRefused as exc:
        if exc.code == "busy":
            raise
        level = log.info if exc.code in ("fee_notice_exists", "fee_settled") else log.warning
        level("fee_event_ignored", event_type=data.event_name, reason=exc.code)
        return False
    log.info("fee_event_recorded", event_type=data.event_name)
    return True


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

    conflict = errors(409)

    @app.get("/cases/overdue", tags=["clock"])
    async def overdue() -> dict:
        return {"as_of": svc.today().isoformat(), "cases": await svc.overdue()}

    @app.get("/cases/due-soon", tags=["clock"])
    async def due_soon(within: Annotated[int, Query(ge=0, le=20, description="至多剩余的工作日数")] = 5) -> dict:
        """Open cases due within ``within`` working days (not yet overdue), soonest first (督办)."""
        return {"as_of": svc.today().isoformat(), "within": within, "cases": await svc.due_soon(within)}

    @app.get("/cases/{case_id}/triage", tags=["triage"])
    async def get_triage(case_id: str) -> dict:
        return await run(svc.triage(case_id), changes=False)

    @app.post("/cases/{case_id}/triage", status_code=201, tags=["triage"], responses=conflict)
    async def post_triage(case_id: str, body: TriageIn, me: Me) -> dict:
        answer = TriageAnswer(
            question=Question(body.question), answer=body.answer, by=me.display, at=datetime.now(UTC),
            outcome_codes=tuple(body.outcome_codes), note=body.note, referral_agency=body.referral_agency,
            by_subject=me.subject,
        )  # fmt: skip
        return await run(svc.record_triage(case_id, answer))

    @app.get("/cases/{case_id}/deadline", tags=["clock"])
    async def deadline(case_id: str) -> dict:
        return await run(svc.deadline(case_id), changes=False)

    @app.post("/cases/{case_id}/correction", status_code=201, tags=["clock"], responses=conflict)
    async def correction(case_id: str, body: CorrectionIn, me: Me) -> dict:
        today = svc.today()
        check_dates(today, {"issued_on": body.issued_on}, {"due_on": body.due_on})
        issued_on = body.issued_on or today

        def step(h, cal):  # noqa: ANN001, ANN202
            return issue_correction(h, cal, issued_on=issued_on, items=body.items, due_on=body.due_on)

        def events(h, old, new):  # noqa: ANN001, ANN202
            c = h.correction
            data = ep.CorrectionRequested(
                case_id=case_id, received_on=h.received_on, issued_on=c.issued_on, items=list(c.items),
                due_on=c.due_on, issued_by=me.display, issued_by_subject=me.subject,
            )  # fmt: skip
            return [(data, deterministic_id("correction.requested", case_id))]

        return await run(svc.change(case_id, step, events, "correction"))

    @app.post("/cases/{case_id}/correction/received", status_code=201, tags=["clock"], responses=conflict)
    async def correction_received(case_id: str, body: CorrectionReceivedIn) -> dict:
        today = svc.today()
        check_dates(today, {"received_on": body.received_on})
        received_on = body.received_on or today
        return await run(record_correction_received(svc, case_id, received_on, body.late_reason))

    @app.post("/cases/{case_id}/extension", status_code=201, tags=["clock"], responses=conflict)
    async def extension(case_id: str, body: ExtensionIn, me: Me) -> dict:
        """Art. 33: approved by the head of the OGI office (the token's ``ogi_head`` role)."""
        today = svc.today()
        check_dates(today, {"approved_on": body.approved_on})
        approved_on = body.approved_on or today
        role = OGI_HEAD_ROLE if me.has(OGI_HEAD_ROLE) else ",".join(sorted(me.roles))

        def step(h, cal):  # noqa: ANN001, ANN202
            return approve_extension(
                h, cal, approved_on=approved_on, days=body.days, approver=me.display, approver_role=role,
                reason=body.reason,
            )  # fmt: skip

        def events(h, old, new):  # noqa: ANN001, ANN202
            x = h.extension
            data = ep.ExtensionApproved(
                case_id=case_id, approved_on=x.approved_on, workdays=x.days, approver=x.approver,
                approver_role="ogi_head", reason=x.reason, old_due_on=old.due_on, new_due_on=new.due_on,
                provisional=new.provisional, approver_subject=me.subject,
            )  # fmt: skip
            return [(data, deterministic_id("extension.approved", case_id))]

        return await run(svc.change(case_id, step, events, "extension"))

    @app.post("/cases/{case_id}/consultations", status_code=201, tags=["clock"], responses=conflict)
    async def consultation(case_id: str, body: ConsultationIn, me: Me) -> dict:
        today = svc.today()
        check_dates(today, {"sent_on": body.sent_on, "delivered_on": body.delivered_on})
        sent_on = body.sent_on or today

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
                consultation_due=p.consultation_due, started_by=me.display, started_by_subject=me.subject,
            )  # fmt: skip
            return [(data, deterministic_id("consultation.started", case_id, str(c.number)))]

        return await run(svc.change(case_id, step, events, "consultation"))

    @app.post("/cases/{case_id}/consultations/{number}/end", status_code=201, tags=["clock"], responses=conflict)
    async def consultation_end(case_id: str, number: Number, body: ConsultationEndIn) -> dict:
        today = svc.today()
        check_dates(today, {"ended_on": body.ended_on})
        ended_on = body.ended_on or today

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
