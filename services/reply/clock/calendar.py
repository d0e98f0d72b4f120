"""Working-day calendar of the State Council's yearly holiday notices.

Sources, in order of precedence:

1. Operator calendar files, one per year (``services/reply/calendars/<YEAR>.json``), transcribed
   from the State Council notice (国务院办公厅关于<YEAR>年部分节假日安排的通知). When a file for a
   year exists, the package's data for that year is ignored entirely: the file *is* that year.
   A file may also name days of the adjacent year (a notice sometimes sets a make-up workday or a
   holiday day in the previous or next year, e.g. 2018-12-29 in the 2019 notice); those days are
   applied on top of whatever the other source says for them.
2. The ``chinese-calendar`` package (1.11.0 covers 2004–2026).

A day of a year that no source covers is never guessed silently: ``WorkCalendar.classify`` raises
``CalendarMissing(year)``; the clock then computes a *provisional* date and says so. For such a year
(from 2025 on) the provisional estimate applies the statutory holidays that 《全国年节及纪念日放假办法》
(as revised by 国务院令第795号, in force since 2025-01-01) fixes — 元旦 (1 Jan), 春节 (农历除夕 and
正月初一 to 初三), 清明节 (the day of the 清明 solar term), 劳动节 (1–2 May), 端午节 (农历五月初五),
中秋节 (农历八月十五), 国庆节 (1–3 Oct) — with the lunar dates and the solar term from
``lunar_python`` (``statutory_holidays``). Those days are marked ``estimated``; the State Council's
notice for the year, which moves days around them (调休: make-up workdays, and 补休 for a holiday
on a weekend), is unknown, so weekends stay rest days and no make-up workday is assumed.

File shape (JSON, UTF-8)::

    {
      "year": 2026,
      "notice": "国办发明电〔2025〕7号",
      "holidays": [{"name": "春节", "start": "2026-02-15", "end": "2026-02-23"}, ...],
      "makeup_workdays": [{"name": "春节", "date": "2026-02-14"}, ...]
    }

Each day is classified with its reason, for the explanation of a deadline: a named holiday (also
when it falls on a weekend), a make-up workday (调休上班, a weekend day that is worked), a plain
weekend day, or a plain workday.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from functools import lru_cache
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

DEFAULT_DIR = Path(__file__).resolve().parent.parent / "calendars"

# chinese-calendar's holiday names → the names used in the State Council notices.
_PACKAGE_NAMES = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "中国人民抗日战争暨世界反法西斯战争胜利70周年纪念日",
}

# 《全国年节及纪念日放假办法》 as revised in 2024 (国务院令第795号), in force from this year on.
STATUTORY_RULES_SINCE = 2025
STATUTORY_RULES_ZH = "《全国年节及纪念日放假办法》（2024年修订，国务院令第795号）"
STATUTORY_SOURCE = "全国年节及纪念日放假办法（推算）"
# Part of the calendar's fingerprint: a change of the estimate's rules recomputes the open cases.
ESTIMATE_VERSION = "statutory-2024/lunar_python"

WEEKDAYS_ZH = ("星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日")


class CalendarMissing(LookupError):
    """No calendar source covers ``year``: its holidays are unknown."""

    def __init__(self, year: int) -> None:
        super().__init__(f"calendar missing for {year}")
        self.year = year


class CalendarFileError(ValueError):
    """An operator calendar file that cannot be used (the message says why, in Chinese)."""


class DayKind(StrEnum):
    WORKDAY = "workday"  # 工作日
    WEEKEND = "weekend"  # 周末
    HOLIDAY = "holiday"  # 法定节假日（含调休放假）
    MAKEUP_WORKDAY = "makeup_workday"  # 调休上班


@dataclass(frozen=True)
class DayInfo:
    day: date
    kind: DayKind
    holiday: str | None = None  # Chinese name of the holiday a holiday / make-up day belongs to
    source: str = ""  # "chinese-calendar" or the calendar file's notice number
    estimated: bool = False  # a statutory holiday of a year without its notice (see statutory_holidays)

    @property
    def is_workday(self) -> bool:
        return self.kind in (DayKind.WORKDAY, DayKind.MAKEUP_WORKDAY)

    def reason_zh(self) -> str:
        if self.kind is DayKind.HOLIDAY and self.estimated:
            return f"{self.holiday}（法定节假日，按{STATUTORY_RULES_ZH}推算）"
        if self.kind is DayKind.HOLIDAY:
            return f"{self.holiday}假期"
        if self.kind is DayKind.MAKEUP_WORKDAY:
            return f"{self.holiday}调休上班"
        if self.kind is DayKind.WEEKEND:
            return "周末"
        return "工作日"


@dataclass(frozen=True)
class YearCalendar:
    """One year's notice: its holidays and make-up workdays (each with the holiday's name)."""

    year: int
    holidays: Mapping[date, str]
    makeup_workdays: Mapping[date, str]
    source: str

    def __post_init__(self) -> None:
        both = set(self.holidays) & set(self.makeup_workdays)
        if both:
            raise CalendarFileError(f"{self.year}年日历中以下日期既是假日又是调休上班日：{sorted(both)}")


def _parse_date(value: Any, where: str) -> date:
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise CalendarFileError(f"{where}：日期格式应为YYYY-MM-DD，实为{value!r}") from None


def parse_year(obj: Mapping[str, Any], *, origin: str = "") -> YearCalendar:
    """Validate one operator calendar (the parsed JSON of a file)."""
    where = origin or "日历文件"
    year = obj.get("year")
    if not isinstance(year, int) or not 1949 < year < 2200:
        raise CalendarFileError(f"{where}：缺少有效的year")
    notice = obj.get("notice")
    if not isinstance(notice, str) or not notice.strip():
        raise CalendarFileError(f"{where}：缺少通知文号notice")
    holidays: dict[date, str] = {}
    for i, item in enumerate(obj.get("holidays") or []):
        name = item.get("name")
        if not isinstance(name, str) or not name.strip():
            raise CalendarFileError(f"{where}：第{i + 1}个假期缺少名称")
        start = _parse_date(item.get("start"), f"{where} {name}")
        end = _parse_date(item.get("end", item.get("start")), f"{where} {name}")
        if end < start or (end - start).days > 31:
            raise CalendarFileError(f"{where} {name}：起止日期无效")
        if abs(start.year - year) > 1 or abs(end.year - year) > 1:
            raise CalendarFileError(f"{where} {name}：日期不在{year}年前后")
        d = start
        while d <= end:
            holidays[d] = name
            d += timedelta(days=1)
    makeups: dict[date, str] = {}
    for i, item in enumerate(obj.get("makeup_workdays") or []):
        name = item.get("name")
        if not isinstance(name, str) or not name.strip():
            raise CalendarFileError(f"{where}：第{i + 1}个调休上班日缺少名称")
        d = _parse_date(item.get("date"), f"{where} {name}调休")
        if d.weekday() < 5:
            raise CalendarFileError(f"{where} {name}：调休上班日{d.isoformat()}不是周末")
        if abs(d.year - year) > 1:
            raise CalendarFileError(f"{where} {name}：调休日期不在{year}年前后")
        makeups[d] = name
    if not holidays:
        raise CalendarFileError(f"{where}：没有任何假期")
    return YearCalendar(year=year, holidays=holidays, makeup_workdays=makeups, source=notice.strip())


def load_dir(directory: Path = DEFAULT_DIR) -> list[YearCalendar]:
    """Every ``<YEAR>.json`` in ``directory`` (the file name must match its ``year``)."""
    out = []
    if not directory.is_dir():
        return out
    for path in sorted(directory.glob("*.json")):
        try:
            obj = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise CalendarFileError(f"{path.name}：不是有效的JSON（{exc}）") from None
        cal = parse_year(obj, origin=path.name)
        if path.stem != str(cal.year):
            raise CalendarFileError(f"{path.name}：文件名应为{cal.year}.json")
        out.append(cal)
    return out


def package_years() -> list[YearCalendar]:
    """The years of the ``chinese-calendar`` package, in the same shape as a notice."""
    from chinese_calendar import constants

    by_year: dict[int, tuple[dict[date, str], dict[date, str]]] = {}
    for d, name in constants.holidays.items():
        by_year.setdefault(d.year, ({}, {}))[0][d] = _PACKAGE_NAMES.get(name, name)
    for d, name in constants.workdays.items():
        by_year.setdefault(d.year, ({}, {}))[1][d] = _PACKAGE_NAMES.get(name, name)
    return [
        YearCalendar(year=y, holidays=h, makeup_workdays=w, source="chinese-calendar")
        for y, (h, w) in sorted(by_year.items())
    ]


@lru_cache(maxsize=64)
def statutory_holidays(year: int) -> Mapping[date, str]:
    """The statutory holidays (全体公民放假的节日) of ``year`` under the 2024 revision of
    《全国年节及纪念日放假办法》, without the State Council's yearly arrangement (调休, 补休).

    元旦 1 day (1 Jan); 春节 4 days (农历除夕、正月初一、初二、初三); 清明节 1 day (the day of the
    清明 solar term); 劳动节 2 days (1–2 May); 端午节 1 day (农历五月初五); 中秋节 1 day (农历八月十五);
    国庆节 3 days (1–3 Oct). Lunar dates and the solar term: ``lunar_python``. A day that is two
    holidays at once (e.g. 中秋 on 3 Oct 2028) is named by the first listed here that claims it:
    元旦, 春节, 清明节, 劳动节, 端午节, 国庆节, 中秋节.
    """
    from lunar_python import Lunar, Solar

    if year < STATUTORY_RULES_SINCE:
        raise ValueError(f"the 2024 rules apply from {STATUTORY_RULES_SINCE}")

    def solar(lunar_month: int, lunar_day: int) -> date:
        s = Lunar.fromYmd(year, lunar_month, lunar_day).getSolar()
        return date(s.getYear(), s.getMonth(), s.getDay())

    new_year = solar(1, 1)  # 正月初一 of the lunar year beginning in ``year``
    qm = Solar.fromYmd(year, 4, 15).getLunar().getJieQiTable()["清明"]
    qingming = date(qm.getYear(), qm.getMonth(), qm.getDay())
    if qingming.year != year or qingming.month != 4:
        raise ValueError(f"清明 of {year} not found in April: {qingming}")
    days: dict[date, str] = {}

    def add(name: str, *ds: date) -> None:
        for d in ds:
            days.setdefault(d, name)

    add("元旦", date(year, 1, 1))
    add("春节", *(new_year + timedelta(days=k) for k in range(-1, 3)))  # 除夕 is the eve of 初一
    add("清明节", qingming)
    add("劳动节", date(year, 5, 1), date(year, 5, 2))
    add("端午节", solar(5, 5))
    add("国庆节", date(year, 10, 1), date(year, 10, 2), date(year, 10, 3))
    add("中秋节", solar(8, 15))
    return days


class WorkCalendar:
    """The merged calendar: which years are covered, and every special day with its reason.

    Immutable; ``with_files`` / ``with_holiday`` return a new calendar (a calendar change).
    """

    def __init__(
        self,
        package: Iterable[YearCalendar] = (),
        files: Iterable[YearCalendar] = (),
        overrides: Mapping[date, DayInfo] | None = None,
    ) -> None:
        self.package = tuple(package)
        # One file per year: a later-loaded file of the same year replaces the earlier one.
        by_year = {c.year: c for c in files}
        self.files = tuple(by_year[y] for y in sorted(by_year))
        self.overrides = dict(overrides or {})
        special: dict[date, DayInfo] = {}
        sources: dict[int, str] = {}
        for cal in self.package:
            if cal.year in by_year:
                continue  # the operator's file replaces the package for that year
            sources[cal.year] = cal.source
            self._apply(special, cal, only_year=cal.year)
        for cal in self.files:
            sources[cal.year] = cal.source
        # Files: their own year and the spill-over days they name in neighbouring years (the
        # later notice wins on the days it names).
        for cal in self.files:
            self._apply(special, cal, only_year=None)
        special.update(self.overrides)
        self.special: Mapping[date, DayInfo] = special
        self.sources: Mapping[int, str] = sources
        self.years = frozenset(sources)
        # (ESTIMATE_VERSION, digest): computed once, the calendar never changes (the estimate's
        # version is part of it: a new version of the rules is a new fingerprint).
        self._fingerprint: tuple[str, str] | None = None

    @staticmethod
    def _apply(special: dict[date, DayInfo], cal: YearCalendar, only_year: int | None) -> None:
        for d, name in cal.holidays.items():
            if only_year is None or d.year == only_year:
                special[d] = DayInfo(d, DayKind.HOLIDAY, name, cal.source)
        for d, name in cal.makeup_workdays.items():
            if only_year is None or d.year == only_year:
                special[d] = DayInfo(d, DayKind.MAKEUP_WORKDAY, name, cal.source)

    def covers(self, year: int) -> bool:
        return year in self.years

    def classify(self, day: date) -> DayInfo:
        """The kind of ``day`` and why; ``CalendarMissing`` if no source covers its year."""
        if day.year not in self.years:
            raise CalendarMissing(day.year)
        return self.classify_provisional(day)

    def classify_provisional(self, day: date) -> DayInfo:
        """Like ``classify``, but for an uncovered year an estimate: weekends, and from 2025 the
        statutory holidays of 《全国年节及纪念日放假办法》 (``estimated``); no make-up workdays."""
        info = self.special.get(day)
        if info is not None:
            return info
        if day.year not in self.years and day.year >= STATUTORY_RULES_SINCE:
            name = statutory_holidays(day.year).get(day)
            if name is not None:
                return DayInfo(day, DayKind.HOLIDAY, name, STATUTORY_SOURCE, estimated=True)
        if day.weekday() >= 5:
            return DayInfo(day, DayKind.WEEKEND)
        return DayInfo(day, DayKind.WORKDAY)

    def is_workday(self, day: date) -> bool:
        return self.classify(day).is_workday

    def with_files(self, *cals: YearCalendar) -> WorkCalendar:
        """A copy with these operator files loaded on top (a new notice, or a corrected one)."""
        return WorkCalendar(self.package, [*self.files, *cals], self.overrides)

    def with_holiday(self, day: date, name: str, source: str = "调整") -> WorkCalendar:
        """A copy in which ``day`` is a holiday."""
        return WorkCalendar(
            self.package, self.files, {**self.overrides, day: DayInfo(day, DayKind.HOLIDAY, name, source)}
        )

    def fingerprint(self) -> str:
        """A short digest that changes whenever any day's classification or coverage changes.
        Computed once per calendar (immutable: a change is a new ``WorkCalendar``)."""
        if self._fingerprint is None or self._fingerprint[0] != ESTIMATE_VERSION:
            self._fingerprint = (ESTIMATE_VERSION, self._digest())
        return self._fingerprint[1]

    def _digest(self) -> str:
        h = hashlib.sha256()
        h.update(",".join(str(y) for y in sorted(self.years)).encode())
        h.update(f"|estimate:{ESTIMATE_VERSION}".encode())
        for d in sorted(self.special):
            i = self.special[d]
            h.update(f"|{d.isoformat()}:{i.kind.value}:{i.holiday}".encode())
        return h.hexdigest()[:16]


def default_calendar(directory: Path = DEFAULT_DIR) -> WorkCalendar:
    """chinese-calendar overlaid by the operator's calendar files."""
    return WorkCalendar(package=package_years(), files=load_dir(directory))


def date_zh(d: date) -> str:
    return f"{d.year}年{d.month}月{d.day}日（{WEEKDAYS_ZH[d.weekday()]}）"
