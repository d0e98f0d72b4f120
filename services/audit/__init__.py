"""The audit service: the ledger of every event, its RFC 9162 proofs, checkpoints, the case file and
the statistics.

What tools outside the service (deploy/, benchmarks/) may use: the names below, imported from
this package (``from services.audit import ...``), never from its modules, which are the
service's own to change (tests/test_architecture.py holds the line). Loaded on first use
(servicekit/exports.py)."""

from servicekit.exports import exports

__getattr__, __all__ = exports(__name__, {
    "MerkleTree": "merkle",
    "leaf_hash": "merkle",
    "verify_inclusion": "merkle",
    "verify_consistency": "merkle",
})
