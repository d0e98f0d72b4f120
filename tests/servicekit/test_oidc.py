"""servicekit.oidc: what makes a token acceptable, and what the guard answers."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import jwt
import pytest
from fastapi import Depends, FastAPI

from contracts.access import ROUTES, Access, Role
from servicekit.oidc import AccessGuard, InvalidToken, KeysUnavailable, OidcSettings, Principal, TokenVerifier, officer
from tests import tokens


def verifier(**kw) -> TokenVerifier:  # noqa: ANN003
    return TokenVerifier(OidcSettings(issuer=tokens.ISSUER, audience=tokens.AUDIENCE, jwks_file=tokens.jwks_file(),
                                      **kw))


async def test_valid_token_gives_subject_name_roles_department() -> None:
    p = await verifier().verify(tokens.token("dept_officer", department="zrzy", sub="s-1", name="李四",
                                             username="zrzy-officer"))
    assert p == Principal(subject="s-1", username="zrzy-officer", name="李四", roles=frozenset({"dept_officer"}),
                          department="zrzy")
    assert p.display == "李四"


@pytest.mark.parametrize(("change", "message"), [
    ({"issuer": "https://evil.example/realms/gongkai"}, "iss"),
    ({"audience": "account"}, "aud"),
    ({"lifetime": -120}, "过期"),
])
async def test_wrong_issuer_audience_or_expired_is_refused(change: dict, message: str) -> None:
    with pytest.raises(InvalidToken, match=message):
        await verifier().verify(tokens.token("ogi_officer", **change))


async def test_not_yet_valid_token_is_refused() -> None:
    with pytest.raises(InvalidToken, match="尚未生效"):
        await verifier().verify(tokens.token("ogi_officer", nbf=int(time.time()) + 600))


async def test_tampered_payload_is_refused() -> None:
    tok = tokens.token("dept_officer", department="zrzy")
    head, body, sig = tok.split(".")
    claims = json.loads(jwt.utils.base64url_decode(body))
    claims["realm_access"]["roles"] = ["ogi_head"]
    forged = ".".join([head, jwt.utils.base64url_encode(json.dumps(claims).encode()).decode(), sig])
    with pytest.raises(InvalidToken):
        await verifier().verify(forged)


async def test_unsigned_and_symmetric_tokens_are_refused() -> None:
    claims = {"iss": tokens.ISSUER, "aud": tokens.AUDIENCE, "sub": "x", "exp": int(time.time()) + 60,
              "realm_access": {"roles": ["ogi_head"]}}
    none_token = jwt.encode(claims, key=None, algorithm="none", headers={"kid": tokens.KID})
    with pytest.raises(InvalidToken):
        await verifier().verify(none_token)
    # HS256 keyed with the public key (the classic algorithm confusion), signed by hand since
    # PyJWT refuses to produce it.
    header = jwt.utils.base64url_encode(json.dumps({"alg": "HS256", "kid": tokens.KID}).encode())
    payload = jwt.utils.base64url_encode(json.dumps(claims).encode())
    secret = json.dumps(tokens.jwks()["keys"][0]).encode()
    mac = hmac.new(secret, header + b"." + payload, hashlib.sha256).digest()
    hs = b".".join([header, payload, jwt.utils.base64url_encode(mac)]).decode()
    with pytest.raises(InvalidToken):
        await verifier().verify(hs)


async def test_token_signed_by_another_key_is_refused() -> None:
    with pytest.raises(InvalidToken, match="密钥未知"):
        await verifier().verify(tokens.token("ogi_head", kid="attacker-key"))


async def test_no_issuer_configured_accepts_nothing() -> None:
    with pytest.raises(InvalidToken, match="GONGKAI_OIDC_ISSUER"):
        await TokenVerifier(OidcSettings(issuer="")).verify(tokens.token("ogi_head"))


class _Jwks:
    """A tiny issuer on loopback: discovery document and JWKS, counting fetches."""

    def __init__(self, kids: list[str]) -> None:
        self.kids = kids
        self.fetches = 0
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                if self.path.endswith("/.well-known/openid-configuration"):
                    body = {"issuer": outer.issuer, "jwks_uri": outer.issuer + "/certs"}
                else:
                    outer.fetches += 1
                    body = tokens.jwks(*outer.kids)
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *a) -> None:  # noqa: ANN002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}/realms/gongkai"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


async def test_keys_come_from_discovery_are_cached_and_rotation_is_picked_up() -> None:
    idp = _Jwks(["k1"])
    try:
        v = TokenVerifier(OidcSettings(issuer=idp.issuer, audience=tokens.AUDIENCE, jwks_min_refetch_seconds=0))
        for _ in range(3):
            await v.verify(tokens.token("auditor", kid="k1", issuer=idp.issuer))
        assert idp.fetches == 1  # cached
        idp.kids = ["k1", "k2"]  # the issuer rotates to a new key
        p = await v.verify(tokens.token("auditor", kid="k2", issuer=idp.issuer))
        assert p.roles == {"auditor"} and idp.fetches == 2
    finally:
        idp.close()


async def test_unknown_key_ids_do_not_refetch_more_often_than_allowed() -> None:
    idp = _Jwks(["k1"])
    try:
        v = TokenVerifier(OidcSettings(issuer=idp.issuer, audience=tokens.AUDIENCE, jwks_min_refetch_seconds=60))
        await v.verify(tokens.token("auditor", kid="k1", issuer=idp.issuer))
        for i in range(5):
            with pytest.raises(InvalidToken):
                await v.verify(tokens.token("auditor", kid=f"forged-{i}", issuer=idp.issuer))
        assert idp.fetches == 1
    finally:
        idp.close()


class _CountingDecode:
    """Counts the signature checks (``jwt.decode`` calls) of the verifier."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        real = jwt.decode

        def decode(*a, **kw):  # noqa: ANN002, ANN003, ANN202
            self.calls += 1
            return real(*a, **kw)

        monkeypatch.setattr("servicekit.oidc.jwt.decode", decode)


async def test_a_verified_token_is_remembered_and_not_checked_again(monkeypatch: pytest.MonkeyPatch) -> None:
    counted = _CountingDecode(monkeypatch)
    v = verifier()
    tok = tokens.token("dept_officer", department="zrzy", sub="s-1")
    first = await v.verify(tok)
    assert await v.verify(tok) == first and await v.verify(tok) == first
    assert counted.calls == 1
    # A different token (even of the same officer) is checked; a refused one is never remembered.
    await v.verify(tokens.token("dept_officer", department="zrzy", sub="s-2"))
    assert counted.calls == 2
    bad = tokens.token("ogi_officer", audience="account")
    for _ in range(2):
        with pytest.raises(InvalidToken):
            await v.verify(bad)
    assert counted.calls == 4
    assert all(len(k) == 32 for k in v._verified)  # kept by the token's hash, not the token


async def test_remembered_tokens_expire_with_the_ttl_and_never_outlive_exp(monkeypatch: pytest.MonkeyPatch) -> None:
    counted = _CountingDecode(monkeypatch)
    v = verifier(token_cache_seconds=60)
    tok = tokens.token("auditor")
    await v.verify(tok)
    clock = time.monotonic() + 61
    monkeypatch.setattr("servicekit.oidc.time.monotonic", lambda: clock)
    await v.verify(tok)  # past the TTL: checked again
    assert counted.calls == 2
    monkeypatch.undo()
    counted = _CountingDecode(monkeypatch)
    short = tokens.token("auditor", lifetime=2)
    await v.verify(short)
    wall = time.time() + 3  # past exp (within the leeway jwt.decode allows, so it still verifies)
    monkeypatch.setattr("servicekit.oidc.time.time", lambda: wall)
    assert v._verified  # remembered ...
    assert await v._remembered(next(reversed(v._verified))) is None  # ... but never past its exp


async def test_the_cache_is_bounded_and_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    v = verifier(token_cache_size=3)
    toks = [tokens.token("auditor", sub=f"s-{i}") for i in range(5)]
    for t in toks:
        await v.verify(t)
    assert len(v._verified) == 3
    counted = _CountingDecode(monkeypatch)
    await v.verify(toks[-1])  # recent: remembered
    await v.verify(toks[0])  # least recently used: dropped
    assert counted.calls == 1
    off = verifier(token_cache_seconds=0)
    await off.verify(toks[0])
    await off.verify(toks[0])
    assert counted.calls == 3 and not off._verified


async def test_a_remembered_token_of_a_revoked_key_is_refused_at_the_next_key_refresh() -> None:
    idp = _Jwks(["k1", "k2"])
    try:
        v = TokenVerifier(OidcSettings(issuer=idp.issuer, audience=tokens.AUDIENCE, jwks_min_refetch_seconds=0,
                                       jwks_lifespan_seconds=300))
        tok = tokens.token("ogi_head", kid="k1", issuer=idp.issuer)
        await v.verify(tok)
        await v.verify(tok)
        assert idp.fetches == 1
        idp.kids = ["k2"]  # the issuer revokes k1
        v.keys._fetched_at -= 301  # the keys' lifespan is over: the next use refreshes them
        with pytest.raises(InvalidToken, match="密钥未知"):
            await v.verify(tok)
        assert idp.fetches >= 2  # refreshed (and once more for the kid it no longer names)
        assert (await v.verify(tokens.token("ogi_head", kid="k2", issuer=idp.issuer))).roles == {"ogi_head"}
    finally:
        idp.close()


def _app(table: dict) -> FastAPI:
    guard = AccessGuard("svc", verifier())
    guard.table = table
    app = FastAPI(dependencies=[Depends(guard)])

    @app.get("/open")
    async def open_() -> dict:
        return {"ok": True}

    @app.get("/closed")
    async def closed(p: Principal = Depends(officer)) -> dict:
        return {"who": p.display}

    @app.get("/unlisted")
    async def unlisted() -> dict:
        return {"ok": True}

    return app


async def test_guard_answers_401_403_and_lets_the_right_role_in() -> None:
    table = {("GET", "/open"): Access(public=True), ("GET", "/closed"): Access(roles=frozenset({Role.OGI_HEAD}))}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=_app(table)), base_url="http://t") as c:
        assert (await c.get("/open")).status_code == 200
        r = await c.get("/closed")
        assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
        # A header naming a role is nothing.
        assert (await c.get("/closed", headers={"X-Role": "ogi_head", "X-User": "boss"})).status_code == 401
        r = await c.get("/closed", headers=tokens.bearer("ogi_officer"))
        assert r.status_code == 403 and "公开办负责人" in r.json()["detail"]
        r = await c.get("/closed", headers=tokens.bearer("ogi_head", name="赵六"))
        assert r.status_code == 200 and r.json() == {"who": "赵六"}
        r = await c.get("/closed", headers={"Authorization": "Bearer not-a-jwt"})
        assert r.status_code == 401
        # Not in the table: closed, whatever the token.
        assert (await c.get("/unlisted", headers=tokens.bearer(*[r.value for r in Role]))).status_code == 403


async def test_an_unreachable_identity_provider_is_a_503_to_retry_not_a_refused_token() -> None:
    """A service that (re)starts while the IdP is down knows no keys yet: it cannot tell a good token
    from a bad one, so it asks the caller to retry (503, Retry-After) instead of refusing (401);
    once the IdP answers, the same token passes."""
    idp = _Jwks(["k1"])
    issuer = idp.issuer
    idp.close()  # down
    v = TokenVerifier(OidcSettings(issuer=issuer, audience=tokens.AUDIENCE, jwks_min_refetch_seconds=0))
    good = tokens.token("ogi_head", kid="k1", issuer=issuer)
    with pytest.raises(KeysUnavailable):
        await v.verify(good)
    guard = AccessGuard("svc", v)
    guard.table = {("GET", "/closed"): Access(roles=frozenset({Role.OGI_HEAD}))}
    app = FastAPI(dependencies=[Depends(guard)])

    @app.get("/closed")
    async def closed(p: Principal = Depends(officer)) -> dict:
        return {"who": p.subject}

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        r = await c.get("/closed", headers={"Authorization": f"Bearer {good}"})
        assert r.status_code == 503 and r.headers["retry-after"] == "5"
        assert "身份提供方暂不可用" in r.json()["detail"]
        assert (await c.get("/closed")).status_code == 401  # no token at all is still a 401


def test_every_protected_route_names_at_least_one_role() -> None:
    for service, routes in ROUTES.items():
        for key, acc in routes.items():
            assert acc.public or acc.roles, (service, key)
            assert not (acc.public and acc.roles), (service, key)
