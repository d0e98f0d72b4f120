"""Events of the department's desk (reply service, ``services/reply/tasks.py``): what a department
does with its task besides answering. All on ``gongkai.answers.recorded``."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from contracts.envelope import EventData


class TaskAcknowledged(EventData):
    """A department officer acknowledged (签收) the department's task: who and when (once per task)."""

    event_name = "task.acknowledged"

    case_id: str
    task_id: str
    dept_code: str
    acknowledged_by: str = Field(description="The officer's display name (from the verified token)")
    acknowledged_by_subject: str = Field(description="That officer's subject (OIDC ``sub``)")
    acknowledged_at: datetime


class TaskReturned(EventData):
    """A department returned (退回) its task to the OGI office with a reason: the task is out of the
    department's inbox until the OGI office routes the case again (triage)."""

    event_name = "task.returned"

    case_id: str
    task_id: str
    dept_code: str
    reason: str = Field(min_length=1, description="Why the task is not the department's (Chinese)")
    returned_by: str
    returned_by_subject: str
    returned_at: datetime


class AnswerReturned(EventData):
    """A reviewer of the department sent a draft answer back to its author with a comment (instead
    of signing it off; four eyes as for the sign-off). The draft cannot be signed off until replaced."""

    event_name = "answer.returned"

    case_id: str
    task_id: str
    dept_code: str
    comment: str = Field(min_length=1, description="What the author is to change (Chinese)")
    reviewer: str
    reviewer_subject: str
    sent_back_at: datetime


EVENTS: tuple[type[EventData], ...] = (TaskAcknowledged, TaskReturned, AnswerReturned)
