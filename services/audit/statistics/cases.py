"""Cases as statistics see them, folded from ledger events. Pure logic.

A case is known from its ``application.received`` event (agency, applicant type, date of receipt,
description, applicant reference) and closed by its first ``reply.issued`` event: the reply day is
the event's time in China Standard Time; its outcome is the event's ``outcome`` code when it
carries one, otherwise the default outcome of its reply type (contracts.decisions). An
``application.abandoned`` event (Art. 30, or an unpaid fee) closes it too, on ``abandoned_on``, with
its ``outcome_code`` (default: by its reason). The deadline is the reply event's ``deadline`` (ISO
date) when it carries one, otherwise the last ``deadline.changed`` ``new_due_on`` recorded before
the reply. ``task.assigned`` gives the departments and, by its routing rule, the subject.

A ``reply.amended`` event (answers that came after the reply) does not make a second handled
application: the case stays handled once, on the day of its reply; when the amendment carries an
``outcome`` code, that code becomes the case's outcome (the amended reply is the agency's answer).
An amendment of a case with no reply yet is a problem, not a reply.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from contracts.decisions import Outcome, default_outcome, outcome
from contracts.vocabulary import ReplyType

CST = timezone(timedelta(hours=8), "CST")
RECEIVED, ASSIGNED, ISSUED = "application.received", "task.assigned", "reply.issued"
ABANDONED, DEADLINE, AMENDED = "application.abandoned", "deadline.changed", "reply.amended"
TYPES = tuple(f"cn.gongkai.{t}.v1" for t in (RECEIVED, ASSIGNED, ISSUED, ABANDONED, DEADLINE, AMENDED))
ABANDON_OUTCOMES = {"correction_overdue": "other.correction_overdue", "fee_unpaid": "other.fee_unpaid"}


def kind(event: dict[str, Any]) -> str:
    name = str(event.get("type", "")).removeprefix("cn.gongkai.")
    head, _, version = name.rpartition(".v")
    return head if version.isdigit() else name


def local_day(ts: str | datetime) -> date:
    when = ts if isinstance(ts, datetime) else datetime.fromisoformat(str(ts).replace("Z", "+00:00"))
    return when.astimezone(CST).date()


def subject_of_rule(rule: str) -> str:
    """The subject a routing rule names: "keyword:征地" -> "征地"; other rules as they are."""
    return rule.split(":", 1)[1] if rule.startswith("keyword:") else rule


def reply_outcome(data: dict[str, Any]) -> Outcome:
    code = data.get("outcome")
    if code:
        return outcome(code)
    return default_outcome(ReplyType(data["decision"]))


@dataclass
class Case:
    case_id: str
    agency_code: str
    applicant_type: str
    received_on: date
    applicant_ref: str = ""
    description: str = ""
    departments: dict[str, str] = field(default_factory=dict)  # code -> name
    subjects: set[str] = field(default_factory=set)  # from the routing rules that matched
    replied_on: date | None = None
    outcome: Outcome | None = None
    deadline: date | None = None
    closed_by: str | None = None  # ISSUED or ABANDONED

    def open_on(self, day: date) -> bool:
        """Received before ``day`` and not replied before it."""
        return self.received_on < day and (self.replied_on is None or self.replied_on >= day)


def fold(events: Iterable[dict[str, Any]]) -> tuple[dict[str, Case], list[str]]:
    """Cases by id, and the problems met (a reply or task of a case with no application)."""
    cases: dict[str, Case] = {}
    later: list[dict[str, Any]] = []
    for e in events:
        if kind(e) == RECEIVED:
            d = e["data"]
            cases.setdefault(d["case_id"], Case(d["case_id"], d["agency_code"], d["applicant_type"],
                                                date.fromisoformat(str(d["received_on"])), d.get("applicant_ref", ""),
                                                d.get("description", "")))
        elif kind(e) in (ASSIGNED, ISSUED, ABANDONED, DEADLINE, AMENDED):
            later.append(e)
    problems = []
    for e in later:
        d = e["data"]
        case = cases.get(d["case_id"])
        if case is None:
            problems.append(f"{kind(e)} of case {d['case_id']} without its application")
            continue
        if kind(e) == ASSIGNED:
            case.departments[d["dept_code"]] = d.get("dept_name", d["dept_code"])
            if d.get("rule"):
                case.subjects.add(subject_of_rule(d["rule"]))
        elif kind(e) == AMENDED:
            if case.closed_by != ISSUED:
                problems.append(f"{AMENDED} of case {d['case_id']} without its reply")
            elif d.get("outcome"):
                try:
                    case.outcome = outcome(d["outcome"])
                except ValueError as exc:  # an unknown code: the reply's outcome stands
                    problems.append(f"{AMENDED} of case {d['case_id']}: {exc}")
        elif case.replied_on is not None:
            continue  # closed: later replies or deadline moves do not change the statistics
        elif kind(e) == DEADLINE:
            if d.get("new_due_on"):
                case.deadline = date.fromisoformat(str(d["new_due_on"]))
        elif kind(e) == ABANDONED:
            case.replied_on = date.fromisoformat(str(d["abandoned_on"]))
            case.outcome = outcome(d.get("outcome_code") or ABANDON_OUTCOMES[d.get("reason", "correction_overdue")])
            case.closed_by = ABANDONED
        else:
            case.replied_on = local_day(e["time"])
            try:
                case.outcome = reply_outcome(d)
            except ValueError as exc:  # an unknown code: counted by its reply type, and reported
                problems.append(f"{ISSUED} of case {d['case_id']}: {exc}")
                case.outcome = default_outcome(ReplyType(d["decision"]))
            case.closed_by = ISSUED
            if d.get("deadline"):
                case.deadline = date.fromisoformat(str(d["deadline"]))
    return cases, problems
