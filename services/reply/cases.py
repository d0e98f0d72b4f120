"""The reply service's cases: tasks of a case, the answers, the one reply and its amendments.

Every change is one single-document atomic update, conditional on the case's ``reply_rev``
(optimistic concurrency: a concurrent change makes it retry from a fresh read), that also appends
the events it produces to the document's outbox (see ``servicekit.outbox``), so state and events
are stored together or not at all. The case clock (``services.reply.clock``) writes its own fields
under its own ``procedure_rev``.

Case document (collection ``cases``), besides the clock's fields:
``tasks`` the open tasks (the current set after re-routing), ``withdrawn`` tasks no longer the
departments', ``answers`` one entry per task (answer, sign-off, event id), ``open_depts`` the
departments with an open task not yet answered (their inbox listing), ``referrals``,
``contradictions`` (flagged, resolved or not), ``closed`` (the OGI office closed it with answers
missing), ``reply`` (the one reply), ``amendments``, ``route_seq`` (last ``case.rerouted`` applied).

Documents (collection ``documents``): one per document id: ``html`` and ``pdf`` (BSON binary, a
few hundred kB at most; the store has no GridFS), ``sha256``; the reply's and each amendment's
``document.issued`` goes in the same write as ``reply.issued`` / ``reply.amended``. The documents of
the procedural steps are in the same collection (``services.reply.step_documents``). The PDF is
addressed to the applicant by name (``applicants``, from the restricted contacts topic); the plain
text carried by the events stays without it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from bson import Binary
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from contracts import events_routing as er
from contracts import topics
from contracts.envelope import EventData, deterministic_id, new_event
from contracts.events import (
    Answer,
    AnswerRecorded,
    AnswerRefused,
    CaseClosed,
    CaseRouted,
    ConfidentialityReview,
    ContradictionEntry,
    ContradictionFlagged,
    MissingAnswer,
    ReplyAmended,
    ReplyIssued,
    ReplyPart,
    ResponsibleAgencyRef,
)
from contracts.vocabulary import ReplyType
from services.reply import aggregation as agg
from contracts.events_documents import DocumentIssued
from services.reply.reply_docs import AgencyInfo, consolidated_context, render
from services.reply.step_documents import addressee_name
from servicekit import outbox

CHINA = ZoneInfo("Asia/Shanghai")
MAX_PDF_BYTES = 15 * 1024 * 1024  # one BSON document holds at most 16 MB
log = structlog.get_logger()
OGI_DEPT = "ogi-office"  # the "department" of a referral part: the OGI office itself


class AnswerRefusal(Exception):
    """An answer that cannot be accepted; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class TaskNotYetKnown(Exception):
    """An answer for a task whose case has not reached this service yet (retry later)."""


class CaseNotFound(LookupError):
    pass


class OgiRefusal(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Officer:
    """Who acted, from the verified token: the subject (OIDC ``sub``) and the display name."""

    subject: str
    name: str

    def dump(self) -> dict[str, str]:
        return {"subject": self.subject, "name": self.name}


@dataclass(frozen=True)
class Recorded:
    case_id: str
    status: str  # recorded | draft_recorded | signed_off | already_recorded

    @property
    def created(self) -> bool:
        return self.status != "already_recorded"


def content_hash(answer: Answer) -> str:
    raw = json.dumps(answer.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def china_today() -> date:
    return datetime.now(CHINA).date()


def _reply_records(event: Any, cc: list[str]) -> list[dict[str, Any]]:  # noqa: ANN401
    """The reply (or amendment) on gongkai.replies.issued, then the same event copied (抄送) to the
    replies topic of each department it names: their own systems read only their own topics."""
    return [outbox.record(topics.REPLIES_ISSUED.name, event),
            *(outbox.record(topics.department_replies(code).name, event) for code in cc)]


class _Retry(Exception):
    pass


class CaseStore:
    def __init__(self, db: AsyncDatabase, source: str, agency: AgencyInfo | None = None,
                 render_documents: bool = True, today: Callable[[], date] = china_today) -> None:
        self.cases = db["cases"]
        self.documents = db["documents"]
        self.applications = db["applications"]
        self.applicants = db["applicants"]  # private (services.reply.step_documents): the documents only
        self.source = source
        self.agency = agency
        self.render_documents = render_documents
        self.today = today
        # The case clock (services.reply.clock.service.ClockService), set by the app: it adds the
        # procedural history, the first deadline and its event to a new case.
        self.clock: Any = None

    async def setup(self) -> None:
        await self.cases.create_index("tasks.task_id")
        await self.cases.create_index("withdrawn.task_id")
        await self.cases.create_index("open_depts")
        await self.cases.create_index("reply_issued")
        await self.cases.create_index("clock.due_on")
        await self.documents.create_index("case_id")
        await outbox.ensure_indexes(self.cases)

    # -- events --------------------------------------------------------------------------------

    def _event(self, data: EventData, case_id: str, event_id: str, causation_id: str | None = None) -> Any:
        return new_event(data, source=self.source, subject=case_id, event_id=event_id, causation_id=causation_id,
                         time=datetime.now(UTC))

    async def _write(self, doc: dict[str, Any], sets: dict[str, Any], records: list[dict[str, Any]],
                     extra_filter: dict[str, Any] | None = None) -> bool:
        rev = doc.get("reply_rev", 0)
        update: dict[str, Any] = {"$set": {**sets, "reply_rev": rev + 1}}
        if records:
            update = outbox.merge_updates(update, outbox.append_update(records))
        flt = {"_id": doc["_id"], "reply_rev": rev, **(extra_filter or {})}
        if rev == 0:
            flt["reply_rev"] = {"$in": [0, None]}
        result = await self.cases.update_one(flt, update)
        return result.modified_count == 1

    # -- opening and following the routing -----------------------------------------------------

    async def open_case(self, routed: CaseRouted) -> bool:
        clock_fields, records = self.clock.opening(routed.case_id, routed.received_on, routed.channel) if self.clock else ({}, [])
        tasks = [t.model_dump() for t in routed.tasks]
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
            **clock_fields,
            **outbox.new_doc_fields(records),
        }
        try:
            await self.cases.insert_one(doc)
            return True
        except DuplicateKeyError:
            return False

    async def note_application(self, case_id: str, description: str) -> None:
        """What was applied for (printed in the reply): from ``application.received``."""
        await self.applications.update_one({"_id": case_id}, {"$set": {"description": description}}, upsert=True)

    async def apply_reroute(self, ev: er.CaseRerouted) -> bool:
        """The OGI office changed the departments: the open set becomes ``ev.tasks``."""
        for _ in range(20):
            doc = await self.get(ev.case_id)
            if doc is None:
                raise TaskNotYetKnown(ev.case_id)  # case.routed not seen yet: retried by the consumer
            if ev.change_seq <= doc.get("route_seq", 0):
                return False
            new_tasks = [t.model_dump() for t in ev.tasks]
            new_ids = {t["task_id"] for t in new_tasks}
            withdrawn = list(doc.get("withdrawn") or [])
            known = {w["task_id"] for w in withdrawn}
            gone = [t for t in doc["tasks"] if t["task_id"] not in new_ids]
            gone += [w.model_dump() for w in ev.withdrawn]
            for t in gone:
                if t["task_id"] not in known and t["task_id"] not in new_ids:
                    withdrawn.append({"task_id": t["task_id"], "dept_code": t["dept_code"], "dept_name": t["dept_name"]})
                    known.add(t["task_id"])
            withdrawn = [w for w in withdrawn if w["task_id"] not in new_ids]  # reassigned back
            sets = {"tasks": new_tasks, "withdrawn": withdrawn, "route_seq": ev.change_seq,
                    "expected": len(new_tasks), **self._derived(new_tasks, doc["answers"])}
            if await self._write(doc, sets, []):
                await self._advance_after_write(ev.case_id)
                return True
        raise _Retry("reroute: too many concurrent changes")

    async def apply_referral(self, ev: er.ReferralRecorded) -> bool:
        """A referral (Art. 36(5)): whole case → the reply is the referral; partial → one part."""
        for _ in range(20):
            doc = await self.get(ev.case_id)
            if doc is None:
                raise TaskNotYetKnown(ev.case_id)
            if any(r["referral_id"] == ev.referral_id for r in doc.get("referrals") or []):
                return False
            gone = {w.task_id for w in ev.withdrawn}
            tasks = [t for t in doc["tasks"] if t["task_id"] not in gone]
            withdrawn = list(doc.get("withdrawn") or [])
            withdrawn += [w.model_dump() for w in ev.withdrawn if w.task_id not in {x["task_id"] for x in withdrawn}]
            contact = ev.target_contact
            referral = {
                "referral_id": ev.referral_id, "whole_case": ev.whole_case, "part": ev.part, "reason": ev.reason,
                "message": ev.message, "agency_name": ev.target_agency_name,
                "address": contact.address or "（未登记）", "phone": contact.phone or "（未登记）",
                "recorded_by": ev.recorded_by,
            }
            sets = {"tasks": tasks, "withdrawn": withdrawn, "referrals": [*doc.get("referrals", []), referral],
                    "expected": len(tasks), **self._derived(tasks, doc["answers"])}
            if await self._write(doc, sets, []):
                await self._advance_after_write(ev.case_id)
                return True
        raise _Retry("referral: too many concurrent changes")

    @staticmethod
    def _derived(tasks: list[dict[str, Any]], answers: list[dict[str, Any]]) -> dict[str, Any]:
        answered = {a["task_id"] for a in answers}
        signed = {a["task_id"] for a in answers if a.get("review") is not None}
        return {
            # A department's task stays in its listing until its answer is signed off.
            "open_depts": sorted({t["dept_code"] for t in tasks if t["task_id"] not in signed}),
            "answered_count": sum(1 for t in tasks if t["task_id"] in answered),
        }

    # -- reading -------------------------------------------------------------------------------

    async def open_tasks(self, dept_code: str) -> list[dict[str, Any]]:
        out = []
        async for case in self.cases.find({"open_depts": dept_code}, {"outbox": 0}):
            answers = {a["task_id"]: a for a in case["answers"]}
            for task in case["tasks"]:
                a = answers.get(task["task_id"])
                if task["dept_code"] == dept_code and (a is None or a.get("review") is None):
                    out.append({**task, "case_id": case["_id"], "tracking_number": case["tracking_number"],
                                "received_on": case["received_on"], "late": bool(case["reply_issued"]),
                                "draft": a is not None})
        return out

    async def get(self, case_id: str) -> dict[str, Any] | None:
        return await self.cases.find_one({"_id": case_id}, {"outbox": 0})

    async def document(self, document_id: str) -> dict[str, Any] | None:
        return await self.documents.find_one({"_id": document_id})

    # -- answers -------------------------------------------------------------------------------

    async def _find_task(self, task_id: str) -> tuple[dict[str, Any], dict[str, Any] | None, dict[str, Any] | None]:
        case = await self.cases.find_one({"$or": [{"tasks.task_id": task_id}, {"withdrawn.task_id": task_id}]},
                                         {"outbox": 0})
        if case is None:
            raise TaskNotYetKnown(task_id)
        task = next((t for t in case["tasks"] if t["task_id"] == task_id), None)
        gone = next((w for w in case.get("withdrawn") or [] if w["task_id"] == task_id), None)
        return case, task, gone

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
        """Record the refusal (``answer.refused`` via the outbox) and raise it."""
        event = self._event(
            AnswerRefused(case_id=case["_id"], task_id=task_id, dept_code=dept_code, via=via, code=refusal.code,
                          status=refusal.status, message=refusal.message),
            case["_id"], deterministic_id("answer.refused", task_id, dept_code, refusal.code, detail))
        if not any(r.get("event_id") == event.id for r in case.get("refused") or []):
            entry = {"task_id": task_id, "dept_code": dept_code, "code": refusal.code, "via": via,
                     "event_id": event.id, "at": datetime.now(UTC)}
            await self.cases.update_one(
                {"_id": case["_id"], "refused.event_id": {"$ne": event.id}},
                outbox.merge_updates({"$push": {"refused": entry}},
                                     outbox.append_update([outbox.record(topics.ANSWERS_RECORDED.name, event)])),
            )
        raise refusal

    async def record_answer(
        self, task_id: str, dept_code: str, answer: Answer, via: str, causation_id: str | None = None,
        review: ConfidentialityReview | None = None, author: Officer | None = None,
    ) -> Recorded:
        """Record a department's answer. ``author`` is the officer who wrote it (HTTP: from the token;
        kept with the draft for the four-eyes check of its review); answers from the topic have none."""
        for _ in range(20):
            case, task, gone = await self._find_task(task_id)
            owner = task or gone
            assert owner is not None
            detail = content_hash(answer)
            if owner["dept_code"] != dept_code:
                await self.refuse(case, task_id, dept_code, via, AnswerRefusal(
                    403, "not_your_task", f"任务 {task_id} 不属于部门 {dept_code}，不能答复"), detail)
            if task is None:
                await self.refuse(case, task_id, dept_code, via, AnswerRefusal(
                    409, "task_withdrawn", f"任务 {task_id} 已由政府信息公开工作机构撤回，不能答复"), detail)
            try:
                agg.check_answer(answer)
            except agg.AnswerInvalid as exc:
                await self.refuse(case, task_id, dept_code, via, AnswerRefusal(422, "invalid_answer", str(exc)), detail)
            assert task is not None
            answers = list(case["answers"])
            previous = next((a for a in answers if a["task_id"] == task_id), None)
            if previous is not None and previous.get("hash") == detail:
                if review is None or previous.get("review") is not None:
                    return Recorded(case["_id"], "already_recorded")
                # The same answer, now with its sign-off.
                return await self._sign(case, previous, review, via)
            if previous is not None and previous.get("review") is not None:
                await self.refuse(case, task_id, dept_code, via, AnswerRefusal(
                    409, "conflicting_answer", "该任务已有经保密审查的不同答复，不能重复答复"), detail)
            # A new answer, or a draft replaced before its sign-off.
            late = bool(case["reply_issued"])
            event = self._event(
                AnswerRecorded(case_id=case["_id"], task_id=task_id, dept_code=dept_code, via=via, answer=answer,
                               review=review, draft=review is None, late=late,
                               answered_by=author.name if author else None,
                               answered_by_subject=author.subject if author else None),
                case["_id"],
                deterministic_id("answer.recorded", task_id) if previous is None and review is not None
                else deterministic_id("answer.recorded", task_id, detail, "signed" if review else "draft"),
                causation_id or deterministic_id("task.assigned", task_id),
            )
            entry = {"task_id": task_id, "dept_code": dept_code, "dept_name": task["dept_name"],
                     "answer": answer.model_dump(mode="json"), "hash": detail,
                     "review": review.model_dump(mode="json") if review else None, "via": via,
                     "author": author.dump() if author else None,
                     "at": datetime.now(UTC), "event_id": event.id, "late": late}
            answers = [a for a in answers if a["task_id"] != task_id] + [entry]
            sets = {"answers": answers, **self._derived(case["tasks"], answers)}
            if await self._write(case, sets, [outbox.record(topics.ANSWERS_RECORDED.name, event)]):
                await self._advance_after_write(case["_id"])
                return Recorded(case["_id"], "recorded" if review else "draft_recorded")
        raise _Retry("answer: too many concurrent changes")

    async def _sign(self, case: dict[str, Any], previous: dict[str, Any], review: ConfidentialityReview,
                    via: str) -> Recorded:
        author = previous.get("author") or {}
        if review.reviewer_subject is not None and review.reviewer_subject == author.get("subject"):
            # Four eyes: the 保密审查 is a second person's (checked on the very draft being signed).
            raise AnswerRefusal(403, "four_eyes", "保密审查须由撰写答复者以外的本部门审查人进行，不能审查本人撰写的答复")
        answer = Answer.model_validate(previous["answer"])
        event = self._event(
            AnswerRecorded(case_id=case["_id"], task_id=previous["task_id"], dept_code=previous["dept_code"], via=via,
                           answer=answer, review=review, draft=False, late=bool(case["reply_issued"]),
                           answered_by=author.get("name"), answered_by_subject=author.get("subject")),
            case["_id"], deterministic_id("answer.recorded", previous["task_id"], previous["hash"], "signed"),
            previous.get("event_id"),
        )
        answers = [a if a["task_id"] != previous["task_id"]
                   else {**a, "review": review.model_dump(mode="json"), "event_id": event.id,
                         "late": bool(case["reply_issued"])}
                   for a in case["answers"]]
        sets = {"answers": answers, **self._derived(case["tasks"], answers)}
        if await self._write(case, sets, [outbox.record(topics.ANSWERS_RECORDED.name, event)]):
            await self._advance_after_write(case["_id"])
            return Recorded(case["_id"], "signed_off")
        raise _Retry("sign-off lost a race")

    async def sign_off(self, task_id: str, dept_code: str, review: ConfidentialityReview, via: str = "http") -> Recorded:
        """Add the confidentiality review sign-off to the task's answer (a draft until then)."""
        for _ in range(20):
            case, task, gone = await self._find_task(task_id)
            owner = task or gone
            assert owner is not None
            if owner["dept_code"] != dept_code:
                await self.refuse(case, task_id, dept_code, via, AnswerRefusal(
                    403, "not_your_task", f"任务 {task_id} 不属于部门 {dept_code}，不能签署"), "sign-off")
            if task is None:
                raise AnswerRefusal(409, "task_withdrawn", f"任务 {task_id} 已撤回")
            previous = next((a for a in case["answers"] if a["task_id"] == task_id), None)
            if previous is None:
                raise AnswerRefusal(409, "no_answer", "该任务尚无答复，无法进行保密审查签署")
            if previous.get("review") is not None:
                return Recorded(case["_id"], "already_recorded")
            if previous.get("sent_back"):
                raise AnswerRefusal(409, "sent_back", "该答复草稿已退回撰写人修改，须待其重新提交后再审查签署")
            try:
                return await self._sign(case, previous, review, via)
            except _Retry:
                continue
        raise _Retry("sign-off: too many concurrent changes")

    # -- OGI office ----------------------------------------------------------------------------

    async def close_case(self, case_id: str, by: str, reason: str, by_subject: str | None = None) -> dict[str, Any]:
        """The OGI office closes the case with the missing answers stated (case.closed + the reply)."""
        for _ in range(20):
            doc = await self.get(case_id)
            if doc is None:
                raise CaseNotFound(case_id)
            if doc["reply_issued"]:
                raise OgiRefusal(409, "该案件已作出答复，无需结案")
            if doc.get("closed"):
                return doc["closed"]
            parts, _ = self._parts(doc)
            if not parts:
                raise OgiRefusal(409, "尚无经保密审查的部门答复，不能结案答复；如需转送其他机关，请通过转送办理")
            signed = {p.task_id for p in parts}
            missing = [MissingAnswer(task_id=t["task_id"], dept_code=t["dept_code"], dept_name=t["dept_name"])
                       for t in doc["tasks"] if t["task_id"] not in signed]
            statement = agg.missing_statement(missing)
            event = self._event(
                CaseClosed(case_id=case_id, tracking_number=doc["tracking_number"], closed_by=by, reason=reason,
                           missing=missing, statement=statement or "各承办部门均已答复。", closed_by_subject=by_subject),
                case_id, deterministic_id("case.closed", case_id))
            closed = {"by": by, "by_subject": by_subject, "reason": reason, "missing": [m.model_dump() for m in missing],
                      "statement": statement, "at": datetime.now(UTC), "event_id": event.id}
            if await self._write(doc, {"closed": closed}, [outbox.record(topics.ANSWERS_RECORDED.name, event)]):
                await self._advance_after_write(case_id)
                return closed
        raise OgiRefusal(409, "案件正被同时修改，请重试")

    async def resolve_contradiction(self, case_id: str, contradiction_id: str, by: str, note: str,
                                    reopen: list[str], by_subject: str | None = None) -> dict[str, Any]:
        """The OGI office resolves a flagged contradiction: the answers stand (with a note), or the
        answers of ``reopen`` tasks are set aside for their departments to answer again."""
        for _ in range(20):
            doc = await self.get(case_id)
            if doc is None:
                raise CaseNotFound(case_id)
            items = list(doc.get("contradictions") or [])
            found = next((c for c in items if c["id"] == contradiction_id), None)
            if found is None:
                raise OgiRefusal(404, "未找到该矛盾标记")
            if found.get("resolved"):
                return found
            involved = {e["task_id"] for e in found["entries"]}
            if not set(reopen) <= involved:
                raise OgiRefusal(409, "只能退回与该矛盾有关的部门答复")
            resolved = {**found, "resolved": True, "resolved_by": by, "resolved_by_subject": by_subject,
                        "note": note, "reopened": reopen,
                        "resolved_at": datetime.now(UTC)}
            items = [resolved if c["id"] == contradiction_id else c for c in items]
            answers = [a for a in doc["answers"] if a["task_id"] not in set(reopen)]
            sets = {"contradictions": items, "answers": answers, **self._derived(doc["tasks"], answers)}
            if await self._write(doc, sets, []):
                await self._advance_after_write(case_id)
                return resolved
        raise OgiRefusal(409, "案件正被同时修改，请重试")

    # -- aggregation ---------------------------------------------------------------------------

    def _parts(self, doc: dict[str, Any]) -> tuple[list[ReplyPart], list[ReplyPart]]:
        """(signed-off answers of open tasks, referral parts) in reply order."""
        open_ids = {t["task_id"]: t for t in doc["tasks"]}
        parts = []
        for a in doc["answers"]:
            if a["task_id"] in open_ids and a.get("review") is not None:
                answer = Answer.model_validate(a["answer"])
                parts.append(ReplyPart(task_id=a["task_id"], dept_code=a["dept_code"], dept_name=a["dept_name"],
                                       answer=answer, outcome_code=agg.check_answer(answer),
                                       review=ConfidentialityReview.model_validate(a["review"])))
        extras = []
        for r in doc.get("referrals") or []:
            what = "您申请公开的政府信息" if r["whole_case"] else f"您申请中“{r['part']}”部分的政府信息"
            answer = Answer(
                reply_type=ReplyType.NOT_THIS_AGENCY, text=f"{what}不属于本机关负责公开。{r['message']}",
                reason=r["reason"],
                responsible_agency=ResponsibleAgencyRef(name=r["agency_name"], address=r["address"], phone=r["phone"]))
            extras.append(ReplyPart(task_id=f"referral-{r['referral_id']}", dept_code=OGI_DEPT,
                                    dept_name=self.agency.office if self.agency else "政府信息公开工作机构",
                                    answer=answer, outcome_code="unavailable.not_this_agency"))
        return agg.order_parts(parts), extras

    async def _advance_after_write(self, case_id: str) -> None:
        """Advance after a stored change; a failure (e.g. rendering) is left to the sweep to retry,
        the change itself stands."""
        try:
            await self.advance(case_id)
        except Exception as exc:  # noqa: BLE001
            log.warning("advance_failed", case_id=case_id, error=repr(exc))

    async def advance(self, case_id: str) -> str | None:
        """Flag new contradictions; issue the reply when ready; amend it with late answers."""
        for _ in range(20):
            doc = await self.get(case_id)
            if doc is None:
                return None
            try:
                return await self._advance_once(doc)
            except _Retry:
                continue
        return None

    async def _advance_once(self, doc: dict[str, Any]) -> str | None:
        case_id = doc["_id"]
        parts, extras = self._parts(doc)
        whole_referral = any(r["whole_case"] for r in doc.get("referrals") or [])
        if whole_referral and not doc["reply_issued"]:
            return await self._issue(doc, extras, [])
        found = agg.contradictions(parts)
        known = {c["signature"]: c for c in doc.get("contradictions") or []}
        new = [c for c in found if c.signature not in known]
        if new:
            records, items = [], list(doc.get("contradictions") or [])
            for c in new:
                cid = deterministic_id("contradiction", case_id, c.signature)
                entries = [ContradictionEntry(task_id=e.task_id, dept_code=e.dept_code, dept_name=e.dept_name,
                                              stance=e.stance) for e in c.entries]
                event = self._event(
                    ContradictionFlagged(case_id=case_id, tracking_number=doc["tracking_number"], contradiction_id=cid,
                                         item_key=c.item_key, entries=entries, message=c.message()),
                    case_id, deterministic_id("contradiction.flagged", cid))
                records.append(outbox.record(topics.ANSWERS_RECORDED.name, event))
                items.append({"id": cid, "signature": c.signature, "item_key": c.item_key,
                              "entries": [e.model_dump() for e in entries], "message": c.message(),
                              "resolved": False, "flagged_at": datetime.now(UTC)})
            if not await self._write(doc, {"contradictions": items}, records):
                raise _Retry()
            return "flagged"
        unresolved = [c.signature for c in found if not known[c.signature].get("resolved")]
        if unresolved:
            return "held"
        if not doc["reply_issued"]:
            signed = [p.task_id for p in parts]
            r = agg.readiness([t["task_id"] for t in doc["tasks"]], signed, [a["task_id"] for a in doc["answers"]],
                              unresolved, bool(doc.get("closed")), len(extras))
            if not r.ready:
                return None
            missing = [MissingAnswer.model_validate(m) for m in (doc.get("closed") or {}).get("missing", [])]
            missing = [m for m in missing if m.task_id not in set(signed)]
            return await self._issue(doc, parts + extras, missing)
        covered = set((doc.get("reply") or {}).get("task_ids") or [])
        for a in doc.get("amendments") or []:
            covered |= set(a["task_ids"])
        late = [p for p in parts if p.task_id not in covered]
        if late:
            return await self._amend(doc, parts + extras, late)
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

    async def _issue(self, doc: dict[str, Any], parts: list[ReplyPart], missing: list[MissingAnswer]) -> str:
        case_id = doc["_id"]
        decision = agg.combined_decision([p.answer.reply_type for p in parts])
        outcome = agg.overall_outcome(decision, parts)
        issued_on = self.today()
        received_on = date.fromisoformat(doc["received_on"])
        text = agg.reply_document(tracking_number=doc["tracking_number"], agency_name=doc["agency_name"],
                                  received_on=received_on, issued_on=issued_on, parts=parts, decision=decision,
                                  missing=missing)
        document_id = deterministic_id("reply.document", case_id, "reply")
        stored = None
        if self.render_documents and self.agency is not None:
            context = consolidated_context(
                tracking_number=doc["tracking_number"], agency=self._agency(doc), received_on=received_on,
                issued_on=issued_on, request_summary=await self._request_summary(case_id), parts=parts,
                decision=decision, notes=[agg.missing_statement(missing)] if missing else [],
                material_names=await self._material_names(case_id), applicant_name=await self._applicant_name(case_id))
            stored = await self._store_document(case_id, document_id, "reply", context)
        cc = sorted({p.dept_code for p in parts if p.dept_code != OGI_DEPT})
        last = max(doc["answers"], key=lambda a: a["at"], default=None)
        cause = (doc.get("closed") or {}).get("event_id") or (last or {}).get("event_id")
        event = self._event(
            ReplyIssued(case_id=case_id, tracking_number=doc["tracking_number"], agency_code=doc["agency_code"],
                        decision=decision, parts=parts, document_text=text, outcome=outcome,
                        document_id=document_id, cc=cc, missing=missing),
            case_id, deterministic_id("reply.issued", case_id), cause)
        now = datetime.now(UTC)
        reply = {"decision": decision.value, "outcome": outcome, "document": text, "document_id": document_id,
                 "issued_at": now, "event_id": event.id, "task_ids": [p.task_id for p in parts], "cc": cc,
                 "missing": [m.model_dump() for m in missing]}
        if stored is not None:
            reply["sha256"] = stored["sha256"]
        records = _reply_records(event, cc) + self._document_records(doc, stored, "consolidated_reply", event)
        if not await self._write(doc, {"reply_issued": True, "reply": reply}, records, {"reply_issued": False}):
            raise _Retry()
        await self._mark_issued(stored)
        return "issued"

    async def _amend(self, doc: dict[str, Any], all_parts: list[ReplyPart], late: list[ReplyPart]) -> str:
        case_id = doc["_id"]
        seq = len(doc.get("amendments") or []) + 1
        decision = agg.combined_decision([p.answer.reply_type for p in all_parts])
        outcome = agg.overall_outcome(decision, all_parts)
        issued_on = self.today()
        received_on = date.fromisoformat(doc["received_on"])
        reply = doc["reply"]
        issued_at = reply["issued_at"]
        issued_at = issued_at if issued_at.tzinfo else issued_at.replace(tzinfo=UTC)
        first_on = issued_at.astimezone(CHINA).date()
        note = (f"本答复是对本机关于{first_on.year}年{first_on.month}月{first_on.day}日就同一申请（受理编号"
                f"{doc['tracking_number']}）所作答复的补充答复（第{seq}次），补充此前尚未答复部门的答复。")
        text = agg.reply_document(tracking_number=doc["tracking_number"], agency_name=doc["agency_name"],
                                  received_on=received_on, issued_on=issued_on, parts=late, decision=decision,
                                  title="政府信息公开申请补充答复书")
        text = text.replace("\n申请人：\n", f"\n申请人：\n    {note}\n", 1)
        document_id = deterministic_id("reply.document", case_id, "amendment", str(seq))
        stored = None
        if self.render_documents and self.agency is not None:
            context = consolidated_context(
                tracking_number=doc["tracking_number"], agency=self._agency(doc), received_on=received_on,
                issued_on=issued_on, request_summary=await self._request_summary(case_id), parts=late,
                decision=agg.combined_decision([p.answer.reply_type for p in late]), notes=[note],
                material_names=await self._material_names(case_id), applicant_name=await self._applicant_name(case_id))
            stored = await self._store_document(case_id, document_id, "amendment", context, seq=seq)
        cc = sorted({p.dept_code for p in all_parts if p.dept_code != OGI_DEPT})
        last = max((a for a in doc["answers"] if a["task_id"] in {p.task_id for p in late}), key=lambda a: a["at"])
        event = self._event(
            ReplyAmended(case_id=case_id, tracking_number=doc["tracking_number"], agency_code=doc["agency_code"],
                         amendment_seq=seq, reply_event_id=reply["event_id"], parts=late, decision=decision,
                         outcome=outcome, document_id=document_id, document_text=text, cc=cc),
            case_id, deterministic_id("reply.amended", case_id, str(seq)), last.get("event_id"))
        amendment = {"seq": seq, "task_ids": [p.task_id for p in late], "document_id": document_id,
                     "document": text, "decision": decision.value, "outcome": outcome, "event_id": event.id,
                     "issued_at": datetime.now(UTC)}
        if stored is not None:
            amendment["sha256"] = stored["sha256"]
        records = _reply_records(event, cc) + self._document_records(doc, stored, "reply_amendment", event)
        if not await self._write(doc, {"amendments": [*(doc.get("amendments") or []), amendment]}, records):
            raise _Retry()
        await self._mark_issued(stored)
        return "amended"

    def _agency(self, doc: dict[str, Any]) -> AgencyInfo:
        assert self.agency is not None
        return AgencyInfo(name=doc["agency_name"], office=self.agency.office, address=self.agency.address,
                          phone=self.agency.phone, review_body=self.agency.review_body)

    async def sweep(self) -> int:
        """Advance cases left half-way by a crash between two writes (or a render that failed)."""
        done = 0
        # Open cases, and released ones with late answers (an amendment may be due).
        async for case in self.cases.find({"$or": [{"reply_issued": False}, {"answers.late": True}]}, {"_id": 1}):
            try:
                if await self.advance(case["_id"]) in ("issued", "amended", "flagged"):
                    done += 1
            except Exception as exc:  # noqa: BLE001 - one case failing does not stop the others
                log.warning("advance_failed", case_id=case["_id"], error=repr(exc))
        return done
