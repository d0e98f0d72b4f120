"""HTTP API of cases: the officers' timeline, the applicant's timeline, the case file (zip)."""

from __future__ import annotations

import json
import math
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Path, Query, Request
from fastapi.responses import Response

from services.audit import casefile, keys
from services.audit.api_ledger import checkpoint_covering
from services.audit.checkpoint_log import CheckpointLog
from services.audit.checkpoints import note_verifier_key
from services.audit.ledger import Ledger
from services.audit.public_timeline import applicant_view, code_matches, normalise_query_code
from services.audit.timeline import causal_order
from servicekit.http import content_disposition
from servicekit.ratelimit import AttemptLimiter
from servicekit.validation import problem

CaseId = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")]
TrackingNumber = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")]
BAD_FORMAT = "查询码格式不正确：应为受理回执上的 12 位字母和数字（不含 I、L、O、U）"
NO_MATCH = "受理编号或查询码不正确"


def client_of(request: Request) -> str:
    """The client's address as the server saw it (behind a proxy: what uvicorn's trusted
    ``--forwarded-allow-ips`` made of it; never a header the client sets itself)."""
    return request.client.host if request.client else "unknown"


TAGS: list = ["cases"]  # the OpenAPI group of these routes


def add_cases_routes(app: FastAPI, ledger: Ledger, cplog: CheckpointLog, query_code_secret: str,
                     limiter: AttemptLimiter) -> None:

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

    @app.get("/public/cases/{tracking_number}/timeline", tags=TAGS)
    async def public_timeline(request: Request, tracking_number: TrackingNumber,
                              query_code: str = Query(min_length=1, max_length=32)) -> Any:  # noqa: ANN401
        """The applicant's view: tracking number and query code, no internal details. Failed
        attempts are limited per tracking number and per client (429 with Retry-After)."""
        code = normalise_query_code(query_code)
        if code is None:  # a format error: nothing is looked up, nothing is counted
            return problem(422, "query_code", BAD_FORMAT, "string_pattern_mismatch")
        number = tracking_number.upper()
        keys = [("tracking", number), ("client", client_of(request))]
        allowed, retry_after = await limiter.check(keys)
        if not allowed:
            raise HTTPException(429, f"查询码错误次数过多，请约 {math.ceil(retry_after / 60)} 分钟后再试",
                                headers={"Retry-After": str(retry_after)})
        case_id = await ledger.case_of_tracking_number(number)
        # Unknown number and wrong code answer alike (and take the same work): nothing to learn by
        # trying numbers; each failure counts against the number and the client.
        matches = code_matches(query_code_secret, case_id or "\x00unknown", code)
        if case_id is None or not matches:
            await limiter.hit(keys)
            raise HTTPException(404, NO_MATCH)
        events = [json.loads(e["value"]) for e in await ordered(case_id, with_value=True)]
        return applicant_view(number, events)

    @app.get("/cases/{case_id}/file", tags=TAGS, response_class=Response,
             responses={200: {"content": {"application/zip": {}}}})
    async def case_file(case_id: CaseId) -> Response:
        """The case file (一案一档): events, documents, inclusion proofs, checkpoint, public key."""
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
                               events=items)
        name = f"case-{tracking or case_id}.zip"
        return Response(casefile.to_zip(files), media_type="application/zip",
                        headers={"Content-Disposition": content_disposition("attachment", name)})

