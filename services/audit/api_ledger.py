"""HTTP API of the ledger: checkpoints, the public key, inclusion and consistency proofs, export,
verification. Thin: the work is in merkle, checkpoints, export and the store adapters."""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Path, Query
from fastapi.responses import StreamingResponse

from services.audit import export, keys
from services.audit.checkpoint_log import CheckpointLog, public_doc
from services.audit.checkpoints import note_verifier_key
from services.audit.ledger import Ledger
from services.audit.merkle import ProofError
from servicekit.http import content_disposition
from servicekit.openapi import errors
from servicekit.validation import MAX_INT, problem

TreeSize = Annotated[int, Path(ge=0, le=MAX_INT, description="规模（叶子数）")]
STALE = "检查点与本实例的台账视图不一致，请稍后重试"


def _b64(items: list[bytes]) -> list[str]:
    return [base64.b64encode(x).decode() for x in items]


async def checkpoint_covering(cplog: CheckpointLog, leaf_index: int) -> dict[str, Any]:
    """The latest checkpoint, signing a new one now if the latest does not cover the leaf."""
    latest = await cplog.latest()
    if latest is None or latest["tree_size"] <= leaf_index:
        latest, _ = await cplog.sign_now()
    assert latest is not None
    return latest


def public_key_doc(cplog: CheckpointLog) -> dict[str, Any]:
    pub = cplog.signer.key.public_key()
    return {"algorithm": "Ed25519", "origin": cplog.signer.origin, "key_id": cplog.signer.key_id,
            "public_key_base64": keys.public_b64(pub), "public_key_pem": keys.public_pem(pub),
            "note_verifier_key": note_verifier_key(cplog.signer.origin, pub)}


TAGS: list = ["ledger"]  # the OpenAPI group of these routes


def add_ledger_routes(app: FastAPI, ledger: Ledger, cplog: CheckpointLog) -> None:

    async def checkpoint_at(size: int | None) -> dict[str, Any]:
        doc = await (cplog.latest() if size is None else cplog.at_size(size))
        if doc is None:
            raise HTTPException(404, "没有该规模的签名检查点" if size is not None else "尚无签名检查点")
        return doc

    @app.post("/checkpoints", tags=TAGS, status_code=200)
    async def sign_checkpoint() -> dict[str, Any]:
        doc, created = await cplog.sign_now()
        assert doc is not None
        return {"created": created, "checkpoint": public_doc(doc)}

    @app.get("/checkpoints/latest", tags=TAGS, responses=errors(404))
    async def latest_checkpoint() -> dict[str, Any]:
        return public_doc(await checkpoint_at(None))

    @app.get("/checkpoints/{tree_size}", tags=TAGS)
    async def checkpoint(tree_size: TreeSize) -> dict[str, Any]:
        return public_doc(await checkpoint_at(tree_size))

    @app.get("/public-key", tags=TAGS)
    async def public_key() -> dict[str, Any]:
        return public_key_doc(cplog)

    @app.get("/proofs/inclusion", tags=TAGS, responses=errors(404, 409))
    async def inclusion(event_id: str = Query(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$"),
                        tree_size: int | None = Query(default=None, ge=0, le=MAX_INT)) -> dict[str, Any]:
        entry = await ledger.by_event_id(event_id)
        if entry is None:
            raise HTTPException(404, "台账中没有该事件")
        index = int(entry["_id"]) - 1
        cp = await (checkpoint_covering(cplog, index) if tree_size is None else checkpoint_at(tree_size))
        if cp["tree_size"] <= index:
            raise HTTPException(409, "该检查点不包含此事件（事件在检查点之后记入）")
        tree = await ledger.tree()
        try:
            proof = tree.inclusion_proof(index, cp["tree_size"])
        except ProofError:
            raise HTTPException(409, STALE) from None
        return {"event_id": event_id, "leaf_index": index, "tree_size": cp["tree_size"],
                "leaf_hash": base64.b64encode(tree.leaf(index)).decode(),
                "proof": _b64(proof), "checkpoint": public_doc(cp)}

    @app.get("/proofs/consistency", tags=TAGS, responses=errors(404, 409))
    async def consistency(first: int = Query(ge=1, le=MAX_INT),
                          second: int | None = Query(default=None, ge=1, le=MAX_INT)) -> Any:  # noqa: ANN401
        cp1, cp2 = await checkpoint_at(first), await checkpoint_at(second)
        if cp2["tree_size"] < first:
            return problem(422, "second", "第二个检查点的规模不能小于第一个")
        tree = await ledger.tree()
        try:
            proof = tree.consistency_proof(first, cp2["tree_size"])
        except ProofError:
            raise HTTPException(409, STALE) from None
        return {"first": first, "second": cp2["tree_size"], "proof": _b64(proof),
                "first_checkpoint": public_doc(cp1), "second_checkpoint": public_doc(cp2)}

    @app.get("/ledger/export", tags=TAGS, response_class=StreamingResponse,
             responses={200: {"content": {"application/json": {}}}, **errors(404)})
    async def export_ledger(tree_size: int | None = Query(default=None, ge=0, le=MAX_INT)) -> StreamingResponse:
        """The whole ledger up to a checkpoint (default: a checkpoint of the tree as it is now), in
        the gongkai-ledger-export/1 format (services/audit/export.py), streamed: entries are read
        from the store in batches and sent as they come, never held in memory all at once."""
        if tree_size is None:
            cp, _ = await cplog.sign_now()
        else:
            cp = await checkpoint_at(tree_size)
        assert cp is not None
        earlier = [n for n in await cplog.notes() if n != cp["note"]]

        async def entries():  # noqa: ANN202
            async for d in ledger.iter_entries(limit=cp["tree_size"]):
                yield export.entry(d)

        name = f"ledger-{cp['tree_size']}.json"
        return StreamingResponse(export.stream(cp["origin"], cp["note"], earlier, entries()),
                                 media_type="application/json",
                                 headers={"Content-Disposition": content_disposition("attachment", name)})

    @app.get("/ledger/verify", tags=TAGS)
    async def verify() -> dict[str, Any]:
        v = await ledger.verify(await cplog.all_roots())
        bad = v.first_bad_leaf
        return {"ok": v.ok, "checked": v.checked, "first_bad_seq": v.first_bad_seq, "reason": v.reason,
                "first_bad_leaf": None if bad is None else {"index": bad.index, "event_id": bad.event_id,
                                                             "reason": bad.reason}}

