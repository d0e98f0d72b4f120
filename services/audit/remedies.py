"""Administrative review and litigation recorded by OGI officers: each filing and each outcome
becomes a ``remedy.recorded`` event, published through an outbox and then recorded by the ledger
like every other event (so table 四 of the annual report is computed from verifiable leaves).

The ledger is insert-only, so the outbox lives in its own collection, ``remedy_outbox``: one
document per event, inserted once (``_id`` = "<remedy id>:filed" or "<remedy id>:decided", so a
remedy has at most one filing and one outcome; a repeated identical request finds its document and
answers with it). This module only inserts and reads; the servicekit outbox relay marks the
documents published (``outbox_sent``) - the only updates in the audit database, and only in this
collection (deploy/production/audit-store-role.md).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from pymongo.asynchronous.database import AsyncDatabase

from contracts.envelope import CloudEvent, decode, deterministic_id, new_event
from contracts.events import REGISTRY
from contracts.events_ledger import CASES_REMEDIES, RemedyRecorded
from servicekit import outbox
from servicekit.versioned import Versioned

REMEDY_OUTBOX = "remedy_outbox"
SOURCE = "/gongkai/audit"


class RemedyConflict(Exception):
    """The request contradicts what was recorded (Chinese message for the officer)."""


class RemedyNotFound(Exception):
    pass


@dataclass(frozen=True)
class CaseFacts:
    case_id: str
    agency_code: str
    tracking_number: str | None


def remedy_event(data: RemedyRecorded) -> CloudEvent[RemedyRecorded]:
    return new_event(data, source=SOURCE, subject=data.case_id,
                     event_id=deterministic_id("remedy", data.remedy_id, data.stage))


def _same(a: RemedyRecorded, b: RemedyRecorded) -> bool:
    skip = {"recorded_by", "recorded_by_subject"}
    return a.model_dump(exclude=skip) == b.model_dump(exclude=skip)


class RemedyStore:
    def __init__(self, db: AsyncDatabase) -> None:
        self.docs = db[REMEDY_OUTBOX]
        self.versioned = Versioned(self.docs)  # insert-only here: each document is written once

    async def setup(self) -> None:
        await outbox.ensure_indexes(self.docs)
        await self.docs.create_index("remedy_id")
        await self.docs.create_index("case_id")

    async def _insert(self, data: RemedyRecorded) -> tuple[RemedyRecorded, bool]:
        """Insert the event's document; (stored data, created). An identical earlier request is
        answered with its document; a different one with the same key is a conflict."""
        event = remedy_event(data)
        doc = {"_id": f"{data.remedy_id}:{data.stage}", "remedy_id": data.remedy_id, "case_id": data.case_id,
               "stage": data.stage, "event_id": event.id}
        if await self.versioned.insert(doc, [outbox.record(CASES_REMEDIES.name, event)]):
            return data, True
        old = await self._stored(data.remedy_id, data.stage)
        if old is not None and _same(old, data):
            return old, False
        if data.stage == "filed":
            raise RemedyConflict("该编号的复议或诉讼已登记，内容不同")
        raise RemedyConflict("该复议或诉讼的结果已登记，不能重复登记不同的结果")

    async def _stored(self, remedy_id: str, stage: str) -> RemedyRecorded | None:
        doc = await self.docs.find_one({"_id": f"{remedy_id}:{stage}"}, {"outbox": 1})
        if doc is None:
            return None
        event = decode(doc["outbox"][0]["value"].encode("utf-8"), REGISTRY)
        return event.data  # type: ignore[return-value]

    async def file(self, case: CaseFacts, *, kind: Literal["review", "litigation"], route: str | None,
                   filed_on: date, authority: str, note: str, officer: str, officer_subject: str | None = None,
                   remedy_id: str | None = None) -> tuple[RemedyRecorded, bool]:
        data = RemedyRecorded(remedy_id=remedy_id or uuid.uuid4().hex, case_id=case.case_id,
                              tracking_number=case.tracking_number, agency_code=case.agency_code, kind=kind,
                              route=route, stage="filed", filed_on=filed_on, authority=authority, note=note,
                              recorded_by=officer, recorded_by_subject=officer_subject)  # type: ignore[arg-type]
        return await self._insert(data)

    async def decide(self, case_id: str, remedy_id: str, *, result: str, decided_on: date, note: str,
                     officer: str, officer_subject: str | None = None) -> tuple[RemedyRecorded, bool]:
        filed = await self._stored(remedy_id, "filed")
        if filed is None or filed.case_id != case_id:
            raise RemedyNotFound(remedy_id)
        if decided_on < filed.filed_on:
            raise RemedyConflict("审结日期不能早于立案（提起）日期")
        data = filed.model_copy(update={"stage": "decided", "result": result, "decided_on": decided_on,
                                        "note": note, "recorded_by": officer,
                                        "recorded_by_subject": officer_subject})
        data = RemedyRecorded.model_validate(data.model_dump())
        return await self._insert(data)

    async def of_case(self, case_id: str) -> list[dict[str, Any]]:
        """The remedies of a case: filing facts and, when decided, the result."""
        out: dict[str, dict[str, Any]] = {}
        async for doc in self.docs.find({"case_id": case_id}, {"outbox": 1, "outbox_sent": 1}).sort("_id", 1):
            event = decode(doc["outbox"][0]["value"].encode("utf-8"), REGISTRY)
            d = event.data.model_dump(mode="json")
            cur = out.setdefault(d["remedy_id"], {})
            if d["stage"] == "filed":
                cur.update({k: v for k, v in d.items() if k not in ("stage", "result", "decided_on")})
                cur.setdefault("result", None)
                cur.setdefault("decided_on", None)
            else:
                cur.update({"result": d["result"], "decided_on": d["decided_on"]})
            cur.setdefault("published", True)
            cur["published"] = cur["published"] and doc.get("outbox_sent", 0) >= 1
        return sorted(out.values(), key=lambda r: (r.get("filed_on") or "", r.get("remedy_id") or ""))
