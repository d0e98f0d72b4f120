"""The capacity calculation of docs/capacity.md, from the measured CPU cost of one application.

    python -m deploy.kubernetes.capacity                       the tables of docs/capacity.md
    python -m deploy.kubernetes.capacity --measurement m.json  from another cpu_probe measurement
    python -m deploy.kubernetes.capacity --update-doc          write the table into docs/capacity.md

Input: the CPU seconds one application costs each process kind, as measured by
``deploy/kubernetes/cpu_probe.py`` around ``./dev bench`` (capacity-measurement.json: one
application = three departments answering over HTTP, two notices by mail and two by webhook).
Everything else is a stated assumption (``Assumptions``), not a measurement. The rules:

- a service process is one Python event loop: it uses at most one core, planned at ``UTIL`` of it;
  instances = ceil(rate x CPU-per-application / UTIL), at least 2 (a PDB keeps one up), but audit
  is always 1 (the ledger's single writer): its ceiling is a rate, and above it the ledger lags;
- a consumer group reads a topic with at most as many members as the topic has partitions;
- brokers: at least 3 (replicas 3, min.insync.replicas 2); the measured broker CPU was one
  broker with one replica, so it is multiplied by the replication factor;
- partitions = what the catalogue gives each topic, times the departments on the bus.
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
MEASUREMENT = HERE / "capacity-measurement.json"
DOC = HERE.parents[1] / "docs" / "capacity.md"
SERVICES = ("intake", "routing", "reply", "notify", "audit")
UTIL = 0.6  # plan each core at 60 %: room for bursts, GC, a lost node
REPLICATION = 3


@dataclass(frozen=True)
class Assumptions:
    events_per_application: float = 17.0  # docs/reliability.md chaos run: 2,550 events for 150 applications
    event_bytes: int = 1024  # benchmarks/pipeline.py: "1024 B payload, ~an event"
    retention_days: int = 7  # deploy/kubernetes/base/kafka/kafka.yaml log.retention.hours
    working_days: int = 250
    office_hours: float = 8.0
    peak_hour_factor: float = 2.0  # the busiest hour carries twice the day's average hour


@dataclass(frozen=True)
class Scenario:
    name: str
    applications_per_day: float
    hours: float  # over how many hours the day's applications arrive
    peak_factor: float
    departments: int  # departments on the bus (their topics)
    deployments: int = 1  # identical deployments (buses) the load is spread over

    @property
    def peak_rate(self) -> float:
        """Applications per second at the peak, on one deployment."""
        return self.applications_per_day / self.deployments / (self.hours * 3600) * self.peak_factor


def load(path: Path = MEASUREMENT) -> dict[str, float]:
    phase = json.loads(path.read_text(encoding="utf-8"))["pipeline_phase"]
    return dict(phase["cpu_seconds_per_application_by_process"])


def partitions(departments: int, dept_partitions: int = 3) -> int:
    """The bus's partitions: the catalogue's static topics and DLTs, and per department its inbox,
    answers and replies topics (``dept_partitions`` each) and two one-partition DLTs."""
    from contracts import topics

    static = sum(s.partitions for s in topics.with_dead_letters(list(topics.STATIC_TOPICS)))
    return static + departments * (3 * dept_partitions + 2)


def plan(cpu: dict[str, float], s: Scenario, a: Assumptions = Assumptions()) -> dict[str, object]:
    rate = s.peak_rate
    out: dict[str, object] = {"scenario": s.name, "peak_rate": rate, "deployments": s.deployments}
    for svc in SERVICES:
        cores = rate * cpu[svc]
        if svc == "audit":
            out[svc] = 1
            out["audit_load"] = cores  # of its one core
            ceiling = UTIL / cpu[svc]
            out["audit_ceiling"] = ceiling
            day = s.applications_per_day / s.deployments
            out["ledger_behind_hours"] = max(0.0, day - ceiling * s.hours * 3600) / ceiling / 3600
        else:
            out[svc] = max(2, math.ceil(cores / UTIL))
    broker_cores = rate * cpu["kafka broker"] * REPLICATION
    events_day = s.applications_per_day / s.deployments * a.events_per_application
    storage_gb = events_day * a.event_bytes * REPLICATION * a.retention_days / 1e9
    out["broker_cores"] = broker_cores
    out["store_cores"] = rate * cpu["store"]
    out["storage_gb"] = storage_gb
    out["events_per_s"] = rate * a.events_per_application
    out["partitions_3"] = partitions(s.departments, 3)
    out["partitions_1"] = partitions(s.departments, 1)
    # Rule of thumb (not measured here): ~4,000 partition replicas per broker.
    out["brokers"] = max(3, math.ceil(out["partitions_3"] * REPLICATION / 4000),
                         math.ceil(broker_cores / (2 * UTIL)))  # 2 cores per broker (KafkaNodePool)
    out["brokers_1"] = max(3, math.ceil(out["partitions_1"] * REPLICATION / 4000),
                           math.ceil(broker_cores / (2 * UTIL)))
    return out


PROVINCE_ENDPOINTS = 6407  # 云南省政府信息依申请公开平台: 60 -> 6,407 受理端口 (shared/seeds/000_2b862996c9ea931a.txt)
OFFICE_PER_YEAR = 223 / 8 * 12  # the provincial office: 223 applications from January to August 2024 (same source)
OFFICE_DEPARTMENTS = 16  # services/routing/directory.json: the OGI office and 15 departments
PROVINCES = 31


def scenarios(a: Assumptions = Assumptions()) -> list[Scenario]:
    office_day = OFFICE_PER_YEAR / a.working_days
    # Upper bound: every endpoint of the province as busy as the provincial office itself.
    province_day = PROVINCE_ENDPOINTS * office_day
    return [
        Scenario("A1 provincial office alone (16 departments), ordinary day", office_day, a.office_hours, 3.0,
                 OFFICE_DEPARTMENTS),
        Scenario("A2 provincial office alone, surge: 100,000 in one day", 100_000, a.office_hours,
                 a.peak_hour_factor, OFFICE_DEPARTMENTS),
        Scenario("A3 provincial office alone, surge: 100,000 within one hour", 100_000, 1.0, 1.0, OFFICE_DEPARTMENTS),
        Scenario("B1 Yunnan on one bus (6,407 departments), ordinary day (upper bound)", province_day,
                 a.office_hours, 3.0, PROVINCE_ENDPOINTS),
        Scenario("B2 Yunnan on one bus, surge: 100,000 in one day", 100_000, a.office_hours, a.peak_hour_factor,
                 PROVINCE_ENDPOINTS),
        Scenario("C1 country, 31 provincial buses, ordinary day (per bus)", province_day * PROVINCES,
                 a.office_hours, 3.0, PROVINCE_ENDPOINTS, PROVINCES),
        Scenario("C2 country, 31 provincial buses, surge of 100,000 in every province at once (per bus)",
                 100_000 * PROVINCES, a.office_hours, a.peak_hour_factor, PROVINCE_ENDPOINTS, PROVINCES),
        Scenario("C3 country on ONE national bus, the same surge", 100_000 * PROVINCES, a.office_hours,
                 a.peak_hour_factor, PROVINCE_ENDPOINTS * PROVINCES),
    ]


def table(cpu: dict[str, float]) -> str:
    rows = [plan(cpu, s) for s in scenarios()]
    head = ("| scenario | peak apps/s | events/s | intake | routing | reply | notify | audit load (of 1 core) | "
            "ledger behind | broker cores | store cores | Kafka disk (GB, 7 d, x3) | partitions (dept topics 3 / 1) | "
            "brokers (3 / 1) | consumers fit 3 partitions | deployments |")
    lines = [head, "|" + "---|" * 17]
    for r in rows:
        behind = f"{r['ledger_behind_hours']:.1f} h" if r["ledger_behind_hours"] else "0"
        lines.append(
            f"| {r['scenario']} | {r['peak_rate']:.2f} | {r['events_per_s']:.0f} | {r['intake']} | {r['routing']} | "
            f"{r['reply']} | {r['notify']} | {r['audit_load']:.2f} | {behind} | {r['broker_cores']:.1f} | "
            f"{r['store_cores']:.1f} | {r['storage_gb']:.0f} | {r['partitions_3']:,} / {r['partitions_1']:,} | "
            f"{r['brokers']} / {r['brokers_1']} | {'yes' if max(r[x] for x in SERVICES) <= 3 else 'NO'} | "
            f"{r['deployments']} |")
    costs = " + ".join(f"{k} {cpu[k]:.4f}" for k in (*SERVICES, "kafka broker", "store"))
    ceiling = UTIL / cpu["audit"]
    lines += ["", f"CPU seconds per application used: {costs}.",
              f"Audit's ceiling at {UTIL:.0%} of one core: {ceiling:.1f} applications/s "
              f"({ceiling * 3600:,.0f} an hour)."]
    return "\n".join(lines)


BEGIN = "<!-- capacity table: python -m deploy.kubernetes.capacity -->\n"
END = "\n<!-- end of capacity table -->"


def table_in(doc: str) -> str:
    """The table docs/capacity.md shows."""
    return doc.split(BEGIN, 1)[1].split(END, 1)[0]


def with_table(doc: str, text: str) -> str:
    head, rest = doc.split(BEGIN, 1)
    return head + BEGIN + text + END + rest.split(END, 1)[1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--measurement", type=Path, default=MEASUREMENT)
    ap.add_argument("--update-doc", action="store_true", help=f"write the table into {DOC.name}")
    args = ap.parse_args(argv)
    text = table(load(args.measurement))
    if args.update_doc:
        DOC.write_text(with_table(DOC.read_text(encoding="utf-8"), text), encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
