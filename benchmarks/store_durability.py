"""What durability costs the local store, and what it saves: each STORE_DURABILITY mode, measured in
one run on private stores (deploy/local/store_instance.py), the same workload for each.

    cd /work/main && PYTHONPATH=. .local/venv/bin/python benchmarks/store_durability.py [--n 1000] [--json out.json]

For each mode (interval: the old commit once a second; commit: the default, each write committed to
the file before its reply; fsync: also forced to the disk):
  1. N single-document inserts, acknowledged one by one, from 10 concurrent writers (the services'
     pattern: many small writes), and N find_one_and_update {$inc} on one counter document;
     throughput and per-write latency (p50 / p99);
  2. SIGKILL of the store right after the last acknowledgement, restart on the same file, and a
     count of what is left: the acknowledged writes lost.
The bare baseline is the same workload's reads (find_one by _id), which no mode changes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

from pymongo import AsyncMongoClient

from deploy.local.readiness import sigkill
from deploy.local.store_instance import StoreInstance

MODES = ("interval", "commit", "fsync")
WRITERS = 10


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round((len(s) - 1) * p / 100)))]


async def workload(url: str, n: int) -> dict[str, float]:
    client: AsyncMongoClient = AsyncMongoClient(url)
    coll, counters = client.bench.c, client.bench.counters
    per = n // WRITERS
    lat: list[float] = []
    inc_lat: list[float] = []
    read_lat: list[float] = []

    async def writer(w: int) -> None:
        for i in range(per):
            t = time.perf_counter()
            await coll.insert_one({"_id": w * per + i, "body": "x" * 200})
            lat.append(time.perf_counter() - t)

    async def incrementer(w: int) -> None:
        for _ in range(per):
            t = time.perf_counter()
            await counters.find_one_and_update({"_id": "n"}, {"$inc": {"n": 1}}, upsert=True)
            inc_lat.append(time.perf_counter() - t)

    async def reader(w: int) -> None:
        for i in range(per):
            t = time.perf_counter()
            await coll.find_one({"_id": w * per + i})
            read_lat.append(time.perf_counter() - t)

    try:
        t0 = time.perf_counter()
        await asyncio.gather(*(writer(w) for w in range(WRITERS)))
        insert_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        await asyncio.gather(*(incrementer(w) for w in range(WRITERS)))
        inc_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        await asyncio.gather(*(reader(w) for w in range(WRITERS)))
        read_s = time.perf_counter() - t0
    finally:
        await client.close()
    total = per * WRITERS
    return {
        "inserts_per_s": total / insert_s, "insert_p50_ms": pct(lat, 50) * 1e3, "insert_p99_ms": pct(lat, 99) * 1e3,
        "incs_per_s": total / inc_s, "inc_p50_ms": pct(inc_lat, 50) * 1e3, "inc_p99_ms": pct(inc_lat, 99) * 1e3,
        "reads_per_s": total / read_s, "read_p50_ms": statistics.median(read_lat) * 1e3,
        "acknowledged": total,
    }


async def survivors(url: str) -> tuple[int, int]:
    client: AsyncMongoClient = AsyncMongoClient(url)
    try:
        docs = await client.bench.c.count_documents({})
        counter = await client.bench.counters.find_one({"_id": "n"})
        return docs, int(counter["n"]) if counter else 0
    finally:
        await client.close()


def run_mode(mode: str, n: int, root: Path) -> dict[str, float | str]:
    inst = StoreInstance(run_dir=root / mode, durability=mode)
    inst.run_dir.mkdir(parents=True)
    inst.start()
    try:
        figures: dict[str, float | str] = {"mode": mode, **asyncio.run(workload(inst.url, n))}
        sigkill(inst.pid())  # right after the last acknowledgement
        inst.start()
        docs, counter = asyncio.run(survivors(inst.url))
        figures["inserts_left_after_kill"] = docs
        figures["incs_left_after_kill"] = counter
        figures["acknowledged_lost"] = (figures["acknowledged"] - docs) + (figures["acknowledged"] - counter)
    finally:
        inst.stop()
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gongkai-store-bench-") as tmp:
        rows = [run_mode(mode, args.n, Path(tmp)) for mode in MODES]
    print(f"\nstore durability, {args.n} inserts + {args.n} $inc by {WRITERS} concurrent writers, SIGKILL after the last ack")
    head = f"{'mode':<9} {'insert/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'$inc/s':>8} {'p50 ms':>7} {'read/s':>8} {'lost of ' + str(2 * rows[0]['acknowledged']):>12}"
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['mode']:<9} {r['inserts_per_s']:>9.0f} {r['insert_p50_ms']:>7.2f} {r['insert_p99_ms']:>7.2f} "
              f"{r['incs_per_s']:>8.0f} {r['inc_p50_ms']:>7.2f} {r['reads_per_s']:>8.0f} {r['acknowledged_lost']:>12}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
