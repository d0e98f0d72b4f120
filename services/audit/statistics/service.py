"""The service (送达) of replies, folded from ledger events (issue #17). Pure logic.

A reply is a ``document.issued`` event of kind ``consolidated_reply`` (the one reply of a case;
its amendments are ``reply_amendment`` and are counted apart) addressed to the applicant. It is
*served* once a ``document.served`` event names its document; its date of service is the
earliest ``served_on`` of those events (a fact recorded later may be earlier: a signed-for date
entered days after the receipt came back). Returned post serves nothing.

The agency of a reply is its case's (``application.received``'s ``agency_code``); a reply of a
case with no application in the ledger is a problem, reported and not counted.

``service_statistics`` answers, for one agency and the replies issued in a period: how many were
issued, served and not yet served (each unserved one listed with its tracking number, issue day
and the days since, oldest first: the OGI office's work list), the channels that served them
first, and the days from issue to service (median and maximum).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from statistics import median
from typing import Any

from services.audit.statistics.cases import RECEIVED, kind

ISSUED_DOC, SERVED = "document.issued", "document.served"
TYPES = tuple(f"cn.gongkai.{t}.v1" for t in (RECEIVED, ISSUED_DOC, SERVED))
REPLY_KINDS = ("consolidated_reply", "reply_amendment")


@dataclass
class Served:
    document_id: str
    case_id: str
    tracking_number: str
    kind: str
    issued_on: date
    served_on: date | None = None
    channel: str | None = None  # of the earliest service
    channels: set[str] = field(default_factory=set)


def fold_service(events: Iterable[dict[str, Any]]) -> tuple[dict[str, Served], dict[str, str], list[str]]:
    """The applicant's reply documents by id, the agency of each case, and the problems met."""
    agencies: dict[str, str] = {}
    docs: dict[str, Served] = {}
    served: list[dict[str, Any]] = []
    for e in events:
        d = e.get("data") or {}
        k = kind(e)
        if k == RECEIVED:
            agencies.setdefault(d["case_id"], d["agency_code"])
        elif k == ISSUED_DOC and d.get("kind") in REPLY_KINDS and d.get("addressee") == "applicant":
            docs.setdefault(d["document_id"], Served(d["document_id"], d["case_id"], d.get("tracking_number", ""),
                                                     d["kind"], date.fromisoformat(str(d["issued_on"]))))
        elif k == SERVED:
            served.append(d)
    problems: list[str] = []
    for d in served:
        doc = docs.get(d["document_id"])
        if doc is None:
            continue  # the service of another kind of document (a receipt, a notice): not a reply
        on = date.fromisoformat(str(d["served_on"]))
        doc.channels.add(d["channel"])
        if doc.served_on is None or on < doc.served_on or (on == doc.served_on and d["channel"] < (doc.channel or "")):
            doc.served_on, doc.channel = on, d["channel"]
    for doc in docs.values():
        if doc.case_id not in agencies:
            problems.append(f"{ISSUED_DOC} {doc.document_id} of case {doc.case_id} without its application")
    return docs, agencies, problems


def service_statistics(events: Iterable[dict[str, Any]], agency_code: str, start: date, end: date,
                       today: date) -> dict[str, Any]:
    """Replies (and amendments) issued in [start, end) by one agency: served or not, how, how fast."""
    docs, agencies, problems = fold_service(events)
    out: dict[str, Any] = {"agency_code": agency_code, "from": start.isoformat(), "to": end.isoformat(),
                           "problems": problems}
    for reply_kind in REPLY_KINDS:
        mine = [d for d in docs.values()
                if agencies.get(d.case_id) == agency_code and d.kind == reply_kind and start <= d.issued_on < end]
        done = [d for d in mine if d.served_on is not None]
        waits = [(d.served_on - d.issued_on).days for d in done if d.served_on is not None]
        by_channel: dict[str, int] = {}
        for d in done:
            assert d.channel is not None
            by_channel[d.channel] = by_channel.get(d.channel, 0) + 1
        unserved = sorted((d for d in mine if d.served_on is None), key=lambda d: (d.issued_on, d.tracking_number))
        out[reply_kind] = {
            "issued": len(mine),
            "served": len(done),
            "not_served": len(unserved),
            "first_served_by": dict(sorted(by_channel.items())),
            "days_to_service_median": median(waits) if waits else None,
            "days_to_service_max": max(waits) if waits else None,
            "not_served_list": [{"case_id": d.case_id, "tracking_number": d.tracking_number,
                                 "document_id": d.document_id, "issued_on": d.issued_on.isoformat(),
                                 "days_since_issue": (today - d.issued_on).days} for d in unserved],
        }
    return out
