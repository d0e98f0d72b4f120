"""The portal's status page lists the documents of the case (issue #11: 受理回执, 告知书, 答复书 …),
each downloaded through a POST form with the query code (never in a URL), in-process with the
fake of the other services (tests/web/test_portal.py)."""

from __future__ import annotations

import hashlib
import re

from tests.web.test_portal import CODE, DEADLINE, NUMBER, TIMELINE, web  # noqa: F401 - the fixture

PDF = b"%PDF-1.7\n% receipt\n%%EOF\n"
RECEIPT = {"document_id": "d-1", "kind": "acceptance_receipt", "title": "政府信息公开申请受理回执", "seq": 1,
           "sha256": hashlib.sha256(PDF).hexdigest(), "size": len(PDF), "issued_on": "2026-12-03",
           "issued_at": "2026-12-03T01:00:00+00:00", "addressee": "applicant"}


async def test_the_status_page_lists_the_documents_and_downloads_one(web) -> None:  # noqa: F811
    client, fake = web
    fake.answer("GET", f"/public/cases/{NUMBER}/timeline", 200, TIMELINE)
    fake.answer("GET", f"/public/cases/{NUMBER}/deadline", 200, DEADLINE)
    fake.answer("GET", f"/public/cases/{NUMBER}/documents", 200, {"tracking_number": NUMBER, "documents": [RECEIPT]})
    page = (await client.post("/status", data={"tracking_number": NUMBER, "query_code": CODE})).text
    item = re.search(r'<li id="document-d-1">.*?</li>', page, re.S).group(0)
    assert "政府信息公开申请受理回执" in item and RECEIPT["sha256"] in item and "2026-12-03" in item
    assert 'action="/status/document"' in item and 'name="document_id" value="d-1"' in item
    assert f'name="query_code" value="{CODE}"' in item
    assert CODE not in "".join(c[2] for c in fake.calls)  # the code goes as a parameter, never in a path

    fake.answer("GET", f"/public/cases/{NUMBER}/documents/d-1", 200, None, content=PDF, headers={
        "content-type": "application/pdf", "content-disposition": "attachment; filename=receipt.pdf",
        "x-content-sha256": RECEIPT["sha256"]})
    got = await client.post("/status/document", data={"tracking_number": NUMBER, "query_code": CODE, "document_id": "d-1"})
    assert got.status_code == 200 and got.content == PDF and got.headers["content-type"] == "application/pdf"
    assert got.headers["x-content-sha256"] == RECEIPT["sha256"] and got.headers["cache-control"] == "no-store"
    assert fake.calls[-1][3]["params"] == {"query_code": CODE}

    # Not (yet) there: said so; a malformed id is not forwarded.
    fake.answer("GET", f"/public/cases/{NUMBER}/documents/d-2", 404, {"detail": "未找到该文书，或尚未生成"})
    r = await client.post("/status/document", data={"tracking_number": NUMBER, "query_code": CODE, "document_id": "d-2"})
    assert r.status_code == 404 and "尚未生成" in r.text
    before = len(fake.calls)
    r = await client.post("/status/document", data={"tracking_number": NUMBER, "query_code": CODE, "document_id": "../x"})
    assert r.status_code == 404 and len(fake.calls) == before


async def test_a_list_reply_cannot_give_is_said_so(web) -> None:  # noqa: F811
    client, fake = web
    fake.answer("GET", f"/public/cases/{NUMBER}/timeline", 200, TIMELINE)
    fake.answer("GET", f"/public/cases/{NUMBER}/deadline", 200, DEADLINE)
    fake.answer("GET", f"/public/cases/{NUMBER}/documents", 503, {"detail": "x"})
    page = (await client.post("/status", data={"tracking_number": NUMBER, "query_code": CODE})).text
    assert "文书列表暂时无法显示" in page
