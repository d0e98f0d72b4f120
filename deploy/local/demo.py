"""A demo application, end to end, on the running local stack (``./dev up`` runs it).

It submits one application concerning three departments, shows each event on the bus as it
happens, answers as each department's officer through the reply API and has each answer signed
off by the department's reviewer (a second person; both signed in at the local identity provider),
and prints the reply, the notices the applicant received and the audit timeline.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from contracts import topics
from deploy.local.credentials import kafka_client_kwargs
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


async def main() -> int:
    stack = Stack()
    cfg = stack.cfg
    http = httpx.AsyncClient(timeout=10)

    def as_user(username: str) -> dict[str, str]:
        """An officer's access token from the local identity provider (Keycloak, realm gongkai)."""
        return {"Authorization": f"Bearer {stack.token(username)}"}

    case: dict = {}
    stop = asyncio.Event()
    watcher = asyncio.create_task(watch(cfg.kafka_bootstrap, case, stop))
    await asyncio.sleep(2)  # let the watcher join
    tag = uuid.uuid4().hex[:8]
    body = {
        "applicant": {"name": "张三", "id_number": "11010519491231002X"},
        "contact": {"email": f"zhangsan-{tag}@example.com", "phone": "13800138000",
                    "webhook_url": f"http://127.0.0.1:{cfg.webhook_port}/hooks/demo-{tag}"},
        "description": "请公开某村2025年征地补偿标准、省级部门年度预算及某河段的水质监测数据",
        "delivery": {"form": "electronic", "method": "email"},
    }
    resp = await http.post(cfg.url("intake") + "/applications", json=body)
    resp.raise_for_status()
    accepted = resp.json()
    case["id"] = accepted["case_id"]
    step(f"application accepted: tracking number {accepted['tracking_number']}, query code {accepted['query_code']}")
    step(f"  {accepted['message']}")

    routing = None
    for _ in range(100):
        r = await http.get(cfg.url("routing") + f"/cases/{case['id']}/routing", headers=as_user("ogi-officer"))
        if r.status_code == 200:
            routing = r.json()
            break
        await asyncio.sleep(0.2)
    assert routing, "the case was not routed"
    for task in routing["tasks"]:
        step(f"routed to {task['dept_name']} ({task['dept_code']}) by rule {task['rule']}")

    for task in routing["tasks"]:
        dept = task["dept_code"]
        reply_type, reason, text = DEMO_ANSWERS.get(dept, ("disclosed", None, "现予公开。"))
        for _ in range(100):
            r = await http.post(cfg.url("reply") + f"/tasks/{task['task_id']}/answer",
                                json={"dept_code": dept, "reply_type": reply_type, "reason": reason, "text": text,
                                      "material_refs": [f"{dept}-2025-001.pdf"],
                                      "withheld": DEMO_WITHHELD.get(dept, [])},
                                headers=as_user(f"{dept}-officer"))
            if r.status_code != 404:
                break
            await asyncio.sleep(0.2)
        r.raise_for_status()
        step(f"{task['dept_name']} answered (officer {dept}-officer): {reply_type}")
        r = await http.post(cfg.url("reply") + f"/tasks/{task['task_id']}/review", json={},
                            headers=as_user(f"{dept}-reviewer"))
        r.raise_for_status()
        step(f"{task['dept_name']} confidentiality review signed off by {dept}-reviewer (four eyes)")

    reply = None
    for _ in range(100):
        r = (await http.get(cfg.url("reply") + f"/cases/{case['id']}/reply", headers=as_user("ogi-officer"))).json()
        if r["issued"]:
            reply = r["reply"]
            break
        await asyncio.sleep(0.2)
    assert reply, "no reply was issued"
    step("reply issued:\n\n" + reply["document"] + "\n")

    mail_file = cfg.run_dir / "sinks" / "mail.jsonl"
    mails: list = []
    for _ in range(60):
        mails = [m for m in _jsonl(mail_file) if f"zhangsan-{tag}@example.com" in m["to"]]
        if len(mails) >= 2:
            break
        await asyncio.sleep(0.25)
    for m in mails:
        step(f"e-mail received by the applicant: {m['subject']}")
    hooks = [h for h in _jsonl(cfg.run_dir / "sinks" / "webhooks.jsonl") if h["hook"] == f"demo-{tag}"]
    for h in hooks:
        step(f"webhook received: {h['payload']['kind']} ({h['payload']['subject']})")

    timeline: list = []
    for _ in range(60):
        r = await http.get(cfg.url("audit") + f"/cases/{case['id']}/timeline", headers=as_user("auditor"))
        timeline = r.json()["events"] if r.status_code == 200 else []
        if len(timeline) >= 16:
            break
        await asyncio.sleep(0.25)
    stop.set()
    await watcher
    print("\naudit timeline (causal order):")
    for e in timeline:
        print(f"  #{e['seq']:<5} {e['time'][11:23]}  {e['type'].removeprefix('cn.gongkai.'):28} from {e['source']}")
    verify = (await http.get(cfg.url("audit") + "/ledger/verify", headers=as_user("auditor"))).json()
    print(f"\nledger hash chain: {'intact' if verify['ok'] else 'BROKEN'} ({verify['checked']} entries checked)")
    refusals_ok = await show_refusals(http, cfg, case["id"], accepted, as_user)
    await http.aclose()
    ok = len(mails) == 2 and len(timeline) >= 16 and verify["ok"] and refusals_ok
    return 0 if ok else 1


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
