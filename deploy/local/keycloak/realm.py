"""Generates the local identity provider's realm (realm-gongkai.json) from the routing directory.

    python -m deploy.local.keycloak.realm            # rewrite realm-gongkai.json
    python -m deploy.local.keycloak.realm --check    # exit 1 if the committed file is stale

The realm is for local development and tests only (infra.sh imports it into the Keycloak it starts
on loopback); agencies point ``GONGKAI_OIDC_ISSUER`` at their own unified identity platform
(统一身份认证) and need nothing from this file. Sources: the roles of ``contracts.access.Role`` and
the departments of the home agency in ``services/routing/directory.json`` (plus its OGI office).

What the services' access tokens carry (servicekit.oidc reads them):
- ``aud`` containing ``gongkai-api`` (audience mapper of the ``gongkai`` client scope);
- ``realm_access.roles``: the officer's Gongkai roles only (the clients' role scope is limited to
  the six roles, so Keycloak's default roles never appear);
- ``department``: the user attribute (a department code, or ``ogi`` for the OGI office);
- ``preferred_username``, ``name`` (the Chinese display name, family name first, no space: the
  ``displayName`` attribute, because Keycloak's full-name mapper would write "given family"),
  ``given_name``, ``family_name``, ``email``.
The realm therefore lists its client scopes itself (no Keycloak defaults are created), so that
every claim a token carries is written here.

Users (password ``gongkai-dev``, local only): per department ``<code>-officer``,
``<code>-officer2`` (dept_officer) and ``<code>-reviewer`` (dept_reviewer); ``ogi-officer``,
``ogi-officer2`` (ogi_officer), ``ogi-head`` (ogi_head and ogi_officer); ``dir-admin``,
``auditor``; ``nobody`` (no role: a valid token that may do nothing); ``head-only`` (ogi_head
alone, so that every cell of the role table can be tried with exactly one role).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from contracts.access import Role

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
REALM_FILE = HERE / "realm-gongkai.json"
DIRECTORY_FILE = REPO / "services" / "routing" / "directory.json"

REALM = "gongkai"
API_CLIENT = "gongkai-api"
WEB_CLIENT = "gongkai-web"
DEV_CLIENT = "gongkai-dev"
PASSWORD = "gongkai-dev"
# The confidential web workbench's secret on a developer's machine (never used outside loopback).
WEB_CLIENT_SECRET = "gongkai-web-local-dev-secret"
# ./dev up (8106), the test suites' stack (28106: tests/conftest.py) and the benchmark's (38106).
WEB_ORIGINS = ["http://127.0.0.1:8106", "http://localhost:8106", "http://127.0.0.1:28106", "http://127.0.0.1:38106"]
ACCESS_TOKEN_LIFESPAN = 15 * 60
PASSWORD_POLICY = "hashAlgorithm(pbkdf2-sha256) and hashIterations(1000)"
EMAIL_DOMAIN = "gongkai.example"  # RFC 2606: never delivered

ROLE_DESCRIPTIONS = {
    Role.DEPT_OFFICER: "部门经办人：办理本部门的答复任务",
    Role.DEPT_REVIEWER: "部门保密审查人：审核本部门的答复（不得审核本人起草的答复）",
    Role.OGI_OFFICER: "公开办经办人：分办、补正、征求意见、收费、窗口登记、办结",
    Role.OGI_HEAD: "公开办负责人：延期答复等须由负责人决定的事项",
    Role.DIRECTORY_ADMIN: "目录管理员：维护机关和部门目录",
    Role.AUDITOR: "审计人员：台账导出、案卷、统计、救济",
}

# Deterministic Chinese names: family names and given names combined by the user's index.
_FAMILY = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢"
_GIVEN = ["建国", "丽华", "志强", "秀英", "海燕", "晓明", "文静", "国栋", "春梅", "振华", "玉兰", "立新",
          "红霞", "德胜", "雪莲", "宏伟", "桂芳", "永康", "慧敏", "家豪", "淑珍", "子轩", "佳怡", "俊杰",
          "婉清", "明辉", "思远", "雅琴", "浩然", "欣怡", "国强", "美玲", "伟东", "晓燕", "天佑", "凤英",
          "嘉欣", "正阳", "若兰", "世杰", "静怡", "泽宇", "秋菊", "志远", "晨曦", "宇航", "梦琪", "光明",
          "巧玲", "云飞", "诗涵", "博文", "翠萍", "少华", "安琪"]


def home_departments(directory: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The home agency's departments (in directory order) and its OGI office."""
    home = next(a for a in directory["agencies"] if a["code"] == directory["home_agency"])
    return list(home["departments"]), home["ogi_office"]


def users(directory: dict[str, Any]) -> list[dict[str, Any]]:
    """(username, roles, department, what) of every sample user, in a stable order."""
    departments, ogi = home_departments(directory)
    plan: list[tuple[str, list[Role], str | None, str]] = []
    for dept in departments:
        code, name = dept["code"], dept["name"]
        plan += [(f"{code}-officer", [Role.DEPT_OFFICER], code, f"{name}经办人"),
                 (f"{code}-officer2", [Role.DEPT_OFFICER], code, f"{name}第二经办人"),
                 (f"{code}-reviewer", [Role.DEPT_REVIEWER], code, f"{name}保密审查人")]
    o = ogi["code"]
    plan += [(f"{o}-officer", [Role.OGI_OFFICER], o, f"{ogi['name']}经办人"),
             (f"{o}-officer2", [Role.OGI_OFFICER], o, f"{ogi['name']}第二经办人"),
             (f"{o}-head", [Role.OGI_HEAD, Role.OGI_OFFICER], o, f"{ogi['name']}负责人"),
             ("dir-admin", [Role.DIRECTORY_ADMIN], None, "目录管理员"),
             ("auditor", [Role.AUDITOR], None, "审计人员"),
             ("nobody", [], None, "没有任何角色的账号（用于测试拒绝访问）"),
             # Exactly one role, for the route matrix (tests/e2e/test_route_matrix.py).
             ("head-only", [Role.OGI_HEAD], o, f"{ogi['name']}负责人（仅负责人角色）")]
    out = []
    for i, (username, roles, department, what) in enumerate(plan):
        family, given = _FAMILY[i % len(_FAMILY)], _GIVEN[(i * 7) % len(_GIVEN)]
        attributes = {"displayName": [family + given]}
        if department:
            attributes["department"] = [department]
        out.append({
            "username": username,
            "enabled": True,
            "email": f"{username}@{EMAIL_DOMAIN}",
            "emailVerified": True,
            "firstName": given,
            "lastName": family,
            "attributes": attributes,
            "realmRoles": [r.value for r in roles],
            "credentials": [{"type": "password", "value": PASSWORD, "temporary": False,
                             "userLabel": f"本地开发口令（{what}）"}],
            "requiredActions": [],
        })
    return out


def _mapper(name: str, mapper: str, config: dict[str, str]) -> dict[str, Any]:
    return {"name": name, "protocol": "openid-connect", "protocolMapper": mapper, "consentRequired": False,
            "config": config}


def _claims(access: bool = True, id_token: bool = True, userinfo: bool = True,
            introspection: bool = True) -> dict[str, str]:
    flag = {True: "true", False: "false"}
    return {"access.token.claim": flag[access], "id.token.claim": flag[id_token],
            "userinfo.token.claim": flag[userinfo], "introspection.token.claim": flag[introspection]}


def _attribute(name: str, attribute: str, claim: str, json_type: str = "String", **kw: bool) -> dict[str, Any]:
    return _mapper(name, "oidc-usermodel-attribute-mapper",
                   {"user.attribute": attribute, "claim.name": claim, "jsonType.label": json_type, **_claims(**kw)})


def _scope(name: str, description: str, mappers: list[dict[str, Any]], in_token_scope: bool = True) -> dict[str, Any]:
    return {"name": name, "description": description, "protocol": "openid-connect",
            "attributes": {"include.in.token.scope": "true" if in_token_scope else "false",
                           "display.on.consent.screen": "false"},
            "protocolMappers": mappers}


def client_scopes(department_codes: list[str]) -> list[dict[str, Any]]:
    return [
        _scope("basic", "OpenID Connect basic claims: sub, auth_time", [
            _mapper("sub", "oidc-sub-mapper", {"access.token.claim": "true", "introspection.token.claim": "true"}),
            _mapper("auth_time", "oidc-usersessionmodel-note-mapper",
                    {"user.session.note": "AUTH_TIME", "claim.name": "auth_time", "jsonType.label": "long",
                     **_claims()}),
        ], in_token_scope=False),
        _scope("profile", "OpenID Connect profile claims (name is the Chinese display name)", [
            _attribute("username", "username", "preferred_username"),
            _attribute("given name", "firstName", "given_name"),
            _attribute("family name", "lastName", "family_name"),
            _attribute("display name", "displayName", "name"),
        ]),
        _scope("email", "OpenID Connect email claims", [
            _attribute("email", "email", "email"),
            _mapper("email verified", "oidc-usermodel-property-mapper",
                    {"user.attribute": "emailVerified", "claim.name": "email_verified", "jsonType.label": "boolean",
                     **_claims()}),
        ]),
        _scope("roles", "The officer's Gongkai roles in realm_access.roles", [
            _mapper("realm roles", "oidc-usermodel-realm-role-mapper",
                    {"claim.name": "realm_access.roles", "jsonType.label": "String", "multivalued": "true",
                     **_claims(id_token=False, userinfo=False)}),
        ], in_token_scope=False),
        _scope("acr", "Authentication context class reference", [
            _mapper("acr loa level", "oidc-acr-mapper", _claims(userinfo=False)),
        ], in_token_scope=False),
        _scope("web-origins", "Allowed origins of the web workbench (CORS)", [
            _mapper("allowed web origins", "oidc-allowed-origins-mapper",
                    {"access.token.claim": "true", "introspection.token.claim": "true"}),
        ], in_token_scope=False),
        _scope("gongkai", "Gongkai services: audience gongkai-api and the officer's department "
                          f"({', '.join(department_codes)})", [
            _mapper("audience gongkai-api", "oidc-audience-mapper",
                    {"included.client.audience": API_CLIENT, "access.token.claim": "true", "id.token.claim": "false",
                     "introspection.token.claim": "true"}),
            _attribute("department", "department", "department"),
        ], in_token_scope=False),
    ]


DEFAULT_SCOPES = ["basic", "profile", "email", "roles", "acr", "web-origins", "gongkai"]


def clients() -> list[dict[str, Any]]:
    none = {"standardFlowEnabled": False, "implicitFlowEnabled": False, "directAccessGrantsEnabled": False,
            "serviceAccountsEnabled": False, "frontchannelLogout": False}
    web_redirects = [f"{o}/*" for o in WEB_ORIGINS]
    return [
        {"clientId": API_CLIENT, "name": "Gongkai services (API)", "enabled": True,
         "description": "The services' audience (aud). Bearer-only: no flow issues tokens to it.",
         "bearerOnly": True, "publicClient": False, "protocol": "openid-connect", **none,
         "fullScopeAllowed": False, "defaultClientScopes": [], "optionalClientScopes": []},
        {"clientId": WEB_CLIENT, "name": "Gongkai web workbench", "enabled": True,
         "description": "The officers' web workbench: authorization code flow with PKCE (S256) only.",
         "protocol": "openid-connect", "publicClient": False, "bearerOnly": False,
         "clientAuthenticatorType": "client-secret", "secret": WEB_CLIENT_SECRET,
         **none, "standardFlowEnabled": True, "frontchannelLogout": True,
         "redirectUris": web_redirects, "webOrigins": WEB_ORIGINS, "rootUrl": WEB_ORIGINS[0],
         "attributes": {"pkce.code.challenge.method": "S256",
                        "post.logout.redirect.uris": "##".join(web_redirects),
                        "oauth2.device.authorization.grant.enabled": "false",
                        "oidc.ciba.grant.enabled": "false"},
         "fullScopeAllowed": False, "defaultClientScopes": DEFAULT_SCOPES, "optionalClientScopes": []},
        {"clientId": DEV_CLIENT, "name": "Gongkai local development (password grant)", "enabled": True,
         "description": "LOCAL DEVELOPMENT AND TESTS ONLY: a public client with the resource owner password "
                        "grant, used by the demo and the tests to get officers' tokens. Agencies must not enable "
                        "such a client on their identity platform."
                        "（仅限本地开发和测试，各机关的统一身份认证平台不得启用此类客户端。）",
         "protocol": "openid-connect", "publicClient": True, "bearerOnly": False,
         **none, "directAccessGrantsEnabled": True,
         "fullScopeAllowed": False, "defaultClientScopes": DEFAULT_SCOPES, "optionalClientScopes": []},
    ]


def user_profile(department_codes: list[str]) -> str:
    """Keycloak's declarative user profile: the standard attributes plus displayName and department."""
    admin_only = {"view": ["admin", "user"], "edit": ["admin"]}
    both = {"view": ["admin", "user"], "edit": ["admin", "user"]}
    config = {
        "attributes": [
            {"name": "username", "displayName": "${username}", "permissions": both, "multivalued": False,
             "validations": {"length": {"min": 3, "max": 255}, "username-prohibited-characters": {},
                             "up-username-not-idn-homograph": {}}},
            {"name": "email", "displayName": "${email}", "permissions": both, "multivalued": False,
             "required": {"roles": ["user"]}, "validations": {"email": {}, "length": {"max": 255}}},
            {"name": "firstName", "displayName": "${firstName}", "permissions": both, "multivalued": False,
             "required": {"roles": ["user"]},
             "validations": {"length": {"max": 255}, "person-name-prohibited-characters": {}}},
            {"name": "lastName", "displayName": "${lastName}", "permissions": both, "multivalued": False,
             "required": {"roles": ["user"]},
             "validations": {"length": {"max": 255}, "person-name-prohibited-characters": {}}},
            {"name": "displayName", "displayName": "姓名（显示名）", "permissions": admin_only, "multivalued": False,
             "validations": {"length": {"max": 64}, "person-name-prohibited-characters": {}}},
            {"name": "department", "displayName": "所属部门代码", "permissions": admin_only, "multivalued": False,
             "validations": {"options": {"options": department_codes}}},
        ],
        "groups": [{"name": "user-metadata", "displayHeader": "User metadata",
                    "displayDescription": "Attributes, which refer to user metadata"}],
    }
    return json.dumps(config, ensure_ascii=False, sort_keys=True)


def realm(directory: dict[str, Any]) -> dict[str, Any]:
    departments, ogi = home_departments(directory)
    codes = [d["code"] for d in departments] + [ogi["code"]]
    app_roles = [r.value for r in Role]
    return {
        "realm": REALM,
        "displayName": "政府信息公开（本地开发）",
        "enabled": True,
        "sslRequired": "external",
        "registrationAllowed": False,
        "resetPasswordAllowed": False,
        "rememberMe": False,
        "loginWithEmailAllowed": False,
        "duplicateEmailsAllowed": False,
        "editUsernameAllowed": False,
        "bruteForceProtected": True,
        "permanentLockout": False,
        "failureFactor": 10,
        # Local only: a cheap hash keeps the import of ~50 users and each password grant fast on a
        # small machine (Keycloak's default, argon2, costs ~0.3 s per user here). The password is
        # published anyway; agencies' identity platforms keep their own policy.
        "passwordPolicy": PASSWORD_POLICY,
        "accessTokenLifespan": ACCESS_TOKEN_LIFESPAN,
        "ssoSessionIdleTimeout": 30 * 60,
        "ssoSessionMaxLifespan": 10 * 60 * 60,
        "internationalizationEnabled": True,
        "supportedLocales": ["zh-CN", "en"],
        "defaultLocale": "zh-CN",
        "roles": {"realm": [{"name": r.value, "description": ROLE_DESCRIPTIONS[r], "composite": False,
                             "clientRole": False} for r in Role]},
        "clientScopes": client_scopes(codes),
        "defaultDefaultClientScopes": DEFAULT_SCOPES,
        "defaultOptionalClientScopes": [],
        "clients": clients(),
        # Tokens carry only the Gongkai roles (the clients' fullScopeAllowed is off).
        "scopeMappings": [{"client": c, "roles": app_roles} for c in (WEB_CLIENT, DEV_CLIENT)],
        "users": users(directory),
        "components": {"org.keycloak.userprofile.UserProfileProvider": [
            {"providerId": "declarative-user-profile", "subComponents": {},
             "config": {"kc.user.profile.config": [user_profile(codes)]}}]},
    }


def render(directory: dict[str, Any]) -> str:
    return json.dumps(realm(directory), ensure_ascii=False, indent=1) + "\n"


def load_directory(path: Path = DIRECTORY_FILE) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="exit 1 if realm-gongkai.json is not current")
    args = parser.parse_args()
    text = render(load_directory())
    if args.check:
        current = REALM_FILE.read_text(encoding="utf-8") if REALM_FILE.exists() else ""
        if current != text:
            print(f"{REALM_FILE} is stale: run python -m deploy.local.keycloak.realm", file=sys.stderr)
            return 1
        return 0
    REALM_FILE.write_text(text, encoding="utf-8")
    print(f"wrote {REALM_FILE} ({len(realm(load_directory())['users'])} users)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
