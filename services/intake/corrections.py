"""The correction of an application (Art. 30) as intake keeps it: what the OGI office asked for
(``correction.requested``), what the applicant submitted online, whether the reply service recorded
it as received (``correction.received``), and whether the application was deemed abandoned
(``application.abandoned``). Kept on the application's document, under ``correction``:

    requested: {items, due_on, issued_on}        from the reply service's event
    submitted: {received_on, submitted_at, description, note, attachments}   the applicant's, online
    received:  {received_on, online}             from the reply service's event (online or on paper)
    abandoned: {abandoned_on, reason}            from the reply service's event

Each event is applied once (a redelivery changes nothing).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from contracts.envelope import CloudEvent
from contracts.events_procedure import ApplicationAbandoned, CorrectionReceived, CorrectionRequested
from servicekit.versioned import Change, Versioned

NOT_REQUESTED = "本申请没有补正通知，无需补正"
ALREADY_SUBMITTED = "补正材料已经提交，不能重复提交"
ALREADY_RECEIVED = "补正材料已经收到，不能重复提交"
ABANDONED = "申请已视为放弃，不能再提交补正"
NOTHING_GIVEN = "请填写补正后的申请内容或上传补正材料"


def overdue(due_on: str) -> str:
    return f"补正期限（{due_on}）已届满，不能在线提交补正；如有正当理由，请与政府信息公开工作机构联系"


async def apply_event(applications: Versioned, event: CloudEvent[Any]) -> str | None:
    """Record a procedure event on the application (if it is one of this intake's); the field set
    or None (another event type, another agency's case, or already recorded)."""
    data = event.data
    if isinstance(data, CorrectionRequested):
        key, value = "requested", {"items": list(data.items), "due_on": data.due_on.isoformat(),
                                   "issued_on": data.issued_on.isoformat()}
    elif isinstance(data, CorrectionReceived):
        key, value = "received", {"received_on": data.received_on.isoformat()}
    elif isinstance(data, ApplicationAbandoned):
        key, value = "abandoned", {"abandoned_on": data.abandoned_on.isoformat(), "reason": data.reason}
    else:
        return None
    written = await applications.write_if(data.case_id, {f"correction.{key}": None},
                                          Change(set={f"correction.{key}": value}))
    return key if written else None


def refusal(doc: dict[str, Any], today: date) -> str | None:
    """Why the applicant may not submit a correction online now (409), or None."""
    corr = doc.get("correction") or {}
    if corr.get("abandoned"):
        return ABANDONED
    if not corr.get("requested"):
        return NOT_REQUESTED
    if corr.get("received"):
        return ALREADY_RECEIVED
    if corr.get("submitted"):
        return ALREADY_SUBMITTED
    due_on = corr["requested"]["due_on"]
    if today > date.fromisoformat(due_on):
        return overdue(due_on)
    return None


def officer_view(doc: dict[str, Any]) -> dict[str, Any] | None:
    """The correction as officers see it (None when none was requested or submitted)."""
    corr = doc.get("correction") or {}
    if not corr:
        return None
    sub = corr.get("submitted")
    status = ("abandoned" if corr.get("abandoned") else "received" if corr.get("received")
              else "submitted" if sub else "requested")
    return {
        "status": status,
        "requested": corr.get("requested"),
        "submitted": None if sub is None else {
            "received_on": sub["received_on"], "submitted_at": sub["submitted_at"],
            "description": sub.get("description"), "note": sub.get("note"),
            "attachments": sub.get("attachments") or []},
        "received": corr.get("received"),
        "abandoned": corr.get("abandoned"),
    }
