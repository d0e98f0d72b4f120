"""Every cell of the role <-> route table (contracts/access.py), on the real system with tokens
from the real identity provider: a role the table allows gets past the guard (whatever the
handler then says: 200, 404, 422 …), every other role gets 403, no token 401, and a public
route needs none. Each user of the local realm used here has exactly one role."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest

from contracts.access import ROUTES, Role

pytestmark = pytest.mark.e2e

# One user per role (deploy/local/keycloak/): exactly that role, department zrzy for departments.
USER_OF = {
    Role.DEPT_OFFICER: "zrzy-officer",
    Role.DEPT_REVIEWER: "zrzy-reviewer",
    Role.OGI_OFFICER: "ogi-officer",
    Role.OGI_HEAD: "head-only",
    Role.DIRECTORY_ADMIN: "dir-admin",
    Role.AUDITOR: "auditor",
}
NO_ROLE = "nobody"

VALUES = {"dept_code": "zrzy", "code": "zrzy", "agency_code": "yn-gov-office", "tracking_number": "YN-20260101-00001",
          "version": "v1", "number": "1", "tree_size": "1"}


# A DELETE names a department that does not exist: the matrix checks who may call it, and must not
# take a real department out of the session's shared directory (the other tests route to it).
DELETE_VALUES = {**VALUES, "code": "matrix-no-such-dept"}


def concrete(path: str, method: str = "GET") -> str:
    values = DELETE_VALUES if method == "DELETE" else VALUES
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), str(uuid.uuid4())), path)


def cells() -> list[tuple[str, str, str]]:
    return [(svc, method, path) for svc, routes in ROUTES.items() for (method, path) in routes]


async def call(http: httpx.AsyncClient, stack, svc: str, method: str, path: str,  # noqa: ANN001
               headers: dict[str, str]) -> httpx.Response:
    kw = {"json": {}} if method in ("POST", "PUT") else {}
    return await http.request(method, stack.cfg.url(svc) + concrete(path, method), headers=headers, **kw)


async def test_every_cell_of_the_table(stack) -> None:  # noqa: ANN001
    tokens = {role: stack.token(user) for role, user in USER_OF.items()}
    tokens[None] = stack.token(NO_ROLE)
    wrong: list[str] = []
    counted = {"allowed": 0, "refused": 0, "anonymous": 0}
    async with httpx.AsyncClient(timeout=30) as http:
        for svc, method, path in cells():
            acc = ROUTES[svc][(method, path)]
            anon = await call(http, stack, svc, method, path, {})
            counted["anonymous"] += 1
            if acc.public:
                if anon.status_code in (401, 403):
                    wrong.append(f"{svc} {method} {path}: public route answered {anon.status_code} without a token")
                continue
            if anon.status_code != 401:
                wrong.append(f"{svc} {method} {path}: no token → {anon.status_code}, expected 401")
            for role, tok in tokens.items():
                resp = await call(http, stack, svc, method, path, {"Authorization": f"Bearer {tok}"})
                if role is not None and role in acc.roles:
                    counted["allowed"] += 1
                    if resp.status_code in (401, 403) or resp.status_code >= 500:
                        wrong.append(f"{svc} {method} {path}: {role} allowed by the table, got {resp.status_code} "
                                     f"{resp.text[:120]}")
                else:
                    counted["refused"] += 1
                    if resp.status_code != 403:
                        wrong.append(f"{svc} {method} {path}: {role or 'no role'} must be refused, got {resp.status_code}")
    print(f"route matrix: {len(cells())} routes, {counted}")
    assert not wrong, "\n".join(wrong)
