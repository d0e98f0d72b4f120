"""The ledger export format (JSON). Pure logic.

``gongkai-ledger-export/1``::

    {
      "format": "gongkai-ledger-export/1",
      "origin": "<log origin>",
      "checkpoint": "<signed note of the checkpoint the entries are proved against>",
      "checkpoints": ["<every earlier signed note, by size>", ...],
      "entries": [
        {"index": 0, "event_id": "...", "topic": "...", "leaf_hash": "<hex H(0x00||value)>",
         "value": "<the event exactly as it was on the bus, a JSON text>"},
        ...
      ]
    }

``entries`` are the first ``tree size`` leaves of the checkpoint, in order. The leaf is the UTF-8
bytes of ``value``; anyone can recompute the tree with RFC 9162 §2.1 and compare its root with the
signed one (``python -m services.audit.verify export.json --public-key key.pem``). ``leaf_hash`` is
the hash the ledger stored: it lets the verifier name an altered leaf; it is not trusted.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from typing import Any

FORMAT = "gongkai-ledger-export/1"


def entry(doc: dict[str, Any]) -> dict[str, Any]:
    """An export entry from a stored ledger entry."""
    return {"index": int(doc["_id"]) - 1, "event_id": doc["event_id"], "topic": doc.get("topic"),
            "leaf_hash": doc.get("leaf_hash"), "value": doc["value"]}


def build(origin: str, checkpoint_note: str, earlier_notes: Iterable[str], entries: Iterable[dict[str, Any]]) -> dict[str, Any]:
    return {"format": FORMAT, "origin": origin, "checkpoint": checkpoint_note,
            "checkpoints": list(earlier_notes), "entries": list(entries)}


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


async def stream(origin: str, checkpoint_note: str, earlier_notes: Iterable[str],
                 entries: AsyncIterable[dict[str, Any]], chunk: int = 256) -> AsyncIterator[bytes]:
    """The same document as ``build``, as UTF-8 JSON text in pieces: the head, then the entries a
    few hundred at a time, so that an export of any size is never held in memory whole."""
    head = {"format": FORMAT, "origin": origin, "checkpoint": checkpoint_note, "checkpoints": list(earlier_notes)}
    yield (_dump(head)[:-1] + ',"entries":[').encode("utf-8")
    first, buf = True, []
    async for e in entries:
        buf.append(("" if first else ",") + _dump(e))
        first = False
        if len(buf) >= chunk:
            yield "".join(buf).encode("utf-8")
            buf = []
    yield ("".join(buf) + "]}").encode("utf-8")
