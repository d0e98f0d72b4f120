"""The verifiable ledger on the real system: one application through all five services, a review
and its outcome recorded by an officer; then every event of the case proves its inclusion in the
latest signed checkpoint (checked with the published public key, and against the exact bytes on
the bus), the case file verifies offline with ``python -m services.audit.verify`` and names the
event altered in it, the applicant's timeline opens with the tracking number and query code only,
and the checkpoint published on gongkai.ledger.checkpoints carries a valid signature."""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
import zipfile
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from contracts import topics
from services.audit import checkpoints
from services.audit.keys import public_from_text
from services.audit.merkle import leaf_hash, verify_inclusion
from tests.e2e.helpers import AUDITOR, OGI, Client, application, eventually, read_topic, tag

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]

DEPARTMENTS = ("zrzy", "czt", "sthjt")
CST = timezone(timedelta(hours=8))


def _b(s: str) -> bytes:
    return base64.b64decode(s)


def _verify_cli(path: Path, key_file: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "services.audit.verify", str(path), "--public-key", str(key_file)],
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
                          timeout=60)


async def test_case_file_proofs_timeline_and_checkpoints(stack, tmp_path) -> None:
    client = Client(stack)
    http, audit = client.http, stack.cfg.url("audit")
    t = tag()
    accepted = await client.submit(application(t))
    case_id, tracking, code = accepted["case_id"], accepted["tracking_number"], accepted["query_code"]
    routing = await client.routing(case_id)
    assert {task["dept_code"] for task in routing["tasks"]} == set(DEPARTMENTS)
    for dept in DEPARTMENTS:
        task = await client.wait_task_open(case_id, dept)
        resp = await client.answer(task["task_id"], dept, "disclosed", text=f"{dept} 的答复：现予公开。")
        assert resp.status_code == 201, resp.text
    await client.reply(case_id)

    # An administrative review of the reply, filed and upheld, recorded by an officer.
    officer = client.auth(OGI)
    today = datetime.now(CST).date()
    filed = await http.post(f"{audit}/cases/{case_id}/remedies", headers=officer, json={
        "kind": "review", "filed_on": today.isoformat(), "authority": "云南省人民政府"})
    assert filed.status_code == 201, filed.text
    rid = filed.json()["remedy"]["remedy_id"]
    decided = await http.post(f"{audit}/cases/{case_id}/remedies", headers=officer, json={
        "stage": "decided", "remedy_id": rid, "result": "upheld", "decided_on": today.isoformat()})
    assert decided.status_code == 201, decided.text
    assert (await http.post(f"{audit}/cases/{case_id}/remedies", json={"kind": "review", "filed_on": today.isoformat()})
            ).status_code == 401

    async def settled() -> list[dict] | None:
        events = await client.timeline(case_id)
        kinds = [e["type"] for e in events]
        done = "cn.gongkai.reply.issued.v1" in kinds and kinds.count("cn.gongkai.remedy.recorded.v1") == 2
        return events if done else None

    timeline = await eventually(settled, 60, what="the reply and both remedy events in the ledger")

    # Table 四 of this year: the one review, upheld (no other test records remedies).
    table = (await http.get(f"{audit}/statistics/annual", params={"year": today.year},
                            headers=client.auth(AUDITOR))).json()["remedies"]
    assert table["values"][:5] == [1, 0, 0, 0, 1]
    assert table["values"][5:] == [0] * 10

    # The published public key and the latest checkpoint.
    pub_doc = (await http.get(f"{audit}/public-key")).json()
    pub = public_from_text(pub_doc["public_key_pem"])
    assert public_from_text(pub_doc["public_key_base64"]) == pub
    signed = await http.post(f"{audit}/checkpoints", headers=client.auth(AUDITOR))
    assert signed.status_code == 200
    latest = (await http.get(f"{audit}/checkpoints/latest")).json()
    cp = checkpoints.verify(latest["note"], pub, latest["origin"])
    assert cp.tree_size == latest["tree_size"] >= len(timeline)
    assert base64.b64encode(cp.root_hash).decode() == latest["root_hash"]
    with pytest.raises(checkpoints.CheckpointError):
        checkpoints.verify(latest["note"], Ed25519PrivateKey.generate().public_key())

    # Every event of the case: included in the latest checkpoint, its leaf = the bytes on the bus.
    on_bus: dict[str, bytes] = {}
    for topic in {e["topic"] for e in timeline}:
        for rec in await read_topic(stack.cfg.kafka_bootstrap, topic):
            try:
                on_bus.setdefault(json.loads(rec.value)["id"], rec.value)
            except (ValueError, KeyError, TypeError):
                continue
    for e in timeline:
        proof = (await http.get(f"{audit}/proofs/inclusion",
                                params={"event_id": e["id"], "tree_size": cp.tree_size})).json()
        assert proof["leaf_index"] == e["leaf_index"] and proof["tree_size"] == cp.tree_size
        assert proof["checkpoint"]["note"] == latest["note"]
        assert _b(proof["leaf_hash"]) == leaf_hash(on_bus[e["id"]]), e["type"]
        hashes = [_b(p) for p in proof["proof"]]
        assert verify_inclusion(proof["leaf_index"], cp.tree_size, _b(proof["leaf_hash"]), hashes, cp.root_hash)
        assert not verify_inclusion(proof["leaf_index"], cp.tree_size, leaf_hash(b"{}"), hashes, cp.root_hash)
    assert {e["topic"] for e in timeline} >= {topics.APPLICATIONS_RECEIVED.name, topics.REPLIES_ISSUED.name,
                                              topics.CASES_REMEDIES.name}

    # The case file verifies offline with the published key; an altered event is named.
    assert (await http.get(f"{audit}/cases/{case_id}/file", headers=officer)).status_code == 403  # auditors only
    resp = await http.get(f"{audit}/cases/{case_id}/file", headers=client.auth(AUDITOR))
    assert resp.status_code == 200 and resp.headers["content-type"] == "application/zip"
    zpath, key_file = tmp_path / "case.zip", tmp_path / "audit-public.pem"
    zpath.write_bytes(resp.content)
    key_file.write_text(pub_doc["public_key_pem"])
    ok = _verify_cli(zpath, key_file)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "验证通过" in ok.stdout and case_id in ok.stdout
    with zipfile.ZipFile(io.BytesIO(resp.content)) as z:
        files = {n: z.read(n) for n in z.namelist()}
    manifest = json.loads(files["manifest.json"])
    victim = next(m for m in manifest["events"] if m["type"] == "cn.gongkai.reply.issued.v1")
    event = json.loads(files[victim["file"]])
    assert event["data"]["decision"] == "disclosed"
    event["data"]["decision"] = "not_disclosed"
    files[victim["file"]] = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    bad_path = tmp_path / "case-altered.zip"
    with zipfile.ZipFile(bad_path, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    bad = _verify_cli(bad_path, key_file)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert f"first mismatching leaf: index {victim['index']}, event id {victim['event_id']}" in bad.stdout
    other_key = tmp_path / "other.pem"
    other_key.write_text(base64.b64encode(Ed25519PrivateKey.generate().public_key().public_bytes_raw()).decode())
    assert _verify_cli(zpath, other_key).returncode == 1  # signed with another key: rejected

    # The applicant's timeline: tracking number and query code; nothing internal; wrong code refused.
    view = await http.get(f"{audit}/public/cases/{tracking}/timeline", params={"query_code": code})
    assert view.status_code == 200, view.text
    body = view.json()
    steps = [s["step"] for s in body["steps"]]
    assert body["status"] == "已办结" and steps[0] == "申请已登记"
    assert "已作出答复" in steps and "行政复议已审结" in steps
    text = json.dumps(body, ensure_ascii=False)
    assert "/gongkai/" not in text and "e2e-officer" not in text and "keyword:" not in text
    wrong = code[:-1] + ("A" if code[-1] != "A" else "B")
    refused = await http.get(f"{audit}/public/cases/{tracking}/timeline", params={"query_code": wrong})
    assert refused.status_code == 404 and "查询码" in refused.json()["detail"]

    # The checkpoint is published on the checkpoints topic; its signature verifies with the key.
    async def published() -> dict | None:
        for rec in await read_topic(stack.cfg.kafka_bootstrap, topics.LEDGER_CHECKPOINTS.name):
            ev = json.loads(rec.value)
            if ev["data"]["tree_size"] == cp.tree_size:
                return ev
        return None

    ev = await eventually(published, 30, what=f"checkpoint of size {cp.tree_size} on the topic")
    assert ev["type"] == "cn.gongkai.ledger.checkpoint.signed.v1"
    on_topic = checkpoints.verify(ev["data"]["note"], pub, latest["origin"])
    assert (on_topic.tree_size, on_topic.root_hash) == (cp.tree_size, cp.root_hash)
    assert _b(ev["data"]["root_hash"]) == cp.root_hash
    assert datetime.fromisoformat(ev["data"]["signed_at"].replace("Z", "+00:00")) <= datetime.now(UTC)
    await client.close()
