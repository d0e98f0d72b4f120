"""Which departments must answer an application. Pure domain logic, one pick per department.

First rules (more in the routing issue): departments named explicitly by the applicant or the
clerk (an unknown one sends the case to triage as well); otherwise the departments whose keywords occur in the description. When no rule picks
anyone, the case goes to the OGI office for manual triage instead of being guessed.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.routing.directory import Directory


@dataclass(frozen=True)
class Pick:
    dept_code: str
    dept_name: str
    rule: str


def route(directory: Directory, description: str, targets: list[str]) -> list[Pick]:
    ogi = directory.ogi_office
    if targets:
        picks, unknown = [], []
        for code in dict.fromkeys(targets):  # one pick per department, even if named twice
            dept = directory.get(code)
            if dept is None:
                unknown.append(code)
            else:
                picks.append(Pick(dept.code, dept.name, "explicit-target"))
        if unknown and ogi.code not in {p.dept_code for p in picks}:
            # A named department the directory does not know: the OGI office decides, not a guess.
            picks.append(Pick(ogi.code, ogi.name, "triage:unknown-target:" + ",".join(unknown)))
        return picks
    picks = []
    for dept in directory.departments:
        hits = [kw for kw in dept.keywords if kw in description]
        if hits:
            picks.append(Pick(dept.code, dept.name, "keyword:" + ",".join(hits[:5])))
    if picks:
        return picks
    return [Pick(ogi.code, ogi.name, "triage:no-rule-matched")]
