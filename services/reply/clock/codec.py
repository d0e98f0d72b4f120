"""The procedural history as stored on the clock's document (collection ``clocks``: plain JSON
types, no '.' or '$' keys, no nested arrays) and back. Pure."""

from __future__ import annotations

from datetime import date
from typing import Any

from contracts.vocabulary import Channel
from services.reply.clock.clock import (
    AbandonReason,
    Consultation,
    ConsultationEnd,
    Correction,
    Deadline,
    Extension,
    FeeNotice,
    FeeSettlement,
    History,
    PartyKind,
)


def _d(x: date | None) -> str | None:
    return x.isoformat() if x else None


def _p(x: str | None) -> date | None:
    return date.fromisoformat(x) if x else None


def dump(h: History) -> dict[str, Any]:
    c, x = h.correction, h.extension
    return {
        "received_on": h.received_on.isoformat(),
        "channel": h.channel.value if h.channel else None,
        "on_the_spot": h.on_the_spot,
        "correction": None
        if c is None
        else {
            "issued_on": _d(c.issued_on),
            "items": list(c.items),
            "due_on": _d(c.due_on),
            "received_on": _d(c.received_on),
            "late_reason": c.late_reason,
        },
        "extension": None
        if x is None
        else {
            "approved_on": _d(x.approved_on),
            "days": x.days,
            "approver": x.approver,
            "approver_role": x.approver_role,
            "reason": x.reason,
        },
        "consultations": [
            {
                "number": k.number,
                "party_kind": k.party_kind.value,
                "party": k.party,
                "sent_on": _d(k.sent_on),
                "delivered_on": _d(k.delivered_on),
                "ended_on": _d(k.ended_on),
                "end": k.end.value if k.end else None,
            }
            for k in h.consultations
        ],
        "abandoned_on": _d(h.abandoned_on),
        "replied_on": _d(h.replied_on),
        "fee": None
        if h.fee is None
        else {
            "issued_on": _d(h.fee.issued_on),
            "amount_yuan": h.fee.amount_yuan,
            "settled_on": _d(h.fee.settled_on),
            "settlement": h.fee.settlement.value if h.fee.settlement else None,
            "recorded_by": h.fee.recorded_by,
        },
        "abandoned_for": h.abandoned_for.value if h.abandoned_for else None,
    }


def load(obj: dict[str, Any]) -> History:
    c, x = obj.get("correction"), obj.get("extension")
    return History(
        received_on=date.fromisoformat(obj["received_on"]),
        channel=Channel(obj["channel"]) if obj.get("channel") else None,
        on_the_spot=bool(obj.get("on_the_spot")),
        correction=None
        if not c
        else Correction(
            issued_on=date.fromisoformat(c["issued_on"]),
            items=tuple(c["items"]),
            due_on=date.fromisoformat(c["due_on"]),
            received_on=_p(c.get("received_on")),
            late_reason=c.get("late_reason"),
        ),
        extension=None
        if not x
        else Extension(
            approved_on=date.fromisoformat(x["approved_on"]),
            days=int(x["days"]),
            approver=x["approver"],
            approver_role=x["approver_role"],
            reason=x["reason"],
        ),
        consultations=tuple(
            Consultation(
                number=int(k["number"]),
                party_kind=PartyKind(k["party_kind"]),
                party=k["party"],
                sent_on=date.fromisoformat(k["sent_on"]),
                delivered_on=_p(k.get("delivered_on")),
                ended_on=_p(k.get("ended_on")),
                end=ConsultationEnd(k["end"]) if k.get("end") else None,
            )
            for k in obj.get("consultations") or []
        ),
        abandoned_on=_p(obj.get("abandoned_on")),
        replied_on=_p(obj.get("replied_on")),
        fee=_fee(obj.get("fee")),
        abandoned_for=AbandonReason(obj["abandoned_for"]) if obj.get("abandoned_for") else None,
    )


def _fee(f: dict[str, Any] | None) -> FeeNotice | None:
    if not f:
        return None
    return FeeNotice(
        issued_on=date.fromisoformat(f["issued_on"]),
        amount_yuan=int(f["amount_yuan"]),
        settled_on=_p(f.get("settled_on")),
        settlement=FeeSettlement(f["settlement"]) if f.get("settlement") else None,
        recorded_by=f.get("recorded_by"),
    )


def summary(d: Deadline, calendar_version: str) -> dict[str, Any]:
    """The fields of a computed deadline kept on the clock's document (for queries and the sweep)."""
    return {
        "status": d.status.value,
        "due_on": _d(d.due_on),
        "provisional": d.provisional,
        "missing_years": list(d.missing_years),
        "correction_due": _d(d.correction_due),
        "fee_payment_due": _d(d.fee.payment_due) if d.fee and d.fee.settlement is None else None,
        "calendar_version": calendar_version,
    }
