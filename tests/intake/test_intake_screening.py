"""Intake's screening on the real local store, through its HTTP API: repeat flags and the monthly
rank that drafts a fee notice (国办函〔2020〕109号), confirmed once by an officer."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio

from tests import tokens
from tests.service_apps import db_name, intake_app

pytestmark = pytest.mark.asyncio
OFFICER = tokens.bearer("ogi_officer", name="王经办", sub="officer-wang")


def application(description: str, id_number: str = "11010519491231002X") -> dict:
    return {
        "applicant": {"name": "张三", "id_number": id_number},
        "contact": {"email": "zhangsan@example.com"},
        "description": description,
    }


@pytest_asyncio.fixture
async def intake(store, request: pytest.FixtureRequest, monkeypatch) -> AsyncIterator[tuple[httpx.AsyncClient, object]]:
    async with intake_app(store.url, db_name("t_", request), monkeypatch, query_code_secret="test-query-code-key",
                          applicant_ref_secret="test-ref-key") as out:
        yield out


async def test_repeat_is_flagged_with_the_earlier_case(intake):
    http, _ = intake
    first = (await http.post("/applications", json=application("申请公开2023年度XX区城市更新项目的立项批复文件"))).json()
    other = await http.post("/applications", json=application("申请公开XX路拓宽工程的规划许可证"))
    assert other.status_code == 201
    again = (await http.post("/applications", json=application("请公开XX区2023年度城市更新项目立项批复文件。"))).json()
    s = (await http.get(f"/applications/{again['case_id']}/screening", headers=OFFICER)).json()
    assert [(r["case_id"], r["tracking_number"]) for r in s["repeats"]] == [(first["case_id"], first["tracking_number"])]
    assert 0.78 <= s["repeats"][0]["similarity"] < 1
    # Another applicant with the same text: no flag; the first application itself: no flag.
    stranger = (await http.post("/applications", json=application("申请公开2023年度XX区城市更新项目的立项批复文件", "110105194912310011"))).json()
    assert (await http.get(f"/applications/{stranger['case_id']}/screening", headers=OFFICER)).json()["repeats"] == []
    assert (await http.get(f"/applications/{first['case_id']}/screening", headers=OFFICER)).json()["repeats"] == []


async def test_the_normalised_description_is_stored_once_and_read_back_alone(intake):
    http, rt = intake
    from services.intake.repeats import normalise
    from services.intake.store import IntakeStore

    text = "申请公开2023年度XX区城市更新项目的立项批复文件"
    first = (await http.post("/applications", json=application(text))).json()
    store = IntakeStore(rt.db)
    stored = await store.get(first["case_id"])
    assert stored["repeat_text"] == normalise(text)
    [earlier] = await store.earlier_applications(stored["applicant_ref"], stored["agency_code"])
    assert set(earlier) == {"_id", "application", "repeat_text", "received_on", "tracking_number"}
    assert earlier["application"] == {"description": text}


async def test_the_11th_application_of_the_month_drafts_a_fee_notice_confirmed_once(intake):
    http, rt = intake
    ids = []
    for i in range(11):
        r = await http.post("/applications", json=application(f"申请公开第{i + 1}号文件"))
        assert r.status_code == 201
        ids.append(r.json()["case_id"])
    tenth = (await http.get(f"/applications/{ids[9]}/screening", headers=OFFICER)).json()
    assert tenth["rank_in_month"] == 10 and tenth["fee_notice"] is None
    eleventh = (await http.get(f"/applications/{ids[10]}/screening", headers=OFFICER)).json()
    assert eleventh["rank_in_month"] == 11
    assert eleventh["fee_notice"]["amount_yuan"] == 100 and eleventh["fee_notice"]["confirmed"] is False
    assert "第11件" in eleventh["fee_notice"]["text_zh"]
    assert (await http.post(f"/applications/{ids[9]}/fee-notice", headers=OFFICER)).status_code == 409
    # No token, or X-User alone (the old way): 401; another role: 403.
    assert (await http.post(f"/applications/{ids[10]}/fee-notice")).status_code == 401
    assert (await http.post(f"/applications/{ids[10]}/fee-notice", headers={"X-User": "officer-1"})).status_code == 401
    assert (await http.post(f"/applications/{ids[10]}/fee-notice",
                            headers=tokens.bearer("auditor"))).status_code == 403
    r = await http.post(f"/applications/{ids[10]}/fee-notice", headers=OFFICER)
    assert r.status_code == 201 and r.json()["amount_yuan"] == 100
    assert (await http.post(f"/applications/{ids[10]}/fee-notice", headers=OFFICER)).status_code == 409
    doc = await rt.db["applications"].find_one({"_id": ids[10]})
    notice = doc["screening"]["fee_notice"]
    assert notice["confirmed"] is True and (notice["confirmed_by"], notice["confirmed_by_subject"]) == (
        "王经办", "officer-wang")
    [record] = [r for r in doc["outbox"] if r["topic"] == "gongkai.applications.screened"]
    issued = json.loads(record["value"])["data"]
    assert (issued["confirmed_by"], issued["confirmed_by_subject"]) == ("王经办", "officer-wang")
    # The officer may charge per page instead, for a free-by-count application: 101 pages → ¥720.
    r = await http.post(f"/applications/{ids[0]}/fee-notice", headers=OFFICER, json={"pages": 101})
    assert r.status_code == 201 and r.json()["amount_yuan"] == 720


async def test_the_public_receipt_is_unchanged(intake):
    http, _ = intake
    r = await http.post("/applications", json=application("申请公开某文件"))
    assert r.status_code == 201
    assert set(r.json()) == {"case_id", "tracking_number", "query_code", "received_on", "receipt_rule", "message",
                             "webhook_secret", "attachments"}
    assert r.json()["webhook_secret"] is None  # no webhook registered
    assert r.json()["attachments"] == []  # a JSON application has no files (issue 10: multipart has)


async def test_concurrent_applications_of_one_applicant_take_distinct_ranks(intake):
    # Twelve submissions of one applicant at once: the ranks are 1..12, each once (the unique
    # rank key makes a submission that counted the same stored applications draw again).
    http, _ = intake
    import asyncio

    replies = await asyncio.gather(*(http.post("/applications", json=application(f"同时申请的第{i}号文件"))
                                     for i in range(12)))
    assert [r.status_code for r in replies] == [201] * 12
    ranks = [(await http.get(f"/applications/{r.json()['case_id']}/screening", headers=OFFICER)).json()["rank_in_month"]
             for r in replies]
    assert sorted(ranks) == list(range(1, 13))
    assert len({r.json()["tracking_number"] for r in replies}) == 12


async def test_a_submission_that_fails_before_it_is_stored_uses_up_no_rank(intake, monkeypatch):
    # The chaos run's finding: a kill in the middle of a submission used up the applicant's rank
    # (a counter incremented before the insert), so every later application ranked one higher.
    http, rt = intake
    first = await http.post("/applications", json=application("申请公开第一份文件"))
    assert first.status_code == 201
    store = http.app.state.intake_store
    real_insert = store.applications.insert_one
    calls = {"n": 0}

    async def crash_once(doc, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("the process died here")
        return await real_insert(doc, *args, **kwargs)

    monkeypatch.setattr(store.applications, "insert_one", crash_once)
    with pytest.raises(ConnectionError):
        await http.post("/applications", json=application("申请公开第二份文件（提交中断）"))
    again = await http.post("/applications", json=application("申请公开第二份文件"))
    assert again.status_code == 201 and calls["n"] == 2
    ranks = [(await http.get(f"/applications/{r.json()['case_id']}/screening", headers=OFFICER)).json()["rank_in_month"]
             for r in (first, again)]
    assert ranks == [1, 2]
