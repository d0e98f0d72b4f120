"""Who may do what on the bus: the Kafka principals of Gongkai and their ACLs, derived from the
topic catalogue (contracts.topics). One source of truth: deploy/local/kafka_acl.py applies exactly
``acls(dept_codes)`` to the broker, and the tests check its properties with ``allowed``, which
follows the broker's rules (DENY wins over ALLOW; LITERAL and PREFIXED patterns; READ or WRITE
imply DESCRIBE; super users may do anything).

Principals (SASL/SCRAM user names): ``admin`` (the broker itself, infrastructure tools, tests: the
only super user), one per service (``svc-intake`` ...), one per department (``dept-<code>``: that
department's own system, an integrator).

- A department reads only its own inbox and the replies copied to it (抄送, its replies topic), and
  writes only its own answers topic (so the department of an answer on the bus is the topic it
  arrived on); its consumer groups are ``dept-<code>`` or
  start with ``dept-<code>.`` (a dot: department codes have none, so no code's groups are a prefix
  of another's).
- ``gongkai.private.*`` is read only by notify (notices) and reply (the documents addressed to the
  applicant) and written only by intake (and its readers write their dead letters).
- A service reads what it consumes and writes the dead-letter topics of what it consumes
  (servicekit.consumer.send_to_dlt), writes what it publishes, reads its own consumer groups.
- Topics of departments that do not exist yet: routing writes every inbox and creates the topics
  of every department (prefix ``gongkai.dept.``), so a directory change never stalls it; it is
  denied writing the answers topics of the departments known here. Audit reads every department
  topic (prefix). Reply reads the answers topics of the departments known here: a new department's
  answers can only come once its principal exists, and that is created together with these ACLs.
  Reply writes every department's replies topic (prefix, denied the answers and inboxes of the
  departments known here), so a reply copied to a new department never stalls the outbox.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from contracts import topics as t
from contracts.topics import TopicSpec

ADMIN = "admin"
SUPER_USERS = (ADMIN,)
# "web" is the coming web portal and workbench: a principal, no grants yet.
SERVICES = ("intake", "routing", "reply", "notify", "audit", "web")
DEPT_TOPIC_PREFIX = f"{t.PREFIX}.dept."
PRIVATE_PREFIX = f"{t.PREFIX}.private."

# Kafka's names (org.apache.kafka.common.resource.ResourceType, PatternType, acl.AclOperation ...).
TOPIC, GROUP, CLUSTER = "TOPIC", "GROUP", "CLUSTER"
LITERAL, PREFIXED = "LITERAL", "PREFIXED"
ALLOW, DENY = "ALLOW", "DENY"
READ, WRITE, CREATE, DESCRIBE, ALL = "READ", "WRITE", "CREATE", "DESCRIBE", "ALL"
_IMPLY_DESCRIBE = frozenset({READ, WRITE, "DELETE", "ALTER", DESCRIBE, ALL})


@dataclass(frozen=True, order=True)
class Acl:
    """One ACL binding: ``principal`` ("User:<name>") may (ALLOW) or may not (DENY) perform
    ``operation`` on the resources matching (``resource_type``, ``resource_name``, ``pattern_type``)."""

    principal: str
    resource_type: str
    resource_name: str
    pattern_type: str
    operation: str
    permission: str = ALLOW
    host: str = "*"

    def matches(self, resource_type: str, name: str) -> bool:
        if resource_type != self.resource_type:
            return False
        if self.pattern_type == PREFIXED:
            return name.startswith(self.resource_name)
        return self.resource_name in (name, "*")


def user(name: str) -> str:
    return f"User:{name}"


def service_principal(service: str) -> str:
    """``svc-<service>``, scoped to this namespace (``gongkai-km.svc-intake``: contracts.topics)."""
    if service not in SERVICES:
        raise ValueError(f"unknown service {service!r}")
    return t.scoped(f"svc-{service}")


def department_principal(dept_code: str) -> str:
    """``dept-<code>``, scoped to this namespace."""
    t.department_inbox(dept_code)  # validates the code
    return t.scoped(f"dept-{dept_code}")


DEPT_PRINCIPAL_PREFIX = t.scoped("dept-")


def principals(dept_codes: Iterable[str]) -> list[str]:
    """Every principal of a deployment: admin, the services, the departments."""
    services = [service_principal(s) for s in SERVICES]
    return [ADMIN, *services, *(department_principal(c) for c in sorted(set(dept_codes)))]


def is_managed(principal_name: str) -> bool:
    """A principal of this namespace that this module grants to (the broker may hold others: an
    agency's own, or another namespace's on the same cluster)."""
    return principal_name.startswith((t.scoped("svc-"), t.scoped("dept-")))


_ANY_NAMESPACE_PRINCIPAL = re.compile(r"^(gongkai(-[a-z0-9]+)*\.)?(svc|dept)-")


def manages(a: Acl) -> bool:
    """An ACL this namespace's table decides: on this namespace's topics, those of any namespace's
    services and departments (ours, and another namespace's routing writing our referrals); on
    anything but topics (groups), those of our own principals. Another namespace's topics are its
    own, even where they name one of ours (it grants our routing its referrals topic); a principal
    of no namespace (an agency's own tool) is left alone."""
    principal = a.principal.removeprefix("User:")
    if a.resource_type == TOPIC:
        return a.resource_name.startswith(t.PREFIX + ".") and bool(_ANY_NAMESPACE_PRINCIPAL.match(principal))
    return is_managed(principal)


# -------------------------------------------------------------------------------- services' use
@dataclass(frozen=True)
class Usage:
    """What a service does on the bus, as its code does it (services/<name>/app.py)."""

    consumes: tuple[TopicSpec, ...] = ()  # READ, and WRITE on their dead-letter topics
    produces: tuple[TopicSpec, ...] = ()  # WRITE
    creates: tuple[TopicSpec, ...] = ()  # CREATE (servicekit.kafka.ensure_topics at start-up)
    groups: tuple[str, ...] = ()  # consumer groups; a name ending in "-" is a prefix
    dept_kinds_consumed: tuple[str, ...] = ()  # "tasks" / "answers" topics of the departments
    dept_kinds_all: bool = False  # consumes those kinds of every department, present and future
    writes_inboxes: bool = False  # every department's inbox, present and future; and creates them
    writes_dept_replies: bool = False  # every department's replies topic (抄送), present and future


def _shared(spec: TopicSpec) -> bool:
    return not spec.restricted


USES: dict[str, Usage] = {
    "intake": Usage(
        consumes=(t.CASES_REFERRED, t.CASES_PROCEDURE),  # procedure: the correction's state (Art. 30)
        produces=(t.APPLICATIONS_RECEIVED, t.PRIVATE_CONTACTS, t.APPLICATIONS_SCREENED),
        groups=("intake-",),  # intake-<agency code>: one group per agency on the bus
    ),
    "routing": Usage(
        # answers.recorded: the departments' task.returned (退回), back into the triage queue.
        # cases.procedure: the OGI office's "not an OGI request" (triage.recorded), a labelled example (#13).
        consumes=(t.APPLICATIONS_RECEIVED, t.ANSWERS_RECORDED, t.CASES_PROCEDURE),
        produces=(t.CASES_ROUTED, t.CASES_REFERRED),
        creates=(t.CASES_REFERRED,),  # with its dead-letter topic
        groups=("routing",),
        writes_inboxes=True,
    ),
    "reply": Usage(
        # screened: online corrections and fee notices; procedure: the steps whose documents it renders
        # (its own clock's events, read back like any consumer's); private contacts: the applicant's name
        # and address, printed in the documents addressed to them and nowhere else; answers recorded and
        # replies issued: its own, read back by its clock (which departments are open, the reply).
        # notices delivered: the service (送达) of the documents the notices carried (issue #17).
        consumes=(t.CASES_ROUTED, t.APPLICATIONS_RECEIVED, t.APPLICATIONS_SCREENED, t.CASES_PROCEDURE,
                  t.PRIVATE_CONTACTS, t.ANSWERS_RECORDED, t.REPLIES_ISSUED, t.NOTICES_DELIVERED),
        produces=(t.ANSWERS_RECORDED, t.REPLIES_ISSUED, t.CASES_PROCEDURE, t.DOCUMENTS_ISSUED, t.DOCUMENTS_SERVED),
        groups=("reply",),
        dept_kinds_consumed=("answers",),
        writes_dept_replies=True,  # the copy of each reply to the departments it names (cc)
    ),
    "notify": Usage(
        consumes=(t.PRIVATE_CONTACTS, t.APPLICATIONS_RECEIVED, t.REPLIES_ISSUED, t.CASES_PROCEDURE,
                  t.APPLICATIONS_SCREENED, t.CASES_ROUTED),
        produces=(t.NOTICES_DELIVERED,),
        groups=("notify",),
    ),
    # Audit subscribes to topics.AUDITED_PATTERN: every shared topic, never the restricted ones.
    "audit": Usage(
        consumes=tuple(s for s in t.STATIC_TOPICS if _shared(s)),
        produces=(t.LEDGER_CHECKPOINTS, t.CASES_REMEDIES),
        creates=(t.LEDGER_CHECKPOINTS,),
        groups=("audit",),
        dept_kinds_consumed=("tasks", "answers"),
        dept_kinds_all=True,
    ),
    "web": Usage(),
}


def _dept_topic(code: str, kind: str) -> TopicSpec:
    return t.department_inbox(code) if kind == "tasks" else t.department_answers(code)


def _topic(principal: str, name: str, op: str, pattern: str = LITERAL, permission: str = ALLOW) -> Acl:
    return Acl(user(principal), TOPIC, name, pattern, op, permission)


def _group(principal: str, name: str) -> Acl:
    name = t.scoped(name)  # this namespace's groups (contracts.topics)
    return Acl(user(principal), GROUP, name, PREFIXED if name.endswith("-") else LITERAL, READ)


def service_acls(service: str, dept_codes: Sequence[str]) -> list[Acl]:
    use, p = USES[service], service_principal(service)
    out: list[Acl] = []
    for spec in use.consumes:
        out.append(_topic(p, spec.name, READ))
        if spec.has_dlt:
            out.append(_topic(p, spec.dlt, WRITE))
    out += [_topic(p, spec.name, WRITE) for spec in use.produces]
    for spec in use.creates:
        out += [_topic(p, name, CREATE) for name in ([spec.name, spec.dlt] if spec.has_dlt else [spec.name])]
    out += [_group(p, g) for g in use.groups]
    if use.dept_kinds_all:
        out.append(_topic(p, DEPT_TOPIC_PREFIX, READ, PREFIXED))
    for code in dept_codes:
        for kind in use.dept_kinds_consumed:
            spec = _dept_topic(code, kind)
            if not use.dept_kinds_all:
                out.append(_topic(p, spec.name, READ))
            out.append(_topic(p, spec.dlt, WRITE))
    if use.writes_inboxes:
        out += [_topic(p, DEPT_TOPIC_PREFIX, WRITE, PREFIXED), _topic(p, DEPT_TOPIC_PREFIX, CREATE, PREFIXED)]
        # ... but never a department's answers: only that department writes them.
        out += [_topic(p, t.department_answers(code).name, WRITE, LITERAL, DENY) for code in dept_codes]
    if use.writes_dept_replies:
        # A prefix, so a department added to the directory never stalls the replies; but never a
        # department's answers (only that department writes them) nor its inbox (routing's).
        out.append(_topic(p, DEPT_TOPIC_PREFIX, WRITE, PREFIXED))
        out += [_topic(p, spec.name, WRITE, LITERAL, DENY) for code in dept_codes
                for spec in (t.department_answers(code), t.department_inbox(code))]
    return out


def department_acls(dept_code: str) -> list[Acl]:
    """A department's system: its own inbox (read), its own answers (write), the replies copied to
    it (read), its own groups."""
    p = department_principal(dept_code)
    return [
        _topic(p, t.department_inbox(dept_code).name, READ),
        _topic(p, t.department_answers(dept_code).name, WRITE),
        _topic(p, t.department_replies(dept_code).name, READ),
        Acl(user(p), GROUP, p, LITERAL, READ),
        Acl(user(p), GROUP, f"{p}.", PREFIXED, READ),
    ]


def peer_acls(peers: Iterable[str] | None = None) -> list[Acl]:
    """What another namespace on the bus (``GONGKAI_BUS_AGENCIES``) may do here: its routing hands
    cases to this namespace's agencies by writing our referrals topic (Art. 36(5)); nothing else."""
    peers = t.peer_namespaces() if peers is None else peers
    return [_topic(t.scoped_in(ns, "svc-routing"), t.CASES_REFERRED.name, WRITE) for ns in sorted(set(peers))]


def acls(dept_codes: Iterable[str]) -> list[Acl]:
    """Every ACL of a deployment whose departments are ``dept_codes`` (sorted, no duplicates)."""
    codes = sorted(set(dept_codes))
    out = {a for s in SERVICES for a in service_acls(s, codes)}
    out |= {a for c in codes for a in department_acls(c)}
    out |= set(peer_acls())
    return sorted(out)


# -------------------------------------------------------------------------------- evaluation
def allowed(table: Iterable[Acl], principal_name: str, operation: str, resource_type: str, name: str,
            super_users: Sequence[str] = SUPER_USERS) -> bool:
    """Would the broker (StandardAuthorizer, allow.everyone.if.no.acl.found=false) allow it?"""
    if principal_name in super_users:
        return True
    matching = [a for a in table if a.principal in (user(principal_name), "User:*") and a.matches(resource_type, name)]
    if any(a.permission == DENY and a.operation in (operation, ALL) for a in matching):
        return False
    implied = _IMPLY_DESCRIBE if operation == DESCRIBE else {operation, ALL}
    return any(a.permission == ALLOW and a.operation in implied for a in matching)
