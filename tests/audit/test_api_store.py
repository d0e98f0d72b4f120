"""The audit HTTP API over the real store: proofs, checkpoints, case file (verified offline, and
altered copies rejected with the first bad leaf named), the applicant's timeline."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import zipfile

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.audit import checkpoints
from services.audit.keys import public_from_text
from services.audit.merkle import leaf_hash, verify_consistency, verify_inclusion
from services.audit.verify import verify_case_file
from tests.audit.factory import case_events, raw
from tests.audit.service import SECRET, audit_service


@pytest.fixture
async def svc(store, monkeypatch):  # noqa: ANN001, ANN201 - the built service with three cases recorded
    async with audit_service(store.url, monkeypatch) as s:
        for n in (1, 2, 3):
            for i, (topic, ev) in enumerate(case_events(n)):
                await s.ledger.append(ev, raw(ev), topic, 0, i)
        yield s


@pytest.fixture
def client(svc):  # noqa: ANN001, ANN201 - an auditor's client
    return svc.http


@pytest.fixture
def ledger(svc):  # noqa: ANN001, ANN201
    return svc.ledger


@pytest.fixture
def signing_key(svc):  # noqa: ANN001, ANN201
    return svc.signing_key


def _b(s: str) -> bytes:
    return base64.b64decode(s)


async def test_public_key_in_every_format_is_the_signing_key(client, signing_key):
    body = (await client.get("/public-key")).json()
    pub = signing_key.public_key()
    for field in ("public_key_pem", "public_key_base64", "note_verifier_key"):
        assert public_from_text(body[field]) == pub
    assert body["note_verifier_key"].startswith("gongkai.audit/test-agency+" + body["key_id"] + "+")


async def test_inclusion_proof_of_an_event_signs_a_checkpoint_when_needed(client, ledger, signing_key):
    assert (await client.get("/checkpoints/latest")).status_code == 404
    event_id = case_events(2)[7][1].id  # the reply of case 2: leaf 9 + 7 = 16
    body = (await client.get("/proofs/inclusion", params={"event_id": event_id})).json()
    assert body["leaf_index"] == 16 and body["tree_size"] == 27
    cp = checkpoints.verify(body["checkpoint"]["note"], signing_key.public_key())
    assert cp.tree_size == 27
    assert _b(body["leaf_hash"]) == leaf_hash(raw(case_events(2)[7][1]))
    assert verify_inclusion(16, 27, _b(body["leaf_hash"]), [_b(p) for p in body["proof"]], cp.root_hash)
    assert not verify_inclusion(15, 27, _b(body["leaf_hash"]), [_b(p) for p in body["proof"]], cp.root_hash)
    assert (await client.get("/proofs/inclusion", params={"event_id": "nope"})).status_code == 404
    assert (await client.get("/checkpoints/latest")).json()["tree_size"] == 27


async def test_consistency_between_two_checkpoints(client, ledger, signing_key):
    first = (await client.post("/checkpoints")).json()
    assert first["created"] and first["checkpoint"]["tree_size"] == 27
    assert (await client.post("/checkpoints")).json()["created"] is False
    for i, (topic, ev) in enumerate(case_events(4)):
        await ledger.append(ev, raw(ev), topic, 0, i)
    second = (await client.post("/checkpoints")).json()["checkpoint"]
    body = (await client.get("/proofs/consistency", params={"first": 27})).json()
    assert (body["first"], body["second"]) == (27, 36) == (27, second["tree_size"])
    pub = signing_key.public_key()
    r1 = checkpoints.verify(body["first_checkpoint"]["note"], pub).root_hash
    r2 = checkpoints.verify(body["second_checkpoint"]["note"], pub).root_hash
    assert verify_consistency(27, 36, r1, r2, [_b(p) for p in body["proof"]])
    assert (await client.get("/proofs/consistency", params={"first": 5})).status_code == 404  # not a checkpoint


async def _case_file(client) -> dict[str, bytes]:
    resp = await client.get("/cases/case-00002/file")
    assert resp.status_code == 200 and resp.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(resp.content)) as z:
        return {n: z.read(n) for n in z.namelist()}


async def test_case_file_verifies_alone(client, signing_key):
    files = await _case_file(client)
    manifest = json.loads(files["manifest.json"])
    assert manifest["case_id"] == "case-00002" and manifest["tracking_number"] == "YN-20260302-00002"
    assert len(manifest["events"]) == 9
    assert [e["type"].split(".")[2] for e in manifest["events"]][0] == "application"
    assert sorted(e["index"] for e in manifest["events"]) == list(range(9, 18))
    reply = next(d for d in manifest["documents"] if d["field"] == "data.document_text")
    assert files[reply["file"]].decode() == "YN-20260302-00002 答复书：经审查，决定disclosed。"
    assert "README.md" in files and "如何验证" in files["README.md"].decode()
    assert public_from_text(files["public-key.pem"].decode()) == signing_key.public_key()
    result = verify_case_file(files, signing_key.public_key())
    assert result.ok, result.message


async def test_altered_event_in_a_case_file_is_named(client, signing_key):
    files = await _case_file(client)
    manifest = json.loads(files["manifest.json"])
    target = manifest["events"][4]
    files[target["file"]] = files[target["file"]].replace(b'"time":"2026', b'"time":"2025', 1)
    result = verify_case_file(files, signing_key.public_key())
    assert not result.ok and (result.bad_index, result.bad_event_id) == (target["index"], target["event_id"])


async def test_altered_document_in_a_case_file_is_named(client, signing_key):
    files = await _case_file(client)
    reply = next(d for d in json.loads(files["manifest.json"])["documents"] if d["field"] == "data.document_text")
    files[reply["file"]] = "答复书：决定不予公开。".encode()
    result = verify_case_file(files, signing_key.public_key())
    assert not result.ok and reply["file"] in result.message and result.bad_event_id == reply["event_id"]


async def test_case_file_with_a_checkpoint_signed_by_another_key_is_rejected(client, signing_key):
    files = await _case_file(client)
    cp, _, _ = checkpoints.parse(files["checkpoint.txt"].decode())
    forged = checkpoints.sign(cp, Ed25519PrivateKey.generate())  # same tree, someone else's key
    files["checkpoint.txt"] = forged.encode()
    result = verify_case_file(files, signing_key.public_key())
    assert not result.ok and "签名无效" in result.message


CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _code(case_id: str) -> str:
    """The query code as the receipt prints it, derived here from its definition: the top 60 bits of
    HMAC-SHA256(secret, "gongkai-query-code/v2" NUL case id), 12 Crockford base32 digits."""
    d = hmac.new(SECRET.encode(), b"gongkai-query-code/v2\x00" + case_id.encode(), hashlib.sha256).digest()
    bits = format(int.from_bytes(d[:8], "big"), "064b")[:60]
    return "".join(CROCKFORD[int(bits[i:i + 5], 2)] for i in range(0, 60, 5))


async def test_applicant_timeline_needs_the_query_code_and_hides_internals(client):
    url = "/public/cases/YN-20260302-00001/timeline"
    assert (await client.get(url, params={"query_code": _code("case-00002")})).status_code == 404
    assert (await client.get("/public/cases/YN-19990101-00001/timeline", params={"query_code": "0" * 12})).status_code == 404
    # As typed: lower case, grouped with hyphens.
    typed = _code("case-00001").lower()
    resp = await client.get(url, params={"query_code": f"{typed[:4]}-{typed[4:8]}-{typed[8:]}"})
    assert resp.status_code == 200
    body = resp.json()
    assert body["status"] == "已办结"
    steps = [s["step"] for s in body["steps"]]
    assert steps[0] == "申请已登记" and "已作出答复" in steps and steps[-1] == "已发送答复通知"
    assert steps.count("承办部门已接收") == 2
    text = json.dumps(body, ensure_ascii=False)
    for internal in ("/gongkai/", "gongkai.", "keyword:", "内部审核意见", "causationid", "source", "topic"):
        assert internal not in text, internal
    reply = next(s for s in body["steps"] if s["step"] == "已作出答复")
    assert reply["document"].startswith("YN-20260302-00001 答复书") and "予以公开" in reply["detail"]


async def test_officer_timeline_keeps_its_shape(client):
    body = (await client.get("/cases/case-00001/timeline")).json()
    assert [e["seq"] for e in body["events"]][0] == 1
    assert set(body["events"][0]) >= {"seq", "id", "type", "source", "time", "causationid", "topic"}
    assert (await client.get("/cases/none/timeline")).status_code == 404


async def test_export_and_verify_endpoints(client, signing_key):
    from services.audit.verify import verify_export
    doc = (await client.get("/ledger/export")).json()
    assert len(doc["entries"]) == 27 and verify_export(doc, signing_key.public_key()).ok
    assert (await client.get("/ledger/verify")).json()["ok"] is True


async def test_statistics_endpoints_over_recorded_events(client):
    body = (await client.get("/statistics/annual", params={"year": 2026})).json()
    rows = {r["row"]: r["values"] for r in body["rows"]}
    assert rows["一、本年新收政府信息公开申请数量"] == [3, 0, 0, 0, 0, 0, 3]
    assert rows["三、本年度办理结果 （一）予以公开"] == [3, 0, 0, 0, 0, 0, 3]
    assert rows["四、结转下年度继续办理"] == [0] * 7 and body["self_check_errors"] == []
    csv_resp = await client.get("/statistics/annual", params={"year": 2026, "format": "csv"})
    assert csv_resp.headers["content-type"].startswith("text/csv") and "自然人" in csv_resp.content.decode("utf-8-sig")
    xlsx = await client.get("/statistics/annual", params={"year": 2026, "format": "xlsx"})
    assert xlsx.content[:2] == b"PK"
    heat = await client.get("/statistics/heatmap", params={"year": 2026})
    assert heat.status_code == 200 and "rst部门" in heat.text
    heat = await client.get("/statistics/heatmap", params={"year": 2026, "by": "subject"})
    assert "<th>预算</th>" in heat.text and "<td>3</td></tr>" in heat.text  # 3 cases in the year
    q = (await client.get("/statistics/quarterly", params={"year": 2026})).json()["quarters"]
    assert [x["received"] for x in q] == [3, 0, 0, 0]
    ot = (await client.get("/statistics/on-time", params={"year": 2026})).json()
    assert (ot["unknown"], ot["rate"]) == (3, None)  # reply.issued carries no deadline yet
    groups = (await client.get("/statistics/repeated-requests")).json()["groups"]
    assert len(groups) == 1 and groups[0]["applicants"] == 3  # same description, three applicants


async def test_officers_find_a_case_by_its_tracking_number(client):
    # As typed at the window: lower case, with spaces around.
    body = (await client.get("/tracking-numbers/yn-20260302-00001")).json()
    assert body == {"tracking_number": "YN-20260302-00001", "case_id": "case-00001"}
    missing = await client.get("/tracking-numbers/YN-19990101-00001")
    assert missing.status_code == 404 and missing.json()["detail"] == "未找到该受理编号的案件"
    assert (await client.get("/tracking-numbers/YN%2F..")).status_code in (404, 422)
