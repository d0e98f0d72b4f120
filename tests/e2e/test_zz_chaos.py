"""The short chaos run: the harness of benchmarks/chaos.py on a private stack of its own (ports
42xxx; the session stack is not used) with 12 applications (3 departments each, answered over the
API with officers' tokens), a few service SIGKILLs, one store SIGKILL and one broker SIGKILL; then
every invariant must hold (the full run: ``benchmarks/chaos.py``, 150 applications, 40 kills)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from benchmarks.chaos import Options, chaos_config, report, run

pytestmark = pytest.mark.e2e


def test_short_chaos_run_keeps_every_invariant() -> None:
    opts = Options(n=12, seed=7, kills=5, duration=40.0, stall=45.0, settle=5.0, quiesce_timeout=150.0,
                   resume_timeout=60.0, raw_roundtrips=50, raw_pipelined=1000, submit_deadline=180.0,
                   answer_deadline=180.0)
    cfg = chaos_config(Path(tempfile.mkdtemp(prefix="gk-chaos-test-")), base=42000)
    res = run(cfg, opts, log=lambda m: print(m, flush=True))
    text = report(res)
    print(text)
    kinds = res["counts"]["kills_by_target"]
    assert kinds.get("store") == 1 and kinds.get("kafka") == 1, kinds
    assert res["counts"]["service_kills"] == 5
    failed = [f"{i['name']}: {i['value']} (expected {i['expected']})" for i in res["invariants"] if not i["ok"]]
    assert not failed, "\n".join(failed) + "\n" + text
