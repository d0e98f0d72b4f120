"""Every procedural step produces its document (issue #11): rendered when the step happens, stored
with the case, named in the ledger, carried by the applicant's notice.

The reply service owns the document set (``services/reply/documents``: one template per kind, never
duplicated elsewhere), so it renders the documents of the steps other services take as well as its
own: it consumes each step's event and renders the document of that event, once.

=========================  ==========================  ==========================================
step event (topic)         emitted by                  document (``ProceduralKind``)
=========================  ==========================  ==========================================
application.received       intake                      acceptance_receipt 受理回执
correction.requested       reply (clock)               correction_notice 补正申请告知书
extension.approved         reply (clock)               extension_notice 延期答复告知书
consultation.started       reply (clock)               consultation_third_party / consultation_agency 征求意见函
referral.recorded          routing                     referral_notice 非本机关负责公开告知书
application.abandoned      reply (clock)               abandonment_notice 视为放弃申请告知书 (either reason)
fee.notice.issued          intake                      fee_notice 收费通知
reply.issued / .amended    reply (cases.py)            consolidated_reply 答复书 and each amendment
=========================  ==========================  ==========================================

The clock's events are read back from the bus like any consumer's (the clock is not touched).

**Personal data.** The applicant's name (or organisation, with its contact person) and postal
address reach this service only on the restricted ``gongkai.private.contacts`` topic (ACL: read by
notify and reply only, written by intake). They are kept in the ``applicants`` collection, read
only here (and by ``cases.py`` for the reply), and go only into the documents (PDF/HTML bytes). No
event carries them: the ``document.issued`` event (shared, audited) names the document and fixes
its SHA-256 and size. The address is printed only when the applicant asked for delivery by post
(``application.received``'s ``delivery_method`` ``post``, noted in ``applications``): every document
addressed to them then gives its 送达地址 and 邮政编码 in the 附注 (``mailing_of``).

**Abandonment.** ``application.abandoned`` has two reasons, one notice: ``correction_overdue`` (Art.
30: the correction notice's date and deadline) and ``fee_unpaid`` (Art. 42, 国办函〔2020〕109号: the
fee notice's date, its amount from the fee notice's record, and the payment deadline).

**Storage and idempotency.** One record per document in ``documents`` (``_id`` =
``contracts.events_documents.step_document_id(step event id)``, so a redelivered event finds it and
notify knows which document its notice carries). It is created ``pending`` with the step's facts;
rendering needs the case (from ``case.routed``: tracking number, agency, date of receipt) and, for
documents addressed to the applicant, the contact; what is missing is waited for (the consumers
call ``render_case`` when it arrives; the sweep retries). The rendered bytes, the SHA-256 and the
``document.issued`` event go in one conditional write (``pending`` -> ``issued``, and the record's
``rev`` unchanged since it was read: ``servicekit.versioned``), so two renders racing cannot store
bytes that differ from the hash in the ledger. A document addressed to an
applicant whose contact never arrives (a case referred in from another agency: the contact stays
there) is rendered after ``REPLY_CONTACT_PATIENCE_SECONDS`` addressed to "申请人".
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from bson import Binary
from pydantic import BaseModel
from pymongo.asynchronous.database import AsyncDatabase

from contracts import topics
from contracts.envelope import CloudEvent, deterministic_id, new_event
from contracts.events import ApplicationReceived, ContactRegistered
from contracts.events_documents import DocumentIssued, step_document_id
from contracts.events_procedure import (
    ApplicationAbandoned,
    ConsultationStarted,
    CorrectionRequested,
    ExtensionApproved,
    FeeNoticeIssued,
)
from contracts.events_routing import ReferralRecorded
from contracts.vocabulary import ApplicantType, Channel, DeliveryMethod
from services.reply.clock.calendar import CalendarMissing, WorkCalendar, default_calendar
from services.reply.clock.clock import History, compute
from services.reply.documents import DOCUMENTS, ProceduralKind
from services.reply.documents import models as m
from services.reply.reply_docs import APPLICANT, AgencyInfo, render
from servicekit import outbox
from servicekit.querycode import query_code
from servicekit.versioned import Change, Versioned

CHINA = ZoneInfo("Asia/Shanghai")
log = structlog.get_logger()
P = ProceduralKind
PENDING, ISSUED = "pending", "issued"
MAX_BYTES = 15 * 1024 * 1024
# Documents not addressed to the applicant (letters to the party consulted): no contact needed.
TO_PARTY = {P.CONSULTATION_THIRD_PARTY: "third_party", P.CONSULTATION_AGENCY: "other_agency"}
# Consolidated replies and amendments are stored by services.reply.cases in the same collection.
REPLY_KINDS = {"reply": "consolidated_reply", "amendment": "reply_amendment"}
FEE_METHODS = {"per_application": m.FeeMethod.BY_COUNT, "per_page": m.FeeMethod.BY_VOLUME}


def china_day(at: datetime) -> date:
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(CHINA).date()


def add_workdays(cal: WorkCalendar, start: date, n: int) -> date:
    """The n-th working day after ``start`` (a year without calendar data: weekends only)."""
    day, left = start, n
    while left:
        day += timedelta(days=1)
        try:
            work = cal.is_workday(day)
        except CalendarMissing:
            work = cal.classify_provisional(day).is_workday
        left -= 1 if work else 0
    return day


def addressee_name(applicant: dict[str, Any] | None) -> str:
    """How the documents address the applicant: the person, or the organisation (with its contact person)."""
    if not applicant or not applicant.get("name"):
        return APPLICANT
    name = str(applicant["name"]).strip()
    person = (applicant.get("contact_person") or "").strip()
    org = applicant.get("applicant_type") not in (None, ApplicantType.NATURAL_PERSON.value)
    return f"{name}（联系人：{person}）" if org and person else name


def mailing_of(applicant: dict[str, Any] | None, application: dict[str, Any] | None) -> m.Mailing | None:
    """Where the documents go by post: only for an applicant who asked for delivery by post (邮寄) and
    gave an address (intake requires one for post); None otherwise (nothing postal is printed)."""
    if (application or {}).get("delivery_method") != DeliveryMethod.POST.value:
        return None
    address = str((applicant or {}).get("address") or "").strip()
    if not address:
        return None
    postcode = str((applicant or {}).get("postcode") or "").strip()
    return m.Mailing(address=address, postcode=postcode if re.fullmatch(r"\d{6}", postcode) else None)


def step_of(event: CloudEvent[Any]) -> tuple[ProceduralKind, dict[str, Any]] | None:
    """The document of a step event, and the step's facts it prints (JSON-able); None: no document."""
    d = event.data
    day = china_day(event.time) if event.time else None
    if isinstance(d, ApplicationReceived):
        return P.ACCEPTANCE_RECEIPT, {"channel": d.channel.value, "received_on": d.received_on.isoformat(),
                                      "issued_on": max(china_day(d.accepted_at), d.received_on).isoformat(),
                                      "description": d.description, "tracking_number": d.tracking_number}
    if isinstance(d, CorrectionRequested):
        return P.CORRECTION_NOTICE, {"items": list(d.items), "due_on": d.due_on.isoformat(),
                                     "issued_on": d.issued_on.isoformat()}
    if isinstance(d, ExtensionApproved):
        return P.EXTENSION_NOTICE, {"old_due_on": d.old_due_on.isoformat(), "new_due_on": d.new_due_on.isoformat(),
                                    "workdays": d.workdays, "reason": d.reason, "issued_on": d.approved_on.isoformat()}
    if isinstance(d, ConsultationStarted):
        kind = P.CONSULTATION_THIRD_PARTY if d.party_kind == "third_party" else P.CONSULTATION_AGENCY
        return kind, {"party": d.party, "due_on": d.consultation_due.isoformat(), "issued_on": d.sent_on.isoformat(),
                      "number": d.number}
    if isinstance(d, ReferralRecorded):
        return P.REFERRAL_NOTICE, {"agency_name": d.target_agency_name,
                                   "address": d.target_contact.address or "（未登记）",
                                   "phone": d.target_contact.phone or "（未登记）", "forwarded": d.handed_over,
                                   "part": d.part, "whole_case": d.whole_case,
                                   "issued_on": (day or date.today()).isoformat()}
    if isinstance(d, ApplicationAbandoned):
        facts = {"reason": d.reason, "correction_due": d.correction_due.isoformat(),
                 "issued_on": d.abandoned_on.isoformat()}
        if d.reason == "fee_unpaid":  # correction_due is then the payment's deadline
            facts |= {"fee_notice_issued_on": d.fee_notice_issued_on.isoformat() if d.fee_notice_issued_on else None,
                      "payment_due": (d.payment_due or d.correction_due).isoformat()}
        return P.ABANDONMENT_NOTICE, facts
    if isinstance(d, FeeNoticeIssued):
        if d.amount_yuan <= 0:
            return None
        return P.FEE_NOTICE, {"method": d.method, "amount_yuan": d.amount_yuan, "month": d.month,
                              "rank_in_month": d.rank_in_month, "pages": d.pages,
                              "payment_workdays": d.payment_workdays, "issued_on": d.issued_on.isoformat()}
    return None


class StepDocuments:
    def __init__(self, db: AsyncDatabase, source: str, agency: AgencyInfo, *, query_code_secret: str = "",
                 calendar: Callable[[], WorkCalendar] | None = None, enabled: bool = True,
                 contact_patience: timedelta = timedelta(minutes=10), payment_method: str = "") -> None:
        self.documents = db["documents"]
        # A step document's one change (pending -> issued, with document.issued): conditional on its ``rev``.
        self.versioned = Versioned(self.documents, rev_field="rev")
        self.applicants = db["applicants"]  # private: only for rendering (module docstring)
        self.cases = db["cases"]
        self.applications = db["applications"]
        self.source, self.agency, self.secret = source, agency, query_code_secret
        self.calendar = calendar
        self.enabled = enabled
        self.contact_patience = contact_patience
        self.payment_method = payment_method or "请持本通知到本机关政府信息公开工作机构缴纳，或按本机关告知的账户转账缴纳"

    async def setup(self) -> None:
        await self.documents.create_index([("case_id", 1), ("status", 1)])
        await self.documents.create_index("status")  # the sweep's pending ones
        await outbox.ensure_indexes(self.documents)

    # -- inputs ---------------------------------------------------------------------------------

    async def save_applicant(self, c: ContactRegistered) -> None:
        await self.applicants.update_one({"_id": c.case_id}, {"$set": {
            "name": c.name, "applicant_type": c.applicant_type.value if c.applicant_type else None,
            "contact_person": c.contact_person, "address": c.address, "postcode": c.postcode,
            "phone": c.phone}}, upsert=True)  # phone: the address label of a postal dispatch only

    async def applicant_name(self, case_id: str) -> str:
        return addressee_name(await self.applicants.find_one({"_id": case_id}))

    async def on_step(self, event: CloudEvent[Any]) -> str | None:
        """Note the step's document (once per event) and render it if it can be now."""
        if not self.enabled:
            return None
        step = step_of(event)
        if step is None:
            return None
        kind, facts = step
        document_id = step_document_id(event.id)
        doc = {"_id": document_id, "case_id": event.data.case_id, "doc_type": kind.value,
               "kind": kind.value, "title": DOCUMENTS[kind.value].title, "status": PENDING,
               "addressee": TO_PARTY.get(kind, "applicant"), "step_event_id": event.id, "step_type": event.type,
               "facts": facts, "created_at": datetime.now(UTC)}
        await self.versioned.insert(doc)  # False: noted before (a redelivery)
        return await self.render_one(document_id)

    async def render_case(self, case_id: str) -> int:
        """Render what of the case was waiting (its case or contact arrived)."""
        n = 0
        async for d in self.documents.find({"case_id": case_id, "status": PENDING}, {"_id": 1}):
            n += await self.render_one(d["_id"]) == ISSUED
        return n

    async def sweep(self) -> int:
        n = 0
        async for d in self.documents.find({"status": PENDING}, {"_id": 1}).limit(200):
            try:
                n += await self.render_one(d["_id"]) == ISSUED
            except Exception as exc:  # noqa: BLE001 - one document failing does not stop the others
                log.warning("step_document_failed", document_id=d["_id"], error=repr(exc))
        return n

    # -- rendering ------------------------------------------------------------------------------

    async def render_one(self, document_id: str) -> str:
        doc = await self.documents.find_one({"_id": document_id}, {"outbox": 0, "pdf": 0, "html": 0})
        if doc is None or doc.get("status") != PENDING:
            return ISSUED if doc else "unknown"
        case = await self.cases.find_one({"_id": doc["case_id"]}, {"outbox": 0})
        facts = doc.get("facts") or {}
        if case is None and doc["kind"] == P.ACCEPTANCE_RECEIPT and facts.get("tracking_number"):
            # The receipt is due when the application is received, not when it is routed (a case in
            # the OGI office's triage is routed later): its event carries what it prints.
            case = {"_id": doc["case_id"], "tracking_number": facts["tracking_number"],
                    "received_on": facts["received_on"]}
        if case is None:
            return "awaiting_case"  # case.routed not seen yet (tracking number, agency, receipt date)
        applicant = await self.applicants.find_one({"_id": doc["case_id"]})
        if doc["addressee"] == "applicant" and applicant is None:
            created = doc["created_at"] if doc["created_at"].tzinfo else doc["created_at"].replace(tzinfo=UTC)
            if datetime.now(UTC) - created < self.contact_patience:
                return "awaiting_contact"
            log.warning("step_document_without_contact", case_id=doc["case_id"], kind=doc["kind"])
        kind = ProceduralKind(doc["kind"])
        context = await self.context(kind, doc["facts"], case, applicant)
        if context is None:
            await self.documents.update_one({"_id": document_id, "status": PENDING}, {"$set": {"status": "skipped"}})
            return "skipped"
        rendered = await render(context, kind.value)
        if len(rendered.pdf) + len(rendered.html.encode()) > MAX_BYTES:
            raise ValueError(f"document {document_id} too large to store")
        sha = hashlib.sha256(rendered.pdf).hexdigest()
        seq = 1 + await self.documents.count_documents(
            {"case_id": doc["case_id"], "kind": kind.value, "status": ISSUED})
        issued_on = date.fromisoformat(getattr(context, "issued_on").isoformat())
        event = new_event(
            DocumentIssued(case_id=doc["case_id"], tracking_number=case["tracking_number"], document_id=document_id,
                           kind=kind.value, title=rendered.title, seq=seq, addressee=doc["addressee"],
                           issued_on=issued_on, step_event_id=doc["step_event_id"], step_type=doc["step_type"],
                           sha256=sha, size=len(rendered.pdf)),
            source=self.source, subject=doc["case_id"], event_id=deterministic_id("document.issued", document_id),
            causation_id=doc["step_event_id"], time=datetime.now(UTC))
        change = Change(
            set={"status": ISSUED, "html": rendered.html, "pdf": Binary(rendered.pdf), "pdf_bytes": len(rendered.pdf),
                 "sha256": sha, "seq": seq, "issued_on": issued_on.isoformat(), "event_id": event.id,
                 "issued_at": datetime.now(UTC)},
            records=[outbox.record(topics.DOCUMENTS_ISSUED.name, event)])
        if await self.versioned.write(doc, change, {"status": PENDING}):
            log.info("step_document_issued", case_id=doc["case_id"], kind=kind.value, bytes=len(rendered.pdf))
        return ISSUED

    def _calendar(self) -> WorkCalendar:
        return self.calendar() if self.calendar is not None else default_calendar()

    def _agency(self, case: dict[str, Any]) -> m.Agency:
        a = self.agency
        return m.Agency(name=case.get("agency_name") or a.name or a.office, office=a.office,
                        contact=m.Contact(address=a.address, phone=a.phone))

    async def context(self, kind: ProceduralKind, f: dict[str, Any], case: dict[str, Any],
                      applicant: dict[str, Any] | None) -> BaseModel | None:
        received_on = date.fromisoformat(case["received_on"])
        issued_on = max(date.fromisoformat(f["issued_on"]), received_on)
        app = await self.applications.find_one({"_id": case["_id"]}) or {}
        summary = app.get("description") or f.get("description") or "（见政府信息公开申请表）"
        common: dict[str, Any] = {"case_number": case["tracking_number"], "agency": self._agency(case),
                                  "received_on": received_on, "issued_on": issued_on}
        to_applicant = {**common, "applicant_name": addressee_name(applicant), "request_summary": summary,
                        "mailing": mailing_of(applicant, app)}
        remedies = {"remedies": m.Remedies(review_body=self.agency.review_body)}
        if kind is P.ACCEPTANCE_RECEIPT:
            channel = Channel(f["channel"])
            due = None
            if self.calendar is not None:
                due = compute(History(received_on=received_on, channel=channel), self.calendar(), issued_on).due_on
            due = due or add_workdays(self._calendar(), received_on, 20)
            return m.AcceptanceReceipt(**to_applicant, channel=channel, reply_due_on=due,
                                       query_code=query_code(self.secret, case["_id"]) if self.secret else None)
        if kind is P.CORRECTION_NOTICE:
            return m.CorrectionNotice(**to_applicant, items=f["items"], correction_due_on=date.fromisoformat(f["due_on"]))
        if kind is P.EXTENSION_NOTICE:
            return m.ExtensionNotice(**to_applicant, original_due_on=date.fromisoformat(f["old_due_on"]),
                                     extended_due_on=date.fromisoformat(f["new_due_on"]),
                                     extension_working_days=f["workdays"], reason=f["reason"])
        if kind in TO_PARTY:
            model = m.ThirdPartyConsultation if kind is P.CONSULTATION_THIRD_PARTY else m.AgencyConsultation
            return model(**common, addressee=f["party"], request_summary=summary,
                         reply_due_on=date.fromisoformat(f["due_on"]))
        if kind is P.REFERRAL_NOTICE:
            return m.ReferralNotice(**to_applicant, **remedies, forwarded=bool(f["forwarded"]),
                                    responsible_agency=m.ResponsibleAgency(
                                        name=f["agency_name"], contact=m.Contact(address=f["address"], phone=f["phone"])))
        if kind is P.ABANDONMENT_NOTICE:
            from services.reply.clock.service import CLOCKS, ClockService  # the case's procedural history

            clock = await self.cases.database[CLOCKS].find_one({"_id": case["_id"]}, {"outbox": 0})
            history = ClockService.history_of(clock) if clock and clock.get("procedure") else None
            if f.get("reason") == "fee_unpaid":
                return await self._fee_abandonment(case["_id"], f, history, {**to_applicant, **remedies})
            correction = history.correction if history is not None else None
            notice_on = correction.issued_on if correction is not None else None
            if notice_on is None:  # the clock's history has it; else the correction notice's own record
                notice = await self.documents.find_one({"case_id": case["_id"], "kind": P.CORRECTION_NOTICE.value})
                notice_on = date.fromisoformat(notice["facts"]["issued_on"]) if notice else None
            if notice_on is None:
                return None
            return m.AbandonmentNotice(**to_applicant, **remedies, reason=m.AbandonReason.CORRECTION_OVERDUE,
                                       correction_notice_issued_on=notice_on,
                                       correction_due_on=date.fromisoformat(f["correction_due"]))
        if kind is P.FEE_NOTICE:
            amount = Decimal(f["amount_yuan"]).quantize(Decimal("0.01"))
            if f["method"] == "per_page":
                label = f"按页计收：本申请提供信息共{f.get('pages') or 0}页"
            else:
                label = f"按件计收：{f.get('month') or ''}本月第{f.get('rank_in_month') or ''}件申请"
            cal = self._calendar()
            return m.FeeNotice(**to_applicant, **remedies, method=FEE_METHODS[f["method"]],
                               lines=[m.FeeLine(label=label, amount=amount)], total=amount,
                               payment_due_on=add_workdays(cal, issued_on, int(f.get("payment_workdays") or 20)),
                               payment_method=self.payment_method)
        return None

    async def _fee_abandonment(self, case_id: str, f: dict[str, Any], history: History | None,
                               fields: dict[str, Any]) -> m.AbandonmentNotice | None:
        """视为放弃 for an unpaid fee: the fee notice's date (the event's; else the clock's), the
        payment deadline, and the amount of that fee notice (its document's record; else the clock's)."""
        fee = history.fee if history is not None else None
        notice_on = f.get("fee_notice_issued_on") or (fee.issued_on.isoformat() if fee is not None else None)
        if notice_on is None:
            return None
        total = None
        async for n in self.documents.find({"case_id": case_id, "kind": P.FEE_NOTICE.value},
                                           {"facts": 1}).sort("created_at", -1):
            if (n.get("facts") or {}).get("issued_on") == notice_on and n["facts"].get("amount_yuan"):
                total = Decimal(n["facts"]["amount_yuan"])
                break
        if total is None and fee is not None and fee.issued_on.isoformat() == notice_on and fee.amount_yuan > 0:
            total = Decimal(fee.amount_yuan)
        return m.AbandonmentNotice(**fields, reason=m.AbandonReason.FEE_UNPAID,
                                   fee_notice_issued_on=date.fromisoformat(notice_on),
                                   payment_due_on=date.fromisoformat(f.get("payment_due") or f["correction_due"]),
                                   fee_total=total.quantize(Decimal("0.01")) if total is not None else None)

    # -- reading --------------------------------------------------------------------------------

    async def case_documents(self, case_id: str) -> list[dict[str, Any]]:
        """Every issued document of the case (steps, the reply, its amendments), oldest first, without bytes."""
        out = []
        cursor = self.documents.find({"case_id": case_id}, {"pdf": 0, "html": 0, "outbox": 0, "facts": 0})
        case = await self.cases.find_one({"_id": case_id}, {"reply": 1, "amendments": 1, "reply_issued": 1}) or {}
        released = set()
        if case.get("reply_issued") and case.get("reply"):
            released.add(case["reply"].get("document_id"))
        released |= {a.get("document_id") for a in case.get("amendments") or []}
        async for d in cursor:
            if d.get("status") == ISSUED or (d.get("kind") in REPLY_KINDS and d["_id"] in released):
                out.append(public_meta(d))
        return sorted(out, key=lambda d: d["issued_at"] or "")

    async def pdf(self, document_id: str) -> dict[str, Any] | None:
        d = await self.documents.find_one({"_id": document_id}, {"outbox": 0})
        if d is None or not d.get("pdf") or (d.get("status") not in (None, ISSUED)):
            return None
        return d


def public_meta(d: dict[str, Any]) -> dict[str, Any]:
    kind = REPLY_KINDS.get(d.get("kind", ""), d.get("kind"))
    at = d.get("issued_at") or d.get("created_at")
    return {"document_id": d["_id"], "kind": kind, "title": d.get("title"), "seq": d.get("seq", 1),
            "sha256": d.get("sha256"), "size": d.get("pdf_bytes"), "issued_on": d.get("issued_on"),
            "issued_at": at.isoformat() if isinstance(at, datetime) else at,
            "addressee": d.get("addressee", "applicant")}


def pdf_filename(d: dict[str, Any], tracking_number: str) -> str:
    title = d.get("title") or "文书"
    seq = d.get("seq", 1)
    return f"{title}-{tracking_number}" + (f"-{seq}" if seq and seq > 1 else "") + ".pdf"
