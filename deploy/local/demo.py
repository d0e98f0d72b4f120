"""A demo on the running local stack (``./dev up`` runs it), through the services' HTTP APIs only
(officers' tokens from the local identity provider, deploy/local/idp.py via ``Stack.token``).

1. One application concerning three departments, end to end: each event on the bus as it happens;
   each department's officer answers (自然资源厅 uploads the released document, a PDF) and the
   department's reviewer signs it off (a second person); the reply, the applicant's notices, the
   audit timeline and the trust boundary.
2. One case left in each state for a newcomer to open (``SCENARIOS``): awaiting triage; at the
   departments with one task acknowledged; a draft awaiting 保密审查; returned by a department (back in
   the triage queue); correction requested; extended by the OGI head; replied with released material
   (case 1). A table says each one's tracking number, query code, state and who to sign in as.

Idempotent-ish: every application is submitted under a fixed ``Idempotency-Key`` (the same case on
every run, the store keeps it across ``./dev down``), and each step is skipped or answered "already
recorded" when it was done before, so a second ``./dev up`` adds nothing and takes a few seconds.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from contracts import topics
from deploy.local.credentials import kafka_client_kwargs
from deploy.local.smsc import reassemble
from deploy.local.stack import Stack

DEMO_ANSWERS = {
    "zrzy": ("disclosed", None, "现公开该村2025年征地补偿标准批复文件。"),
    "czt": ("already_public", None, "该预算已在本厅门户网站“财政预决算”栏目主动公开。"),
    "sthjt": ("partially_disclosed", "第十五条：涉及第三方商业秘密的监测点位信息不予公开", "公开该河段2025年水质月报，删除涉及企业商业秘密的内容。"),
}
# Partial disclosure names each part withheld with its reason code (Art. 37).
DEMO_WITHHELD = {
    "sthjt": [{"description": "涉及企业的监测点位信息", "reason_code": "withheld.third_party",
               "explanation": "涉及第三方商业秘密，公开会对第三方合法权益造成损害"}],
}


def step(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


async def watch(bootstrap: str, case: dict, stop: asyncio.Event) -> None:
    # The watcher reads as the local admin principal (the broker refuses unauthenticated clients).
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="latest",
                                metadata_max_age_ms=2000, **kafka_client_kwargs())
    consumer.subscribe(pattern=topics.AUDITED_PATTERN)
    await consumer.start()
    try:
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=300)
            for records in batch.values():
                for rec in records:
                    try:
                        event = json.loads(rec.value)
                    except ValueError:
                        continue
                    if case.get("id") and event.get("subject") == case["id"]:
                        data = event["data"]
                        extra = data.get("dept_code") or data.get("channel") or data.get("decision") or ""
                        step(f"  bus  {rec.topic:34} {event['type'].removeprefix('cn.gongkai.')} {extra}")
    finally:
        await consumer.stop()


DEMO_KEY = "demo-v1"  # the Idempotency-Key prefix of the demo's applications (a new one: new cases)
APPLICANT = {"name": "张三", "id_number": "11010519491231002X"}
# A small real PDF: the document 自然资源厅 releases with its answer (uploaded as the department's material).
DEMO_PDF = b"""%PDF-1.4
1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj
2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj
3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]/Contents 4 0 R/Resources<</Font<</F1 5 0 R>>>>>>endobj
4 0 obj<</Length 71>>stream
BT /F1 16 Tf 72 760 Td (Land compensation standards 2025 - demo) Tj ET
endstream endobj
5 0 obj<</Type/Font/Subtype/Type1/BaseFont/Helvetica>>endobj
trailer<</Root 1 0 R>>
%%EOF
"""


class Demo:
    """The services' HTTP APIs as the demo's people use them."""

    def __init__(self, stack: Stack) -> None:
        self.stack, self.cfg = stack, stack.cfg
        self.http = httpx.AsyncClient(timeout=15)

    def as_user(self, username: str) -> dict[str, str]:
        """An officer's access token from the local identity provider (Keycloak, realm gongkai)."""
        return {"Authorization": f"Bearer {self.stack.token(username)}"}

    async def get(self, service: str, path: str, user: str = "ogi-officer", **kw: Any) -> httpx.Response:  # noqa: ANN401
        return await self.http.get(self.cfg.url(service) + path, headers=self.as_user(user), **kw)

    async def post(self, service: str, path: str, user: str, **kw: Any) -> httpx.Response:  # noqa: ANN401
        return await self.http.post(self.cfg.url(service) + path, headers=self.as_user(user), **kw)

    async def until(self, probe: Callable[[], Awaitable[Any]], what: str, tries: int = 150) -> Any:  # noqa: ANN401
        for _ in range(tries):
            found = await probe()
            if found:
                return found
            await asyncio.sleep(0.2)
        raise RuntimeError(f"demo: timed out waiting for {what}")

    async def submit(self, key: str, description: str, departments: list[str] | None = None,
                     webhook: bool = False, sms: bool = False) -> dict[str, Any]:
        """One application under a fixed Idempotency-Key: the same case on every run."""
        contact: dict[str, Any] = {"email": f"zhangsan-{key}@example.com", "phone": "13800138000"}
        if sms:  # the applicant chose e-mail and text messages for the notices
            contact["notify_by"] = ["email", "sms"]
        if webhook:
            contact["webhook_url"] = f"http://127.0.0.1:{self.cfg.webhook_port}/hooks/{DEMO_KEY}-{key}"
        body: dict[str, Any] = {"applicant": APPLICANT, "contact": contact, "description": description,
                                "delivery": {"form": "electronic", "method": "email"}}
        if departments:
            body["target_departments"] = departments
        resp = await self.http.post(self.cfg.url("intake") + "/applications", json=body,
                                    headers={"Idempotency-Key": f"{DEMO_KEY}-{key}"})
        resp.raise_for_status()
        return {**resp.json(), "replayed": resp.status_code == 200}

    async def routing(self, case_id: str) -> dict[str, Any]:
        async def probe() -> dict | None:
            r = await self.get("routing", f"/cases/{case_id}/routing")
            return r.json() if r.status_code == 200 else None
        return await self.until(probe, f"the routing of {case_id}")

    async def task_of(self, case_id: str, dept: str) -> dict[str, Any]:
        """The department's task as reply knows it (its task view; once reply has the routing)."""
        routing = await self.routing(case_id)
        task = next(t for t in routing["tasks"] + routing["withdrawn_tasks"] if t["dept_code"] == dept)

        async def probe() -> dict | None:
            r = await self.get("reply", f"/tasks/{task['task_id']}", user=f"{dept}-officer")
            return r.json() if r.status_code == 200 else None
        return await self.until(probe, f"reply to know {dept}'s task of {case_id}")

    async def known_to_reply(self, case_id: str) -> None:
        async def probe() -> bool:
            return (await self.get("reply", f"/cases/{case_id}/deadline")).status_code == 200
        await self.until(probe, f"reply to know {case_id}")

    async def in_triage(self, accepted: dict[str, Any], returned: bool = False) -> bool:
        """Wait until the case is in the triage queue; a case of an earlier run is looked at once
        (someone may have dealt with it since: then False)."""
        case_id = accepted["case_id"]

        async def probe() -> dict | None:
            r = await self.get("routing", "/triage")
            c = next((c for c in r.json()["cases"] if c["case_id"] == case_id), None) if r.status_code == 200 else None
            return c if c and (not returned or c.get("returned")) else None
        if accepted["replayed"]:
            return bool(await probe())
        await self.until(probe, f"{case_id} in the triage queue")
        return True


def ok(resp: httpx.Response, *also: int) -> httpx.Response:
    """A step's answer: success, or (on a second run) the conflict of a step done before."""
    if resp.status_code >= 400 and resp.status_code not in also:
        raise RuntimeError(f"demo: {resp.request.method} {resp.request.url.path}: {resp.status_code} {resp.text[:300]}")
    return resp


async def answer_and_sign(demo: Demo, task: dict[str, Any], upload: bool) -> str:
    """A department answers (uploading its document if ``upload``) and its reviewer signs off; each
    step only if not done before. Returns the answer's reply type."""
    dept, task_id = task["dept_code"], task["task_id"]
    reply_type, reason, text = DEMO_ANSWERS.get(dept, ("disclosed", None, "现予公开。"))
    view = (await demo.get("reply", f"/tasks/{task_id}", user=f"{dept}-officer")).json()
    if view["answer"] is None:
        refs = [f"{dept}-2025-001.pdf"]
        if upload:
            material = next((m for m in view.get("materials") or []), None)
            if material is None:
                r = ok(await demo.post("reply", f"/tasks/{task_id}/material", f"{dept}-officer",
                                       files={"file": ("征地补偿标准批复-2025.pdf", DEMO_PDF, "application/pdf")}))
                material = r.json()
                step(f"{task['dept_name']} uploaded {material['filename']} ({material['size']} bytes, sha256 "
                     f"{material['sha256'][:12]}…)")
            refs = [material["ref"]]
        ok(await demo.post("reply", f"/tasks/{task_id}/answer", f"{dept}-officer",
                           json={"dept_code": dept, "reply_type": reply_type, "reason": reason, "text": text,
                                 "material_refs": refs, "withheld": DEMO_WITHHELD.get(dept, [])}))
        step(f"{task['dept_name']} answered (officer {dept}-officer): {reply_type}")
    if not (view["answer"] or {}).get("review"):
        ok(await demo.post("reply", f"/tasks/{task_id}/review", f"{dept}-reviewer", json={}))
        step(f"{task['dept_name']} confidentiality review signed off by {dept}-reviewer (four eyes)")
    return reply_type


async def replied_case(demo: Demo) -> dict[str, Any]:
    """Case 1: one application, three departments, one reply (with 自然资源厅's released PDF)."""
    cfg = demo.cfg
    case: dict = {}
    stop = asyncio.Event()
    watcher = asyncio.create_task(watch(cfg.kafka_bootstrap, case, stop))
    await asyncio.sleep(2)  # let the watcher join
    accepted = await demo.submit("replied", "请公开某村2025年征地补偿标准、省级部门年度预算及某河段的水质监测数据",
                                 webhook=True, sms=True)
    case["id"] = accepted["case_id"]
    step(f"application accepted: tracking number {accepted['tracking_number']}, query code {accepted['query_code']}"
         + ("（replayed: submitted by an earlier run）" if accepted["replayed"] else ""))
    step(f"  {accepted['message']}")
    routing = await demo.routing(case["id"])
    for task in routing["tasks"]:
        step(f"routed to {task['dept_name']} ({task['dept_code']}) by rule {task['rule']}")
    done = (await demo.get("reply", f"/cases/{case['id']}/reply")).json()
    if not done.get("issued"):
        for task in routing["tasks"]:
            await demo.task_of(case["id"], task["dept_code"])
            await answer_and_sign(demo, task, upload=task["dept_code"] == "zrzy")

    async def issued() -> dict | None:
        r = (await demo.get("reply", f"/cases/{case['id']}/reply")).json()
        return r["reply"] if r["issued"] else None
    reply = await demo.until(issued, "the reply")
    step("reply issued:\n\n" + reply["document"] + "\n")

    mail_file = cfg.run_dir / "sinks" / "mail.jsonl"
    address = "zhangsan-replied@example.com"
    mails: list = []
    for _ in range(40):
        mails = [m for m in _jsonl(mail_file) if address in m["to"]]
        if len(mails) >= 2:
            break
        await asyncio.sleep(0.25)
    for m in mails:
        step(f"e-mail received by the applicant: {m['subject']}")
    hooks = [h for h in _jsonl(cfg.run_dir / "sinks" / "webhooks.jsonl") if h["hook"] == f"{DEMO_KEY}-replied"]
    for h in hooks:
        step(f"webhook received: {h['payload']['kind']} ({h['payload']['subject']})")
    texts: list = []
    for _ in range(40):  # the texts at the local SMSC (every run's: the number is the demo's)
        texts = [m for m in reassemble(_jsonl(cfg.run_dir / "smsc" / "submits.jsonl"))
                 if accepted["tracking_number"] in m.get("text", "")]
        if len(texts) >= 2:
            break
        await asyncio.sleep(0.25)
    for m in texts:
        step(f"text received by {m['destination']} from {m['source']} in {len(m['parts'])} part(s): {m['text']}")

    async def served() -> dict | None:
        view = (await demo.get("reply", f"/cases/{case['id']}/service")).json()
        return view if view.get("remedies") else None
    try:
        view = await demo.until(served, "the reply's date of service", tries=60)
    except RuntimeError as exc:
        step(f"BAD {exc}")
    else:
        r = view["remedies"]
        ways = [f["channel_label"] for d in view["documents"] if d["document_id"] == r["document_id"]
                for f in d["facts"]]
        step(f"reply served on {r['served_on']} ({'、'.join(ways)}): administrative review until "
             f"{r['review_deadline']}, lawsuit until {r['lawsuit_deadline']}"
             + (" (provisional: that year's holidays are not published)" if r["provisional"] else ""))

    timeline: list = []
    for _ in range(60):
        r = await demo.get("audit", f"/cases/{case['id']}/timeline", user="auditor")
        timeline = r.json()["events"] if r.status_code == 200 else []
        if len(timeline) >= 16:
            break
        await asyncio.sleep(0.25)
    stop.set()
    await watcher
    print("\naudit timeline (causal order):")
    for e in timeline:
        print(f"  #{e['seq']:<5} {e['time'][11:23]}  {e['type'].removeprefix('cn.gongkai.'):28} from {e['source']}")
    return {**accepted, "ok": len(timeline) >= 16}


# ------------------------------------------------------------------------------ one case in each state
# Each scenario: the application (Idempotency-Key suffix, description, target departments) and what
# is done to it; each returns (the receipt, the state in Chinese, who to sign in as, where to look).


async def awaiting_triage(demo: Demo) -> tuple:
    accepted = await demo.submit("triage", "请公开相关文件")
    state = "待分办（系统无法确定承办部门，在分办台）" if await demo.in_triage(accepted) else HANDLED
    return accepted, state, "ogi-officer", "/work/ogi?show=triage"


async def at_departments(demo: Demo) -> tuple:
    accepted = await demo.submit("departments", "请公开某县2025年耕地保护目标责任书及其财政补助资金分配情况",
                                 ["zrzy", "czt"])
    task = await demo.task_of(accepted["case_id"], "zrzy")
    await demo.task_of(accepted["case_id"], "czt")
    ok(await demo.post("reply", f"/tasks/{task['task_id']}/acknowledgement", "zrzy-officer"), 409)
    return (accepted, "部门办理中（自然资源厅已签收，财政厅未签收）", "zrzy-officer / czt-officer", "/work/dept")


async def draft_awaiting_review(demo: Demo) -> tuple:
    accepted = await demo.submit("draft", "请公开某水库2025年防汛抗旱应急预案", ["slt"])
    task = await demo.task_of(accepted["case_id"], "slt")
    if task["answer"] is None:
        ok(await demo.post("reply", f"/tasks/{task['task_id']}/answer", "slt-officer",
                           json={"dept_code": "slt", "reply_type": "disclosed", "reason": None,
                                 "text": "现公开该水库2025年防汛抗旱应急预案。", "material_refs": ["slt-2025-yuan.pdf"]}),
           409)
    return accepted, "答复草稿待保密审查（水利厅）", "slt-reviewer（起草人 slt-officer）", "/work/dept"


async def returned_by_department(demo: Demo) -> tuple:
    accepted = await demo.submit("returned", "请公开本省2025年重点项目投资计划", ["jtyst"])
    task = await demo.task_of(accepted["case_id"], "jtyst")
    if task["status"] != "withdrawn":
        ok(await demo.post("reply", f"/tasks/{task['task_id']}/return", "jtyst-officer",
                           json={"reason": "重点项目投资计划由发展改革委编制，不属于本厅职责，建议改由发展改革委办理"}), 409)
    state = "部门退回（交通运输厅退回，在分办台待改派）" if await demo.in_triage(accepted, returned=True) else HANDLED
    return accepted, state, "ogi-officer", "/work/ogi?show=returned"


async def correction_requested(demo: Demo) -> tuple:
    accepted = await demo.submit("correction", "请公开我村的那个文件", ["nynct"])
    await demo.known_to_reply(accepted["case_id"])
    due = (date.today() + timedelta(days=15)).isoformat()
    ok(await demo.post("reply", f"/cases/{accepted['case_id']}/correction", "ogi-officer",
                       json={"items": ["请写明所需文件的名称、文号或者便于查询的其他特征性描述"], "due_on": due}), 409)
    return accepted, "已通知补正（等待申请人补正，答复期限尚未起算）", "ogi-officer；申请人凭查询码补正", "/status"


async def extended(demo: Demo) -> tuple:
    accepted = await demo.submit("extended", "请公开某医院2025年医疗服务价格调整方案及听证材料", ["wjw"])
    await demo.known_to_reply(accepted["case_id"])
    ok(await demo.post("reply", f"/cases/{accepted['case_id']}/extension", "ogi-head",
                       json={"days": 15, "reason": "需会同医疗保障局检索并征求意见"}), 409)
    return accepted, "已延长答复期限（公开办负责人批准，15 个工作日）", "ogi-head", "/work/ogi/cases/…"


HANDLED = "（早先的演示案件，已有人处理，状态已变）"
SCENARIOS = (awaiting_triage, at_departments, draft_awaiting_review, returned_by_department,
             correction_requested, extended)


def print_table(rows: list[tuple[dict[str, Any], str, str, str]]) -> None:
    from unicodedata import east_asian_width

    def width(s: str) -> int:
        return sum(2 if east_asian_width(ch) in "WF" else 1 for ch in s)

    def pad(s: str, n: int) -> str:
        return s + " " * max(0, n - width(s))

    head = ("受理编号", "查询码", "状态", "登录用户（密码 gongkai-dev）", "页面")
    table = [head] + [(a["tracking_number"], a["query_code"], state, who,
                       where.replace("…", a["case_id"])) for a, state, who, where in rows]
    widths = [max(width(r[i]) for r in table) for i in range(len(head))]
    print("\ndemo cases, one in each state (web: " + demo_web_url() + "; the applicant's page: /status):")
    for n, r in enumerate(table):
        print("  " + "  ".join(pad(c, w) for c, w in zip(r, widths, strict=True)))
        if n == 0:
            print("  " + "  ".join("-" * w for w in widths))


def demo_web_url() -> str:
    return Stack().cfg.url("web")


async def main() -> int:
    started = time.monotonic()
    demo = Demo(Stack())
    replied = await replied_case(demo)
    verify = (await demo.get("audit", "/ledger/verify", user="auditor")).json()
    print(f"\nledger hash chain: {'intact' if verify['ok'] else 'BROKEN'} ({verify['checked']} entries checked)")
    refusals_ok = await show_refusals(demo.http, demo.cfg, replied["case_id"], replied, demo.as_user)
    step("leaving one case in each state …")
    results = await asyncio.gather(*(scenario(demo) for scenario in SCENARIOS), return_exceptions=True)
    rows, failed = [], []
    for scenario, result in zip(SCENARIOS, results, strict=True):
        if isinstance(result, BaseException):
            failed.append(f"{scenario.__name__}: {result}")
        else:
            rows.append(result)
    rows.append((replied, "已答复（自然资源厅随答复提供了上传的文件）", "申请人（受理编号 + 查询码）或 zrzy-officer",
                 "/status"))
    print_table(rows)
    for f in failed:
        print(f"  BAD {f}")
    await demo.http.aclose()
    print(f"\ndemo done in {time.monotonic() - started:.1f} s")
    return 0 if replied["ok"] and verify["ok"] and refusals_ok and not failed else 1


async def show_refusals(http: httpx.AsyncClient, cfg, case_id: str, accepted: dict, as_user) -> bool:  # noqa: ANN001
    """The trust boundary at work: what a caller without the right identity gets."""
    print("\ntrust boundary (each attempt refused as it must be):")
    extension = {"days": 10, "reason": "需要调取档案"}
    checks = [
        ("extension with only an X-Role: ogi_head header", 401,
         await http.post(cfg.url("reply") + f"/cases/{case_id}/extension", json=extension,
                         headers={"X-Role": "ogi_head", "X-User": "head"})),
        ("extension by an OGI officer who is not the head (Art. 33)", 403,
         await http.post(cfg.url("reply") + f"/cases/{case_id}/extension", json=extension,
                         headers=as_user("ogi-officer"))),
        ("zrzy's officer listing czt's tasks", 403,
         await http.get(cfg.url("reply") + "/departments/czt/tasks", headers=as_user("zrzy-officer"))),
        ("the case's timeline without a token", 401, await http.get(cfg.url("audit") + f"/cases/{case_id}/timeline")),
        ("the applicant's timeline with a wrong query code", 404,
         await http.get(cfg.url("audit") + f"/public/cases/{accepted['tracking_number']}/timeline",
                        params={"query_code": "0" * len(accepted["query_code"])})),
    ]
    ok = True
    for what, expected, resp in checks:
        good = resp.status_code == expected
        ok &= good
        detail = resp.json().get("detail", "") if resp.headers.get("content-type", "").startswith("application/json") else ""
        print(f"  {'ok ' if good else 'BAD'} {resp.status_code} {what}: {detail}")
    producer = AIOKafkaProducer(bootstrap_servers=cfg.kafka_bootstrap, request_timeout_ms=3000)
    try:
        await producer.start()
        print("  BAD a Kafka client without credentials connected")
        ok = False
    except Exception as exc:  # noqa: BLE001 - the refusal is what we show
        print(f"  ok  a Kafka client without credentials: {type(exc).__name__}")
    finally:
        await producer.stop()
    return ok


def _jsonl(path: Path) -> list:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
