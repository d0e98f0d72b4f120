"""The hash chain of the ledger. Pure domain logic.

Entry n's hash is SHA-256 over the previous entry's hash and the exact bytes of the event as it
was on the bus; the first entry chains from 32 zero bytes. Altering, removing or reordering any
stored entry breaks every hash after it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

GENESIS = "00" * 32


def entry_hash(prev_hash: str, value: bytes) -> str:
    return hashlib.sha256(bytes.fromhex(prev_hash) + value).hexdigest()


@dataclass(frozen=True)
class Verdict:
    ok: bool
    checked: int
    first_bad_seq: int | None = None
    reason: str | None = None


def verify(entries: Iterable[tuple[int, str, str, bytes]]) -> Verdict:
    """Check (seq, prev_hash, hash, value) entries in seq order, from seq 1."""
    prev, expected_seq, n = GENESIS, 1, 0
    for seq, prev_hash, hash_, value in entries:
        if seq != expected_seq:
            return Verdict(False, n, expected_seq, f"entry {expected_seq} is missing")
        if prev_hash != prev:
            return Verdict(False, n, seq, "previous hash does not match")
        if entry_hash(prev, value) != hash_:
            return Verdict(False, n, seq, "hash does not match the event")
        prev, expected_seq, n = hash_, expected_seq + 1, n + 1
    return Verdict(True, n)
