"""RFC 9162 §2.1 Merkle hashing and proofs: the transparency-dev/merkle vectors, the well-known
RFC 6962 test tree, and proofs of every size checked against the recursive definitions."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest

from services.audit.merkle import (
    EMPTY_ROOT,
    MerkleTree,
    ProofError,
    leaf_hash,
    root_of,
    verify_consistency,
    verify_inclusion,
)

VECTORS = Path("/work/shared/testdata/merkle")
if not VECTORS.exists():  # the same files relative to the repository's sibling "shared"
    VECTORS = Path(__file__).resolve().parents[3] / "shared" / "testdata" / "merkle"


def _b(s: str | None) -> bytes:
    return base64.b64decode(s or "")


def _load(kind: str) -> list[tuple[str, dict]]:
    files = sorted((VECTORS / kind).rglob("*.json"))
    return [(str(f.relative_to(VECTORS)), json.loads(f.read_text())) for f in files]


INCLUSION = _load("inclusion")
CONSISTENCY = _load("consistency")

# The test leaves of RFC 6962 / transparency-dev (the vectors' trees are built from them).
LEAVES = [bytes.fromhex(h) for h in (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f")]


def test_vector_files_are_all_there():
    assert len(INCLUSION) + len(CONSISTENCY) == 196
    assert sum(not v["wantErr"] for _, v in INCLUSION) == 6
    assert sum(not v["wantErr"] for _, v in CONSISTENCY) == 6


@pytest.mark.parametrize(("name", "v"), INCLUSION, ids=[n for n, _ in INCLUSION])
def test_inclusion_vector(name: str, v: dict):
    ok = verify_inclusion(v["leafIdx"], v["treeSize"], _b(v["leafHash"]), [_b(p) for p in v["proof"] or []],
                          _b(v["root"]))
    assert ok is (not v["wantErr"]), name


@pytest.mark.parametrize(("name", "v"), CONSISTENCY, ids=[n for n, _ in CONSISTENCY])
def test_consistency_vector(name: str, v: dict):
    ok = verify_consistency(v["size1"], v["size2"], _b(v["root1"]), _b(v["root2"]),
                            [_b(p) for p in v["proof"] or []])
    assert ok is (not v["wantErr"]), name


def test_generated_proofs_equal_the_happy_path_vectors():
    tree = MerkleTree(leaf_hash(x) for x in LEAVES)
    assert base64.b64encode(tree.root()).decode() == "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg="
    for name, v in INCLUSION:
        if v["wantErr"] or not name.split("/")[1].isdigit():  # single-entry: a tree of its own
            continue
        assert tree.leaf(v["leafIdx"]) == _b(v["leafHash"]), name
        assert tree.root(v["treeSize"]) == _b(v["root"]), name
        assert tree.inclusion_proof(v["leafIdx"], v["treeSize"]) == [_b(p) for p in v["proof"] or []], name
    for name, v in CONSISTENCY:
        if v["wantErr"] or name.startswith("consistency/additional"):
            continue
        assert tree.root(v["size1"]) == _b(v["root1"]) and tree.root(v["size2"]) == _b(v["root2"]), name
        assert tree.consistency_proof(v["size1"], v["size2"]) == [_b(p) for p in v["proof"] or []], name


# --- the recursive definitions of RFC 9162 §2.1, written plainly (quadratic, for checking) ----
def _h(b: bytes) -> bytes:
    return hashlib.sha256(b).digest()


def mth(d: list[bytes]) -> bytes:
    if not d:
        return _h(b"")
    if len(d) == 1:
        return _h(b"\x00" + d[0])
    k = 1
    while k * 2 < len(d):
        k *= 2
    return _h(b"\x01" + mth(d[:k]) + mth(d[k:]))


def path(m: int, d: list[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = 1
    while k * 2 < len(d):
        k *= 2
    return path(m, d[:k]) + [mth(d[k:])] if m < k else path(m - k, d[k:]) + [mth(d[:k])]


def subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    if m == len(d):
        return [] if b else [mth(d)]
    k = 1
    while k * 2 < len(d):
        k *= 2
    if m <= k:
        return subproof(m, d[:k], b) + [mth(d[k:])]
    return subproof(m - k, d[k:], False) + [mth(d[:k])]


def test_every_root_and_proof_up_to_40_leaves_matches_the_definition():
    data = [f"leaf-{i}".encode() for i in range(40)]
    tree = MerkleTree()
    assert tree.root() == EMPTY_ROOT == _h(b"")
    for x in data:
        tree.append(x)
    for n in range(0, 41):
        assert tree.root(n) == mth(data[:n])
        for m in range(n):
            p = tree.inclusion_proof(m, n)
            assert p == path(m, data[:n])
            assert verify_inclusion(m, n, leaf_hash(data[m]), p, tree.root(n))
            assert not verify_inclusion(m, n, leaf_hash(b"other"), p, tree.root(n))
        for m in range(1, n):
            p = tree.consistency_proof(m, n)
            assert p == subproof(m, data[:n], True)
            assert verify_consistency(m, n, tree.root(m), tree.root(n), p)
            assert not verify_consistency(m, n, mth(data[1:m + 1]), tree.root(n), p)


def test_root_of_raw_leaves_and_out_of_range_requests():
    assert root_of(LEAVES[:3]) == mth(LEAVES[:3])
    tree = MerkleTree(leaf_hash(x) for x in LEAVES)
    with pytest.raises(ProofError):
        tree.root(9)
    with pytest.raises(ProofError):
        tree.inclusion_proof(8, 8)
    with pytest.raises(ProofError):
        tree.consistency_proof(0, 8)
    with pytest.raises(ProofError):
        tree.consistency_proof(5, 4)
    assert tree.consistency_proof(8, 8) == []
