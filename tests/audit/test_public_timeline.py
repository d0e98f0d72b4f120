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


def test_amended_reply_and_review_steps_show_no_officer_or_note():
    def remedy(time: str, **data) -> dict:
        return {"type": "cn.gongkai.remedy.recorded.v1", "source": "/gongkai/audit", "time": time, "data": data}

    events = [
        ev("reply.issued", "2026-03-20T01:00:00Z", decision="partially_disclosed", document_text="答复书"),
        ev("reply.amended", "2026-04-02T01:00:00Z", decision="disclosed", document_text="补充答复书"),
        remedy("2026-05-06T01:00:00Z", kind="review", stage="filed", filed_on="2026-05-05",
           recorded_by="officer-9", note="内部备注：申请人情绪激动"),
        remedy("2026-07-01T01:00:00Z", kind="litigation", route="direct", stage="decided",
           filed_on="2026-05-20", result="corrected", decided_on="2026-06-30", recorded_by="officer-9", note="内部"),
    ]
    view = applicant_view("T", events)
    assert [s["step"] for s in view["steps"]] == ["已作出答复", "已补充答复（后到的承办部门答复）", "行政复议已登记", "行政诉讼已审结"]
    assert view["steps"][1]["detail"] == "补充后的答复结果：予以公开" and view["steps"][1]["document"] == "补充答复书"
    assert view["steps"][3]["detail"] == "结果纠正，审结日期 2026-06-30"
    text = json.dumps(view, ensure_ascii=False)
    assert "officer-9" not in text and "备注" not in text and "内部" not in text


def test_the_ogi_offices_contradictions_stay_internal():
    """contradiction.flagged and contradiction.resolved (the OGI office's decision, with its officer
    and note) are in the ledger, never in the applicant's view; a reopened answer is not a step."""
    events = [
        ev("application.received", "2026-03-02T01:00:00Z", tracking_number="T", received_on="2026-03-02"),
        ev("contradiction.flagged", "2026-03-09T01:00:00Z", contradiction_id="x1", item_key="a.pdf",
           message="各部门对同一事项的答复不一致"),
        ev("contradiction.resolved", "2026-03-10T01:00:00Z", contradiction_id="x1", resolved_by="公开办甲",
           resolved_by_subject="u-ogi-1", note="请财政厅重新答复", reopened=[{"task_id": "t2", "dept_code": "czt"}],
           resolved_at="2026-03-10T01:00:00Z"),
    ]
    view = applicant_view("T", events)
    assert [s["step"] for s in view["steps"]] == ["申请已登记"] and view["status"] == "办理中"
    text = json.dumps(view, ensure_ascii=False)
    assert "公开办甲" not in text and "重新答复" not in text and "czt" not in text


def test_the_service_of_a_document_is_a_step_of_the_applicants_timeline():
    from services.audit.public_timeline import applicant_step

    step = applicant_step({"type": "cn.gongkai.document.served.v1", "time": "2026-10-09T02:00:00Z",
                           "data": {"channel": "post", "served_on": "2026-10-09", "document_id": "d1"}})
    assert step["step"] == "文书已送达" and step["detail"] == "邮寄送达，送达日期 2026-10-09"
    returned = applicant_step({"type": "cn.gongkai.document.returned.v1", "data": {"returned_on": "2026-10-12"}})
    assert returned["step"] == "邮寄的文书被退回" and "2026-10-12" in returned["detail"]
