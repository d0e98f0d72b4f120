"""Adapter: the case clock on the reply service's case documents (the only module of this package
that does I/O besides reading calendar files).

The procedural history lives on the case document (``procedure``, a ``codec.dump``), with the
computed deadline (``clock``, a ``codec.summary``), a revision counter (``procedure_rev``) and the
alerts already raised (``alerts_sent``). Every change is one conditional single-document update on
``procedure_rev`` (optimistic concurrency: a concurrent change makes it retry from a fresh read)
that also appends its events to the document's outbox, so state and events are stored together or
not at all. Event ids are deterministic: a retried step or sweep never creates a second fact.

Events go to ``topic`` only when one is given: the reply service passes it once the procedure
topic is in the topic catalogue (publishing to a topic that does not exist would stall the relay).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from pymongo.asynchronous.collection import AsyncCollection

from contracts import events_procedure as ep
from contracts.envelope import EventData, deterministic_id, new_event
from contracts.vocabulary import Channel
from services.reply.clock import codec
from services.reply.clock.calendar import DEFAULT_DIR, WorkCalendar, default_calendar, package_years
from services.reply.clock.clock import (
    AbandonReason,
    Deadline,
    FeeSettlement,
    History,
    ProcedureRefused,
    Status,
    abandon,
    abandon_unpaid_fee,
    alerts,
    compute,
    fee_lapsed,
    issue_fee_notice,
    payment_due,
    settle_fee,
    workdays_left,
)
from services.reply.clock.explain import explain
from services.reply.clock.triage import Answer as TriageAnswer
from services.reply.clock.triage import Question, Triage, next_step, record
from servicekit import outbox

CHINA = ZoneInfo("Asia/Shanghai")
log = structlog.get_logger()


def china_today() -> date:
    return datetime.now(CHINA).date()


class CaseNotFound(LookupError):
    pass


class CalendarSource:
    """The working-day calendar, reloaded when an operator file in the directory changes."""

    def __init__(self, directory: Path = DEFAULT_DIR) -> None:
        self.directory = directory
        self._sig: tuple | None = None
        self._cal: WorkCalendar | None = None
        self.error: str | None = None

    def _signature(self) -> tuple:
        if not self.directory.is_dir():
            return ()
        return tuple(sorted((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in self.directory.glob("*.json")))

    def get(self) -> WorkCalendar:
        """The current calendar. A file that cannot be read or is invalid is reported (``error``)
        and ignored: the last good calendar stays (at first, the package's data alone)."""
        sig = self._signature()
        if self._cal is None or sig != self._sig:
            self._sig = sig
            try:
                self._cal = default_calendar(self.directory)
                self.error = None
            except (OSError, ValueError) as exc:
                self.error = str(exc)
                log.error("calendar_file_invalid", error=self.error, directory=str(self.directory))
                if self._cal is None:
                    self._cal = WorkCalendar(package=package_years())
        return self._cal


class ClockService:
    def __init__(
        self,
        cases: AsyncCollection,
        source: str,
        calendar: Callable[[], WorkCalendar],
        topic: str | None,
        today: Callable[[], date] = china_today,
    ) -> None:
        self.cases = cases
        self.source = source
        self.calendar = calendar
        self.topic = topic
        self.today = today

    # -- events ---------------------------------------------------------------------------------

    def _records(self, case_id: str, events: list[tuple[EventData, str]]) -> list[dict[str, Any]]:
        if self.topic is None:
            return []
        now = datetime.now(UTC)
        return [
            outbox.record(self.topic, new_event(data, source=self.source, subject=case_id, event_id=eid, time=now))
            for data, eid in events
        ]

    @staticmethod
    def _announced(doc: dict[str, Any]) -> dict[str, Any]:
        """The deadline last published in a ``deadline.changed`` (what officers were told)."""
        ann = doc.get("clock_announced")
        if ann is None:  # a case opened before the clock existed
            return {"due_on": None, "missing_years": []}
        return ann

    @staticmethod
    def _announcement(d: Deadline) -> dict[str, Any]:
        return {"due_on": d.due_on.isoformat() if d.due_on else None, "missing_years": list(d.missing_years)}

    def _changed(
        self, case_id: str, rev: int, announced: dict[str, Any] | None, new: Deadline, reason: str, cal: WorkCalendar,
        pause: str | None = None,
    ) -> list[tuple[EventData, str]]:
        """A ``deadline.changed`` if ``new`` differs from what was last announced."""
        if announced is not None and announced == self._announcement(new):
            return []
        old_due = announced.get("due_on") if announced else None
        data = ep.DeadlineChanged(
            case_id=case_id,
            old_due_on=date.fromisoformat(old_due) if old_due else None,
            new_due_on=new.due_on,
            reason=reason,
            calendar_version=cal.fingerprint(),
            # The field's meaning: a year without calendar data (an open pause is not that).
            provisional=bool(new.missing_years),
            missing_calendar_years=list(new.missing_years),
            pause=pause,
        )
        return [(data, deterministic_id("deadline.changed", case_id, str(rev)))]

    # -- opening a case -------------------------------------------------------------------------

    def opening(
        self, case_id: str, received_on: date, channel: Channel | None = None
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Fields for a new case document and the outbox records of its first deadline."""
        cal = self.calendar()
        hist = History(received_on=received_on, channel=channel)
        d = compute(hist, cal, self.today())
        fields = {
            "procedure": codec.dump(hist),
            "procedure_rev": 0,
            "clock": codec.summary(d, cal.fingerprint()),
            "alerts_sent": [],
            "clock_announced": self._announcement(d),
        }
        return fields, self._records(case_id, self._changed(case_id, 0, None, d, "opened", cal))

    # -- reading --------------------------------------------------------------------------------

    @staticmethod
    def history_of(doc: dict[str, Any]) -> History:
        if doc.get("procedure"):
            h = codec.load(doc["procedure"])
        else:  # a case opened before the clock existed
            h = History(received_on=date.fromisoformat(doc["received_on"]))
        if doc.get("reply_issued") and h.replied_on is None:
            at = (doc.get("reply") or {}).get("issued_at")
            if isinstance(at, datetime):
                at = at if at.tzinfo else at.replace(tzinfo=UTC)
                h = replace(h, replied_on=at.astimezone(CHINA).date())
        return h

    async def _get(self, case_id: str) -> dict[str, Any]:
        doc = await self.cases.find_one({"_id": case_id}, {"outbox": 0})
        if doc is None:
            raise CaseNotFound(case_id)
        return doc

    async def deadline(self, case_id: str) -> dict[str, Any]:
        doc = await self._get(case_id)
        cal, today = self.calendar(), self.today()
        h = self.history_of(doc)
        d = compute(h, cal, today)
        out = {"case_id": case_id, "tracking_number": doc.get("tracking_number"), "as_of": today.isoformat()}
        out["workdays_left"] = workdays_left(d, cal, today) if d.status in (Status.RUNNING, Status.PAUSED) else None
        out["calendar_version"] = cal.fingerprint()
        out["explanation"] = explain(h, d)
        return out

    async def overdue(self) -> list[dict[str, Any]]:
        today, cal = self.today(), self.calendar()
        out = []
        query = {"reply_issued": False, "clock.status": {"$in": ["running", "paused"]}, "clock.due_on": {"$lt": today.isoformat()}}
        async for doc in self.cases.find(query, {"outbox": 0}):
            d = compute(self.history_of(doc), cal, today)
            if d.due_on is None or d.due_on >= today:
                continue  # the stored summary was stale (e.g. a paused case): not overdue
            out.append(
                {
                    "case_id": doc["_id"],
                    "tracking_number": doc.get("tracking_number"),
                    "due_on": d.due_on.isoformat(),
                    "workdays_overdue": -(workdays_left(d, cal, today) or 0),
                    "open_departments": _open_departments(doc),
                    "provisional": d.provisional,
                }
            )
        out.sort(key=lambda x: (x["due_on"], x["case_id"]))
        return out

    async def due_soon(self, within: int) -> list[dict[str, Any]]:
        """Open cases whose deadline runs (or is paused) with at most ``within`` working days left,
        not yet overdue (``overdue`` lists those): for the OGI office's supervision (督办)."""
        today, cal = self.today(), self.calendar()
        out = []
        query = {"reply_issued": False, "clock.status": {"$in": ["running", "paused"]},
                 "clock.due_on": {"$gte": today.isoformat()}}
        async for doc in self.cases.find(query, {"outbox": 0}):
            d = compute(self.history_of(doc), cal, today)
            if d.status not in (Status.RUNNING, Status.PAUSED) or d.due_on is None or d.due_on < today:
                continue
            left = workdays_left(d, cal, today)
            if left is None or left > within:
                continue
            out.append(
                {
                    "case_id": doc["_id"],
                    "tracking_number": doc.get("tracking_number"),
                    "due_on": d.due_on.isoformat(),
                    "workdays_left": left,
                    "status": d.status.value,
                    "open_departments": _open_departments(doc),
                    "provisional": d.provisional,
                }
            )
        out.sort(key=lambda x: (x["workdays_left"], x["due_on"], x["case_id"]))
        return out

    # -- changes --------------------------------------------------------------------------------

    async def change(
        self,
        case_id: str,
        step: Callable[[History, WorkCalendar], History],
        events: Callable[[History, Deadline, Deadline], list[tuple[EventData, str]]],
        reason: str,
        pause: str | None = None,
    ) -> dict[str, Any]:
        """Apply one procedural step (validated by ``step``), store it with its events."""
        for _ in range(5):
            doc = await self._get(case_id)
            if doc.get("reply_issued"):
                raise ProcedureRefused("case_closed", "该案件已作出答复")
            cal, today = self.calendar(), self.today()
            hist = self.history_of(doc)
            old = compute(hist, cal, today)
            new_hist = step(hist, cal)
            new = compute(new_hist, cal, today)
            rev = int(doc.get("procedure_rev") or 0)
            announced = self._announced(doc)
            evs = events(new_hist, old, new) + self._changed(case_id, rev + 1, announced, new, reason, cal, pause)
            result = await self.cases.update_one(
                {"_id": case_id, "procedure_rev": doc.get("procedure_rev")},
                _with_outbox(
                    {
                        "$set": {
                            "procedure": codec.dump(new_hist),
                            "procedure_rev": rev + 1,
                            "clock": codec.summary(new, cal.fingerprint()),
                            "clock_announced": self._announcement(new),
                        }
                    },
                    self._records(case_id, evs),
                ),
            )
            if result.modified_count == 1:
                return {"case_id": case_id, "explanation": explain(new_hist, new)}
        raise ProcedureRefused("busy", "案件正被同时修改，请重试")

    # -- the processing fee (Art. 42, 国办函〔2020〕109号): intake's events ---------------------------

    async def fee_notice_issued(self, case_id: str, issued_on: date, amount_yuan: int) -> dict[str, Any]:
        """Intake issued the fee notice: the reply time stops from the next working day."""

        def step(h: History, cal: WorkCalendar) -> History:
            return issue_fee_notice(h, issued_on=issued_on, amount_yuan=amount_yuan)

        out = await self.change(case_id, step, lambda h, old, new: [], "consultation", pause="fee")
        # A notice entered afterwards (补登记) may be past its 20 WD already: abandoned now, not
        # at the next round of the sweep.
        if fee_lapsed(codec.load((await self._get(case_id))["procedure"]), self.calendar(), self.today()):
            await self._sweep_one(await self._get(case_id))
        return out

    async def fee_settled(
        self, case_id: str, settled_on: date, settlement: FeeSettlement, recorded_by: str
    ) -> dict[str, Any]:
        """The fee was paid or waived (recorded by an OGI officer in intake): the time runs again."""

        def step(h: History, cal: WorkCalendar) -> History:
            return settle_fee(h, cal, settled_on=settled_on, settlement=settlement, recorded_by=recorded_by)

        return await self.change(case_id, step, lambda h, old, new: [], "consultation", pause="fee")

    # -- the five questions -----------------------------------------------------------------------

    @staticmethod
    def triage_of(doc: dict[str, Any]) -> Triage:
        answers = []
        for a in doc.get("triage") or []:
            at = a["at"] if a["at"].tzinfo else a["at"].replace(tzinfo=UTC)
            answers.append(
                TriageAnswer(
                    question=Question(a["question"]), answer=a["answer"], by=a["by"], at=at,
                    outcome_codes=tuple(a.get("outcome_codes") or ()), note=a.get("note") or "",
                    referral_agency=a.get("referral_agency"), by_subject=a.get("by_subject"),
                )  # fmt: skip
            )
        return Triage(tuple(answers))

    def _next(self, doc: dict[str, Any], t: Triage) -> dict[str, Any]:
        h = self.history_of(doc)
        nxt = next_step(t, correction_received=bool(h.correction and h.correction.received_on))
        return {
            "step": nxt.step.value,
            "question": nxt.question.value if nxt.question else None,
            "outcome_codes": list(nxt.outcome_codes),
            "referral_agency": nxt.referral_agency,
            "text_zh": nxt.text_zh(),
        }

    async def triage(self, case_id: str) -> dict[str, Any]:
        doc = await self._get(case_id)
        t = self.triage_of(doc)
        return {"case_id": case_id, "answers": _triage_rows(t), "next": self._next(doc, t)}

    async def record_triage(self, case_id: str, answer: TriageAnswer) -> dict[str, Any]:
        """Record one answer to the five questions (who, when) with its ``triage.recorded`` event."""
        for _ in range(5):
            doc = await self._get(case_id)
            if doc.get("reply_issued"):
                raise ProcedureRefused("case_closed", "该案件已作出答复")
            t = record(self.triage_of(doc), answer)  # raises TriageRefused
            nxt = self._next(doc, t)
            n = len(t.answers)
            data = ep.TriageRecorded(
                case_id=case_id, question=answer.question.value, answer=answer.answer,
                outcome_codes=list(answer.outcome_codes), referral_agency=answer.referral_agency,
                answered_by=answer.by, answered_at=answer.at, next_step=nxt["step"], answered_by_subject=answer.by_subject,
            )  # fmt: skip
            row = _triage_rows(Triage((answer,)))[0] | {"at": answer.at}
            result = await self.cases.update_one(
                {"_id": case_id, "procedure_rev": doc.get("procedure_rev")},
                _with_outbox(
                    {"$push": {"triage": row}, "$set": {"procedure_rev": int(doc.get("procedure_rev") or 0) + 1}},
                    self._records(case_id, [(data, deterministic_id("triage.recorded", case_id, str(n)))]),
                ),
            )
            if result.modified_count == 1:
                return {"case_id": case_id, "answers": _triage_rows(t), "next": nxt}
        raise ProcedureRefused("busy", "案件正被同时修改，请重试")

    # -- the sweep: calendar changes, abandonment, warnings, overdue --------------------------------

    async def sweep(self) -> int:
        """One pass over the open cases; returns how many documents changed."""
        changed = 0
        async for doc in self.cases.find({"reply_issued": False}, {"outbox": 0}):
            if await self._sweep_one(doc):
                changed += 1
        return changed

    async def _sweep_one(self, doc: dict[str, Any]) -> bool:
        case_id = doc["_id"]
        cal, today = self.calendar(), self.today()
        hist = self.history_of(doc)
        d = compute(hist, cal, today)
        evs: list[tuple[EventData, str]] = []
        if (
            d.status is Status.ABANDONED and d.abandoned_for is AbandonReason.CORRECTION_OVERDUE
            and hist.abandoned_on is None and hist.correction is not None
        ):  # fmt: skip
            hist = abandon(hist, as_of=today)
            evs.append(
                (
                    ep.ApplicationAbandoned(
                        case_id=case_id, correction_due=hist.correction.due_on, abandoned_on=hist.abandoned_on
                    ),
                    deterministic_id("application.abandoned", case_id),
                )
            )
        elif hist.abandoned_on is None and hist.fee is not None and fee_lapsed(hist, cal, today):
            # 国办函〔2020〕109号: unpaid within 20 WD of the fee notice → deemed abandoned (Art. 42).
            hist = abandon_unpaid_fee(hist, cal, as_of=today)
            due, _ = payment_due(hist.fee, cal)
            evs.append(
                (
                    ep.ApplicationAbandoned(
                        case_id=case_id, correction_due=due, abandoned_on=hist.abandoned_on, reason="fee_unpaid",
                        outcome_code="other.fee_unpaid", fee_notice_issued_on=hist.fee.issued_on, payment_due=due,
                    ),
                    deterministic_id("application.abandoned", case_id),
                )
            )
        stored = doc.get("clock") or {}
        rev = int(doc.get("procedure_rev") or 0)
        announced = self._announced(doc)
        calendar_changed = bool(stored) and stored.get("calendar_version") != cal.fingerprint()
        # An open consultation moves the date day by day while it lasts: its end (recorded through
        # ``change``, or its 15 WD running out) is announced, not each day of it.
        if not stored or calendar_changed or not (d.depends_on_open_consultation or d.depends_on_unpaid_fee):
            # (no stored clock: a case opened before the clock existed gets its first deadline)
            reason = "opened" if not stored else "calendar_changed" if calendar_changed else "consultation"
            pause = "fee" if reason == "consultation" and hist.abandoned_for is AbandonReason.FEE_UNPAID else None
            changed_evs = self._changed(case_id, rev + 1, announced, d, reason, cal, pause)
            if changed_evs:
                evs.extend(changed_evs)
                announced = self._announcement(d)
        sent = set(doc.get("alerts_sent") or [])
        new_keys = []
        for a in alerts(d, cal, today):
            key = f"{a.kind}:{a.threshold}:{a.due_on.isoformat()}"
            if key in sent:
                continue
            new_keys.append(key)
            if a.kind == "overdue":
                data: EventData = ep.CaseOverdue(
                    case_id=case_id, due_on=a.due_on, detected_on=today, open_departments=_open_departments(doc)
                )
            else:
                data = ep.DeadlineWarning(
                    case_id=case_id,
                    due_on=a.due_on,
                    workdays_left=max(a.workdays_left, 0),
                    threshold=a.threshold or 0,
                    open_departments=_open_departments(doc),
                    provisional=d.provisional,
                )
            evs.append((data, deterministic_id("procedure.alert", case_id, key)))
        summary = codec.summary(d, cal.fingerprint())
        if not evs and stored == summary:
            return False
        update: dict[str, Any] = {
            "$set": {
                "procedure": codec.dump(hist),
                "procedure_rev": rev + 1,
                "clock": summary,
                "clock_announced": announced,
            },
        }
        if new_keys:
            update["$push"] = {"alerts_sent": {"$each": new_keys}}
        result = await self.cases.update_one(
            {"_id": case_id, "procedure_rev": doc.get("procedure_rev")},
            _with_outbox(update, self._records(case_id, evs)),
        )
        return result.modified_count == 1  # lost a race: the next sweep sees the new state


def _triage_rows(t: Triage) -> list[dict[str, Any]]:
    return [
        {
            "question": a.question.value, "answer": a.answer, "by": a.by, "by_subject": a.by_subject,
            "at": a.at.isoformat(),
            "outcome_codes": list(a.outcome_codes), "note": a.note, "referral_agency": a.referral_agency,
        }  # fmt: skip
        for a in t.answers
    ]


def _with_outbox(update: dict[str, Any], records: list[dict[str, Any]]) -> dict[str, Any]:
    return outbox.merge_updates(update, outbox.append_update(records)) if records else update


def _open_departments(doc: dict[str, Any]) -> list[str]:
    answered = {a["task_id"] for a in doc.get("answers") or []}
    return sorted({t["dept_code"] for t in doc.get("tasks") or [] if t["task_id"] not in answered})

