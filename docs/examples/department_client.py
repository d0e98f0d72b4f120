"""A department's own system on the Gongkai bus, in one file (Python 3.11+, aiokafka; nothing else
from Gongkai): it reads the department's inbox, answers each task on the department's answers
topic (and again when the OGI office set its answer aside: ``task.reopened``), and commits a task
only once its answer is on the bus; and it reads the replies copied to the department (抄送) on its
replies topic. See docs/integrators.md.

    pip install aiokafka==0.14.0
    python docs/examples/department_client.py --bootstrap 127.0.0.1:19092 --dept zjt \\
        --password "$(python deploy/local/credentials.py kafka-password dept-zjt)"

Options: ``--group`` (default ``dept-<code>``; the ACLs allow ``dept-<code>`` and
``dept-<code>.<anything>``), ``--case`` (answer only that case's tasks), ``--max-answers N`` and
``--timeout S`` (stop after N answers or S seconds), ``--wait-reply`` (with ``--case``: also read
the department's replies topic and stop only once that case's reply has come), ``--security-protocol`` (``SASL_SSL`` in
production, with ``--cafile``). It prints one JSON line per record it handles.

The answer here is a fixed "disclosed" with a signed-off confidentiality review, to show the
shape; a real system puts its officers' decision there (``decide``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import ssl
import sys
import uuid
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

CONTENT_TYPE = "application/cloudevents+json; charset=UTF-8"
TASK_ASSIGNED = "cn.gongkai.task.assigned.v1"
TASK_WITHDRAWN = "cn.gongkai.task.withdrawn.v1"
TASK_REOPENED = "cn.gongkai.task.reopened.v1"
ANSWER_SUBMITTED = "cn.gongkai.answer.submitted.v1"
REPLY_ISSUED = "cn.gongkai.reply.issued.v1"
REPLY_AMENDED = "cn.gongkai.reply.amended.v1"
# Our own namespace for answer ids: the same task always gets the same answer id, so an answer
# sent again after a crash is the same fact, not a second one. An answer given again after the OGI
# office set the first one aside (task.reopened) is a new fact: its id is of that task.reopened too.
ANSWER_IDS = uuid.UUID("5b0c1c70-3d33-4b5e-9f0e-6a8c2f1d9e42")


def inbox_topic(dept: str) -> str:
    return f"gongkai.dept.{dept}.tasks"


def answers_topic(dept: str) -> str:
    return f"gongkai.dept.{dept}.answers"


def replies_topic(dept: str) -> str:
    """The replies copied to the department (抄送): each reply and amendment that includes its answer."""
    return f"gongkai.dept.{dept}.replies"


def decide(task: dict[str, Any]) -> dict[str, Any]:
    """The department's answer to a task (the ``answer`` of answer.submitted; its JSON Schema is at
    the served schemas/answer.submitted.v1.json). Here: disclosed, with a fixed text."""
    return {"reply_type": "disclosed", "text": f"{task['dept_name']}：已检索，予以公开（示例答复）。"}


def answer_event(task_event: dict[str, Any], dept: str, answer: dict[str, Any], reviewer: str,
                 schema_base: str) -> dict[str, Any]:
    """The CloudEvent that answers a task (structured mode: the record's value is this JSON)."""
    task = task_event["data"]
    now = datetime.now(UTC).isoformat()
    round_ = f"/reopened/{task_event['id']}" if task_event["type"] == TASK_REOPENED else ""
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid5(ANSWER_IDS, f"{dept}/{task['task_id']}{round_}")),
        "source": f"/departments/{dept}/system",
        "type": ANSWER_SUBMITTED,
        "subject": task["case_id"],
        "time": now,
        "datacontenttype": "application/json",
        "dataschema": schema_base + "answer.submitted.v1.json",
        "causationid": task_event["id"],
        "data": {
            "case_id": task["case_id"],
            "task_id": task["task_id"],
            "dept_code": dept,  # must be the topic's department, or the answer is refused
            "answer": answer,
            # Without the confidentiality sign-off (保密审查) an answer is a draft, never released.
            "review": {"reviewer": reviewer, "reviewed_at": now},
        },
    }


def note_reply(rec: Any, args: argparse.Namespace) -> bool:
    """One record of the replies topic: print the reply copied to the department; True if it is the
    reply of ``--case`` (or of any case without one)."""
    event = json.loads(rec.value)
    reply = event["data"]
    if args.case and reply["case_id"] != args.case:
        return False
    ours = [p for p in reply["parts"] if p["dept_code"] == args.dept]
    say(reply=event["type"], case_id=reply["case_id"], tracking_number=reply["tracking_number"],
        decision=reply["decision"], cc=reply["cc"], our_parts=len(ours), document_id=reply["document_id"])
    return True


async def handle(rec: Any, args: argparse.Namespace, producer: AIOKafkaProducer) -> int:
    """One inbox record: answer a task assigned or reopened (1: the OGI office set the earlier answer
    aside, ``reason`` says why), note a task withdrawn or skip anything else (0)."""
    headers = {k: v.decode() for k, v in rec.headers or ()}
    ce_type = headers.get("ce_type")  # filter without parsing the value
    if ce_type not in (TASK_ASSIGNED, TASK_WITHDRAWN, TASK_REOPENED):
        say(skipped=ce_type, offset=rec.offset)
        return 0
    event = json.loads(rec.value)
    task = event["data"]
    if args.case and task["case_id"] != args.case:
        return 0
    if ce_type == TASK_WITHDRAWN:
        say(withdrawn=task["task_id"], case_id=task["case_id"])
        return 0
    if ce_type == TASK_REOPENED:  # the earlier answer was set aside: answer the task again
        say(reopened=task["task_id"], case_id=task["case_id"], contradiction_id=task["contradiction_id"],
            reason=task["reason"], reopened_by=task["reopened_by"])
    say(received=ce_type, case_id=task["case_id"], task_id=task["task_id"],
        tracking_number=task["tracking_number"], dataschema=event["dataschema"])
    reply = answer_event(event, args.dept, decide(task), args.reviewer, args.schema_base)
    await producer.send_and_wait(
        answers_topic(args.dept), json.dumps(reply, ensure_ascii=False).encode(),
        key=task["case_id"].encode(),  # the case id: every event of a case on one partition, in order
        headers=[("content-type", CONTENT_TYPE.encode()), ("ce_type", ANSWER_SUBMITTED.encode()),
                 ("ce_id", reply["id"].encode())])
    say(answered=task["task_id"], case_id=task["case_id"], answer_id=reply["id"])
    return 1


def security(args: argparse.Namespace) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"security_protocol": args.security_protocol}
    if args.security_protocol.startswith("SASL_"):
        kwargs.update(sasl_mechanism="SCRAM-SHA-512", sasl_plain_username=f"dept-{args.dept}",
                      sasl_plain_password=args.password)
    if args.security_protocol in ("SSL", "SASL_SSL"):
        kwargs["ssl_context"] = ssl.create_default_context(cafile=args.cafile or None)
    return kwargs


def say(**fields: Any) -> None:
    print(json.dumps(fields, ensure_ascii=False), flush=True)


async def run(args: argparse.Namespace) -> int:
    kafka = security(args)
    wanted = [inbox_topic(args.dept)] + ([replies_topic(args.dept)] if args.wait_reply else [])
    consumer = AIOKafkaConsumer(
        *wanted, bootstrap_servers=args.bootstrap, group_id=args.group or f"dept-{args.dept}",
        enable_auto_commit=False, auto_offset_reset="earliest", **kafka)
    # acks=all + idempotence: an answer acknowledged by the broker is on every in-sync replica.
    producer = AIOKafkaProducer(bootstrap_servers=args.bootstrap, acks="all", enable_idempotence=True, **kafka)
    await consumer.start()
    await producer.start()
    answered = 0
    replied = not args.wait_reply  # with --wait-reply: not done before the case's reply has come
    deadline = asyncio.get_running_loop().time() + args.timeout if args.timeout else None
    try:
        while args.max_answers is None or answered < args.max_answers or not replied:
            if deadline is not None and asyncio.get_running_loop().time() > deadline:
                say(stopped="timeout", answered=answered)
                return 1 if args.max_answers else 0
            batches = await consumer.getmany(timeout_ms=1000)
            handled: dict[TopicPartition, int] = {}  # next offset to read, per partition
            for tp, records in batches.items():
                for rec in records:
                    if tp.topic == replies_topic(args.dept):
                        replied = note_reply(rec, args) or replied
                    elif args.max_answers is not None and answered >= args.max_answers:
                        break
                    else:
                        answered += await handle(rec, args, producer)
                    handled[TopicPartition(tp.topic, tp.partition)] = rec.offset + 1
            # Commit only what has been handled (at least once: after a crash before the commit
            # a task is answered again, with the same answer id).
            if handled:
                await consumer.commit(handled)
    finally:
        await consumer.stop()
        await producer.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP", "127.0.0.1:19092"))
    p.add_argument("--dept", required=True, help="the department's code, e.g. zjt")
    p.add_argument("--password", default=os.environ.get("DEPT_KAFKA_PASSWORD", ""),
                   help="the password of principal dept-<code> (or DEPT_KAFKA_PASSWORD)")
    p.add_argument("--security-protocol", default=os.environ.get("KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT"))
    p.add_argument("--cafile", default="")
    p.add_argument("--group", default="")
    p.add_argument("--case", default="", help="answer only the tasks of this case")
    p.add_argument("--max-answers", type=int, default=None)
    p.add_argument("--wait-reply", action="store_true",
                   help="also read the replies copied to the department; stop once --case's reply has come")
    p.add_argument("--timeout", type=float, default=0.0, help="seconds (0: run until stopped)")
    p.add_argument("--reviewer", default="保密审查员（示例）")
    p.add_argument("--schema-base", default=os.environ.get("GONGKAI_SCHEMA_BASE_URL", "http://127.0.0.1:8106/schemas/"))
    args = p.parse_args(argv)
    if args.security_protocol.startswith("SASL_") and not args.password:
        p.error("--password (or DEPT_KAFKA_PASSWORD) is required")
    try:
        return asyncio.run(run(args))
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
