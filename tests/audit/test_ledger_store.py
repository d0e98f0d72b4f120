"""The ledger against the real store: leaves stored once, the tree rebuilt after a restart,
checkpoints, exports verified offline, and a leaf altered in the database found and named."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

from services.audit import checkpoints, keys
from services.audit.checkpoint_log import CheckpointLog
from services.audit.ledger import Ledger
from services.audit.merkle import MerkleTree, leaf_hash, root_of, verify_consistency
from services.audit.verify import verify_export
from tests.audit.factory import case_events, raw

REPO = Path(__file__).resolve().parents[2]


async def fill(ledger: Ledger, cases: range) -> list[bytes]:
    values = []
    for n in cases:
        for i, (topic, ev) in enumerate(case_events(n)):
            seq = await ledger.append(ev, raw(ev), topic, 0, i)
            assert seq == len(values) + 1
            values.append(raw(ev))
    return values


async def export_of(ledger: Ledger, cplog: CheckpointLog) -> dict:
    from services.audit import export
    cp, _ = await cplog.sign_now()
    entries = [export.entry(d) async for d in ledger.iter_entries(limit=cp["tree_size"])]
    return export.build(cp["origin"], cp["note"], [n for n in await cplog.notes() if n != cp["note"]], entries)


async def test_redelivered_event_is_not_a_second_leaf(ledger: Ledger):
    values = await fill(ledger, range(1, 3))
    topic, ev = case_events(1)[3]
    assert await ledger.append(ev, raw(ev), topic, 1, 99) is None  # redelivered, other offset
    size, root = await ledger.snapshot()
    assert size == len(values) == 18
    assert root == root_of(values)
    assert await ledger.entries.count_documents({}) == 18
    # The next new event takes the next position; the ledger still verifies end to end.
    topic, ev = case_events(3)[0]
    assert await ledger.append(ev, raw(ev), topic, 0, 0) == 19
    assert await ledger.append(ev, raw(ev), topic, 0, 0) is None
    assert (await ledger.snapshot())[1] == root_of(values + [raw(ev)])
    assert (await ledger.verify()).ok


async def test_tree_is_rebuilt_from_the_store_after_a_restart(db, ledger: Ledger):
    values = await fill(ledger, range(1, 4))
    again = Ledger(db)
    await again.setup()
    assert await again.snapshot() == (len(values), root_of(values))
    topic, ev = case_events(4)[0]
    assert await again.append(ev, raw(ev), topic, 0, 0) == len(values) + 1
    assert (await again.snapshot())[1] == root_of(values + [raw(ev)])


async def test_checkpoints_are_signed_once_per_size_and_consistent(ledger: Ledger, cplog: CheckpointLog, signing_key):
    await fill(ledger, range(1, 3))
    first, created = await cplog.sign_now()
    assert created and first["tree_size"] == 18
    again, created = await cplog.sign_now()
    assert not created and again["note"] == first["note"]
    await fill_more(ledger, 3)
    second, created = await cplog.sign_now()
    assert created and second["tree_size"] == 27
    cp1 = checkpoints.verify(first["note"], signing_key.public_key(), "gongkai.audit/test-agency")
    cp2 = checkpoints.verify(second["note"], signing_key.public_key())
    tree = await ledger.tree()
    assert verify_consistency(18, 27, cp1.root_hash, cp2.root_hash, tree.consistency_proof(18, 27))
    assert [s for s, _ in await cplog.all_roots()] == [18, 27]


async def fill_more(ledger: Ledger, n: int) -> None:
    size, _ = await ledger.snapshot()
    for i, (topic, ev) in enumerate(case_events(n)):
        assert await ledger.append(ev, raw(ev), topic, 0, i) == size + i + 1


async def test_publication_of_checkpoints_in_order_and_once(ledger: Ledger, cplog: CheckpointLog):
    await fill(ledger, range(1, 2))
    await cplog.sign_now()
    await fill_more(ledger, 2)
    await cplog.sign_now()
    sent: list = []

    async def publish_many(records):  # noqa: ANN001, ANN202
        sent.extend(records)

    assert await cplog.publish_pending(publish_many) == 2
    assert await cplog.publish_pending(publish_many) == 0
    assert [json.loads(r[2])["data"]["tree_size"] for r in sent] == [9, 18]
    assert all(r[0] == "gongkai.ledger.checkpoints" for r in sent)
    assert json.loads(sent[0][2])["type"] == "cn.gongkai.ledger.checkpoint.signed.v1"


async def test_export_verifies_and_an_altered_leaf_is_named(tmp_path, ledger: Ledger, cplog: CheckpointLog, signing_key):
    values = await fill(ledger, range(1, 4))
    doc = await export_of(ledger, cplog)
    pub = signing_key.public_key()
    assert verify_export(doc, pub).ok
    assert (await ledger.verify(await cplog.all_roots())).ok

    # Someone with write access to the database changes one stored event.
    victim = await ledger.entries.find_one({"_id": 12})
    altered = victim["value"].replace("\"time\":\"2026", "\"time\":\"2025", 1)
    assert altered != victim["value"]
    await ledger.entries.update_one({"_id": 12}, {"$set": {"value": altered}})

    v = await ledger.verify(await cplog.all_roots())
    assert not v.ok and v.first_bad_leaf.index == 11 and v.first_bad_leaf.event_id == victim["event_id"]
    tampered = await export_of(ledger, cplog)  # exported from the tampered store, same checkpoint
    assert tampered["checkpoint"] == doc["checkpoint"]
    result = verify_export(tampered, pub)
    assert not result.ok and (result.bad_index, result.bad_event_id) == (11, victim["event_id"])

    # The offline command, as an outsider runs it.
    (tmp_path / "export.json").write_text(json.dumps(tampered, ensure_ascii=False))
    (tmp_path / "good.json").write_text(json.dumps(doc, ensure_ascii=False))
    (tmp_path / "pub.pem").write_text(keys.public_pem(pub))
    cmd = [sys.executable, "-m", "services.audit.verify"]
    good = subprocess.run([*cmd, str(tmp_path / "good.json"), "--public-key", str(tmp_path / "pub.pem")],
                          cwd=REPO, capture_output=True, text=True, check=False)
    assert good.returncode == 0, good.stdout + good.stderr
    bad = subprocess.run([*cmd, str(tmp_path / "export.json"), "--public-key", str(tmp_path / "pub.pem")],
                         cwd=REPO, capture_output=True, text=True, check=False)
    assert bad.returncode == 1
    assert f"index 11, event id {victim['event_id']}" in bad.stdout


async def test_leaf_rewritten_with_its_hash_is_still_caught_by_the_signed_root(ledger: Ledger, cplog: CheckpointLog,
                                                                                signing_key):
    await fill(ledger, range(1, 2))
    await cplog.sign_now()
    await fill_more(ledger, 2)
    await cplog.sign_now()
    doc = await export_of(ledger, cplog)
    victim = doc["entries"][13]
    value = victim["value"].replace("\"time\":\"2026", "\"time\":\"2025", 1)
    victim.update(value=value, leaf_hash=leaf_hash(value.encode()).hex())
    result = verify_export(doc, signing_key.public_key())
    # Leaves 0..8 still match the first checkpoint (size 9); the change lies in [9, 18).
    assert not result.ok and result.bad_index == 9 and "[9, 18)" in result.message


async def test_export_checked_with_another_key_is_rejected(ledger: Ledger, cplog: CheckpointLog):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    await fill(ledger, range(1, 2))
    doc = await export_of(ledger, cplog)
    result = verify_export(doc, Ed25519PrivateKey.generate().public_key())
    assert not result.ok and "签名无效" in result.message


async def test_tree_matches_a_fresh_tree_of_the_stored_values(ledger: Ledger):
    await fill(ledger, range(1, 3))
    values = [d["value"].encode() async for d in ledger.iter_entries()]
    tree = await ledger.tree()
    fresh = MerkleTree(leaf_hash(v) for v in values)
    assert tree.root() == fresh.root()
    assert base64.b64encode(tree.root(5)) == base64.b64encode(fresh.root(5))
