"""Files kept in the store as chunked documents (the MongoDB-protocol store here has no GridFS; a
document holds at most 16 MiB). One collection of chunks per kind of file, each chunk
``{_id: "<file id>:<n>", <owner field>: <file id>, n, data}``; the file's own record (name, size,
SHA-256, ...) is its service's. Reading checks the bytes against the recorded size and SHA-256, so
a file whose chunks are missing or altered is never served as if whole."""

from __future__ import annotations

import hashlib
from typing import Any

from bson import Binary
from pymongo.asynchronous.collection import AsyncCollection

CHUNK_BYTES = 4 * 1024 * 1024


async def write(chunks: AsyncCollection, owner: str, file_id: str, data: bytes) -> int:
    """Store ``data`` as chunks of ``file_id`` (idempotent: the same bytes again are the same
    documents); the number of chunks."""
    pieces = [data[k:k + CHUNK_BYTES] for k in range(0, len(data), CHUNK_BYTES)]
    for n, piece in enumerate(pieces):
        await chunks.update_one({"_id": f"{file_id}:{n:05d}"},
                                {"$set": {owner: file_id, "n": n, "data": Binary(piece)}}, upsert=True)
    return len(pieces)


async def read(chunks: AsyncCollection, owner: str, file_id: str, meta: dict[str, Any]) -> bytes | None:
    """The file's bytes, or None when they are not the recorded ``size`` and ``sha256``."""
    data = b"".join([bytes(c["data"]) async for c in chunks.find({owner: file_id}).sort("n", 1)])
    if len(data) != meta["size"] or hashlib.sha256(data).hexdigest() != meta["sha256"]:
        return None
    return data
