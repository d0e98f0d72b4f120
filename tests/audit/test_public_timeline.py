"""The applicant's view of procedure steps: Chinese labels, their dates, nothing internal."""

from __future__ import annotations

import json

from services.audit.public_timeline import applicant_view


def ev(kind: str, time: str, **data) -> dict:
    return {"type": f"cn.gongkai.{kind}.v1", "source": "/gongkai/reply", "time": time, "data": data}


def test_procedure_steps_and_abandonment():
    events = [
        ev("application.received", "2026-03-02T01:00:00Z", tracking_number="YN-20260302-00001", received_on="2026-03-02"),
        ev("correction.requested", "2026-03-05T01:00:00Z", due_on="2026-03-20", issued_by="officer-7",
           items=["请写明所需信息的名称"]),
        ev("deadline.changed", "2026-03-05T01:00:00Z", reason="correction", calendar_version="abc"),
        ev("application.abandoned", "2026-03-21T01:00:00Z", abandoned_on="2026-03-21"),
    ]
    view = applicant_view("YN-20260302-00001", events)
    assert view["status"] == "已终止（视为放弃）"
    assert [s["step"] for s in view["steps"]] == ["申请已登记", "已发出补正通知", "申请视为放弃"]
    assert view["steps"][1]["detail"] == "请于 2026-03-20 前补正"
    text = json.dumps(view, ensure_ascii=False)
    assert "officer-7" not in text and "calendar" not in text and "/gongkai/" not in text


def test_extension_shows_the_new_deadline_and_the_case_stays_open():
    events = [ev("extension.approved", "2026-04-01T01:00:00Z", new_due_on="2026-04-30", approver="head-1",
                 reason="需要协调多个部门")]
    view = applicant_view("T", events)
    assert view["status"] == "办理中"
    assert view["steps"] == [{"time": "2026-04-01T01:00:00Z", "step": "答复期限已依法延长", "detail": "延长后的答复期限：2026-04-30"}]
