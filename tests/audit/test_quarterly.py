"""The quarterly red/black list (季度红黑榜) on a generated quarter (2026Q3) whose figures are worked
out by hand below, with the real 2026 working-day calendar (中秋节 25-27 September, the make-up
workday Sunday 20 September); satisfaction by department and outcome; the exports.

Hand-worked (A = rst 人社厅, B = jyt 教育厅, C = zrzy 自然资源厅, D = czt 财政厅):

case 1  A        assigned Mon 07-06, answered Fri 07-10: 4 workdays; reply 07-13 <= due 08-03 on time;
                 rated 满意 07-14
case 2  A + B    assigned Mon 07-20; A answered Fri 07-24: 4; B answered Fri 07-31: 9; reply 08-03 <=
                 08-17 on time; rated 不满意 08-04 then 基本满意 08-05 (the last counts); amended
                 08-10 with a late part of B
case 3  B        assigned Fri 09-18, answered Mon 09-21: 2 (19 Sat off, 20 Sun worked, 21); reply
                 09-22 > due 09-18 late; rated 不满意 09-23; a review decided 纠正 on 09-28
case 4  C        assigned Thu 09-24, answered Tue 09-29: 2 (25-27 中秋节, 28, 29); reply 09-30 <= 10-23
case 5  C        replied in Q2 (06-15): not a Q3 reply; rated 满意 07-02 (counted in Q3)
case 6  D -> A -> C  D's task returned 07-02 and withdrawn 07-03 (a return, not a reassignment);
                 A's task assigned 07-03, withdrawn 07-06 (a reassignment of A); C assigned 07-06,
                 answered 07-08: 2; reply 07-09 <= 07-31 on time
case 7  A        another agency's case: ignored

A: replies 2, on time 2/2 = 1.0, avg (4 + 4) / 2 = 4.0, returns 0, reassignments 1, amendments 0,
   corrected 0, ratings 满意 1 + 基本满意 1 -> 1.0
B: replies 2, on time 1/2 = 0.5, avg (9 + 2) / 2 = 5.5, returns 0, reassignments 0, amendments 1,
   corrected 1, ratings 基本满意 1 + 不满意 1 -> 0.5
C: replies 2, on time 2/2 = 1.0, avg (2 + 2) / 2 = 2.0, nothing else, ratings 满意 1 -> 1.0
D: no reply (unranked), returns 1
Ranking: C (1.0, 2.0 days) > A (1.0, 4.0 days) > B (0.5). Default thresholds: C red; B black
(on time 0.5 < 0.8, satisfaction 0.5 < 0.6, corrected 1 >= 1); A neither (a reassignment > 0).
"""

from __future__ import annotations

import csv
import io
import itertools
from datetime import date

import openpyxl
import pytest

from services.audit import quarterly as qr
from services.audit.api_quarterly import calendar
from services.audit.settings import AuditSettings

AGENCY = "yn-gov-office"
NAMES = {"rst": "人社厅", "jyt": "教育厅", "zrzy": "自然资源厅", "czt": "财政厅"}
_seq = itertools.count()
IS_WORKDAY = calendar(AuditSettings().calendar_dir)


def ev(event_type: str, day: str, **data) -> dict:
    """A ledger event as statistics read it: type, time (09:00 Beijing = 01:00 UTC), data."""
    return {"type": f"cn.gongkai.{event_type}.v1", "id": f"e{next(_seq)}", "time": f"{day}T01:00:00+00:00", "data": data}


def application(case: str, day: str, agency: str = AGENCY) -> dict:
    return ev("application.received", day, case_id=case, agency_code=agency, applicant_type="natural_person",
              received_on=day, description="某项信息", applicant_ref=f"ref-{case}")


def assigned(case: str, dept: str, day: str, task: str | None = None) -> dict:
    return ev("task.assigned", day, case_id=case, task_id=task or f"{case}-{dept}", dept_code=dept,
              dept_name=NAMES[dept], rule="keyword:x")


def answered(case: str, dept: str, day: str, task: str | None = None, draft: bool = False) -> dict:
    return ev("answer.recorded", day, case_id=case, task_id=task or f"{case}-{dept}", dept_code=dept, draft=draft)


def part(case: str, dept: str, task: str | None = None) -> dict:
    return {"task_id": task or f"{case}-{dept}", "dept_code": dept, "dept_name": NAMES[dept]}


def reply(case: str, day: str, due: str, *parts: dict, decision: str = "disclosed") -> dict:
    return ev("reply.issued", day, case_id=case, agency_code=AGENCY, decision=decision, parts=list(parts),
              deadline=due)


def rated(case: str, day: str, rating: str, revision: int = 1) -> dict:
    return ev("reply.rated", day, case_id=case, rating=rating, reason="none", revision=revision,
              rated_at=f"{day}T02:00:00+00:00")


def quarter_events() -> list[dict]:
    return [
        application("c1", "2026-07-06"), assigned("c1", "rst", "2026-07-06"),
        answered("c1", "rst", "2026-07-07", draft=True), answered("c1", "rst", "2026-07-10"),
        reply("c1", "2026-07-13", "2026-08-03", part("c1", "rst")), rated("c1", "2026-07-14", "satisfied"),

        application("c2", "2026-07-20"), assigned("c2", "rst", "2026-07-20"), assigned("c2", "jyt", "2026-07-20"),
        answered("c2", "rst", "2026-07-24"), answered("c2", "jyt", "2026-07-31"),
        reply("c2", "2026-08-03", "2026-08-17", part("c2", "rst"), part("c2", "jyt")),
        rated("c2", "2026-08-04", "dissatisfied"), rated("c2", "2026-08-05", "basically_satisfied", 2),
        ev("reply.amended", "2026-08-10", case_id="c2", agency_code=AGENCY, amendment_seq=1,
           parts=[part("c2", "jyt", "c2-jyt-2")], decision="disclosed"),

        application("c3", "2026-09-18"), assigned("c3", "jyt", "2026-09-18"), answered("c3", "jyt", "2026-09-21"),
        reply("c3", "2026-09-22", "2026-09-18", part("c3", "jyt"), decision="not_exist"),
        rated("c3", "2026-09-23", "dissatisfied"),
        ev("remedy.recorded", "2026-09-28", remedy_id="r1", case_id="c3", agency_code=AGENCY, kind="review",
           stage="decided", filed_on="2026-09-24", result="corrected", decided_on="2026-09-28"),

        application("c4", "2026-09-24"), assigned("c4", "zrzy", "2026-09-24"), answered("c4", "zrzy", "2026-09-29"),
        reply("c4", "2026-09-30", "2026-10-23", part("c4", "zrzy")),

        application("c5", "2026-06-01"), assigned("c5", "zrzy", "2026-06-01"), answered("c5", "zrzy", "2026-06-10"),
        reply("c5", "2026-06-15", "2026-06-29", part("c5", "zrzy")), rated("c5", "2026-07-02", "satisfied"),

        application("c6", "2026-07-01"), assigned("c6", "czt", "2026-07-01"),
        ev("task.returned", "2026-07-02", case_id="c6", task_id="c6-czt", dept_code="czt", reason="非本部门职责",
           returned_at="2026-07-02T03:00:00+00:00"),
        ev("task.withdrawn", "2026-07-03", case_id="c6", task_id="c6-czt", dept_code="czt", dept_name="财政厅"),
        assigned("c6", "rst", "2026-07-03"),
        ev("task.withdrawn", "2026-07-06", case_id="c6", task_id="c6-rst", dept_code="rst", dept_name="人社厅"),
        assigned("c6", "zrzy", "2026-07-06"), answered("c6", "zrzy", "2026-07-08"),
        reply("c6", "2026-07-09", "2026-07-31", part("c6", "zrzy")),

        application("c7", "2026-07-01", agency="other-agency"), assigned("c7", "rst", "2026-07-01"),
        answered("c7", "rst", "2026-08-30"),
        ev("reply.issued", "2026-09-01", case_id="c7", agency_code="other-agency", decision="disclosed",
           parts=[part("c7", "rst")], deadline="2026-07-29"),
    ]


def by_code(table: dict) -> dict[str, dict]:
    return {d["dept_code"]: d for d in table["departments"]}


def test_calendar_knows_the_2026_notice():
    assert not IS_WORKDAY(date(2026, 9, 25)) and not IS_WORKDAY(date(2026, 9, 26))  # 中秋节
    assert IS_WORKDAY(date(2026, 9, 20))  # Sunday, make-up workday
    assert not IS_WORKDAY(date(2026, 9, 19)) and IS_WORKDAY(date(2026, 9, 21))
    assert qr.workdays_after(date(2026, 9, 24), date(2026, 9, 29), IS_WORKDAY) == 2
    assert qr.workdays_after(date(2026, 9, 18), date(2026, 9, 21), IS_WORKDAY) == 2


def test_hand_worked_quarter():
    table = qr.red_black(quarter_events(), AGENCY, 2026, 3, IS_WORKDAY)
    assert (table["start"], table["end"]) == ("2026-07-01", "2026-09-30")
    rows = by_code(table)
    a, b, c, d = rows["rst"], rows["jyt"], rows["zrzy"], rows["czt"]
    assert (a["replies"], a["on_time"], a["late"], a["on_time_rate"], a["avg_workdays"]) == (2, 2, 0, 1.0, 4.0)
    assert (a["returns"], a["reassignments"], a["amendments"], a["corrected"]) == (0, 1, 0, 0)
    assert a["ratings"] == {"satisfied": 1, "basically_satisfied": 1, "dissatisfied": 0} and a["satisfaction_rate"] == 1.0
    assert (b["replies"], b["on_time"], b["late"], b["on_time_rate"], b["avg_workdays"]) == (2, 1, 1, 0.5, 5.5)
    assert (b["returns"], b["reassignments"], b["amendments"], b["corrected"]) == (0, 0, 1, 1)
    assert b["ratings"] == {"satisfied": 0, "basically_satisfied": 1, "dissatisfied": 1} and b["satisfaction_rate"] == 0.5
    assert (c["replies"], c["on_time_rate"], c["avg_workdays"], c["returns"] + c["reassignments"]) == (2, 1.0, 2.0, 0)
    assert c["ratings"]["satisfied"] == 1 and c["rated"] == 1
    assert (d["replies"], d["returns"], d["reassignments"], d["rank"], d["board"]) == (0, 1, 0, None, "")
    assert [x["dept_code"] for x in table["departments"]] == ["zrzy", "rst", "jyt", "czt"]
    assert [rows[k]["rank"] for k in ("zrzy", "rst", "jyt")] == [1, 2, 3]
    assert table["red"] == ["zrzy"] and table["black"] == ["jyt"]
    assert len(b["reasons"]) == 3 and a["board"] == ""
    assert table["problems"] == []


def test_operator_thresholds_move_departments_between_lists():
    # Allow one reassignment on the red list: 人社厅 joins it; a stricter black on-time rate (1.0)
    # does not touch it (its rate is 1.0), and min_replies 3 leaves nobody ranked.
    t = qr.Thresholds(red_max_returns=1)
    assert qr.red_black(quarter_events(), AGENCY, 2026, 3, IS_WORKDAY, t)["red"] == ["zrzy", "rst"]
    t = qr.Thresholds(min_replies=3)
    table = qr.red_black(quarter_events(), AGENCY, 2026, 3, IS_WORKDAY, t)
    assert table["red"] == table["black"] == [] and all(r["rank"] is None for r in table["departments"])


def test_other_quarters_and_agencies():
    q2 = by_code(qr.red_black(quarter_events(), AGENCY, 2026, 2, IS_WORKDAY))
    assert q2["zrzy"]["replies"] == 1 and q2["zrzy"]["rated"] == 0 and q2["zrzy"]["avg_workdays"] is not None
    other = by_code(qr.red_black(quarter_events(), "other-agency", 2026, 3, IS_WORKDAY))
    assert list(other) == ["rst"] and other["rst"]["late"] == 1


def test_satisfaction_by_department_and_outcome():
    s = qr.satisfaction(quarter_events(), AGENCY, date(2026, 7, 1), date(2026, 10, 1))
    assert (s["total"]["satisfied"], s["total"]["basically_satisfied"], s["total"]["dissatisfied"]) == (2, 1, 1)
    assert s["total"]["satisfaction_rate"] == 0.75 and s["total"]["dissatisfied_share"] == 0.25
    depts = {d["dept_code"]: d for d in s["departments"]}
    assert depts["jyt"]["rated"] == 2 and depts["jyt"]["satisfaction_rate"] == 0.5
    outcomes = {o["outcome"]: o for o in s["outcomes"]}
    assert outcomes["本机关不掌握相关政府信息"]["dissatisfied"] == 1 and outcomes["予以公开"]["rated"] == 3
    assert "c1" not in repr(s) and "ref-" not in repr(s)  # counts only


def test_exports_carry_the_table():
    table = qr.red_black(quarter_events(), AGENCY, 2026, 3, IS_WORKDAY)
    rows = list(csv.reader(io.StringIO(qr.to_csv(table))))
    assert rows[1][:3] == ["排名", "部门", "榜单"]
    assert rows[2][:3] == ["1", "自然资源厅", "红榜"] and rows[4][:3] == ["3", "教育厅", "黑榜"]
    assert rows[4][7] == "5.5" and rows[4][6] == "0.5"
    wb = openpyxl.load_workbook(io.BytesIO(qr.to_xlsx(table)))
    ws = wb.active
    assert ws.title == "2026Q3红黑榜" and ws["B3"].value == "自然资源厅" and ws["C5"].value == "黑榜"


@pytest.mark.parametrize("bad", ["2026Q5", "26Q1", "2026-Q1", "", "1999Q1"])
def test_quarter_format(bad):
    with pytest.raises(ValueError):
        qr.parse_quarter(bad)
