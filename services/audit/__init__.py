"""The audit service: the ledger of every event, its RFC 9162 proofs, checkpoints, the case file and
the statistics.

What tools outside the service (deploy/, benchmarks/) may use: the names below, imported from
this package (``from services.audit import ...``), never from its modules, which are the
service's own to change (tests/test_architecture.py holds the line). Loaded on first use, so
that importing one module of the service does not load the others."""

from __future__ import annotations

import importlib
from typing import Any

_PUBLIC = {
    "MerkleTree": ("services.audit.merkle", "MerkleTree"),
    "leaf_hash": ("services.audit.merkle", "leaf_hash"),
    "verify_inclusion": ("services.audit.merkle", "verify_inclusion"),
    "verify_consistency": ("services.audit.merkle", "verify_consistency"),
}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:  # noqa: ANN401 - PEP 562
    if name not in _PUBLIC:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, attr = _PUBLIC[name]
    return getattr(importlib.import_module(module), attr)
