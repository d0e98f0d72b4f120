"""What the reply service's material store relies on from the document store (no GridFS): a
document holding 4 MiB of BSON binary round-trips byte for byte, ``insert_many`` of several such
chunks, and reading them back in order by an indexed field."""

from __future__ import annotations

import os

from bson import Binary
from pymongo import AsyncMongoClient

from servicekit.chunks import CHUNK_BYTES


async def test_four_mib_binary_chunks_round_trip_in_order(store) -> None:  # noqa: ANN001
    client = AsyncMongoClient(store.url, tz_aware=True)
    db = client["material_contract"]
    try:
        await db.chunks.drop()
        await db.chunks.create_index([("material_id", 1), ("n", 1)])
        pieces = [os.urandom(CHUNK_BYTES), os.urandom(CHUNK_BYTES), os.urandom(1234)]
        await db.chunks.insert_many([{"_id": f"m:{n:05d}", "material_id": "m", "n": n, "data": Binary(p)}
                                     for n, p in reversed(list(enumerate(pieces)))])
        back = [bytes(d["data"]) async for d in db.chunks.find({"material_id": "m"}).sort("n", 1)]
        assert back == pieces
        assert CHUNK_BYTES == 4 * 1024 * 1024
    finally:
        await client.drop_database("material_contract")
        await client.close()
