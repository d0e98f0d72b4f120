"""A case's events in causal order. Pure domain logic.

Events from several topics reach the audit service in no guaranteed order across topics, so the
timeline is not the ledger order: an event comes after the event that caused it (CloudEvents
extension ``causationid``); among events free to come next, the earliest ``time`` goes first.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from typing import Any


def causal_order(events: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    by_id = {e["id"]: e for e in events}
    children: dict[str, list[str]] = {}
    waiting: dict[str, int] = {}
    for e in events:
        cause = e.get("causationid")
        if cause and cause in by_id and cause != e["id"]:
            children.setdefault(cause, []).append(e["id"])
            waiting[e["id"]] = 1
        else:
            waiting[e["id"]] = 0
    ready = [(by_id[i]["time"], i) for i, n in waiting.items() if n == 0]
    heapq.heapify(ready)
    out = []
    while ready:
        _, eid = heapq.heappop(ready)
        out.append(by_id[eid])
        for child in children.get(eid, ()):
            waiting[child] -= 1
            if waiting[child] == 0:
                heapq.heappush(ready, (by_id[child]["time"], child))
    if len(out) < len(events):
        # Events caught in a causation cycle (no honest producer makes one) are never hidden:
        # they follow, in time order.
        placed = {e["id"] for e in out}
        out.extend(sorted((e for e in events if e["id"] not in placed), key=lambda e: (e["time"], e["id"])))
    return out
