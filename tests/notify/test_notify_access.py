"""Issue 9, notify's HTTP API: ``/cases/{id}/notices`` answered anyone, and 200 with an empty list
for a case that does not exist. Now: officers only (by token), and 404 for a case notify has never
heard of (neither its application, a contact nor a notice)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from services.notify.kinds import Kind
from services.notify.messages import Message
from tests.notify import samples as s
from tests.notify.api_client import notify_api
from tests.tokens import bearer

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def api(store, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator:  # noqa: ANN001, F811
    async with notify_api(store, "sec_notify_" + request.node.name[:30], monkeypatch) as client:
        yield client


async def test_notices_need_an_officers_token(api) -> None:  # noqa: ANN001
    await api.app.state.store.save_contact(s.contact())
    assert (await api.get("/cases/c1/notices")).status_code == 401
    assert (await api.get("/cases/c1/notices", headers={"X-Role": "auditor"})).status_code == 401
    for role in ("dept_officer", "dept_reviewer", "directory_admin"):
        assert (await api.get("/cases/c1/notices", headers=bearer(role, department="czt"))).status_code == 403
    for role in ("ogi_officer", "ogi_head", "auditor"):
        assert (await api.get("/cases/c1/notices", headers=bearer(role))).status_code == 200


async def test_an_unknown_case_is_404_a_known_one_200(api) -> None:  # noqa: ANN001
    headers = bearer("ogi_officer")
    unknown = await api.get("/cases/no-such-case/notices", headers=headers)
    assert unknown.status_code == 404 and unknown.json()["detail"]
    store = api.app.state.store
    # Known by its application (tracking number), by a contact, or by a notice: each is enough.
    await store.save_case("c-app", s.NUMBER)
    await store.save_contact(s.contact(case_id="c-contact"))
    await store.create(notice_id="n1", case_id="c-notice", tracking_number=None, kind=Kind.CASE_OVERDUE,
                       message=Message("逾期", "……"), cause_event_id="e1", officer=("ogi", "gkb@yn.gov.cn"))
    for case_id, count in (("c-app", 0), ("c-contact", 0), ("c-notice", 1)):
        resp = await api.get(f"/cases/{case_id}/notices", headers=headers)
        assert resp.status_code == 200, case_id
        assert resp.json()["case_id"] == case_id and len(resp.json()["notices"]) == count
    # The delivery view never shows addresses.
    [notice] = (await api.get("/cases/c-notice/notices", headers=headers)).json()["notices"]
    assert notice["deliveries"]["email"]["status"] == "pending" and "gkb@yn.gov.cn" not in str(notice)
