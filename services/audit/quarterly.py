"""The quarterly red/black list of departments (季度红黑榜) and the applicants' satisfaction. Pure
logic, from the ledger's events only, so that every figure can be checked against the events.

A quarter is ``2026Q3``: [1 July, 1 October) in China Standard Time. Per department:

- ``replies``: replies (``reply.issued``) dated in the quarter that carry a part of the department
  (its answer is in the reply; the OGI office's own parts are not a department's);
- ``on_time`` / ``late`` / ``unknown`` and ``on_time_rate`` = on_time / (on_time + late): the reply
  day against the case's deadline as the annual statistics take it (statistics/cases.py);
- ``avg_workdays``: mean, over those parts, of the working days from the day the task was assigned
  (``task.assigned``, its event time) to the day of the department's last signed-off answer
  (``answer.recorded`` with ``draft`` false) for it, counted as the working days d with
  assigned < d <= answered (the calendar is given: ``is_workday``);
- ``returns``: the department's ``task.returned`` events dated in the quarter;
- ``reassignments``: ``task.withdrawn`` events of its tasks dated in the quarter, except tasks it
  had itself returned (those are counted as returns);
- ``amendments``: ``reply.amended`` events dated in the quarter with a part of the department
  (an answer that came after the release);
- ``corrected``: reviews and lawsuits (``remedy.recorded``, stage decided, result corrected)
  decided in the quarter about a case whose reply carries a part of the department;
- ``ratings`` and ``satisfaction_rate``: each case's last ``reply.rated`` dated in the quarter,
  for the departments of its reply; rate = (满意 + 基本满意) / rated.

Ranking (rank 1 = best), departments with at least ``min_replies`` replies only: on-time rate
(higher first), average working days (fewer first), returns + reassignments, amendments,
corrected (fewer first), satisfaction (higher first), then the department code. A missing rate or
average sorts after every value. Red list: on_time_rate >= ``red_on_time_rate``, satisfaction (when
rated) >= ``red_satisfaction``, returns + reassignments <= ``red_max_returns``, corrected <=
``red_max_corrected``. Black list: on_time_rate < ``black_on_time_rate``, or satisfaction <
``black_satisfaction``, or returns + reassignments >= ``black_min_returns``, or corrected >=
``black_min_corrected``; the reasons are listed. Black wins over red.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any

from services.audit.statistics.cases import ISSUED, Case, fold, kind, local_day
from services.audit.statistics.cases import TYPES as CASE_TYPES
from servicekit.workdays import IsWorkday, workdays_after

OGI_DEPT = "ogi-office"
QUARTER = re.compile(r"^(\d{4})Q([1-4])$")

EVENT_NAMES = ("answer.recorded", "task.returned", "task.withdrawn", "remedy.recorded", "reply.rated")
TYPES = CASE_TYPES + tuple(f"cn.gongkai.{n}.v1" for n in EVENT_NAMES)
RATINGS = ("satisfied", "basically_satisfied", "dissatisfied")
RATING_ZH = {"satisfied": "满意", "basically_satisfied": "基本满意", "dissatisfied": "不满意"}


@dataclass(frozen=True)
class Thresholds:
    min_replies: int = 1
    red_on_time_rate: float = 1.0
    red_satisfaction: float = 0.8
    red_max_returns: int = 0
    red_max_corrected: int = 0
    black_on_time_rate: float = 0.8
    black_satisfaction: float = 0.6
    black_min_returns: int = 3
    black_min_corrected: int = 1


def parse_quarter(text: str) -> tuple[int, int]:
    m = QUARTER.match(text or "")
    if not m or not 2008 <= int(m.group(1)) <= 2100:
        raise ValueError("季度格式应为 2026Q3（年份后接 Q1 至 Q4）")
    return int(m.group(1)), int(m.group(2))


def quarter_bounds(year: int, q: int) -> tuple[date, date]:
    start = date(year, 3 * q - 2, 1)
    end = date(year + 1, 1, 1) if q == 4 else date(year, 3 * q + 1, 1)
    return start, end


def quarter_of(day: date) -> str:
    return f"{day.year}Q{(day.month - 1) // 3 + 1}"



@dataclass
class DeptRow:
    dept_code: str
    dept_name: str
    replies: int = 0
    on_time: int = 0
    late: int = 0
    unknown: int = 0
    workdays: list[int] = field(default_factory=list)
    returns: int = 0
    reassignments: int = 0
    amendments: int = 0
    corrected: int = 0
    ratings: dict[str, int] = field(default_factory=lambda: dict.fromkeys(RATINGS, 0))
    rank: int | None = None
    board: str = ""  # "red" | "black" | "" (the list the department is on)
    reasons: list[str] = field(default_factory=list)

    @property
    def on_time_rate(self) -> float | None:
        return None if self.on_time + self.late == 0 else self.on_time / (self.on_time + self.late)

    @property
    def avg_workdays(self) -> float | None:
        return None if not self.workdays else sum(self.workdays) / len(self.workdays)

    @property
    def rated(self) -> int:
        return sum(self.ratings.values())

    @property
    def satisfaction_rate(self) -> float | None:
        n = self.rated
        return None if n == 0 else (self.ratings["satisfied"] + self.ratings["basically_satisfied"]) / n

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("workdays")
        out.update(on_time_rate=self.on_time_rate, avg_workdays=self.avg_workdays, rated=self.rated,
                   satisfaction_rate=self.satisfaction_rate, workday_samples=len(self.workdays))
        return out


def _day(e: dict[str, Any], name: str | None = None) -> date:
    value = (e.get("data") or {}).get(name) if name else None
    return local_day(value or e["time"])


def _in(day: date, start: date, end: date) -> bool:
    return start <= day < end


def _sort_key(r: DeptRow) -> tuple:
    inf = float("inf")
    return (-(r.on_time_rate if r.on_time_rate is not None else -1.0), r.avg_workdays if r.avg_workdays is not None
            else inf, r.returns + r.reassignments, r.amendments, r.corrected,
            -(r.satisfaction_rate if r.satisfaction_rate is not None else -1.0), r.dept_code)


def classify(r: DeptRow, t: Thresholds) -> tuple[str, list[str]]:
    black: list[str] = []
    if r.on_time_rate is not None and r.on_time_rate < t.black_on_time_rate:
        black.append(f"按期答复率低于{t.black_on_time_rate:.0%}")
    if r.satisfaction_rate is not None and r.satisfaction_rate < t.black_satisfaction:
        black.append(f"满意率低于{t.black_satisfaction:.0%}")
    if r.returns + r.reassignments >= t.black_min_returns:
        black.append(f"退回和改派达{t.black_min_returns}次以上")
    if r.corrected >= t.black_min_corrected:
        black.append(f"被复议或诉讼纠正达{t.black_min_corrected}件以上")
    if black:
        return "black", black
    if (r.on_time_rate is not None and r.on_time_rate >= t.red_on_time_rate
            and (r.satisfaction_rate is None or r.satisfaction_rate >= t.red_satisfaction)
            and r.returns + r.reassignments <= t.red_max_returns and r.corrected <= t.red_max_corrected):
        return "red", ["按期答复、满意率、退回改派和纠错均达到红榜标准"]
    return "", []


def red_black(events: Iterable[dict[str, Any]], agency_code: str, year: int, q: int, is_workday: IsWorkday,
              thresholds: Thresholds | None = None) -> dict[str, Any]:
    """The quarter's table of departments, ranked, with the red and the black list."""
    t = thresholds or Thresholds()
    events = list(events)
    start, end = quarter_bounds(year, q)
    cases, problems = fold(events)
    mine = {cid for cid, c in cases.items() if c.agency_code == agency_code}
    rows: dict[str, DeptRow] = {}

    def row(code: str, name: str | None = None) -> DeptRow:
        r = rows.get(code)
        if r is None:
            r = rows[code] = DeptRow(code, name or code)
        elif name and r.dept_name == r.dept_code:
            r.dept_name = name
        return r

    assigned: dict[str, date] = {}  # task id -> day assigned (the first assignment)
    answered: dict[str, date] = {}  # task id -> day of the last signed-off answer
    reply_parts: dict[str, list[dict[str, Any]]] = {}  # case id -> the parts of its (first) reply
    returned_tasks: set[str] = set()
    for e in events:
        k, d = kind(e), e.get("data") or {}
        if d.get("case_id") not in mine:
            continue
        if k == "task.assigned":
            assigned.setdefault(d["task_id"], _day(e))
            row(d["dept_code"], d.get("dept_name"))
        elif k == "answer.recorded" and not d.get("draft"):
            answered[d["task_id"]] = _day(e)
        elif k == ISSUED and d["case_id"] not in reply_parts:
            reply_parts[d["case_id"]] = [p for p in d.get("parts") or [] if p.get("dept_code") != OGI_DEPT]
        elif k == "task.returned":
            returned_tasks.add(d["task_id"])
            if _in(_day(e, "returned_at"), start, end):
                row(d["dept_code"]).returns += 1
    for e in events:  # withdrawals after all returns are known
        d = e.get("data") or {}
        if kind(e) == "task.withdrawn" and d.get("case_id") in mine and d["task_id"] not in returned_tasks \
                and _in(_day(e), start, end):
            row(d["dept_code"], d.get("dept_name")).reassignments += 1

    def depts_of(case_id: str) -> list[str]:
        return sorted({p["dept_code"] for p in reply_parts.get(case_id, [])})

    for cid, parts in reply_parts.items():
        c: Case = cases[cid]
        if c.closed_by != ISSUED or c.replied_on is None or not _in(c.replied_on, start, end):
            continue
        verdict = "unknown" if c.deadline is None else ("on_time" if c.replied_on <= c.deadline else "late")
        seen: set[str] = set()
        for p in parts:
            r = row(p["dept_code"], p.get("dept_name"))
            if p["dept_code"] not in seen:  # one reply per department, however many of its tasks
                seen.add(p["dept_code"])
                r.replies += 1
                setattr(r, verdict, getattr(r, verdict) + 1)
            task = p.get("task_id")
            if task in assigned and task in answered:
                r.workdays.append(workdays_after(assigned[task], answered[task], is_workday))

    last_rating: dict[str, dict[str, Any]] = {}
    for e in events:
        k, d = kind(e), e.get("data") or {}
        if d.get("case_id") not in mine:
            continue
        if k == "reply.amended" and _in(_day(e), start, end):
            for code in sorted({p["dept_code"] for p in d.get("parts") or [] if p.get("dept_code") != OGI_DEPT}):
                row(code, next(p.get("dept_name") for p in d["parts"] if p["dept_code"] == code)).amendments += 1
        elif k == "remedy.recorded" and d.get("stage") == "decided" and d.get("result") == "corrected" \
                and d.get("decided_on") and _in(date.fromisoformat(str(d["decided_on"])), start, end):
            for code in depts_of(d["case_id"]):
                row(code).corrected += 1
        elif k == "reply.rated" and _in(_day(e, "rated_at"), start, end):
            last_rating[d["case_id"]] = d
    for cid, d in last_rating.items():
        for code in depts_of(cid):
            row(code).ratings[d["rating"]] += 1

    ranked = sorted((r for r in rows.values() if r.replies >= t.min_replies), key=_sort_key)
    for i, r in enumerate(ranked, 1):
        r.rank = i
        r.board, r.reasons = classify(r, t)
    unranked = sorted((r for r in rows.values() if r.replies < t.min_replies), key=lambda r: r.dept_code)
    table = [r.as_dict() for r in [*ranked, *unranked]]
    return {
        "agency_code": agency_code, "quarter": f"{year}Q{q}", "start": start.isoformat(),
        "end": (end - timedelta(days=1)).isoformat(), "thresholds": asdict(t), "departments": table,
        "red": [r["dept_code"] for r in table if r["board"] == "red"],
        "black": [r["dept_code"] for r in table if r["board"] == "black"],
        "problems": problems,
    }


def satisfaction(events: Iterable[dict[str, Any]], agency_code: str, start: date, end: date) -> dict[str, Any]:
    """Each case's last rating dated in [start, end): in all, by department of its reply, and by
    the case's outcome (the annual report's row). Counts only: no case, no applicant."""
    events = list(events)
    cases, _ = fold(events)
    parts: dict[str, set[tuple[str, str]]] = {}
    last: dict[str, str] = {}
    for e in events:
        k, d = kind(e), e.get("data") or {}
        c = cases.get(d.get("case_id", ""))
        if c is None or c.agency_code != agency_code:
            continue
        if k == ISSUED and d["case_id"] not in parts:
            parts[d["case_id"]] = {(p["dept_code"], p.get("dept_name") or p["dept_code"]) for p in d.get("parts") or []
                                   if p.get("dept_code") != OGI_DEPT}
        elif k == "reply.rated" and _in(_day(e, "rated_at"), start, end):
            last[d["case_id"]] = d["rating"]

    def bucket() -> dict[str, Any]:
        return dict.fromkeys(RATINGS, 0)

    total = bucket()
    by_dept: dict[str, dict[str, Any]] = {}
    by_outcome: dict[str, dict[str, Any]] = {}
    for cid, rating in last.items():
        total[rating] += 1
        for code, name in sorted(parts.get(cid, set())):
            by_dept.setdefault(code, {"dept_code": code, "dept_name": name, **bucket()})[rating] += 1
        oc = cases[cid].outcome
        label = oc.label if oc is not None else "（无）"
        by_outcome.setdefault(label, {"outcome": label, **bucket()})[rating] += 1

    def shares(b: dict[str, Any]) -> dict[str, Any]:
        n = sum(b[r] for r in RATINGS)
        return {**b, "rated": n, **{f"{r}_share": (b[r] / n if n else None) for r in RATINGS},
                "satisfaction_rate": ((b["satisfied"] + b["basically_satisfied"]) / n) if n else None}

    return {"agency_code": agency_code, "start": start.isoformat(), "end": (end - timedelta(days=1)).isoformat(),
            "total": shares(total), "departments": [shares(b) for _, b in sorted(by_dept.items())],
            "outcomes": [shares(b) for _, b in sorted(by_outcome.items())]}


# ----------------------------------------------------------------------------------------- exports

COLUMNS = (("rank", "排名"), ("dept_name", "部门"), ("board", "榜单"), ("replies", "答复件数"), ("on_time", "按期"),
           ("late", "逾期"), ("on_time_rate", "按期答复率"), ("avg_workdays", "平均用时（工作日）"), ("returns", "退回"),
           ("reassignments", "改派"), ("amendments", "补充答复"), ("corrected", "复议诉讼纠错"), ("rated", "评价件数"),
           ("satisfaction_rate", "满意率"), ("reasons", "说明"))
LIST_ZH = {"red": "红榜", "black": "黑榜", "": ""}


def _cell(key: str, value: Any) -> Any:  # noqa: ANN401
    if value is None:
        return ""
    if key in ("on_time_rate", "satisfaction_rate"):
        return round(float(value), 4)
    if key == "avg_workdays":
        return round(float(value), 2)
    if key == "board":
        return LIST_ZH.get(value, value)
    if key == "reasons":
        return "；".join(value)
    return value


def rows_of(table: dict[str, Any]) -> list[list[Any]]:
    return [[_cell(k, d.get(k)) for k, _ in COLUMNS] for d in table["departments"]]


def to_csv(table: dict[str, Any]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow([f"{table['agency_code']} {table['quarter']} 季度红黑榜（{table['start']} 至 {table['end']}）"])
    w.writerow([label for _, label in COLUMNS])
    w.writerows(rows_of(table))
    return buf.getvalue()


def to_xlsx(table: dict[str, Any]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill

    wb = Workbook()
    ws = wb.active
    ws.title = f"{table['quarter']}红黑榜"
    ws.append([f"{table['agency_code']} {table['quarter']} 季度红黑榜（{table['start']} 至 {table['end']}）"])
    ws.append([label for _, label in COLUMNS])
    for cell in ws[2]:
        cell.font = Font(bold=True)
    fills = {"红榜": PatternFill("solid", fgColor="FDE2E1"), "黑榜": PatternFill("solid", fgColor="D9D9D9")}
    for values in rows_of(table):
        ws.append(values)
        if values[2] in fills:
            for cell in ws[ws.max_row]:
                cell.fill = fills[values[2]]
    ws.column_dimensions["B"].width = 24
    ws.column_dimensions["O"].width = 48
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
