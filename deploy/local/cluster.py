"""A three-node Kafka cluster (KRaft, every node broker and controller) on loopback ports.

The single local broker (infra.sh) is what development and most tests use. This is what an agency
runs in production, on one machine: three nodes, a three-voter controller quorum, every topic of
the catalogue (contracts.topics) with three replicas and ``min.insync.replicas=2``, the same
SASL/SCRAM principals and ACLs (contracts.acl, applied by kafka_acl.py) as the single broker. The
services' producers are already ``acks=all`` and idempotent (servicekit.kafka), so a write the
cluster acknowledges is on two nodes at least, and losing any one node loses nothing.

    PYTHONPATH=. .local/venv/bin/python -m deploy.local.cluster up   [--run-dir D] [--base-port 29400]
    PYTHONPATH=. .local/venv/bin/python -m deploy.local.cluster status|down [--run-dir D]

Node ``i`` (1..3) listens for clients on ``base + 2i`` and for the quorum on ``base + 2i + 1``;
with the default base, clients bootstrap from 127.0.0.1:29402,127.0.0.1:29404,127.0.0.1:29406.
The ports are below the kernel's ephemeral range (32768-60999): a node's outgoing connection to
another node can then never take the port a third node is about to listen on.
Each node's config is rendered from the single broker's template (kafka/server.properties.template)
with the cluster's overrides, so the two never drift apart in anything but the quorum and the
replication settings.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from deploy.local.credentials import kafka_password
from deploy.local.readiness import running, sigkill

HERE = Path(__file__).resolve().parent
HOME = HERE.parents[1]
TEMPLATE = HERE / "kafka" / "server.properties.template"
NODES = (1, 2, 3)

# What differs from the single broker: replication everywhere, and a static three-voter quorum.
REPLICATION = {
    "default.replication.factor": "3",
    "min.insync.replicas": "2",
    "offsets.topic.replication.factor": "3",
    "transaction.state.log.replication.factor": "3",
    "transaction.state.log.min.isr": "2",
    "share.coordinator.state.topic.replication.factor": "3",
    "share.coordinator.state.topic.min.isr": "2",
    # A node that comes back is a full replica again quickly; a dead one leaves the ISR in 10 s.
    "replica.lag.time.max.ms": "10000",
    "unclean.leader.election.enable": "false",
}


def _local(name: str, default: str) -> str:
    return os.environ.get(name, default)


@dataclass
class Cluster:
    run_dir: Path = field(default_factory=lambda: Path(_local("GONGKAI_RUN_DIR", str(HOME / ".local/run"))) / "cluster")
    base_port: int = 29400
    host: str = "127.0.0.1"
    libs: Path = field(default_factory=lambda: Path(_local("KAFKA_LIBS", str(HOME / ".local/kafka/libs"))))
    heap: str = field(default_factory=lambda: _local("KAFKA_HEAP_OPTS", "-Xms64m -Xmx256m"))
    jvm: str = field(default_factory=lambda: _local("KAFKA_JVM_OPTS", "-XX:+UseSerialGC -XX:TieredStopAtLevel=1"))

    # -- addresses --------------------------------------------------------------------------
    def client_port(self, node: int) -> int:
        return self.base_port + 2 * node

    def controller_port(self, node: int) -> int:
        return self.base_port + 2 * node + 1

    def address(self, node: int) -> str:
        return f"{self.host}:{self.client_port(node)}"

    @property
    def bootstrap(self) -> str:
        return ",".join(self.address(n) for n in NODES)

    @property
    def voters(self) -> str:
        return ",".join(f"{n}@{self.host}:{self.controller_port(n)}" for n in NODES)

    def node_dir(self, node: int) -> Path:
        return self.run_dir / f"node{node}"

    def _props(self, node: int) -> Path:
        return self.node_dir(node) / "server.properties"

    def _pidfile(self, node: int) -> Path:
        return self.node_dir(node) / "kafka.pid"

    def log(self, node: int) -> Path:
        return self.node_dir(node) / "kafka.log"

    # -- configuration ----------------------------------------------------------------------
    def render(self, node: int) -> str:
        """Node ``node``'s server.properties: the single broker's template, the cluster's overrides."""
        text = TEMPLATE.read_text(encoding="utf-8")
        for key, value in {
            "KAFKA_HOST": self.host,
            "KAFKA_PORT": str(self.client_port(node)),
            "KAFKA_CONTROLLER_PORT": str(self.controller_port(node)),
            "DATA_DIR": str(self.node_dir(node) / "data"),
            "KAFKA_ADMIN_PASSWORD": kafka_password("admin"),
        }.items():
            text = text.replace("${" + key + "}", value)
        if "${" in text:
            raise RuntimeError(f"unsubstituted placeholder in the rendered config of node {node}")
        overrides = {**REPLICATION, "node.id": str(node), "controller.quorum.voters": self.voters}
        lines = []
        for line in text.splitlines():
            key = line.split("=", 1)[0].strip() if "=" in line and not line.lstrip().startswith("#") else None
            if key == "controller.quorum.bootstrap.servers":  # dynamic quorum of one: replaced by the voters
                continue
            if key in overrides:
                line = f"{key}={overrides.pop(key)}"
            lines.append(line)
        lines += ["", "############################# Cluster (deploy/local/cluster.py) #############################"]
        lines += [f"{k}={v}" for k, v in overrides.items()]
        return "\n".join(lines) + "\n"

    def _java(self, node: int, *args: str) -> list[str]:
        return ["java", *self.heap.split(), *self.jvm.split(), "-Djava.awt.headless=true",
                f"-Dlog4j2.configurationFile={HERE / 'kafka' / 'log4j2.yaml'}",
                f"-Dkafka.logs.dir={self.node_dir(node) / 'logs'}", "-cp", f"{self.libs}/*", *args]

    def _cluster_id(self) -> str:
        path = self.run_dir / "cluster.id"
        if not path.exists():
            out = subprocess.run(self._java(1, "kafka.tools.StorageTool", "random-uuid"), capture_output=True,
                                 text=True, check=True).stdout.strip().splitlines()[-1]
            self.run_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(out)
        return path.read_text().strip()

    def prepare(self, node: int) -> None:
        """Write the node's config (mode 600: it holds the admin password) and format its storage once."""
        d = self.node_dir(node)
        (d / "logs").mkdir(parents=True, exist_ok=True)
        props = self._props(node)
        fd = os.open(props, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(self.render(node))
        if (d / "data" / "meta.properties").exists():
            return
        # The admin's SCRAM credential is in the bootstrap metadata: the brokers authenticate with it.
        done = subprocess.run(
            self._java(node, "kafka.tools.StorageTool", "format", "-t", self._cluster_id(), "-c", str(props),
                       "--add-scram", f"SCRAM-SHA-512=[name=admin,password={kafka_password('admin')}]"),
            capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"node {node}: storage format failed: {done.stderr[-2000:]}")

    # -- processes --------------------------------------------------------------------------
    def pid(self, node: int) -> int | None:
        return running(self._pidfile(node))

    def start(self, node: int) -> int:
        existing = self.pid(node)
        if existing:
            return existing
        self.prepare(node)
        with self.log(node).open("ab") as log:
            proc = subprocess.Popen(self._java(node, "kafka.Kafka", str(self._props(node))), stdout=log,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        self._pidfile(node).write_text(str(proc.pid))
        return proc.pid

    def kill(self, node: int) -> int | None:
        """SIGKILL node ``node``: a crash, nothing flushed, no controlled shutdown."""
        pid = self.pid(node)
        if pid:
            sigkill(pid)
        return pid

    def stop(self, node: int, timeout: float = 30.0) -> None:
        pid = self.pid(node)
        if not pid:
            return
        os.kill(pid, 15)
        deadline = time.monotonic() + timeout
        while self.pid(node) and time.monotonic() < deadline:
            time.sleep(0.1)
        if self.pid(node):
            sigkill(pid)

    def wait_ready(self, nodes: tuple[int, ...] = NODES, timeout: float = 120.0) -> None:
        """Until every node in ``nodes`` answers an admin request as ``admin``."""
        env = {**os.environ, "PYTHONPATH": str(HOME)}
        for node in nodes:
            pid = self.pid(node)
            done = subprocess.run([sys.executable, str(HERE / "kafka_ready.py"), "--bootstrap", self.address(node),
                                   "--timeout", str(timeout), *(["--pid", str(pid)] if pid else [])], env=env)
            if done.returncode != 0:
                tail = self.log(node).read_text(errors="replace")[-3000:] if self.log(node).exists() else ""
                raise RuntimeError(f"kafka node {node} not ready:\n{tail}")

    def provision(self, departments: list[str] | None = None) -> None:
        """The catalogue's principals and ACLs, then its topics (three replicas each)."""
        env = {**os.environ, "PYTHONPATH": str(HOME)}
        dept_args = [a for d in (departments or []) for a in ("--dept", d)]
        # The check after the apply reads the ACLs back from any node: one that has not caught up with
        # the metadata yet reports some missing. The apply is idempotent, so it is repeated.
        for attempt in range(5):
            done = subprocess.run([sys.executable, str(HERE / "kafka_acl.py"), "apply", "--bootstrap",
                                   self.bootstrap, *dept_args], env=env, capture_output=True, text=True)
            if done.returncode == 0:
                print(done.stdout, end="")
                break
            if attempt == 4:
                raise RuntimeError(f"kafka_acl.py apply failed on the cluster: {done.stderr[-2000:]}")
            time.sleep(2)
        subprocess.run([sys.executable, str(HERE / "create_topics.py"), "--bootstrap", self.bootstrap,
                        "--replication-factor", "3", *dept_args], env=env, check=True)

    def up(self, departments: list[str] | None = None) -> None:
        for node in NODES:
            self.start(node)
        self.wait_ready()
        self.provision(departments)

    def down(self) -> None:
        for node in NODES:
            self.stop(node)

    def status(self) -> dict[int, int | None]:
        return {node: self.pid(node) for node in NODES}


async def under_replicated(bootstrap: str, topic_names: list[str] | None = None) -> dict[str, list[int]]:
    """Partitions whose in-sync replicas are fewer than their replicas, by topic (empty: all in sync)."""
    from aiokafka.admin import AIOKafkaAdminClient

    from deploy.local.credentials import kafka_client_kwargs

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **kafka_client_kwargs())
    await admin.start()
    try:
        names = topic_names or [t for t in await admin.list_topics() if not t.startswith("__")]
        out: dict[str, list[int]] = {}
        for topic in await admin.describe_topics(names):
            short = [p["partition"] for p in topic["partitions"] if len(p["isr"]) < len(p["replicas"])]
            if short:
                out[topic["topic"]] = sorted(short)
        return out
    finally:
        await admin.close()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="cluster", description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=("up", "down", "status"))
    parser.add_argument("--run-dir", type=Path, default=None)
    parser.add_argument("--base-port", type=int, default=29400)
    parser.add_argument("--dept", action="append", default=[])
    args = parser.parse_args(argv)
    cluster = Cluster(base_port=args.base_port) if args.run_dir is None else Cluster(run_dir=args.run_dir,
                                                                                     base_port=args.base_port)
    if args.action == "up":
        cluster.up(args.dept or None)
        print(f"cluster: up, bootstrap {cluster.bootstrap}, voters {cluster.voters}")
    elif args.action == "down":
        cluster.down()
        print("cluster: stopped")
    else:
        for node, pid in cluster.status().items():
            print(f"  node {node}  {cluster.address(node)}  {'running pid ' + str(pid) if pid else 'stopped'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
