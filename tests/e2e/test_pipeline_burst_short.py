"""The short version of the burst campaign: ``benchmarks/pipeline.py`` (its own private stack, ports
37xxx-39xxx) with 30 applications of three departments each, as fast as intake takes them. Every
application gets its one reply exactly once, every task is assigned once, and the applicant's two
notices (received, reply) reach the SMTP sink and the webhook receiver once each: nothing lost,
nothing duplicated. The long campaign is the same command with ``--n 10000`` (docs/capacity.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
N = 30


def test_a_short_burst_loses_nothing_and_duplicates_nothing(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    cmd = [sys.executable, str(ROOT / "benchmarks" / "pipeline.py"), "--n", str(N), "--raw-n", "50",
           "--raw-pipelined", "1000", "--timeout", "300", "--notices-timeout", "120", "--json", str(out)]
    done = subprocess.run(cmd, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    res = json.loads(out.read_text(encoding="utf-8"))
    p, notices = res["pipeline"], res["notices"]
    assert p["applications"] == N and p["throughput_apps_per_s"] > 0
    assert p["duplicate_task_records"] == 0 and p["duplicate_reply_records"] == 0, p
    assert p["latency_ms"]["b_submit_to_reply_issued"]["count"] == N, p["latency_ms"]["b_submit_to_reply_issued"]
    assert notices["mails"] == notices["distinct_mails"] == 2 * N, notices
    assert notices["webhooks"] == notices["distinct_webhooks"] == 2 * N, notices
    # Beside the bare broker of the same run (the report's point of comparison).
    assert res["raw_broker"]["roundtrip_ms"]["count"] == 50
