"""Signed checkpoints of the ledger's Merkle tree. Pure logic (signing is CPU only, no I/O).

The text follows C2SP tlog-checkpoint inside a C2SP signed note, the format of transparency logs
(Go's sumdb, Sigstore, transparency-dev)::

    <origin>\n
    <tree size, decimal>\n
    <root hash, base64 std>\n
    time <UTC, RFC 3339>\n          (an extension line: when it was signed)
    \n
    — <key name> <base64(key id (4 bytes) || Ed25519 signature (64 bytes))>\n

The signature covers the body: every line up to and including the time line's newline. The key
name is the origin; the key id is the first 4 bytes of SHA-256(name || "\\n" || 0x01 || public key)
(the signed-note Ed25519 key id). ``note_verifier_key`` gives the signed-note "vkey" text.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ED25519_ALG = 0x01
SIG_PREFIX = "\u2014 "  # em dash and space


class CheckpointError(ValueError):
    """A checkpoint is malformed, or its signature does not verify with the key given."""


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    tree_size: int
    root_hash: bytes
    time: datetime

    def body(self) -> str:
        ts = self.time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return (f"{self.origin}\n{self.tree_size}\n{base64.b64encode(self.root_hash).decode()}\n"
                f"time {ts}\n")


def raw_public_key(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(name: str, public_key: Ed25519PublicKey) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([ED25519_ALG]) + raw_public_key(public_key)).digest()[:4]


def note_verifier_key(name: str, public_key: Ed25519PublicKey) -> str:
    """The signed-note verifier key: ``<name>+<hex key id>+<base64(0x01 || public key)>``."""
    blob = base64.b64encode(bytes([ED25519_ALG]) + raw_public_key(public_key)).decode()
    return f"{name}+{key_id(name, public_key).hex()}+{blob}"


def sign(cp: Checkpoint, private_key: Ed25519PrivateKey) -> str:
    """The signed note of a checkpoint (signed with key name = origin)."""
    body = cp.body()
    signature = private_key.sign(body.encode())
    kid = key_id(cp.origin, private_key.public_key())
    return f"{body}\n{SIG_PREFIX}{cp.origin} {base64.b64encode(kid + signature).decode()}\n"


def parse(note: str) -> tuple[Checkpoint, str, list[tuple[str, bytes]]]:
    """Split a signed note into its checkpoint, its signed body and its (key name, sig blob) lines."""
    body, sep, sigs = note.partition("\n\n")
    if not sep or not body:
        raise CheckpointError("not a signed note: no blank line before the signatures")
    body += "\n"
    lines = body.split("\n")[:-1]
    if len(lines) < 3:
        raise CheckpointError("a checkpoint has an origin, a tree size and a root hash")
    origin, size_text, root_text = lines[0], lines[1], lines[2]
    if not size_text.isdigit() or (size_text != "0" and size_text.startswith("0")):
        raise CheckpointError(f"bad tree size {size_text!r}")
    try:
        root = base64.b64decode(root_text, validate=True)
    except ValueError as exc:
        raise CheckpointError("root hash is not base64") from exc
    if len(root) != 32:
        raise CheckpointError("root hash is not 32 bytes")
    when = None
    for ext in lines[3:]:
        if ext.startswith("time "):
            try:
                when = datetime.strptime(ext[5:], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
            except ValueError as exc:
                raise CheckpointError(f"bad time line {ext!r}") from exc
    if when is None:
        raise CheckpointError("no time line")
    signatures = []
    if not sigs.endswith("\n"):
        raise CheckpointError("a signed note ends with a newline")
    for line in sigs[:-1].split("\n"):
        if not line.startswith(SIG_PREFIX):
            raise CheckpointError(f"not a signature line: {line!r}")
        name, _, blob = line[len(SIG_PREFIX):].rpartition(" ")
        try:
            signatures.append((name, base64.b64decode(blob, validate=True)))
        except ValueError as exc:
            raise CheckpointError("signature is not base64") from exc
    return Checkpoint(origin, int(size_text), root, when), body, signatures


def verify(note: str, public_key: Ed25519PublicKey, origin: str | None = None) -> Checkpoint:
    """The checkpoint of a signed note, if it carries a valid signature by ``public_key`` under the
    name of its origin (and the origin is the one expected); raises CheckpointError otherwise."""
    cp, body, signatures = parse(note)
    if origin is not None and cp.origin != origin:
        raise CheckpointError(f"checkpoint of {cp.origin!r}, expected {origin!r}")
    kid = key_id(cp.origin, public_key)
    for name, blob in signatures:
        if name == cp.origin and blob[:4] == kid and len(blob) == 68:
            try:
                public_key.verify(blob[4:], body.encode())
            except InvalidSignature:
                continue
            return cp
    raise CheckpointError("no valid signature by this public key")
