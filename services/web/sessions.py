"""Server-side sessions of signed-in officers, in the web service's own database (WEB_DB_NAME).

The cookie holds only a random session id (256 bits). The store keeps the id's SHA-256, never the
id itself (a copy of the database opens no session), with the officer's tokens, the session's CSRF
token and its expiry. A TTL index removes expired sessions; a session past its expiry is refused at
once, before the TTL monitor gets to it.

Also here: the signed, short-lived cookie that carries a sign-in in progress (state, nonce, PKCE
verifier, where to go next) from ``/login`` to ``/auth/callback``, and the applicants' CSRF token
(keyed from a random cookie: applicants have no session).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

SESSIONS = "sessions"


def new_token() -> str:
    """A random token of 256 bits, URL-safe."""
    return secrets.token_urlsafe(32)


def _key(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Session:
    id: str  # the cookie's value (not stored)
    csrf: str
    subject: str
    access_token: str
    refresh_token: str
    id_token: str
    access_expires_at: datetime
    refresh_expires_at: datetime | None
    expires_at: datetime

    def access_expires_within(self, seconds: float) -> bool:
        return self.access_expires_at - now() <= timedelta(seconds=seconds)

    @property
    def refreshable(self) -> bool:
        return bool(self.refresh_token) and (self.refresh_expires_at is None or self.refresh_expires_at > now())


@dataclass(frozen=True)
class Tokens:
    """What the IdP's token endpoint answered."""

    access_token: str
    refresh_token: str
    id_token: str
    expires_in: float
    refresh_expires_in: float | None  # None: not said (Keycloak says; 0 means an offline token)

    @classmethod
    def of(cls, body: dict[str, Any]) -> Tokens:
        refresh_in = body.get("refresh_expires_in")
        return cls(access_token=str(body["access_token"]), refresh_token=str(body.get("refresh_token") or ""),
                   id_token=str(body.get("id_token") or ""), expires_in=float(body.get("expires_in") or 0),
                   refresh_expires_in=float(refresh_in) if refresh_in else None)


class SessionStore:
    def __init__(self, db: AsyncDatabase, minutes: int) -> None:
        self.col = db[SESSIONS]
        self.lifetime = timedelta(minutes=minutes)

    async def setup(self) -> None:
        await self.col.create_index("expires_at", expireAfterSeconds=0, name="session_expiry")
        await self.col.create_index("subject", name="session_subject")

    @staticmethod
    def _token_fields(tokens: Tokens, at: datetime) -> dict[str, Any]:
        return {
            "access_token": tokens.access_token,
            "refresh_token": tokens.refresh_token,
            "access_expires_at": at + timedelta(seconds=tokens.expires_in),
            "refresh_expires_at": at + timedelta(seconds=tokens.refresh_expires_in)
            if tokens.refresh_expires_in else None,
        }

    async def create(self, subject: str, tokens: Tokens) -> Session:
        """A new session (a new id: never one the browser brought along)."""
        sid, at = new_token(), now()
        doc = {"_id": _key(sid), "csrf": new_token(), "subject": subject, "id_token": tokens.id_token,
               "created_at": at, "expires_at": at + self.lifetime, **self._token_fields(tokens, at)}
        await self.col.insert_one(doc)
        return self._session(sid, doc)

    async def get(self, sid: str) -> Session | None:
        if not sid or len(sid) > 100:
            return None
        doc = await self.col.find_one({"_id": _key(sid)})
        if doc is None or doc["expires_at"] <= now():
            return None
        return self._session(sid, doc)

    async def refreshed(self, session: Session, tokens: Tokens) -> Session:
        at = now()
        fields = self._token_fields(tokens, at)
        if not tokens.refresh_token:  # the IdP kept the refresh token
            fields.pop("refresh_token")
            fields.pop("refresh_expires_at")
        if tokens.id_token:
            fields["id_token"] = tokens.id_token
        await self.col.update_one({"_id": _key(session.id)}, {"$set": fields})
        doc = await self.col.find_one({"_id": _key(session.id)})
        return self._session(session.id, doc) if doc else session

    async def delete(self, sid: str) -> bool:
        return (await self.col.delete_one({"_id": _key(sid)})).deleted_count == 1

    @staticmethod
    def _session(sid: str, doc: dict[str, Any]) -> Session:
        return Session(id=sid, csrf=doc["csrf"], subject=doc["subject"], access_token=doc["access_token"],
                       refresh_token=doc.get("refresh_token") or "", id_token=doc.get("id_token") or "",
                       access_expires_at=doc["access_expires_at"], refresh_expires_at=doc.get("refresh_expires_at"),
                       expires_at=doc["expires_at"])


# -- signed values (the sign-in state cookie, the applicants' CSRF token) ----------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    def __init__(self, secret: str) -> None:
        self.key = hashlib.sha256(("gongkai-web:" + secret).encode()).digest()

    def mac(self, purpose: str, value: str) -> str:
        return _b64(hmac.new(self.key, f"{purpose}\x00{value}".encode(), hashlib.sha256).digest())

    def dumps(self, purpose: str, data: dict[str, Any], max_age: float) -> str:
        body = _b64(json.dumps({**data, "exp": time.time() + max_age}, separators=(",", ":")).encode())
        return f"{body}.{self.mac(purpose, body)}"

    def loads(self, purpose: str, text: str | None) -> dict[str, Any] | None:
        """The data, or None when the signature is wrong, the value expired or is malformed."""
        if not text or len(text) > 4000 or "." not in text:
            return None
        body, _, mac = text.rpartition(".")
        if not hmac.compare_digest(mac.encode(), self.mac(purpose, body).encode()):
            return None
        try:
            data = json.loads(_unb64(body))
        except (ValueError, UnicodeDecodeError):
            return None
        if not isinstance(data, dict) or not isinstance(data.get("exp"), (int, float)) or data["exp"] < time.time():
            return None
        return data
