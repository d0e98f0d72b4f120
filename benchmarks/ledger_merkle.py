"""Benchmark of the ledger's Merkle tree (services/audit/merkle.py): building the tree, the root
of the first n leaves, inclusion and consistency proofs and their verification, for 10,000 and
100,000 leaves of event-sized data (in memory; the store is not involved).

    PYTHONPATH=. .local/venv/bin/python benchmarks/ledger_merkle.py [sizes...]
"""

from __future__ import annotations

import random
import sys
import time

from services.audit import MerkleTree, leaf_hash, verify_consistency, verify_inclusion


def bench(n: int, samples: int = 1000) -> dict[str, float]:
    rnd = random.Random(n)
    leaves = [b'{"specversion":"1.0","id":"%d",' % i + rnd.randbytes(600) for i in range(n)]
    t = time.perf_counter()
    hashes = [leaf_hash(x) for x in leaves]
    t_leaf = time.perf_counter() - t
    t = time.perf_counter()
    tree = MerkleTree(hashes)
    t_build = time.perf_counter() - t
    t = time.perf_counter()
    root = tree.root()
    t_root = time.perf_counter() - t
    sizes = [rnd.randrange(1, n + 1) for _ in range(samples)]
    t = time.perf_counter()
    for s in sizes:
        tree.root(s)
    t_roots = (time.perf_counter() - t) / samples
    idx = [rnd.randrange(n) for _ in range(samples)]
    t = time.perf_counter()
    proofs = [tree.inclusion_proof(i) for i in idx]
    t_incl = (time.perf_counter() - t) / samples
    t = time.perf_counter()
    assert all(verify_inclusion(i, n, tree.leaf(i), p, root) for i, p in zip(idx, proofs, strict=True))
    t_incl_v = (time.perf_counter() - t) / samples
    firsts = [rnd.randrange(1, n) for _ in range(samples)]
    t = time.perf_counter()
    cproofs = [tree.consistency_proof(m, n) for m in firsts]
    t_cons = (time.perf_counter() - t) / samples
    t = time.perf_counter()
    assert all(verify_consistency(m, n, tree.root(m), root, p) for m, p in zip(firsts, cproofs, strict=True))
    t_cons_v = (time.perf_counter() - t) / samples
    return {"leaf hashes (all) s": t_leaf, "build tree s": t_build, "root (full) ms": t_root * 1e3,
            "root of random prefix ms": t_roots * 1e3, "inclusion proof ms": t_incl * 1e3,
            "inclusion verify ms": t_incl_v * 1e3, "consistency proof ms": t_cons * 1e3,
            "consistency verify+root ms": t_cons_v * 1e3, "proof length": float(len(proofs[0]))}


def main(argv: list[str]) -> None:
    for n in [int(a) for a in argv] or [10_000, 100_000]:
        print(f"--- {n} leaves")
        for k, v in bench(n).items():
            print(f"  {k:28} {v:.4f}")


if __name__ == "__main__":
    main(sys.argv[1:])
