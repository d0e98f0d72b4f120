"""Files the applicant attaches: to the application (Art. 29, e.g. proof of identity) and to an
online correction (Art. 30). Personal data: they stay in intake's store and never go on a topic
(events carry at most a count).

Limits: at most ``MAX_FILES`` files, each at most ``MAX_FILE_BYTES`` and together at most
``MAX_TOTAL_BYTES``, none empty; PDF, JPEG or PNG as the content's first bytes say (the declared
type is not trusted; a file name's extension, if any, must be one of those types'). Each file is
stored in chunks (the store has no GridFS) with its size and SHA-256, under an id derived from the
case, the purpose, its position and its SHA-256: writing the same files again (a retried
submission under the same Idempotency-Key) overwrites them with themselves.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from starlette.datastructures import FormData, UploadFile

from servicekit import chunks as chunked

MAX_FILES = 5
MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_TOTAL_BYTES = 20 * 1024 * 1024
FIELD = "attachments"
TYPES_ZH = "仅限 PDF、JPG、PNG"
# content type -> (magic prefixes, extensions a file name of that type may carry)
_KINDS: dict[str, tuple[tuple[bytes, ...], tuple[str, ...]]] = {
    "application/pdf": ((b"%PDF-",), ("pdf",)),
    "image/jpeg": ((b"\xff\xd8\xff",), ("jpg", "jpeg")),
    "image/png": ((b"\x89PNG\r\n\x1a\n",), ("png",)),
}
_EXTENSIONS = {ext for _, exts in _KINDS.values() for ext in exts}
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f/\\\"]")

MULTIPART_FILES_SCHEMA = {
    "type": "array", "maxItems": MAX_FILES,
    "items": {"type": "string", "format": "binary"},
    "description": f"附件（0–{MAX_FILES} 个；每个 ≤ 10 MiB，合计 ≤ 20 MiB；PDF、JPG、PNG，按文件内容判断类型）",
}


@dataclass(frozen=True)
class Upload:
    filename: str
    content_type: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def sniff(data: bytes) -> str | None:
    """The content type of an allowed file by its first bytes, else None."""
    for ctype, (magics, _) in _KINDS.items():
        if any(data.startswith(m) for m in magics):
            return ctype
    return None


def clean_filename(name: str) -> str:
    name = _UNSAFE_NAME.sub("_", name.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]).strip() or "附件"
    return name[-200:]


def _error(field: str, message: str) -> dict[str, str]:
    return {"field": field, "message": message, "type": "value_error"}


async def read_uploads(form: FormData, field: str = FIELD) -> tuple[list[Upload], list[dict[str, str]]]:
    """The files of the form's ``field`` parts, checked; the errors found (``attachments`` or
    ``attachments[i]``, 0-based, Chinese messages stating the limit)."""
    errors: list[dict[str, str]] = []
    parts: list[tuple[str, bytes] | None] = []  # (file name, first bytes read), None: not a file
    for part in form.getlist(field):
        if not isinstance(part, UploadFile):
            parts.append(None)
            continue
        data = await part.read(MAX_FILE_BYTES + 1)
        if not part.filename and not data:
            continue  # a file input left empty (browsers send an empty part without a name)
        parts.append((clean_filename(part.filename or ""), data))
    if len(parts) > MAX_FILES:
        return [], [_error(field, f"附件最多 {MAX_FILES} 个（本次选择了 {len(parts)} 个）")]
    uploads: list[Upload] = []
    total = 0
    for i, got in enumerate(parts):
        where = f"{field}[{i}]"
        if got is None:
            errors.append(_error(where, "附件须以文件形式上传"))
            continue
        name, data = got
        total += len(data)
        ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
        ctype = sniff(data)
        if not data:
            errors.append(_error(where, f"附件「{name}」是空文件，请重新选择"))
        elif len(data) > MAX_FILE_BYTES:
            errors.append(_error(where, f"附件「{name}」过大：每个附件不得超过 10 MiB"))
        elif ctype is None or (ext and ext not in _EXTENSIONS):
            errors.append(_error(where, f"附件「{name}」类型不支持：{TYPES_ZH}"))
        else:
            uploads.append(Upload(filename=name, content_type=ctype, data=data))
    if total > MAX_TOTAL_BYTES:
        errors.append(_error(field, "附件合计过大：全部附件合计不得超过 20 MiB"))
    return uploads, errors


def fingerprint_part(uploads: list[Upload]) -> str:
    """What a replay must repeat of the files (empty for none: a JSON application's fingerprint)."""
    return "".join(f"\x00{u.filename}\x00{u.sha256}" for u in uploads)


class AttachmentStore:
    def __init__(self, db: AsyncDatabase) -> None:
        self.files = db["attachments"]
        self.chunks = db["attachment_chunks"]

    async def setup(self) -> None:
        await self.files.create_index("case_id")
        await self.chunks.create_index([("attachment_id", 1), ("n", 1)])

    async def put(self, case_id: str, purpose: str, uploads: list[Upload]) -> list[dict[str, Any]]:
        """Store the files (chunks first, then each file's record) and return their metadata as
        the application keeps it. Idempotent: the same files again are the same documents."""
        out = []
        for i, u in enumerate(uploads):
            digest = u.sha256
            attachment_id = hashlib.sha256(f"{case_id}\x00{purpose}\x00{i}\x00{digest}".encode()).hexdigest()[:32]
            count = await chunked.write(self.chunks, "attachment_id", attachment_id, u.data)
            meta = {"attachment_id": attachment_id, "filename": u.filename, "content_type": u.content_type,
                    "size": len(u.data), "sha256": digest}
            await self.files.update_one(
                {"_id": attachment_id},
                {"$set": {**meta, "case_id": case_id, "purpose": purpose, "chunks": count},
                 "$setOnInsert": {"stored_at": datetime.now(UTC)}}, upsert=True)
            out.append(meta)
        return out

    async def get(self, case_id: str, attachment_id: str) -> tuple[dict[str, Any], bytes] | None:
        meta = await self.files.find_one({"_id": attachment_id, "case_id": case_id})
        if meta is None:
            return None
        data = await chunked.read(self.chunks, "attachment_id", attachment_id, meta)
        return meta, data if data is not None else b""  # incomplete: the caller answers 503


def public_meta(meta: dict[str, Any]) -> dict[str, Any]:
    return {k: meta[k] for k in ("attachment_id", "filename", "content_type", "size", "sha256")}
