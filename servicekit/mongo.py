"""The MongoDB-protocol store: one AsyncMongoClient per process, one database per service.

Every write is acknowledged only once it is durable, because people are told things on the strength
of it (an application's 201 and tracking number, an answer's 201): on a MongoDB replica set the
write concern is majority with the journal (a write acknowledged survives the primary's crash and
a failover); the local store commits each write to its file before it replies (its
STORE_DURABILITY, deploy/local/store/) and accepts this write concern as given.
"""

from __future__ import annotations

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase


def connect(url: str, db_name: str) -> tuple[AsyncMongoClient, AsyncDatabase]:
    client: AsyncMongoClient = AsyncMongoClient(
        url, tz_aware=True, serverSelectionTimeoutMS=5000, uuidRepresentation="standard",
        w="majority", journal=True, wTimeoutMS=10_000,
    )
    return client, client[db_name]


async def ping(db: AsyncDatabase) -> bool:
    try:
        await db.command("ping")
        return True
    except Exception:  # noqa: BLE001 - health check reports, never raises
        return False
