"""Administrative review and litigation about disclosure decisions: the annual report's table 四
(国办公开办函〔2021〕30号, 政府信息公开行政复议、行政诉讼情况) for one agency and one year. Pure logic.

Folded from ``remedy.recorded`` events (contracts.events_ledger.RemedyRecorded): one remedy per
``remedy_id``, its filing facts from its first event, its result from its first "decided" event.

Columns, in the printed order: 行政复议; 行政诉讼 未经复议直接起诉; 行政诉讼 复议后起诉 - each with
结果维持, 结果纠正, 其他结果, 尚未审结, 总计. A remedy of the agency is in the year's table when it was
filed on or before the year's last day and was not decided before the year's first day. It counts
under its result when decided within the year, under 尚未审结 when not decided by the year's end
(so a remedy filed in one year and decided in the next is 尚未审结 in the first year's table and
under its result in the second's). 总计 = 结果维持 + 结果纠正 + 其他结果 + 尚未审结.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from services.audit.statistics.cases import kind

REMEDY = "remedy.recorded"
REMEDY_TYPES = (f"cn.gongkai.{REMEDY}.v1",)

GROUPS: tuple[tuple[str, str], ...] = (
    ("review", "行政复议"),
    ("litigation.direct", "行政诉讼 未经复议直接起诉"),
    ("litigation.after_review", "行政诉讼 复议后起诉"),
)
RESULTS: tuple[tuple[str, str], ...] = (
    ("upheld", "结果维持"), ("corrected", "结果纠正"), ("other", "其他结果"), ("pending", "尚未审结"), ("total", "总计"),
)
TITLE = "四、政府信息公开行政复议、行政诉讼情况"


@dataclass
class Remedy:
    remedy_id: str
    case_id: str
    agency_code: str
    group: str  # a key of GROUPS
    filed_on: date
    result: str | None = None
    decided_on: date | None = None


def fold_remedies(events: Iterable[dict[str, Any]]) -> dict[str, Remedy]:
    out: dict[str, Remedy] = {}
    for e in events:
        if kind(e) != REMEDY:
            continue
        d = e["data"]
        rem = out.get(d["remedy_id"])
        if rem is None:
            group = "review" if d["kind"] == "review" else f"litigation.{d['route']}"
            rem = out[d["remedy_id"]] = Remedy(d["remedy_id"], d["case_id"], d["agency_code"], group,
                                               date.fromisoformat(str(d["filed_on"])))
        if d.get("stage") == "decided" and rem.result is None:
            rem.result = d["result"]
            rem.decided_on = date.fromisoformat(str(d["decided_on"]))
    return out


@dataclass
class RemedyTable:
    agency_code: str
    year: int
    cells: dict[str, dict[str, int]]  # group -> result key -> count

    def columns(self) -> list[str]:
        return [f"{g_label} {r_label}" for _, g_label in GROUPS for _, r_label in RESULTS]

    def values(self) -> list[int]:
        return [self.cells[g][r] for g, _ in GROUPS for r, _ in RESULTS]

    def as_dict(self) -> dict[str, Any]:
        return {"title": TITLE, "columns": self.columns(), "values": self.values(),
                "groups": [{"group": label, **{r_label: self.cells[g][r] for r, r_label in RESULTS}}
                           for g, label in GROUPS]}


def remedy_table(remedies: Iterable[Remedy], agency_code: str, year: int) -> RemedyTable:
    start, end = date(year, 1, 1), date(year, 12, 31)
    cells = {g: {r: 0 for r, _ in RESULTS} for g, _ in GROUPS}
    for rem in remedies:
        if rem.agency_code != agency_code or rem.filed_on > end:
            continue
        if rem.decided_on is not None and rem.decided_on < start:
            continue  # decided before the year
        decided_in_year = rem.decided_on is not None and rem.decided_on <= end
        cells[rem.group][rem.result if decided_in_year and rem.result else "pending"] += 1
        cells[rem.group]["total"] += 1
    return RemedyTable(agency_code, year, cells)
