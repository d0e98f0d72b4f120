"""Issue #11 end to end: every procedural step produces its document. A case goes through every
step — receipt, correction requested and received, extension, third-party and agency consultations,
fee notice, reply, amendment — and abandonment and referral end two more cases. For each step the
reply service renders its document: it is listed with the case, in the case file (一案一档) with its
SHA-256 as the ledger has it (the case file verifies offline), addressed to the applicant by name,
and the applicant's e-mail at the real SMTP sink carries it as a PDF attachment with the same bytes.
No event on a shared topic carries the applicant's name or address."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import subprocess
import zipfile
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from contracts import topics
from services.audit.keys import public_from_text
from services.audit.verify import verify_case_file
from tests.e2e.helpers import AUDITOR, OGI, OGI_HEAD, Client, eventually, events_of, mails_for, tag

pytestmark = pytest.mark.e2e

NAME = "欧阳明远"
ADDRESS = "云南省昆明市五华区翠湖南路8号"
OUT = Path("/tmp/gongkai-step-documents")  # the PDFs as received, to look at (pdftoppm -png -r 60)
STEP_KINDS = ["acceptance_receipt", "correction_notice", "extension_notice", "consultation_third_party",
              "consultation_agency", "fee_notice", "consolidated_reply", "reply_amendment"]
# The notices to the applicant and the document each carries.
MAILED = {"received": "acceptance_receipt", "补正": "correction_notice", "延期": "extension_notice",
          "缴费": "fee_notice"}


def body(t: str, name: str = NAME) -> dict[str, Any]:
    return {"applicant": {"name": name, "id_number": "11010519491231002X"},
            "contact": {"email": f"{t}@example.com", "phone": "13800138000", "address": ADDRESS},
            "description": "请公开某村2025年征地补偿标准、年度部门预算及某河段的水质监测数据"}


def pdf_text(pdf: bytes) -> str:
    out = subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True).stdout
    return re.sub(r"\s+", "", out.decode("utf-8"))


async def documents(client: Client, case_id: str) -> list[dict[str, Any]]:
    resp = await client.get("reply", f"/cases/{case_id}/documents", as_user=OGI)
    assert resp.status_code == 200, resp.text
    return resp.json()["documents"]


async def wait_kinds(client: Client, case_id: str, kinds: list[str], timeout: float = 90) -> list[dict[str, Any]]:
    async def probe() -> list[dict[str, Any]] | None:
        docs = await documents(client, case_id)
        return docs if set(kinds) <= {d["kind"] for d in docs} else None
    return await eventually(probe, timeout, every=1.0, what=f"documents {kinds} of {case_id}")


async def no_name_on_shared_topics(client: Client, case_id: str, *names: str) -> None:
    """Every event of the case on every shared topic: neither the applicant's name nor address."""
    for spec in topics.STATIC_TOPICS:
        if spec.restricted:
            continue
        for e in await events_of(client.stack.cfg.kafka_bootstrap, spec.name, case_id):
            raw = json.dumps(e, ensure_ascii=False)
            for what in (*names, ADDRESS):
                assert what not in raw, f"{what} on {spec.name} in {e['type']}"


async def mails_with(mail, address: str, n: int) -> list[dict[str, Any]]:  # noqa: ANN001
    async def probe() -> list[dict[str, Any]] | None:
        got = mails_for(mail, address)
        return got if len(got) >= n else None
    return await eventually(probe, 120, every=1.0, what=f"{n} e-mails to {address}")


async def test_every_step_of_a_case_produces_its_document(stack, mail) -> None:
    client = Client(stack)
    t = tag()
    address = f"{t}@example.com"
    accepted = await client.submit(body(t))
    case_id, number = accepted["case_id"], accepted["tracking_number"]
    routing = await client.routing(case_id)
    departments = [task["dept_code"] for task in routing["tasks"]]
    assert len(departments) >= 2, "the description names several departments' information"

    async def clock() -> dict | None:
        resp = await client.get("reply", f"/cases/{case_id}/deadline")
        return resp.json() if resp.status_code == 200 else None
    await eventually(clock, 60, what="the case's clock")

    received_on = date.fromisoformat(accepted["received_on"])
    due_on = received_on + timedelta(days=14)
    items = ["请写明所需征地补偿标准对应的村组名称"]
    steps = [
        ("reply", f"/cases/{case_id}/correction", OGI, {"items": items, "due_on": due_on.isoformat()}),
        ("reply", f"/cases/{case_id}/correction/received", OGI, {}),
        ("reply", f"/cases/{case_id}/extension", OGI_HEAD, {"days": 10, "reason": "需要调取多个部门的档案材料"}),
        ("reply", f"/cases/{case_id}/consultations", OGI, {"party_kind": "third_party", "party": "某某建设有限公司"}),
        ("reply", f"/cases/{case_id}/consultations", OGI, {"party_kind": "other_agency", "party": "某市自然资源和规划局"}),
        ("reply", f"/cases/{case_id}/consultations/1/end", OGI, {"end": "answered"}),
        ("reply", f"/cases/{case_id}/consultations/2/end", OGI, {"end": "answered"}),
        ("intake", f"/applications/{case_id}/fee-notice", OGI, {"pages": 150}),
    ]
    for service, path, user, payload in steps:
        resp = await client.post(service, path, as_user=user, json=payload)
        assert resp.status_code == 201, (path, resp.text)

    # Every department but the last answers; the OGI office closes the case (the reply is issued
    # with the answer missing); the last one's answer is then an amendment.
    *first, last = departments
    for dept in first:
        task = await client.wait_task_open(case_id, dept)
        assert (await client.answer(task["task_id"], dept, "disclosed", text=f"{dept}的答复内容")).status_code == 201
    resp = await client.post("reply", f"/cases/{case_id}/close", as_user=OGI, json={"reason": "部门逾期未答复，先行答复"})
    assert resp.status_code == 200, resp.text
    await client.reply(case_id)
    task = await client.wait_task_open(case_id, last)
    assert (await client.answer(task["task_id"], last, "disclosed", text=f"{last}的补充答复")).status_code in (200, 201)

    docs = await wait_kinds(client, case_id, STEP_KINDS, 120)
    by_kind = {d["kind"]: d for d in docs}
    assert [d["kind"] for d in docs if d["kind"] in STEP_KINDS].count("acceptance_receipt") == 1

    # The ledger names each one (document.issued on the shared, audited topic), with its hash.
    issued = {e["data"]["document_id"]: e["data"]
              for e in await events_of(stack.cfg.kafka_bootstrap, topics.DOCUMENTS_ISSUED.name, case_id)}
    for kind in STEP_KINDS:
        d = by_kind[kind]
        assert issued[d["document_id"]]["sha256"] == d["sha256"] and issued[d["document_id"]]["kind"] == kind

    # Each PDF as stored: its hash, addressed by name (the letters to the parties consulted name the party).
    OUT.mkdir(parents=True, exist_ok=True)
    pdfs: dict[str, bytes] = {}
    for kind in STEP_KINDS:
        resp = await client.get("reply", f"/cases/{case_id}/documents/{by_kind[kind]['document_id']}", as_user=OGI)
        assert resp.status_code == 200 and resp.headers["content-type"] == "application/pdf", resp.text
        pdfs[kind] = resp.content
        assert hashlib.sha256(resp.content).hexdigest() == by_kind[kind]["sha256"]
        (OUT / f"{kind}.pdf").write_bytes(resp.content)
        text = pdf_text(resp.content)
        assert number in text, kind
        if kind.startswith("consultation"):
            assert NAME not in text and ("某某建设有限公司" in text or "某市自然资源和规划局" in text)
        else:
            assert NAME in text, kind
    assert items[0] in pdf_text(pdfs["correction_notice"])
    assert "需要调取多个部门的档案材料" in pdf_text(pdfs["extension_notice"])

    # The case file (一案一档): every document in it, its bytes = the ledger's hash; verifies offline.
    audit = stack.cfg.url("audit")
    await eventually(lambda: _timeline_has(client, case_id, len(issued)), 60, what="document.issued in the ledger")
    assert (await client.http.post(f"{audit}/checkpoints", headers=client.auth(AUDITOR))).status_code == 200
    resp = await client.http.get(f"{audit}/cases/{case_id}/file", headers=client.auth(AUDITOR))
    assert resp.status_code == 200, resp.text
    with zipfile.ZipFile(io.BytesIO(resp.content)) as z:
        files = {n: z.read(n) for n in z.namelist()}
    manifest = json.loads(files["manifest.json"])
    in_file = {d["kind"]: d for d in manifest["issued_documents"]}
    assert set(STEP_KINDS) <= set(in_file)
    for kind in STEP_KINDS:
        assert not in_file[kind]["missing"] and files[in_file[kind]["file"]] == pdfs[kind]
    key = public_from_text((await client.http.get(f"{audit}/public-key")).json()["public_key_pem"])
    result = verify_case_file(files, key)
    assert result.ok, result.message
    assert "份文书与台账所记哈希一致" in result.message
    # A document altered in the file is found.
    victim = in_file["fee_notice"]["file"]
    assert not verify_case_file({**files, victim: files[victim] + b"%"}, key).ok

    # The applicant's e-mails carry each notice's document as a PDF attachment, the same bytes.
    mails = await mails_with(mail, address, 6)
    wanted = {**{k: v for k, v in MAILED.items()}}

    def carried(m: dict[str, Any]) -> list[bytes]:
        return [base64.b64decode(a["data"]) for a in m.get("attachments") or [] if a["content_type"] == "application/pdf"]

    async def all_attached() -> bool:
        got = mails_for(mail, address)
        hashes = {hashlib.sha256(b).hexdigest() for m in got for b in carried(m)}
        return {by_kind[k]["sha256"] for k in (*wanted.values(), "consolidated_reply", "reply_amendment")} <= hashes
    await eventually(all_attached, 120, every=1.0, what="every notice's attachment")
    mails = mails_for(mail, address)
    for m in mails:
        for i, pdf in enumerate(carried(m)):
            (OUT / f"mail-{m['message_id'].strip('<>').split('@')[0][:12]}-{i}.pdf").write_bytes(pdf)
            assert NAME in pdf_text(pdf)
    [fee_mail] = [m for m in mails if "缴费" in m["subject"]]
    assert [hashlib.sha256(b).hexdigest() for b in carried(fee_mail)] == [by_kind["fee_notice"]["sha256"]]
    assert all(a["filename"].endswith(".pdf") for m in mails for a in m.get("attachments") or [])

    # The applicant's public list (query code) has those addressed to them, not the consultation letters.
    await no_name_on_shared_topics(client, case_id, NAME)
    await client.close()


async def _timeline_has(client: Client, case_id: str, n: int) -> bool:
    resp = await client.get("audit", f"/cases/{case_id}/timeline", as_user=AUDITOR)
    return resp.status_code == 200 and sum(
        1 for e in resp.json()["events"] if e["type"] == "cn.gongkai.document.issued.v1") >= n


async def test_abandonment_and_referral_end_their_cases_with_their_notices(stack, mail) -> None:
    client = Client(stack)
    # Abandoned: a registered letter signed for three weeks ago, a correction never made in time.
    t1 = tag()
    signed_on = date.today() - timedelta(days=21)
    resp = await client.post("intake", "/clerk/applications", as_user=OGI,
                             json={**body(t1, "司马青云"), "channel": "registered_mail", "signed_on": signed_on.isoformat()})
    assert resp.status_code == 201, resp.text
    abandoned_case = resp.json()["case_id"]
    await client.routing(abandoned_case)

    async def clock() -> dict | None:
        r = await client.get("reply", f"/cases/{abandoned_case}/deadline")
        return r.json() if r.status_code == 200 else None
    await eventually(clock, 60, what="the case's clock")
    resp = await client.post("reply", f"/cases/{abandoned_case}/correction", as_user=OGI, json={
        "items": ["请写明所需信息的名称或文号"], "issued_on": (signed_on + timedelta(days=1)).isoformat(),
        "due_on": (signed_on + timedelta(days=8)).isoformat()})
    assert resp.status_code == 201, resp.text

    # Referred: the whole case is another agency's.
    t2 = tag()
    referred = await client.submit(body(t2, "诸葛文博"))
    referred_case = referred["case_id"]
    await client.routing(referred_case)
    resp = await client.post("routing", f"/cases/{referred_case}/referral", as_user=OGI, json={
        "target_agency_name": "某县人民政府", "target_contact": {"address": "某县人民路1号", "phone": "0871-1234567"},
        "reason": "所申请信息由某县人民政府制作并保存"})
    assert resp.status_code == 200, resp.text

    # The clock's sweep deems the first abandoned (its correction is overdue).
    docs = await wait_kinds(client, abandoned_case, ["acceptance_receipt", "correction_notice", "abandonment_notice"], 150)
    abandonment = next(d for d in docs if d["kind"] == "abandonment_notice")
    pdf = (await client.get("reply", f"/cases/{abandoned_case}/documents/{abandonment['document_id']}")).content
    (OUT / "abandonment_notice.pdf").write_bytes(pdf)
    text = pdf_text(pdf)
    assert "司马青云" in text and f"{signed_on + timedelta(days=8):%Y年%-m月%-d日}" in text

    docs = await wait_kinds(client, referred_case, ["acceptance_receipt", "referral_notice"], 90)
    referral = next(d for d in docs if d["kind"] == "referral_notice")
    pdf = (await client.get("reply", f"/cases/{referred_case}/documents/{referral['document_id']}")).content
    (OUT / "referral_notice.pdf").write_bytes(pdf)
    text = pdf_text(pdf)
    assert "诸葛文博" in text and "某县人民政府" in text and "0871-1234567" in text

    # Both notices reach the applicants with their documents attached.
    for t, doc in ((t1, abandonment), (t2, referral)):
        async def attached(t: str = t, doc: dict = doc) -> bool:
            return any(hashlib.sha256(base64.b64decode(a["data"])).hexdigest() == doc["sha256"]
                       for m in mails_for(mail, f"{t}@example.com") for a in m.get("attachments") or [])
        await eventually(attached, 120, every=1.0, what=f"the {doc['kind']} attached")
    await no_name_on_shared_topics(client, abandoned_case, "司马青云")
    await no_name_on_shared_topics(client, referred_case, "诸葛文博")
    await client.close()
