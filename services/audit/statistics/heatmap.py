"""Heat map of applications by department (or by subject: the keyword of the routing rule) and
month of receipt, from task assignments, as an HTML page. Pure logic."""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import Any

from services.audit.statistics.cases import Case


def counts(cases: Iterable[Case], agency_code: str, year: int, by: str = "department") -> dict[str, Any]:
    """{"months": [1..12], "rows": [{"key", "label", "counts": [12 ints]}]} by month of receipt; a
    case counts once in each department (or subject) it touched."""
    rows: dict[str, dict[str, Any]] = {}
    for c in cases:
        if c.agency_code != agency_code or c.received_on.year != year:
            continue
        keys = c.departments.items() if by == "department" else ((s, s) for s in c.subjects)
        for key, label in keys:
            row = rows.setdefault(key, {"key": key, "label": label, "counts": [0] * 12})
            row["counts"][c.received_on.month - 1] += 1
    ordered = sorted(rows.values(), key=lambda r: (-sum(r["counts"]), r["key"]))
    return {"agency_code": agency_code, "year": year, "by": by, "months": list(range(1, 13)), "rows": ordered}


def to_html(data: dict[str, Any]) -> str:
    peak = max([max(r["counts"]) for r in data["rows"]] + [1])
    head = "".join(f"<th>{m}月</th>" for m in data["months"])
    body = []
    for r in data["rows"]:
        cells = []
        for n in r["counts"]:
            alpha = 0.08 + 0.92 * n / peak if n else 0
            cells.append(f'<td style="background:rgba(200,30,30,{alpha:.2f})">{n}</td>')
        body.append(f"<tr><th>{html.escape(r['label'])}</th>{''.join(cells)}<td>{sum(r['counts'])}</td></tr>")
    what = "承办部门" if data.get("by", "department") == "department" else "申请事项"
    title = f"{html.escape(data['agency_code'])} {data['year']}年 依申请公开热力图（按{what}、月份）"
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:sans-serif}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:center}}</style>
</head><body><h1>{title}</h1>
<table><thead><tr><th>{what}</th>{head}<th>合计</th></tr></thead><tbody>
{''.join(body) or '<tr><td colspan="14">本年度暂无申请</td></tr>'}
</tbody></table></body></html>
"""
