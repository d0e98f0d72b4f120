"""The MongoDB-protocol store: one AsyncMongoClient per process, one database per service."""

from __future__ import annotations

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase


def connect(url: str, db_name: str) -> tuple[AsyncMongoClient, AsyncDatabase]:
    client: AsyncMongoClient = AsyncMongoClient(
        url, tz_aware=True, serverSelectionTimeoutMS=5000, uuidRepresentation="standard"
    )
    return client, client[db_name]


async def ping(db: AsyncDatabase) -> bool:
    try:
        await db.command("ping")
        return True
    except Exception:  # noqa: BLE001 - health check reports, never raises
        return False
