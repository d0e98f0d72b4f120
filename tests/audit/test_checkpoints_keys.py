"""Signed checkpoints (C2SP tlog-checkpoint in a signed note, Ed25519), keys, query codes, and the
rule that no code path of the audit service updates or deletes a ledger entry."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from services.audit import checkpoints as cps
from services.audit import keys
from services.audit.public_timeline import code_matches, query_code

ROOT = hashlib.sha256(b"root").digest()
WHEN = datetime(2026, 11, 23, 8, 30, 5, tzinfo=UTC)
CP = cps.Checkpoint("gongkai.audit/yn-gov-office", 42, ROOT, WHEN)


def test_signed_note_layout():
    key = Ed25519PrivateKey.generate()
    note = cps.sign(CP, key)
    lines = note.split("\n")
    assert lines[:5] == ["gongkai.audit/yn-gov-office", "42", base64.b64encode(ROOT).decode(),
                         "time 2026-11-23T08:30:05Z", ""]
    assert lines[5].startswith("\u2014 gongkai.audit/yn-gov-office ") and lines[6] == "" and len(lines) == 7
    blob = base64.b64decode(lines[5].rsplit(" ", 1)[1])
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert blob[:4] == hashlib.sha256(b"gongkai.audit/yn-gov-office\n\x01" + raw).digest()[:4]
    key.public_key().verify(blob[4:], "\n".join(lines[:4]).encode() + b"\n")  # raises if wrong
    assert cps.verify(note, key.public_key()) == CP


def test_checkpoint_signed_with_another_key_is_rejected():
    note = cps.sign(CP, Ed25519PrivateKey.generate())
    with pytest.raises(cps.CheckpointError):
        cps.verify(note, Ed25519PrivateKey.generate().public_key())


@pytest.mark.parametrize("change", [
    lambda n: n.replace("\n42\n", "\n43\n", 1),
    lambda n: n.replace("time 2026-11-23T08:30:05Z", "time 2026-11-23T08:30:06Z"),
    lambda n: n.replace(base64.b64encode(ROOT).decode(), base64.b64encode(hashlib.sha256(b"x").digest()).decode()),
])
def test_any_change_to_the_signed_body_is_rejected(change):
    key = Ed25519PrivateKey.generate()
    note = cps.sign(CP, key)
    changed = change(note)
    assert changed != note
    with pytest.raises(cps.CheckpointError):
        cps.verify(changed, key.public_key())


def test_checkpoint_of_another_origin_is_rejected():
    key = Ed25519PrivateKey.generate()
    with pytest.raises(cps.CheckpointError):
        cps.verify(cps.sign(CP, key), key.public_key(), origin="gongkai.audit/other")


@pytest.mark.parametrize("bad", ["", "no blank line", "a\n1\nxx\n\n\u2014 a AAAA\n", "a\n01\n" + base64.b64encode(ROOT).decode()
                                 + "\ntime 2026-11-23T08:30:05Z\n\n\u2014 a AAAA\n"])
def test_malformed_notes_are_rejected(bad):
    with pytest.raises(cps.CheckpointError):
        cps.verify(bad, Ed25519PrivateKey.generate().public_key())


def test_signing_key_from_setting_file_or_generated(tmp_path: Path):
    key = Ed25519PrivateKey.generate()
    seed = key.private_bytes_raw()
    from_b64, src = keys.load_signing_key(base64.b64encode(seed).decode(), None)
    assert from_b64.private_bytes_raw() == seed and src == "setting"
    pem = keys.private_pem(key).decode()
    assert keys.load_signing_key(pem, None)[0].private_bytes_raw() == seed
    (tmp_path / "k.pem").write_text(pem)
    got, src = keys.load_signing_key(str(tmp_path / "k.pem"), None)
    assert got.private_bytes_raw() == seed and src.startswith("file:")
    made, src = keys.load_signing_key("", str(tmp_path / "run" / "audit.key"))
    assert src.startswith("generated:")
    assert stat.S_IMODE(os.stat(tmp_path / "run" / "audit.key").st_mode) == 0o600
    again, src = keys.load_signing_key("", str(tmp_path / "run" / "audit.key"))
    assert again.private_bytes_raw() == made.private_bytes_raw() and src.startswith("file:")
    with pytest.raises(ValueError):
        keys.load_signing_key(base64.b64encode(b"short").decode(), None)


def test_public_key_formats():
    pub = Ed25519PrivateKey.generate().public_key()
    assert keys.public_from_text(keys.public_pem(pub)) == pub
    assert keys.public_from_text(keys.public_b64(pub)) == pub
    assert keys.public_from_text(cps.note_verifier_key("gongkai.audit/x", pub)) == pub
    with pytest.raises(ValueError):
        keys.public_from_text("not a key")


def test_query_code_is_the_one_intake_prints():
    from services.intake.identity import query_code as intake_code  # cross-check only (tests may)
    for case_id in ("case-00001", "c9f7d3c2-1111-4e4e-8888-0123456789ab"):
        assert query_code("s3cret", case_id) == intake_code("s3cret", case_id)
        code = query_code("s3cret", case_id)
        assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{12}", code)  # Crockford base32: no I, L, O, U
        assert code_matches("s3cret", case_id, code)
        assert code_matches("s3cret", case_id, f" {code[:4].lower()}-{code[4:8]} {code[8:]} ")  # as typed
        assert not code_matches("other", case_id, code)
        assert not code_matches("s3cret", case_id, code[:-1])  # a prefix is not the code


def test_keys_are_never_generated_in_production(tmp_path: Path):
    with pytest.raises(keys.KeyProblem):
        keys.load_signing_key("", str(tmp_path / "audit.key"), create=False)
    assert not (tmp_path / "audit.key").exists()


MUTATIONS = re.compile(r"\.(update_one|update_many|delete_one|delete_many|replace_one|find_one_and_update|"
                       r"find_one_and_replace|find_one_and_delete|bulk_write|drop|drop_collection|drop_database|rename)\(")


# The one exception: services/audit/repair.py, the heal's "move aside" (issue 16). When the store
# lost ledger entries, the entries stored after the gap (orphans) and the checkpoints signed over
# the lost ones can never be part of the tree, and they hold the seqs (and event ids) the re-read
# events must take: they are copied into quarantine collections and then removed, there and only
# there (used by the ledger's heal and the operator command). Nothing there updates in place, and
# it only ever touches what lies beyond the durable prefix (tests/audit/test_ledger_heal.py).
REMOVES_ONLY = {"repair.py": re.compile(r"\.delete_one\(")}


def test_no_code_path_updates_or_deletes_in_the_audit_service():
    sources = sorted(Path(__file__).resolve().parents[2].joinpath("services", "audit").rglob("*.py"))
    assert len(sources) >= 10
    offenders = [f"{p.name}:{i}" for p in sources for i, line in enumerate(p.read_text().splitlines(), 1)
                 if MUTATIONS.search(line) and not (p.name in REMOVES_ONLY and REMOVES_ONLY[p.name].search(line)
                                                    and len(MUTATIONS.findall(line)) == 1)]
    assert offenders == []
    assert MUTATIONS.search("await self.entries.update_one({}, {})")  # the pattern does catch one
    repair = Path(__file__).resolve().parents[2].joinpath("services", "audit", "repair.py").read_text()
    assert len(REMOVES_ONLY["repair.py"].findall(repair)) == 1  # one removal, in _aside, after the copy


def test_checkpoint_event_round_trips_through_the_registry():
    from contracts.envelope import decode, deterministic_id, encode, new_event
    from contracts.events import REGISTRY
    from contracts.events_ledger import LEDGER_CHECKPOINTS, CheckpointSigned

    key = Ed25519PrivateKey.generate()
    data = CheckpointSigned(origin=CP.origin, tree_size=42, root_hash=base64.b64encode(ROOT).decode(), signed_at=WHEN,
                            key_id=cps.key_id(CP.origin, key.public_key()).hex(), note=cps.sign(CP, key))
    event = new_event(data, source="/gongkai/audit", subject=CP.origin, event_id=deterministic_id("cp", "42"))
    back = decode(encode(event), REGISTRY)
    assert back == event and back.type == "cn.gongkai.ledger.checkpoint.signed.v1"
    assert cps.verify(back.data.note, key.public_key()).tree_size == 42
    assert LEDGER_CHECKPOINTS.name == "gongkai.ledger.checkpoints"
    assert LEDGER_CHECKPOINTS.event_types == ("ledger.checkpoint.signed",)
