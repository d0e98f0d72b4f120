"""The decisions of services/reply/feedback.py without a store: which read is new, whether a
rating may change, when an unread reply is due for a follow-up call (working days of the real
2026 calendar: 国庆节 1-7 October, make-up workday Saturday 10 October)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from services.reply import feedback as fb
from services.reply.clock.calendar import default_calendar

IS_WORKDAY = fb.workday_test(default_calendar())


def at(day: str, hour: int = 2) -> datetime:
    return datetime.fromisoformat(f"{day}T{hour:02d}:00:00+00:00")


def case(issued: str, *amendments: str) -> dict:
    return {"_id": "c1", "reply_issued": True, "reply": {"issued_at": at(issued)},
            "amendments": [{"seq": i, "issued_at": at(a)} for i, a in enumerate(amendments, 1)]}


def test_the_release_is_the_latest_version():
    assert fb.release_of({"reply_issued": False, "reply": None}) is None
    assert fb.release_of(case("2026-09-28")) == (0, at("2026-09-28"))
    assert fb.release_of(case("2026-09-28", "2026-10-12", "2026-10-14")) == (2, at("2026-10-14"))


def test_reads_are_once_per_version_and_way():
    reads = [{"seq": 0, "via": "status_page"}]
    assert not fb.is_new_read(reads, 0, "status_page")
    assert fb.is_new_read(reads, 0, "pdf") and fb.is_new_read(reads, 1, "status_page")
    assert fb.has_read(reads, 0) and not fb.has_read(reads, 1)  # an amendment is to be read again


def test_working_days_over_the_national_day():
    # Released Wed 30 Sep: 1-7 Oct off, 8 (Thu), 9 (Fri), 10 (Sat, worked), 12, 13 ...
    assert fb.workdays_after(date(2026, 9, 30), date(2026, 10, 7), IS_WORKDAY) == 0
    assert fb.workdays_after(date(2026, 9, 30), date(2026, 10, 10), IS_WORKDAY) == 3
    assert fb.add_workdays(date(2026, 9, 30), 5, IS_WORKDAY) == date(2026, 10, 13)
    assert fb.china_day(datetime(2026, 9, 30, 17, tzinfo=UTC)) == date(2026, 10, 1)  # 01:00 Beijing


def test_follow_up_due_after_five_working_days_unread():
    c = case("2026-09-30")
    assert fb.followup_reasons(c, None, date(2026, 10, 12), 5, IS_WORKDAY) == []  # 4 working days
    assert fb.followup_reasons(c, None, date(2026, 10, 13), 5, IS_WORKDAY) == ["unread"]
    read = {"reads": [{"seq": 0, "via": "pdf", "at": at("2026-10-02")}]}
    assert fb.followup_reasons(c, read, date(2026, 10, 30), 5, IS_WORKDAY) == []
    # An amendment on 10-14 unread: due again five working days after it.
    c2 = case("2026-09-30", "2026-10-14")
    assert fb.followup_reasons(c2, read, date(2026, 10, 20), 5, IS_WORKDAY) == []
    assert fb.followup_reasons(c2, read, date(2026, 10, 21), 5, IS_WORKDAY) == ["unread"]
    # A dissatisfied rating is due at once; a follow-up after the latest release clears both.
    unhappy = {**read, "rating": {"rating": "dissatisfied"}}
    assert fb.followup_reasons(c, unhappy, date(2026, 10, 8), 5, IS_WORKDAY) == ["dissatisfied"]
    called = {**unhappy, "followups": [{"recorded_at": at("2026-10-09")}]}
    assert fb.followup_reasons(c, called, date(2026, 10, 30), 5, IS_WORKDAY) == []
    assert fb.followup_reasons(c2, called, date(2026, 10, 30), 5, IS_WORKDAY) == ["unread", "dissatisfied"]


def test_rating_once_then_changeable_for_ten_working_days():
    first = fb.rating_decision(None, "satisfied", "none", "", date(2026, 9, 29), 10, IS_WORKDAY)
    # 30 Sep, 8, 9, 10 (Sat), 12-16, 19: the tenth working day after 29 Sep is 19 Oct.
    assert (first.action, first.revision, first.until) == ("new", 1, date(2026, 10, 19))
    existing = {"rating": "satisfied", "reason": "none", "comment": "", "revision": 1, "first_at": at("2026-09-29")}
    same = fb.rating_decision(existing, "satisfied", "none", "", date(2026, 10, 1), 10, IS_WORKDAY)
    assert same.action == "same" and same.revision == 1
    change = fb.rating_decision(existing, "dissatisfied", "incomplete", "缺附件", date(2026, 10, 19), 10, IS_WORKDAY)
    assert (change.action, change.revision) == ("change", 2)
    late = fb.rating_decision(existing, "dissatisfied", "incomplete", "", date(2026, 10, 20), 10, IS_WORKDAY)
    assert late.action == "closed" and late.until == date(2026, 10, 19)


def test_digest_of_free_text():
    assert fb.sha256("已收到答复") == fb.sha256("已收到答复") != fb.sha256("已收到答复。")
    assert len(fb.sha256("")) == 64
