"""The working-day calendar: sources, precedence, reasons, missing years."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from services.reply.clock.calendar import (
    DEFAULT_DIR,
    CalendarFileError,
    CalendarMissing,
    DayKind,
    WorkCalendar,
    date_zh,
    default_calendar,
    load_dir,
    package_years,
    parse_year,
)

CAL = default_calendar()
PKG = WorkCalendar(package=package_years())


@pytest.mark.parametrize(
    ("day", "kind", "holiday", "reason"),
    [
        # 2025 notice (国办发明电〔2024〕12号): 春节 1月28日至2月4日放假，1月26日（周日）、2月8日（周六）上班.
        (date(2025, 1, 26), DayKind.MAKEUP_WORKDAY, "春节", "春节调休上班"),
        (date(2025, 1, 28), DayKind.HOLIDAY, "春节", "春节假期"),
        (date(2025, 2, 1), DayKind.HOLIDAY, "春节", "春节假期"),  # a Saturday inside the range: the holiday
        (date(2025, 2, 8), DayKind.MAKEUP_WORKDAY, "春节", "春节调休上班"),
        # 劳动节 5月1日至5日放假，4月27日（周日）上班.
        (date(2025, 4, 27), DayKind.MAKEUP_WORKDAY, "劳动节", "劳动节调休上班"),
        (date(2025, 5, 5), DayKind.HOLIDAY, "劳动节", "劳动节假期"),
        # 国庆节、中秋节 10月1日至8日放假，9月28日（周日）、10月11日（周六）上班; 10月6日 is 中秋.
        (date(2025, 10, 6), DayKind.HOLIDAY, "中秋节", "中秋节假期"),
        (date(2025, 10, 8), DayKind.HOLIDAY, "国庆节", "国庆节假期"),
        (date(2025, 10, 11), DayKind.MAKEUP_WORKDAY, "国庆节", "国庆节调休上班"),
        # 2026 notice (国办发明电〔2025〕7号): 元旦 1月1日至3日，1月4日（周日）上班.
        (date(2026, 1, 4), DayKind.MAKEUP_WORKDAY, "元旦", "元旦调休上班"),
        (date(2026, 2, 15), DayKind.HOLIDAY, "春节", "春节假期"),  # a Sunday: holiday, not "weekend"
        (date(2026, 2, 28), DayKind.MAKEUP_WORKDAY, "春节", "春节调休上班"),
        (date(2026, 9, 25), DayKind.HOLIDAY, "中秋节", "中秋节假期"),
        (date(2026, 10, 10), DayKind.MAKEUP_WORKDAY, "国庆节", "国庆节调休上班"),
        (date(2026, 3, 7), DayKind.WEEKEND, None, "周末"),
        (date(2026, 3, 9), DayKind.WORKDAY, None, "工作日"),
    ],
)
def test_days_are_classified_with_their_reason(day, kind, holiday, reason):
    info = CAL.classify(day)
    assert (info.kind, info.holiday, info.reason_zh()) == (kind, holiday, reason)
    assert info.is_workday is (kind in (DayKind.WORKDAY, DayKind.MAKEUP_WORKDAY))


def test_package_covers_through_2026_and_not_2027():
    assert {2024, 2025, 2026} <= CAL.years
    assert 2027 not in CAL.years
    with pytest.raises(CalendarMissing) as exc:
        CAL.classify(date(2027, 1, 4))
    assert exc.value.year == 2027
    # The provisional classification knows weekends and the statutory holidays (estimated).
    assert CAL.classify_provisional(date(2027, 1, 2)).kind is DayKind.WEEKEND
    new_year = CAL.classify_provisional(date(2027, 1, 1))
    assert (new_year.kind, new_year.holiday, new_year.estimated) == (DayKind.HOLIDAY, "元旦", True)
    assert CAL.classify_provisional(date(2027, 1, 4)).kind is DayKind.WORKDAY


def test_the_2026_file_is_the_notice_and_agrees_with_the_package_day_by_day():
    # Two independent transcriptions of 国办发明电〔2025〕7号 must agree on every day of 2026.
    assert CAL.sources[2026] == "国办发明电〔2025〕7号"
    assert PKG.sources[2026] == "chinese-calendar"
    d = date(2026, 1, 1)
    while d.year == 2026:
        a, b = CAL.classify(d), PKG.classify(d)
        assert (a.kind, a.holiday) == (b.kind, b.holiday), d
        d += timedelta(days=1)
    # 2026 has 7 holiday ranges, 33 holiday days in all (3+9+3+5+3+3+7), 6 make-up days.
    special = [i for x, i in CAL.special.items() if x.year == 2026]
    assert sum(i.kind is DayKind.HOLIDAY for i in special) == 33
    assert sum(i.kind is DayKind.MAKEUP_WORKDAY for i in special) == 6


def test_operator_file_replaces_the_package_for_its_year():
    # A (fictitious) corrected 2025 file with only one holiday: every other 2025 holiday of the
    # package disappears, the package's other years stay.
    f = parse_year({"year": 2025, "notice": "测试", "holidays": [{"name": "春节", "start": "2025-01-29", "end": "2025-01-29"}]})
    cal = WorkCalendar(package=package_years(), files=[f])
    assert cal.classify(date(2025, 1, 29)).source == "测试"
    assert cal.classify(date(2025, 1, 28)).kind is DayKind.WORKDAY  # was 春节 in the package
    assert cal.classify(date(2025, 1, 26)).kind is DayKind.WEEKEND  # was a make-up day
    assert cal.classify(date(2024, 10, 1)).kind is DayKind.HOLIDAY  # 2024 untouched


def test_a_new_years_file_covers_it_and_may_name_days_of_the_year_before():
    f = parse_year(
        {
            "year": 2027,
            "notice": "测试用2027年安排（非真实通知）",
            "holidays": [{"name": "元旦", "start": "2027-01-01", "end": "2027-01-03"}],
            "makeup_workdays": [{"name": "元旦", "date": "2026-12-27"}],  # a Sunday of 2026
        }
    )
    cal = CAL.with_files(f)
    assert cal.covers(2027)
    assert cal.classify(date(2027, 1, 1)).holiday == "元旦"
    assert cal.classify(date(2026, 12, 27)).kind is DayKind.MAKEUP_WORKDAY
    assert CAL.classify(date(2026, 12, 27)).kind is DayKind.WEEKEND  # the original is unchanged
    assert cal.fingerprint() != CAL.fingerprint()
    before = CAL.fingerprint()
    assert CAL.fingerprint() == before  # remembered: the calendar itself never changes
    assert CAL.with_holiday(date(2026, 12, 28), "调整").fingerprint() != before
    assert CAL.fingerprint() == before == CAL._digest()


@pytest.mark.parametrize(
    ("obj", "fragment"),
    [
        ({"notice": "x", "holidays": [{"name": "元旦", "start": "2027-01-01"}]}, "year"),
        ({"year": 2027, "holidays": [{"name": "元旦", "start": "2027-01-01"}]}, "notice"),
        ({"year": 2027, "notice": "x", "holidays": []}, "没有任何假期"),
        ({"year": 2027, "notice": "x", "holidays": [{"name": "元旦", "start": "2027-01-03", "end": "2027-01-01"}]}, "起止"),
        ({"year": 2027, "notice": "x", "holidays": [{"name": "元旦", "start": "2027/01/01"}]}, "YYYY-MM-DD"),
        (
            {
                "year": 2027,
                "notice": "x",
                "holidays": [{"name": "元旦", "start": "2027-01-01"}],
                "makeup_workdays": [{"name": "元旦", "date": "2027-01-04"}],  # a Monday
            },
            "不是周末",
        ),
        (
            {
                "year": 2027,
                "notice": "x",
                "holidays": [{"name": "元旦", "start": "2027-01-01", "end": "2027-01-03"}],
                "makeup_workdays": [{"name": "元旦", "date": "2027-01-02"}],
            },
            "既是假日又是调休",
        ),
    ],
)
def test_bad_calendar_files_are_refused_with_a_reason(obj, fragment):
    with pytest.raises(CalendarFileError) as exc:
        parse_year(obj)
    assert fragment in str(exc.value)


def test_load_dir_checks_file_names(tmp_path):
    good = {"year": 2027, "notice": "x", "holidays": [{"name": "元旦", "start": "2027-01-01"}]}
    (tmp_path / "2027.json").write_text(json.dumps(good), encoding="utf-8")
    assert [c.year for c in load_dir(tmp_path)] == [2027]
    (tmp_path / "2028.json").write_text(json.dumps(good), encoding="utf-8")
    with pytest.raises(CalendarFileError, match="文件名应为2027.json"):
        load_dir(tmp_path)
    (tmp_path / "2028.json").write_text("{", encoding="utf-8")
    with pytest.raises(CalendarFileError, match="JSON"):
        load_dir(tmp_path)
    assert load_dir(tmp_path / "absent") == []


def test_shipped_directory_loads():
    assert [c.year for c in load_dir(DEFAULT_DIR)] == [2026]


def test_date_zh():
    assert date_zh(date(2026, 2, 15)) == "2026年2月15日（星期日）"
