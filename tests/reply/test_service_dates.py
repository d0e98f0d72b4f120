"""The date of service (送达) and the remedy deadlines (services/reply/service.py), counted by hand.

Calendar: the package's 2026 data (国办发明电〔2025〕7号: 国庆节 10月1日—7日, 10月10日 调休上班);
2027 is not published here, so a deadline in 2027 is provisional (weekends and the statutory
holidays of 《全国年节及纪念日放假办法》 estimated)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from contracts.vocabulary import DeliveryMethod, ServiceChannel
from services.reply.clock.calendar import default_calendar
from services.reply.service import (
    ServiceFact,
    ServiceRefused,
    add_months,
    check_documents,
    counting,
    date_of_service,
    dispatch_outcome,
    explain_end,
    is_new_fact,
    not_before_issue,
    period_end,
    published,
    remedies_json,
    remedy_deadlines,
)

CAL = default_calendar()


def fact(doc: str, channel: ServiceChannel, on: date, source: str = "s", hour: int = 2) -> ServiceFact:
    return ServiceFact(document_id=doc, channel=channel, served_at=datetime(on.year, on.month, on.day, hour, tzinfo=UTC),
                       served_on=on, basis="b", source=source)


def test_the_date_of_service_is_the_earliest_fact_of_any_channel():
    facts = [fact("d1", ServiceChannel.POST, date(2026, 12, 3)), fact("d1", ServiceChannel.EMAIL, date(2026, 11, 30)),
             fact("d1", ServiceChannel.ONLINE, date(2026, 12, 1)), fact("d2", ServiceChannel.SMS, date(2026, 11, 20))]
    served = date_of_service(facts, "d1")
    assert served is not None and served.channel is ServiceChannel.EMAIL and served.served_on == date(2026, 11, 30)
    assert date_of_service(facts, "d3") is None  # never served (a returned dispatch records no fact)
    # Same day: the earlier moment.
    same = [fact("d1", ServiceChannel.SMS, date(2026, 11, 30), hour=9), fact("d1", ServiceChannel.EMAIL, date(2026, 11, 30), hour=3)]
    assert date_of_service(same, "d1").channel is ServiceChannel.EMAIL


def test_a_fact_is_recorded_once_and_each_new_counting_one_published():
    first = fact("d1", ServiceChannel.POST, date(2026, 12, 5), source="dispatch:a")
    assert is_new_fact([], first) and published([], first)
    again = fact("d1", ServiceChannel.POST, date(2026, 12, 5), source="dispatch:a")
    assert not is_new_fact([first], again) and not published([first], again)  # a repeated record: nothing
    # A second dispatch recorded later but signed for earlier: new, published (the ledger's earliest
    # date must be the view's), though its channel was published before.
    second = fact("d1", ServiceChannel.POST, date(2026, 12, 3), source="dispatch:b")
    assert is_new_fact([first], second) and published([first], second)
    assert date_of_service([first, second], "d1") == second
    # A notice that does not count is recorded (new) but never published.
    text = ServiceFact(document_id="d1", channel=ServiceChannel.SMS, served_at=datetime(2026, 12, 1, tzinfo=UTC),
                       served_on=date(2026, 12, 1), basis="b", source="notice:n1", counts=False, note="x")
    assert is_new_fact([first], text) and not published([first], text)


def test_an_email_or_text_serves_only_with_consent_to_electronic_service():
    # 民事诉讼法 第九十条: the applicant chose e-mail or online: an electronic notice serves.
    for method in (DeliveryMethod.EMAIL, DeliveryMethod.ONLINE, "email", "online"):
        for channel in ServiceChannel:
            assert counting(channel, method) == (True, None), (channel, method)
    # Chose post or pickup: an e-mail or text does not serve, and says why.
    for method, zh in ((DeliveryMethod.POST, "邮寄"), (DeliveryMethod.PICKUP, "当面领取")):
        for channel, what in ((ServiceChannel.EMAIL, "电子邮件"), (ServiceChannel.SMS, "短信")):
            counts, note = counting(channel, method)
            assert counts is False and note is not None
            assert f"申请人选择{zh}" in note and f"{what}通知不作为送达" in note and "第九十条" in note
        # Actual knowledge online, signed for by post, the window: always.
        for channel in (ServiceChannel.ONLINE, ServiceChannel.POST, ServiceChannel.WINDOW):
            assert counting(channel, method) == (True, None)
    # An older case without a (known) delivery_method: e-mail, the default.
    for unknown in (None, "", "fax"):
        assert counting(ServiceChannel.SMS, unknown) == (True, None)


def test_a_fact_that_does_not_count_never_sets_the_date_of_service():
    text = ServiceFact(document_id="d1", channel=ServiceChannel.SMS, served_at=datetime(2026, 11, 30, 2, tzinfo=UTC),
                       served_on=date(2026, 11, 30), basis="b", source="notice:n1", counts=False, note="x")
    assert date_of_service([text], "d1") is None
    post = fact("d1", ServiceChannel.POST, date(2026, 12, 3), source="dispatch:a")
    assert date_of_service([text, post], "d1") == post


def test_nothing_is_served_before_the_document_exists():
    issued_at = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)  # 14:00 China
    early = fact("d1", ServiceChannel.SMS, date(2026, 11, 29), source="notice:n1")  # delivered the day before
    moved = not_before_issue(early, issued_at, date(2026, 11, 30))
    assert (moved.served_at, moved.served_on) == (issued_at, date(2026, 11, 30))
    assert (moved.channel, moved.source) == (early.channel, early.source)
    # Signed for on the day of issue, recorded as midnight: the moment is the issue's, the day stays.
    same_day = ServiceFact(document_id="d1", channel=ServiceChannel.POST, source="dispatch:a", basis="b",
                           served_at=datetime(2026, 11, 29, 16, 0, tzinfo=UTC), served_on=date(2026, 11, 30))
    moved = not_before_issue(same_day, issued_at, date(2026, 11, 30))
    assert (moved.served_at, moved.served_on) == (issued_at, date(2026, 11, 30))
    # After the issue, or nothing known of it: unchanged.
    later = fact("d1", ServiceChannel.EMAIL, date(2026, 12, 1))
    assert not_before_issue(later, issued_at, date(2026, 11, 30)) is later
    assert not_before_issue(early, None, None) is early
    assert not_before_issue(later, later.served_at + timedelta(hours=1), None).served_on == later.served_on


def test_served_25_september_2026_review_24_november_lawsuit_25_march_2027():
    # 60 days, the day of service not counted: 5 days left in September (26-30), 31 in October,
    # 24 in November = 60: 2026-11-24, a Tuesday. Six months: the corresponding day, 2027-03-25 (Thursday).
    r = remedy_deadlines(date(2026, 9, 25), CAL)
    assert r.review.last_day == date(2026, 11, 24) and r.review.skipped == () and not r.review.provisional
    assert r.lawsuit.nominal == r.lawsuit.last_day == date(2027, 3, 25)
    assert r.lawsuit.provisional and r.provisional  # 2027's notice is not in the calendar
    out = remedies_json("d1", r)
    assert (out["review_deadline"], out["lawsuit_deadline"], out["provisional"]) == ("2026-11-24", "2027-03-25", True)
    assert "尚未公布" in out["lawsuit_explanation_zh"] and "尚未公布" not in out["review_explanation_zh"]


def test_a_last_day_in_golden_week_rolls_to_8_october():
    # Served 2 August: 29 days to 31 August, 30 in September (59), 1 October is the 60th day;
    # 国庆节 1-7 October: the period ends on Thursday 8 October.
    r = remedy_deadlines(date(2026, 8, 2), CAL)
    assert r.review.nominal == date(2026, 10, 1) and r.review.last_day == date(2026, 10, 8)
    assert len(r.review.skipped) == 7 and not r.review.provisional
    assert explain_end(r.review) == "2026年10月1日为国庆节假期，顺延至2026年10月8日"


def test_a_last_day_on_a_weekend_rolls_to_monday():
    # Served 31 March 2026: 30 days to 30 April, 30 more to 30 May = Saturday -> Monday 1 June.
    r = remedy_deadlines(date(2026, 3, 31), CAL)
    assert r.review.nominal == date(2026, 5, 30) and date(2026, 5, 30).weekday() == 5
    assert r.review.last_day == date(2026, 6, 1)
    assert r.lawsuit.last_day == date(2026, 9, 30) and not r.provisional  # Wednesday, 2026 published
    # A Sunday: 2026-11-29 (served 30 September: 1 + 31 + 28 = 60) -> Monday 30 November.
    r = remedy_deadlines(date(2026, 9, 30), CAL)
    assert r.review.nominal == date(2026, 11, 29) and date(2026, 11, 29).weekday() == 6
    assert r.review.last_day == date(2026, 11, 30)


def test_a_make_up_workday_is_a_working_day():
    # 2026-10-10 is a Saturday worked (国庆节调休上班): a period ending on it ends on it.
    assert period_end(date(2026, 10, 10), CAL).last_day == date(2026, 10, 10)
    assert period_end(date(2026, 10, 11), CAL).last_day == date(2026, 10, 12)  # Sunday -> Monday


def test_months_end_on_the_corresponding_day_or_the_last_day_of_the_month():
    assert add_months(date(2026, 9, 25), 6) == date(2027, 3, 25)
    assert add_months(date(2026, 8, 31), 6) == date(2027, 2, 28)  # no 31 February
    assert add_months(date(2027, 8, 31), 6) == date(2028, 2, 29)  # leap year
    assert add_months(date(2026, 3, 31), 6) == date(2026, 9, 30)
    assert add_months(date(2026, 7, 15), 6) == date(2027, 1, 15)  # across the year
    # 2027-02-28 is a Sunday: the lawsuit deadline of a reply served 31 August 2026 is Monday 1 March 2027.
    r = remedy_deadlines(date(2026, 8, 31), CAL)
    assert r.lawsuit.nominal == date(2027, 2, 28) and r.lawsuit.last_day == date(2027, 3, 1) and r.lawsuit.provisional


def test_a_dispatch_outcome_dates_and_conflicts():
    d = {"sent_on": "2026-11-30", "status": "sent"}
    today = date(2026, 12, 4)
    assert dispatch_outcome(d, "signed", date(2026, 12, 2), {"signed_by": "张三"}, today) is True
    with pytest.raises(ServiceRefused) as e:
        dispatch_outcome(d, "signed", date(2026, 11, 29), {}, today)
    assert e.value.status == 422 and e.value.field == "signed_on" and "不能早于寄出日期" in e.value.message
    with pytest.raises(ServiceRefused) as e:
        dispatch_outcome(d, "returned", date(2026, 12, 5), {"reason": "查无此人"}, today)
    assert e.value.status == 422 and e.value.field == "returned_on" and "不能晚于今天" in e.value.message
    signed = {**d, "status": "signed", "signed_on": "2026-12-02", "signed_by": "张三"}
    assert dispatch_outcome(signed, "signed", date(2026, 12, 2), {"signed_by": "张三"}, today) is False  # the same again
    for outcome, on, detail in (("returned", date(2026, 12, 3), {"reason": "x"}),
                                ("signed", date(2026, 12, 3), {"signed_by": "张三"})):
        with pytest.raises(ServiceRefused) as e:
            dispatch_outcome(signed, outcome, on, detail, today)
        assert e.value.status == 409 and "已登记为已签收" in e.value.message


def test_only_the_applicants_issued_documents_and_not_before_their_issue():
    servable = {"r": {"title": "答复书", "issued_on": "2026-11-28"}}
    check_documents(["r"], servable, "document_ids", date(2026, 11, 28), "寄出日期", "sent_on")
    with pytest.raises(ServiceRefused) as e:
        check_documents(["r", "x"], servable, "document_ids", date(2026, 11, 30), "寄出日期", "sent_on")
    assert (e.value.status, e.value.field) == (422, "document_ids.1")
    with pytest.raises(ServiceRefused) as e:
        check_documents(["r", "r"], servable, "document_ids", date(2026, 11, 30), "寄出日期", "sent_on")
    assert e.value.field == "document_ids.1" and "重复" in e.value.message
    with pytest.raises(ServiceRefused) as e:
        check_documents(["r"], servable, "document_ids", date(2026, 11, 27), "寄出日期", "sent_on")
    assert e.value.field == "sent_on" and "印发日期" in e.value.message
