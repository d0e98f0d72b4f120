"""The ledger's Ed25519 signing key: from settings, or (local runs) generated once into a key file.

``AUDIT_SIGNING_KEY`` holds either the base64 of the raw 32-byte private seed, a PEM (PKCS#8)
private key, or the path of a PEM file. When it is empty, the key is read from ``AUDIT_KEY_FILE``
(default ``$GONGKAI_RUN_DIR/audit-signing.key``); only in development is it created there (mode
0600) if missing — in production a missing key is an error, never a fresh key nobody holds. The key
is never in the repository. Public keys are read from raw base64, PEM or signed-note vkey text.
"""

from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
    load_pem_public_key,
)


class KeyProblem(ValueError):
    pass


def private_from_text(text: str) -> Ed25519PrivateKey:
    text = text.strip()
    if text.startswith("-----BEGIN"):
        key = load_pem_private_key(text.encode(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyProblem("the PEM key is not an Ed25519 key")
        return key
    try:
        seed = base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise KeyProblem("signing key is neither PEM nor base64") from exc
    if len(seed) != 32:
        raise KeyProblem("an Ed25519 private seed is 32 bytes")
    return Ed25519PrivateKey.from_private_bytes(seed)


def private_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())


def public_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()


def public_b64(key: Ed25519PublicKey) -> str:
    return base64.b64encode(key.public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


def default_key_file() -> Path:
    run_dir = os.environ.get("GONGKAI_RUN_DIR") or str(Path(__file__).resolve().parents[2] / ".local" / "run")
    return Path(run_dir) / "audit-signing.key"


def load_signing_key(setting: str, key_file: str | None, *, create: bool = True) -> tuple[Ed25519PrivateKey, str]:
    """The private key and where it came from ("setting", "file:<path>", "generated:<path>").
    ``create=False`` (production): a missing key file is a ``KeyProblem``, not a new key."""
    if setting.strip():
        path = Path(setting.strip())
        if not setting.strip().startswith("-----") and len(setting) < 4096 and path.is_file():
            return private_from_text(path.read_text()), f"file:{path}"
        return private_from_text(setting), "setting"
    path = Path(key_file) if key_file else default_key_file()
    if path.is_file():
        return private_from_text(path.read_text()), f"file:{path}"
    if not create:
        raise KeyProblem(f"no ledger signing key: set AUDIT_SIGNING_KEY or AUDIT_KEY_FILE (no file at {path})")
    key = Ed25519PrivateKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it meanwhile: use theirs
        return private_from_text(path.read_text()), f"file:{path}"
    with os.fdopen(fd, "wb") as f:
        f.write(private_pem(key))
    return key, f"generated:{path}"


def public_from_text(text: str) -> Ed25519PublicKey:
    """A public key from PEM, raw base64 (32 bytes), or a signed-note vkey (name+id+base64(0x01||key))."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        key = load_pem_public_key(text.encode())
        if not isinstance(key, Ed25519PublicKey):
            raise KeyProblem("the PEM key is not an Ed25519 public key")
        return key
    try:
        raw = base64.b64decode(text, validate=True)
    except binascii.Error:
        raw = b""
    if len(raw) == 32:
        return Ed25519PublicKey.from_public_bytes(raw)
    parts = text.split("+", 2)  # the name has no "+", the base64 may
    if len(parts) == 3 and len(parts[1]) == 8:
        try:
            blob = base64.b64decode(parts[2], validate=True)
        except binascii.Error as exc:
            raise KeyProblem("bad signed-note key") from exc
        if len(blob) == 33 and blob[0] == 0x01:
            return Ed25519PublicKey.from_public_bytes(blob[1:])
    raise KeyProblem("public key is neither PEM, raw base64 (32 bytes) nor a signed-note Ed25519 key")
