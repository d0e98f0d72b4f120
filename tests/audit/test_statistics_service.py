"""Replies served (送达) or not, from ledger events (services/audit/statistics/service.py, issue #17)."""

from __future__ import annotations

from datetime import date

from services.audit.statistics.service import service_statistics


def ev(name: str, **data) -> dict:
    return {"type": f"cn.gongkai.{name}.v1", "data": data}


def received(case: str, agency: str = "yn") -> dict:
    return ev("application.received", case_id=case, agency_code=agency, applicant_type="natural_person",
              received_on="2026-09-01")


def issued(case: str, doc: str, on: str, kind: str = "consolidated_reply", addressee: str = "applicant") -> dict:
    return ev("document.issued", case_id=case, tracking_number=f"TN-{case}", document_id=doc, kind=kind,
              addressee=addressee, issued_on=on)


def served(case: str, doc: str, on: str, channel: str) -> dict:
    return ev("document.served", case_id=case, tracking_number=f"TN-{case}", document_id=doc, channel=channel,
              served_on=on)


def test_replies_served_not_served_first_channel_and_days():
    events = [
        received("c1"), received("c2"), received("c3"), received("c4", agency="km"),
        issued("c1", "r1", "2026-10-09"), issued("c2", "r2", "2026-10-12"), issued("c3", "r3", "2026-10-20"),
        issued("c4", "r4", "2026-10-09"),  # another agency's
        issued("c1", "k1", "2026-09-02", kind="acceptance_receipt"),  # not a reply
        issued("c1", "a1", "2026-10-15", kind="reply_amendment"),
        # r1: the e-mail on the 9th, then post signed on the 12th: served on the 9th by e-mail.
        served("c1", "r1", "2026-10-12", "post"), served("c1", "r1", "2026-10-09", "email"),
        # r2: a signed-for date recorded after the SMS receipt, but earlier: post, on the 13th.
        served("c2", "r2", "2026-10-14", "sms"), served("c2", "r2", "2026-10-13", "post"),
        served("c1", "k1", "2026-09-02", "email"),  # the receipt's service: not counted among replies
        served("c4", "r4", "2026-10-10", "window"),
    ]
    out = service_statistics(events, "yn", date(2026, 1, 1), date(2027, 1, 1), today=date(2026, 10, 30))
    replies = out["consolidated_reply"]
    assert (replies["issued"], replies["served"], replies["not_served"]) == (3, 2, 1)
    assert replies["first_served_by"] == {"email": 1, "post": 1}
    # 9th → 9th: 0 days; 12th → 13th: 1 day.
    assert (replies["days_to_service_median"], replies["days_to_service_max"]) == (0.5, 1)
    assert replies["not_served_list"] == [{"case_id": "c3", "tracking_number": "TN-c3", "document_id": "r3",
                                           "issued_on": "2026-10-20", "days_since_issue": 10}]
    amendments = out["reply_amendment"]
    assert (amendments["issued"], amendments["served"], amendments["not_served"]) == (1, 0, 1)
    assert out["problems"] == []


def test_the_period_is_of_the_issue_day_and_an_orphan_reply_is_a_problem():
    events = [received("c1"), issued("c1", "r1", "2025-12-31"), issued("c9", "r9", "2026-01-05")]
    out = service_statistics(events, "yn", date(2026, 1, 1), date(2027, 1, 1), today=date(2026, 1, 6))
    assert out["consolidated_reply"]["issued"] == 0  # issued in 2025; c9 has no application
    assert out["problems"] == ["document.issued r9 of case c9 without its application"]


def test_documents_addressed_to_others_are_not_replies_to_serve():
    events = [received("c1"), issued("c1", "r1", "2026-03-02", addressee="other_agency")]
    out = service_statistics(events, "yn", date(2026, 1, 1), date(2027, 1, 1), today=date(2026, 3, 3))
    assert out["consolidated_reply"]["issued"] == 0
