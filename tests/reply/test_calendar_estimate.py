"""A year without the State Council's notice: the estimate applies the statutory holidays of
《全国年节及纪念日放假办法》 (2024 revision, 国务院令第795号), lunar dates from lunar_python, and
stays provisional. Expected dates are from published tables of the lunar calendar (春节 = 正月初一:
2028-01-26, 2029-02-13, 2030-02-03; 清明: 2028-04-04, 2029-04-04, 2030-04-05), never from the code."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from services.reply.clock.calendar import DayKind, WorkCalendar, default_calendar, package_years, statutory_holidays
from services.reply.clock.clock import History, compute
from services.reply.clock.explain import explain

CAL = default_calendar()
D = date


@pytest.mark.parametrize(
    ("year", "first_day", "qingming"),
    [(2028, D(2028, 1, 26), D(2028, 4, 4)), (2029, D(2029, 2, 13), D(2029, 4, 4)), (2030, D(2030, 2, 3), D(2030, 4, 5))],
)
def test_spring_festival_and_qingming_of_future_years(year, first_day, qingming):
    days = statutory_holidays(year)
    spring = sorted(d for d, name in days.items() if name == "春节")
    # 除夕 (the eve), 正月初一, 初二, 初三: four days.
    assert spring == [first_day - timedelta(days=1) + timedelta(days=k) for k in range(4)]
    assert [d for d, name in days.items() if name == "清明节"] == [qingming]
    assert days[D(year, 1, 1)] == "元旦"
    assert [d for d, n in days.items() if n == "劳动节"] == [D(year, 5, 1), D(year, 5, 2)]
    assert {D(year, 10, k) for k in (1, 2, 3)} <= set(days)


def test_2028_holiday_days_in_full():
    # 2028: 端午 (五月初五) Sun 5/28; 中秋 (八月十五) Tue 10/3, which is also 国庆节: 13 days in all
    # minus that one shared day.
    days = statutory_holidays(2028)
    assert sorted(days) == [
        D(2028, 1, 1), D(2028, 1, 25), D(2028, 1, 26), D(2028, 1, 27), D(2028, 1, 28), D(2028, 4, 4),
        D(2028, 5, 1), D(2028, 5, 2), D(2028, 5, 28), D(2028, 10, 1), D(2028, 10, 2), D(2028, 10, 3),
    ]  # fmt: skip
    assert days[D(2028, 5, 28)] == "端午节"


@pytest.mark.parametrize("year", [2025, 2026])
def test_each_statutory_day_is_a_holiday_of_the_real_notice(year):
    # The years with a notice: every statutory day of the rule is a holiday of that notice, with the
    # same name (a check of the rule and the lunar library against the State Council's own dates).
    for day, name in statutory_holidays(year).items():
        info = CAL.classify(day)
        assert info.kind is DayKind.HOLIDAY, day
        assert info.holiday == name or {info.holiday, name} == {"国庆节", "中秋节"}, day


def test_a_2028_deadline_skips_the_spring_festival_provisionally():
    cal = WorkCalendar(package=package_years())  # no 2028 notice
    # Received Mon 2028-01-17: 1/18–21 WD1–4, Mon 1/24 WD5, Tue 1/25–Fri 1/28 春节 (除夕–初三, skipped),
    # 1/31–2/4 WD6–10, 2/7–11 WD11–15, 2/14–18 WD16–20 → Fri 2028-02-18 (weekends only would be 2/14).
    hist = History(received_on=D(2028, 1, 17))
    d = compute(hist, cal, as_of=D(2028, 1, 17))
    assert d.due_on == D(2028, 2, 18)
    assert d.provisional and d.missing_years == (2028,)
    skipped = {e.day: e for e in d.days if e.counted is None}
    assert [x for x in skipped if skipped[x].info.kind is DayKind.HOLIDAY] == [
        D(2028, 1, 25), D(2028, 1, 26), D(2028, 1, 27), D(2028, 1, 28)]
    assert all(skipped[x].info.estimated and skipped[x].provisional for x in skipped if x.month == 1 and 25 <= x.day <= 28)
    ex = explain(hist, d)
    day = next(x for x in ex["days"] if x["date"] == "2028-01-26")
    assert day["estimated_holiday"] and day["counted"] is None
    assert "春节（法定节假日，按《全国年节及纪念日放假办法》（2024年修订，国务院令第795号）推算）" in day["reason"]
    text = ex["text_zh"]
    assert "上述日期为暂定日期" in text and "国务院办公厅尚未公布2028年部分节假日安排的通知" in text
    assert "调休上班日和节假日逢周末的补休安排尚不可知" in text
    assert "春节4天即农历除夕至正月初三" in text


def test_a_notice_file_replaces_the_estimate():
    from services.reply.clock.calendar import parse_year

    f2028 = parse_year({"year": 2028, "notice": "测试（非真实通知）",
                        "holidays": [{"name": "春节", "start": "2028-01-24", "end": "2028-02-01"}]})
    cal = WorkCalendar(package=package_years()).with_files(f2028)
    info = cal.classify(D(2028, 1, 24))
    assert info.kind is DayKind.HOLIDAY and not info.estimated
    assert cal.classify(D(2028, 4, 4)).kind is DayKind.WORKDAY  # the file is the year: no estimate
    d = compute(History(received_on=D(2028, 1, 17)), cal)
    assert not d.provisional


def test_the_estimate_is_part_of_the_calendar_fingerprint(monkeypatch):
    # A change of the estimate's rules is a calendar change: the sweep recomputes the open cases.
    import services.reply.clock.calendar as c

    cal = WorkCalendar(package=package_years())
    before = cal.fingerprint()
    assert before == WorkCalendar(package=package_years()).fingerprint()
    monkeypatch.setattr(c, "ESTIMATE_VERSION", "statutory-2024/another-library")
    assert cal.fingerprint() != before


def test_no_estimate_before_the_2024_rules():
    with pytest.raises(ValueError):
        statutory_holidays(2024)
    # A year before 2004 (no source) keeps weekends only.
    cal = WorkCalendar()
    assert cal.classify_provisional(D(2003, 1, 1)).kind is DayKind.WORKDAY
