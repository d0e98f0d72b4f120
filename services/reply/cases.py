"""The reply service's cases: tasks of a case, the answers, the one reply; with their outbox.

Every change is one single-document atomic update that also appends the events it produces to
the document's outbox (see ``servicekit.outbox``), so an answer and its ``answer.recorded`` event,
or the reply and its ``reply.issued`` event, are stored together or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from contracts import topics
from contracts.envelope import deterministic_id, new_event
from contracts.events import Answer, AnswerRecorded, CaseRouted, ReplyIssued, ReplyPart
from services.reply.aggregation import combined_decision, order_parts, reply_document
from servicekit import outbox

CHINA = ZoneInfo("Asia/Shanghai")


class AnswerRefused(Exception):
    """An answer that cannot be accepted; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class TaskNotYetKnown(Exception):
    """An answer for a task whose case has not reached this service yet (retry later)."""


@dataclass(frozen=True)
class Recorded:
    case_id: str
    created: bool  # False: the same answer had been recorded before (nothing changed)


class CaseStore:
    def __init__(self, db: AsyncDatabase, source: str) -> None:
        self.cases = db["cases"]
        self.source = source
        # The case clock (services.reply.clock.service.ClockService), set by the app: it adds the
        # procedural history, the first deadline and its event to a new case.
        self.clock: Any = None

    async def setup(self) -> None:
        await self.cases.create_index("tasks.task_id")
        await self.cases.create_index("tasks.dept_code")
        await self.cases.create_index("reply_issued")
        await self.cases.create_index("clock.due_on")
        await outbox.ensure_indexes(self.cases)

    async def open_case(self, routed: CaseRouted) -> bool:
        clock_fields, records = self.clock.opening(routed.case_id, routed.received_on, routed.channel) if self.clock else ({}, [])
        doc = {
            "_id": routed.case_id,
            "tracking_number": routed.tracking_number,
            "agency_code": routed.agency_code,
            "agency_name": routed.agency_name,
            "received_on": routed.received_on.isoformat(),
            "tasks": [t.model_dump() for t in routed.tasks],
            "expected": len(routed.tasks),
            "answers": [],
            "answered_count": 0,
            "reply_issued": False,
            **clock_fields,
            **outbox.new_doc_fields(records),
        }
        try:
            await self.cases.insert_one(doc)
            return True
        except DuplicateKeyError:
            return False

    async def open_tasks(self, dept_code: str) -> list[dict[str, Any]]:
        out = []
        async for case in self.cases.find({"tasks.dept_code": dept_code, "reply_issued": False}, {"outbox": 0}):
            answered = {a["task_id"] for a in case["answers"]}
            for task in case["tasks"]:
                if task["dept_code"] == dept_code and task["task_id"] not in answered:
                    out.append({**task, "case_id": case["_id"], "tracking_number": case["tracking_number"],
                                "received_on": case["received_on"]})
        return out

    async def get(self, case_id: str) -> dict[str, Any] | None:
        return await self.cases.find_one({"_id": case_id}, {"outbox": 0})

    async def record_answer(
        self, task_id: str, dept_code: str, answer: Answer, via: str, causation_id: str | None = None
    ) -> Recorded:
        case = await self.cases.find_one({"tasks.task_id": task_id}, {"outbox": 0})
        if case is None:
            raise TaskNotYetKnown(task_id)
        task = next(t for t in case["tasks"] if t["task_id"] == task_id)
        if task["dept_code"] != dept_code:
            raise AnswerRefused(403, f"任务 {task_id} 不属于部门 {dept_code}，不能答复")
        previous = next((a for a in case["answers"] if a["task_id"] == task_id), None)
        if previous is not None:
            return self._same_or_conflict(case["_id"], previous, answer)
        if case["reply_issued"]:
            raise AnswerRefused(409, "该案件已作出答复，补充答复将在后续版本中作为更正处理")
        event = new_event(
            AnswerRecorded(case_id=case["_id"], task_id=task_id, dept_code=dept_code, via=via, answer=answer),
            source=self.source,
            subject=case["_id"],
            event_id=deterministic_id("answer.recorded", task_id),
            # An answer over HTTP answers the task assigned; one from the topic, that message.
            causation_id=causation_id or deterministic_id("task.assigned", task_id),
        )
        entry = {"task_id": task_id, "dept_code": dept_code, "dept_name": task["dept_name"],
                 "answer": answer.model_dump(mode="json"), "via": via, "at": datetime.now(UTC)}
        updated = await self.cases.find_one_and_update(
            {"_id": case["_id"], "answers.task_id": {"$ne": task_id}},
            outbox.merge_updates(
                {"$push": {"answers": entry}, "$inc": {"answered_count": 1}},
                outbox.append_update([outbox.record(topics.ANSWERS_RECORDED.name, event)]),
            ),
            return_document=ReturnDocument.AFTER,
        )
        if updated is None:  # the same task was answered concurrently
            case = await self.get(case["_id"])
            previous = next(a for a in case["answers"] if a["task_id"] == task_id)
            return self._same_or_conflict(case["_id"], previous, answer)
        await self.issue_if_complete(updated)
        return Recorded(case["_id"], True)

    @staticmethod
    def _same_or_conflict(case_id: str, previous: dict[str, Any], answer: Answer) -> Recorded:
        if Answer.model_validate(previous["answer"]) == answer:
            return Recorded(case_id, False)
        raise AnswerRefused(409, "该任务已有不同的答复，不能重复答复")

    async def issue_if_complete(self, case: dict[str, Any]) -> bool:
        """Issue the one reply of the case once every task is answered (at most once)."""
        if case["reply_issued"] or case["answered_count"] < case["expected"]:
            return False
        names = {t["task_id"]: t["dept_name"] for t in case["tasks"]}
        parts = order_parts(
            [ReplyPart(task_id=a["task_id"], dept_code=a["dept_code"], dept_name=names[a["task_id"]],
                       answer=Answer.model_validate(a["answer"])) for a in case["answers"]]
        )
        decision = combined_decision([p.answer.reply_type for p in parts])
        now = datetime.now(UTC)
        document = reply_document(
            tracking_number=case["tracking_number"],
            agency_name=case["agency_name"],
            received_on=date.fromisoformat(case["received_on"]),
            issued_on=now.astimezone(CHINA).date(),
            parts=parts,
            decision=decision,
        )
        event = new_event(
            ReplyIssued(case_id=case["_id"], tracking_number=case["tracking_number"], agency_code=case["agency_code"],
                        decision=decision, parts=parts, document_text=document),
            source=self.source,
            subject=case["_id"],
            event_id=deterministic_id("reply.issued", case["_id"]),
            # Caused by the answer that completed the case (the last one recorded).
            causation_id=deterministic_id("answer.recorded", case["answers"][-1]["task_id"]),
            time=now,
        )
        result = await self.cases.update_one(
            {"_id": case["_id"], "reply_issued": False},
            outbox.merge_updates(
                {"$set": {"reply_issued": True, "reply": {"decision": decision.value, "document": document,
                                                           "issued_at": now, "event_id": event.id}}},
                outbox.append_update([outbox.record(topics.REPLIES_ISSUED.name, event)]),
            ),
        )
        return result.modified_count == 1

    async def sweep(self) -> int:
        """Issue the replies of complete cases left unissued by a crash between two writes."""
        issued = 0
        async for case in self.cases.find({"reply_issued": False}, {"outbox": 0}):
            if await self.issue_if_complete(case):
                issued += 1
        return issued
