"""Department tokens: the configured map, the local development derivation, 401/403."""

from __future__ import annotations

import json

import pytest
from fastapi import HTTPException
from starlette.requests import Request

from services.reply.auth import DepartmentAuth, dev_token, load_tokens


def request(token: str | None) -> Request:
    headers = [(b"authorization", f"Bearer {token}".encode())] if token is not None else []
    return Request({"type": "http", "headers": headers, "method": "GET", "path": "/"})


def test_dev_tokens_differ_per_department_and_secret():
    assert dev_token("s", "czt") != dev_token("s", "fgw")
    assert dev_token("s", "czt") != dev_token("t", "czt")
    assert len(dev_token("s", "czt")) == 32


def test_dev_mode_lets_a_department_in_with_its_own_token_only():
    auth = DepartmentAuth({}, "secret")
    auth.check(request(dev_token("secret", "czt")), "czt")
    with pytest.raises(HTTPException) as exc:
        auth.check(request(dev_token("secret", "czt")), "fgw")
    assert exc.value.status_code == 403 and "fgw" in exc.value.detail
    with pytest.raises(HTTPException) as exc:
        auth.check(request(None), "czt")
    assert exc.value.status_code == 401


def test_configured_tokens_replace_the_dev_derivation(tmp_path):
    path = tmp_path / "tokens.json"
    path.write_text(json.dumps({"czt": "tok-czt"}))
    for setting in (str(path), json.dumps({"czt": "tok-czt"})):
        auth = DepartmentAuth(load_tokens(setting), "secret")
        auth.check(request("tok-czt"), "czt")
        for dept, token in (("czt", dev_token("secret", "czt")), ("fgw", "tok-czt"), ("fgw", dev_token("secret", "fgw"))):
            with pytest.raises(HTTPException) as exc:
                auth.check(request(token), dept)
            assert exc.value.status_code == 403


def test_no_tokens_and_no_secret_lets_nobody_in():
    with pytest.raises(HTTPException):
        DepartmentAuth({}, "").check(request("anything"), "czt")
    with pytest.raises(ValueError):
        load_tokens('{"czt": ""}')
