"""The integrators' guide works as written (docs/integrators.md): the example department client
(docs/examples/department_client.py, aiokafka only, nothing of Gongkai imported) runs as each
department of a case with that department's own Kafka principal, reads its task from its inbox and
answers on its answers topic; the case completes with the one reply, made of those answers, and
each department's system reads that reply, copied to it (抄送), on its own replies topic. The
events' dataschema resolves at the web service, and the guide's kcat commands work too."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from contracts import topics
from deploy.local.credentials import kafka_password
from tests.e2e.helpers import Client, application, eventually, events_of, tag

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "docs" / "examples" / "department_client.py"
DEPTS = ["slt", "nynct"]


async def _run_example(bootstrap: str, dept: str, case_id: str, group: str) -> list[dict]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # it needs nothing of ours
    env["DEPT_KAFKA_PASSWORD"] = kafka_password(f"dept-{dept}")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(EXAMPLE), "--bootstrap", bootstrap, "--dept", dept, "--group", f"dept-{dept}.{group}",
        "--case", case_id, "--max-answers", "1", "--wait-reply", "--timeout", "150",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env, cwd=str(REPO / "docs"))
    out, err = await asyncio.wait_for(proc.communicate(), 180)
    assert proc.returncode == 0, (dept, out.decode()[-2000:], err.decode()[-2000:])
    return [json.loads(line) for line in out.decode().splitlines() if line.startswith("{")]


async def test_a_department_system_answers_with_the_example_client(stack, web_url: str) -> None:  # noqa: ANN001
    client = Client(stack)
    bootstrap = stack.cfg.kafka_bootstrap
    t = tag()
    accepted = await client.submit(application(t, departments=DEPTS))
    case_id = accepted["case_id"]
    outputs = await asyncio.gather(*(_run_example(bootstrap, d, case_id, t) for d in DEPTS))

    for dept, lines in zip(DEPTS, outputs, strict=True):
        received = [x for x in lines if "received" in x]
        answered = [x for x in lines if "answered" in x]
        assert len(received) == 1 and received[0]["received"] == "cn.gongkai.task.assigned.v1", lines
        assert received[0]["case_id"] == case_id and received[0]["tracking_number"] == accepted["tracking_number"]
        assert len(answered) == 1, lines
        # The task's dataschema is the web service's schema of that event version.
        path = urlsplit(received[0]["dataschema"]).path
        assert path == "/schemas/task.assigned.v1.json", received[0]["dataschema"]
        async with httpx.AsyncClient(timeout=10) as http:
            resp = await http.get(web_url + path)
        assert resp.status_code == 200
        assert resp.json()["properties"]["type"]["const"] == "cn.gongkai.task.assigned.v1"

    reply = await client.reply(case_id, timeout=90)
    assert reply["reply"]["document"].count("（示例答复）") >= len(DEPTS), reply["reply"]["document"]
    assert sorted(reply["reply"]["cc"]) == sorted(DEPTS)
    # 抄送: each department's system read the reply on its own replies topic, with its own part in it.
    for dept, lines in zip(DEPTS, outputs, strict=True):
        copies = [x for x in lines if "reply" in x]
        assert len(copies) == 1 and copies[0]["reply"] == "cn.gongkai.reply.issued.v1", lines
        assert copies[0]["case_id"] == case_id and copies[0]["our_parts"] == 1
        assert copies[0]["document_id"] == reply["reply"]["document_id"]
    recorded = await eventually(lambda: _recorded_via_topic(bootstrap, case_id), 30, what="answers recorded")
    assert sorted(e["data"]["dept_code"] for e in recorded) == sorted(DEPTS)
    await client.close()


async def _recorded_via_topic(bootstrap: str, case_id: str) -> list[dict] | None:
    events = await events_of(bootstrap, topics.ANSWERS_RECORDED.name, case_id)
    found = [e for e in events if e["type"] == "cn.gongkai.answer.recorded.v1" and e["data"]["via"] == "topic"
             and not e["data"]["draft"]]
    return found if len(found) >= len(DEPTS) else None


def _kcat_problem() -> str | None:
    """Why the guide's kcat commands cannot run here, or None."""
    if shutil.which("kcat") is None:
        return "kcat is not installed (apt-get install kcat)"
    out = subprocess.run(["kcat", "-V"], capture_output=True, text=True, timeout=10).stdout
    m = re.search(r"librdkafka (\d+)\.(\d+)\.(\d+)", out)
    if not m or tuple(map(int, m.groups())) < (2, 6, 1):
        # librdkafka before 2.6.1 sends a SCRAM proof Kafka 4.x rejects (confluentinc/librdkafka#4895).
        return f"kcat's librdkafka {'.'.join(m.groups()) if m else '?'} cannot SCRAM-authenticate to Kafka 4.x"
    return None


@pytest.mark.skipif(_kcat_problem() is not None, reason=str(_kcat_problem()))
async def test_the_guides_kcat_commands_read_the_inbox_as_the_department(stack) -> None:  # noqa: ANN001
    client = Client(stack)
    t = tag()
    accepted = await client.submit(application(t, departments=["slt"]))
    await client.wait_task_open(accepted["case_id"], "slt", timeout=90)
    dept = "slt"
    sasl = ["-X", "security.protocol=SASL_PLAINTEXT", "-X", "sasl.mechanisms=SCRAM-SHA-512",
            "-X", f"sasl.username=dept-{dept}", "-X", f"sasl.password={kafka_password(f'dept-{dept}')}"]
    # As docs/integrators.md: read the inbox in a group of the department's own (a new one each
    # try: kcat commits what it read), key and headers shown.
    def cmd() -> list[str]:
        return ["kcat", "-C", "-b", stack.cfg.kafka_bootstrap, *sasl, "-X", "auto.offset.reset=earliest",
                "-G", f"dept-{dept}.kcat-{tag()}", topics.department_inbox(dept).name, "-e",
                "-f", "%k\t%h\t%s\n"]
    lines = await eventually(lambda: _kcat_lines(cmd(), accepted["case_id"]), 60, what="the task in kcat's output")
    key, headers, value = lines[0].split("\t", 2)
    assert key == accepted["case_id"]
    assert "ce_type=cn.gongkai.task.assigned.v1" in headers and "content-type=application/cloudevents+json" in headers
    assert json.loads(value)["data"]["dept_code"] == dept
    # ... and the trust boundary: another department's inbox is refused to this principal.
    other = subprocess.run(["kcat", "-C", "-b", stack.cfg.kafka_bootstrap, *sasl, "-t",
                            topics.department_inbox("nynct").name, "-o", "beginning", "-e", "-q"],
                           capture_output=True, text=True, timeout=60)
    assert other.returncode != 0 or "authoriz" in (other.stderr + other.stdout).lower(), other
    await client.close()


async def _kcat_lines(cmd: list[str], case_id: str) -> list[str] | None:
    proc = await asyncio.create_subprocess_exec(*cmd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    lines = [line for line in out.decode().splitlines() if line.startswith(case_id + "\t")]
    return lines or None
