"""Operator command for the ledger, and the one write path of the audit service that removes
documents (the heal's "move aside").

    python -m services.audit.repair --check     # what the store holds; changes nothing
    python -m services.audit.repair --repair    # the same heal the service does at start-up

The durable ledger is the contiguous prefix 1..k of stored entries whose hash chain and signed
roots check (services.audit.ledger.scan_store). Beyond it may lie:

- orphans: entries stored after a missing one (the store lost entry k+1 but kept later ones).
  They chain from an entry that no longer exists, so they can never be part of the tree; and they
  hold the seqs at which the lost and the orphaned events are to be appended again, and their event
  ids, which would make the re-read events look like duplicates.
- checkpoints signed over more than k leaves: they commit to entries that are gone. The events
  will be appended again as they are re-read from Kafka, in an order that need not be the old one,
  so a checkpoint of the same size may get another root. A log that loses entries forks; this
  records the fork instead of hiding it.

``move_aside`` copies each of them into a quarantine collection (``ledger_quarantine``,
``checkpoints_superseded``, with the heal's id and the reason) and only then removes the original
(so a crash in between leaves a copy, and running it again finishes the job). That removal is the
reason this module exists: ``services/audit/ledger.py`` holds no update or delete path, and the
source test (tests/audit/test_checkpoints_keys.py) allows removals in this module only. In
production the service's role may not remove documents (deploy/production/audit-store-role.md):
the service then reports the problem on /health and the operator runs ``--repair`` with a role that
may ("remove" on ``ledger``, ``checkpoints``, ``checkpoint_publications``; "insert" on the
quarantine collections).

Exit status: 0 the ledger is whole (``--check``) or was healed (``--repair``); 1 (``--check``)
it needs a heal that ``--repair`` can do; 2 it cannot be healed here (an altered entry inside the
prefix: restore it from a backup or an export) or the store cannot be read.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import sys
from datetime import UTC, datetime
from typing import Any

from pymongo import AsyncMongoClient, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, PyMongoError

from services.audit.checkpoint_log import PUBLICATIONS
from services.audit.ledger import CHECKPOINTS, HEALS, LEDGER, Ledger, LedgerScan, LedgerUnusable, scan_store

QUARANTINE = "ledger_quarantine"
SUPERSEDED = "checkpoints_superseded"


async def _aside(db: AsyncDatabase, source: str, target: str, query: dict[str, Any], extra: dict[str, Any]) -> int:
    """Copy the documents matching ``query`` from ``source`` into ``target``, then remove them."""
    n = 0
    async for doc in db[source].find(query):
        copy = {**doc, "_id": f"{doc['_id']}:{doc.get('hash') or doc.get('root_hash') or doc.get('event_id', '')}",
                "original_id": doc["_id"], "collection": source, **extra}
        try:
            await db[target].insert_one(copy)
        except DuplicateKeyError:
            pass  # copied by an earlier, interrupted run
        result = await db[source].delete_one({"_id": doc["_id"]})
        n += result.deleted_count
    return n


async def move_aside(db: AsyncDatabase, scan: LedgerScan, heal_id: str) -> dict[str, Any]:
    """Move the orphan entries and the checkpoints (and their publication records) beyond the
    durable prefix aside. Only what lies beyond ``scan.size`` is touched."""
    k = scan.size
    extra = {"heal_id": heal_id, "moved_at": datetime.now(UTC), "durable_size": k}
    orphans = await _aside(db, LEDGER, QUARANTINE, {"_id": {"$gt": k}},
                           {**extra, "reason": f"stored after the missing ledger entry {scan.gap}"})
    checkpoints = await _aside(db, CHECKPOINTS, SUPERSEDED, {"_id": {"$gt": k}},
                               {**extra, "reason": f"signed over more than the {k} durable ledger entries"})
    publications = await _aside(db, PUBLICATIONS, SUPERSEDED, {"_id": {"$gt": k}},
                                {**extra, "reason": f"publication of a checkpoint over more than {k} entries"})
    return {"orphans": orphans, "checkpoints": checkpoints, "publications": publications}


async def report(db: AsyncDatabase) -> dict[str, Any]:
    """What ``--check`` shows: the durable prefix, gap, orphans, checkpoints beyond, the positions
    the consumer resumes from, and the verification of the prefix against its signed roots."""
    scan = await scan_store(db)
    roots = []
    async for cp in db[CHECKPOINTS].find({"_id": {"$lte": scan.size}}, {"_id": 1, "root_hash": 1}).sort("_id", 1):
        roots.append((int(cp["_id"]), base64.b64decode(cp["root_hash"])))
    verdict = await Ledger(db).verify(roots, limit=scan.size)
    stored = await db[LEDGER].count_documents({})
    heals = [{k: v for k, v in h.items() if k in ("_id", "why", "durable_size", "memory_head", "gap", "orphans", "moved")}
             async for h in db[HEALS].find({}).sort("_id", DESCENDING).limit(5)]
    return {"stored_entries": stored, **scan.summary(), "checkpoints_checked": scan.checkpoints_checked,
            "verdict": {"ok": verdict.ok, "checked": verdict.checked, "first_bad_seq": verdict.first_bad_seq,
                        "reason": verdict.reason},
            "healable": scan.problem is None and verdict.ok, "needs_heal": scan.needs_repair,
            "recent_heals": heals}


def _print(doc: dict[str, Any]) -> None:
    print(f"stored entries:        {doc['stored_entries']}")
    print(f"durable prefix:        1..{doc['durable_size']}  (head hash {doc['head_hash'][:16]}…)")
    if doc["gap"] is not None:
        lo, hi = doc["orphan_range"]
        print(f"first gap:             entry {doc['gap']} is missing")
        print(f"orphan entries:        {doc['orphans']} (seq {lo}..{hi}), re-read from Kafka after a repair")
    else:
        print("gaps:                  none")
    print(f"checkpoints beyond:    {doc['checkpoints_beyond'] or 'none'}")
    v = doc["verdict"]
    verdict = "ok" if v["ok"] else f"FAILED at entry {v['first_bad_seq']}: {v['reason']}"
    print(f"verification:          {verdict} ({v['checked']} entries, {doc['checkpoints_checked']} signed roots)")
    if doc["problem"]:
        print(f"problem (no heal):     {doc['problem']}")
    print("re-consume from (topic:partition -> next offset):")
    for tp, offset in doc["resume_positions"].items():
        print(f"  {tp} -> {offset}")
    if not doc["resume_positions"]:
        print("  (none recorded: every partition from its beginning)")
    for h in doc["recent_heals"]:
        print(f"heal {h['_id']}: {h.get('why')} (durable {h.get('durable_size')}, moved {h.get('moved')})")


async def run(mongo_url: str, db_name: str, repair: bool, as_json: bool) -> int:
    client: AsyncMongoClient = AsyncMongoClient(mongo_url, tz_aware=True, serverSelectionTimeoutMS=10000)
    try:
        db = client[db_name]
        before = await report(db)
        result: dict[str, Any] = {"before": before}
        code = 0 if not before["needs_heal"] and before["healable"] else (1 if before["healable"] else 2)
        if repair and before["healable"]:
            ledger = Ledger(db)
            async with ledger.lock:
                try:
                    await ledger._restore("operator repair")
                except LedgerUnusable as exc:
                    result["error"] = str(exc)
                    code = 2
                else:
                    code = 0
            result["after"] = await report(db)
        if as_json:
            print(json.dumps(result, ensure_ascii=False, indent=2, default=str))
        else:
            _print(before)
            if "after" in result:
                print("--- after repair ---")
                _print(result["after"])
            if "error" in result:
                print(f"repair failed: {result['error']}")
        return code
    except PyMongoError as exc:
        print(f"store unreachable or refused: {exc}", file=sys.stderr)
        return 2
    finally:
        await client.close()


def main(argv: list[str] | None = None) -> int:
    from servicekit.settings import CommonSettings
    from services.audit.settings import AuditSettings

    parser = argparse.ArgumentParser(prog="python -m services.audit.repair",
                                     description="Check or heal the audit ledger in the store.")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true", help="show the durable prefix, gaps, orphans, resume offsets")
    mode.add_argument("--repair", action="store_true", help="heal: move orphans and checkpoints beyond aside")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--mongo-url", default=None, help="default: GONGKAI_MONGO_URL")
    parser.add_argument("--db", default=None, help="default: AUDIT_DB_NAME (gongkai_audit)")
    args = parser.parse_args(argv)
    url = args.mongo_url or CommonSettings().mongo_url
    db_name = args.db or AuditSettings().db_name
    return asyncio.run(run(url, db_name, args.repair, args.json))


if __name__ == "__main__":
    sys.exit(main())
