"""The annual report's table on applications (国办公开办函〔2021〕30号, part 三: 收到和处理政府信息
公开申请情况) for one agency and one year. Pure logic.

Columns: the applicant types (自然人; 法人或其他组织: 商业企业, 科研机构, 社会公益组织, 法律服务机构,
其他) and 总计. Rows: 一、本年新收 (received in the year); 二、上年结转 (received before the year, not
replied before it); 三、本年度办理结果, one row per report row of contracts.decisions (replies
issued in the year to new or carried-over applications) and （七）总计; 四、结转下年度继续办理 (not
replied by the end of the year). Self-check per column: 一 + 二 = 三（七） + 四.

The report's table 四 (administrative review and litigation, statistics/remedies.py) goes with it
(``remedies``): in the JSON, below the table in the CSV, on a second sheet of the XLSX.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from contracts.decisions import REPORT_ROWS
from contracts.vocabulary import ApplicantType
from services.audit.statistics.cases import Case
from services.audit.statistics.remedies import TITLE as REMEDIES_TITLE
from services.audit.statistics.remedies import Remedy, RemedyTable, remedy_table

COLUMNS: tuple[tuple[str, str], ...] = (
    (ApplicantType.NATURAL_PERSON.value, "自然人"),
    (ApplicantType.COMMERCIAL_ENTERPRISE.value, "商业企业"),
    (ApplicantType.RESEARCH_INSTITUTION.value, "科研机构"),
    (ApplicantType.PUBLIC_INTEREST_ORG.value, "社会公益组织"),
    (ApplicantType.LEGAL_SERVICE_ORG.value, "法律服务机构"),
    (ApplicantType.OTHER_ORG.value, "其他"),
    ("total", "总计"),
)
NEW = "一、本年新收政府信息公开申请数量"
CARRIED_OVER = "二、上年结转政府信息公开申请数量"
HANDLED_TOTAL = "三、本年度办理结果 （七）总计"
CARRIED_FORWARD = "四、结转下年度继续办理"
RESULT_ROWS = tuple(f"三、本年度办理结果 {r}" for r in REPORT_ROWS)
ROWS: tuple[str, ...] = (NEW, CARRIED_OVER, *RESULT_ROWS, HANDLED_TOTAL, CARRIED_FORWARD)


@dataclass
class AnnualTable:
    agency_code: str
    year: int
    cells: dict[str, dict[str, int]]  # row -> column key -> count
    remedies: RemedyTable | None = field(default=None)  # table 四

    def row(self, name: str) -> list[int]:
        return [self.cells[name][key] for key, _ in COLUMNS]

    def self_check(self) -> list[str]:
        """Columns where new + carried over != handled + carried forward (empty when it balances)."""
        bad = []
        for key, label in COLUMNS:
            c = {r: self.cells[r][key] for r in (NEW, CARRIED_OVER, HANDLED_TOTAL, CARRIED_FORWARD)}
            if c[NEW] + c[CARRIED_OVER] != c[HANDLED_TOTAL] + c[CARRIED_FORWARD]:
                bad.append(f"{label}：{c[NEW]} + {c[CARRIED_OVER]} ≠ {c[HANDLED_TOTAL]} + {c[CARRIED_FORWARD]}")
        return bad

    def as_dict(self) -> dict[str, Any]:
        return {"agency_code": self.agency_code, "year": self.year, "columns": [label for _, label in COLUMNS],
                "rows": [{"row": r, "values": self.row(r)} for r in ROWS], "self_check_errors": self.self_check(),
                "remedies": None if self.remedies is None else self.remedies.as_dict()}


def annual_table(cases: Iterable[Case], agency_code: str, year: int,
                 remedies: Iterable[Remedy] = ()) -> AnnualTable:
    start, end = date(year, 1, 1), date(year + 1, 1, 1)
    cells = {r: {key: 0 for key, _ in COLUMNS} for r in ROWS}
    known = {key for key, _ in COLUMNS}

    def count(row: str, case: Case) -> None:
        col = case.applicant_type if case.applicant_type in known else ApplicantType.OTHER_ORG.value
        cells[row][col] += 1
        cells[row]["total"] += 1

    for case in cases:
        if case.agency_code != agency_code or case.received_on >= end:
            continue
        if start <= case.received_on:
            count(NEW, case)
        elif case.open_on(start):
            count(CARRIED_OVER, case)
        else:
            continue  # closed before the year
        if case.replied_on is not None and case.replied_on < end:
            assert case.outcome is not None
            count(f"三、本年度办理结果 {case.outcome.report_row}", case)
            count(HANDLED_TOTAL, case)
        else:
            count(CARRIED_FORWARD, case)
    return AnnualTable(agency_code, year, cells, remedy_table(remedies, agency_code, year))


def to_csv(table: AnnualTable) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["项目", *[label for _, label in COLUMNS]])
    for r in ROWS:
        w.writerow([r, *table.row(r)])
    if table.remedies is not None:
        w.writerow([])
        w.writerow([REMEDIES_TITLE])
        w.writerow(table.remedies.columns())
        w.writerow(table.remedies.values())
    return buf.getvalue()


def to_xlsx(table: AnnualTable) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = f"{table.year}年度申请情况"
    ws.append([f"{table.agency_code} {table.year}年度 收到和处理政府信息公开申请情况"])
    ws.append(["项目", *[label for _, label in COLUMNS]])
    for cell in ws[2]:
        cell.font = Font(bold=True)
    for r in ROWS:
        ws.append([r, *table.row(r)])
    ws.column_dimensions["A"].width = 80
    if table.remedies is not None:
        ws2 = wb.create_sheet("行政复议、行政诉讼情况")
        ws2.append([f"{table.agency_code} {table.year}年度 {REMEDIES_TITLE}"])
        ws2.append(table.remedies.columns())
        for cell in ws2[2]:
            cell.font = Font(bold=True)
        ws2.append(table.remedies.values())
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
