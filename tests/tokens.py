"""Officers' tokens for in-process tests: a local test issuer signs JWTs with its own key, and
the services under test trust it through a pinned JWKS file (``GONGKAI_OIDC_JWKS_FILE``). The
end-to-end tests use the real identity provider (Keycloak) instead: tests/e2e/idp.py."""

from __future__ import annotations

import json
import tempfile
import time
import uuid
from functools import lru_cache
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

ISSUER = "https://idp.test.gongkai/realms/gongkai"
AUDIENCE = "gongkai-api"
KID = "test-key-1"


@lru_cache(maxsize=None)
def _key(kid: str = KID) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwks(*kids: str) -> dict[str, Any]:
    keys = []
    for kid in kids or (KID,):
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(_key(kid).public_key()))
        keys.append({**jwk, "kid": kid, "use": "sig", "alg": "RS256"})
    return {"keys": keys}


@lru_cache(maxsize=1)
def jwks_file() -> str:
    path = Path(tempfile.mkdtemp(prefix="gongkai-jwks-")) / "jwks.json"
    path.write_text(json.dumps(jwks()), encoding="utf-8")
    return str(path)


def oidc_env() -> dict[str, str]:
    """Environment that makes a service built in-process trust the test issuer."""
    return {"GONGKAI_OIDC_ISSUER": ISSUER, "GONGKAI_OIDC_AUDIENCE": AUDIENCE, "GONGKAI_OIDC_JWKS_FILE": jwks_file(),
            "GONGKAI_ENV": "development"}


def token(*roles: str, department: str | None = None, sub: str | None = None, name: str = "测试人员",
          username: str | None = None, kid: str = KID, issuer: str = ISSUER, audience: str = AUDIENCE,
          lifetime: int = 4 * 3600, **claims: Any) -> str:  # noqa: ANN401
    now = int(time.time())
    sub = sub or str(uuid.uuid4())
    body: dict[str, Any] = {
        "iss": issuer, "aud": audience, "sub": sub, "iat": now, "nbf": now - 1, "exp": now + lifetime,
        "preferred_username": username or f"user-{sub[:8]}", "name": name,
        "realm_access": {"roles": list(roles)}, **claims,
    }
    if department:
        body["department"] = department
    return jwt.encode(body, _key(kid), algorithm="RS256", headers={"kid": kid})


def bearer(*roles: str, **kw: Any) -> dict[str, str]:  # noqa: ANN401
    return {"Authorization": f"Bearer {token(*roles, **kw)}"}
