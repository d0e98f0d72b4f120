"""One application, eight departments, one reply (issue #5) on the real broker and store: mixed
answers make exactly one reply.issued whose PDF holds every department's name and decision; a
department answering another's task is refused; a duplicate answer changes nothing; an answer
after the OGI office closed a case with one answer missing makes a reply.amended, not a second
reply."""

from __future__ import annotations

import asyncio
import re
import subprocess

import httpx
import pytest

from contracts import topics
from contracts.decisions import BY_CODE
from contracts.vocabulary import ReplyType
from tests.e2e.helpers import Client, application, eventually, events_of, tag

pytestmark = pytest.mark.e2e

# The routing directory's names of the eight departments (services/routing/directory.json).
NAMES = {
    "fgw": "云南省发展和改革委员会", "zrzy": "云南省自然资源厅", "czt": "云南省财政厅",
    "zjt": "云南省住房和城乡建设厅", "sthjt": "云南省生态环境厅", "jtyst": "云南省交通运输厅",
    "slt": "云南省水利厅", "nynct": "云南省农业农村厅",
}
WITHHELD = [
    {"description": "被征收户姓名及身份证号码", "reason_code": "withheld.third_party", "explanation": "涉及个人隐私"},
    {"description": "安置方案讨论稿", "reason_code": "withheld.deliberative", "explanation": "属于过程性信息"},
]
ELSEWHERE = {"name": "昆明市人民政府", "address": "云南省昆明市呈贡区锦绣大街1号", "phone": "0871-63130000"}
# dept -> (reply type, outcome code, extra fields); the decision printed is the outcome's (Art. 36, 37).
ANSWERS = {
    "fgw": ("disclosed", "disclosed", {}),
    "zrzy": ("partially_disclosed", "partial", {"withheld": WITHHELD}),
    "czt": ("already_public", "already_public", {}),
    "zjt": ("not_exist", "unavailable.not_held", {}),
    "sthjt": ("not_disclosed", "withheld.deliberative", {}),
    "jtyst": ("not_this_agency", "unavailable.not_this_agency", {"responsible_agency": ELSEWHERE}),
    "slt": ("disclosed", "disclosed", {}),
    "nynct": ("not_exist", "unavailable.not_held", {}),
}


def printed_decision(code: str) -> str:
    """What the consolidated reply prints for a department's outcome (documents' decision_label)."""
    o = BY_CODE[code]
    return f"不予公开（{o.label}）" if o.reply_type is ReplyType.NOT_DISCLOSED else o.label


def pdf_text(pdf: bytes) -> str:
    done = subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True, timeout=60)
    return re.sub(r"\s+", "", done.stdout.decode("utf-8"))


async def _pdf(client: Client, case_id: str, amendment: int | None = None) -> bytes:
    params = {"amendment": amendment} if amendment else None

    async def probe() -> bytes | None:
        resp = await client.get("reply", f"/cases/{case_id}/reply.pdf", params=params)
        return resp.content if resp.status_code == 200 else None
    pdf = await eventually(probe, 30, what=f"reply PDF of {case_id}")
    assert pdf.startswith(b"%PDF-")
    return pdf


async def _answer(client: Client, case_id: str, dept: str, **kw) -> httpx.Response:  # noqa: ANN003
    task = await client.wait_task_open(case_id, dept, timeout=90)
    reply_type, code, extra = ANSWERS[dept]
    return await client.answer(task["task_id"], dept, reply_type, text=f"{NAMES[dept]}对本申请的答复。",
                               outcome_code=code, **extra, **kw)


async def test_eight_departments_one_reply(stack) -> None:
    bootstrap = stack.cfg.kafka_bootstrap
    client = Client(stack)
    accepted = await client.submit(application(
        tag(), departments=list(NAMES), description="请公开某水库移民搬迁安置政策、征地补偿标准、资金预算及其执行情况等信息"))
    case_id = accepted["case_id"]
    routing = await client.routing(case_id)
    assert {t["dept_code"] for t in routing["tasks"]} == set(NAMES)
    tasks = {t["dept_code"]: t["task_id"] for t in routing["tasks"]}

    # czt answering fgw's task: refused (403) and recorded; nothing of it reaches the reply.
    await client.wait_task_open(case_id, "fgw", timeout=90)
    resp = await client.answer(tasks["fgw"], "czt", text="财政厅冒答发改委的任务。", as_dept="czt")
    assert resp.status_code == 403 and "不属于部门 czt" in resp.json()["detail"], resp.text
    # czt presenting its own token for fgw: refused before anything is looked at.
    resp = await client.answer(tasks["fgw"], "fgw", text="冒用", as_dept="czt")
    assert resp.status_code == 403, resp.text

    for dept in NAMES:
        resp = await _answer(client, case_id, dept)
        assert resp.status_code == 201, (dept, resp.text)
    # The same answer again changes nothing.
    resp = await client.answer(
        tasks["fgw"], "fgw", "disclosed", text=f"{NAMES['fgw']}对本申请的答复。", outcome_code="disclosed")
    assert resp.status_code == 200 and resp.json()["status"] == "already_recorded", resp.text

    reply = await client.reply(case_id)
    assert reply["reply"]["decision"] == "partially_disclosed" and reply["reply"]["outcome"] == "partial"
    text = pdf_text(await _pdf(client, case_id))
    for dept, (_, code, _) in ANSWERS.items():
        assert f"{NAMES[dept]}：{printed_decision(code)}" in text, (dept, code)
    for w in WITHHELD:
        assert w["description"] in text
    assert ELSEWHERE["name"] in text and "部分公开" in text
    html = await client.get("reply", f"/cases/{case_id}/reply.html")
    assert html.status_code == 200 and all(name in html.text for name in NAMES.values())

    # The duplicate after release still changes nothing: exactly one reply.issued, no amendment.
    resp = await client.answer(tasks["zjt"], "zjt", "not_exist", text=f"{NAMES['zjt']}对本申请的答复。",
                               outcome_code="unavailable.not_held")
    assert resp.status_code == 200, resp.text

    async def issued() -> list | None:
        found = await events_of(bootstrap, topics.REPLIES_ISSUED.name, case_id)
        return found or None
    events = await eventually(issued, 30, what="reply.issued on the topic")
    await asyncio.sleep(2)  # anything wrongly published after it would be there by now
    events = await events_of(bootstrap, topics.REPLIES_ISSUED.name, case_id)
    assert [e["type"] for e in events] == ["cn.gongkai.reply.issued.v1"], [e["type"] for e in events]
    data = events[0]["data"]
    assert sorted(data["cc"]) == sorted(NAMES)
    assert {p["dept_code"]: p["outcome_code"] for p in data["parts"]} == {d: a[1] for d, a in ANSWERS.items()}
    assert data["outcome"] == "partial" and data["document_id"] == reply["reply"]["document_id"]
    assert all(p["review"]["reviewer"] for p in data["parts"])

    recorded = await events_of(bootstrap, topics.ANSWERS_RECORDED.name, case_id)
    kinds = [e["type"].removeprefix("cn.gongkai.").removesuffix(".v1") for e in recorded]
    assert kinds.count("answer.recorded") == 16  # each department's draft and its reviewer's sign-off
    refused = [e["data"] for e in recorded if e["type"] == "cn.gongkai.answer.refused.v1"]
    assert [(r["dept_code"], r["code"], r["status"]) for r in refused] == [("czt", "not_your_task", 403)]
    await client.close()


async def test_late_answer_after_closing_is_an_amendment(stack) -> None:
    bootstrap = stack.cfg.kafka_bootstrap
    client = Client(stack)
    accepted = await client.submit(application(tag(), departments=["slt", "nynct"],
                                               description="请公开某灌区2025年农田水利建设项目资金安排"))
    case_id = accepted["case_id"]
    resp = await _answer(client, case_id, "slt")
    assert resp.status_code == 201, resp.text
    # nynct's answer is only a draft (no confidentiality sign-off): it cannot be released.
    nynct_task = await client.wait_task_open(case_id, "nynct", timeout=90)
    resp = await client.answer(nynct_task["task_id"], "nynct", "not_exist", text="草稿", outcome_code="unavailable.not_held",
                               review=False)
    assert resp.status_code == 201 and resp.json()["status"] == "draft_recorded", resp.text
    await asyncio.sleep(1.5)
    state = (await client.get("reply", f"/cases/{case_id}/reply")).json()
    assert state["issued"] is False

    # The OGI office closes the case with nynct's answer missing.
    resp = await client.post("reply", f"/cases/{case_id}/close", json={"reason": "已逾期，先行答复"})
    assert resp.status_code == 200, resp.text
    assert [m["dept_code"] for m in resp.json()["missing"]] == ["nynct"]
    reply = await client.reply(case_id)
    assert f"{NAMES['nynct']}尚未答复" in reply["reply"]["document"]
    first_pdf = pdf_text(await _pdf(client, case_id))
    assert f"{NAMES['slt']}：予以公开" in first_pdf and f"{NAMES['nynct']}尚未答复" in first_pdf

    # The late answer (a different, signed-off one) amends the reply.
    resp = await _answer(client, case_id, "nynct")
    assert resp.status_code == 201, resp.text

    async def amended() -> list | None:
        found = await events_of(bootstrap, topics.REPLIES_ISSUED.name, case_id)
        return found if any(e["type"] == "cn.gongkai.reply.amended.v1" for e in found) else None
    events = await eventually(amended, 60, what="reply.amended on the topic")
    await asyncio.sleep(2)
    events = await events_of(bootstrap, topics.REPLIES_ISSUED.name, case_id)
    assert sorted(e["type"] for e in events) == ["cn.gongkai.reply.amended.v1", "cn.gongkai.reply.issued.v1"]
    amendment = next(e["data"] for e in events if e["type"] == "cn.gongkai.reply.amended.v1")
    assert [p["dept_code"] for p in amendment["parts"]] == ["nynct"] and amendment["amendment_seq"] == 1
    text = pdf_text(await _pdf(client, case_id, amendment=1))
    assert f"{NAMES['nynct']}：{printed_decision('unavailable.not_held')}" in text and "补充答复" in text
    closed = [e for e in await events_of(bootstrap, topics.ANSWERS_RECORDED.name, case_id)
              if e["type"] == "cn.gongkai.case.closed.v1"]
    assert len(closed) == 1 and [m["dept_code"] for m in closed[0]["data"]["missing"]] == ["nynct"]
    await client.close()
