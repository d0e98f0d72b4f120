"""HTTP API of cases: the officers' timeline, the applicant's timeline, the case file (zip)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import httpx

from fastapi import FastAPI, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from services.audit import casefile, keys
from services.audit.api_ledger import checkpoint_covering
from services.audit.checkpoint_log import CheckpointLog
from services.audit.checkpoints import note_verifier_key
from services.audit.ledger import Ledger
from services.audit.public_timeline import applicant_view
from services.audit.timeline import causal_order
from servicekit.http import content_disposition
from servicekit.querycode import QueryCodeGate
from servicekit.ratelimit import AttemptLimiter

CaseId = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")]
TrackingNumber = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")]
TAGS: list = ["cases"]  # the OpenAPI group of these routes


def add_cases_routes(app: FastAPI, ledger: Ledger, cplog: CheckpointLog, query_code_secret: str,
                     limiter: AttemptLimiter, reply_url: str = "") -> None:
    gate = QueryCodeGate(query_code_secret, limiter)

    async def document_pdfs(request: Request, case_id: str, events: list[dict[str, Any]]) -> dict[str, bytes]:
        """The PDF of each issued document, from the reply service that stores it, asked with the
        auditor's own token (the reply service checks it again). One it does not give is missing."""
        wanted = [d.get("document_id") for d in casefile.issued_documents(events) if d.get("document_id")]
        auth = request.headers.get("authorization")
        if not wanted or not reply_url or not auth:
            return {}
        out: dict[str, bytes] = {}
        async with httpx.AsyncClient(timeout=30, trust_env=False) as http:
            for document_id in wanted:
                try:
                    resp = await http.get(f"{reply_url.rstrip('/')}/cases/{case_id}/documents/{document_id}",
                                          headers={"Authorization": auth})
                except httpx.HTTPError:
                    continue
                if resp.status_code == 200:
                    out[document_id] = resp.content
        return out

    async def ordered(case_id: str, with_value: bool = False) -> list[dict[str, Any]]:
        entries = await ledger.case_events(case_id, with_value=with_value)
        if not entries:
            raise HTTPException(404, "未找到该案件的记录")
        return causal_order([{**e, "id": e["event_id"]} for e in entries])

    @app.get("/cases/{case_id}/timeline", tags=TAGS)
    async def timeline(case_id: CaseId) -> dict[str, Any]:
        """Every event of a case in causal order, for officers."""
        return {"case_id": case_id, "events": [
            {"seq": e["_id"], "leaf_index": int(e["_id"]) - 1, "id": e["event_id"], "type": e["type"],
             "source": e["source"], "time": e["time"].isoformat(), "causationid": e["causationid"],
             "topic": e["topic"]}
            for e in await ordered(case_id)]}

    @app.get("/tracking-numbers/{tracking_number}", tags=TAGS)
    async def find_case(tracking_number: TrackingNumber) -> dict[str, Any]:
        """The case a tracking number names (officers look a case up by the number on the receipt)."""
        number = tracking_number.strip().upper()
        case_id = await ledger.case_of_tracking_number(number)
        if case_id is None:
            raise HTTPException(404, "未找到该受理编号的案件")
        return {"tracking_number": number, "case_id": case_id}

    @app.get("/public/cases/{tracking_number}/timeline", tags=TAGS)
    async def public_timeline(request: Request, tracking_number: TrackingNumber,
                              query_code: str = Query(min_length=1, max_length=32)) -> Any:  # noqa: ANN401
        """The applicant's view: tracking number and query code, no internal details. Failed
        attempts are limited per tracking number and per client (429 with Retry-After)."""
        case_id = await gate.open(request, tracking_number, query_code, ledger.case_of_tracking_number)
        if isinstance(case_id, JSONResponse):
            return case_id
        events = [json.loads(e["value"]) for e in await ordered(case_id, with_value=True)]
        return applicant_view(tracking_number.upper(), events)

    @app.get("/cases/{case_id}/file", tags=TAGS, response_class=Response,
             responses={200: {"content": {"application/zip": {}}}})
    async def case_file(case_id: CaseId, request: Request) -> Response:
        """The case file (一案一档): events, documents (texts and every issued PDF), inclusion proofs,
        checkpoint, public key."""
        events = await ordered(case_id, with_value=True)
        cp = await checkpoint_covering(cplog, max(int(e["_id"]) - 1 for e in events))
        tree = await ledger.tree()
        size = cp["tree_size"]
        items = [{"index": int(e["_id"]) - 1, "event_id": e["event_id"], "value": e["value"],
                  "leaf_hash": tree.leaf(int(e["_id"]) - 1).hex(),
                  "proof": tree.inclusion_proof(int(e["_id"]) - 1, size)} for e in events]
        pub = cplog.signer.key.public_key()
        tracking = next((e.get("tracking_number") for e in events if e.get("tracking_number")), None)
        files = casefile.build(case_id=case_id, tracking_number=tracking, origin=cp["origin"],
                               checkpoint_note=cp["note"], tree_size=size, public_key_pem=keys.public_pem(pub),
                               public_key_text=f"{keys.public_b64(pub)}\n{note_verifier_key(cp['origin'], pub)}\n",
                               events=items, pdfs=await document_pdfs(request, case_id, events))
        name = f"case-{tracking or case_id}.zip"
        return Response(casefile.to_zip(files), media_type="application/zip",
                        headers={"Content-Disposition": content_disposition("attachment", name)})

