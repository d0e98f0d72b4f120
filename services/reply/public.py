"""The applicant's public reads on the reply service: the deadline and how it was computed, and
the reply (PDF), and the material released with it, by tracking number and query code.

Checked exactly like audit's public timeline: the query code is 12 characters of Crockford's
base32, the top 60 bits of HMAC-SHA256(secret, "gongkai-query-code/v2" NUL case id), with the
deployment's secret (``REPLY_QUERY_CODE_SECRET`` = ``INTAKE_QUERY_CODE_SECRET`` =
``AUDIT_QUERY_CODE_SECRET``); a malformed code answers 422 without a look-up, an unknown number
and a wrong code both answer 404 and count as a failed attempt per tracking number and per client
(``servicekit.ratelimit.AttemptLimiter``, counted in the store); once exhausted, 429 with
``Retry-After``: the one gate of ``servicekit.querycode``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from servicekit.http import content_disposition
from servicekit.querycode import NO_MATCH, QueryCodeGate, query_code  # noqa: F401 - the derivation, as tests name it
from servicekit.ratelimit import AttemptLimiter

TrackingNumber = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")]
MaterialId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")]
DocumentId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")]
QueryCode = Annotated[str, Query(min_length=1, max_length=32, description="受理回执上的查询码")]
REFUSALS = {404: {"description": NO_MATCH}, 429: {"description": "查询码错误次数过多（Retry-After）"}}


def public_explanation(explanation: dict[str, Any]) -> dict[str, Any]:
    """The deadline's explanation without the officer who approved an extension."""
    out = dict(explanation)
    ext = out.get("extension")
    if ext:
        approver = ext.get("approver") or ""
        out["extension"] = {k: v for k, v in ext.items() if k != "approver"}
        if approver:
            out["text_zh"] = str(out.get("text_zh", "")).replace(f"负责人{approver}同意", "负责人同意")
    return out



def public_case_lookup(cases: Any, gate: QueryCodeGate) -> Callable[[Request, str, str], Awaitable[dict[str, Any] | JSONResponse]]:  # noqa: ANN401
    """``case_of(request, tracking number, query code)``: the case (reply's ``cases`` document) when
    the code opens it, else the gate's refusal (404 alike for every miss, 429 after too many)."""

    async def case_id_of(number: str) -> str | None:
        doc = await cases.find_one({"tracking_number": number}, {"_id": 1})
        return doc["_id"] if doc else None

    async def case_of(request: Request, tracking_number: str, given: str) -> dict[str, Any] | JSONResponse:
        case_id = await gate.open(request, tracking_number, given, case_id_of)
        if isinstance(case_id, JSONResponse):
            return case_id
        doc = await cases.find_one({"_id": case_id}, {"outbox": 0})
        if doc is None:  # gone between the two reads
            raise HTTPException(404, NO_MATCH)
        return doc

    return case_of

def add_public_routes(app: FastAPI, cases: Any, secret: str, limiter: AttemptLimiter,  # noqa: ANN401
                      deadline_of: Callable[[str], Awaitable[dict[str, Any]]],
                      document_of: Callable[[str], Awaitable[dict[str, Any] | None]],
                      on_pdf: Callable[[dict[str, Any]], Awaitable[None]] | None = None) -> None:
    """``cases`` is the reply service's cases collection (it has each case's tracking number);
    ``on_pdf(case)`` is told of each reply PDF handed to the applicant (a read: feedback.py)."""

    case_of = public_case_lookup(cases, QueryCodeGate(secret, limiter))

    @app.get("/public/cases/{tracking_number}/deadline", tags=["public"], responses=REFUSALS)
    async def public_deadline(request: Request, tracking_number: TrackingNumber, query_code: QueryCode) -> Any:  # noqa: ANN401
        """The applicant's legal deadline and how it was computed, day by day."""
        doc = await case_of(request, tracking_number, query_code)
        if isinstance(doc, JSONResponse):
            return doc
        out = await deadline_of(doc["_id"])
        return {"tracking_number": doc["tracking_number"], "as_of": out["as_of"],
                "workdays_left": out["workdays_left"], "explanation": public_explanation(out["explanation"])}

    @app.get("/public/cases/{tracking_number}/reply.pdf", tags=["public"], response_class=Response,
             responses={200: {"content": {"application/pdf": {}}, "description": "答复书（PDF）"}, **REFUSALS})
    async def public_reply_pdf(request: Request, tracking_number: TrackingNumber, query_code: QueryCode) -> Response:
        """The reply (答复书) as a PDF, once issued and rendered."""
        doc = await case_of(request, tracking_number, query_code)
        if isinstance(doc, JSONResponse):
            return doc
        if not doc.get("reply_issued") or not (doc.get("reply") or {}).get("document_id"):
            raise HTTPException(404, "该申请尚未作出答复")
        rendered = await document_of(doc["reply"]["document_id"])
        if rendered is None or not rendered.get("pdf"):
            raise HTTPException(404, "答复书尚未生成，请稍后重试", headers={"Retry-After": "2"})
        name = f"答复书-{doc['tracking_number']}.pdf"
        if on_pdf is not None:
            await on_pdf(doc)
        return Response(bytes(rendered["pdf"]), media_type="application/pdf",
                        headers={"Content-Disposition": content_disposition("attachment", name)})

    def desk_of(request: Request) -> Any:  # noqa: ANN401 - services.reply.tasks.Desk, set up after these routes
        desk = getattr(request.app.state, "desk", None)
        if desk is None:
            raise HTTPException(503, "服务正在启动，请稍后重试", headers={"Retry-After": "1"})
        return desk

    @app.get("/public/cases/{tracking_number}/materials", tags=["public"], responses=REFUSALS)
    async def public_materials(request: Request, tracking_number: TrackingNumber,
                               query_code: QueryCode) -> Any:  # noqa: ANN401
        """The material released to the applicant with the reply (named by the signed-off answers the
        issued reply carries): name, type, size, SHA-256. Empty before the reply is issued."""
        doc = await case_of(request, tracking_number, query_code)
        if isinstance(doc, JSONResponse):
            return doc
        materials = await desk_of(request).released_materials(doc) if doc.get("reply_issued") else []
        return JSONResponse({"tracking_number": doc["tracking_number"], "materials": materials},
                            headers={"Cache-Control": "no-store"})

    @app.get("/public/cases/{tracking_number}/materials/{material_id}", tags=["public"], response_class=Response,
             responses={200: {"content": {"application/octet-stream": {}}, "description": "已随答复提供的材料文件"},
                        **REFUSALS})
    async def public_material(request: Request, tracking_number: TrackingNumber, material_id: MaterialId,
                              query_code: QueryCode) -> Response:
        """One released material's bytes (exactly the department's upload; ``X-Content-SHA256``)."""
        doc = await case_of(request, tracking_number, query_code)
        if isinstance(doc, JSONResponse):
            return doc
        found = await desk_of(request).released_material(doc, material_id) if doc.get("reply_issued") else None
        if found is None:
            raise HTTPException(404, "未找到该材料，或该材料未随答复提供")
        meta, data = found
        return Response(data, media_type=meta["content_type"], headers={
            "Content-Disposition": content_disposition("attachment", meta["filename"]),
            "X-Content-SHA256": meta["sha256"], "Cache-Control": "no-store"})


def add_document_routes(app: FastAPI, cases: Any, secret: str, limiter: AttemptLimiter,  # noqa: ANN401
                        steps: Any, link_secret: str,  # noqa: ANN401 - services.reply.step_documents.StepDocuments
                        on_document: Callable[[dict[str, Any], str], Awaitable[None]] | None = None) -> None:
    """The documents of a case (issue #11): every step's document, the reply and its amendments.

    - officers (``/cases/{case_id}/documents``, roles in contracts/access.py): the list and each PDF;
    - the applicant (``/public/cases/{tracking_number}/documents``, with the query code): those
      addressed to them (not the letters to the parties consulted);
    - notify (``/service/documents/{document_id}``): one PDF, with a signed link (servicekit.doclinks).

    ``on_document(case, document_id)`` is told of each document's PDF handed to the applicant
    (its service online, services/reply/service_store.py).
    """
    from servicekit import doclinks
    from services.reply.step_documents import pdf_filename

    gate = QueryCodeGate(secret, limiter)

    async def case_id_of(number: str) -> str | None:
        doc = await cases.find_one({"tracking_number": number}, {"_id": 1})
        return doc["_id"] if doc else None

    def pdf_response(d: dict[str, Any], number: str, disposition: str = "attachment") -> Response:
        headers = {"Content-Disposition": content_disposition(disposition, pdf_filename(d, number)),
                   "Cache-Control": "no-store"}
        if d.get("sha256"):
            headers["X-Content-SHA256"] = d["sha256"]
        return Response(bytes(d["pdf"]), media_type="application/pdf", headers=headers)

    async def tracking_number_of(case_id: str) -> str:
        doc = await cases.find_one({"_id": case_id}, {"tracking_number": 1})
        if doc is None:
            raise HTTPException(404, "未找到该案件")
        return doc["tracking_number"]

    @app.get("/cases/{case_id}/documents", tags=["documents"])
    async def case_documents(case_id: DocumentId) -> Any:  # noqa: ANN401
        """Every document of the case issued so far, oldest first: kind, title, id, SHA-256, size."""
        number = await tracking_number_of(case_id)
        return {"case_id": case_id, "tracking_number": number, "documents": await steps.case_documents(case_id)}

    @app.get("/cases/{case_id}/documents/{document_id}", tags=["documents"], response_class=Response,
             responses={200: {"content": {"application/pdf": {}}, "description": "文书（PDF）"}})
    async def case_document(case_id: DocumentId, document_id: DocumentId) -> Response:
        number = await tracking_number_of(case_id)
        d = await steps.pdf(document_id)
        if d is None or d.get("case_id") != case_id:
            raise HTTPException(404, "未找到该文书，或尚未生成")
        return pdf_response(d, number, "inline")

    @app.get("/public/cases/{tracking_number}/documents", tags=["public"], responses=REFUSALS)
    async def public_documents(request: Request, tracking_number: TrackingNumber, query_code: QueryCode) -> Any:  # noqa: ANN401
        """The documents addressed to the applicant (receipt, notices, reply, amendments), oldest first."""
        case_id = await gate.open(request, tracking_number, query_code, case_id_of)
        if isinstance(case_id, JSONResponse):
            return case_id
        docs = [d for d in await steps.case_documents(case_id) if d["addressee"] == "applicant"]
        return JSONResponse({"tracking_number": tracking_number, "documents": docs},
                            headers={"Cache-Control": "no-store"})

    @app.get("/public/cases/{tracking_number}/documents/{document_id}", tags=["public"], response_class=Response,
             responses={200: {"content": {"application/pdf": {}}, "description": "文书（PDF）"}, **REFUSALS})
    async def public_document(request: Request, tracking_number: TrackingNumber, document_id: DocumentId,
                              query_code: QueryCode) -> Response:
        case_id = await gate.open(request, tracking_number, query_code, case_id_of)
        if isinstance(case_id, JSONResponse):
            return case_id
        d = await steps.pdf(document_id)
        if d is None or d.get("case_id") != case_id or d.get("addressee", "applicant") != "applicant":
            raise HTTPException(404, "未找到该文书，或尚未生成")
        if d.get("kind") in ("reply", "amendment") and not any(
                x["document_id"] == document_id for x in await steps.case_documents(case_id)):
            raise HTTPException(404, "未找到该文书，或尚未生成")
        if on_document is not None:
            case = await cases.find_one({"_id": case_id}, {"outbox": 0})
            if case is not None:
                await on_document(case, document_id)
        return pdf_response(d, tracking_number)

    @app.get("/service/documents/{document_id}", tags=["documents"], response_class=Response,
             responses={200: {"content": {"application/pdf": {}}, "description": "文书（PDF），供通知附件"},
                        404: {"description": "未找到该文书（或签名无效、已过期）"}})
    async def service_document(request: Request, document_id: DocumentId) -> Response:
        """One issued document's PDF for notify's attachment: only with a valid signed link."""
        if not doclinks.verify(link_secret, document_id, request.headers.get(doclinks.HEADER)):
            raise HTTPException(404, "未找到该文书")
        d = await steps.pdf(document_id)
        if d is None:
            raise HTTPException(404, "未找到该文书，或尚未生成", headers={"Retry-After": "2"})
        number = await tracking_number_of(d["case_id"])
        return pdf_response(d, number)
