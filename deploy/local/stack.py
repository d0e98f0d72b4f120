"""The whole local system as processes: broker and store (through infra.sh), the five services,
the web service (pages; started once the five are healthy) and the mail/webhook sinks. Used by
``./dev up`` and by the end-to-end tests.

    python -m deploy.local.stack up        start everything (no-op for what runs), wait until healthy
    python -m deploy.local.stack down      stop services, sinks, store and broker
    python -m deploy.local.stack status

Two options for the production shape on one machine (the chaos harness uses both):
- ``StackConfig.cluster_base``: the broker is a three-node KRaft cluster (deploy/local/cluster.py,
  three replicas, ``min.insync.replicas=2``) instead of infra.sh's single broker; ``kafka-1`` ..
  ``kafka-3`` name its nodes for ``kill_infra``/``infra("start", ...)``.
- ``StackConfig.replicas``: more than one instance of a service (``intake-2`` is the second
  intake), each its own process and HTTP port (``http_base + 10 * (k - 1) + ...``), the same store
  and consumer groups, so that the instances share the partitions.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from contracts.topics import scoped_in
from deploy.local.readiness import running, sigkill

HOME = Path(__file__).resolve().parents[2]
SERVICES = ("intake", "routing", "reply", "notify", "audit")
# Services that may run as several instances (consumer groups share the partitions; audit is the
# ledger's single writer, see docs/reliability.md).
SCALABLE = ("intake", "routing", "reply", "notify", "web")
# Services that may run a standby: audit's ledger has one writer, the holder of its lease; a second
# audit (``audit-2``, ``replicas={"audit": 2}``) is its standby, serving reads and taking over when
# the leader dies (docs/reliability.md). Not in SCALABLE, so "replicas of every scalable service"
# (the chaos harness) still means one audit.
STANDBY = ("audit",)
# The web service (services/web): pages over the five services' HTTP APIs; no broker. Not in
# SERVICES, which are the APIs (the security suites iterate them).
WEB = "web"
# Development values of the deployment secrets (GONGKAI_ENV=development only; production refuses them).
LOCAL_SECRETS = {
    "INTAKE_QUERY_CODE_SECRET": "local-dev-only-secret",
    "AUDIT_QUERY_CODE_SECRET": "local-dev-only-secret",
    "REPLY_QUERY_CODE_SECRET": "local-dev-only-secret",
    "INTAKE_APPLICANT_REF_SECRET": "local-dev-only-secret",
    # The signed links notify fetches a document's PDF with, to attach it (servicekit.doclinks).
    "REPLY_DOCUMENT_LINK_SECRET": "local-dev-only-secret",
    "NOTIFY_DOCUMENT_LINK_SECRET": "local-dev-only-secret",
}
# The local realm's gongkai-web client secret (deploy/local/keycloak/realm.py) and a session key.
LOCAL_WEB_SECRETS = {
    "WEB_OIDC_CLIENT_SECRET": "gongkai-web-local-dev-secret",
    "WEB_SESSION_SECRET": "local-dev-only-secret",
}


@dataclass
class StackConfig:
    run_dir: Path = field(default_factory=lambda: Path(os.environ.get("GONGKAI_RUN_DIR", HOME / ".local" / "run")))
    kafka_port: int = 19092
    kafka_controller_port: int = 19093
    store_port: int = 27117
    http_base: int = 8100  # intake 8101, routing 8102, reply 8103, notify 8104, audit 8105, web 8106
    smtp_port: int = 2525
    webhook_port: int = 8109
    smsc_port: int = 2775  # the local SMSC (deploy/local/smsc.py), SMPP's registered port
    keycloak_port: int = 18080
    keycloak_mgmt_port: int = 18081
    venv: Path = field(default_factory=lambda: Path(os.environ.get("VENV", HOME / ".local" / "venv")))
    extra_env: dict[str, str] = field(default_factory=dict)
    cluster_base: int | None = None  # a three-node cluster on base+2 .. base+7 instead of the single broker
    replicas: dict[str, int] = field(default_factory=dict)  # service -> instances (default 1)
    # Another agency side by side on the same bus (docs/reliability.md, "Agencies side by side"): its
    # namespace (contracts/topics.py: topics, principals, groups), agency code, routing directory and
    # the other agencies on the bus (GONGKAI_BUS_AGENCIES); ``guest_of`` the stack whose broker and
    # identity provider it uses (it starts only its own store, applies its own ACLs, creates its topics).
    namespace: str = "gongkai"
    agency_code: str | None = None
    directory_path: Path | None = None
    bus_agencies: str = ""
    guest_of: StackConfig | None = None

    def port(self, service: str) -> int:
        name, k = split_instance(service)
        first = self.http_base + 6 if name == WEB else self.http_base + 1 + SERVICES.index(name)
        return first + 10 * (k - 1)

    def instances(self, service: str) -> list[str]:
        """``intake``, ``intake-2``, ...: the process names of a service's instances."""
        n = self.replicas.get(service, 1)
        if n > 1 and service not in SCALABLE and service not in STANDBY:
            raise ValueError(f"{service} runs as one instance only")
        return [service] + [f"{service}-{k}" for k in range(2, n + 1)]

    @property
    def cluster(self):  # noqa: ANN201 - deploy.local.cluster.Cluster | None (imported lazily)
        if self.cluster_base is None:
            return None
        from deploy.local.cluster import Cluster

        return Cluster(run_dir=self.run_dir / "cluster", base_port=self.cluster_base)

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.port(service)}"

    @property
    def kafka_bootstrap(self) -> str:
        if self.guest_of is not None:
            return self.guest_of.kafka_bootstrap
        cluster = self.cluster
        return cluster.bootstrap if cluster is not None else f"127.0.0.1:{self.kafka_port}"

    @property
    def mongo_url(self) -> str:
        return f"mongodb://127.0.0.1:{self.store_port}"

    @property
    def issuer(self) -> str:
        """The local identity provider's issuer (Keycloak realm ``gongkai``)."""
        if self.guest_of is not None:
            return self.guest_of.issuer
        return f"http://127.0.0.1:{self.keycloak_port}/realms/gongkai"

    @property
    def db_prefix(self) -> str:
        """The first part of the store's database names: ``gongkai`` (``gongkai_intake``), or the
        namespace's (``gongkai_km_intake``)."""
        return self.namespace.replace("-", "_")

    def namespace_env(self) -> dict[str, str]:
        """The settings that place a process in this stack's agency (contracts/topics.py)."""
        env = {"GONGKAI_NAMESPACE": self.namespace, "GONGKAI_BUS_AGENCIES": self.bus_agencies}
        if self.agency_code:
            env["GONGKAI_AGENCY_CODE"] = self.agency_code
        if self.directory_path is not None:
            env["ROUTING_DIRECTORY_PATH"] = str(self.directory_path)
        if self.namespace != "gongkai":
            # Its own audience: another agency's officers' tokens (aud gongkai-api) are refused here.
            env["GONGKAI_OIDC_AUDIENCE"] = f"{self.namespace}-api"
        return env

    def infra_env(self) -> dict[str, str]:
        return {**os.environ, **self.namespace_env(), "GONGKAI_RUN_DIR": str(self.run_dir), "KAFKA_PORT": str(self.kafka_port),
                "KAFKA_CONTROLLER_PORT": str(self.kafka_controller_port), "STORE_PORT": str(self.store_port),
                "KEYCLOAK_PORT": str(self.keycloak_port), "KEYCLOAK_MGMT_PORT": str(self.keycloak_mgmt_port),
                "VENV": str(self.venv)}

    def web_env(self, instance: str = WEB) -> dict[str, str]:
        """The web service's environment: the five services' addresses, the IdP, its own store db."""
        env = {
            **os.environ,
            "PYTHONPATH": str(HOME),
            "PYTHONUNBUFFERED": "1",
            "GONGKAI_MONGO_URL": self.mongo_url,
            "GONGKAI_ENV": "development",
            "GONGKAI_OIDC_ISSUER": self.issuer,
            "GONGKAI_OIDC_JWKS_URL": "",
            "GONGKAI_OIDC_JWKS_FILE": "",
            "WEB_HTTP_PORT": str(self.port(instance)),
            "WEB_DB_NAME": f"{self.db_prefix}_web",
            "WEB_PUBLIC_URL": self.url(WEB),
            **{f"WEB_{s.upper()}_URL": self.url(s) for s in SERVICES},
            **LOCAL_WEB_SECRETS,
        }
        env.update(self.extra_env)
        return env

    def service_env(self, service: str) -> dict[str, str]:
        from deploy.local.credentials import kafka_client_env

        name, _ = split_instance(service)
        if name == WEB:
            return self.web_env(service)
        prefix = name.upper()
        env = {
            **os.environ,
            "PYTHONPATH": str(HOME),
            "PYTHONUNBUFFERED": "1",
            "GONGKAI_KAFKA_BOOTSTRAP": self.kafka_bootstrap,
            "GONGKAI_KAFKA_REPLICATION_FACTOR": "3" if self.cluster_base is not None else "1",
            # The service's own Kafka principal (svc-<service>, SASL/SCRAM; contracts/acl.py).
            **kafka_client_env(scoped_in(self.namespace, f"svc-{name}")),
            "GONGKAI_MONGO_URL": self.mongo_url,
            f"{prefix}_HTTP_PORT": str(self.port(service)),
            # Static group membership: a restarted service takes its partitions back at once.
            "GONGKAI_KAFKA_INSTANCE_ID": f"{name}-{self.port(service)}",
            # Events' dataschema: the schemas served by this stack's web service.
            "GONGKAI_SCHEMA_BASE_URL": f"{self.url(WEB)}/schemas/",
            f"{prefix}_DB_NAME": f"{self.db_prefix}_{name}",
            "NOTIFY_SMTP_PORT": str(self.smtp_port),
            # Texts go to the local SMSC (deploy/local/smsc/, its account deploy/local/smsc.py) and
            # point to this stack's portal status page.
            "NOTIFY_SMPP_PORT": str(self.smsc_port),
            "NOTIFY_STATUS_URL": f"{self.url(WEB)}/status",
            # Local development: development secrets accepted (each service logs one warning line).
            "GONGKAI_ENV": "development",
            # Officers' tokens: the local identity provider (deploy/local/keycloak/), its keys by discovery.
            "GONGKAI_OIDC_ISSUER": self.issuer,
            "GONGKAI_OIDC_JWKS_URL": "",
            "GONGKAI_OIDC_JWKS_FILE": "",
            # The local webhook receiver (deploy/local/sinks.py) is on loopback: allowed by name.
            "NOTIFY_WEBHOOK_ALLOW_HOSTS": f"127.0.0.1:{self.webhook_port}",
            # The case's documents are the reply service's: notify attaches them, audit files them.
            "NOTIFY_REPLY_URL": self.url("reply"),
            "AUDIT_REPLY_URL": self.url("reply"),
            **LOCAL_SECRETS,
            **self.namespace_env(),
        }
        env.update(self.extra_env)
        return env


def split_instance(process: str) -> tuple[str, int]:
    """``intake-2`` -> (``intake``, 2); ``intake`` -> (``intake``, 1)."""
    name, _, k = process.rpartition("-")
    if name and k.isdigit():
        return name, int(k)
    return process, 1


class Stack:
    def __init__(self, config: StackConfig | None = None) -> None:
        self.cfg = config or StackConfig()
        self.svc_dir = self.cfg.run_dir / "services"
        self.svc_dir.mkdir(parents=True, exist_ok=True)

    # -- infrastructure ------------------------------------------------------------------
    def infra(self, action: str, what: str = "all") -> None:
        """infra.sh ``action`` ``what``; with a cluster, ``kafka`` (or ``all``) is the cluster and
        ``kafka-N`` one of its nodes (started again: it rejoins and catches up)."""
        if self.cfg.guest_of is not None:  # the host's broker and IdP: only the store is ours
            if what in ("all", "store"):
                subprocess.run(["bash", str(HOME / "deploy/local/infra.sh"), action, "store"],
                               env=self.cfg.infra_env(), check=action != "status")
            if action == "start" and what in ("all", "kafka"):
                self.join_bus()
            return
        cluster = self.cfg.cluster
        if cluster is not None and (what == "all" or what.startswith("kafka")):
            if what == "all":
                for part in ("store", "keycloak"):
                    self.infra(action, part)
            if action == "start" and what.startswith("kafka-"):
                node = int(what.removeprefix("kafka-"))
                cluster.start(node)
                cluster.wait_ready((node,))
            elif action == "start":
                cluster.up()
            elif action == "stop":
                cluster.down()
            return
        subprocess.run(["bash", str(HOME / "deploy/local/infra.sh"), action, what], env=self.cfg.infra_env(),
                       check=action != "status")

    def join_bus(self) -> None:
        """This namespace's principals, ACLs and topics on the host's broker (as infra.sh does for its own)."""
        env = {**self.cfg.infra_env(), "PYTHONPATH": str(HOME)}
        python = str(self.cfg.venv / "bin/python")
        bootstrap = self.cfg.kafka_bootstrap
        for tool in ("kafka_acl.py", "create_topics.py"):
            argv = [python, str(HOME / "deploy/local" / tool)] + (["apply"] if tool == "kafka_acl.py" else [])
            subprocess.run([*argv, "--bootstrap", bootstrap], env=env, check=True, cwd=HOME)

    # -- processes ---------------------------------------------------------------------
    def _pidfile(self, name: str) -> Path:
        return self.svc_dir / f"{name}.pid"

    def pid(self, name: str) -> int | None:
        return running(self._pidfile(name))

    def token(self, username: str) -> str:
        """An access token of an officer of the local realm (password grant of the dev client)."""
        from deploy.local.idp import password_token

        return password_token(self.cfg.issuer, username)

    def log_path(self, name: str) -> Path:
        return self.svc_dir / f"{name}.log"

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> int:
        existing = self.pid(name)
        if existing:
            return existing
        log = self.log_path(name).open("ab")
        proc = subprocess.Popen(argv, cwd=HOME, env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        self._pidfile(name).write_text(str(proc.pid))
        return proc.pid

    def start(self, service: str) -> int:
        """Start a service instance (``intake``, ``intake-2``, ...) unless it runs."""
        name, _ = split_instance(service)
        return self._spawn(service, [str(self.cfg.venv / "bin/python"), "-m", f"services.{name}"],
                           self.cfg.service_env(service))

    def start_sinks(self) -> int:
        self.start_smsc()
        return self._spawn("sinks", [str(self.cfg.venv / "bin/python"), "-m", "deploy.local.sinks",
                                     "--smtp-port", str(self.cfg.smtp_port), "--http-port", str(self.cfg.webhook_port),
                                     "--dir", str(self.cfg.run_dir / "sinks")],
                           {**os.environ, "PYTHONPATH": str(HOME)})

    def start_smsc(self) -> int:
        """The local SMSC (SMPP server, deploy/local/smsc.py), recording into run_dir/smsc."""
        return self._spawn("smsc", [str(self.cfg.venv / "bin/python"), "-m", "deploy.local.smsc",
                                    "--port", str(self.cfg.smsc_port), "--dir", str(self.cfg.run_dir / "smsc")],
                           {**os.environ, "PYTHONPATH": str(HOME)})

    def signal(self, name: str, sig: signal.Signals) -> None:
        pid = self.pid(name)
        if pid:
            os.kill(pid, sig)

    def stop(self, name: str, timeout: float = 20.0) -> None:
        pid = self.pid(name)
        if not pid:
            return
        os.kill(pid, signal.SIGTERM)
        deadline = time.time() + timeout
        while self.pid(name) and time.time() < deadline:
            time.sleep(0.1)
        if self.pid(name):
            os.kill(pid, signal.SIGKILL)
            time.sleep(0.2)

    def kill(self, name: str) -> None:
        """SIGKILL: the crash of a process, no shutdown code runs."""
        pid = self.pid(name)
        if pid:
            sigkill(pid, timeout=5)

    def infra_pid(self, name: str) -> int | None:
        """The pid of the broker (``kafka``; a cluster's node ``kafka-N``), the store (``store``) or
        the identity provider (``keycloak``) of this run dir, if it runs."""
        cluster = self.cfg.cluster
        if cluster is not None and name.startswith("kafka-"):
            return cluster.pid(int(name.removeprefix("kafka-")))
        return running(self.cfg.run_dir / f"{name}.pid")

    def kill_infra(self, name: str, timeout: float = 10.0) -> int | None:
        """SIGKILL the broker (``kafka``) or the store (``store``): a crash, nothing flushed. Restart
        with ``infra("start", name)``. Returns the killed pid (None if it was not running)."""
        pid = self.infra_pid(name)
        if pid:
            sigkill(pid, timeout)
        return pid

    def wait_healthy(self, service: str, timeout: float = 90.0) -> dict:
        deadline = time.time() + timeout
        last: object = None
        while time.time() < deadline:
            if not self.pid(service):
                raise RuntimeError(f"{service} exited; see {self.log_path(service)}")
            try:
                resp = httpx.get(self.cfg.url(service) + "/health", timeout=2)
                last = resp.json()
                if resp.status_code == 200:
                    return last  # type: ignore[return-value]
            except httpx.HTTPError as exc:
                last = repr(exc)
            time.sleep(0.3)
        raise TimeoutError(f"{service} not healthy after {timeout}s: {last}")

    def processes(self) -> list[str]:
        """Every service instance of this stack, the five APIs first, then web."""
        return [p for s in (*SERVICES, WEB) for p in self.cfg.instances(s)]

    def up(self, with_sinks: bool = True) -> None:
        self.infra("start")
        if with_sinks:
            self.start_sinks()
        apis = [p for p in self.processes() if split_instance(p)[0] != WEB]
        for process in apis:
            self.start(process)
        for process in apis:
            self.wait_healthy(process)
        for process in self.cfg.instances(WEB):
            self.start(process)
            self.wait_healthy(process)

    def down(self) -> None:
        for name in (*reversed(self.processes()), "sinks", "smsc"):
            self.stop(name)
        self.infra("stop")

    def status(self) -> dict[str, int | None]:
        return {name: self.pid(name) for name in (*self.processes(), "sinks", "smsc")}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="stack")
    parser.add_argument("action", choices=["up", "down", "status"])
    args = parser.parse_args(argv)
    stack = Stack()
    if args.action == "up":
        stack.up()
        for name, pid in stack.status().items():
            where = (stack.cfg.url(name) if name in SERVICES else f"{stack.cfg.url(name)}/ (pages)" if name == WEB
                     else f"smpp :{stack.cfg.smsc_port}" if name == "smsc"
                     else f"smtp :{stack.cfg.smtp_port}, http :{stack.cfg.webhook_port}")
            print(f"  {name:8} pid {pid}  {where}")
    elif args.action == "down":
        stack.down()
    else:
        stack.infra("status")
        for name, pid in stack.status().items():
            print(f"  {name:8} {'running pid ' + str(pid) if pid else 'stopped'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
