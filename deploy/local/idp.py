"""The local identity provider (Keycloak, realm ``gongkai``; deploy/local/keycloak/) from Python.

- ``issuer(port)``: the issuer URL of the local realm;
- ``wait_ready(issuer, timeout)``: until the issuer's discovery document answers (infra.sh start);
- ``password_token(issuer, username)``: an officer's access token from the password grant of the
  local development client ``gongkai-dev`` (demo and tests only; agencies do not enable such a
  client), cached per user until shortly before it expires.

Only standard OpenID Connect is used (discovery document, token endpoint), nothing of Keycloak's
own API. Command line:

    python -m deploy.local.idp token ogi-head          # prints an access token (local stack)
    python -m deploy.local.idp wait --issuer URL --timeout 120 --pid PID
    python -m deploy.local.idp issuer                   # the local issuer (KEYCLOAK_PORT)
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import threading
import time
from typing import Any

import httpx

from deploy.local.readiness import alive

REALM = "gongkai"
DEV_CLIENT = "gongkai-dev"
DEV_PASSWORD = "gongkai-dev"  # every sample user's password in the local realm (local only)
DEFAULT_PORT = 18080
# A cached token is handed out only while it is valid for at least this long.
MIN_VALIDITY_SECONDS = 60.0


class IdpError(RuntimeError):
    """The identity provider refused or could not be reached."""


def issuer(port: int = DEFAULT_PORT, host: str = "127.0.0.1", realm: str = REALM) -> str:
    return f"http://{host}:{port}/realms/{realm}"


def local_issuer() -> str:
    """The local stack's issuer: GONGKAI_OIDC_ISSUER, else the realm on KEYCLOAK_PORT (default 18080)."""
    return os.environ.get("GONGKAI_OIDC_ISSUER") or issuer(int(os.environ.get("KEYCLOAK_PORT", DEFAULT_PORT)))


_discovery: dict[str, dict[str, Any]] = {}
_tokens: dict[tuple[str, str, str, str], tuple[str, float]] = {}
_lock = threading.Lock()


def discovery(issuer_url: str, timeout: float = 10.0) -> dict[str, Any]:
    """The issuer's OpenID Connect discovery document (cached per issuer once fetched)."""
    issuer_url = issuer_url.rstrip("/")
    doc = _discovery.get(issuer_url)
    if doc is None:
        doc = _fetch_discovery(issuer_url, timeout)
        _discovery[issuer_url] = doc
    return doc


def _fetch_discovery(issuer_url: str, timeout: float) -> dict[str, Any]:
    resp = httpx.get(f"{issuer_url}/.well-known/openid-configuration", timeout=timeout)
    resp.raise_for_status()
    doc = resp.json()
    if doc.get("issuer") != issuer_url:
        raise IdpError(f"discovery document of {issuer_url} names another issuer: {doc.get('issuer')!r}")
    return doc


def wait_ready(issuer_url: str, timeout: float = 120.0, pid: int | None = None) -> dict[str, Any]:
    """Wait until the issuer's discovery document answers (and names this issuer); return it.

    Raises TimeoutError after ``timeout`` seconds, IdpError at once if process ``pid`` exits."""
    issuer_url = issuer_url.rstrip("/")
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while True:
        if not alive(pid):
            raise IdpError(f"the identity provider's process {pid} exited before {issuer_url} answered")
        try:
            doc = _fetch_discovery(issuer_url, timeout=max(1.0, min(5.0, deadline - time.monotonic())))
            _discovery[issuer_url] = doc
            return doc
        except IdpError:
            raise
        except (httpx.HTTPError, ValueError) as exc:  # not ready yet
            last = exc
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{issuer_url} not ready after {timeout:.0f} s: {last!r}")
        time.sleep(0.5)


def password_token(issuer_url: str, username: str, password: str = DEV_PASSWORD, client_id: str = DEV_CLIENT,
                   *, min_validity: float = MIN_VALIDITY_SECONDS) -> str:
    """An access token of ``username`` (resource owner password grant), reused until near expiry."""
    issuer_url = issuer_url.rstrip("/")
    # Keyed by the password too: another password must be tried, not answered from the cache.
    key = (issuer_url, client_id, username, hashlib.sha256(password.encode()).hexdigest())
    with _lock:
        cached = _tokens.get(key)
    if cached and cached[1] - time.monotonic() > min_validity:
        return cached[0]
    endpoint = discovery(issuer_url)["token_endpoint"]
    sent = time.monotonic()
    try:
        resp = httpx.post(endpoint, data={"grant_type": "password", "client_id": client_id,
                                          "username": username, "password": password}, timeout=30)
    except httpx.HTTPError as exc:
        raise IdpError(f"token endpoint {endpoint} unreachable: {exc!r}") from exc
    body = resp.json() if resp.headers.get("content-type", "").startswith("application/json") else {}
    if resp.status_code != 200 or "access_token" not in body:
        detail = body.get("error_description") or body.get("error") or resp.text[:200]
        raise IdpError(f"no token for {username!r} from {issuer_url} ({resp.status_code}): {detail}")
    token = str(body["access_token"])
    with _lock:
        _tokens[key] = (token, sent + float(body.get("expires_in", 0)))
    return token


def clear_cache() -> None:
    with _lock:
        _tokens.clear()
        _discovery.clear()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    tok = sub.add_parser("token", help="print an access token of a local sample user")
    tok.add_argument("username")
    tok.add_argument("--issuer", default=None, help="default: GONGKAI_OIDC_ISSUER, else the local realm")
    tok.add_argument("--password", default=DEV_PASSWORD)
    tok.add_argument("--client-id", default=DEV_CLIENT)
    wait = sub.add_parser("wait", help="wait until the issuer answers (exit 1 on timeout)")
    wait.add_argument("--issuer", default=None)
    wait.add_argument("--timeout", type=float, default=120.0)
    wait.add_argument("--pid", type=int, default=None, help="stop waiting when this process exits")
    sub.add_parser("issuer", help="print the local issuer")
    args = parser.parse_args(argv)
    if args.command == "issuer":
        print(local_issuer())
        return 0
    url = args.issuer or local_issuer()
    try:
        if args.command == "token":
            print(password_token(url, args.username, args.password, args.client_id))
        else:
            wait_ready(url, args.timeout, args.pid)
    except (IdpError, TimeoutError) as exc:
        print(f"idp: {exc}", file=sys.stderr)
        return 1
    except httpx.HTTPError as exc:
        print(f"idp: {url} unreachable ({exc}); is it running? (deploy/local/infra.sh start keycloak)",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
