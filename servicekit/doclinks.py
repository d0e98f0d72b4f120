"""Signed document links between services: notify fetches a case document's PDF from the reply
service to attach it to the applicant's notice.

The request carries ``X-Gongkai-Document-Signature: <expires>.<hex>``, the HMAC-SHA256 of
``"gongkai-document/v1" NUL document id NUL expires`` (Unix seconds) with the deployment's secret
shared by the two services only (``REPLY_DOCUMENT_LINK_SECRET`` = ``NOTIFY_DOCUMENT_LINK_SECRET``;
production refuses to start without it). A signature is good for one document and a few minutes;
a wrong, expired or missing one is answered as an unknown document (404), without a look-up.
"""

from __future__ import annotations

import hashlib
import hmac
import time

HEADER = "X-Gongkai-Document-Signature"
LIFETIME_SECONDS = 300
_CONTEXT = b"gongkai-document/v1"


def _mac(secret: str, document_id: str, expires: int) -> str:
    msg = b"\x00".join((_CONTEXT, document_id.encode(), str(expires).encode()))
    return hmac.new(secret.encode(), msg, hashlib.sha256).hexdigest()


def sign(secret: str, document_id: str, now: float | None = None, lifetime: int = LIFETIME_SECONDS) -> str:
    expires = int(now if now is not None else time.time()) + lifetime
    return f"{expires}.{_mac(secret, document_id, expires)}"


def verify(secret: str, document_id: str, signature: str | None, now: float | None = None) -> bool:
    if not secret or not signature or "." not in signature:
        return False
    raw_expires, _, mac = signature.partition(".")
    if not raw_expires.isdigit() or len(raw_expires) > 12:
        return False
    expires = int(raw_expires)
    current = now if now is not None else time.time()
    if expires < current or expires > current + 2 * LIFETIME_SECONDS:
        return False
    return hmac.compare_digest(mac, _mac(secret, document_id, expires))
