"""The OGI case page's processing-fee form (国办函〔2020〕109号): once the fee notice is issued, an
officer records the payment or the waiver (减免); the form posts to intake with the officer's token
and shows what was recorded."""

from __future__ import annotations

from tests.web.test_ogi_pages import CASE, CSRF, OFFICER, FakeBackends, assert_every_post_form_has_csrf, client_for, fake  # noqa: F401

ISSUED = {"case_id": CASE, "tracking_number": "GK-2026-000001", "fee_notice": {
    "confirmed": True, "issued_on": "2026-11-18", "amount_yuan": 720, "method": "per_page",
    "text_zh": "信息处理费收费通知……收费金额：人民币720元。"}}


def test_an_issued_notice_gets_the_payment_form(fake: FakeBackends) -> None:  # noqa: F811
    fake.on("GET", "intake", f"/applications/{CASE}/screening", 200, ISSUED)
    page = client_for(fake, OFFICER).get(f"/work/ogi/cases/{CASE}").text
    assert f'action="/work/ogi/cases/{CASE}/fee-settlement"' in page
    assert "申请人已缴纳" in page and "本机关决定减免" in page and "减免理由" in page
    assert "答复期限暂停计算" in page and "视为放弃申请" in page
    assert_every_post_form_has_csrf(page)


def test_the_payment_and_the_waiver_go_to_intake_with_the_officers_token(fake: FakeBackends) -> None:  # noqa: F811
    fake.on("POST", "intake", f"/applications/{CASE}/fee-settlement", 201, {"case_id": CASE})
    c = client_for(fake, OFFICER)
    r = c.post(f"/work/ogi/cases/{CASE}/fee-settlement",
               data={"csrf_token": CSRF, "outcome": "paid", "settled_on": "2026-11-25", "amount_yuan": "720", "reason": ""})
    assert r.status_code == 303 and r.headers["location"] == f"/work/ogi/cases/{CASE}?done=fee_settled"
    r = c.post(f"/work/ogi/cases/{CASE}/fee-settlement",
               data={"csrf_token": CSRF, "outcome": "waived", "settled_on": "", "amount_yuan": "", "reason": "低保户"})
    assert r.status_code == 303
    posts = fake.posts()
    assert [(p["service"], p["path"], p["token"]) for p in posts] == [
        ("intake", f"/applications/{CASE}/fee-settlement", "tok-officer")] * 2
    assert [p["json"] for p in posts] == [
        {"outcome": "paid", "settled_on": "2026-11-25", "amount_yuan": 720},
        {"outcome": "waived", "reason": "低保户"},
    ]


def test_a_refusal_is_shown_and_a_recorded_payment_replaces_the_form(fake: FakeBackends) -> None:  # noqa: F811
    fake.on("POST", "intake", f"/applications/{CASE}/fee-settlement", 409,
            {"detail": "申请已因逾期未缴纳信息处理费视为放弃（2026-12-01），不能再登记缴费或减免"})
    r = client_for(fake, OFFICER).post(f"/work/ogi/cases/{CASE}/fee-settlement", data={"csrf_token": CSRF, "outcome": "paid"})
    assert r.status_code == 409 and "不能再登记缴费或减免" in r.text
    settled = {**ISSUED, "fee_notice": {**ISSUED["fee_notice"], "settlement": {
        "kind": "paid", "on": "2026-11-25", "amount_yuan": 720, "by": "公开办王经办", "by_subject": "u-1"}}}
    fake.on("GET", "intake", f"/applications/{CASE}/screening", 200, settled)
    page = client_for(fake, OFFICER).get(f"/work/ogi/cases/{CASE}").text
    assert "已于 2026-11-25 登记缴纳信息处理费 720 元" in page and "公开办王经办" in page
    assert f'action="/work/ogi/cases/{CASE}/fee-settlement"' not in page
