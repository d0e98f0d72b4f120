"""Finding a case by its tracking number (services/web/lookup.py), in-process with the OGI pages'
fake of the APIs: the officer's token goes to audit's lookup, the browser to the case page; an
unknown or malformed number shows the form again with the message tied to the field."""

from __future__ import annotations

from fastapi.testclient import TestClient

from services.web import lookup
from tests.web import test_ogi_pages as pages
from tests.web.test_ogi_pages import FakeBackends, officer


def client_for(fake: FakeBackends, who) -> TestClient:  # noqa: ANN001
    return pages.client_for(fake, who, router=lookup.router)


def test_a_known_number_goes_to_the_case_page_with_the_officers_token() -> None:
    fake = FakeBackends()
    fake.on("GET", "audit", "/tracking-numbers/YN-20261202-00007", 200,
            {"tracking_number": "YN-20261202-00007", "case_id": "case-7"})
    resp = client_for(fake, officer("ogi_officer", token="tok-a")).get(
        "/work/ogi/find", params={"tracking_number": " yn-20261202-00007 "})
    assert resp.status_code == 303 and resp.headers["location"] == "/work/ogi/cases/case-7"
    assert fake.calls[-1]["token"] == "tok-a"


def test_an_unknown_number_shows_the_form_with_the_fields_message() -> None:
    fake = FakeBackends()
    fake.on("GET", "audit", "/tracking-numbers/YN-20261202-00009", 404, {"detail": "未找到该受理编号的案件"})
    resp = client_for(fake, officer("ogi_officer")).get("/work/ogi/find", params={"tracking_number": "YN-20261202-00009"})
    assert resp.status_code == 404
    assert 'aria-describedby="find-number-error"' in resp.text and "未找到该受理编号的案件" in resp.text
    assert 'value="YN-20261202-00009"' in resp.text


def test_a_malformed_or_empty_number_is_refused_before_any_call() -> None:
    fake = FakeBackends()
    c = client_for(fake, officer("ogi_head"))
    bad = c.get("/work/ogi/find", params={"tracking_number": "../../etc"})
    empty = c.get("/work/ogi/find", params={"tracking_number": ""})
    assert bad.status_code == 422 and "受理编号格式不正确" in bad.text
    assert empty.status_code == 422 and "请填写受理编号" in empty.text
    assert c.get("/work/ogi/find").status_code == 200  # the form itself
    assert fake.calls == []
