"""HTTP API of cases: the officers' timeline, the applicant's timeline, the case file (zip)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import Response

from services.audit import casefile, keys
from services.audit.api_ledger import checkpoint_covering
from services.audit.checkpoint_log import CheckpointLog
from services.audit.checkpoints import note_verifier_key
from services.audit.ledger import Ledger
from services.audit.public_timeline import applicant_view, code_matches
from services.audit.timeline import causal_order


def cases_router(ledger: Ledger, cplog: CheckpointLog, query_code_secret: str) -> APIRouter:
    r = APIRouter(tags=["cases"])

    async def ordered(case_id: str, with_value: bool = False) -> list[dict[str, Any]]:
        entries = await ledger.case_events(case_id, with_value=with_value)
        if not entries:
            raise HTTPException(404, "未找到该案件的记录")
        return causal_order([{**e, "id": e["event_id"]} for e in entries])

    @r.get("/cases/{case_id}/timeline")
    async def timeline(case_id: str) -> dict[str, Any]:
        """Every event of a case in causal order, for officers."""
        return {"case_id": case_id, "events": [
            {"seq": e["_id"], "leaf_index": int(e["_id"]) - 1, "id": e["event_id"], "type": e["type"],
             "source": e["source"], "time": e["time"].isoformat(), "causationid": e["causationid"],
             "topic": e["topic"]}
            for e in await ordered(case_id)]}

    @r.get("/public/cases/{tracking_number}/timeline")
    async def public_timeline(tracking_number: str, query_code: str = Query(min_length=1, max_length=16)) -> dict[str, Any]:
        """The applicant's view: tracking number and query code, no internal details."""
        case_id = await ledger.case_of_tracking_number(tracking_number)
        # Unknown number and wrong code answer alike: nothing to learn by trying numbers.
        if case_id is None or not code_matches(query_code_secret, case_id, query_code):
            raise HTTPException(404, "受理编号或查询码不正确")
        events = [json.loads(e["value"]) for e in await ordered(case_id, with_value=True)]
        return applicant_view(tracking_number, events)

    @r.get("/cases/{case_id}/file", response_class=Response,
           responses={200: {"content": {"application/zip": {}}}})
    async def case_file(case_id: str) -> Response:
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
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})

    return r
