"""Webhook subscriptions registered with an application: the signing secret given to the applicant
(Standard Webhooks) and the shape of the destination accepted at intake. Pure domain logic.

The secret is "whsec_" + base64 of 32 random bytes, the format of the Standard Webhooks spec and
of its ``standardwebhooks`` package (``Webhook(secret)`` strips the prefix and decodes the rest);
notify signs every delivery with it (``webhook-id``, ``webhook-timestamp``, ``webhook-signature``).

Intake checks only the address's shape: http or https (https only in production, unless the host
is on the allow-list), a host, no user name or password in it. Where the address resolves to is
checked by notify when it sends (loopback, private, link-local and metadata ranges refused), since
a name can resolve elsewhere by then.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Collection
from urllib.parse import urlsplit

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def url_problem(url: str, *, production: bool, allow_hosts: Collection[str] = ()) -> str | None:
    """Why a webhook address is refused (Chinese, for the applicant), or None when it is accepted."""
    parts = urlsplit(url)
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if scheme not in ("http", "https"):
        return "回调地址须以 http:// 或 https:// 开头"
    if not host:
        return "回调地址须包含主机名"
    if parts.username is not None or parts.password is not None:
        return "回调地址不得包含用户名或密码"
    allowed = {h.strip().lower() for h in allow_hosts if h.strip()}
    if production and scheme != "https" and host not in allowed:
        return "回调地址须使用 https://"
    return None
