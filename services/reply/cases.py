"""The reply service's case store: loading a case, writing a change with its events, rendering.

The decisions are ``services.reply.release`` (pure): given the case and an answer, a sign-off, a
closure, a contradiction's resolution, a re-routing or a referral, what changes and which events
follow, and whether the reply is to be held, issued or amended (with
``services.reply.aggregation`` for the reply's content). This store loads the case, applies the
plan in one single-document update conditional on the case's ``reply_rev``
(``servicekit.versioned``: a concurrent change makes it plan again from a fresh read) that also
appends the plan's events to the document's outbox (``servicekit.outbox``), so state and events
are stored together or not at all; and it renders and stores the reply's documents before the
write that issues them. The case clock (``services.reply.clock``) keeps its own documents
(collection ``clocks``), fed by the same events; nothing of it is on the case.

Case document (collection ``cases``):
``tasks`` the open tasks (the current set after re-routing), ``withdrawn`` tasks no longer the
departments', ``answers`` one entry per task (answer, sign-off, event id), ``open_depts`` the
departments with an open task whose answer is not signed off yet (their inbox listing:
``release.open_departments``), ``answered_count``, ``expected``, ``referrals``, ``contradictions``
(flagged, resolved or not), ``closed`` (the OGI office closed it with answers missing), ``reply``
(the one reply), ``amendments``, ``route_seq`` (last ``case.rerouted`` applied), ``refused``
(answers refused, each once); the desk's ``acknowledged`` and ``returns`` (``services.reply.tasks``).

Task index (collection ``task_cases``): ``{_id: task_id, case_id}``, one per task a case has ever
had (open or withdrawn: a task never leaves its case), so that finding a task's case is two
``_id`` lookups instead of a query on ``tasks.task_id`` / ``withdrawn.task_id`` (which the local
store answers by scanning every case). Written (idempotent upserts) before the write that adds the
tasks to the case: when opening it and before a re-routing or referral is applied, so a case's
tasks are always indexed. ``setup`` indexes the cases stored before the index existed (once: a
marker records it); until then a task missing from the index is looked up by the old query and
indexed.

Documents (collection ``documents``): one per document id: ``html`` and ``pdf`` (BSON binary, a
few hundred kB at most; the store has no GridFS), ``sha256``; the reply's and each amendment's
``document.issued`` goes in the same write as ``reply.issued`` / ``reply.amended``. The documents of
the procedural steps are in the same collection (``services.reply.step_documents``). The PDF is
addressed to the applicant by name (``applicants``, from the restricted contacts topic); the plain
text carried by the events stays without it.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import structlog
from bson import Binary
from pymongo import UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from contracts import events_routing as er
from contracts import topics
from contracts.envelope import EventData, deterministic_id, new_event
from contracts.events import Answer, CaseRouted, ConfidentialityReview
from contracts.events_documents import DocumentIssued
from services.reply import release
from services.reply.release import (  # noqa: F401 - re-exported: the app, the desk and the tests use them here
    CHINA,
    OGI_DEPT,
    AnswerRefusal,
    OgiRefusal,
    Officer,
    Plan,
    content_hash,
)
from services.reply.documents.models import Mailing
from services.reply.reply_docs import AgencyInfo, consolidated_context, render
from services.reply.step_documents import addressee_name, mailing_of
from servicekit import outbox
from servicekit.versioned import DEFAULT_ATTEMPTS, Change, Conflict, Versioned

MAX_PDF_BYTES = 15 * 1024 * 1024  # one BSON document holds at most 16 MB
log = structlog.get_logger()


# The ``task_cases`` entry saying that the cases stored before the index existed are indexed.
_INDEXED_MARKER = "~indexed-older-cases"
_CASE_OF_SIZE = 20_000  # tasks whose case this process remembers (``CaseStore._case_of``)


class TaskNotYetKnown(Exception):
    """An answer for a task whose case has not reached this service yet (retry later)."""


class CaseNotFound(LookupError):
    pass


@dataclass(frozen=True)
class Recorded:
    case_id: str
    status: str  # recorded | draft_recorded | signed_off | already_recorded

    @property
    def created(self) -> bool:
        return self.status != "already_recorded"


def china_today() -> date:
    return datetime.now(CHINA).date()


class _Retry(Exception):
    """A change that lost the race to concurrent changes of its case every time (a consumer's
    message is redelivered)."""


class CaseStore:
    def __init__(self, db: AsyncDatabase, source: str, agency: AgencyInfo | None = None,
                 render_documents: bool = True, today: Callable[[], date] = china_today) -> None:
        self.cases = db["cases"]
        self.task_cases = db["task_cases"]  # task_id -> case_id (module docstring)
        # True until ``setup`` has indexed the cases stored before ``task_cases`` existed: a task
        # missing from the index may then still be in a case (found by the old query).
        self._unindexed_cases = True
        # task_id -> case_id as found (a task never leaves its case): the next look-up of the task
        # loads its case at once. Bounded (least recently used dropped first).
        self._case_of: OrderedDict[str, str] = OrderedDict()
        # Every change of a case: one write conditional on ``reply_rev``, with its outbox records.
        self.versioned = Versioned(self.cases, rev_field="reply_rev")
        self.documents = db["documents"]
        self.applications = db["applications"]
        self.applicants = db["applicants"]  # private (services.reply.step_documents): the documents only
        self.source = source
        self.agency = agency
        self.render_documents = render_documents
        self.today = today
        # The case clock (services.reply.clock.service.ClockService), set by the app: a new case's
        # clock document (its procedural history, first deadline and event) is made from the same
        # case.routed, before the case itself is stored.
        self.clock: Any = None

    async def setup(self) -> None:
        await self.cases.create_index("tasks.task_id")
        await self.cases.create_index("withdrawn.task_id")
        await self.cases.create_index("open_depts")
        await self.cases.create_index("reply_issued")
        await self.documents.create_index("case_id")
        await outbox.ensure_indexes(self.cases)
        await self._index_older_cases()

    # -- the task index ------------------------------------------------------------------------

    async def _index_tasks(self, case_id: str, task_ids: list[str]) -> None:
        """Record that these tasks are the case's (idempotent: a redelivered event rewrites the same)."""
        ids = list(dict.fromkeys(task_ids))
        if ids:
            await self.task_cases.bulk_write(
                [UpdateOne({"_id": t}, {"$set": {"case_id": case_id}}, upsert=True) for t in ids], ordered=False)

    async def _index_older_cases(self) -> None:
        """Index the tasks of cases stored before ``task_cases`` existed: one pass over the cases,
        once (the marker says it was done); the new ones are indexed when written."""
        if await self.task_cases.find_one({"_id": _INDEXED_MARKER}) is None:
            async for case in self.cases.find({}, {"tasks.task_id": 1, "withdrawn.task_id": 1}):
                await self._index_tasks(case["_id"], [t["task_id"] for t in
                                                      (case.get("tasks") or []) + (case.get("withdrawn") or [])])
            await self.task_cases.update_one({"_id": _INDEXED_MARKER}, {"$set": {"at": datetime.now(UTC)}},
                                             upsert=True)
        self._unindexed_cases = False

    # -- events --------------------------------------------------------------------------------

    def _event(self, data: EventData, case_id: str, event_id: str, causation_id: str | None = None) -> Any:
        return new_event(data, source=self.source, subject=case_id, event_id=event_id, causation_id=causation_id,
                         time=datetime.now(UTC))

    def _records(self, case_id: str, plan: Plan) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """The outbox records of the plan's events (one per topic of each), and the events by id."""
        events = {e.event_id: self._event(e.data, case_id, e.event_id, e.causation_id) for e in plan.emits}
        return [outbox.record(topic, events[e.event_id]) for e in plan.emits for topic in e.topics], events

    def _change(self, case_id: str, plan: Plan) -> Change:
        records, _ = self._records(case_id, plan)
        return Change(set=plan.set, push=plan.push, records=records, result=plan.result)

    @property
    def office(self) -> str:
        """The OGI office's name: the "department" of a referral's part of the reply."""
        return self.agency.office if self.agency else release.DEFAULT_OFFICE

    async def _apply(self, case_id: str, plan_of: Callable[[dict[str, Any] | None], Plan | None],
                     what: str) -> Plan | None:
        """Plan on a fresh read of the case and write the plan (if it changes anything); again from
        a fresh read when a concurrent change came first. The last plan (None: ``plan_of`` found
        nothing to do); ``Conflict`` after too many lost races."""
        last: list[Plan | None] = [None]

        def decide(doc: dict[str, Any] | None) -> Change | None:
            plan = last[0] = plan_of(doc)
            return self._change(case_id, plan) if plan is not None and plan.writes else None

        await self.versioned.change(case_id, decide, what=what)
        return last[0]

    # -- opening and following the routing -----------------------------------------------------

    async def open_case(self, routed: CaseRouted) -> bool:
        if self.clock is not None:  # the clock's own document (collection ``clocks``), from the same event
            await self.clock.on_routed(routed)
        tasks = [t.model_dump() for t in routed.tasks]
        await self._index_tasks(routed.case_id, [t["task_id"] for t in tasks])  # before the case: always indexed
        doc = {
            "_id": routed.case_id,
            "tracking_number": routed.tracking_number,
            "agency_code": routed.agency_code,
            "agency_name": routed.agency_name,
            "received_on": routed.received_on.isoformat(),
            "tasks": tasks,
            "withdrawn": [],
            "open_depts": sorted({t["dept_code"] for t in tasks}),
            "expected": len(tasks),
            "answers": [],
            "answered_count": 0,
            "referrals": [],
            "contradictions": [],
            "closed": None,
            "reply_issued": False,
            "reply": None,
            "amendments": [],
            "route_seq": 0,
            "reply_rev": 0,
            **outbox.new_doc_fields([]),
        }
        try:
            await self.cases.insert_one(doc)
            return True
        except DuplicateKeyError:
            return False

    async def note_application(self, case_id: str, description: str, delivery_method: str | None = None) -> None:
        """What was applied for (printed in the reply) and how the applicant asked to get the
        information (``post``: the documents give the 送达地址): from ``application.received``."""
        fields = {"description": description} | ({"delivery_method": delivery_method} if delivery_method else {})
        await self.applications.update_one({"_id": case_id}, {"$set": fields}, upsert=True)

    async def apply_reroute(self, ev: er.CaseRerouted) -> bool:
        """The OGI office changed the departments: the open set becomes ``ev.tasks``
        (``release.plan_reroute``). False: this change was applied before."""
        await self._index_tasks(ev.case_id, [t.task_id for t in ev.tasks] + [w.task_id for w in ev.withdrawn])
        return await self._follow_routing(ev.case_id, lambda doc: release.plan_reroute(doc, ev), "reroute")

    async def apply_referral(self, ev: er.ReferralRecorded) -> bool:
        """A referral (Art. 36(5)): whole case → the reply is the referral; partial → one part
        (``release.plan_referral``). False: recorded before."""
        await self._index_tasks(ev.case_id, [w.task_id for w in ev.withdrawn])
        return await self._follow_routing(ev.case_id, lambda doc: release.plan_referral(doc, ev), "referral")

    async def _follow_routing(self, case_id: str, plan_of: Callable[[dict[str, Any]], Plan | None], what: str) -> bool:
        def planned(doc: dict[str, Any] | None) -> Plan | None:
            if doc is None:
                raise TaskNotYetKnown(case_id)  # case.routed not seen yet: retried by the consumer
            return plan_of(doc)

        try:
            plan = await self._apply(case_id, planned, what)
        except Conflict as exc:
            raise _Retry(f"{what}: too many concurrent changes") from exc
        if plan is None:
            return False
        await self._advance_after_write(case_id)
        return True

    # -- reading -------------------------------------------------------------------------------

    async def open_tasks(self, dept_code: str) -> list[dict[str, Any]]:
        """The department's open tasks (``release.open_departments``: until the answer is signed off)."""
        out = []
        async for case in self.cases.find({"open_depts": dept_code}, {"outbox": 0}):
            answered = {a["task_id"] for a in case["answers"]}
            signed = release.signed_off(case["answers"])
            for task in case["tasks"]:
                if task["dept_code"] == dept_code and task["task_id"] not in signed:
                    out.append({**task, "case_id": case["_id"], "tracking_number": case["tracking_number"],
                                "received_on": case["received_on"], "late": bool(case["reply_issued"]),
                                "draft": task["task_id"] in answered})
        return out

    async def get(self, case_id: str) -> dict[str, Any] | None:
        return await self.versioned.load(case_id)

    async def document(self, document_id: str) -> dict[str, Any] | None:
        return await self.documents.find_one({"_id": document_id})

    # -- answers -------------------------------------------------------------------------------

    async def _find_task(self, task_id: str) -> tuple[dict[str, Any], dict[str, Any] | None, dict[str, Any] | None]:
        """The task's case (by ``task_cases``, then by ``_id``), the open task, the withdrawn task."""
        known = self._case_of.get(task_id)
        if known is not None:
            case = await self.cases.find_one({"_id": known}, {"outbox": 0})
            task, gone = release.task_of(case, task_id) if case is not None else (None, None)
            if task is not None or gone is not None:
                assert case is not None
                self._case_of.move_to_end(task_id)
                return case, task, gone
            self._case_of.pop(task_id, None)
        entry = await self.task_cases.find_one({"_id": task_id})
        if entry is not None:
            case = await self.cases.find_one({"_id": entry["case_id"]}, {"outbox": 0})
            if case is not None:
                task, gone = release.task_of(case, task_id)
                if task is not None or gone is not None:
                    self._remember_case_of(task_id, case["_id"])
                    return case, task, gone
        if not self._unindexed_cases:
            # Indexed before its case is written: the case has not reached this service yet (or
            # the re-routing adding the task is being applied).
            raise TaskNotYetKnown(task_id)
        case = await self.cases.find_one({"$or": [{"tasks.task_id": task_id}, {"withdrawn.task_id": task_id}]},
                                         {"outbox": 0})
        if case is None:
            raise TaskNotYetKnown(task_id)
        await self._index_tasks(case["_id"], [task_id])  # a case stored before the index: next time by _id
        self._remember_case_of(task_id, case["_id"])
        task, gone = release.task_of(case, task_id)
        return case, task, gone

    def _remember_case_of(self, task_id: str, case_id: str) -> None:
        self._case_of[task_id] = case_id
        self._case_of.move_to_end(task_id)
        while len(self._case_of) > _CASE_OF_SIZE:
            self._case_of.popitem(last=False)

    async def task_department(self, task_id: str) -> str:
        """The department a task belongs to (open or withdrawn); ``TaskNotYetKnown`` if none."""
        _, task, gone = await self._find_task(task_id)
        owner = task or gone
        assert owner is not None
        return owner["dept_code"]

    async def refuse_wrong_topic(self, task_id: str, topic_dept: str, claimed_dept: str) -> None:
        """An answer on department ``topic_dept``'s answers topic claiming to be ``claimed_dept``'s:
        refused (recorded as ``answer.refused`` on the task's case when the task is known), raised."""
        refusal = AnswerRefusal(
            403, "wrong_answers_topic",
            f"答复所称部门 {claimed_dept} 与其发布的答复主题所属部门 {topic_dept} 不符，不予接受")
        try:
            case, _, _ = await self._find_task(task_id)
        except TaskNotYetKnown:
            raise refusal from None
        await self.refuse(case, task_id, topic_dept, "topic", refusal, f"claimed:{claimed_dept}")

    async def refuse(self, case: dict[str, Any], task_id: str, dept_code: str, via: str, refusal: AnswerRefusal,
                     detail: str) -> None:
        """Record the refusal (``answer.refused`` via the outbox, ``release.plan_refusal``) and raise
        it. Each refusal once (the write's own condition), without taking part in ``reply_rev``: it
        changes nothing another change reads."""
        plan = release.plan_refusal(case, task_id, dept_code, via, refusal, detail, datetime.now(UTC))
        if plan is not None:
            records, _ = self._records(case["_id"], plan)
            event_id = plan.push["refused"]["event_id"]
            await self.cases.update_one(
                {"_id": case["_id"], "refused.event_id": {"$ne": event_id}},
                outbox.merge_updates({"$push": plan.push}, outbox.append_update(records)),
            )
        raise refusal

    async def record_answer(
        self, task_id: str, dept_code: str, answer: Answer, via: str, causation_id: str | None = None,
        review: ConfidentialityReview | None = None, author: Officer | None = None,
    ) -> Recorded:
        """Record a department's answer (``release.plan_answer``). ``author`` is the officer who wrote
        it (HTTP: from the token; kept with the draft for the four-eyes check of its review); answers
        from the topic have none."""
        case_id = await self._case_id_of(task_id)
        return await self._answer(case_id, task_id, dept_code, via, lambda doc: release.plan_answer(
            doc, task_id, dept_code, answer, via, datetime.now(UTC), causation_id=causation_id, review=review,
            author=author), "answer")

    async def sign_off(self, task_id: str, dept_code: str, review: ConfidentialityReview, via: str = "http") -> Recorded:
        """Add the confidentiality review sign-off to the task's answer (a draft until then):
        ``release.plan_sign_off``."""
        case_id = await self._case_id_of(task_id)
        return await self._answer(case_id, task_id, dept_code, via,
                                  lambda doc: release.plan_sign_off(doc, task_id, dept_code, review, via), "sign-off")

    async def _case_id_of(self, task_id: str) -> str:
        """The task's case id: remembered (a task never leaves its case), else ``_find_task``. The
        change that follows reads the case itself (and says when the task is not in it yet)."""
        known = self._case_of.get(task_id)
        if known is not None:
            return known
        case, _, _ = await self._find_task(task_id)
        return case["_id"]

    async def _answer(self, case_id: str, task_id: str, dept_code: str, via: str,
                      plan_of: Callable[[dict[str, Any]], Plan], what: str) -> Recorded:
        seen: list[dict[str, Any]] = []

        def planned(doc: dict[str, Any] | None) -> Plan:
            if doc is None or release.task_of(doc, task_id) == (None, None):
                raise TaskNotYetKnown(task_id)
            seen[:] = [doc]
            return plan_of(doc)

        try:
            plan = await self._apply(case_id, planned, what)
        except release.RecordRefusal as exc:
            await self.refuse(seen[0], task_id, dept_code, via, exc.refusal, exc.detail)
            raise  # not reached: refuse raises the refusal
        except Conflict as exc:
            raise _Retry(f"{what}: too many concurrent changes") from exc
        assert plan is not None
        if plan.writes:
            await self._advance_after_write(case_id)
        return Recorded(case_id, plan.result)

    # -- OGI office ----------------------------------------------------------------------------

    async def close_case(self, case_id: str, by: str, reason: str, by_subject: str | None = None) -> dict[str, Any]:
        """The OGI office closes the case with the missing answers stated (case.closed + the reply):
        ``release.plan_close``. The ``closed`` entry (the earlier one when closed before)."""
        return await self._ogi(case_id, lambda doc: release.plan_close(
            doc, by, reason, datetime.now(UTC), by_subject, self.office), "close")

    async def resolve_contradiction(self, case_id: str, contradiction_id: str, by: str, note: str,
                                    reopen: list[str], by_subject: str | None = None) -> dict[str, Any]:
        """The OGI office resolves a flagged contradiction: the answers stand (with a note), or the
        answers of ``reopen`` tasks are set aside for their departments to answer again
        (``release.plan_resolve``). The resolved contradiction."""
        return await self._ogi(case_id, lambda doc: release.plan_resolve(
            doc, contradiction_id, by, note, reopen, datetime.now(UTC), by_subject), "resolve")

    async def _ogi(self, case_id: str, plan_of: Callable[[dict[str, Any]], Plan], what: str) -> Any:  # noqa: ANN401
        def planned(doc: dict[str, Any] | None) -> Plan:
            if doc is None:
                raise CaseNotFound(case_id)
            return plan_of(doc)

        try:
            plan = await self._apply(case_id, planned, what)
        except Conflict:
            raise OgiRefusal(409, "案件正被同时修改，请重试") from None
        assert plan is not None
        if plan.writes:
            await self._advance_after_write(case_id)
        return plan.result

    # -- the release ---------------------------------------------------------------------------

    async def _advance_after_write(self, case_id: str) -> None:
        """Advance after a stored change; a failure (e.g. rendering) is left to the sweep to retry,
        the change itself stands."""
        try:
            await self.advance(case_id)
        except Exception as exc:  # noqa: BLE001
            log.warning("advance_failed", case_id=case_id, error=repr(exc))

    async def advance(self, case_id: str) -> str | None:
        """Flag new contradictions; issue the reply when ready; amend it with late answers
        (``release.plan_advance``). The outcome ("flagged", "held", "issued", "amended"; None:
        nothing to do, or the case kept changing). A reply or amendment is rendered and stored
        before the write that issues it (so its document exists once its events are out); the
        write lost to a concurrent change is planned, rendered and written again from a fresh read
        (the same document id: the stored render is replaced until it is issued)."""
        for _ in range(DEFAULT_ATTEMPTS):
            doc = await self.versioned.load(case_id)
            if doc is None:
                return None
            plan = release.plan_advance(doc, self.today(), datetime.now(UTC), self.office)
            if not plan.writes:
                return None if plan.outcome == release.NOTHING else plan.outcome
            stored = await self._render(doc, plan.release) if plan.release is not None else None
            records, events = self._records(case_id, plan)
            if plan.release is not None:
                records += self._document_records(doc, stored, plan.release.document_kind,
                                                  events[plan.release.emit.event_id])
            change = Change(set=plan.set, push=plan.push, records=records)
            if await self.versioned.write(doc, change, plan.guard):
                await self._mark_issued(stored)
                return plan.outcome
        return None

    async def _material_names(self, case_id: str) -> dict[str, str]:
        """``material:<id>`` -> the uploaded file's name (the desk's material store), for the reply."""
        cursor = self.cases.database["materials"].find({"case_id": case_id}, {"filename": 1})
        return {f"material:{d['_id']}": d["filename"] async for d in cursor if d.get("filename")}

    async def _request_summary(self, case_id: str) -> str:
        app = await self.applications.find_one({"_id": case_id})
        return (app or {}).get("description") or "（见政府信息公开申请表）"

    async def _applicant_name(self, case_id: str) -> str:
        """The applicant's name (or organisation's) for the PDF only: never in an event or the text."""
        return addressee_name(await self.applicants.find_one({"_id": case_id}))

    async def _mailing(self, case_id: str) -> Mailing | None:
        """The 送达地址 the reply prints when the applicant asked for delivery by post (PDF only)."""
        return mailing_of(await self.applicants.find_one({"_id": case_id}),
                          await self.applications.find_one({"_id": case_id}))

    async def _store_document(self, case_id: str, document_id: str, kind: str, context: Any,
                              seq: int = 1) -> dict[str, Any]:
        rendered = await render(context)
        if len(rendered.pdf) + len(rendered.html.encode()) > MAX_PDF_BYTES:
            raise ValueError(f"reply document of {case_id} too large to store ({len(rendered.pdf)} bytes of PDF)")
        sha = hashlib.sha256(rendered.pdf).hexdigest()
        title = rendered.title if kind == "reply" else "政府信息公开申请补充答复书"
        record = {"_id": document_id, "case_id": case_id, "kind": kind, "title": title, "html": rendered.html,
                  "pdf": Binary(rendered.pdf), "pdf_bytes": len(rendered.pdf), "sha256": sha, "seq": seq,
                  "issued_on": context.issued_on.isoformat(), "addressee": "applicant",
                  "created_at": datetime.now(UTC), "issued_at": datetime.now(UTC)}
        try:  # never over a released one (its hash is in the ledger)
            await self.documents.replace_one({"_id": document_id, "status": {"$ne": "issued"}}, record, upsert=True)
        except DuplicateKeyError:
            pass
        return {"document_id": document_id, "pdf_bytes": len(rendered.pdf), "sha256": sha, "title": title,
                "seq": seq, "issued_on": context.issued_on}

    def _document_records(self, doc: dict[str, Any], stored: dict[str, Any] | None, kind: str,
                          step_event: Any) -> list[dict[str, Any]]:  # noqa: ANN401
        """``document.issued`` for the reply's (or amendment's) PDF, in the same write as its event."""
        if stored is None:
            return []
        event = self._event(
            DocumentIssued(case_id=doc["_id"], tracking_number=doc["tracking_number"],
                           document_id=stored["document_id"], kind=kind, title=stored["title"], seq=stored["seq"],
                           addressee="applicant", issued_on=stored["issued_on"], step_event_id=step_event.id,
                           step_type=step_event.type, sha256=stored["sha256"], size=stored["pdf_bytes"]),
            doc["_id"], deterministic_id("document.issued", stored["document_id"]), step_event.id)
        return [outbox.record(topics.DOCUMENTS_ISSUED.name, event)]

    async def _mark_issued(self, stored: dict[str, Any] | None) -> None:
        """The released document is final: a later render (a lost race) never replaces its bytes."""
        if stored is not None:
            await self.documents.update_one({"_id": stored["document_id"], "sha256": stored["sha256"]},
                                            {"$set": {"status": "issued"}})

    async def _render(self, doc: dict[str, Any], rel: release.Release) -> dict[str, Any] | None:
        """Render and store the document of the reply (or amendment) about to be issued; its hash
        goes into the plan. None when this service renders no documents."""
        if not self.render_documents or self.agency is None:
            return None
        case_id = doc["_id"]
        context = consolidated_context(
            tracking_number=doc["tracking_number"], agency=self._agency(doc), received_on=rel.received_on,
            issued_on=rel.issued_on, request_summary=await self._request_summary(case_id), parts=rel.parts,
            decision=rel.decision, notes=rel.notes, material_names=await self._material_names(case_id),
            applicant_name=await self._applicant_name(case_id), mailing=await self._mailing(case_id))
        stored = await self._store_document(case_id, rel.document_id, rel.kind, context, seq=rel.seq)
        rel.add_document(stored["sha256"])
        return stored

    def _agency(self, doc: dict[str, Any]) -> AgencyInfo:
        assert self.agency is not None
        return AgencyInfo(name=doc["agency_name"], office=self.agency.office, address=self.agency.address,
                          phone=self.agency.phone, review_body=self.agency.review_body)

    async def sweep(self) -> int:
        """Advance cases left half-way by a crash between two writes (or a render that failed)."""
        done = 0
        today, now = self.today(), datetime.now(UTC)
        # Open cases, and released ones with late answers (an amendment may be due). The plan is
        # made on the case as the scan read it, and only a case with something to write is read
        # again and advanced: most open cases wait for answers, and reading each of them once more
        # every round was a third of the store's commands in a burst of 10,000 (84 reads a second).
        async for case in self.cases.find({"$or": [{"reply_issued": False}, {"answers.late": True}]}, {"outbox": 0}):
            try:
                if not release.plan_advance(case, today, now, self.office).writes:
                    continue  # nothing to do as read; a change since then advanced the case itself
                if await self.advance(case["_id"]) in (release.ISSUE, release.AMEND, release.FLAG):
                    done += 1
            except Exception as exc:  # noqa: BLE001 - one case failing does not stop the others
                log.warning("advance_failed", case_id=case["_id"], error=repr(exc))
        return done
