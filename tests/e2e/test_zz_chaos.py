"""The short chaos run: the harness of benchmarks/chaos.py on a private stack of its own (ports
31xxx; the session stack is not used) in the production shape - a three-node Kafka cluster, two
instances of intake, routing, reply, notify and web - with 20 applications (3 departments each,
answered over the API with officers' tokens) and at least 20 SIGKILLs: service and web instances at
random times, the store, two cluster nodes, the identity provider, and reply during a release,
notify during a delivery, audit at a checkpoint; then the harness resolves the e-mails left
uncertain as the OGI office does (Message-ID in the SMTP sink's log: sent, else resend) and every
invariant must hold, each notice exactly once at the sinks (the full run: ``benchmarks/chaos.py``,
300 applications, over 100 kills)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from benchmarks.chaos import Options, chaos_config, report, run

pytestmark = pytest.mark.e2e


def test_short_chaos_run_keeps_every_invariant() -> None:
    opts = Options(n=20, seed=7, kills=14, duration=70.0, stall=60.0, settle=5.0, quiesce_timeout=200.0,
                   resume_timeout=60.0, raw_roundtrips=50, raw_pipelined=1000, submit_deadline=240.0,
                   answer_deadline=240.0, store_kills=1, broker_kills=2, idp_kills=1, release_kills=1,
                   delivery_kills=1, checkpoint_kills=1, cluster=True, replicas=2)
    cfg = chaos_config(Path(tempfile.mkdtemp(prefix="gk-chaos-test-")), base=31000, cluster=True, replicas=2)
    res = run(cfg, opts, log=lambda m: print(m, flush=True))
    text = report(res)
    print(text)
    c = res["counts"]
    kinds = c["kills_by_kind"]
    assert kinds.get("store") == 1 and kinds.get("kafka") == 2 and kinds.get("keycloak") == 1, kinds
    assert c["kills"] >= 20, c["kills_by_target"]
    assert c["kills_timed"].get("release") == 1 and c["kills_timed"].get("checkpoint") == 1, c["kills_timed"]
    assert c["kills_timed"].get("delivery", 0) >= 1, c["kills_timed"]  # one per notify instance
    # The office's step: every uncertain e-mail resolved (sent or resend) and then delivered.
    office = (c["uncertain_mails"], c["uncertain_resolved_sent"] + c["uncertain_resolved_resent"],
              c["uncertain_resolved_delivered"], c["uncertain_left_in_store"])
    assert office[0] is not None and office[0] == office[1] == office[2] and office[3] == 0, office
    failed = [f"{i['name']}: {i['value']} (expected {i['expected']})" for i in res["invariants"] if not i["ok"]]
    assert not failed, "\n".join(failed) + "\n" + text
