"""After the reply (答复不是办结): whether the applicant read it, the applicant's satisfaction, and
the OGI office's follow-up contacts (回访).

- Read: the status page opened after the release (the portal calls ``POST
  /public/cases/{n}/read``) or the reply PDF downloaded (``GET /public/cases/{n}/reply.pdf``):
  ``reply.read``, once per version of the reply (the reply, each amendment) and way of reading.
- Rating: ``PUT /public/cases/{n}/rating`` (满意 / 基本满意 / 不满意, a reason code, a comment),
  once the reply is released; one per case, changeable for ``REPLY_RATING_CHANGE_WORKDAYS``
  working days after the first rating: ``reply.rated`` with its revision.
- Follow-up: ``POST /cases/{id}/follow-ups`` (OGI officer: when, by what means, what came of it,
  what the applicant said): ``followup.recorded``. ``GET /follow-ups`` is the queue of replies
  still unread ``REPLY_FOLLOWUP_UNREAD_WORKDAYS`` working days after their release (and of
  dissatisfied ratings) with no follow-up since; ``GET /cases/{id}/feedback`` is the case's record.

Both public routes are opened by the query code exactly like the other public reads
(``servicekit.querycode``, the same attempt limits). The events carry no applicant identity;
free text stays in the ``feedback`` collection (one document per case, its own outbox, changed
by single-document writes conditional on ``rev``: ``servicekit.versioned``) and the events carry
its SHA-256.

The decisions (is this read new, may the rating change, is a case due for a follow-up) are the
pure functions at the top, tested without a store.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Body, Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import Field
from pymongo.asynchronous.database import AsyncDatabase

from contracts import topics
from contracts.envelope import EventData, deterministic_id, new_event
from contracts.events_feedback import (
    FollowUpMeans,
    FollowUpRecorded,
    FollowUpResult,
    Rating,
    RatingReason,
    ReadVia,
    ReplyRated,
    ReplyRead,
)
from servicekit import outbox
from servicekit.oidc import Principal, officer
from servicekit.openapi import errors
from servicekit.querycode import NO_MATCH, QueryCodeGate
from servicekit.ratelimit import AttemptLimiter
from servicekit.validation import StrictIn
from servicekit.versioned import Change, Conflict, Versioned
from services.reply.public import public_case_lookup
from servicekit.workdays import IsWorkday, workdays_after

CHINA = ZoneInfo("Asia/Shanghai")

# ---------------------------------------------------------------------------------------------- pure


def workday_test(calendar: Any) -> IsWorkday:  # noqa: ANN401 - services.reply.clock.calendar.WorkCalendar
    """The calendar's working days; a year it does not cover counts weekends only (as the clock's
    provisional dates do)."""
    return lambda d: calendar.classify_provisional(d).is_workday


def china_day(at: datetime) -> date:
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(CHINA).date()


def release_of(case: dict[str, Any]) -> tuple[int, datetime] | None:
    """The latest version of the released reply: (0, reply time) or (n, n-th amendment's time)."""
    reply = case.get("reply") if case.get("reply_issued") else None
    if not reply:
        return None
    amendments = [a for a in case.get("amendments") or [] if a.get("issued_at")]
    if amendments:
        last = max(amendments, key=lambda a: a["seq"])
        return int(last["seq"]), last["issued_at"]
    return (0, reply["issued_at"]) if reply.get("issued_at") else None


def is_new_read(reads: list[dict[str, Any]], seq: int, via: str) -> bool:
    return not any(r["seq"] == seq and r["via"] == via for r in reads)


def has_read(reads: list[dict[str, Any]], seq: int) -> bool:
    """Read the latest version (an amendment is a new reply to read)."""
    return any(r["seq"] == seq for r in reads)



def add_workdays(start: date, n: int, is_workday: IsWorkday) -> date:
    """The n-th working day after ``start``."""
    d, left = start, n
    while left > 0:
        d += timedelta(days=1)
        left -= is_workday(d)
    return d


def rating_change_until(first_rated_on: date, change_workdays: int, is_workday: IsWorkday) -> date:
    """The last day the rating may be changed: the ``change_workdays``-th working day after the first."""
    return add_workdays(first_rated_on, change_workdays, is_workday)


@dataclass(frozen=True)
class RatingDecision:
    action: str  # "new" | "change" | "same" | "closed"
    revision: int
    until: date | None


def rating_decision(existing: dict[str, Any] | None, rating: str, reason: str, comment: str, today: date,
                    change_workdays: int, is_workday: IsWorkday) -> RatingDecision:
    """A first rating; a change within the period; the same rating again (nothing to record); or
    a change after the period (refused)."""
    if not existing:
        return RatingDecision("new", 1, rating_change_until(today, change_workdays, is_workday))
    until = rating_change_until(china_day(existing["first_at"]), change_workdays, is_workday)
    if (existing["rating"], existing["reason"], existing.get("comment") or "") == (rating, reason, comment):
        return RatingDecision("same", int(existing["revision"]), until)
    if today > until:
        return RatingDecision("closed", int(existing["revision"]), until)
    return RatingDecision("change", int(existing["revision"]) + 1, until)


def followup_reasons(case: dict[str, Any], feedback: dict[str, Any] | None, today: date, unread_workdays: int,
                     is_workday: IsWorkday) -> list[str]:
    """Why a replied case is in the follow-up queue: ``unread`` (the latest release unread for
    ``unread_workdays`` working days or more), ``dissatisfied`` (rated 不满意); none once a
    follow-up was recorded after the latest release."""
    release = release_of(case)
    if release is None:
        return []
    seq, at = release
    fb = feedback or {}
    if any(f["recorded_at"] >= _aware(at) for f in fb.get("followups") or []):
        return []
    out = []
    if not has_read(fb.get("reads") or [], seq) and \
            workdays_after(china_day(at), today, is_workday) >= unread_workdays:
        out.append("unread")
    if (fb.get("rating") or {}).get("rating") == "dissatisfied":
        out.append("dissatisfied")
    return out


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


# ---------------------------------------------------------------------------------------------- bodies


class RatingIn(StrictIn):
    model_config = StrictIn.model_config | {"str_strip_whitespace": True}

    rating: Rating = Field(description="satisfied 满意 / basically_satisfied 基本满意 / dissatisfied 不满意")
    reason: RatingReason = Field(default="none", description="理由（代码）")
    comment: str = Field(default="", max_length=500, description="意见（可选）")


class ReadIn(StrictIn):
    via: ReadVia = "status_page"


class FollowUpIn(StrictIn):
    model_config = StrictIn.model_config | {"str_strip_whitespace": True}

    contacted_at: datetime = Field(description="联系时间（含时区；无时区按北京时间）")
    means: FollowUpMeans = Field(description="联系方式")
    result: FollowUpResult = Field(description="回访结果")
    note: str = Field(min_length=1, max_length=2000, description="申请人的意见（回访记录）")


# ---------------------------------------------------------------------------------------------- store


class FeedbackRefused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


class FeedbackStore:
    """Collection ``feedback``: ``{_id: case_id, rev, reads: [{seq, via, at}], rating: {rating,
    reason, comment, revision, first_at, at}, followups: [...], outbox...}``."""

    def __init__(self, db: AsyncDatabase, source: str, cases: Any, is_workday: Callable[[], IsWorkday],  # noqa: ANN401
                 change_workdays: int, unread_workdays: int, today: Callable[[], date] | None = None) -> None:
        self.docs = db["feedback"]
        self.versioned = Versioned(self.docs, rev_field="rev")
        self.cases = cases
        self.source = source
        self.is_workday = is_workday
        self.change_workdays = change_workdays
        self.unread_workdays = unread_workdays
        self.today = today or (lambda: datetime.now(CHINA).date())

    async def setup(self) -> None:
        await outbox.ensure_indexes(self.docs)

    def _event(self, data: EventData, case_id: str, event_id: str) -> Any:  # noqa: ANN401
        return new_event(data, source=self.source, subject=case_id, event_id=event_id, time=datetime.now(UTC))

    async def get(self, case_id: str) -> dict[str, Any]:
        return await self.versioned.load(case_id) or {**self._empty(case_id), "rev": 0}

    @staticmethod
    def _empty(case_id: str) -> dict[str, Any]:
        return {"_id": case_id, "reads": [], "rating": None, "followups": []}

    async def _update(self, case_id: str, change: Callable[[dict[str, Any]], tuple[dict[str, Any], list[Any]] | None]
                      ) -> dict[str, Any]:
        """Apply ``change(doc) -> (sets, events)`` (None: nothing to do) in one write conditional on
        the document's ``rev`` with its events (``servicekit.versioned``; a concurrent change:
        decided again from a fresh read, too many: 409). The document as it is after the change."""
        if await self.versioned.load(case_id, {"_id": 1}) is None:
            await self.versioned.insert(self._empty(case_id))  # False: made concurrently, as good
        seen: list[dict[str, Any]] = []

        def decide(doc: dict[str, Any] | None) -> Change | None:
            assert doc is not None  # made above; feedback documents are never deleted
            seen[:] = [doc]
            out = change(doc)
            if out is None:
                return None
            sets, events = out
            records = [outbox.record(topics.REPLIES_ISSUED.name, e) for e in events]
            return Change(set=sets, records=records, result={**doc, **sets, "rev": int(doc.get("rev") or 0) + 1})

        try:
            written = await self.versioned.change(case_id, decide, what="feedback")
        except Conflict:
            raise FeedbackRefused(409, "记录冲突，请重试") from None
        return written if written is not None else seen[0]

    async def record_read(self, case: dict[str, Any], via: str) -> bool:
        release = release_of(case)
        if release is None:
            return False
        seq = release[0]
        recorded: list[bool] = []

        def change(doc: dict[str, Any]) -> tuple[dict[str, Any], list[Any]] | None:
            reads = doc.get("reads") or []
            if not is_new_read(reads, seq, via):
                return None
            now = datetime.now(UTC)
            event = self._event(ReplyRead(case_id=case["_id"], reply_seq=seq, via=via, read_at=now), case["_id"],
                                deterministic_id("reply.read", case["_id"], str(seq), via))
            recorded.append(True)
            return {"reads": [*reads, {"seq": seq, "via": via, "at": now}]}, [event]

        await self._update(case["_id"], change)
        return bool(recorded)

    def view(self, case: dict[str, Any], doc: dict[str, Any], *, public: bool) -> dict[str, Any]:
        """The case's feedback: the applicant's own view (public) or the OGI office's."""
        cal = self.is_workday()
        release = release_of(case)
        rating = doc.get("rating")
        out: dict[str, Any] = {
            "tracking_number": case.get("tracking_number"),
            "released": release is not None,
            "reply_seq": release[0] if release else None,
            "released_at": release[1] if release else None,
            "read": bool(release) and has_read(doc.get("reads") or [], release[0]),
            "rating": None if not rating else {
                k: rating.get(k) for k in ("rating", "reason", "comment", "revision", "first_at", "at")},
            "rating_changeable_until": rating_change_until(china_day(rating["first_at"]), self.change_workdays,
                                                           cal).isoformat() if rating else None,
        }
        if not public:
            out["case_id"] = case["_id"]
            out["reads"] = doc.get("reads") or []
            out["followups"] = [{k: v for k, v in f.items() if k != "by_subject"} for f in doc.get("followups") or []]
            out["followup_due"] = followup_reasons(case, doc, self.today(), self.unread_workdays, cal)
        return out

    async def rate(self, case: dict[str, Any], body: RatingIn) -> tuple[str, dict[str, Any]]:
        if release_of(case) is None:
            raise FeedbackRefused(409, "该申请尚未作出答复，答复后方可评价")
        today, cal = self.today(), self.is_workday()
        outcome: list[RatingDecision] = []

        def change(doc: dict[str, Any]) -> tuple[dict[str, Any], list[Any]] | None:
            existing = doc.get("rating")
            decision = rating_decision(existing, body.rating, body.reason, body.comment, today, self.change_workdays, cal)
            outcome[:] = [decision]
            if decision.action in ("same", "closed"):
                return None
            now = datetime.now(UTC)
            event = self._event(
                ReplyRated(case_id=case["_id"], rating=body.rating, reason=body.reason, revision=decision.revision,
                           comment_sha256=sha256(body.comment) if body.comment else None, rated_at=now),
                case["_id"], deterministic_id("reply.rated", case["_id"], str(decision.revision)))
            rating = {"rating": body.rating, "reason": body.reason, "comment": body.comment,
                      "revision": decision.revision, "first_at": existing["first_at"] if existing else now, "at": now}
            return {"rating": rating}, [event]

        doc = await self._update(case["_id"], change)
        if outcome[0].action == "closed":
            raise FeedbackRefused(409, f"评价已于 {outcome[0].until.isoformat()} 截止修改")  # type: ignore[union-attr]
        return outcome[0].action, doc

    async def follow_up(self, case: dict[str, Any], body: FollowUpIn, principal: Principal) -> dict[str, Any]:
        if release_of(case) is None:
            raise FeedbackRefused(409, "该案件尚未作出答复，答复后方可回访")
        contacted = body.contacted_at if body.contacted_at.tzinfo else body.contacted_at.replace(tzinfo=CHINA)
        now = datetime.now(UTC)
        if contacted > now + timedelta(minutes=5):
            raise FeedbackRefused(422, "联系时间不能晚于现在")
        fid = str(uuid.uuid4())
        entry = {"followup_id": fid, "contacted_at": contacted.astimezone(UTC), "means": body.means,
                 "result": body.result, "note": body.note, "by": principal.display, "by_subject": principal.subject,
                 "recorded_at": now}

        def change(doc: dict[str, Any]) -> tuple[dict[str, Any], list[Any]]:
            event = self._event(
                FollowUpRecorded(case_id=case["_id"], followup_id=fid, contacted_at=entry["contacted_at"],
                                 means=body.means, result=body.result, note_sha256=sha256(body.note),
                                 recorded_by=principal.display, recorded_by_subject=principal.subject,
                                 recorded_at=now),
                case["_id"], deterministic_id("followup.recorded", fid))
            return {"followups": [*(doc.get("followups") or []), entry]}, [event]

        await self._update(case["_id"], change)
        return {k: v for k, v in entry.items() if k != "by_subject"}

    async def queue(self) -> list[dict[str, Any]]:
        cal, today = self.is_workday(), self.today()
        cases = [c async for c in self.cases.find(
            {"reply_issued": True},
            {"_id": 1, "tracking_number": 1, "reply_issued": 1, "reply.issued_at": 1, "reply.outcome": 1,
             "amendments.seq": 1, "amendments.issued_at": 1, "reply.cc": 1})]
        fbs = {d["_id"]: d async for d in self.docs.find({"_id": {"$in": [c["_id"] for c in cases]}}, {"outbox": 0})}
        out = []
        for c in cases:
            fb = fbs.get(c["_id"])
            reasons = followup_reasons(c, fb, today, self.unread_workdays, cal)
            if not reasons:
                continue
            seq, at = release_of(c)  # type: ignore[misc]
            out.append({"case_id": c["_id"], "tracking_number": c.get("tracking_number"), "reasons": reasons,
                        "reply_seq": seq, "released_on": china_day(at).isoformat(),
                        "workdays_since_release": workdays_after(china_day(at), today, cal),
                        "rating": ((fb or {}).get("rating") or {}).get("rating"),
                        "departments": (c.get("reply") or {}).get("cc") or [],
                        "followups": len((fb or {}).get("followups") or [])})
        out.sort(key=lambda r: (-r["workdays_since_release"], r["tracking_number"] or ""))
        return out


# ---------------------------------------------------------------------------------------------- routes

TrackingNumber = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")]
QueryCode = Annotated[str, Query(min_length=1, max_length=32, description="受理回执上的查询码")]
REFUSALS = {404: {"description": NO_MATCH}, 429: {"description": "查询码错误次数过多（Retry-After）"}}


def add_feedback_routes(app: FastAPI, fb: FeedbackStore, secret: str, limiter: AttemptLimiter,
                        wake: Callable[[], None],
                        on_read: Callable[[dict[str, Any], str], Awaitable[None]] | None = None) -> None:
    """``on_read(case, via)``: the applicant opened the status page (or the PDF) after the release (the reply's
    service online, services/reply/service_store.py)."""
    cases = fb.cases
    public_case = public_case_lookup(cases, QueryCodeGate(secret, limiter))

    async def officer_case(case_id: str) -> dict[str, Any]:
        doc = await cases.find_one({"_id": case_id}, {"outbox": 0})
        if doc is None:
            raise HTTPException(404, "未找到该案件")
        return doc

    @app.post("/public/cases/{tracking_number}/read", tags=["public"], responses={**REFUSALS, **errors(409)})
    async def public_read(request: Request, tracking_number: TrackingNumber, query_code: QueryCode,
                          body: ReadIn | None = Body(default=None)) -> Any:  # noqa: ANN401
        """The applicant opened the released reply (the portal's status page): recorded once per
        version; answers the applicant's feedback (the rating, until when it may be changed)."""
        case = await public_case(request, tracking_number, query_code)
        if isinstance(case, JSONResponse):
            return case
        if release_of(case) is None:
            raise HTTPException(409, "该申请尚未作出答复")
        if await fb.record_read(case, (body or ReadIn()).via):
            wake()
        if on_read is not None:
            await on_read(case, (body or ReadIn()).via)
        return JSONResponse(_json(fb.view(case, await fb.get(case["_id"]), public=True)),
                            headers={"Cache-Control": "no-store"})

    @app.put("/public/cases/{tracking_number}/rating", tags=["public"], responses={**REFUSALS, **errors(409)})
    async def public_rating(request: Request, tracking_number: TrackingNumber, query_code: QueryCode,
                            body: RatingIn) -> Any:  # noqa: ANN401
        """The applicant's satisfaction with the reply: once, changeable within the set working days."""
        case = await public_case(request, tracking_number, query_code)
        if isinstance(case, JSONResponse):
            return case
        try:
            action, doc = await fb.rate(case, body)
        except FeedbackRefused as exc:
            raise HTTPException(exc.status, exc.message) from None
        wake()
        return JSONResponse({"action": action, **_json(fb.view(case, doc, public=True))},
                            status_code=201 if action == "new" else 200, headers={"Cache-Control": "no-store"})

    @app.get("/cases/{case_id}/feedback", tags=["ogi"])
    async def case_feedback(case_id: str, _: Principal = Depends(officer)) -> Any:  # noqa: ANN401
        case = await officer_case(case_id)
        return _json(fb.view(case, await fb.get(case_id), public=False))

    @app.post("/cases/{case_id}/follow-ups", tags=["ogi"], status_code=201, responses=errors(409))
    async def record_follow_up(case_id: str, body: FollowUpIn, principal: Principal = Depends(officer)) -> Any:  # noqa: ANN401
        case = await officer_case(case_id)
        try:
            entry = await fb.follow_up(case, body, principal)
        except FeedbackRefused as exc:
            if exc.status == 422:
                return JSONResponse({"detail": exc.message, "errors": [
                    {"field": "contacted_at", "message": exc.message, "type": "value_error"}]}, status_code=422)
            raise HTTPException(exc.status, exc.message) from None
        wake()
        return _json({"case_id": case_id, **entry})

    @app.get("/follow-ups", tags=["ogi"])
    async def follow_up_queue() -> dict[str, Any]:
        """Replies unread ``REPLY_FOLLOWUP_UNREAD_WORKDAYS`` working days after release, and
        dissatisfied ratings, with no follow-up recorded since the latest release."""
        return _json({"unread_workdays": fb.unread_workdays, "as_of": fb.today().isoformat(),
                      "cases": await fb.queue()})


def _json(value: Any) -> Any:  # noqa: ANN401
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json(v) for v in value]
    if isinstance(value, datetime):
        return _aware(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value
