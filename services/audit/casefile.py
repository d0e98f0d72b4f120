"""The case file (一案一档): one zip archive of a case that can be verified alone. Pure logic.

Contents::

    README.md              what is in it and how to verify it (Chinese, with the commands)
    manifest.json          format, case id, tracking number, origin, and per event: ledger index,
                           event id, type, file, leaf hash, inclusion proof (base64 hashes);
                           and the documents with the event and field they come from
    checkpoint.txt         the signed checkpoint the proofs prove against (C2SP tlog-checkpoint)
    public-key.pem         the ledger's Ed25519 public key (also public-key.txt: raw base64 and
                           signed-note verifier key) - check it against the published one
    events/NNN-<type>.json every event of the case, in timeline order, byte for byte as on the bus
    documents/*.txt        the texts the events carry (application description, answers, reply)
    documents/*.pdf        every document issued to the case (受理回执, 告知书, 征求意见函, 收费通知,
                           答复书, 补充答复书): the bytes the reply service stores, each named by its
                           ``document.issued`` event, whose SHA-256 (in the ledger) they must match;
                           listed in the manifest's ``issued_documents``
"""

from __future__ import annotations

import base64
import io
import json
import zipfile
from collections.abc import Mapping, Sequence
from typing import Any

FORMAT = "gongkai-case-file/1"
MANIFEST = "manifest.json"
CHECKPOINT = "checkpoint.txt"

# (event type without prefix/version, field path, file stem, Chinese title)
DOCUMENT_FIELDS: tuple[tuple[str, str, str, str], ...] = (
    ("application.received", "data.description", "application-description", "申请内容描述"),
    ("answer.recorded", "data.answer.text", "answer-{dept}", "承办部门答复意见"),
    ("reply.issued", "data.document_text", "reply", "政府信息公开申请答复书"),
    ("reply.amended", "data.document_text", "reply-amendment", "补充答复书"),
)


def short_type(ce_type: str) -> str:
    name = ce_type.removeprefix("cn.gongkai.")
    head, _, version = name.rpartition(".v")
    return head if version.isdigit() else name


def document_text(event: dict[str, Any], field: str) -> str | None:
    node: Any = event
    for part in field.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node if isinstance(node, str) else None


def _readme(case_id: str, tracking_number: str | None, n_events: int, tree_size: int) -> str:
    return f"""# 政府信息公开申请案卷（一案一档）

- 案件编号：{case_id}
- 受理编号：{tracking_number or "—"}
- 事件数：{n_events}；所依据的签名检查点覆盖审计台账前 {tree_size} 条记录

## 内容
- `events/`：本案全部事件，按办理顺序排列，与消息总线上的原始字节完全一致。
- `documents/`：事件中携带的文书文本（申请内容、部门答复意见、答复书），以及本案出具的全部文书
  PDF（受理回执、补正告知书、延期答复告知书、征求意见函、收费通知、答复书、补充答复书等）；
  每份 PDF 的 SHA-256 记在审计台账中其 `document.issued` 事件里。
- `manifest.json`：每个事件在审计台账中的位置（叶子序号）、叶子哈希及包含证明。
- `checkpoint.txt`：审计台账的签名检查点（Ed25519 签名，C2SP tlog-checkpoint 格式）。
- `public-key.pem`、`public-key.txt`：签名公钥。请与机关公布的公钥核对，验证时应使用公布的公钥。

## 如何验证
本案卷可脱离系统单独验证：

    python -m services.audit.verify 本文件.zip --public-key 机关公布的公钥.pem

验证内容：检查点签名有效；每个事件文件的哈希（RFC 9162：SHA-256(0x00‖事件字节)）经包含证明
可推出检查点中的根哈希；文书文本与其所在事件一致；每份文书 PDF 的 SHA-256 与台账中其
`document.issued` 事件所记一致。任何改动都会被发现，并指出第一个不符的事件
（叶子序号和事件编号）。

## Format (English)
{FORMAT}: see services/audit/casefile.py. Merkle tree and proofs: RFC 9162 §2.1 (SHA-256, leaf
prefix 0x00, node prefix 0x01); inclusion proofs verify with the algorithm of §2.1.3.2 against the
tree size and root hash of checkpoint.txt.
"""


ISSUED_DOCUMENT = "document.issued"


def issued_documents(events: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ``document.issued`` events' data among ``events`` (each with ``value``), in order."""
    out = []
    for e in events:
        event = json.loads(e["value"])
        if short_type(event.get("type", "")) == ISSUED_DOCUMENT:
            out.append(event.get("data") or {})
    return out


def build(*, case_id: str, tracking_number: str | None, origin: str, checkpoint_note: str, tree_size: int,
          public_key_pem: str, public_key_text: str, events: Sequence[dict[str, Any]],
          pdfs: Mapping[str, bytes] | None = None) -> dict[str, bytes]:
    """The archive's files. ``events`` in timeline order, each with ``index``, ``event_id``, ``value``
    (exact event text), ``leaf_hash`` (hex) and ``proof`` (list of hashes, bytes). ``pdfs``: document
    id -> the stored PDF of each ``document.issued`` (one that could not be had is listed, marked
    missing, and fails the verification)."""
    files: dict[str, bytes] = {}
    manifest_events, documents, issued = [], [], []
    pdfs = pdfs or {}
    for n, e in enumerate(events, start=1):
        event = json.loads(e["value"])
        kind = short_type(event.get("type", ""))
        name = f"events/{n:03d}-{kind}.json"
        files[name] = e["value"].encode("utf-8")
        manifest_events.append({"index": e["index"], "event_id": e["event_id"], "type": event.get("type"),
                                "time": event.get("time"), "file": name, "leaf_hash": e["leaf_hash"],
                                "inclusion_proof": [base64.b64encode(p).decode() for p in e["proof"]]})
        for etype, field, stem, title in DOCUMENT_FIELDS:
            text = document_text(event, field) if kind == etype else None
            if text is None:
                continue
            dept = (event.get("data") or {}).get("dept_code", "")
            file = f"documents/{n:03d}-{stem.format(dept=dept)}.txt"
            files[file] = text.encode("utf-8")
            documents.append({"file": file, "title": title, "event_id": e["event_id"], "field": field})
        if kind == ISSUED_DOCUMENT:
            data = event.get("data") or {}
            file = f"documents/{n:03d}-{data.get('kind', 'document')}-{data.get('seq', 1)}.pdf"
            raw = pdfs.get(str(data.get("document_id")))
            if raw is not None:
                files[file] = raw
            issued.append({"file": file, "title": data.get("title"), "kind": data.get("kind"),
                           "seq": data.get("seq"), "document_id": data.get("document_id"), "event_id": e["event_id"],
                           "sha256": data.get("sha256"), "size": data.get("size"), "missing": raw is None})
    manifest = {"format": FORMAT, "case_id": case_id, "tracking_number": tracking_number, "origin": origin,
                "checkpoint": CHECKPOINT, "tree_size": tree_size, "events": manifest_events, "documents": documents,
                "issued_documents": issued}
    files[MANIFEST] = json.dumps(manifest, ensure_ascii=False, indent=2).encode("utf-8")
    files[CHECKPOINT] = checkpoint_note.encode("utf-8")
    files["public-key.pem"] = public_key_pem.encode()
    files["public-key.txt"] = public_key_text.encode()
    files["README.md"] = _readme(case_id, tracking_number, len(events), tree_size).encode("utf-8")
    return files


def to_zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name in sorted(files):
            z.writestr(name, files[name])
    return buf.getvalue()
