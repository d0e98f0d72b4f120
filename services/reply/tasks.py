"""The department's desk: what a department officer or reviewer does with a task besides answering.

- the task listing with each task's deadline (``due_on``, ``workdays_left``: the case clock's),
  whether it was acknowledged, whether its draft was sent back;
- 签收 (``POST /tasks/{id}/acknowledgement``): who and when, once (``task.acknowledged``);
- 退回 (``POST /tasks/{id}/return``): the department says the task is not its own, with a reason
  (``task.returned``); the task leaves the department's listing until the OGI office routes the
  case again (a later ``case.rerouted`` that keeps the task puts it back); the OGI office lists the
  pending returns (``GET /returned-tasks``) and sees them on the case (``returns``);
- the department-safe view of a task (``GET /tasks/{id}``): the application, the deadline, its own
  answer, its materials and the other departments' progress (status only);
- the reviewer's send-back (``POST /tasks/{id}/review/return``) with a comment, four eyes as for the
  sign-off (``answer.sent_back``); a draft sent back cannot be signed off until its author replaces it;
- the material itself (``POST /tasks/{id}/material``, multipart): at most 20 MiB, PDF, images,
  office documents or ZIP (checked on the bytes, not on the name alone), SHA-256 recorded; stored in
  ``materials`` (metadata) and ``material_chunks`` (≤ 4 MiB per document: the store has no GridFS);
  ``GET /cases/{case_id}/material/{material_id}`` for officers.

All events go on ``gongkai.answers.recorded`` through the case document's outbox, each change in one
write of the case conditional on its ``reply_rev`` (``CaseStore.versioned``, ``servicekit.versioned``;
a concurrent change: decided again from a fresh read; too many: 409).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import Response
from pydantic import Field
from starlette.datastructures import UploadFile

from contracts import topics
from contracts.envelope import deterministic_id
from contracts.events_desk import AnswerReturned, TaskAcknowledged, TaskReturned
from services.reply import release
from services.reply.cases import AnswerRefusal, CaseStore, Officer, TaskNotYetKnown
from servicekit import chunks as chunked
from servicekit import outbox
from servicekit.http import content_disposition
from servicekit.oidc import Principal, officer, refuse, require_department
from servicekit.openapi import errors
from servicekit.validation import StrictIn
from servicekit.versioned import Change, Conflict

MAX_MATERIAL_BYTES = 20 * 1024 * 1024
OFFICE_READERS = ("ogi_officer", "ogi_head", "auditor")

# extension -> (content type, magic prefixes the bytes must start with)
_PDF = (b"%PDF-",)
_ZIP = (b"PK\x03\x04",)
_OLE = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",)
FILE_TYPES: dict[str, tuple[str, tuple[bytes, ...]]] = {
    "pdf": ("application/pdf", _PDF),
    "png": ("image/png", (b"\x89PNG\r\n\x1a\n",)),
    "jpg": ("image/jpeg", (b"\xff\xd8\xff",)),
    "jpeg": ("image/jpeg", (b"\xff\xd8\xff",)),
    "gif": ("image/gif", (b"GIF87a", b"GIF89a")),
    "tif": ("image/tiff", (b"II*\x00", b"MM\x00*")),
    "tiff": ("image/tiff", (b"II*\x00", b"MM\x00*")),
    "doc": ("application/msword", _OLE),
    "xls": ("application/vnd.ms-excel", _OLE),
    "ppt": ("application/vnd.ms-powerpoint", _OLE),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", _ZIP),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", _ZIP),
    "pptx": ("application/vnd.openxmlformats-officedocument.presentationml.presentation", _ZIP),
    "odt": ("application/vnd.oasis.opendocument.text", _ZIP),
    "ods": ("application/vnd.oasis.opendocument.spreadsheet", _ZIP),
    "zip": ("application/zip", _ZIP),
}
TYPES_ZH = "PDF、图片（PNG、JPEG、GIF、TIFF）、Office 文档（DOC、DOCX、XLS、XLSX、PPT、PPTX、ODT、ODS）或 ZIP 压缩包"
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f/\\]")

# Status of a task as another department of the same case may see it (nothing else).
STATUS_ZH = {"open": "待答复", "draft": "答复草稿待审查", "signed_off": "已答复（已审查）", "returned": "已退回公开办",
             "withdrawn": "已撤回"}


def file_type(filename: str, head: bytes) -> str | None:
    """The content type of an allowed file (its extension and its first bytes agree), else None."""
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    kind = FILE_TYPES.get(ext)
    if kind is None or not any(head.startswith(m) for m in kind[1]):
        return None
    return kind[0]


def clean_filename(name: str) -> str:
    name = _UNSAFE_NAME.sub("_", name.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]).strip() or "material"
    return name[-200:]


class ReturnIn(StrictIn):
    reason: str = Field(min_length=1, max_length=500, description="退回理由（如：不属于本部门职责，建议由某部门办理）")


class SendBackIn(StrictIn):
    comment: str = Field(min_length=1, max_length=2000, description="退回修改意见")


class Desk:
    def __init__(self, store: CaseStore) -> None:
        self.store = store
        self.materials = store.cases.database["materials"]
        self.chunks = store.cases.database["material_chunks"]

    async def setup(self) -> None:
        await self.store.cases.create_index("returns.task_id")
        await self.materials.create_index("task_id")
        await self.materials.create_index("case_id")
        await self.chunks.create_index([("material_id", 1), ("n", 1)])

    # -- reading --------------------------------------------------------------------------------

    async def deadlines(self, case_ids: list[str]) -> dict[str, dict[str, Any]]:
        """Each case's ``due_on``, ``workdays_left``, ``deadline_status``: the case clock's."""
        clock = self.store.clock
        if clock is None:
            return {cid: {"due_on": None, "workdays_left": None, "deadline_status": None} for cid in case_ids}
        return await clock.task_deadlines(case_ids)

    @staticmethod
    def pending_return(doc: dict[str, Any], task_id: str) -> dict[str, Any] | None:
        """The task's return not yet followed by a new routing of the case."""
        for r in doc.get("returns") or []:
            if r["task_id"] == task_id and r.get("route_seq", 0) == doc.get("route_seq", 0):
                return r
        return None

    @staticmethod
    def _ack(doc: dict[str, Any], task_id: str) -> dict[str, Any] | None:
        return next((a for a in doc.get("acknowledged") or [] if a["task_id"] == task_id), None)

    async def listing(self, dept_code: str) -> list[dict[str, Any]]:
        tasks = await self.store.open_tasks(dept_code)
        ids = sorted({t["case_id"] for t in tasks})
        docs = {d["_id"]: d async for d in self.store.cases.find({"_id": {"$in": ids}}, {"outbox": 0})}
        deadlines = await self.deadlines(list(docs))
        described = {d["_id"]: d.get("description") async for d in self.store.applications.find({"_id": {"$in": ids}})}
        out = []
        for t in tasks:
            doc = docs.get(t["case_id"])
            if doc is None or self.pending_return(doc, t["task_id"]):
                continue
            a = next((x for x in doc["answers"] if x["task_id"] == t["task_id"]), None)
            ack = self._ack(doc, t["task_id"])
            author = (a or {}).get("author") or {}
            out.append({**t, **deadlines[t["case_id"]], "description": described.get(t["case_id"]),
                        "acknowledged": ack is not None, "acknowledged_by": (ack or {}).get("by"),
                        "acknowledged_at": (ack or {}).get("at"),
                        "answered_by": author.get("name"), "answered_by_subject": author.get("subject"),
                        "sent_back": bool((a or {}).get("sent_back"))})
        return out

    async def returned(self) -> list[dict[str, Any]]:
        out = []
        async for doc in self.store.cases.find({"returns.0": {"$exists": True}}, {"outbox": 0}):
            for r in doc["returns"]:
                if self.pending_return(doc, r["task_id"]) is r:
                    out.append({"case_id": doc["_id"], "tracking_number": doc["tracking_number"],
                                **{k: r[k] for k in ("task_id", "dept_code", "dept_name", "reason", "by", "at")}})
        return out

    def _status(self, doc: dict[str, Any], task_id: str) -> str:
        if any(w["task_id"] == task_id for w in doc.get("withdrawn") or []):
            return "withdrawn"
        if self.pending_return(doc, task_id):
            return "returned"
        a = next((x for x in doc["answers"] if x["task_id"] == task_id), None)
        if a is None:
            return "open"
        return "signed_off" if a.get("review") else "draft"

    async def view(self, task_id: str) -> dict[str, Any]:
        case, task, gone = await self.store._find_task(task_id)
        owner = task or gone
        assert owner is not None
        app = await self.store.applications.find_one({"_id": case["_id"]}) or {}
        a = next((x for x in case["answers"] if x["task_id"] == task_id), None)
        others = [{"dept_name": t["dept_name"], "status": self._status(case, t["task_id"]),
                   "status_zh": STATUS_ZH[self._status(case, t["task_id"])]}
                  for t in case["tasks"] if t["task_id"] != task_id]
        status = self._status(case, task_id)
        return {
            "task_id": task_id, "case_id": case["_id"], "tracking_number": case["tracking_number"],
            "dept_code": owner["dept_code"], "dept_name": owner["dept_name"], "received_on": case["received_on"],
            "description": app.get("description"), **(await self.deadlines([case["_id"]]))[case["_id"]],
            "status": status, "status_zh": STATUS_ZH[status],
            "acknowledged": self._ack(case, task_id), "returned": self.pending_return(case, task_id),
            "answer": None if a is None else {
                "answer": a["answer"], "author": a.get("author"), "review": a.get("review"),
                "sent_back": a.get("sent_back"), "at": a["at"]},
            "others": others,
            "materials": await self.material_list(task_id, case),
            "reply_issued": bool(case["reply_issued"]),
        }

    # -- changes --------------------------------------------------------------------------------

    async def _open_task(self, task_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
        case, task, _ = await self.store._find_task(task_id)
        if task is None:
            raise AnswerRefusal(409, "task_withdrawn", f"任务 {task_id} 已由政府信息公开工作机构撤回")
        return case, task

    async def _change(self, task_id: str,
                      decide: Callable[[dict[str, Any], dict[str, Any]], tuple[Change | None, Any]]) -> Any:  # noqa: ANN401
        """``decide(case, task) -> (change, result)`` on a fresh read of the task's case, each
        attempt: the change (None: nothing to write) is one write conditional on the case's
        ``reply_rev`` with its events (``CaseStore.versioned``); returns the last ``result``."""
        case, _ = await self._open_task(task_id)
        out: list[Any] = [None]

        def on(doc: dict[str, Any] | None) -> Change | None:
            task = release.task_of(doc, task_id)[0] if doc is not None else None
            if task is None:
                raise AnswerRefusal(409, "task_withdrawn", f"任务 {task_id} 已由政府信息公开工作机构撤回")
            change, out[0] = decide(doc, task)
            return change

        try:
            await self.store.versioned.change(case["_id"], on, what="desk")
        except Conflict:
            raise AnswerRefusal(409, "busy", "任务正被同时修改，请重试") from None
        return out[0]

    def _answers_event(self, case: dict[str, Any], data: Any, event_id: str) -> tuple[Any, list[dict[str, Any]]]:  # noqa: ANN401
        event = self.store._event(data, case["_id"], event_id)
        return event, [outbox.record(topics.ANSWERS_RECORDED.name, event)]

    async def acknowledge(self, task_id: str, who: Officer) -> tuple[dict[str, Any], bool]:
        def decide(case: dict[str, Any], task: dict[str, Any]) -> tuple[Change | None, Any]:
            existing = self._ack(case, task_id)
            if existing is not None:
                return None, (existing, False)
            now = datetime.now(UTC)
            event, records = self._answers_event(case, TaskAcknowledged(
                case_id=case["_id"], task_id=task_id, dept_code=task["dept_code"], acknowledged_by=who.name,
                acknowledged_by_subject=who.subject, acknowledged_at=now), deterministic_id("task.acknowledged", task_id))
            entry = {"task_id": task_id, "by": who.name, "by_subject": who.subject, "at": now, "event_id": event.id}
            return Change(set={"acknowledged": [*(case.get("acknowledged") or []), entry]}, records=records), (entry, True)

        return await self._change(task_id, decide)

    async def give_back(self, task_id: str, who: Officer, reason: str) -> tuple[dict[str, Any], bool]:
        def decide(case: dict[str, Any], task: dict[str, Any]) -> tuple[Change | None, Any]:
            existing = self.pending_return(case, task_id)
            if existing is not None:
                return None, (existing, False)
            a = release.answer_of(case, task_id)
            if a is not None and a.get("review") is not None:
                raise AnswerRefusal(409, "signed_off", "该任务的答复已经保密审查签署，不能退回")
            now = datetime.now(UTC)
            seq = case.get("route_seq", 0)
            event, records = self._answers_event(case, TaskReturned(
                case_id=case["_id"], task_id=task_id, dept_code=task["dept_code"], reason=reason, returned_by=who.name,
                returned_by_subject=who.subject, returned_at=now), deterministic_id("task.returned", task_id, str(seq)))
            entry = {"task_id": task_id, "dept_code": task["dept_code"], "dept_name": task["dept_name"],
                     "reason": reason, "by": who.name, "by_subject": who.subject, "at": now, "route_seq": seq,
                     "event_id": event.id}
            return Change(set={"returns": [*(case.get("returns") or []), entry]}, records=records), (entry, True)

        return await self._change(task_id, decide)

    async def send_back(self, task_id: str, who: Officer, comment: str) -> tuple[dict[str, Any], bool]:
        def decide(case: dict[str, Any], task: dict[str, Any]) -> tuple[Change | None, Any]:
            a = release.answer_of(case, task_id)
            if a is None:
                raise AnswerRefusal(409, "no_answer", "该任务尚无答复草稿，无从退回修改")
            if a.get("review") is not None:
                raise AnswerRefusal(409, "signed_off", "该答复已经保密审查签署，不能退回修改")
            if (a.get("author") or {}).get("subject") == who.subject:
                raise AnswerRefusal(403, "four_eyes", "保密审查须由撰写答复者以外的本部门审查人进行，不能审查本人撰写的答复")
            if a.get("sent_back"):
                return None, (a["sent_back"], False)
            now = datetime.now(UTC)
            event, records = self._answers_event(case, AnswerReturned(
                case_id=case["_id"], task_id=task_id, dept_code=task["dept_code"], comment=comment, reviewer=who.name,
                reviewer_subject=who.subject, sent_back_at=now), deterministic_id("answer.returned", task_id, a["hash"]))
            sent = {"comment": comment, "by": who.name, "by_subject": who.subject, "at": now, "event_id": event.id}
            answers = [{**x, "sent_back": sent} if x["task_id"] == task_id else x for x in case["answers"]]
            return Change(set={"answers": answers}, records=records), (sent, True)

        return await self._change(task_id, decide)

    # -- material -------------------------------------------------------------------------------

    async def add_material(self, task_id: str, who: Officer, filename: str, content_type: str,
                           data: bytes) -> dict[str, Any]:
        case, _task = await self._open_task(task_id)
        a = next((x for x in case["answers"] if x["task_id"] == task_id), None)
        if a is not None and a.get("review") is not None:
            raise AnswerRefusal(409, "signed_off", "该任务的答复已经保密审查签署，不能再添加材料")
        material_id = uuid.uuid4().hex
        count = await chunked.write(self.chunks, "material_id", material_id, data)
        meta = {"_id": material_id, "case_id": case["_id"], "task_id": task_id, "dept_code": _task["dept_code"],
                "filename": filename, "content_type": content_type, "size": len(data),
                "sha256": hashlib.sha256(data).hexdigest(), "chunks": count,
                "uploaded_by": who.name, "uploaded_by_subject": who.subject, "uploaded_at": datetime.now(UTC)}
        await self.materials.insert_one(meta)
        return self._public(meta, case)

    @staticmethod
    def _public(meta: dict[str, Any], case: dict[str, Any]) -> dict[str, Any]:
        reply = case.get("reply") or {}
        covered = set(reply.get("task_ids") or [])
        for am in case.get("amendments") or []:
            covered |= set(am["task_ids"])
        answer = next((x for x in case["answers"] if x["task_id"] == meta["task_id"]), None)
        refs = set(((answer or {}).get("answer") or {}).get("material_refs") or [])
        out = {k: meta[k] for k in ("case_id", "task_id", "dept_code", "filename", "content_type", "size", "sha256",
                                    "uploaded_by", "uploaded_at")}
        out["material_id"] = meta["_id"]
        out["ref"] = f"material:{meta['_id']}"
        # Released to the applicant with the reply: named by the signed-off answer the reply carries.
        out["in_answer"] = out["ref"] in refs
        out["released"] = out["in_answer"] and meta["task_id"] in covered
        return out

    async def material_list(self, task_id: str, case: dict[str, Any]) -> list[dict[str, Any]]:
        return [self._public(m, case) async for m in self.materials.find({"task_id": task_id}).sort("uploaded_at", 1)]

    async def material(self, case_id: str, material_id: str) -> tuple[dict[str, Any], bytes] | None:
        meta = await self.materials.find_one({"_id": material_id, "case_id": case_id})
        return None if meta is None else await self._with_bytes(meta)

    async def _with_bytes(self, meta: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
        data = await chunked.read(self.chunks, "material_id", meta["_id"], meta)
        if data is None:
            raise HTTPException(503, "材料文件不完整，请稍后重试")
        return meta, data

    async def released_material(self, case: dict[str, Any], material_id: str) -> tuple[dict[str, Any], bytes] | None:
        """For the applicant's download (a public route that has checked the query code and holds the
        case document): the material only once released with the reply, else None."""
        meta = await self.materials.find_one({"_id": material_id, "case_id": case["_id"]})
        if meta is None or not self._public(meta, case)["released"]:
            return None
        return await self._with_bytes(meta)

    async def released_materials(self, case: dict[str, Any]) -> list[dict[str, Any]]:
        """What the applicant may download with the reply (name, size, type, SHA-256, id)."""
        out = [self._public(m, case) async for m in self.materials.find({"case_id": case["_id"]}).sort("uploaded_at", 1)]
        return [{k: m[k] for k in ("material_id", "filename", "content_type", "size", "sha256")}
                for m in out if m["released"]]


MULTIPART_BODY = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"],
    "properties": {"file": {"type": "string", "format": "binary", "description": f"材料文件（≤ 20 MiB；{TYPES_ZH}）"}}}}}}}


def add_routes(app: FastAPI, store: CaseStore, wake: Callable[[], None],
               task_department: Callable[[str], Any]) -> Desk:
    desk = Desk(store)

    def me(principal: Principal) -> Officer:
        return Officer(subject=principal.subject, name=principal.display)

    async def own_task(task_id: str, principal: Principal, request: Request) -> str:
        dept = await task_department(task_id)
        require_department(principal, request, dept)
        return dept

    def refused(exc: AnswerRefusal, principal: Principal, request: Request) -> HTTPException:
        if exc.status == 403:
            return refuse(principal, request, exc.message, exc.code)
        return HTTPException(exc.status, exc.message)

    async def guarded(coro: Any, principal: Principal, request: Request) -> Any:  # noqa: ANN401
        try:
            return await coro
        except TaskNotYetKnown:
            raise HTTPException(404, "未找到该任务", headers={"Retry-After": "1"}) from None
        except AnswerRefusal as exc:
            raise refused(exc, principal, request) from None

    @app.get("/tasks/{task_id}", tags=["tasks"])
    async def task_view(task_id: str, request: Request, principal: Principal = Depends(officer)) -> dict:
        """The task as its own department sees it: the application, the deadline, its answer and
        materials, and the other departments' progress on the same case (status only)."""
        await own_task(task_id, principal, request)
        return await guarded(desk.view(task_id), principal, request)

    @app.post("/tasks/{task_id}/acknowledgement", tags=["tasks"], responses=errors(409))
    async def acknowledge(task_id: str, request: Request, principal: Principal = Depends(officer)) -> dict:
        """签收: the department has the task (who and when; once — a second call changes nothing)."""
        await own_task(task_id, principal, request)
        entry, created = await guarded(desk.acknowledge(task_id, me(principal)), principal, request)
        wake()
        return {"task_id": task_id, "acknowledged_by": entry["by"], "acknowledged_at": entry["at"],
                "status": "recorded" if created else "already_recorded"}

    @app.post("/tasks/{task_id}/return", tags=["tasks"], responses=errors(409))
    async def give_back(task_id: str, body: ReturnIn, request: Request, principal: Principal = Depends(officer)) -> dict:
        """退回: the task is not the department's; it goes back to the OGI office (``task.returned``)
        and leaves the department's listing until the case is routed again."""
        await own_task(task_id, principal, request)
        entry, created = await guarded(desk.give_back(task_id, me(principal), body.reason), principal, request)
        wake()
        return {"task_id": task_id, "reason": entry["reason"], "returned_at": entry["at"],
                "status": "recorded" if created else "already_recorded"}

    @app.post("/tasks/{task_id}/review/return", tags=["tasks"], responses=errors(409))
    async def send_back(task_id: str, body: SendBackIn, request: Request,
                        principal: Principal = Depends(officer)) -> dict:
        """The reviewer sends the draft back to its author with a comment (not the author: four eyes)."""
        await own_task(task_id, principal, request)
        sent, created = await guarded(desk.send_back(task_id, me(principal), body.comment), principal, request)
        wake()
        return {"task_id": task_id, "comment": sent["comment"], "status": "recorded" if created else "already_recorded"}

    @app.get("/returned-tasks", tags=["ogi"])
    async def returned() -> dict:
        """Tasks the departments returned that the OGI office has not routed again yet."""
        return {"tasks": await desk.returned()}

    @app.post("/tasks/{task_id}/material", status_code=201, tags=["tasks"], responses=errors(400, 409, 413, 415),
              openapi_extra=MULTIPART_BODY)
    async def upload(task_id: str, request: Request, principal: Principal = Depends(officer)) -> dict:
        """The material itself (multipart ``file``): ≤ 20 MiB; PDF, images, office documents, ZIP;
        its SHA-256 is recorded. Name it in the answer's ``material_refs`` by its ``ref``."""
        await own_task(task_id, principal, request)
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != "multipart/form-data":
            raise HTTPException(415, "请以 multipart/form-data 上传文件（字段名 file）")
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > MAX_MATERIAL_BYTES + 64 * 1024:
            raise HTTPException(413, "文件过大：每个材料文件不得超过 20 MiB")
        try:
            form = await request.form(max_files=1, max_fields=5)
        except Exception:  # noqa: BLE001 - malformed multipart body
            raise HTTPException(400, "上传内容格式有误，请重新选择文件上传") from None
        try:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise HTTPException(400, "请选择要上传的文件（字段名 file）")
            data = await upload.read(MAX_MATERIAL_BYTES + 1)
            filename = clean_filename(upload.filename or "")
        finally:
            await form.close()
        if len(data) > MAX_MATERIAL_BYTES:
            raise HTTPException(413, "文件过大：每个材料文件不得超过 20 MiB")
        if not data:
            raise HTTPException(400, "文件为空，请重新选择")
        kind = file_type(filename, data[:16])
        if kind is None:
            raise HTTPException(415, f"不支持的文件类型：仅接受{TYPES_ZH}，且文件内容须与扩展名相符")
        return await guarded(desk.add_material(task_id, me(principal), filename, kind, data), principal, request)

    @app.get("/cases/{case_id}/material/{material_id}", tags=["tasks"], response_class=Response,
             responses={200: {"content": {"application/octet-stream": {}}, "description": "材料文件"}})
    async def material(case_id: str, material_id: str, request: Request,
                       principal: Principal = Depends(officer)) -> Response:
        found = await desk.material(case_id, material_id)
        if found is None:
            raise HTTPException(404, "未找到该材料")
        meta, data = found
        if not principal.has(*OFFICE_READERS):
            require_department(principal, request, meta["dept_code"])
        return Response(data, media_type=meta["content_type"], headers={
            "Content-Disposition": content_disposition("attachment", meta["filename"]),
            "X-Content-SHA256": meta["sha256"]})

    store_setup = desk.setup
    app.state.desk = desk
    app.state.desk_setup = store_setup
    return desk
