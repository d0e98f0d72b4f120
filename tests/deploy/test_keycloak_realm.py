"""The local identity provider's realm (deploy/local/keycloak/realm-gongkai.json).

Without Keycloak: the realm file is the generator's output from the routing directory, every
department has its officers and reviewer with the right attribute and roles, every role of
contracts.access exists, the clients are what the services and the web workbench need.
With the real Keycloak (``e2e``, one per session: tests/idp_fixture.py): its tokens verify with
servicekit.oidc.TokenVerifier and carry iss/aud/roles/department/name; a tampered token, a token
for another audience and the web client without PKCE are refused.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import secrets
import urllib.parse
from typing import Any

import httpx
import jwt
import pytest

from contracts.access import Role
from deploy.local import idp
from deploy.local.keycloak import realm as gen
from servicekit.oidc import InvalidToken, OidcSettings, TokenVerifier
from tests.idp_fixture import Keycloak

REALM: dict[str, Any] = json.loads(gen.REALM_FILE.read_text(encoding="utf-8"))
DIRECTORY = gen.load_directory()
_HOME = next(a for a in DIRECTORY["agencies"] if a["code"] == DIRECTORY["home_agency"])
DEPARTMENTS = [d["code"] for d in _HOME["departments"]]
OGI = _HOME["ogi_office"]["code"]
USERS: dict[str, dict[str, Any]] = {u["username"]: u for u in REALM["users"]}
CLIENTS: dict[str, dict[str, Any]] = {c["clientId"]: c for c in REALM["clients"]}
SCOPES: dict[str, dict[str, Any]] = {s["name"]: s for s in REALM["clientScopes"]}
ALL_ROLES = {r.value for r in Role}
HAN = re.compile(r"^[\u4e00-\u9fff]+$")


def attr(user: dict[str, Any], name: str) -> str | None:
    values = user.get("attributes", {}).get(name)
    return values[0] if values else None


def mappers(scope: str) -> dict[str, dict[str, Any]]:
    return {m["name"]: m for m in SCOPES[scope]["protocolMappers"]}


# ---------------------------------------------------------------- the realm file, without Keycloak
def test_realm_file_is_the_generators_output_from_the_directory() -> None:
    assert gen.REALM_FILE.read_text(encoding="utf-8") == gen.render(DIRECTORY), \
        "stale: run python -m deploy.local.keycloak.realm"
    assert REALM["realm"] == "gongkai" and REALM["enabled"] is True
    assert len(DEPARTMENTS) >= 15 and OGI == "ogi"


@pytest.mark.parametrize("dept", DEPARTMENTS)
def test_every_department_has_two_officers_and_a_reviewer(dept: str) -> None:
    for username, role in ((f"{dept}-officer", Role.DEPT_OFFICER), (f"{dept}-officer2", Role.DEPT_OFFICER),
                           (f"{dept}-reviewer", Role.DEPT_REVIEWER)):
        user = USERS[username]
        assert user["realmRoles"] == [role.value], username
        assert attr(user, "department") == dept, username


def test_every_role_exists_and_no_other() -> None:
    assert {r["name"] for r in REALM["roles"]["realm"]} == ALL_ROLES
    used = {role for u in REALM["users"] for role in u["realmRoles"]}
    assert used == ALL_ROLES  # every role has at least one sample user, none an unknown role


def test_ogi_office_and_the_other_users() -> None:
    expected = {
        f"{OGI}-officer": ({"ogi_officer"}, OGI), f"{OGI}-officer2": ({"ogi_officer"}, OGI),
        f"{OGI}-head": ({"ogi_head", "ogi_officer"}, OGI),
        "dir-admin": ({"directory_admin"}, None), "auditor": ({"auditor"}, None), "nobody": (set(), None),
        "head-only": ({"ogi_head"}, OGI),
    }
    for username, (roles, dept) in expected.items():
        assert set(USERS[username]["realmRoles"]) == roles, username
        assert attr(USERS[username], "department") == dept, username
    assert len(USERS) == 3 * len(DEPARTMENTS) + len(expected)


def test_sample_users_log_in_locally_with_a_chinese_display_name() -> None:
    names = set()
    for username, user in USERS.items():
        assert user["enabled"] and user["emailVerified"] and not user.get("requiredActions"), username
        assert [(c["type"], c["value"], c["temporary"]) for c in user["credentials"]] == \
            [("password", idp.DEV_PASSWORD, False)], username
        assert HAN.match(user["firstName"]) and HAN.match(user["lastName"]), username
        assert attr(user, "displayName") == user["lastName"] + user["firstName"], username  # 姓 then 名
        names.add(attr(user, "displayName"))
    assert len(names) == len(USERS)  # nobody is mistaken for another in a timeline


def test_user_profile_declares_department_with_the_directorys_codes() -> None:
    (component,) = REALM["components"]["org.keycloak.userprofile.UserProfileProvider"]
    config = json.loads(component["config"]["kc.user.profile.config"][0])
    declared = {a["name"]: a for a in config["attributes"]}
    assert declared["department"]["validations"]["options"]["options"] == DEPARTMENTS + [OGI]
    assert declared["department"]["permissions"]["edit"] == ["admin"]  # an officer cannot move department
    for user in REALM["users"]:
        assert set(user["attributes"]) <= set(declared), user["username"]


def test_access_tokens_carry_audience_roles_department_and_name() -> None:
    assert REALM["accessTokenLifespan"] == 15 * 60
    g = mappers("gongkai")
    assert g["audience gongkai-api"]["protocolMapper"] == "oidc-audience-mapper"
    assert g["audience gongkai-api"]["config"]["included.client.audience"] == "gongkai-api"
    assert g["audience gongkai-api"]["config"]["access.token.claim"] == "true"
    assert g["department"]["config"]["user.attribute"] == "department"
    assert g["department"]["config"]["claim.name"] == "department"
    assert mappers("roles")["realm roles"]["config"]["claim.name"] == "realm_access.roles"
    name = mappers("profile")["display name"]["config"]
    assert (name["user.attribute"], name["claim.name"], name["access.token.claim"]) == ("displayName", "name", "true")
    assert mappers("profile")["username"]["config"]["claim.name"] == "preferred_username"
    assert "oidc-sub-mapper" in {m["protocolMapper"] for m in mappers("basic").values()}
    # No full-name mapper ("given family" with a space): name is the Chinese display name.
    assert "oidc-full-name-mapper" not in {m["protocolMapper"] for s in SCOPES for m in mappers(s).values()}
    for client in ("gongkai-web", "gongkai-dev"):
        c = CLIENTS[client]
        assert {"basic", "profile", "roles", "gongkai"} <= set(c["defaultClientScopes"]), client
        assert c["fullScopeAllowed"] is False, client  # only the six roles reach a token
    assert {m["client"]: set(m["roles"]) for m in REALM["scopeMappings"]} == \
        {"gongkai-web": ALL_ROLES, "gongkai-dev": ALL_ROLES}


def test_clients() -> None:
    api, web, dev = CLIENTS["gongkai-api"], CLIENTS["gongkai-web"], CLIENTS["gongkai-dev"]
    flows = ("standardFlowEnabled", "implicitFlowEnabled", "directAccessGrantsEnabled", "serviceAccountsEnabled")
    assert api["bearerOnly"] is True and not any(api[f] for f in flows)
    # The web workbench: confidential, authorization code with PKCE S256, nothing else.
    assert web["publicClient"] is False and web["clientAuthenticatorType"] == "client-secret" and web["secret"]
    assert [f for f in flows if web[f]] == ["standardFlowEnabled"]
    assert web["attributes"]["pkce.code.challenge.method"] == "S256"
    urls = ["http://127.0.0.1:8106/*", "http://localhost:8106/*", "http://127.0.0.1:28106/*", "http://127.0.0.1:38106/*"]
    assert web["redirectUris"] == urls
    assert web["attributes"]["post.logout.redirect.uris"].split("##") == urls
    # The development client: public, password grant only, and says it is not for agencies.
    assert dev["publicClient"] is True and [f for f in flows if dev[f]] == ["directAccessGrantsEnabled"]
    assert "must not" in dev["description"] and "不得启用" in dev["description"]


# ---------------------------------------------------------------- the real Keycloak (e2e)
def _claims(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def _verifier(kc: Keycloak, **kw: Any) -> TokenVerifier:  # noqa: ANN401
    return TokenVerifier(OidcSettings(issuer=kc.issuer, **kw))


@pytest.mark.e2e
@pytest.mark.parametrize("username", ["zrzy-officer", "zrzy-reviewer", "fgw-officer2", "ogi-head", "ogi-officer",
                                      "dir-admin", "auditor", "nobody"])
async def test_keycloak_tokens_verify_with_roles_department_and_name(keycloak: Keycloak, username: str) -> None:
    token = keycloak.token(username)
    raw = _claims(token)
    assert raw["iss"] == keycloak.issuer
    aud = raw["aud"] if isinstance(raw["aud"], list) else [raw["aud"]]
    assert "gongkai-api" in aud
    # 15 minutes; Keycloak takes iat and exp from two readings of its clock, which can fall either
    # side of a second's boundary (901 was seen on a busy machine).
    assert raw["exp"] - raw["iat"] in (15 * 60, 15 * 60 + 1)
    user = USERS[username]
    assert set(raw.get("realm_access", {}).get("roles", [])) == set(user["realmRoles"])

    principal = await _verifier(keycloak).verify(token)
    assert principal.username == username == raw["preferred_username"]
    assert principal.roles == set(user["realmRoles"])
    assert principal.department == attr(user, "department")
    assert principal.name == attr(user, "displayName") and HAN.match(principal.name)
    assert principal.subject == raw["sub"]


@pytest.mark.e2e
async def test_a_tampered_token_is_refused(keycloak: Keycloak) -> None:
    verifier = _verifier(keycloak)
    token = keycloak.token("zrzy-officer")
    assert (await verifier.verify(token)).department == "zrzy"
    header, payload, signature = token.split(".")
    i = len(payload) // 2
    flipped = payload[:i] + ("B" if payload[i] == "A" else "A") + payload[i + 1:]  # one payload character
    with pytest.raises(InvalidToken):
        await verifier.verify(".".join([header, flipped, signature]))
    # The attack that matters: another department's claim, well-formed, with the old signature.
    claims = _claims(token) | {"department": "czt"}
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(InvalidToken):
        await verifier.verify(".".join([header, forged, signature]))


@pytest.mark.e2e
async def test_a_token_for_another_audience_or_issuer_is_refused(keycloak: Keycloak) -> None:
    token = keycloak.token("ogi-head")
    with pytest.raises(InvalidToken, match="aud"):
        await _verifier(keycloak, audience="another-api").verify(token)
    # The right keys (this realm's JWKS), but another issuer trusted: refused on iss.
    jwks = idp.discovery(keycloak.issuer)["jwks_uri"]
    other = TokenVerifier(OidcSettings(issuer=keycloak.issuer.replace("/realms/gongkai", "/realms/other"),
                                       jwks_url=jwks))
    with pytest.raises(InvalidToken, match="iss"):
        await other.verify(token)


@pytest.mark.e2e
def test_only_the_dev_client_has_the_password_grant(keycloak: Keycloak) -> None:
    web = httpx.post(idp.discovery(keycloak.issuer)["token_endpoint"], data={
        "grant_type": "password", "client_id": "gongkai-web", "client_secret": gen.WEB_CLIENT_SECRET,
        "username": "zrzy-officer", "password": idp.DEV_PASSWORD})
    assert web.status_code == 400 and web.json()["error"] == "unauthorized_client"
    with pytest.raises(idp.IdpError, match="(?i)invalid user credentials"):
        idp.password_token(keycloak.issuer, "nobody", password="not-the-password")


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


WEB_REDIRECT = "http://127.0.0.1:8106/callback"


def _authorize(kc: Keycloak, **params: str) -> httpx.Response:
    endpoint = idp.discovery(kc.issuer)["authorization_endpoint"]
    return httpx.get(endpoint, params={"client_id": "gongkai-web", "response_type": "code", "scope": "openid profile",
                                       "redirect_uri": WEB_REDIRECT, "state": "s1", **params})


def _login_code(kc: Keycloak, username: str, challenge: str) -> str:
    """Log in on Keycloak's login page as a browser would; the authorization code it redirects with."""
    page = _authorize(kc, code_challenge=challenge, code_challenge_method="S256")
    assert page.status_code == 200
    # Keycloak's cookies are Secure (a browser sends them to http://127.0.0.1, httpx does not): by hand.
    cookies = "; ".join(h.split(";", 1)[0] for h in page.headers.get_list("set-cookie"))
    action = html.unescape(re.search(r'<form[^>]*action="([^"]+)"', page.text).group(1))
    done = httpx.post(action, data={"username": username, "password": idp.DEV_PASSWORD},
                      headers={"Cookie": cookies})
    assert done.status_code == 302, done.text[:500]
    location = done.headers["location"]
    assert location.startswith(WEB_REDIRECT)
    return urllib.parse.parse_qs(urllib.parse.urlparse(location).query)["code"][0]


@pytest.mark.e2e
def test_the_web_client_requires_pkce_s256(keycloak: Keycloak) -> None:
    for params in ({}, {"code_challenge": _pkce()[1], "code_challenge_method": "plain"}):
        refused = _authorize(keycloak, **params)
        assert refused.status_code == 302
        query = urllib.parse.parse_qs(urllib.parse.urlparse(refused.headers["location"]).query)
        assert query["error"] == ["invalid_request"] and "code" not in query, params
    page = _authorize(keycloak, code_challenge=_pkce()[1], code_challenge_method="S256")
    assert page.status_code == 200 and "<form" in page.text  # the login page
    evil = _authorize(keycloak, code_challenge=_pkce()[1], code_challenge_method="S256",
                      redirect_uri="http://127.0.0.1:9999/steal")
    assert evil.status_code == 400  # unregistered redirect URI: no redirect at all


@pytest.mark.e2e
async def test_the_web_client_code_flow_with_pkce(keycloak: Keycloak) -> None:
    token_endpoint = idp.discovery(keycloak.issuer)["token_endpoint"]
    exchange = {"grant_type": "authorization_code", "redirect_uri": WEB_REDIRECT, "client_id": "gongkai-web",
                "client_secret": gen.WEB_CLIENT_SECRET}
    verifier, challenge = _pkce()
    code = _login_code(keycloak, "ogi-head", challenge)
    refused = httpx.post(token_endpoint, data={**exchange, "code": code})  # no code_verifier
    assert refused.status_code == 400 and "access_token" not in refused.json()
    wrong = httpx.post(token_endpoint, data={**exchange, "code": _login_code(keycloak, "ogi-head", challenge),
                                             "code_verifier": _pkce()[0]})
    assert wrong.status_code == 400 and "access_token" not in wrong.json()
    ok = httpx.post(token_endpoint, data={**exchange, "code": _login_code(keycloak, "ogi-head", challenge),
                                          "code_verifier": verifier})
    assert ok.status_code == 200, ok.text
    principal = await _verifier(keycloak).verify(ok.json()["access_token"])
    assert principal.roles == {"ogi_head", "ogi_officer"} and principal.department == "ogi"
    assert _claims(ok.json()["access_token"])["azp"] == "gongkai-web"


@pytest.mark.e2e
async def test_a_second_start_with_the_same_run_dir_keeps_realm_and_keys(keycloak: Keycloak) -> None:
    if keycloak.run_dir is None:
        pytest.skip(f"{keycloak.issuer} was not started by this session")
    before = keycloak.token("auditor")
    again = keycloak.infra("start")  # running: nothing to do
    assert again.returncode == 0 and "already running" in again.stdout
    keycloak.stop()
    assert keycloak.infra("status").returncode != 0
    keycloak.start()
    assert "Import skipped" in keycloak.log.read_text(errors="replace")
    verifier = _verifier(keycloak)
    assert (await verifier.verify(before)).roles == {"auditor"}  # same signing keys after a restart
    idp.clear_cache()
    assert (await verifier.verify(keycloak.token("auditor"))).username == "auditor"
