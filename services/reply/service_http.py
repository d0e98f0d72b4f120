"""The OGI office's records of service (送达) and the applicant's view of it (issue #17): thin
routes over ``service_store.ServiceStore``; the decisions are ``service.py``'s.

Officers (roles in contracts/access.py): ``GET /cases/{id}/service``; the postal dispatches
(``POST /cases/{id}/postal-dispatches``, ``…/{dispatch_id}/signed``, ``…/{dispatch_id}/returned``);
the handovers at the window (``POST /cases/{id}/handovers``); the forms printed for them (送达回证,
the address label). The applicant: ``GET /public/cases/{n}/service`` with the query code (dates,
channels, remedy deadlines; no officer, no parcel number). Every refusal of a field is a 422 in
the shape of ``servicekit.validation`` (field-level, Chinese); a second, different outcome of a
dispatch is a 409.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import Field, field_validator

from contracts.vocabulary import RETURN_REASON_LABELS, ReturnReason

from services.reply.documents import DocumentRenderError
from services.reply.documents import models as m
from services.reply.documents.service_forms import AddressLabel, ProofOfService, ServedDocument, render_form
from services.reply.public import public_case_lookup
from services.reply.reply_docs import AgencyInfo, render_in_worker
from services.reply.service import ServiceRefused
from services.reply.service_store import ServiceStore, dispatch_out, handover_out
from services.reply.step_documents import addressee_name
from servicekit.http import content_disposition
from servicekit.oidc import Principal, officer
from servicekit.openapi import errors
from servicekit.querycode import NO_MATCH, QueryCodeGate
from servicekit.ratelimit import AttemptLimiter
from servicekit.validation import StrictIn, problem

Id = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")]
DocumentId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")]
TrackingNumber = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")]
OptionalCode = Annotated[str | None, Query(min_length=1, max_length=32, description="受理回执上的查询码")]
REFUSALS = {404: {"description": NO_MATCH}, 429: {"description": "查询码错误次数过多（Retry-After）"}}
PDF = {200: {"content": {"application/pdf": {}}, "description": "PDF，供打印"}}


class _In(StrictIn):
    model_config = StrictIn.model_config | {"str_strip_whitespace": True}


class PostalDispatchIn(_In):
    document_ids: list[DocumentId] = Field(min_length=1, max_length=50, description="寄出的文书（致申请人）")
    carrier: str = Field(default="中国邮政", min_length=1, max_length=40, description="寄递单位")
    postal_tracking_number: str = Field(min_length=4, max_length=40, pattern=r"^[A-Za-z0-9-]+$",
                                        description="邮件号（仅本服务保存，不发布）")
    sent_on: date = Field(description="寄出日期")


class SignedIn(_In):
    signed_on: date = Field(description="签收日期（以邮件签收记录为准）")
    signed_by: str | None = Field(default=None, min_length=1, max_length=40, description="签收人（可选）")


class ReturnedIn(_In):
    returned_on: date = Field(description="退回日期")
    reason: ReturnReason = Field(description="退回原因（以邮件退回批条为准）：" + "、".join(
        f"{k.value} {v}" for k, v in RETURN_REASON_LABELS.items()))
    note: str | None = Field(default=None, min_length=1, max_length=200,
                             description="经办人备注（可选；仅本服务保存，不发布）")


class HandoverIn(_In):
    document_ids: list[DocumentId] = Field(min_length=1, max_length=50, description="当面交付的文书（致申请人）")
    handed_on: date = Field(description="送达日期")
    received_by: str = Field(min_length=1, max_length=40, description="签收人")
    signature_recorded: bool = Field(description="受送达人已在送达回证上签名")

    @field_validator("signature_recorded")
    @classmethod
    def _signed(cls, v: bool) -> bool:
        if not v:
            raise ValueError("直接送达须由受送达人在送达回证上签名，签名后方可登记")
        return v


def _refused(exc: ServiceRefused) -> Any:  # noqa: ANN401
    if exc.status == 422:
        return problem(422, exc.field, exc.message)
    raise HTTPException(exc.status, exc.message)


def add_service_routes(app: FastAPI, service: ServiceStore, agency: AgencyInfo, secret: str,
                       limiter: AttemptLimiter, wake: Callable[[], None]) -> None:
    public_case = public_case_lookup(service.cases, QueryCodeGate(secret, limiter))

    @app.get("/cases/{case_id}/service", tags=["service"])
    async def case_service(case_id: Id) -> Any:  # noqa: ANN401
        """Each document addressed to the applicant: its date of service (the earliest fact) and
        every fact; the postal dispatches and window handovers; the remedy deadlines of the reply."""
        try:
            return await service.view(case_id)
        except ServiceRefused as exc:
            return _refused(exc)

    @app.post("/cases/{case_id}/postal-dispatches", tags=["service"], status_code=201, responses=errors(409))
    async def postal_dispatch(case_id: Id, body: PostalDispatchIn, principal: Principal = Depends(officer)) -> Any:  # noqa: ANN401
        """Documents posted to the applicant (``document.dispatched``; the parcel number stays here)."""
        try:
            entry, created = await service.dispatch(case_id, list(body.document_ids), body.carrier,
                                                    body.postal_tracking_number, body.sent_on, principal)
        except ServiceRefused as exc:
            return _refused(exc)
        wake()
        return JSONResponse(dispatch_out(entry), status_code=201 if created else 200)

    async def outcome(case_id: str, dispatch_id: str, kind: str, on: date, detail: dict[str, Any],
                      principal: Principal) -> Any:  # noqa: ANN401
        try:
            entry, changed = await service.dispatch_outcome(case_id, dispatch_id, kind, on, detail, principal)
        except ServiceRefused as exc:
            return _refused(exc)
        if changed:
            wake()
        return dispatch_out(entry)

    @app.post("/cases/{case_id}/postal-dispatches/{dispatch_id}/signed", tags=["service"], responses=errors(409))
    async def dispatch_signed(case_id: Id, dispatch_id: Id, body: SignedIn,
                              principal: Principal = Depends(officer)) -> Any:  # noqa: ANN401
        """Signed for on ``signed_on``: each document of the dispatch served by post that day."""
        return await outcome(case_id, dispatch_id, "signed", body.signed_on, {"signed_by": body.signed_by}, principal)

    @app.post("/cases/{case_id}/postal-dispatches/{dispatch_id}/returned", tags=["service"], responses=errors(409))
    async def dispatch_returned(case_id: Id, dispatch_id: Id, body: ReturnedIn,
                                principal: Principal = Depends(officer)) -> Any:  # noqa: ANN401
        """Returned undeliverable (``document.returned``): nothing served by this dispatch."""
        return await outcome(case_id, dispatch_id, "returned", body.returned_on,
                             {"reason": body.reason.value, "note": body.note}, principal)

    @app.post("/cases/{case_id}/handovers", tags=["service"], status_code=201, responses=errors(409))
    async def handover(case_id: Id, body: HandoverIn, principal: Principal = Depends(officer)) -> Any:  # noqa: ANN401
        """Handed over at the window, signed for by the recipient (直接送达): served that day. The
        same documents, day and recipient again: 200 with the handover recorded before."""
        try:
            entry, created = await service.handover(case_id, list(body.document_ids), body.handed_on,
                                                    body.received_by, principal)
        except ServiceRefused as exc:
            return _refused(exc)
        if created:
            wake()
        return JSONResponse(handover_out(entry), status_code=201 if created else 200)

    # -- the printed forms --------------------------------------------------------------------

    async def form_facts(case_id: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, dict[str, Any]]]:
        case = await service.cases.find_one({"_id": case_id}, {"outbox": 0})
        if case is None:
            raise HTTPException(404, "未找到该案件")
        applicant = await service.applicants.find_one({"_id": case_id}) or {}
        docs = await service.servable(case_id)
        return case, applicant, docs

    def agency_of(case: dict[str, Any]) -> m.Agency:
        return m.Agency(name=case.get("agency_name") or agency.name or agency.office, office=agency.office,
                        contact=m.Contact(address=agency.address, phone=agency.phone))

    def served_documents(ids: list[str], docs: dict[str, dict[str, Any]]) -> list[ServedDocument]:
        out = []
        for i in ids:
            d = docs.get(i) or {}
            issued = d.get("issued_on")
            out.append(ServedDocument(title=d.get("title") or "文书", number=i[:8],
                                      issued_on=date.fromisoformat(issued) if issued else None))
        return out

    def postcode(applicant: dict[str, Any]) -> str | None:
        p = str(applicant.get("postcode") or "").strip()
        return p if len(p) == 6 and p.isdigit() else None

    async def rendered(form: str, ctx: ProofOfService | AddressLabel) -> Any:  # noqa: ANN401
        try:
            return await render_in_worker(render_form, form, ctx)
        except DocumentRenderError as exc:
            raise HTTPException(503, f"文书生成失败，请稍后重试（{exc}）", headers={"Retry-After": "5"}) from None

    def pdf(doc: Any, name: str) -> Response:  # noqa: ANN401
        return Response(doc.pdf, media_type="application/pdf", headers={
            "Content-Disposition": content_disposition("inline", name), "Cache-Control": "no-store"})

    def received_on(case: dict[str, Any], on: date) -> date:
        r = case.get("received_on")
        return min(date.fromisoformat(r), on) if r else on

    @app.get("/cases/{case_id}/postal-dispatches/{dispatch_id}/proof-of-service.pdf", tags=["service"],
             response_class=Response, responses=PDF)
    async def dispatch_proof(case_id: Id, dispatch_id: Id) -> Response:
        """送达回证 of a postal dispatch (the recipient signs it and it comes back with the post)."""
        case, applicant, docs = await form_facts(case_id)
        try:
            d = await service.find_dispatch(case_id, dispatch_id)
        except ServiceRefused as exc:
            raise HTTPException(exc.status, exc.message) from None
        sent = date.fromisoformat(d["sent_on"])
        ctx = ProofOfService(case_number=case["tracking_number"], agency=agency_of(case),
                             received_on=received_on(case, sent), issued_on=sent,
                             applicant_name=addressee_name(applicant),
                             address=str(applicant.get("address") or "").strip() or None, postcode=postcode(applicant),
                             documents=served_documents(d["document_ids"], docs), way="post", carrier=d["carrier"],
                             postal_tracking_number=d["postal_tracking_number"])
        return pdf(await rendered("proof_of_service", ctx),
                   f"送达回证-{case['tracking_number']}.pdf")

    @app.get("/cases/{case_id}/postal-dispatches/{dispatch_id}/label.pdf", tags=["service"],
             response_class=Response, responses=PDF)
    async def dispatch_label(case_id: Id, dispatch_id: Id) -> Any:  # noqa: ANN401
        """The address label of a postal dispatch: recipient, address, postcode, phone, sender."""
        case, applicant, _ = await form_facts(case_id)
        try:
            d = await service.find_dispatch(case_id, dispatch_id)
        except ServiceRefused as exc:
            raise HTTPException(exc.status, exc.message) from None
        address = str(applicant.get("address") or "").strip()
        if not address:
            raise HTTPException(409, "申请人未登记通信地址，无法打印邮件封面")
        sent = date.fromisoformat(d["sent_on"])
        ctx = AddressLabel(case_number=case["tracking_number"], agency=agency_of(case),
                           received_on=received_on(case, sent), issued_on=sent, applicant_name=addressee_name(applicant),
                           address=address, postcode=postcode(applicant),
                           phone=str(applicant.get("phone") or "").strip() or None, documents=len(d["document_ids"]),
                           carrier=d["carrier"], postal_tracking_number=d["postal_tracking_number"])
        return pdf(await rendered("address_label", ctx), f"邮件封面-{case['tracking_number']}.pdf")

    @app.get("/cases/{case_id}/handovers/{handover_id}/proof-of-service.pdf", tags=["service"],
             response_class=Response, responses=PDF)
    async def handover_proof(case_id: Id, handover_id: Id) -> Response:
        """送达回证 of a handover at the window."""
        case, applicant, docs = await form_facts(case_id)
        try:
            h = await service.find_handover(case_id, handover_id)
        except ServiceRefused as exc:
            raise HTTPException(exc.status, exc.message) from None
        on = date.fromisoformat(h["handed_on"])
        ctx = ProofOfService(case_number=case["tracking_number"], agency=agency_of(case),
                             received_on=received_on(case, on), issued_on=on, applicant_name=addressee_name(applicant),
                             documents=served_documents(h["document_ids"], docs), way="window",
                             received_by=h["received_by"])
        return pdf(await rendered("proof_of_service", ctx),
                   f"送达回证-{case['tracking_number']}.pdf")

    # -- the applicant ------------------------------------------------------------------------

    @app.get("/public/cases/{tracking_number}/service", tags=["public"], responses=REFUSALS)
    async def public_service(request: Request, tracking_number: TrackingNumber,
                             query_code: OptionalCode = None, code: OptionalCode = None) -> Any:  # noqa: ANN401
        """The dates of service of the documents addressed to the applicant, how each was served,
        and the remedy deadlines that run from them. The query code as ``query_code`` (like the
        other public reads) or ``code``."""
        given = query_code or code
        if not given:
            return problem(422, "query_code", "此项为必填项", "missing")
        case = await public_case(request, tracking_number, given)
        if isinstance(case, JSONResponse):
            return case
        return JSONResponse(await service.view(case["_id"], public=True), headers={"Cache-Control": "no-store"})
