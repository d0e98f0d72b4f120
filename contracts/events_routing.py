"""Events of the routing capability: what the OGI office changes on a routed case, and referrals.

- ``TaskWithdrawn`` goes to the department's own inbox (``gongkai.dept.<code>.tasks``): the task is
  no longer the department's to answer.
- ``TaskReopened`` goes to the department's own inbox too: the OGI office set the task's answer
  aside when it resolved a contradiction (reply's ``contradiction.resolved``), and the department
  answers the task again.
- ``CaseRerouted`` goes to ``gongkai.cases.routed`` after every change of a case's departments (add,
  remove, reassign, withdraw): the delta and the whole set of open tasks after it, so the reply
  service can follow (new tasks are also announced by ``TaskAssigned`` in the new inboxes).
- ``ReferralRecorded`` goes to ``gongkai.cases.routed``: the case (or a part of it) is not this
  agency's (Art. 36(5)); it tells the applicant (notify) and the reply service who is responsible.
- ``CaseReferred`` goes to the referrals topic (``gongkai.cases.referred``) when the responsible
  agency is on the same bus: what its intake needs to accept the application. No personal data:
  the applicant is named by ``applicant_ref`` only.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import Field

from contracts.envelope import EventData, EventPart
from contracts.vocabulary import ApplicantType, Channel, DeliveryForm, DeliveryMethod

REFERRAL_BASIS = "《中华人民共和国政府信息公开条例》第三十六条第（五）项"


class RoutedTask(EventPart):
    """A task of a case (same shape as contracts.events.RoutedTask, which cannot be imported here
    without an import cycle: contracts.events imports this module to build its registry)."""

    task_id: str
    dept_code: str
    dept_name: str
    rule: str = Field(description="The rule that picked this department (manual:… for the OGI office)")


class WithdrawnTaskRef(EventPart):
    task_id: str
    dept_code: str
    dept_name: str


class AgencyContact(EventPart):
    address: str = ""
    phone: str = ""
    office_hours: str = ""


class TaskWithdrawn(EventData):
    """Published to the department's own inbox: the task is withdrawn and must not be answered."""

    event_name = "task.withdrawn"

    case_id: str
    task_id: str
    tracking_number: str
    dept_code: str
    dept_name: str
    reason: str = Field(description="Why the OGI office withdrew the task (Chinese)")
    withdrawn_by: str = Field(description="The OGI officer who withdrew it")
    replaced_by: list[str] = Field(default_factory=list, description="Departments that take it over, if any")


class TaskReopened(EventData):
    """Published to the department's own inbox: the OGI office set the task's answer aside (resolving
    a contradiction between answers of the case); the department answers the task again."""

    event_name = "task.reopened"

    case_id: str
    task_id: str
    tracking_number: str
    dept_code: str
    dept_name: str
    contradiction_id: str = Field(description="The contradiction resolved (its contradiction.resolved's id field)")
    reason: str = Field(description="The OGI office's note: why the answer was set aside (Chinese)")
    reopened_by: str = Field(description="The OGI officer who set it aside (display name)")
    reopened_at: datetime


class CaseRerouted(EventData):
    """The departments of a case changed (OGI office): the delta and the open tasks after it."""

    event_name = "case.rerouted"

    case_id: str
    tracking_number: str
    agency_code: str
    change_seq: int = Field(ge=1, description="1 for the first change of the case, then 2, 3 …")
    operation: Literal["add", "remove", "reassign", "withdraw"]
    directory_version: str
    added: list[RoutedTask] = Field(default_factory=list)
    withdrawn: list[WithdrawnTaskRef] = Field(default_factory=list)
    tasks: list[RoutedTask] = Field(min_length=1, description="Every open task of the case after the change")
    triage_resolved: bool = Field(description="True if this change closed the case's triage")
    reason: str
    changed_by: str


class ReferralRecorded(EventData):
    """The OGI office recorded that the case (or part of it) is another agency's (Art. 36(5))."""

    event_name = "referral.recorded"

    case_id: str
    tracking_number: str
    referral_id: str
    agency_code: str = Field(description="The agency that received the application")
    target_agency_code: str | None = Field(default=None, description="Directory code, if the agency is in it")
    target_agency_name: str
    target_contact: AgencyContact
    handed_over: bool = Field(description="True if the case was passed to the target agency's intake")
    whole_case: bool
    part: str | None = Field(default=None, description="The part of the request referred, if not the whole")
    reason: str
    legal_basis: str = REFERRAL_BASIS
    withdrawn: list[WithdrawnTaskRef] = Field(default_factory=list)
    message: str = Field(description="What the applicant is told (Chinese)")
    recorded_by: str


class CaseReferred(EventData):
    """Handed to the responsible agency's intake (same bus). Personal data only by reference."""

    event_name = "case.referred"

    case_id: str = Field(description="The original case at the referring agency")
    tracking_number: str = Field(description="The original tracking number")
    referral_id: str
    from_agency_code: str
    from_agency_name: str
    target_agency_code: str
    target_agency_name: str
    description: str = Field(description="The information requested (the part referred)")
    applicant_ref: str = Field(description="Opaque reference to the applicant held by the referring intake")
    applicant_type: ApplicantType
    channel: Channel
    delivery_form: DeliveryForm
    delivery_method: DeliveryMethod
    received_on: date = Field(description="Date of receipt at the referring agency")
    reason: str


EVENTS: tuple[type[EventData], ...] = (TaskWithdrawn, CaseRerouted, ReferralRecorded, CaseReferred, TaskReopened)
