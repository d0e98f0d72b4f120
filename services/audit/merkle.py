"""The Merkle tree of the ledger, as in RFC 9162 §2.1. Pure logic, no I/O.

- Hashes are SHA-256; a leaf hashes as ``H(0x00 || leaf)``, an inner node as ``H(0x01 || left || right)``;
  the empty tree's root is ``H("")`` (§2.1.1).
- ``MerkleTree`` holds the leaf hashes and every complete ("perfect") subtree hash, filled in as
  leaves are appended, so the root of the first n leaves and the inclusion (§2.1.3) and
  consistency (§2.1.4) proofs cost O(log n) hashes each, never a pass over all leaves.
- ``verify_inclusion`` and ``verify_consistency`` follow the verification algorithms of §2.1.3.2
  and §2.1.4.2 and need nothing but hashes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


class ProofError(ValueError):
    """A proof was asked for sizes or indices the tree cannot prove."""


class MerkleTree:
    """An append-only tree over leaf hashes; ``levels[k][i]`` is the hash of the complete subtree of
    2**k leaves starting at leaf ``i * 2**k``."""

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        self.levels: list[list[bytes]] = [[]]
        for h in leaf_hashes:
            self.append_hash(h)

    def __len__(self) -> int:
        return len(self.levels[0])

    def append_hash(self, h: bytes) -> int:
        """Append a leaf given by its leaf hash; returns its index."""
        self.levels[0].append(h)
        index = len(self.levels[0]) - 1
        k, i = 0, index
        while i & 1:  # a right child completes its parent
            if len(self.levels) == k + 1:
                self.levels.append([])
            self.levels[k + 1].append(node_hash(self.levels[k][i - 1], self.levels[k][i]))
            k, i = k + 1, i >> 1
        return index

    def append(self, leaf: bytes) -> int:
        return self.append_hash(leaf_hash(leaf))

    def leaf(self, index: int) -> bytes:
        return self.levels[0][index]

    def subtree(self, lo: int, hi: int) -> bytes:
        """MTH(D[lo:hi]) of the leaves held."""
        n = hi - lo
        if n <= 0:
            return EMPTY_ROOT
        if n & (n - 1) == 0 and lo % n == 0:
            k = n.bit_length() - 1
            return self.levels[k][lo >> k]
        k = _split(n)
        return node_hash(self.subtree(lo, lo + k), self.subtree(lo + k, hi))

    def root(self, size: int | None = None) -> bytes:
        size = len(self) if size is None else size
        self._check_size(size)
        return self.subtree(0, size)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """PATH(index, D[0:size]) of §2.1.3.1."""
        size = len(self) if size is None else size
        self._check_size(size)
        if not 0 <= index < size:
            raise ProofError(f"leaf {index} is not in a tree of size {size}")
        return self._path(index, 0, size)

    def _path(self, m: int, lo: int, hi: int) -> list[bytes]:
        n = hi - lo
        if n == 1:
            return []
        k = _split(n)
        if m < k:
            return self._path(m, lo, lo + k) + [self.subtree(lo + k, hi)]
        return self._path(m - k, lo + k, hi) + [self.subtree(lo, lo + k)]

    def consistency_proof(self, first: int, second: int | None = None) -> list[bytes]:
        """PROOF(first, D[0:second]) of §2.1.4.1 (empty when first == second)."""
        second = len(self) if second is None else second
        self._check_size(second)
        if not 0 < first <= second:
            raise ProofError(f"no consistency proof from size {first} to size {second}")
        if first == second:
            return []
        return self._subproof(first, 0, second, True)

    def _subproof(self, m: int, lo: int, hi: int, whole: bool) -> list[bytes]:
        n = hi - lo
        if m == n:
            return [] if whole else [self.subtree(lo, hi)]
        k = _split(n)
        if m <= k:
            return self._subproof(m, lo, lo + k, whole) + [self.subtree(lo + k, hi)]
        return self._subproof(m - k, lo + k, hi, False) + [self.subtree(lo, lo + k)]

    def _check_size(self, size: int) -> None:
        if not 0 <= size <= len(self):
            raise ProofError(f"tree size {size} is beyond the {len(self)} leaves held")


def root_of(leaves: Iterable[bytes]) -> bytes:
    """The root of a sequence of leaves (raw data, not hashes)."""
    return MerkleTree(leaf_hash(x) for x in leaves).root()


def verify_inclusion(index: int, size: int, leaf_h: bytes, proof: Sequence[bytes], root: bytes) -> bool:
    """§2.1.3.2: does ``proof`` show leaf hash ``leaf_h`` at ``index`` in the tree of ``size`` with ``root``?"""
    if not 0 <= index < size or len(leaf_h) != HASH_SIZE or any(len(p) != HASH_SIZE for p in proof):
        return False
    fn, sn, r = index, size - 1, leaf_h
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes,
                       proof: Sequence[bytes]) -> bool:
    """§2.1.4.2: does ``proof`` show the tree of size ``second`` extends the tree of size ``first``?

    A consistency proof from the empty tree proves nothing and is refused; equal sizes need an
    empty proof and equal roots."""
    if first <= 0 or second < first:
        return False
    if first == second:
        return len(proof) == 0 and first_root == second_root
    if not proof or any(len(p) != HASH_SIZE for p in proof):
        return False
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == first_root and sr == second_root
