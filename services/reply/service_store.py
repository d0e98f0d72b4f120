"""The service (送达) of the documents addressed to the applicant, recorded and published (issue #17).

Collection ``service``: one document per case, ``{_id: case_id, tracking_number, rev, facts: [...],
dispatches: [...], handovers: [...], outbox...}``, changed only by single-document writes
conditional on ``rev`` with their events (``servicekit.versioned``), published by the service's
outbox relay on ``gongkai.documents.served``:

- ``facts``: every service fact (``service.ServiceFact`` as a dict, with the notice, dispatch or
  handover it came from and who recorded it); one per document, channel and source, so a
  redelivered ``notice.delivered`` or a second download changes nothing. Whether it ``counts``
  (an e-mail or text on a case whose delivery_method is post or pickup does not, with its
  ``note``) is decided when it is recorded (``service.counting``), and its date is never before
  the document's issue (``service.not_before_issue``). Each new fact that counts publishes
  ``document.served`` (event id from the document, the channel and the fact's source).
- ``dispatches``: the postal dispatches (邮寄) with their parcel number (kept here only: the topic
  carries the carrier and the date), their outcome (signed for / returned: the reason, a
  ``ReturnReason`` code, on the topic; the officer's ``note`` here only) and who recorded it.
- ``handovers``: the documents handed over at the window (直接送达), signed for by the recipient;
  the same documents, day and recipient again is the handover recorded before.

Only documents addressed to the applicant, issued (a reply or amendment: released) are served.
Where the facts come from: notify's ``notice.delivered`` v2 (its ``document_id``; channel email or
sms, not webhook), the applicant's public reads after the release (the reply PDF, a document's
PDF, the status page), and the OGI office's records (``service_http.py``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from pymongo.asynchronous.database import AsyncDatabase

from contracts import topics
from contracts.envelope import EventData, deterministic_id, new_event
from contracts.events import NoticeDeliveredV2
from contracts.events_documents import DocumentDispatched, DocumentReturned, DocumentServed
from contracts.vocabulary import RETURN_REASON_LABELS, NoticeChannel, ReturnReason, ServiceChannel
from services.reply.clock.calendar import WorkCalendar
from services.reply.documents import DOCUMENTS
from services.reply.service import (
    REPLY_KINDS,
    ServiceFact,
    ServiceRefused,
    channel_label,
    check_documents,
    check_recorded_on,
    counting,
    date_of_service,
    dispatch_outcome,
    is_new_fact,
    not_before_issue,
    published,
    remedies_json,
    remedy_deadlines,
)
from servicekit import outbox
from servicekit.oidc import Principal
from servicekit.versioned import Change, Conflict, Versioned

CHINA = ZoneInfo("Asia/Shanghai")
log = structlog.get_logger()
NOTICE_CHANNELS = {NoticeChannel.EMAIL: ServiceChannel.EMAIL, NoticeChannel.SMS: ServiceChannel.SMS}
BASIS = {
    ServiceChannel.EMAIL: "申请人的邮件服务器已接收（发送服务器确认）",
    ServiceChannel.SMS: "运营商送达回执（DELIVRD）",
    ServiceChannel.POST: "邮寄送达，签收日期由经办人依邮件签收记录登记",
    ServiceChannel.WINDOW: "当面交付，受送达人在送达回证上签名",
}
ONLINE_BASIS = {"pdf": "答复发布后申请人下载了答复书", "document": "发布后申请人下载了该文书",
                "status_page": "答复发布后申请人打开了查询页面"}


def china_day(at: datetime) -> date:
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(CHINA).date()


def china_midnight(day: date) -> datetime:
    """A date recorded by hand as a moment: midnight China time (the contract's rule)."""
    return datetime.combine(day, time(0), tzinfo=CHINA).astimezone(UTC)


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def fact_of(d: dict[str, Any]) -> ServiceFact:
    """A stored fact; one recorded before ``counts`` existed counted (and was published)."""
    return ServiceFact(document_id=d["document_id"], channel=ServiceChannel(d["channel"]),
                       served_at=_aware(d["served_at"]), served_on=date.fromisoformat(d["served_on"]),
                       basis=d["basis"], source=d["source"], counts=d.get("counts", True), note=d.get("note"))


def _moment(v: Any) -> datetime | None:  # noqa: ANN401
    if isinstance(v, datetime):
        return _aware(v)
    return _aware(datetime.fromisoformat(v)) if isinstance(v, str) and v else None


def issue_bound(doc: dict[str, Any], released_at: datetime | None) -> dict[str, Any]:
    """When ``doc`` (stored, or ``servable``'s entry) began to exist for the applicant: its
    release for the reply and its amendments (``released_at``), else its issue; and that day in
    China (never before the date it bears). The earliest a fact of it may be dated."""
    at = released_at or _moment(doc.get("issued_at"))
    days = [china_day(at)] if at is not None else []
    if doc.get("issued_on"):
        days.append(date.fromisoformat(str(doc["issued_on"])))
    return {"issued_at": at, "issued_on": max(days) if days else None}


def challengeable(kind: str) -> bool:
    """A document whose service starts the remedy periods (it prints them): the reply, each
    amendment, the referral, abandonment and fee notices."""
    if kind in REPLY_KINDS:
        return True
    k = DOCUMENTS.get(kind)
    return bool(k and k.remedies)


class ServiceStore:
    def __init__(self, db: AsyncDatabase, source: str, steps: Any,  # noqa: ANN401 - step_documents.StepDocuments
                 calendar: Callable[[], WorkCalendar], today: Callable[[], date] | None = None) -> None:
        self.docs = db["service"]
        self.versioned = Versioned(self.docs, rev_field="rev")
        self.steps = steps
        self.cases = db["cases"]
        self.documents = db["documents"]
        self.applicants = db["applicants"]  # private (step_documents.py): the PDFs only
        self.applications = db["applications"]
        self.source = source
        self.calendar = calendar
        self.today = today or (lambda: datetime.now(CHINA).date())

    async def setup(self) -> None:
        await outbox.ensure_indexes(self.docs)
        await self.docs.create_index("awaiting_pending")

    # -- reading the case ---------------------------------------------------------------------

    async def servable(self, case_id: str) -> dict[str, dict[str, Any]]:
        """The documents of the case that can be served: addressed to the applicant and issued (a
        reply or amendment: released), by id, oldest first."""
        docs = await self.steps.case_documents(case_id)
        released = await self.released_at(case_id)
        return {d["document_id"]: {**d, "bound": issue_bound(d, released.get(d["document_id"]))}
                for d in docs if d.get("addressee", "applicant") == "applicant"}

    async def released_at(self, case_id: str) -> dict[str, datetime]:
        """The release of the reply and of each amendment, by document id."""
        case = await self.cases.find_one({"_id": case_id}, {"reply.document_id": 1, "reply.issued_at": 1,
                                                            "reply_issued": 1, "amendments.document_id": 1,
                                                            "amendments.issued_at": 1}) or {}
        out: dict[str, datetime] = {}
        releases = [case.get("reply") or {}] if case.get("reply_issued") else []
        for r in [*releases, *(case.get("amendments") or [])]:
            if r.get("document_id") and isinstance(r.get("issued_at"), datetime):
                out[r["document_id"]] = _aware(r["issued_at"])
        return out

    async def delivery_method(self, case_id: str) -> str | None:
        """The applicant's chosen way of obtaining the information (the consent to electronic service)."""
        app = await self.applications.find_one({"_id": case_id}, {"delivery_method": 1}) or {}
        return app.get("delivery_method")

    async def tracking_number(self, case_id: str) -> str | None:
        case = await self.cases.find_one({"_id": case_id}, {"tracking_number": 1})
        return case["tracking_number"] if case else None

    # -- the one write ------------------------------------------------------------------------

    async def _update(self, case_id: str, tracking_number: str,
                      change: Callable[[dict[str, Any]], tuple[dict[str, Any], list[Any], Any] | None]) -> Any:  # noqa: ANN401
        """``change(doc) -> (sets, events, result)`` (None: nothing to do) in one write conditional
        on ``rev`` with its events; a lost race is decided again, too many: 409."""
        if await self.versioned.load(case_id, {"_id": 1}) is None:
            await self.versioned.insert({"_id": case_id, "tracking_number": tracking_number, "facts": [],
                                         "dispatches": [], "handovers": []})

        def decide(doc: dict[str, Any] | None) -> Change | None:
            assert doc is not None
            out = change(doc)
            if out is None:
                return None
            sets, events, result = out
            return Change(set=sets, records=[outbox.record(topics.DOCUMENTS_SERVED.name, e) for e in events],
                          result=result if result is not None else True)

        try:
            return await self.versioned.change(case_id, decide, what="service")
        except Conflict:
            raise ServiceRefused(409, "记录冲突，请重试") from None

    def _event(self, data: EventData, case_id: str, event_id: str, at: datetime | None = None) -> Any:  # noqa: ANN401
        return new_event(data, source=self.source, subject=case_id, event_id=event_id, time=at or datetime.now(UTC))

    def _served_changes(self, doc: dict[str, Any], tracking_number: str, new: list[tuple[ServiceFact, dict[str, Any]]],
                        delivery_method: str | None, who: Principal | None = None,
                        ) -> tuple[list[dict[str, Any]], list[Any]]:
        """The facts not recorded yet, each dated no earlier than its document's issue (``extra``'s
        ``bound``) and counting or not by the case's delivery_method, and a ``document.served`` for
        each new one that counts."""
        facts = [fact_of(f) for f in doc.get("facts") or []]
        stored, events = [], []
        now = datetime.now(UTC)
        for fact, extra in new:
            if not is_new_fact(facts, fact):
                continue
            bound = extra.get("bound") or {}
            counts, note = counting(fact.channel, delivery_method)
            fact = replace(not_before_issue(fact, bound.get("issued_at"), bound.get("issued_on")),
                           counts=counts, note=note)
            if published(facts, fact):
                events.append(self._event(DocumentServed(
                    case_id=doc["_id"], tracking_number=tracking_number, document_id=fact.document_id,
                    document_kind=extra["kind"], channel=fact.channel, served_at=fact.served_at,
                    served_on=fact.served_on, basis=fact.basis, notice_id=extra.get("notice_id"),
                    dispatch_id=extra.get("dispatch_id"), recorded_by=who.display if who else None,
                    recorded_by_subject=who.subject if who else None),
                    doc["_id"], deterministic_id("document.served", fact.document_id, fact.channel.value, fact.source)))
            facts.append(fact)
            stored.append({"document_id": fact.document_id, "channel": fact.channel.value, "served_at": fact.served_at,
                           "served_on": fact.served_on.isoformat(), "basis": fact.basis, "source": fact.source,
                           "counts": fact.counts, "note": fact.note,
                           "kind": extra["kind"], "notice_id": extra.get("notice_id"),
                           "dispatch_id": extra.get("dispatch_id"), "handover_id": extra.get("handover_id"),
                           "recorded_by": who.display if who else None,
                           "recorded_by_subject": who.subject if who else None, "recorded_at": now})
        return stored, events

    # -- facts from the bus and the public reads -----------------------------------------------

    async def on_delivered(self, data: NoticeDeliveredV2) -> bool:
        """notify told the applicant by e-mail or text, carrying (or pointing to) a document: served
        by that channel at ``delivered_at``. False: nothing new (a redelivery; a webhook; no document;
        a document that is not the applicant's)."""
        channel = NOTICE_CHANNELS.get(NoticeChannel(data.channel))
        if channel is None or not data.document_id:
            return False
        d = await self.documents.find_one({"_id": data.document_id}, {"pdf": 0, "html": 0, "outbox": 0})
        if d is None or d.get("status") not in ("issued", None):
            # Not issued here yet: notify and this service read the step's event independently, and
            # a text can be delivered before the document is rendered. Kept, and matched by the sweep.
            await self._await(data)
            return False
        if d.get("case_id") != data.case_id or d.get("addressee", "applicant") != "applicant":
            log.warning("service_fact_ignored", reason="not_the_applicants_document", notice_id=data.notice_id)
            return False
        kind = {"reply": "consolidated_reply", "amendment": "reply_amendment"}.get(d.get("kind", ""), d.get("kind"))
        number = await self.tracking_number(data.case_id) or (d.get("facts") or {}).get("tracking_number") or ""
        at = _aware(data.delivered_at)
        fact = ServiceFact(document_id=d["_id"], channel=channel, served_at=at, served_on=china_day(at),
                           basis=BASIS[channel], source=f"notice:{data.notice_id}")
        # Delivered before the document was issued (kept by ``_await``): served when it was.
        released = (await self.released_at(data.case_id)).get(d["_id"]) if kind in REPLY_KINDS else None
        return await self._record(data.case_id, number, [(fact, {"kind": kind, "notice_id": data.notice_id,
                                                                 "bound": issue_bound(d, released)})])

    async def _await(self, data: NoticeDeliveredV2) -> None:
        entry = {"notice_id": data.notice_id, "document_id": data.document_id, "channel": str(data.channel),
                 "kind": str(data.kind), "attempts": data.attempts, "delivered_at": _aware(data.delivered_at),
                 "noted_at": datetime.now(UTC)}

        def change(doc: dict[str, Any]) -> tuple[dict[str, Any], list[Any], Any] | None:
            waiting = doc.get("awaiting") or []
            if any((w["notice_id"], w["document_id"]) == (data.notice_id, data.document_id) for w in waiting):
                return None
            return {"awaiting": [*waiting, entry], "awaiting_pending": True}, [], True

        await self._update(data.case_id, await self.tracking_number(data.case_id) or "", change)
        log.info("service_fact_awaiting_document", notice_id=data.notice_id, document_id=data.document_id)

    async def sweep(self, patience: timedelta = timedelta(days=1)) -> int:
        """Deliveries of documents not issued when they came: recorded once the document is, dropped
        (logged) after ``patience`` (a document that never is: not one of the applicant's)."""
        n = 0
        async for doc in self.docs.find({"awaiting_pending": True}, {"_id": 1, "awaiting": 1}).limit(200):
            done: list[tuple[str, str]] = []
            for entry in doc.get("awaiting") or []:
                d = await self.documents.find_one({"_id": entry["document_id"]}, {"status": 1})
                if d is not None and d.get("status") in ("issued", None):
                    n += await self.on_delivered(NoticeDeliveredV2(
                        case_id=doc["_id"], notice_id=entry["notice_id"], kind=entry["kind"], channel=entry["channel"],
                        attempts=entry["attempts"], delivered_at=entry["delivered_at"],
                        document_id=entry["document_id"]))
                elif datetime.now(UTC) - _aware(entry["noted_at"]) > patience:
                    log.warning("service_fact_dropped", reason="document_never_issued", notice_id=entry["notice_id"])
                else:
                    continue
                done.append((entry["notice_id"], entry["document_id"]))

            def change(fresh: dict[str, Any], done: list[tuple[str, str]] = done) -> tuple[dict[str, Any], list[Any], Any]:
                left = [w for w in fresh.get("awaiting") or [] if (w["notice_id"], w["document_id"]) not in done]
                return {"awaiting": left, "awaiting_pending": bool(left)}, [], True

            if done:
                await self._update(doc["_id"], "", change)
        return n

    async def on_opened(self, case: dict[str, Any], via: str, document_id: str | None = None) -> bool:
        """The applicant opened, after its release, a document (``document_id``) or the reply
        (``via`` pdf: the reply itself; status_page: every released version of the reply)."""
        servable = await self.servable(case["_id"])
        if document_id is not None:
            ids = [document_id]
        elif via == "pdf":
            ids = [(case.get("reply") or {}).get("document_id")]
        else:
            ids = [i for i, d in servable.items() if d["kind"] in REPLY_KINDS]
        now = datetime.now(UTC)
        new = [(ServiceFact(document_id=i, channel=ServiceChannel.ONLINE, served_at=now, served_on=china_day(now),
                            basis=ONLINE_BASIS[via], source=f"online:{via}"),
                {"kind": servable[i]["kind"], "bound": servable[i]["bound"]})
               for i in ids if i in servable]
        return bool(new) and await self._record(case["_id"], case.get("tracking_number") or "", new)

    async def _record(self, case_id: str, number: str, new: list[tuple[ServiceFact, dict[str, Any]]],
                      who: Principal | None = None) -> bool:
        method = await self.delivery_method(case_id)

        def change(doc: dict[str, Any]) -> tuple[dict[str, Any], list[Any], Any] | None:
            stored, events = self._served_changes(doc, number, new, method, who)
            if not stored:
                return None
            return {"facts": [*(doc.get("facts") or []), *stored]}, events, True

        return bool(await self._update(case_id, number, change))

    # -- the OGI office's records --------------------------------------------------------------

    async def _case(self, case_id: str) -> dict[str, Any]:
        case = await self.cases.find_one({"_id": case_id}, {"outbox": 0})
        if case is None:
            raise ServiceRefused(404, "未找到该案件")
        return case

    async def dispatch(self, case_id: str, document_ids: list[str], carrier: str, parcel: str, sent_on: date,
                       who: Principal) -> tuple[dict[str, Any], bool]:
        """A postal dispatch (邮寄): ``document.dispatched``. The same parcel number again with the
        same documents and date: the dispatch recorded before (False); otherwise 409."""
        case = await self._case(case_id)
        check_recorded_on(sent_on, "sent_on", "寄出日期", self.today())
        servable = await self.servable(case_id)
        check_documents(document_ids, servable, "document_ids", sent_on, "寄出日期", "sent_on")
        number = case["tracking_number"]
        out: list[tuple[dict[str, Any], bool]] = []

        def change(doc: dict[str, Any]) -> tuple[dict[str, Any], list[Any], Any] | None:
            for d in doc.get("dispatches") or []:
                if d["postal_tracking_number"] == parcel:
                    if (d["document_ids"], d["sent_on"], d["carrier"]) == (document_ids, sent_on.isoformat(), carrier):
                        out[:] = [(d, False)]
                        return None
                    raise ServiceRefused(409, f"邮件号 {parcel} 已登记为本案的另一次邮寄")
            dispatch_id = str(uuid.uuid4())
            entry = {"dispatch_id": dispatch_id, "document_ids": list(document_ids), "carrier": carrier,
                     "postal_tracking_number": parcel, "sent_on": sent_on.isoformat(), "status": "sent",
                     "signed_on": None, "signed_by": None, "returned_on": None, "reason": None, "note": None,
                     "recorded_by": who.display, "recorded_by_subject": who.subject,
                     "recorded_at": datetime.now(UTC), "outcome_recorded_by": None}
            event = self._event(DocumentDispatched(
                case_id=case_id, tracking_number=number, dispatch_id=dispatch_id, document_ids=list(document_ids),
                carrier=carrier, sent_on=sent_on, recorded_by=who.display, recorded_by_subject=who.subject),
                case_id, deterministic_id("document.dispatched", dispatch_id))
            out[:] = [(entry, True)]
            return {"dispatches": [*(doc.get("dispatches") or []), entry]}, [event], True

        await self._update(case_id, number, change)
        return out[0]

    async def dispatch_outcome(self, case_id: str, dispatch_id: str, outcome: str, on: date,
                               detail: dict[str, Any], who: Principal) -> tuple[dict[str, Any], bool]:
        """Signed for (served by post, each document) or returned (``document.returned``)."""
        case = await self._case(case_id)
        number = case["tracking_number"]
        today = self.today()
        servable = await self.servable(case_id)
        method = await self.delivery_method(case_id)
        out: list[tuple[dict[str, Any], bool]] = []

        def change(doc: dict[str, Any]) -> tuple[dict[str, Any], list[Any], Any] | None:
            dispatches = list(doc.get("dispatches") or [])
            i = next((n for n, d in enumerate(dispatches) if d["dispatch_id"] == dispatch_id), None)
            if i is None:
                raise ServiceRefused(404, "未找到该邮寄记录")
            d = dispatches[i]
            if not dispatch_outcome(d, outcome, on, detail, today):
                out[:] = [(d, False)]
                return None
            field = "signed_on" if outcome == "signed" else "returned_on"
            updated = {**d, "status": outcome, field: on.isoformat(), **detail, "outcome_recorded_by": who.display,
                       "outcome_recorded_by_subject": who.subject, "outcome_recorded_at": datetime.now(UTC)}
            dispatches[i] = updated
            out[:] = [(updated, True)]
            sets: dict[str, Any] = {"dispatches": dispatches}
            if outcome == "returned":  # the reason's code on the topic, the officer's note here only
                events = [self._event(DocumentReturned(
                    case_id=case_id, tracking_number=number, dispatch_id=dispatch_id, document_ids=d["document_ids"],
                    returned_on=on, reason=ReturnReason(detail["reason"]), recorded_by=who.display,
                    recorded_by_subject=who.subject),
                    case_id, deterministic_id("document.returned", dispatch_id))]
                return sets, events, True
            # The signer's name stays in the dispatch (the topic carries no personal data).
            new = [(ServiceFact(document_id=x, channel=ServiceChannel.POST, served_at=china_midnight(on), served_on=on,
                                basis=BASIS[ServiceChannel.POST], source=f"dispatch:{dispatch_id}"),
                    {"kind": (servable.get(x) or {}).get("kind", ""), "dispatch_id": dispatch_id,
                     "bound": (servable.get(x) or {}).get("bound")})
                   for x in d["document_ids"]]
            stored, events = self._served_changes(doc, number, new, method, who)
            sets["facts"] = [*(doc.get("facts") or []), *stored]
            return sets, events, True

        await self._update(case_id, number, change)
        return out[0]

    async def handover(self, case_id: str, document_ids: list[str], handed_on: date, received_by: str,
                       who: Principal) -> tuple[dict[str, Any], bool]:
        """Handed over at the window, signed for (直接送达): served, each document. The same
        documents (in any order), day and recipient again: the handover recorded before (False) —
        a form sent twice is one handover."""
        case = await self._case(case_id)
        check_recorded_on(handed_on, "handed_on", "送达日期", self.today())
        servable = await self.servable(case_id)
        check_documents(document_ids, servable, "document_ids", handed_on, "送达日期", "handed_on")
        number = case["tracking_number"]
        method = await self.delivery_method(case_id)
        out: list[tuple[dict[str, Any], bool]] = []

        def change(doc: dict[str, Any]) -> tuple[dict[str, Any], list[Any], Any] | None:
            for h in doc.get("handovers") or []:
                if (set(h["document_ids"]), h["handed_on"], h["received_by"]) == (
                        set(document_ids), handed_on.isoformat(), received_by):
                    out[:] = [(h, False)]
                    return None
            handover_id = str(uuid.uuid4())
            entry = {"handover_id": handover_id, "document_ids": list(document_ids),
                     "handed_on": handed_on.isoformat(), "received_by": received_by, "signature_recorded": True,
                     "recorded_by": who.display, "recorded_by_subject": who.subject, "recorded_at": datetime.now(UTC)}
            # The recipient's name stays in the handover (the topic carries no personal data).
            new = [(ServiceFact(document_id=x, channel=ServiceChannel.WINDOW, served_at=china_midnight(handed_on),
                                served_on=handed_on, basis=BASIS[ServiceChannel.WINDOW],
                                source=f"handover:{handover_id}"),
                    {"kind": servable[x]["kind"], "handover_id": handover_id, "bound": servable[x]["bound"]})
                   for x in document_ids]
            stored, events = self._served_changes(doc, number, new, method, who)
            out[:] = [(entry, True)]
            return ({"handovers": [*(doc.get("handovers") or []), entry],
                     "facts": [*(doc.get("facts") or []), *stored]}, events, True)

        await self._update(case_id, number, change)
        return out[0]

    # -- views ---------------------------------------------------------------------------------

    async def record(self, case_id: str) -> dict[str, Any]:
        return await self.versioned.load(case_id) or {"_id": case_id, "facts": [], "dispatches": [], "handovers": []}

    async def find_dispatch(self, case_id: str, dispatch_id: str) -> dict[str, Any]:
        doc = await self.record(case_id)
        d = next((x for x in doc.get("dispatches") or [] if x["dispatch_id"] == dispatch_id), None)
        if d is None:
            raise ServiceRefused(404, "未找到该邮寄记录")
        return d

    async def find_handover(self, case_id: str, handover_id: str) -> dict[str, Any]:
        doc = await self.record(case_id)
        h = next((x for x in doc.get("handovers") or [] if x["handover_id"] == handover_id), None)
        if h is None:
            raise ServiceRefused(404, "未找到该直接送达记录")
        return h

    async def view(self, case_id: str, *, public: bool = False) -> dict[str, Any]:
        """The case's service: per document its date of service and facts, the dispatches and
        handovers, the remedy deadlines (officers); the dates, channels and deadlines only (public)."""
        case = await self._case(case_id)
        doc = await self.record(case_id)
        servable = await self.servable(case_id)
        raw = doc.get("facts") or []
        facts = [fact_of(f) for f in raw]
        cal = self.calendar()
        documents, unserved, amendments = [], [], []
        remedies = None
        reply_id = (case.get("reply") or {}).get("document_id") if case.get("reply_issued") else None
        for doc_id, meta in servable.items():
            served = date_of_service(facts, doc_id)
            rem = remedies_json(doc_id, remedy_deadlines(served.served_on, cal)) \
                if served is not None and challengeable(meta["kind"]) else None
            if served is None:
                unserved.append(doc_id)
            elif doc_id == reply_id:
                remedies = rem
            elif meta["kind"] == "reply_amendment" and rem is not None:
                amendments.append(rem)
            entry: dict[str, Any] = {
                "document_id": doc_id, "kind": meta["kind"], "title": meta.get("title"), "issued_on": meta.get("issued_on"),
                "served": None if served is None else {
                    "channel": served.channel.value, "channel_label": channel_label(served.channel),
                    "served_on": served.served_on.isoformat(), "served_at": served.served_at.isoformat(),
                    "basis": served.basis},
                "remedies": rem}
            if not public:
                entry["facts"] = [_fact_out(f) for f in raw if f["document_id"] == doc_id]
            else:
                entry["served"] = None if served is None else {
                    k: entry["served"][k] for k in ("channel", "channel_label", "served_on")}
            documents.append(entry)
        out: dict[str, Any] = {"tracking_number": case["tracking_number"], "documents": documents,
                               "remedies": remedies, "amendment_remedies": amendments, "unserved": unserved}
        if public:
            return out
        app = await self.applications.find_one({"_id": case_id}) or {}
        return {"case_id": case_id, "tracking_number": case["tracking_number"],
                "delivery_method": app.get("delivery_method"), "documents": documents,
                "dispatches": [dispatch_out(d) for d in doc.get("dispatches") or []],
                "handovers": [handover_out(h) for h in doc.get("handovers") or []],
                "remedies": remedies, "amendment_remedies": amendments, "unserved": unserved}


def _iso(v: Any) -> Any:  # noqa: ANN401
    return _aware(v).isoformat() if isinstance(v, datetime) else v


def _fact_out(f: dict[str, Any]) -> dict[str, Any]:
    return {"channel": f["channel"], "channel_label": channel_label(f["channel"]), "served_on": f["served_on"],
            "served_at": _iso(f["served_at"]), "basis": f["basis"], "counts": f.get("counts", True),
            "note": f.get("note"), "notice_id": f.get("notice_id"),
            "dispatch_id": f.get("dispatch_id"), "handover_id": f.get("handover_id"),
            "recorded_by": f.get("recorded_by"), "recorded_at": _iso(f.get("recorded_at"))}


def return_reason_label(reason: Any) -> str | None:  # noqa: ANN401
    """The Chinese label of a return reason's code (None: none recorded, or the free text of a
    dispatch returned before the reasons were a closed set)."""
    try:
        return RETURN_REASON_LABELS[ReturnReason(reason)]
    except ValueError:
        return None


def dispatch_out(d: dict[str, Any]) -> dict[str, Any]:
    out = {k: _iso(d.get(k)) for k in ("dispatch_id", "document_ids", "carrier", "postal_tracking_number", "sent_on",
                                        "status", "signed_on", "signed_by", "returned_on", "reason", "note",
                                        "recorded_by", "recorded_at", "outcome_recorded_by")}
    return {**out, "reason_label": return_reason_label(d.get("reason"))}


def handover_out(h: dict[str, Any]) -> dict[str, Any]:
    return {k: _iso(h.get(k)) for k in ("handover_id", "document_ids", "handed_on", "received_by",
                                         "signature_recorded", "recorded_by", "recorded_at")}
