"""Events of whole cases, as the services publish them (valid contracts.events models)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from contracts.envelope import CloudEvent, deterministic_id, encode, new_event
from contracts.events import (
    Answer,
    AnswerRecorded,
    ApplicationReceived,
    CaseRouted,
    NoticeDelivered,
    ReplyIssued,
    ReplyPart,
    RoutedTask,
    TaskAssigned,
)
from contracts.topics import APPLICATIONS_RECEIVED, ANSWERS_RECORDED, CASES_ROUTED, NOTICES_DELIVERED, REPLIES_ISSUED
from contracts.vocabulary import ApplicantType, Channel, DeliveryForm, DeliveryMethod, ReplyType

AGENCY = "yn-gov-office"


def case_events(n: int, *, received_on: date = date(2026, 3, 2), applicant_type: ApplicantType = ApplicantType.NATURAL_PERSON,
                depts: tuple[str, ...] = ("rst", "jyt"), decision: ReplyType | None = ReplyType.DISCLOSED,
                description: str = "申请公开本机关2025年度部门预算执行情况", applicant_ref: str | None = None,
                replied_on: date | None = None
                ) -> list[tuple[str, CloudEvent[Any]]]:
    """(topic, event) of one case, in the order the services produce them."""
    case_id = f"case-{n:05d}"
    tn = f"YN-{received_on:%Y%m%d}-{n:05d}"
    t0 = datetime(received_on.year, received_on.month, received_on.day, 9, 0, tzinfo=UTC)
    out: list[tuple[str, CloudEvent[Any]]] = []

    def add(topic: str, data: Any, kind: str, cause: CloudEvent[Any] | None, minutes: int) -> CloudEvent[Any]:
        ev = new_event(data, source=f"/gongkai/{kind}", subject=case_id, event_id=deterministic_id(case_id, kind, str(len(out))),
                       causation_id=cause.id if cause else None, time=t0 + timedelta(minutes=minutes))
        out.append((topic, ev))
        return ev

    received = add(APPLICATIONS_RECEIVED.name, ApplicationReceived(
        case_id=case_id, tracking_number=tn, agency_code=AGENCY, channel=Channel.ONLINE, received_on=received_on,
        applicant_ref=applicant_ref or f"app-{n:024d}", applicant_type=applicant_type, description=description,
        delivery_form=DeliveryForm.ELECTRONIC, delivery_method=DeliveryMethod.EMAIL, accepted_at=t0), "intake", None, 0)
    tasks = [RoutedTask(task_id=f"{case_id}-{d}", dept_code=d, dept_name=f"{d}部门", rule="keyword:预算") for d in depts]
    routed = add(CASES_ROUTED.name, CaseRouted(case_id=case_id, tracking_number=tn, agency_code=AGENCY, agency_name="省政府办公厅",
                                               received_on=received_on, directory_version="v1", tasks=tasks), "routing", received, 1)
    add(NOTICES_DELIVERED.name, NoticeDelivered(case_id=case_id, notice_id=f"{case_id}-received", kind="received",
                                                channel="email", attempts=1, delivered_at=t0), "notify", received, 2)
    recorded = []
    for i, t in enumerate(tasks):
        add(f"gongkai.dept.{t.dept_code}.tasks", TaskAssigned(
            case_id=case_id, task_id=t.task_id, tracking_number=tn, agency_code=AGENCY, dept_code=t.dept_code,
            dept_name=t.dept_name, description=description, rule=t.rule, received_on=received_on), "routing", routed, 3 + i)
    if decision is None:
        return out
    answer = Answer(reply_type=decision, text=f"{decision.value}：内部审核意见已附。")
    for i, t in enumerate(tasks):
        recorded.append(add(ANSWERS_RECORDED.name, AnswerRecorded(case_id=case_id, task_id=t.task_id, dept_code=t.dept_code,
                                                                  via="http", answer=answer), "reply", routed, 10 + i))
    reply_day = replied_on or received_on + timedelta(days=10)
    parts = [ReplyPart(task_id=t.task_id, dept_code=t.dept_code, dept_name=t.dept_name, answer=answer) for t in tasks]
    reply_data = ReplyIssued(case_id=case_id, tracking_number=tn, agency_code=AGENCY, decision=decision, parts=parts,
                             document_text=f"{tn} 答复书：经审查，决定{decision.value}。")
    reply_minutes = int((datetime(reply_day.year, reply_day.month, reply_day.day, 9, tzinfo=UTC) - t0).total_seconds() // 60)
    issued = add(REPLIES_ISSUED.name, reply_data, "reply", recorded[-1], reply_minutes)
    add(NOTICES_DELIVERED.name, NoticeDelivered(case_id=case_id, notice_id=f"{case_id}-reply", kind="reply_issued",
                                                channel="email", attempts=1, delivered_at=t0), "notify", issued, reply_minutes + 1)
    return out


def raw(event: CloudEvent[Any]) -> bytes:
    return encode(event)
