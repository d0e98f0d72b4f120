"""The topic catalogue: every Kafka topic of Gongkai, its key, its event types, its partitions.

All events are keyed by case id, so every event of one case lands on one partition of a topic
(per-case ordering). Each department has its own inbox topic (``gongkai.dept.<code>.tasks``) so an
integrator can be granted exactly its own. Every consumed topic has a dead-letter topic
``<topic>.dlt`` that receives what cannot be processed, with the reason in the headers.

**Agencies side by side on one bus.** Each agency's instance has a namespace
(``GONGKAI_NAMESPACE``, read once at import: one process serves one namespace), the first part of
every topic name: ``gongkai`` by default, ``gongkai-<name>`` for another agency on the same cluster
(``gongkai-km.applications.received``). Its principals and consumer groups carry it too
(``scoped``: ``gongkai-km.svc-intake``, group ``gongkai-km.reply``; the default namespace's keep
their plain names), so that contracts/acl.py grants each agency's services exactly their own
namespace's topics and groups and nothing of another's. The one thing that crosses namespaces is
a referral (Art. 36(5)): ``GONGKAI_BUS_AGENCIES`` (``<agency code>=<namespace>,...``) names the
agencies whose instances are on this bus in another namespace; routing hands a case to such an
agency by writing its ``<namespace>.cases.referred`` (``referrals_topic_of``), which that agency's
ACLs let this namespace's routing write (and nothing else of it). An agency not named there is in
this namespace (several agencies may share one, as intake's ``INTAKE_AGENCIES`` serves them).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

DEFAULT_NAMESPACE = "gongkai"
_NAMESPACE = re.compile(r"^gongkai(-[a-z0-9]+)*$")


def _checked_namespace(name: str) -> str:
    if not _NAMESPACE.match(name):
        raise ValueError(f"GONGKAI_NAMESPACE: {name!r} is not gongkai or gongkai-<name> (a-z, 0-9)")
    return name


NAMESPACE = _checked_namespace(os.environ.get("GONGKAI_NAMESPACE", "").strip() or DEFAULT_NAMESPACE)
PREFIX = NAMESPACE


def scoped_in(namespace: str, name: str) -> str:
    """A principal's or consumer group's name in a namespace: the plain name in the default one,
    ``<namespace>.<name>`` in another (``gongkai-km.svc-routing``)."""
    return name if namespace == DEFAULT_NAMESPACE else f"{_checked_namespace(namespace)}.{name}"


def scoped(name: str) -> str:
    """A principal's or consumer group's name in this process's namespace."""
    return scoped_in(NAMESPACE, name)


def bus_agencies(raw: str | None = None) -> dict[str, str]:
    """The agencies on this bus in another namespace (``GONGKAI_BUS_AGENCIES``): code -> namespace."""
    raw = os.environ.get("GONGKAI_BUS_AGENCIES", "") if raw is None else raw
    out: dict[str, str] = {}
    for entry in (e.strip() for e in raw.split(",")):
        if not entry:
            continue
        code, sep, namespace = entry.partition("=")
        if not sep or not code.strip():
            raise ValueError(f"GONGKAI_BUS_AGENCIES: {entry!r} is not <agency code>=<namespace>")
        out[code.strip()] = _checked_namespace(namespace.strip())
    return out


def peer_namespaces(raw: str | None = None) -> list[str]:
    """The other namespaces on this bus (those of ``bus_agencies`` but this one)."""
    return sorted(set(bus_agencies(raw).values()) - {NAMESPACE})
DLT_SUFFIX = ".dlt"
DEFAULT_PARTITIONS = 3


@dataclass(frozen=True)
class TopicSpec:
    name: str
    event_types: tuple[str, ...]
    description: str
    key: str = "case id"
    partitions: int = DEFAULT_PARTITIONS
    compacted: bool = False
    restricted: bool = False  # carries personal data: only the named consumers may read it
    has_dlt: bool = True
    extra_config: dict[str, str] = field(default_factory=dict)

    @property
    def dlt(self) -> str:
        return dead_letter_topic(self.name)


APPLICATIONS_RECEIVED = TopicSpec(
    name=f"{PREFIX}.applications.received",
    event_types=("application.received",),
    description="Applications accepted by intake (any channel); personal data only by reference.",
)
CASES_ROUTED = TopicSpec(
    name=f"{PREFIX}.cases.routed",
    event_types=("case.routed", "case.rerouted", "referral.recorded"),
    description="The routing of a case: the department tasks created for it, later changes of the set "
    "(added, removed, reassigned, withdrawn) and referrals to another agency (Art. 36(5)).",
)
CASES_REFERRED = TopicSpec(
    name=f"{PREFIX}.cases.referred",
    event_types=("case.referred",),
    description="Cases handed to another agency's intake (Art. 36(5)); personal data only by reference.",
)
CASES_PROCEDURE = TopicSpec(
    name=f"{PREFIX}.cases.procedure",
    event_types=(
        "correction.requested", "correction.received", "application.abandoned", "extension.approved",
        "consultation.started", "consultation.ended", "deadline.changed", "deadline.warning.issued",
        "case.overdue", "triage.recorded",
    ),
    description="The legal clock and procedure of each case (reply service): corrections, extensions, "
    "consultations, deadline changes, warnings, overdue cases, triage answers.",
)
APPLICATIONS_SCREENED = TopicSpec(
    name=f"{PREFIX}.applications.screened",
    event_types=("repeat.flagged", "fee.notice.issued", "correction.submitted", "fee.paid", "fee.waived"),
    description="Intake's screening of an application: repeat flags (Arts. 35, 36(6)) and fee notices (Art. 42), "
    "their payment or waiver (recorded by an OGI officer; the reply clock pauses in between); "
    "corrections the applicant submitted online (Art. 30; a count of files only, no personal data).",
)
CASES_REMEDIES = TopicSpec(
    name=f"{PREFIX}.cases.remedies",
    event_types=("remedy.recorded",),
    description="Administrative review and litigation about a case, and their outcomes (annual report).",
)
LEDGER_CHECKPOINTS = TopicSpec(
    name=f"{PREFIX}.ledger.checkpoints",
    event_types=("ledger.checkpoint.signed",),
    description="Signed checkpoints of the audit ledger (tree size, root hash, time, Ed25519 signature).",
    key="log origin",
    partitions=1,
    has_dlt=False,
)
ANSWERS_RECORDED = TopicSpec(
    name=f"{PREFIX}.answers.recorded",
    event_types=("answer.recorded", "answer.refused", "contradiction.flagged", "case.closed",
                 "task.acknowledged", "task.returned", "answer.returned", "contradiction.resolved"),
    description="Answers accepted (or refused, with the reason) by the reply service, whichever way they "
    "came (HTTP or topic); contradictions flagged to the OGI office and its resolutions (answers set aside "
    "to be answered again); cases closed with answers missing; "
    "departments' handling of their tasks (acknowledged, returned to the OGI office, drafts sent back "
    "by the reviewer).",
)
REPLIES_ISSUED = TopicSpec(
    name=f"{PREFIX}.replies.issued",
    event_types=("reply.issued", "reply.amended", "reply.read", "reply.rated", "followup.recorded"),
    description="The one consolidated reply of a case, and its amendments (answers that came after it); "
    "then the applicant reading and rating it and the OGI office's follow-up contacts (no applicant identity).",
)
NOTICES_DELIVERED = TopicSpec(
    name=f"{PREFIX}.notices.delivered",
    event_types=("notice.delivered",),
    description="Each notice delivered to an applicant (e-mail, webhook, text message: its delivery receipt), "
    "once; v2 names the document the notice carried.",
)
DOCUMENTS_ISSUED = TopicSpec(
    name=f"{PREFIX}.documents.issued",
    event_types=("document.issued",),
    description="Each document of a case rendered and stored by the reply service when its step happens "
    "(receipt, correction, extension, consultations, referral, abandonment, fee, reply, amendments): kind, "
    "title, id, SHA-256 and size of the PDF. No personal data (the applicant's name is inside the PDF only).",
)
DOCUMENTS_SERVED = TopicSpec(
    name=f"{PREFIX}.documents.served",
    event_types=("document.dispatched", "document.served", "document.returned"),
    description="The service (送达) of each document addressed to the applicant, per channel: e-mail accepted, "
    "text delivered (receipt), opened online after release, post signed for, handed over at the window; "
    "postal dispatches and returns. The date of service starts the remedy periods. No personal data (no "
    "address, no postal tracking number, no signer's name).",
)
PRIVATE_CONTACTS = TopicSpec(
    name=f"{PREFIX}.private.contacts",
    event_types=("contact.registered",),
    description="Applicant contact details (name or organisation, postal address, e-mail, webhook, phone). "
    "Restricted: notify (notices) and reply (the documents addressed to the applicant) only.",
    compacted=True,
    restricted=True,
)

STATIC_TOPICS: tuple[TopicSpec, ...] = (
    APPLICATIONS_RECEIVED,
    CASES_ROUTED,
    ANSWERS_RECORDED,
    REPLIES_ISSUED,
    NOTICES_DELIVERED,
    PRIVATE_CONTACTS,
    CASES_REFERRED,
    CASES_PROCEDURE,
    APPLICATIONS_SCREENED,
    CASES_REMEDIES,
    LEDGER_CHECKPOINTS,
    DOCUMENTS_ISSUED,
    DOCUMENTS_SERVED,
)


def referrals_topic_of(agency_code: str, agencies: dict[str, str] | None = None) -> str:
    """Where a case handed to ``agency_code`` is published: the ``cases.referred`` topic of the
    agency's namespace (this one unless ``GONGKAI_BUS_AGENCIES`` puts it in another)."""
    namespace = (bus_agencies() if agencies is None else agencies).get(agency_code, NAMESPACE)
    return namespace + CASES_REFERRED.name[len(PREFIX):]


DEPARTMENT_INBOX_TEMPLATE = PREFIX + ".dept.{dept_code}.tasks"
_DEPT_CODE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def _department_topic(template: str, dept_code: str, event_types: tuple[str, ...], description: str,
                      **options: bool) -> TopicSpec:
    """One department's topic of a kind (``template``), its code checked."""
    if not _DEPT_CODE.match(dept_code):
        raise ValueError(f"invalid department code {dept_code!r}")
    return TopicSpec(name=template.format(dept_code=dept_code), event_types=event_types,
                     description=description, **options)


def department_inbox(dept_code: str) -> TopicSpec:
    """The inbox topic of one department (one per department)."""
    return _department_topic(DEPARTMENT_INBOX_TEMPLATE, dept_code, ("task.assigned", "task.withdrawn", "task.reopened"),
                             f"Inbox of department {dept_code}: the tasks assigned to it.")


DEPARTMENT_ANSWERS_TEMPLATE = PREFIX + ".dept.{dept_code}.answers"


def department_answers(dept_code: str) -> TopicSpec:
    """The answers topic of one department: its own system publishes its answers here, and only
    its principal may write it (Kafka ACL), so the department of an answer is the topic's."""
    return _department_topic(DEPARTMENT_ANSWERS_TEMPLATE, dept_code, ("answer.submitted",),
                             f"Answers of department {dept_code}, published by its own system (integrators).")


DEPARTMENT_REPLIES_TEMPLATE = PREFIX + ".dept.{dept_code}.replies"


def department_replies(dept_code: str) -> TopicSpec:
    """The replies copied to one department (抄送): every reply.issued / reply.amended whose ``cc``
    names it, the same event (same id) as on gongkai.replies.issued, which departments may not read.
    Written by the reply service; read by the department's own system. Not recorded by audit
    again: the ledger holds each event once, from gongkai.replies.issued."""
    return _department_topic(DEPARTMENT_REPLIES_TEMPLATE, dept_code, ("reply.issued", "reply.amended"),
                             f"Replies copied to department {dept_code} (抄送): the replies that include its answer.",
                             has_dlt=False)


def department_topics(dept_code: str) -> list[TopicSpec]:
    """The three topics of a department: its inbox, its answers and the replies copied to it."""
    return [department_inbox(dept_code), department_answers(dept_code), department_replies(dept_code)]


def department_of_answers_topic(topic: str) -> str | None:
    """The department whose answers topic this is, or None."""
    m = re.fullmatch(DEPARTMENT_ANSWERS_PATTERN, topic)
    return m.group(1) if m else None


DEPARTMENT_INBOX_PATTERN = rf"^{re.escape(PREFIX)}\.dept\.[a-z0-9-]+\.tasks$"
DEPARTMENT_ANSWERS_PATTERN = rf"^{re.escape(PREFIX)}\.dept\.([a-z0-9][a-z0-9-]*)\.answers$"
DEPARTMENT_REPLIES_PATTERN = rf"^{re.escape(PREFIX)}\.dept\.[a-z0-9-]+\.replies$"
# Everything the audit service records: all shared topics, never the restricted ones nor DLTs, nor
# the copies of replies on the departments' replies topics (each event is recorded once).
AUDITED_PATTERN = rf"^{re.escape(PREFIX)}\.(?!private\.)(?!dept\.[a-z0-9-]+\.replies$)[a-z0-9.-]+(?<!\.dlt)$"


def dead_letter_topic(topic: str) -> str:
    return topic + DLT_SUFFIX


def with_dead_letters(specs: list[TopicSpec]) -> list[TopicSpec]:
    """The given topics followed by their dead-letter topics."""
    dlts = [
        TopicSpec(
            name=s.dlt,
            event_types=(),
            description=f"Dead letters of {s.name}: the message and the reason it failed.",
            has_dlt=False,
            restricted=s.restricted,
            partitions=1,
        )
        for s in specs
        if s.has_dlt
    ]
    return list(specs) + dlts


def topics_to_create(dept_codes: list[str] | tuple[str, ...] = ()) -> list[TopicSpec]:
    """Every topic the broker must hold: the static catalogue, department inboxes and DLTs."""
    return with_dead_letters(list(STATIC_TOPICS) + [t for code in dept_codes for t in department_topics(code)])
