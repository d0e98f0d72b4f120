"""docs/capacity.md shows what deploy/kubernetes/capacity.py computes from the committed
measurement, and the calculation follows its stated rules."""

from __future__ import annotations

import json
from dataclasses import replace

from deploy.kubernetes import capacity


def test_the_doc_shows_the_calculation_of_the_committed_measurement():
    doc = capacity.DOC.read_text(encoding="utf-8")
    assert capacity.table_in(doc) == capacity.table(capacity.load()), \
        "run python -m deploy.kubernetes.capacity --update-doc"


def test_the_measurement_is_what_the_doc_quotes():
    m = json.loads(capacity.MEASUREMENT.read_text(encoding="utf-8"))
    phase = m["pipeline_phase"]
    assert m["returncode"] == 0 and phase["applications"] >= 50
    per_app = phase["cpu_seconds_per_application_by_process"]
    for name, value in phase["cpu_seconds_by_process"].items():
        assert abs(per_app[name] - value / phase["applications"]) < 1e-9
    doc = capacity.DOC.read_text(encoding="utf-8")
    services = sum(per_app[s] for s in capacity.SERVICES)
    assert f"**{services:.4f}**" in doc
    for name in capacity.SERVICES:
        assert f"| {name} | {phase['cpu_seconds_by_process'][name]:.2f} | {per_app[name]:.4f} |" in doc


def test_rules():
    cpu = capacity.load()
    quiet = capacity.Scenario("quiet", 10, 8, 1, 16)
    rows = capacity.plan(cpu, quiet)
    assert rows["audit"] == 1 and all(rows[s] == 2 for s in capacity.SERVICES if s != "audit")
    assert rows["brokers"] == 3 and rows["ledger_behind_hours"] == 0
    # Twice the CPU per application: twice the cores, so at least as many instances.
    hot = capacity.Scenario("hot", 1_000_000, 1, 1, 16)
    base, doubled = capacity.plan(cpu, hot), capacity.plan({k: 2 * v for k, v in cpu.items()}, hot)
    assert doubled["broker_cores"] == 2 * base["broker_cores"]
    assert all(doubled[s] >= base[s] for s in capacity.SERVICES)
    assert doubled["audit"] == 1 and doubled["ledger_behind_hours"] > base["ledger_behind_hours"] > 0
    # Audit's ceiling: the rate at which it uses 60 % of one core.
    at_ceiling = capacity.plan(cpu, capacity.Scenario("c", capacity.UTIL / cpu["audit"] * 3600, 1, 1, 16))
    assert abs(at_ceiling["audit_load"] - capacity.UTIL) < 1e-9 and at_ceiling["ledger_behind_hours"] < 1e-9
    # Partitions grow with the departments (11 per department at 3 partitions a topic).
    assert capacity.partitions(17) - capacity.partitions(16) == 11
    assert capacity.partitions(17, 1) - capacity.partitions(16, 1) == 5
    assert replace(quiet, deployments=2).peak_rate == quiet.peak_rate / 2
