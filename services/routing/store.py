"""Routing's storage: the directory versions and the routed cases (each with its outbox).

``directory_versions``: one document per version (``_id`` = its number; ``version`` = the same as a
string). Version 1 is the data file; each change through the API inserts the next number, with
who, when and what. The insert of number n+1 is the concurrency check: two admins changing the
same version at once cannot both win (the loser gets ``VersionConflict``).

``routings``: one document per case. Every change to a case is one single-document update that
sets the new task list and appends its outbox records, filtered on the document's revision
(``rev``) so that two concurrent officers cannot both apply a change computed from the same state.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from contracts.envelope import CloudEvent, utcnow
from contracts.events import ApplicationReceived
from services.routing import casework
from services.routing.casework import CaseworkError, ReturnRefused
from services.routing.directory import Directory, DirectoryError, apply_change, load_raw, parse
from services.routing.rules import decide
from servicekit import outbox
from servicekit.versioned import Change, Conflict, Versioned

NOT_ROUTED = "该案件尚未分办"


class VersionConflict(Exception):
    pass


class DirectoryStore:
    def __init__(self, db: AsyncDatabase, file_path: Path) -> None:
        self.versions = db["directory_versions"]
        self.file_path = file_path
        self._cache: dict[int, Directory] = {}

    async def setup(self) -> None:
        """Version 1 from the file; a changed file later becomes a new version of its own."""
        raw = load_raw(self.file_path)
        parse(raw, "1")  # refuse to start on an invalid file
        digest = hashlib.sha256(self.file_path.read_bytes()).hexdigest()
        latest_file = await self.versions.find_one({"source": "file"}, sort=[("_id", DESCENDING)])
        if latest_file is not None and latest_file.get("file_sha256") == digest:
            return
        latest = await self.versions.find_one({}, {"_id": 1}, sort=[("_id", DESCENDING)])
        seq = 1 if latest is None else latest["_id"] + 1
        doc = {
            "_id": seq, "version": str(seq), "raw": raw, "source": "file", "file_sha256": digest,
            "changed_by": {"subject": "file", "username": "", "name": str(self.file_path.name), "department": None},
            "changed_at": utcnow(),
            "change": {"op": "load_file", "summary": f"从文件 {self.file_path.name} 载入"},
        }
        try:
            await self.versions.insert_one(doc)
        except DuplicateKeyError:
            pass  # another instance loaded it at the same moment

    def _parse(self, doc: dict[str, Any]) -> Directory:
        directory = self._cache.get(doc["_id"])
        if directory is None:
            directory = parse(doc["raw"], doc["version"])
            self._cache[doc["_id"]] = directory
        return directory

    async def current(self) -> Directory:
        # Every application asks: read only the newest version's id; the body only when not cached.
        head = await self.versions.find_one({}, {"_id": 1}, sort=[("_id", DESCENDING)])
        if head is None:
            raise RuntimeError("directory not loaded (setup has not run)")
        cached = self._cache.get(head["_id"])
        if cached is not None:
            return cached
        doc = await self.versions.find_one({"_id": head["_id"]})
        return self._parse(doc)

    async def version(self, version: str) -> dict[str, Any] | None:
        """A stored version by its number; None for anything that is not one (never an error)."""
        if not re.fullmatch(r"[0-9]{1,15}", version):  # ASCII digits, well within BSON's int64
            return None
        return await self.versions.find_one({"_id": int(version)})

    async def history(self) -> list[dict[str, Any]]:
        docs = await self.versions.find({}, {"raw": 0}, sort=[("_id", ASCENDING)]).to_list()
        return [{"version": d["version"], "source": d["source"], "changed_by": d["changed_by"],
                 "changed_at": d["changed_at"], "change": d["change"]} for d in docs]

    async def change(self, op: str, agency_code: str, payload: dict[str, Any], changed_by: dict[str, Any],
                     note: str, base_version: str | None = None) -> Directory:
        """Apply one change to the latest version and store the result as the next version.

        ``changed_by``: the verified officer (``Principal.as_actor()``: subject, username, name, department)."""
        latest = await self.versions.find_one({}, sort=[("_id", DESCENDING)])
        if latest is None:
            raise RuntimeError("directory not loaded (setup has not run)")
        if base_version is not None and base_version != latest["version"]:
            raise VersionConflict(f"目录已更新为第 {latest['version']} 版，请基于最新版本修改")
        raw, summary = apply_change(latest["raw"], op, agency_code, payload)
        seq = latest["_id"] + 1
        directory = parse(raw, str(seq))  # DirectoryError: invalid result, nothing stored
        doc = {
            "_id": seq, "version": str(seq), "raw": raw, "source": "api", "parent": latest["version"],
            "changed_by": dict(changed_by), "changed_at": utcnow(),
            "change": {"op": op, "agency_code": agency_code, "code": payload.get("code"), "summary": summary,
                       "note": note},
        }
        try:
            await self.versions.insert_one(doc)
        except DuplicateKeyError as exc:
            raise VersionConflict("目录正被同时修改，请重试") from exc
        self._cache[seq] = directory
        return directory


class RoutingStore:
    def __init__(self, db: AsyncDatabase, source: str) -> None:
        self.routings = db["routings"]
        self.cases = Versioned(self.routings, rev_field="rev")
        self.source = source

    async def setup(self) -> None:
        await outbox.ensure_indexes(self.routings)
        await self.routings.create_index([("triage_open", ASCENDING), ("routed_at", ASCENDING)])
        await self.routings.create_index([("returns_open", ASCENDING), ("routed_at", ASCENDING)])

    async def get(self, case_id: str) -> dict[str, Any] | None:
        return await self.routings.find_one({"_id": case_id}, {"outbox": 0})

    async def route(self, event: CloudEvent[Any], directory: Directory, time: datetime | None = None) -> dict | None:
        """Route a received application once; None if it was routed before (a redelivery)."""
        app_: ApplicationReceived = event.data
        if await self.routings.find_one({"_id": app_.case_id}, {"_id": 1}):
            return None  # already routed: its outbox publishes (or published) the tasks
        decision = decide(directory, app_.description, app_.target_departments)
        now = time or utcnow()
        doc: dict[str, Any] = {
            "_id": app_.case_id,
            "tracking_number": app_.tracking_number,
            "agency_code": app_.agency_code,
            "received_on": app_.received_on.isoformat(),
            "description": app_.description,
            "applicant_ref": app_.applicant_ref,
            "applicant_type": app_.applicant_type.value,
            "channel": app_.channel.value,
            "delivery_form": app_.delivery_form.value,
            "delivery_method": app_.delivery_method.value,
            "directory_version": directory.version,
            "tasks": [casework.task_dict(app_.case_id, p) for p in decision.picks],
            "decision": {
                "triage": decision.triage,
                "reasons": list(decision.reasons),
                "suggestions": [{"dept_code": p.dept_code, "dept_name": p.dept_name, "rule": p.rule,
                                 "confidence": p.confidence} for p in decision.suggestions],
            },
            "triage_open": decision.triage,
            "routed_at": now,
            "change_seq": 0,
            "changes": [],
            "referrals": [],
        }
        records = casework.routing_records(doc, directory.agency_name, self.source, event.id, time=now)
        if not await self.cases.insert(doc, records):  # revision 0, with its records
            return None
        return doc

    async def open_triage(self) -> list[dict[str, Any]]:
        """The OGI office's queue: cases the rules were unsure about and cases a department returned,
        oldest first (by when they entered the queue: routed, or the first open return)."""
        unsure = await self.routings.find({"triage_open": True}, {"outbox": 0},
                                          sort=[("routed_at", ASCENDING)]).to_list()
        returned = await self.routings.find({"returns_open": True}, {"outbox": 0},
                                            sort=[("routed_at", ASCENDING)]).to_list()
        by_id = {d["_id"]: d for d in unsure}
        for d in returned:
            by_id.setdefault(d["_id"], d)

        def entered(d: dict[str, Any]) -> datetime:
            times = [casework.aware(r["returned_at"]) for r in casework.open_returns(d)]
            if d.get("triage_open"):
                times.append(casework.aware(d["routed_at"]))
            return min(times) if times else casework.aware(d["routed_at"])

        return sorted(by_id.values(), key=entered)

    async def record_return(self, event_id: str, data: Any, attempts: int = 20) -> str:  # noqa: ANN401
        """Record a department's ``task.returned`` (``data``) once: "recorded" (the case is in the
        queue), "resolved" (recorded, but the OGI office already acted), "duplicate" (a redelivery).
        Raises CaseworkError(404) for a case not routed here, ReturnRefused for a task it lacks."""
        def decide(doc: dict[str, Any] | None) -> Change | None:
            if doc is None:
                raise CaseworkError(404, NOT_ROUTED)
            entry = casework.plan_return(doc, event_id, data)
            if entry is None:
                return None
            opened = entry["status"] == "open"
            return Change(set={"returns_open": True} if opened else {}, push={"returns": entry},
                          result="recorded" if opened else "resolved")

        try:
            outcome = await self.cases.change(data.case_id, decide, attempts=attempts, what="task.returned")
        except Conflict:
            raise CaseworkError(409, "案件正被同时修改，请重试") from None
        return outcome or "duplicate"

    async def record_reopen(self, event: CloudEvent[Any], attempts: int = 20,
                            time: datetime | None = None) -> dict[str, Any] | None:
        """Tell each department whose answer the OGI office set aside (``event``: a
        contradiction.resolved with ``reopened``) on its inbox, once: one write that records the
        resolution in ``reopens`` and puts a task.reopened per reopened task in the outbox. Returns
        the entry recorded (its ``tasks`` told, its ``skipped``), or None: a case not routed here (the
        event may be another agency's), nothing reopened, or a redelivery."""
        data = event.data

        def decide(doc: dict[str, Any] | None) -> Change | None:
            if doc is None:
                return None
            plan = casework.plan_reopen(doc, event.id, data)
            if plan is None:
                return None
            records = casework.reopen_records(doc, plan, event.id, data, self.source, time=time or utcnow())
            return Change(push={"reopens": plan.entry}, records=records, result=plan.entry)

        try:
            return await self.cases.change(data.case_id, decide, attempts=attempts, what="contradiction.resolved")
        except Conflict:
            raise CaseworkError(409, "案件正被同时修改，请重试") from None

    async def _load(self, case_id: str) -> dict[str, Any]:
        doc = await self.cases.load(case_id)
        if doc is None:
            raise CaseworkError(404, NOT_ROUTED)
        return doc

    async def _commit(self, doc: dict[str, Any], set_fields: dict[str, Any], push: dict[str, Any],
                      records: list[dict[str, Any]]) -> None:
        """The officer's change, planned from ``doc``: written only if nobody changed the case since
        (else 409: the officer looks again, the change is not re-planned behind their back)."""
        if not await self.cases.write(doc, Change(set=set_fields, push=push, records=records)):
            raise CaseworkError(409, "案件正被同时修改，请刷新后重试")

    async def change_departments(self, case_id: str, directory: Directory, *, add: list[str] = (),
                                 remove: list[str] = (), task_ids: list[str] = (), reason: str, actor: str,
                                 time: datetime | None = None) -> dict[str, Any]:
        """Add / remove / reassign departments or withdraw tasks; one atomic update with its events."""
        doc = await self._load(case_id)
        plan = casework.plan_change(doc, directory, list(add), list(remove), reason, actor, list(task_ids))
        if not plan.changed:
            return {"changed": False, "change_seq": doc.get("change_seq", 0), "tasks": casework.open_tasks(doc["tasks"])}
        seq = doc.get("change_seq", 0) + 1
        now = time or utcnow()
        records = casework.change_records(doc, plan, seq, directory, reason, actor, self.source, time=now)
        change = {"seq": seq, "operation": plan.operation, "added": [t["task_id"] for t in plan.added],
                  "withdrawn": [t["task_id"] for t in plan.withdrawn], "reason": reason, "changed_by": actor,
                  "changed_at": now, "directory_version": directory.version,
                  "triage_resolved": plan.triage_resolved}
        set_fields: dict[str, Any] = {"tasks": plan.tasks, "change_seq": seq}
        if plan.triage_resolved:
            set_fields["triage_open"] = False
        # Any change of the departments ends the case's pending returns (as reply's case.rerouted does).
        returns = casework.resolve_returns(doc, "rerouted", actor, now, seq)
        if returns is not None:
            set_fields.update(returns=returns, returns_open=False)
            change["returns_resolved"] = [r["task_id"] for r in casework.open_returns(doc)]
        await self._commit(doc, set_fields, {"changes": change}, records)
        return {"changed": True, "change_seq": seq, "operation": plan.operation,
                "added": plan.added, "withdrawn": plan.withdrawn, "tasks": casework.open_tasks(plan.tasks),
                "triage_resolved": plan.triage_resolved, "returns_resolved": returns is not None}

    async def refer(self, case_id: str, directory: Directory, *, target_agency_code: str | None,
                    target_agency_name: str | None, target_contact: dict[str, str] | None, reason: str,
                    actor: str, whole_case: bool = True, part: str | None = None,
                    time: datetime | None = None) -> dict[str, Any]:
        """Record that the case (or a part) is another agency's; hand it over if that one is on the bus."""
        doc = await self._load(case_id)
        plan = casework.plan_referral(doc, directory, target_agency_code, target_agency_name, target_contact,
                                      reason, actor, whole_case, part)
        existing = next((r for r in doc.get("referrals", []) if r["referral_id"] == plan.referral_id), None)
        if existing is not None:
            return {"created": False, **existing}
        if doc.get("referred_whole"):
            raise CaseworkError(409, "该案件已整体转至其他机关")
        now = time or utcnow()
        records = casework.referral_records(doc, plan, directory, reason, actor, self.source, time=now)
        referral = {"referral_id": plan.referral_id, "target_agency_code": plan.target_code,
                    "target_agency_name": plan.target_name, "target_contact": plan.contact.model_dump(),
                    "handed_over": plan.handed_over, "whole_case": plan.whole_case, "part": plan.part,
                    "reason": reason, "recorded_by": actor, "recorded_at": now,
                    "withdrawn": [t["task_id"] for t in plan.withdrawn],
                    "message": casework.referral_message(doc, plan)}
        set_fields: dict[str, Any] = {"tasks": plan.tasks}
        if whole_case:
            set_fields.update(referred_whole=True, triage_open=False)
            returns = casework.resolve_returns(doc, "referred", actor, now)
            if returns is not None:
                set_fields.update(returns=returns, returns_open=False)
        await self._commit(doc, set_fields, {"referrals": referral}, records)
        return {"created": True, **referral}


class ProposalDecided(Exception):
    """The proposal was accepted or rejected already (by whom, when: ``decision``)."""

    def __init__(self, decision: dict[str, Any]) -> None:
        super().__init__(decision.get("status", ""))
        self.decision = decision


class LearningStore:
    """What routing learns from the OGI office (issue #13), owned by routing.

    ``learning_examples``: one document per case whose triage the OGI office decided (``_id`` = the
    case id; a later decision of the same case replaces the earlier one): the description, the label
    (department codes, or ``["not-ogi"]``), who decided and when. ``learning_decisions``: one
    document per accepted or rejected proposal (``_id`` = the proposal id; the insert is the claim,
    so two admins cannot both decide it), with who, when, why and, when accepted, the directory
    version it made."""

    def __init__(self, db: AsyncDatabase) -> None:
        self.examples = db["learning_examples"]
        self.decisions = db["learning_decisions"]

    async def setup(self) -> None:
        await self.examples.create_index([("decided_at", ASCENDING)])

    async def record_example(self, case_id: str, description: str, departments: list[str], *, not_ogi: bool = False,
                             decided_by: str, source: str, directory_version: str | None = None,
                             time: datetime | None = None) -> dict[str, Any]:
        from services.routing.learning import example_from  # pure; imported here to keep store's imports light

        example = example_from(case_id, description, departments, not_ogi=not_ogi)
        doc = {"description": example.description, "label": list(example.label), "decided_by": decided_by,
               "decided_at": time or utcnow(), "source": source, "directory_version": directory_version}
        await self.examples.update_one({"_id": case_id}, {"$set": doc}, upsert=True)
        return {"case_id": case_id, **doc}

    async def all_examples(self) -> list[dict[str, Any]]:
        return await self.examples.find({}, sort=[("decided_at", ASCENDING)]).to_list()

    async def all_decisions(self) -> list[dict[str, Any]]:
        return await self.decisions.find({}, sort=[("decided_at", ASCENDING)]).to_list()

    async def claim(self, proposal: dict[str, Any], status: str, decided_by: dict[str, Any], note: str,
                    time: datetime | None = None) -> dict[str, Any]:
        """Record the decision on a proposal once; ProposalDecided if it was decided before."""
        doc = {"_id": proposal["proposal_id"], **{k: proposal[k] for k in ("phrase", "dept_code", "dept_name")},
               "support": proposal["support"], "conflicts": proposal["conflicts"], "status": status,
               "decided_by": dict(decided_by), "decided_at": time or utcnow(), "note": note,
               "directory_version": None}
        try:
            await self.decisions.insert_one(doc)
        except DuplicateKeyError as exc:
            raise ProposalDecided(await self.decisions.find_one({"_id": proposal["proposal_id"]}) or {}) from exc
        return doc

    async def set_version(self, proposal_id: str, version: str) -> None:
        await self.decisions.update_one({"_id": proposal_id}, {"$set": {"directory_version": version}})

    async def release(self, proposal_id: str) -> None:
        """Undo a claim whose directory change failed (nothing was accepted)."""
        await self.decisions.delete_one({"_id": proposal_id, "directory_version": None})


__all__ = ["DirectoryError", "DirectoryStore", "LearningStore", "ProposalDecided", "ReturnRefused", "RoutingStore",
           "VersionConflict"]
