"""schemathesis (pinned in requirements.lock) against every service of the real system, with
bounded examples per operation: each operation is called as a user the access table allows (or
without a token where it is public), and every response must be documented: no 5xx, the status
code, content type and body as the OpenAPI document of the service says. The counts are printed
(``-s`` shows them; the suite's closing note quotes them)."""

from __future__ import annotations

import collections
import os

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks

from contracts.access import ROUTES, Role
from deploy.local.stack import SERVICES

pytestmark = pytest.mark.e2e

# Examples per operation; raise it for a longer campaign (GONGKAI_SCHEMATHESIS_EXAMPLES=200).
EXAMPLES = int(os.environ.get("GONGKAI_SCHEMATHESIS_EXAMPLES", "25"))
USER_OF = {Role.DEPT_OFFICER: "zrzy-officer", Role.DEPT_REVIEWER: "zrzy-reviewer", Role.OGI_OFFICER: "ogi-officer",
           Role.OGI_HEAD: "ogi-head", Role.DIRECTORY_ADMIN: "dir-admin", Role.AUDITOR: "auditor"}
CHECKS = [checks.not_a_server_error, checks.status_code_conformance, checks.content_type_conformance,
          checks.response_schema_conformance]
# Operations that would change the shared test system beyond repair, or whose work is minutes of
# CPU per call: none are skipped today; list any here with the reason.
SKIP: dict[tuple[str, str, str], str] = {}


def _user(service: str, method: str, path: str) -> str | None:
    acc = ROUTES[service][(method.upper(), path)]
    if acc.public:
        return None
    return USER_OF[sorted(acc.roles)[0]]


@pytest.mark.parametrize("service", SERVICES)
def test_no_5xx_and_no_undocumented_response(stack, service: str) -> None:  # noqa: ANN001
    base = stack.cfg.url(service)
    doc = httpx.get(base + "/openapi.json", timeout=10).json()
    schema = schemathesis.openapi.from_dict(doc)
    schema.config.update(base_url=base)
    tokens: dict[str, str] = {}
    calls = 0
    statuses: collections.Counter[int] = collections.Counter()
    failures: list[str] = []
    for result in schema.get_all_operations():
        op = result.ok()
        method, path = op.method.upper(), op.path
        if (service, method, path) in SKIP:
            continue
        user = _user(service, method, path)
        headers = {}
        if user is not None:
            tokens.setdefault(user, stack.token(user))
            headers = {"Authorization": f"Bearer {tokens[user]}"}

        @given(case=op.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        def run(case) -> None:  # noqa: ANN001
            nonlocal calls
            resp = case.call(headers=headers, timeout=30)
            calls += 1
            statuses[resp.status_code] += 1
            try:
                case.validate_response(resp, checks=CHECKS)
            except Exception as exc:  # noqa: BLE001 - a FailureGroup of what did not conform
                subs = getattr(exc, "exceptions", [exc])
                for sub in subs:
                    failures.append(f"{method} {path} → {resp.status_code}: {type(sub).__name__}: "
                                    f"{str(sub).splitlines()[0][:160]}")

        run()
    five = sum(n for code, n in statuses.items() if code >= 500)
    print(f"schemathesis {service}: {calls} calls, {five} 5xx, {len(failures)} schema-violating; "
          f"statuses {dict(sorted(statuses.items()))}")
    assert five == 0 and not failures, "\n".join(sorted(set(failures))[:40])
