"""Offline verification of a ledger export or a case file, with nothing but the file and the
public key (no service, no database).

    python -m services.audit.verify export.json --public-key audit-public.pem
    python -m services.audit.verify case-file.zip --public-key audit-public.pem

Exit status 0: the signature of the checkpoint is valid and every event is a leaf of the signed
tree. 1: something was altered (the first leaf that does not match is named by index and event
id). 2: the file or key cannot be read. The public key may be PEM, raw base64, or the signed-note
verifier key text.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from services.audit import casefile, checkpoints, export
from services.audit.keys import public_from_text
from services.audit.merkle import MerkleTree, leaf_hash, verify_inclusion


@dataclass
class Result:
    ok: bool
    message: str
    bad_index: int | None = None
    bad_event_id: str | None = None
    details: list[str] = field(default_factory=list)


def _bad(message: str, index: int | None = None, event_id: str | None = None) -> Result:
    return Result(False, message, index, event_id)


def verify_export(doc: dict[str, Any], key: Ed25519PublicKey) -> Result:
    if doc.get("format") != export.FORMAT:
        return _bad(f"不是台账导出文件（format 应为 {export.FORMAT}）")
    try:
        cp = checkpoints.verify(doc["checkpoint"], key, doc.get("origin"))
    except (checkpoints.CheckpointError, KeyError) as exc:
        return _bad(f"检查点签名无效：{exc}")
    entries = doc.get("entries", [])
    tree = MerkleTree()
    for position, e in enumerate(entries[:cp.tree_size]):
        index, event_id = e.get("index"), e.get("event_id")
        if index != position:
            return _bad(f"第 {position} 个叶子缺失或顺序错乱", position, event_id)
        value = str(e.get("value", "")).encode("utf-8")
        lh = leaf_hash(value)
        if e.get("leaf_hash") is not None and e["leaf_hash"] != lh.hex():
            return _bad(f"叶子 {index}（事件 {event_id}）的内容与其记录的哈希不符", index, event_id)
        try:
            if json.loads(value).get("id") != event_id:
                return _bad(f"叶子 {index} 的事件编号与内容不符", index, event_id)
        except (ValueError, AttributeError):
            return _bad(f"叶子 {index}（事件 {event_id}）不是有效的事件 JSON", index, event_id)
        tree.append_hash(lh)
    if len(tree) < cp.tree_size:
        return _bad(f"检查点覆盖 {cp.tree_size} 个叶子，文件只有 {len(tree)} 个", len(tree))
    if tree.root() == cp.root_hash:
        return Result(True, f"验证通过：{cp.tree_size} 个叶子与 {cp.time:%Y-%m-%d %H:%M:%S}Z 签名的检查点一致"
                            f"（根哈希 {base64.b64encode(cp.root_hash).decode()}）")
    # Values and recorded hashes were rewritten together: earlier signed checkpoints bound where.
    lo = 0
    for note in doc.get("checkpoints", []):
        try:
            earlier = checkpoints.verify(note, key, cp.origin)
        except checkpoints.CheckpointError:
            continue
        if earlier.tree_size > cp.tree_size:
            continue
        if tree.root(earlier.tree_size) == earlier.root_hash:
            lo = max(lo, earlier.tree_size)
    if lo >= cp.tree_size:  # two signed checkpoints of one size with different roots: a forked log
        return _bad(f"同一规模 {cp.tree_size} 有两个根哈希不同的签名检查点：台账被分叉")
    hi = min([c for c in _sizes(doc, key, cp.origin) if c > lo] + [cp.tree_size])
    first = entries[lo]
    return _bad(f"根哈希与签名检查点不符：第一个不符的叶子位于 [{lo}, {hi}) 之间，"
                f"最早可能为叶子 {lo}（事件 {first.get('event_id')}）", lo, first.get("event_id"))


def _sizes(doc: dict[str, Any], key: Ed25519PublicKey, origin: str) -> list[int]:
    sizes = []
    for note in doc.get("checkpoints", []):
        try:
            sizes.append(checkpoints.verify(note, key, origin).tree_size)
        except checkpoints.CheckpointError:
            pass
    return sizes


def verify_case_file(files: dict[str, bytes], key: Ed25519PublicKey) -> Result:
    try:
        manifest = json.loads(files[casefile.MANIFEST])
        note = files[casefile.CHECKPOINT].decode("utf-8")
    except (KeyError, ValueError) as exc:
        return _bad(f"案卷缺少清单或检查点：{exc}")
    if manifest.get("format") != casefile.FORMAT:
        return _bad(f"不是案卷文件（format 应为 {casefile.FORMAT}）")
    try:
        cp = checkpoints.verify(note, key, manifest.get("origin"))
    except checkpoints.CheckpointError as exc:
        return _bad(f"检查点签名无效：{exc}")
    case_id = manifest.get("case_id")
    values: dict[str, dict[str, Any]] = {}
    for e in manifest.get("events", []):
        index, event_id = e.get("index"), e.get("event_id")
        raw = files.get(e.get("file", ""))
        if raw is None:
            return _bad(f"案卷缺少事件文件 {e.get('file')}", index, event_id)
        proof = [base64.b64decode(p) for p in e.get("inclusion_proof", [])]
        if not isinstance(index, int) or not verify_inclusion(index, cp.tree_size, leaf_hash(raw), proof, cp.root_hash):
            return _bad(f"叶子 {index}（事件 {event_id}）与签名检查点不符：内容被改动或证明无效", index, event_id)
        try:
            event = json.loads(raw)
        except ValueError:
            return _bad(f"叶子 {index}（事件 {event_id}）不是有效的事件 JSON", index, event_id)
        if event.get("id") != event_id or event.get("subject") != case_id:
            return _bad(f"叶子 {index} 的事件编号或案件编号与清单不符", index, event_id)
        values[event_id] = event
    for d in manifest.get("documents", []):
        event = values.get(d.get("event_id"))
        text = files.get(d.get("file", ""), b"").decode("utf-8", errors="replace")
        if event is None or casefile.document_text(event, d.get("field", "")) != text:
            return _bad(f"文书 {d.get('file')} 与其所在事件 {d.get('event_id')} 的内容不符", None, d.get("event_id"))
    for d in manifest.get("issued_documents", []):
        # The PDF's bytes against the SHA-256 its document.issued event fixes in the ledger.
        event = values.get(d.get("event_id"))
        data = (event or {}).get("data") or {}
        raw = files.get(d.get("file", ""))
        if event is None or data.get("document_id") != d.get("document_id"):
            return _bad(f"文书 {d.get('file')} 不对应台账中的出具事件 {d.get('event_id')}", None, d.get("event_id"))
        if raw is None:
            return _bad(f"案卷缺少文书 {d.get('file')}（{data.get('title')}）", None, d.get("event_id"))
        if hashlib.sha256(raw).hexdigest() != data.get("sha256"):
            return _bad(f"文书 {d.get('file')}（{data.get('title')}）与台账所记哈希不符：文书被改动", None,
                        d.get("event_id"))
    n_docs = len(manifest.get("issued_documents", []))
    return Result(True, f"验证通过：案件 {case_id} 的 {len(values)} 个事件均包含在 {cp.tree_size} 个叶子的"
                        f"签名检查点中（{cp.time:%Y-%m-%d %H:%M:%S}Z）" + (f"；{n_docs} 份文书与台账所记哈希一致" if n_docs else ""))


def verify_path(path: Path, key: Ed25519PublicKey) -> Result:
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            files = {name: z.read(name) for name in z.namelist()}
        return verify_case_file(files, key)
    return verify_export(json.loads(path.read_text(encoding="utf-8")), key)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.audit.verify",
                                     description="Verify a Gongkai ledger export or case file offline.")
    parser.add_argument("file", type=Path, help="export .json or case file .zip")
    parser.add_argument("--public-key", type=Path, required=True, help="PEM, raw base64 or signed-note key")
    args = parser.parse_args(argv)
    try:
        key = public_from_text(args.public_key.read_text())
        result = verify_path(args.file, key)
    except (OSError, ValueError) as exc:
        print(f"无法读取：{exc}", file=sys.stderr)
        return 2
    print(result.message)
    if not result.ok and result.bad_index is not None:
        print(f"first mismatching leaf: index {result.bad_index}, event id {result.bad_event_id}")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
