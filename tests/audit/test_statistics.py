"""Statistics from ledger events: a generated year of cases whose answers are known by
construction, compared row by row; quarterly, on-time, heat map, repeated requests."""

from __future__ import annotations

import csv
import io
import itertools
from datetime import UTC, date, datetime

import openpyxl
import pytest

from contracts.decisions import OUTCOMES, REPORT_ROWS, default_outcome
from services.audit.statistics import annual, heatmap, periodic, repeated
from services.audit.statistics.cases import fold

AGENCY = "yn-gov-office"
TYPES = ["natural_person", "commercial_enterprise", "research_institution", "public_interest_org",
         "legal_service_org", "other_org"]
COLS = TYPES + ["total"]
_n = itertools.count(1)


def app_event(received_on: date, applicant_type: str, agency: str = AGENCY, description: str = "某项信息",
              applicant_ref: str | None = None, depts: tuple[str, ...] = ()) -> tuple[str, list[dict]]:
    case_id = f"c{next(_n):05d}"
    t = datetime(received_on.year, received_on.month, received_on.day, 2, tzinfo=UTC)
    events = [{"type": "cn.gongkai.application.received.v1", "subject": case_id, "time": t.isoformat(),
               "data": {"case_id": case_id, "agency_code": agency, "applicant_type": applicant_type,
                        "received_on": received_on.isoformat(), "description": description,
                        "applicant_ref": applicant_ref or f"ref-{case_id}"}}]
    for d in depts:
        events.append({"type": "cn.gongkai.task.assigned.v1", "subject": case_id, "time": t.isoformat(),
                       "data": {"case_id": case_id, "dept_code": d, "dept_name": f"{d}局", "rule": f"keyword:{d}事项"}})
    return case_id, events


def reply_event(case_id: str, when: datetime, code: str, *, with_outcome: bool, deadline: date | None = None) -> dict:
    o = next(o for o in OUTCOMES if o.code == code)
    data = {"case_id": case_id, "decision": o.reply_type.value}
    if with_outcome:
        data["outcome"] = code
    if deadline:
        data["deadline"] = deadline.isoformat()
    return {"type": "cn.gongkai.reply.issued.v1", "subject": case_id, "time": when.isoformat(), "data": data}


def noon(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, 4, tzinfo=UTC)  # 12:00 in Beijing


def generated_year() -> tuple[list[dict], dict[str, dict[str, int]]]:
    """Events of agency AGENCY around 2026 and the table 2026 they must give, counted as made."""
    events: list[dict] = []
    want = {r: dict.fromkeys(COLS, 0) for r in annual.ROWS}

    def expect(row: str, col: str) -> None:
        want[row][col] += 1
        want[row]["total"] += 1

    defaults = {default_outcome(o.reply_type).code for o in OUTCOMES}
    for j, col in enumerate(TYPES):
        # New in 2026 and replied in 2026, every outcome, (i + 2j) % 3 of each.
        for i, o in enumerate(OUTCOMES):
            for k in range((i + 2 * j) % 3):
                case_id, ev = app_event(date(2026, 1 + (i + k) % 12, 3), col)
                replied = date(2026, 1 + (i + k) % 12, 20)
                # Default outcomes come by reply type alone (today's events); others by the outcome field.
                ev.append(reply_event(case_id, noon(replied), o.code, with_outcome=o.code not in defaults))
                events += ev
                expect(annual.NEW, col)
                expect(f"三、本年度办理结果 {o.report_row}", col)
                expect(annual.HANDLED_TOTAL, col)
        # Carried over from 2025, replied in 2026 (部分公开).
        for _ in range(j % 2 + 1):
            case_id, ev = app_event(date(2025, 12, 20), col)
            ev.append(reply_event(case_id, noon(date(2026, 1, 10)), "partial", with_outcome=False))
            events += ev
            expect(annual.CARRIED_OVER, col)
            expect("三、本年度办理结果 （二）部分公开", col)
            expect(annual.HANDLED_TOTAL, col)
        # Carried over and still open at the end of 2026.
        for _ in range(j % 3):
            _, ev = app_event(date(2025, 11, 5), col)
            events += ev
            expect(annual.CARRIED_OVER, col)
            expect(annual.CARRIED_FORWARD, col)
        # Received and replied in 2025: not in the 2026 table at all.
        for _ in range(2):
            case_id, ev = app_event(date(2025, 3, 1), col)
            ev.append(reply_event(case_id, noon(date(2025, 4, 1)), "disclosed", with_outcome=False))
            events += ev
        # New in 2026, not replied in 2026.
        for _ in range((j + 1) % 2):
            _, ev = app_event(date(2026, 12, 1), col)
            events += ev
            expect(annual.NEW, col)
            expect(annual.CARRIED_FORWARD, col)
        # Another agency's cases are not counted.
        case_id, ev = app_event(date(2026, 5, 5), col, agency="other-agency")
        ev.append(reply_event(case_id, noon(date(2026, 5, 6)), "disclosed", with_outcome=False))
        events += ev
    # Days are Beijing days: 2026-12-31 17:00 UTC is 2027-01-01 in Beijing -> carried forward.
    case_id, ev = app_event(date(2026, 12, 28), "research_institution")
    ev.append(reply_event(case_id, datetime(2026, 12, 31, 17, tzinfo=UTC), "disclosed", with_outcome=False))
    events += ev
    expect(annual.NEW, "research_institution")
    expect(annual.CARRIED_FORWARD, "research_institution")
    # 2025-12-31 17:00 UTC is 2026-01-01 in Beijing: carried over, handled in 2026.
    case_id, ev = app_event(date(2025, 12, 1), "legal_service_org")
    ev.append(reply_event(case_id, datetime(2025, 12, 31, 17, tzinfo=UTC), "withheld.state_secret", with_outcome=True))
    events += ev
    expect(annual.CARRIED_OVER, "legal_service_org")
    expect("三、本年度办理结果 （三）不予公开 1.属于国家秘密", "legal_service_org")
    expect(annual.HANDLED_TOTAL, "legal_service_org")
    return events, want


def test_annual_table_of_a_generated_year_row_by_row():
    events, want = generated_year()
    cases, problems = fold(events)
    assert problems == []
    table = annual.annual_table(cases.values(), AGENCY, 2026)
    assert table.self_check() == []
    assert len(annual.ROWS) == len(REPORT_ROWS) + 4 == 25
    for row in annual.ROWS:
        assert table.row(row) == [want[row][c] for c in COLS], row
    assert sum(want[annual.NEW].values()) > 100  # a year worth the name


def test_self_check_reports_a_column_that_does_not_balance():
    events, _ = generated_year()
    table = annual.annual_table(fold(events)[0].values(), AGENCY, 2026)
    table.cells[annual.NEW]["other_org"] += 1
    assert [e.split("：")[0] for e in table.self_check()] == ["其他"]


def test_csv_and_xlsx_hold_the_same_rows():
    events, want = generated_year()
    table = annual.annual_table(fold(events)[0].values(), AGENCY, 2026)
    rows = list(csv.reader(io.StringIO(annual.to_csv(table))))
    assert rows[0] == ["项目", "自然人", "商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他", "总计"]
    n = len(annual.ROWS)
    assert [r[0] for r in rows[1:n + 1]] == list(annual.ROWS)
    assert [int(x) for x in rows[1][1:]] == [want[annual.NEW][c] for c in COLS]
    # Table 四 below it (no remedies in this year: all zero, 15 columns).
    assert rows[n + 1] == [] and rows[n + 2] == ["四、政府信息公开行政复议、行政诉讼情况"]
    assert len(rows[n + 3]) == 15 and rows[n + 4] == ["0"] * 15 and len(rows) == n + 5
    wb = openpyxl.load_workbook(io.BytesIO(annual.to_xlsx(table)))
    ws = wb.worksheets[0]
    got = [[c.value for c in r] for r in ws.iter_rows(min_row=3)]
    assert got == [[r[0], *map(int, r[1:])] for r in rows[1:n + 1]]
    assert [[c.value for c in r] for r in wb.worksheets[1].iter_rows(min_row=2)] == [rows[n + 3], [0] * 15]


def test_quarterly_and_on_time():
    events: list[dict] = []
    specs = [  # received, replied (Beijing noon), deadline, departments
        (date(2026, 1, 5), date(2026, 1, 20), date(2026, 2, 2), ("a",)),      # Q1, on time
        (date(2026, 3, 25), date(2026, 4, 30), date(2026, 4, 23), ("a", "b")),  # Q1 in, Q2 reply, late
        (date(2026, 5, 6), date(2026, 5, 8), None, ("b",)),                   # Q2, no deadline: unknown
        (date(2026, 9, 30), None, None, ("b",)),                              # Q3, open
        (date(2026, 11, 2), date(2026, 11, 3), date(2026, 11, 3), ("c",)),    # Q4, on the deadline day: on time
    ]
    for received, replied, deadline, depts in specs:
        case_id, ev = app_event(received, "natural_person", depts=depts)
        if replied:
            ev.append(reply_event(case_id, noon(replied), "disclosed", with_outcome=False, deadline=deadline))
        events += ev
    cases = fold(events)[0].values()
    q = periodic.quarterly(cases, AGENCY, 2026)
    assert [x["received"] for x in q] == [2, 1, 1, 1]
    assert [x["handled"] for x in q] == [1, 2, 0, 1]
    assert [x["open_at_end"] for x in q] == [1, 0, 1, 1]
    assert q[1]["handled_by_category"]["（一）予以公开"] == 2
    ot = periodic.on_time(cases, AGENCY, date(2026, 1, 1), date(2027, 1, 1))
    assert (ot["on_time"], ot["late"], ot["unknown"]) == (2, 1, 1)
    assert ot["rate"] == pytest.approx(2 / 3)
    by = {d["dept_code"]: d for d in ot["departments"]}
    assert (by["a"]["on_time"], by["a"]["late"], by["a"]["rate"]) == (1, 1, 0.5)
    assert (by["b"]["late"], by["b"]["unknown"]) == (1, 1)
    assert by["c"]["rate"] == 1.0
    assert periodic.on_time(cases, AGENCY, date(2026, 5, 1), date(2026, 6, 1))["rate"] is None  # only unknown


def test_heat_map_by_department_and_month():
    events = []
    for month, depts in [(1, ("a",)), (1, ("a", "b")), (3, ("b",)), (12, ("a",))]:
        events += app_event(date(2026, month, 10), "natural_person", depts=depts)[1]
    events += app_event(date(2025, 1, 10), "natural_person", depts=("a",))[1]  # other year
    data = heatmap.counts(fold(events)[0].values(), AGENCY, 2026)
    rows = {r["key"]: r["counts"] for r in data["rows"]}
    assert rows["a"] == [2] + [0] * 10 + [1]
    assert rows["b"] == [1, 0, 1] + [0] * 9
    page = heatmap.to_html(data)
    assert page.startswith("<!doctype html>") and "a局" in page and "12月" in page and "承办部门" in page
    by_subject = heatmap.counts(fold(events)[0].values(), AGENCY, 2026, by="subject")
    assert {r["key"]: sum(r["counts"]) for r in by_subject["rows"]} == {"a事项": 3, "b事项": 2}
    assert "申请事项" in heatmap.to_html(by_subject)


def test_repeated_requests_by_different_applicants():
    texts = [
        ("申请公开2025年度城区道路改造工程的招标文件", "p1"),
        ("请公开2025年度城区道路改造工程招标文件。", "p2"),
        ("申请公开 2025 年度城区道路改造工程的招标文件", "p2"),  # same applicant again
        ("申请公开本单位2024年部门决算", "p3"),
        ("申请公开本单位2024年部门决算", "p3"),  # one applicant only: not listed
        ("申请公开某小区规划许可证", "p4"),
    ]
    events = []
    for t, ref in texts:
        events += app_event(date(2026, 6, 1), "natural_person", description=t, applicant_ref=ref)[1]
    groups = repeated.repeated_requests(fold(events)[0].values(), AGENCY)
    assert len(groups) == 1
    assert groups[0]["applicants"] == 2 and groups[0]["applications"] == 3
    assert repeated.similarity(repeated.bigrams("道路改造"), repeated.bigrams("道路改造")) == 1.0
    assert repeated.similarity(repeated.bigrams("道路改造"), repeated.bigrams("部门决算")) == 0.0


def test_abandonment_closes_a_case_and_deadline_changes_give_the_deadline():
    events: list[dict] = []
    # Abandoned (correction overdue) in 2026: handled, row （六）1, not carried forward.
    a, ev = app_event(date(2026, 2, 2), "natural_person")
    ev.append({"type": "cn.gongkai.application.abandoned.v1", "subject": a, "time": "2026-03-01T02:00:00Z",
               "data": {"case_id": a, "correction_due": "2026-02-20", "abandoned_on": "2026-02-27",
                        "reason": "correction_overdue", "outcome_code": "other.correction_overdue"}})
    events += ev
    # Fee unpaid, no outcome code given: （六）2 by its reason.
    b, ev = app_event(date(2026, 4, 1), "commercial_enterprise")
    ev.append({"type": "cn.gongkai.application.abandoned.v1", "subject": b, "time": "2026-06-01T02:00:00Z",
               "data": {"case_id": b, "correction_due": "2026-05-20", "abandoned_on": "2026-05-30", "reason": "fee_unpaid"}})
    events += ev
    # Deadline moved twice (extension), reply after the first deadline but by the second: on time.
    c, ev = app_event(date(2026, 5, 6), "natural_person", depts=("a",))
    for old, new in ((None, "2026-06-03"), ("2026-06-03", "2026-07-01")):
        ev.append({"type": "cn.gongkai.deadline.changed.v1", "subject": c, "time": "2026-05-07T02:00:00Z",
                   "data": {"case_id": c, "old_due_on": old, "new_due_on": new, "reason": "extension"}})
    ev.append(reply_event(c, noon(date(2026, 6, 20)), "disclosed", with_outcome=False))
    events += ev
    cases = fold(events)[0].values()
    table = annual.annual_table(cases, AGENCY, 2026)
    assert table.row("三、本年度办理结果 （六）其他处理 1.申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请") == [1, 0, 0, 0, 0, 0, 1]
    assert table.row("三、本年度办理结果 （六）其他处理 2.申请人逾期未按收费通知要求缴纳费用、行政机关不再处理其政府信息公开申请") == [0, 1, 0, 0, 0, 0, 1]
    assert table.row(annual.CARRIED_FORWARD) == [0] * 7 and table.self_check() == []
    ot = periodic.on_time(cases, AGENCY, date(2026, 1, 1), date(2027, 1, 1))
    assert (ot["on_time"], ot["late"], ot["unknown"]) == (1, 0, 0)  # abandonments are not replies
