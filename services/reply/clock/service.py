"""Adapter: the case clock's own documents (the only module of this package that does I/O besides
reading calendar files).

Collection ``clocks``, one document per case (``_id`` = the case id), written by the clock alone:

- its state: ``procedure`` (the procedural history, a ``codec.dump``), ``clock`` (the computed
  deadline, a ``codec.summary``: for the queries and the sweep), ``procedure_rev`` (the revision of
  ``servicekit.versioned``), ``clock_announced`` (the deadline last published in a
  ``deadline.changed``), ``alerts_sent`` (the warnings and overdue alerts raised), ``triage`` (the
  answers to the five questions), and its outbox (``servicekit.outbox``);
- what it knows of the case, each fact from the reply service's events (``feed``):
  ``tracking_number`` and the receipt (in ``procedure``) from ``case.routed``; ``tasks``
  (``task_id``, ``dept_code``: the open tasks) and ``route_seq`` from ``case.routed`` /
  ``case.rerouted``, minus the tasks a ``referral.recorded`` withdrew (``referrals``, ``referred``);
  ``answers`` (``task_id``, ``dept_code``, ``hash`` of the answer, ``review``: the sign-off or
  None, ``at``: the event's time) from ``answer.recorded``, minus the answers the OGI office set
  aside in a ``contradiction.resolved`` (``resolutions``: the contradiction ids applied;
  ``set_aside``: per reopened task, ``task_id`` and ``at``, the latest resolution's event time);
  ``reply_issued`` and ``replied_on`` from ``reply.issued``.

Every feed is idempotent (a redelivery changes nothing) and order-tolerant: a fact that comes before
``case.routed`` is kept on a placeholder document (no ``procedure``: not a case for the clock's
reads, steps and sweep yet) that ``case.routed`` completes; a reroute applies only if it is newer
than the routing known; of two different answers of a task the later one stands, and a sign-off of
the same answer is never undone by its draft coming late; an answer set aside counts no more, even
if its ``answer.recorded`` comes after the resolution, while an answer recorded after the
resolution (by event time: the same answer given again included) counts again. Which departments are still open is
``services.reply.release.open_departments`` (a draft keeps its department open).

Every change is one conditional write on ``procedure_rev`` (``servicekit.versioned``: a
concurrent change makes it decide again from a fresh read) that also appends its events to the
document's outbox, so state and events are stored together or not at all. Event ids are
deterministic: a retried step or sweep never creates a second fact.

Cases opened before the clock had its own collection kept these fields on the reply's ``cases``
documents: ``adopt`` (run at start-up, before the consumers start) copies each such case into
``clocks`` (its revision kept, so event ids stay unique) and removes the fields from the case.

Events go to ``topic`` only when one is given: the reply service passes it once the procedure
topic is in the topic catalogue (publishing to a topic that does not exist would stall the relay).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from prometheus_client import Gauge
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from contracts import events_procedure as ep
from contracts import events_routing as er
from contracts.envelope import CloudEvent, EventData, deterministic_id, new_event
from contracts.events import AnswerRecorded, CaseRouted, ContradictionResolved, ReplyIssued
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
from services.reply.release import content_hash, open_departments
from servicekit import outbox
from servicekit.versioned import NO_OUTBOX, Change, Conflict, Versioned

CHINA = ZoneInfo("Asia/Shanghai")
CLOCKS = "clocks"  # the collection
# The clock's fields on a case document of the reply's ``cases`` before ``clocks`` (see ``adopt``).
MIGRATION = "clocks-from-cases"  # its mark in the reply's ``migrations`` collection once done
LEGACY_FIELDS = ("procedure", "procedure_rev", "clock", "clock_announced", "alerts_sent", "triage")
NO_DEADLINE = {"due_on": None, "workdays_left": None, "deadline_status": None}
log = structlog.get_logger()
# Set at the end of each complete sweep (every replica sweeps every open case: take max() over them).
CASES = Gauge("gongkai_cases", "Open cases by the state of their legal deadline, as of the last sweep", ["state"])
CASE_STATES = ("open", "running", "paused", "due_soon", "overdue")
DUE_SOON_WORKDAYS = 5  # the last warning's threshold (Art. 33: 20 working days in all)


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
        db: AsyncDatabase,
        source: str,
        calendar: Callable[[], WorkCalendar],
        topic: str | None,
        today: Callable[[], date] = china_today,
    ) -> None:
        self.clocks: AsyncCollection = db[CLOCKS]
        self.docs = Versioned(self.clocks, rev_field="procedure_rev")
        self.source = source
        self.calendar = calendar
        self.topic = topic
        self.today = today
        self.tally: dict[str, int] | None = None  # the last complete sweep's counts (the gauge gongkai_cases)

    async def setup(self, cases: AsyncCollection | None = None) -> None:
        """Indexes; then, given the reply's ``cases``, the cases opened before ``clocks`` (``adopt``)."""
        await self.docs.ensure_indexes()
        await self.clocks.create_index("clock.due_on")
        await self.clocks.create_index("reply_issued")
        if cases is not None:
            await self.adopt(cases)

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

    # -- the feed: what the clock knows of the case, from the reply service's events ------------------

    @staticmethod
    def _placeholder(case_id: str) -> dict[str, Any]:
        """A case the clock has facts of but no ``case.routed`` yet (no ``procedure``)."""
        return {"_id": case_id, "tasks": [], "route_seq": None, "referrals": [], "referred": [], "answers": [],
                "resolutions": [], "set_aside": [], "reply_issued": False, "replied_on": None, "alerts_sent": [],
                "triage": []}

    async def _feed(self, case_id: str, decide: Callable[[dict[str, Any]], Change | None], what: str) -> bool:
        """Apply one fact of the case (``decide``: the change, or None when it is known already);
        a placeholder first when the case is not known yet. True when the document changed."""
        missing = False

        def guarded(doc: dict[str, Any] | None) -> Change | None:
            nonlocal missing
            missing = doc is None
            return None if doc is None else decide(doc)

        for _ in range(3):
            done = await self.docs.change(case_id, guarded, what=what)
            if not missing:
                return bool(done)
            await self.docs.insert(self._placeholder(case_id))  # False: somebody made it meanwhile
        raise Conflict(f"{what}: {case_id} could not be created")

    async def feed(self, event: CloudEvent[Any]) -> bool:
        """One of the reply service's events about a case (others are ignored). True: it changed."""
        data = event.data
        if isinstance(data, CaseRouted):
            return await self.on_routed(data)
        if isinstance(data, er.CaseRerouted):
            return await self.on_rerouted(data)
        if isinstance(data, er.ReferralRecorded):
            return await self.on_referral(data)
        if isinstance(data, AnswerRecorded):
            return await self.on_answer(data, event.time)
        if isinstance(data, ContradictionResolved):
            return await self.on_resolved(data, event.time)
        if isinstance(data, ReplyIssued):
            return await self.on_reply(data.case_id, event.time)
        return False

    async def on_routed(self, routed: CaseRouted) -> bool:
        """``case.routed``: the clock of the case starts: its first deadline, with its
        ``deadline.changed``, and the tasks. Once (a redelivery changes nothing)."""
        case_id = routed.case_id
        cal = self.calendar()
        hist = History(received_on=routed.received_on, channel=routed.channel)
        d = compute(hist, cal, self.today())
        opened = {
            "tracking_number": routed.tracking_number,
            "procedure": codec.dump(hist),
            "clock": codec.summary(d, cal.fingerprint()),
            "clock_announced": self._announcement(d),
        }
        records = self._records(case_id, self._changed(case_id, 0, None, d, "opened", cal))
        tasks = [{"task_id": t.task_id, "dept_code": t.dept_code} for t in routed.tasks]
        if await self.docs.insert({**self._placeholder(case_id), **opened, "tasks": tasks, "route_seq": 0}, records):
            return True

        def decide(doc: dict[str, Any]) -> Change | None:
            if doc.get("procedure"):
                return None  # a redelivery
            fields = dict(opened)
            if doc.get("route_seq") is None:  # no reroute came first
                fields |= {"tasks": _without(tasks, doc.get("referred") or []), "route_seq": 0}
            return Change(set=fields, records=records, result=True)

        return await self._feed(case_id, decide, "case.routed")

    async def on_rerouted(self, ev: er.CaseRerouted) -> bool:
        """``case.rerouted``: the open tasks after the change, if newer than the routing known."""

        def decide(doc: dict[str, Any]) -> Change | None:
            if doc.get("route_seq") is not None and ev.change_seq <= doc["route_seq"]:
                return None
            tasks = [{"task_id": t.task_id, "dept_code": t.dept_code} for t in ev.tasks]
            return Change(set={"tasks": _without(tasks, doc.get("referred") or []), "route_seq": ev.change_seq},
                          result=True)

        return await self._feed(ev.case_id, decide, "case.rerouted")

    async def on_referral(self, ev: er.ReferralRecorded) -> bool:
        """``referral.recorded``: the tasks it withdrew are no longer the case's."""

        def decide(doc: dict[str, Any]) -> Change | None:
            if ev.referral_id in (doc.get("referrals") or []):
                return None
            referred = list(doc.get("referred") or [])
            referred += [w.task_id for w in ev.withdrawn if w.task_id not in referred]
            return Change(set={"tasks": _without(doc.get("tasks") or [], referred), "referred": referred,
                               "referrals": [*(doc.get("referrals") or []), ev.referral_id]}, result=True)

        return await self._feed(ev.case_id, decide, "referral.recorded")

    async def on_answer(self, ev: AnswerRecorded, at: datetime) -> bool:
        """``answer.recorded`` (a draft, or its sign-off): the task's answer as the clock knows it."""
        entry = {"task_id": ev.task_id, "dept_code": ev.dept_code, "hash": content_hash(ev.answer),
                 "review": ev.review.model_dump(mode="json") if ev.review else None, "at": _aware(at)}

        def decide(doc: dict[str, Any]) -> Change | None:
            if _set_aside(doc, ev.task_id, entry["at"]):
                return None  # an answer the OGI office set aside, come after the resolution
            answers = list(doc.get("answers") or [])
            merged = merge_answer(next((a for a in answers if a["task_id"] == ev.task_id), None), entry)
            if merged is None:
                return None
            return Change(set={"answers": [a for a in answers if a["task_id"] != ev.task_id] + [merged]}, result=True)

        return await self._feed(ev.case_id, decide, "answer.recorded")

    async def on_resolved(self, ev: ContradictionResolved, at: datetime) -> bool:
        """``contradiction.resolved``: the answers of the reopened tasks recorded before it (event
        time ``at``) are set aside, so their departments are open again. Once per contradiction."""
        at = _aware(at)
        reopened = {t.task_id for t in ev.reopened}

        def decide(doc: dict[str, Any]) -> Change | None:
            done = list(doc.get("resolutions") or [])
            if ev.contradiction_id in done:
                return None  # a redelivery
            marks = {m["task_id"]: m for m in doc.get("set_aside") or []}
            for task_id in sorted(reopened):
                known = marks.get(task_id)
                if known is None or _aware(known["at"]) < at:
                    marks[task_id] = {"task_id": task_id, "at": at}
            answers = [a for a in doc.get("answers") or []
                       if a["task_id"] not in reopened or (a.get("at") is not None and _aware(a["at"]) > at)]
            return Change(set={"answers": answers, "set_aside": list(marks.values()),
                               "resolutions": [*done, ev.contradiction_id]}, result=True)

        return await self._feed(ev.case_id, decide, "contradiction.resolved")

    async def on_reply(self, case_id: str, at: datetime) -> bool:
        """``reply.issued``: the case is replied (on that day in China); the clock stops."""
        replied_on = _aware(at).astimezone(CHINA).date().isoformat()

        def decide(doc: dict[str, Any]) -> Change | None:
            if doc.get("reply_issued"):
                return None
            return Change(set={"reply_issued": True, "replied_on": replied_on}, result=True)

        return await self._feed(case_id, decide, "reply.issued")

    # -- reading --------------------------------------------------------------------------------

    @staticmethod
    def history_of(doc: dict[str, Any]) -> History:
        """The history of a clock document (``procedure``), replied if the reply was issued."""
        h = codec.load(doc["procedure"])
        if doc.get("reply_issued") and h.replied_on is None and doc.get("replied_on"):
            h = replace(h, replied_on=date.fromisoformat(doc["replied_on"]))
        return h

    async def _get(self, case_id: str) -> dict[str, Any]:
        doc = await self.docs.load(case_id)
        if not _opened(doc):
            raise CaseNotFound(case_id)
        assert doc is not None
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

    async def task_deadlines(self, case_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """For the departments' task listings: each case's ``due_on``, ``workdays_left`` and
        ``deadline_status`` (all None for a case the clock does not know)."""
        ids = list(case_ids)
        out = {cid: dict(NO_DEADLINE) for cid in ids}
        cal, today = self.calendar(), self.today()
        async for doc in self.clocks.find({"_id": {"$in": ids}, "procedure": {"$exists": True}}, NO_OUTBOX):
            d = compute(self.history_of(doc), cal, today)
            left = workdays_left(d, cal, today) if d.status in (Status.RUNNING, Status.PAUSED) else None
            out[doc["_id"]] = {"due_on": d.due_on.isoformat() if d.due_on else None, "workdays_left": left,
                               "deadline_status": d.status.value}
        return out

    async def overdue(self) -> list[dict[str, Any]]:
        today, cal = self.today(), self.calendar()
        out = []
        query = {"reply_issued": False, "clock.status": {"$in": ["running", "paused"]}, "clock.due_on": {"$lt": today.isoformat()}}
        async for doc in self.clocks.find(query, NO_OUTBOX):
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
        async for doc in self.clocks.find(query, NO_OUTBOX):
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

    async def _change(self, case_id: str, decide: Callable[[dict[str, Any]], Change], what: str) -> Any:  # noqa: ANN401
        """A step on an open case (``decide`` sees its document); 409 ``busy`` after every attempt lost a race."""

        def checked(doc: dict[str, Any] | None) -> Change:
            if not _opened(doc):
                raise CaseNotFound(case_id)
            assert doc is not None
            if doc.get("reply_issued"):
                raise ProcedureRefused("case_closed", "该案件已作出答复")
            return decide(doc)

        try:
            return await self.docs.change(case_id, checked, what=what)
        except Conflict:
            raise ProcedureRefused("busy", "案件正被同时修改，请重试") from None

    async def change(
        self,
        case_id: str,
        step: Callable[[History, WorkCalendar], History],
        events: Callable[[History, Deadline, Deadline], list[tuple[EventData, str]]],
        reason: str,
        pause: str | None = None,
    ) -> dict[str, Any]:
        """Apply one procedural step (validated by ``step``), store it with its events."""

        def decide(doc: dict[str, Any]) -> Change:
            cal, today = self.calendar(), self.today()
            hist = self.history_of(doc)
            old = compute(hist, cal, today)
            new_hist = step(hist, cal)
            new = compute(new_hist, cal, today)
            rev = int(doc.get("procedure_rev") or 0)
            evs = events(new_hist, old, new) + self._changed(case_id, rev + 1, self._announced(doc), new, reason, cal,
                                                             pause)
            return Change(
                set={
                    "procedure": codec.dump(new_hist),
                    "clock": codec.summary(new, cal.fingerprint()),
                    "clock_announced": self._announcement(new),
                },
                records=self._records(case_id, evs),
                result={"case_id": case_id, "explanation": explain(new_hist, new)},
            )

        return await self._change(case_id, decide, reason)

    # -- the processing fee (Art. 42, 国办函〔2020〕109号): intake's events ---------------------------

    async def fee_notice_issued(self, case_id: str, issued_on: date, amount_yuan: int) -> dict[str, Any]:
        """Intake issued the fee notice: the reply time stops from the next working day."""

        def step(h: History, cal: WorkCalendar) -> History:
            return issue_fee_notice(h, issued_on=issued_on, amount_yuan=amount_yuan)

        out = await self.change(case_id, step, lambda h, old, new: [], "consultation", pause="fee")
        # A notice entered afterwards (补登记) may be past its 20 WD already: abandoned now, not
        # at the next round of the sweep.
        doc = await self._get(case_id)
        if fee_lapsed(self.history_of(doc), self.calendar(), self.today()):
            await self._sweep_one(doc)
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
            answers.append(
                TriageAnswer(
                    question=Question(a["question"]), answer=a["answer"], by=a["by"], at=_aware(a["at"]),
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

        def decide(doc: dict[str, Any]) -> Change:
            t = record(self.triage_of(doc), answer)  # raises TriageRefused
            nxt = self._next(doc, t)
            data = ep.TriageRecorded(
                case_id=case_id, question=answer.question.value, answer=answer.answer,
                outcome_codes=list(answer.outcome_codes), referral_agency=answer.referral_agency,
                answered_by=answer.by, answered_at=answer.at, next_step=nxt["step"], answered_by_subject=answer.by_subject,
            )  # fmt: skip
            row = _triage_rows(Triage((answer,)))[0] | {"at": answer.at}
            eid = deterministic_id("triage.recorded", case_id, str(len(t.answers)))
            return Change(
                push={"triage": row},
                records=self._records(case_id, [(data, eid)]),
                result={"case_id": case_id, "answers": _triage_rows(t), "next": nxt},
            )

        return await self._change(case_id, decide, "triage")

    # -- the sweep: calendar changes, abandonment, warnings, overdue --------------------------------

    async def sweep(self) -> int:
        """One pass over the open cases; returns how many documents changed."""
        changed = 0
        tally = dict.fromkeys(CASE_STATES, 0)
        async for doc in self.clocks.find({"reply_issued": False, "procedure": {"$exists": True}}, NO_OUTBOX):
            if await self._sweep_one(doc, tally):
                changed += 1
        for state, n in tally.items():
            CASES.labels(state).set(n)
        self.tally = tally
        return changed

    async def _sweep_one(self, doc: dict[str, Any], tally: dict[str, int] | None = None) -> bool:
        case_id = doc["_id"]
        cal, today = self.calendar(), self.today()
        hist = self.history_of(doc)
        d = compute(hist, cal, today)
        if tally is not None and d.status in (Status.RUNNING, Status.PAUSED):
            tally["open"] += 1
            tally["running" if d.status is Status.RUNNING else "paused"] += 1
            if d.due_on is not None and d.due_on < today:
                tally["overdue"] += 1
            elif (left := workdays_left(d, cal, today)) is not None and left <= DUE_SOON_WORKDAYS:
                tally["due_soon"] += 1
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
        departments = _open_departments(doc)
        new_keys = []
        for a in alerts(d, cal, today):
            key = f"{a.kind}:{a.threshold}:{a.due_on.isoformat()}"
            if key in sent:
                continue
            new_keys.append(key)
            if a.kind == "overdue":
                data: EventData = ep.CaseOverdue(
                    case_id=case_id, due_on=a.due_on, detected_on=today, open_departments=departments
                )
            else:
                data = ep.DeadlineWarning(
                    case_id=case_id,
                    due_on=a.due_on,
                    workdays_left=max(a.workdays_left, 0),
                    threshold=a.threshold or 0,
                    open_departments=departments,
                    provisional=d.provisional,
                )
            evs.append((data, deterministic_id("procedure.alert", case_id, key)))
        summary = codec.summary(d, cal.fingerprint())
        if not evs and stored == summary:
            return False
        change = Change(
            set={"procedure": codec.dump(hist), "clock": summary, "clock_announced": announced},
            push={"alerts_sent": {"$each": new_keys}} if new_keys else {},
            records=self._records(case_id, evs),
        )
        return await self.docs.write(doc, change)  # lost a race: the next sweep sees the new state

    # -- cases opened before the clock had its collection ---------------------------------------------

    async def adopt(self, cases: AsyncCollection, batch: int = 500) -> int:
        """Start-up migration (idempotent, safe on several replicas at once): every case of the
        reply's ``cases`` without a clock document gets one, made from the clock's fields on the
        case (``LEGACY_FIELDS``; a case from before the clock existed: its receipt alone, the sweep
        then announces its first deadline), which are then removed from the case. The case's own
        outbox keeps any clock event not yet published. Returns how many clocks were made. Once a pass
        has finished, a mark in ``migrations`` makes later start-ups skip the scan (a case opened by
        a replica of the version before, during a rolling upgrade, is not adopted then)."""
        migrations = cases.database["migrations"]
        if await migrations.find_one({"_id": MIGRATION}):
            return 0  # done by an earlier start-up: no scan of every case each time
        made, rows = 0, []
        async for row in cases.find({}, {"_id": 1, "procedure_rev": 1}):
            rows.append(row)
            if len(rows) >= batch:
                made += await self._adopt(cases, rows)
                rows = []
        if rows:
            made += await self._adopt(cases, rows)
        await migrations.update_one({"_id": MIGRATION}, {"$set": {"done_at": datetime.now(UTC), "adopted": made}},
                                    upsert=True)
        if made:
            log.info("clocks_adopted", cases=made)
        return made

    async def _adopt(self, cases: AsyncCollection, rows: list[dict[str, Any]]) -> int:
        ids = [r["_id"] for r in rows]
        have = {d["_id"]: d async for d in self.clocks.find({"_id": {"$in": ids}}, {"_id": 1, "procedure": 1})}
        made = 0
        for row in rows:
            case_id = row["_id"]
            known = have.get(case_id)
            if known is not None and known.get("procedure") and "procedure_rev" not in row:
                continue  # adopted already (or opened with its clock)
            case = await cases.find_one({"_id": case_id}, NO_OUTBOX)
            if case is None:
                continue
            if known is None or not known.get("procedure"):
                made += await self._adopt_one(case)
            await cases.update_one({"_id": case_id, "procedure_rev": case.get("procedure_rev")},
                                   {"$unset": {f: "" for f in LEGACY_FIELDS}})
        return made

    async def _adopt_one(self, case: dict[str, Any]) -> int:
        doc = adopted(case)
        try:
            # Not ``Versioned.insert``: the revision is kept, so the event ids derived from it stay new.
            await self.clocks.insert_one({**doc, **outbox.new_doc_fields([])})
            return 1
        except DuplicateKeyError:
            pass
        # A placeholder made by an event that came first: the case's clock completes it.
        for _ in range(5):
            known = await self.docs.load(case["_id"])
            if known is None or known.get("procedure"):
                return 0
            merged = {**doc, "answers": known.get("answers") or doc["answers"],
                      "reply_issued": bool(doc["reply_issued"] or known.get("reply_issued")),
                      "replied_on": doc["replied_on"] or known.get("replied_on"),
                      "procedure_rev": max(doc["procedure_rev"], int(known.get("procedure_rev") or 0)) + 1}
            if known.get("route_seq") is not None and known["route_seq"] > (doc.get("route_seq") or 0):
                merged |= {"tasks": known["tasks"], "route_seq": known["route_seq"]}
            merged.pop("_id")
            done = await self.clocks.update_one({"_id": case["_id"], "procedure_rev": known.get("procedure_rev")},
                                                {"$set": merged})
            if done.matched_count == 1:
                return 1
        return 0


def adopted(case: dict[str, Any]) -> dict[str, Any]:
    """The clock document of a case whose clock lived on the case document (pure)."""
    procedure = case.get("procedure") or codec.dump(History(received_on=date.fromisoformat(case["received_on"])))
    replied_on = None
    at = (case.get("reply") or {}).get("issued_at")
    if case.get("reply_issued") and isinstance(at, datetime):
        replied_on = _aware(at).astimezone(CHINA).date().isoformat()
    doc: dict[str, Any] = {
        "_id": case["_id"],
        "tracking_number": case.get("tracking_number"),
        "procedure": procedure,
        "procedure_rev": int(case.get("procedure_rev") or 0),
        "alerts_sent": list(case.get("alerts_sent") or []),
        "triage": list(case.get("triage") or []),
        "tasks": [{"task_id": t["task_id"], "dept_code": t["dept_code"]} for t in case.get("tasks") or []],
        "route_seq": int(case.get("route_seq") or 0),
        "referrals": [r["referral_id"] for r in case.get("referrals") or []],
        "referred": [],
        "answers": [{"task_id": a["task_id"], "dept_code": a["dept_code"], "hash": a.get("hash"),
                     "review": a.get("review"), "at": a.get("at")} for a in case.get("answers") or []],
        "reply_issued": bool(case.get("reply_issued")),
        "replied_on": replied_on,
    }
    for name in ("clock", "clock_announced"):  # absent: a case from before the clock existed
        if case.get(name) is not None:
            doc[name] = case[name]
    return doc


def merge_answer(known: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any] | None:
    """The task's answer after ``new`` (None: ``new`` tells nothing new). The same answer keeps its
    sign-off whichever of the draft and the sign-off comes first; a different answer replaces it
    only if it is later (the draft replaced before its sign-off, or answered again after the OGI
    office set the answer aside)."""
    if known is None:
        return new
    if known.get("hash") == new["hash"]:
        if known.get("review") is not None or new["review"] is None:
            return None
        return {**known, "review": new["review"], "at": max(_aware(known["at"]), new["at"])}
    if known.get("at") is not None and new["at"] <= _aware(known["at"]):
        return None
    return new


def _set_aside(doc: dict[str, Any], task_id: str, at: datetime) -> bool:
    """Whether the task's answer of event time ``at`` was set aside by a resolution after it."""
    mark = next((m for m in doc.get("set_aside") or [] if m["task_id"] == task_id), None)
    return mark is not None and at <= _aware(mark["at"])


def _opened(doc: dict[str, Any] | None) -> bool:
    return doc is not None and bool(doc.get("procedure"))


def _without(tasks: list[dict[str, Any]], referred: list[str]) -> list[dict[str, Any]]:
    gone = set(referred)
    return [t for t in tasks if t["task_id"] not in gone]


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _open_departments(doc: dict[str, Any]) -> list[str]:
    return open_departments(doc.get("tasks") or [], doc.get("answers") or [])


def _triage_rows(t: Triage) -> list[dict[str, Any]]:
    return [
        {
            "question": a.question.value, "answer": a.answer, "by": a.by, "by_subject": a.by_subject,
            "at": a.at.isoformat(),
            "outcome_codes": list(a.outcome_codes), "note": a.note, "referral_agency": a.referral_agency,
        }  # fmt: skip
        for a in t.answers
    ]
