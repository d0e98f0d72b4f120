"""The case file (一案一档) holds every issued document's PDF (issue #11): each named by its
``document.issued`` event in the ledger, whose SHA-256 the bytes must match. The verifier passes
the genuine file, and names an altered, swapped or missing document. Pure logic: a real Merkle
tree and a signed checkpoint, no store."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.audit import casefile, checkpoints
from services.audit.merkle import MerkleTree
from services.audit.verify import verify_case_file

ORIGIN = "gongkai.audit/test"
RECEIPT = b"%PDF-1.7 receipt of YN-1"
REPLY = b"%PDF-1.7 reply of YN-1"


def event(n: int, etype: str, data: dict) -> str:
    return json.dumps({"specversion": "1.0", "id": f"e{n}", "source": "/gongkai/reply", "type": f"cn.gongkai.{etype}.v1",
                       "subject": "c1", "time": "2026-12-02T01:00:00Z", "data": {"case_id": "c1", **data}},
                      ensure_ascii=False, separators=(",", ":"))


def issued(n: int, kind: str, document_id: str, pdf: bytes) -> str:
    return event(n, "document.issued", {"tracking_number": "YN-1", "document_id": document_id, "kind": kind,
                                        "title": "标题", "seq": 1, "addressee": "applicant", "issued_on": "2026-12-02",
                                        "step_event_id": "e1", "step_type": "x", "media_type": "application/pdf",
                                        "sha256": hashlib.sha256(pdf).hexdigest(), "size": len(pdf)})


def build(pdfs: dict[str, bytes]) -> tuple[dict[str, bytes], object]:
    values = [event(1, "application.received", {"tracking_number": "YN-1", "description": "申请内容"}),
              issued(2, "acceptance_receipt", "d-receipt", RECEIPT),
              issued(3, "consolidated_reply", "d-reply", REPLY)]
    tree = MerkleTree()
    for v in values:
        tree.append(v.encode())
    key = Ed25519PrivateKey.generate()
    note = checkpoints.sign(checkpoints.Checkpoint(ORIGIN, len(tree), tree.root(), datetime.now(UTC)), key)
    items = [{"index": i, "event_id": f"e{i + 1}", "value": v, "leaf_hash": tree.leaf(i).hex(),
              "proof": tree.inclusion_proof(i, len(tree))} for i, v in enumerate(values)]
    files = casefile.build(case_id="c1", tracking_number="YN-1", origin=ORIGIN, checkpoint_note=note,
                           tree_size=len(tree), public_key_pem="", public_key_text="", events=items, pdfs=pdfs)
    return files, key.public_key()


def test_every_issued_document_is_in_the_file_and_verifies() -> None:
    files, pub = build({"d-receipt": RECEIPT, "d-reply": REPLY})
    manifest = json.loads(files["manifest.json"])
    listed = {d["kind"]: d for d in manifest["issued_documents"]}
    assert set(listed) == {"acceptance_receipt", "consolidated_reply"}
    assert files[listed["acceptance_receipt"]["file"]] == RECEIPT and not listed["acceptance_receipt"]["missing"]
    assert listed["consolidated_reply"]["sha256"] == hashlib.sha256(REPLY).hexdigest()
    result = verify_case_file(files, pub)
    assert result.ok, result.message
    assert "2 份文书与台账所记哈希一致" in result.message


def test_an_altered_or_swapped_document_is_named() -> None:
    files, pub = build({"d-receipt": RECEIPT, "d-reply": REPLY})
    listed = {d["kind"]: d["file"] for d in json.loads(files["manifest.json"])["issued_documents"]}
    altered = verify_case_file({**files, listed["consolidated_reply"]: REPLY + b" "}, pub)
    assert not altered.ok and "与台账所记哈希不符" in altered.message and listed["consolidated_reply"] in altered.message
    swapped = verify_case_file({**files, listed["consolidated_reply"]: RECEIPT}, pub)
    assert not swapped.ok


def test_a_document_the_reply_service_did_not_give_is_missing_and_fails() -> None:
    files, pub = build({"d-receipt": RECEIPT})
    listed = {d["kind"]: d for d in json.loads(files["manifest.json"])["issued_documents"]}
    assert listed["consolidated_reply"]["missing"] is True
    result = verify_case_file(files, pub)
    assert not result.ok and "案卷缺少文书" in result.message
