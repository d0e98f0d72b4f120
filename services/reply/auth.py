"""Department authentication: one bearer token per department.

- Production: ``REPLY_DEPARTMENT_TOKENS`` holds ``{"<dept code>": "<token>", ...}`` as JSON, or the
  path of a file holding that JSON. Only those departments are let in.
- Local development (the setting empty): every department's token is derived from a dev secret,
  ``dev_token(REPLY_DEV_TOKEN_SECRET, code)`` = the first 32 hex digits of
  HMAC-SHA256(secret, "dept:<code>"). The local stack (deploy/local/stack.py) sets the secret to
  ``gongkai-local-dev`` so that the demo, the tests and the benchmark can compute the tokens; by
  default the secret is empty and no derived token is accepted.

A request presents ``Authorization: Bearer <token>``. Missing: 401; not the department's: 403.
Integrators publishing on ``gongkai.answers.submitted`` are identified by ``dept_code``; on that
path Kafka ACLs (a principal per department allowed to write the topic) do the authentication.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

from fastapi import HTTPException, Request

from servicekit.auth import bearer


def dev_token(secret: str, dept_code: str) -> str:
    return hmac.new(secret.encode(), f"dept:{dept_code}".encode(), hashlib.sha256).hexdigest()[:32]


def load_tokens(setting: str) -> dict[str, str]:
    """The configured tokens: JSON in the setting, or a file named by it."""
    setting = setting.strip()
    if not setting:
        return {}
    text = setting if setting.startswith("{") else Path(setting).read_text(encoding="utf-8")
    data = json.loads(text)
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) and v for k, v in data.items()):
        raise ValueError("REPLY_DEPARTMENT_TOKENS must map department codes to non-empty tokens")
    return data


class DepartmentAuth:
    def __init__(self, tokens: dict[str, str], dev_secret: str = "") -> None:
        self.tokens = tokens
        self.dev_secret = dev_secret

    def expected(self, dept_code: str) -> str | None:
        if self.tokens:
            return self.tokens.get(dept_code)
        return dev_token(self.dev_secret, dept_code) if self.dev_secret else None

    def check(self, request: Request, dept_code: str) -> None:
        """Let the request in as ``dept_code`` or raise 401/403 (Chinese message)."""
        presented = bearer(request, "需要部门令牌（Authorization: Bearer <令牌>）")
        expected = self.expected(dept_code)
        if expected is None or not hmac.compare_digest(presented.encode(), expected.encode()):
            raise HTTPException(403, f"令牌与部门 {dept_code} 不符，无权查看或答复该部门的任务")
