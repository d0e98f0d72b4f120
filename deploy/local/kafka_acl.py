"""Make the broker's principals and ACLs exactly those of contracts/acl.py (used by infra.sh start).

    kafka_acl.py apply  [--dept CODE ...]   SCRAM users for every principal, the ACLs of the table
    kafka_acl.py revoke --dept CODE ...     remove departments: their user, their ACLs, the grants naming them
    kafka_acl.py show   [--dept CODE ...]   print the table (no broker needed)

The departments are those of the routing directory's home agency (ROUTING_DIRECTORY_PATH, default
services/routing/directory.json), those in GONGKAI_DEPARTMENTS (comma-separated), those given with
``--dept``, and those whose principal the broker already holds: a department added at run time
(``apply --dept <code>``, when the directory gained it) is kept by later starts until revoked.

``apply`` is idempotent: users are upserted (each principal's local password, deploy/local/credentials.py),
missing ACLs are created, and the ACLs this namespace decides (``acl.manages``: those on its topics,
and its own principals' svc-*, dept-* groups) that the table does not have are deleted; ``admin``,
any other principal and another namespace's ACLs on the same cluster are left alone. The namespace
is ``GONGKAI_NAMESPACE`` (contracts/topics.py); ``GONGKAI_BUS_AGENCIES`` adds the grants to the
other namespaces' routing (our referrals topic). It runs as ``admin`` through the
Kafka Admin API, with the small Java program deploy/local/kafka/GongkaiKafkaAdmin.java (compiled on
first use into $KAFKA_ADMIN_CLASSES): aiokafka has no API for ACLs nor SCRAM users.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from contracts import acl
from contracts.acl import Acl
from deploy.local.credentials import ADMIN, MECHANISM, PROTOCOL, kafka_password

HOME = Path(__file__).resolve().parents[2]
LOCAL = Path(os.environ.get("GONGKAI_LOCAL_DIR", HOME / ".local"))
KAFKA_LIBS = Path(os.environ.get("KAFKA_LIBS", LOCAL / "kafka" / "libs"))
ADMIN_CLASSES = Path(os.environ.get("KAFKA_ADMIN_CLASSES", LOCAL / "kafka" / "classes"))
ADMIN_SOURCE = HOME / "deploy" / "local" / "kafka" / "GongkaiKafkaAdmin.java"
JVM_OPTS = os.environ.get("KAFKA_JVM_OPTS", "-XX:+UseSerialGC -XX:TieredStopAtLevel=1").split()


# ------------------------------------------------------------------------------ departments
def directory_departments(path: Path | None = None) -> list[str]:
    """The department codes (OGI office included) of the routing directory file's home agency."""
    from contracts.directory_file import DEFAULT_PATH, home_department_codes

    return home_department_codes(path or Path(os.environ.get("ROUTING_DIRECTORY_PATH", DEFAULT_PATH)))


def requested_departments(extra: Iterable[str] = (), use_directory: bool = True) -> list[str]:
    codes = set(extra)
    codes |= {c.strip() for c in os.environ.get("GONGKAI_DEPARTMENTS", "").split(",") if c.strip()}
    if use_directory:
        codes |= set(directory_departments())
    return sorted(codes)


# ------------------------------------------------------------------------------ the plan (pure)
@dataclass(frozen=True)
class BrokerState:
    users: frozenset[str]
    acls: frozenset[Acl]


@dataclass(frozen=True)
class Plan:
    departments: list[str]
    upsert_users: list[str]
    delete_users: list[str]
    create: list[Acl]
    delete: list[Acl]


def plan(state: BrokerState, requested: Iterable[str], removed: Iterable[str] = ()) -> Plan:
    """What to change so that the broker holds exactly the table of the departments wanted."""
    removed = set(removed)
    dept = acl.DEPT_PRINCIPAL_PREFIX  # this namespace's departments (contracts.topics.scoped)
    known = {u.removeprefix(dept) for u in state.users if u.startswith(dept)}
    known |= {a.principal.removeprefix(f"User:{dept}") for a in state.acls if a.principal.startswith(f"User:{dept}")}
    departments = sorted((set(requested) | known) - removed)
    desired = set(acl.acls(departments))
    managed = {a for a in state.acls if acl.manages(a)}  # never another namespace's on the same cluster
    return Plan(
        departments=departments,
        upsert_users=[p for p in acl.principals(departments) if p != ADMIN],
        delete_users=sorted(u for u in state.users if u in {acl.department_principal(c) for c in removed}),
        create=sorted(desired - state.acls),
        delete=sorted(managed - desired),
    )


# ------------------------------------------------------------------------------ the broker
def client_properties(bootstrap: str, principal: str = ADMIN, password: str | None = None) -> str:
    password = kafka_password(principal) if password is None else password
    jaas = (f'org.apache.kafka.common.security.scram.ScramLoginModule required username="{principal}" '
            f'password="{password}";')
    return "\n".join([
        f"bootstrap.servers={bootstrap}",
        f"security.protocol={PROTOCOL}",
        f"sasl.mechanism={MECHANISM}",
        f"sasl.jaas.config={jaas}",
        "request.timeout.ms=20000",
        "default.api.timeout.ms=30000",
        "client.id=gongkai-kafka-acl",
        "",
    ])


def ensure_admin_tool() -> None:
    """Compile GongkaiKafkaAdmin.java unless the classes of this very source are there."""
    want = hashlib.sha256(ADMIN_SOURCE.read_bytes()).hexdigest()
    stamp = ADMIN_CLASSES / "GongkaiKafkaAdmin.sha256"
    if stamp.exists() and stamp.read_text().strip() == want:
        return
    ADMIN_CLASSES.parent.mkdir(parents=True, exist_ok=True)
    with open(ADMIN_CLASSES.parent / ".admin-classes.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # concurrent starts (other run dirs) wait for one compilation
        if stamp.exists() and stamp.read_text().strip() == want:
            return
        tmp = Path(tempfile.mkdtemp(prefix="classes.", dir=ADMIN_CLASSES.parent))
        subprocess.run(["javac", "--release", "17", "-Xlint:all", "-Werror", "-d", str(tmp),
                        "-cp", f"{KAFKA_LIBS}/*", str(ADMIN_SOURCE)], check=True)
        (tmp / "GongkaiKafkaAdmin.sha256").write_text(want + "\n")
        shutil.rmtree(ADMIN_CLASSES, ignore_errors=True)
        tmp.rename(ADMIN_CLASSES)


def _classpath() -> str:
    patterns = ("kafka-clients-*.jar", "slf4j-api-*.jar", "log4j-*.jar")  # the Admin client and its logging
    jars = [j for pattern in patterns for j in KAFKA_LIBS.glob(pattern)]
    if not any(j.name.startswith("kafka-clients-") for j in jars):
        raise RuntimeError(f"no kafka-clients jar in {KAFKA_LIBS}: run deploy/local/install.sh")
    return ":".join([str(ADMIN_CLASSES), *map(str, sorted(jars))])


def _parse_state(lines: Iterable[str]) -> BrokerState:
    users: set[str] = set()
    acls: set[Acl] = set()
    for line in lines:
        f = line.split("\t")
        if f[0] == "user" and f[2] == MECHANISM:
            users.add(f[1])
        elif f[0] == "acl":
            principal, rtype, name, pattern, op, perm, host = f[1:8]
            acls.add(Acl(principal, rtype, name, pattern, op, perm, host))
    return BrokerState(frozenset(users), frozenset(acls))


def _acl_line(verb: str, a: Acl) -> str:
    return "\t".join([verb, a.principal, a.resource_type, a.resource_name, a.pattern_type, a.operation,
                      a.permission, a.host])


def commands(p: Plan) -> list[str]:
    lines = [f"upsert-user\t{u}\t{kafka_password(u)}" for u in p.upsert_users]
    lines += [f"delete-user\t{u}" for u in p.delete_users]
    return lines + [_acl_line("delete-acl", a) for a in p.delete] + [_acl_line("create-acl", a) for a in p.create]


def sync(bootstrap: str, make_plan: Callable[[BrokerState], Plan | None], timeout: float = 120) -> tuple[
        BrokerState, Plan | None, BrokerState]:
    """One round trip with GongkaiKafkaAdmin (one JVM start): the broker's state, the plan made from
    it (None: change nothing), the state after it was carried out."""
    ensure_admin_tool()
    with tempfile.NamedTemporaryFile("w", prefix="kafka-admin-", suffix=".properties", delete=False) as f:
        f.write(client_properties(bootstrap))  # mode 600 (mkstemp): it holds the admin password
        props = f.name
    try:
        with tempfile.TemporaryFile("w+") as err:
            proc = subprocess.Popen(
                ["java", *JVM_OPTS, "-Xmx96m", "-Djava.awt.headless=true", "-Dlog4j2.level=ERROR",
                 "-cp", _classpath(), "GongkaiKafkaAdmin", props, "sync"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, text=True)
            assert proc.stdin is not None and proc.stdout is not None
            try:
                before_lines: list[str] = []
                described = False
                for line in proc.stdout:
                    if line.rstrip("\n") == "end":
                        described = True
                        break
                    before_lines.append(line.rstrip("\n"))
                before = _parse_state(before_lines)
                p = make_plan(before) if described else None  # not described: it failed, see below
                try:
                    proc.stdin.write("\n".join(commands(p)) + "\n" if p else "")
                    proc.stdin.close()
                except BrokenPipeError:
                    pass
                rest = proc.stdout.read().splitlines()
                rc = proc.wait(timeout=timeout)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            err.seek(0)
            if rc != 0:
                raise RuntimeError(f"GongkaiKafkaAdmin failed ({rc}): {err.read().strip()[-2000:]}")
    finally:
        os.unlink(props)
    after = _parse_state(line for line in rest if line != "end")
    return before, p, after


def apply(bootstrap: str, requested: Iterable[str], removed: Iterable[str] = ()) -> Plan:
    """Make the broker's users and ACLs those of the table; raises unless it then holds exactly them."""
    _, p, after = sync(bootstrap, lambda state: plan(state, requested, removed))
    assert p is not None
    want = set(acl.acls(p.departments))
    have = {a for a in after.acls if acl.manages(a)}
    missing_users = set(p.upsert_users) - after.users
    if want != have or missing_users or set(p.delete_users) & after.users:
        raise RuntimeError(f"the broker differs from the table after apply: {len(want - have)} ACLs missing, "
                           f"{len(have - want)} extra, users missing: {sorted(missing_users)}")
    return p


@dataclass(frozen=True)
class Quorum:
    leader: int
    epoch: int
    high_watermark: int
    voters: dict[int, int]  # node id -> its log end offset
    observers: dict[int, int]


def quorum(bootstrap: str, timeout: float = 60) -> Quorum:
    """The KRaft controller quorum as the cluster reports it (Admin.describeMetadataQuorum)."""
    ensure_admin_tool()
    with tempfile.NamedTemporaryFile("w", prefix="kafka-admin-", suffix=".properties", delete=False) as f:
        f.write(client_properties(bootstrap))
        props = f.name
    try:
        done = subprocess.run(["java", *JVM_OPTS, "-Xmx96m", "-Djava.awt.headless=true", "-Dlog4j2.level=ERROR",
                               "-cp", _classpath(), "GongkaiKafkaAdmin", props, "quorum"],
                              capture_output=True, text=True, timeout=timeout)
    finally:
        os.unlink(props)
    if done.returncode != 0:
        raise RuntimeError(f"GongkaiKafkaAdmin quorum failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    leader = epoch = hw = -1
    voters: dict[int, int] = {}
    observers: dict[int, int] = {}
    for line in done.stdout.splitlines():
        f = line.split("\t")
        if f[0] == "leader":
            leader, epoch, hw = int(f[1]), int(f[2]), int(f[3])
        elif f[0] in ("voter", "observer"):
            (voters if f[0] == "voter" else observers)[int(f[1])] = int(f[2])
    return Quorum(leader, epoch, hw, voters, observers)


# ------------------------------------------------------------------------------ command line
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("apply", "revoke", "show"))
    parser.add_argument("--bootstrap", default=os.environ.get("GONGKAI_KAFKA_BOOTSTRAP", "127.0.0.1:19092"))
    parser.add_argument("--dept", action="append", default=[], help="department code (repeatable)")
    parser.add_argument("--no-directory", action="store_true", help="not the routing directory's departments")
    args = parser.parse_args()
    if args.command == "show":
        table = acl.acls(requested_departments(args.dept, not args.no_directory))
        for a in table:
            print("\t".join([a.principal, a.permission, a.operation, a.resource_type, a.pattern_type, a.resource_name]))
        print(f"kafka_acl: {len(table)} ACLs", file=sys.stderr)
        return 0
    if args.command == "revoke":
        if not args.dept:
            parser.error("revoke needs --dept")
        p = apply(args.bootstrap, [], args.dept)
    else:
        p = apply(args.bootstrap, requested_departments(args.dept, not args.no_directory))
    print(f"kafka_acl: {len(p.upsert_users) + 1} principals ({len(p.departments)} departments), "
          f"{len(acl.acls(p.departments))} ACLs: {len(p.create)} created, {len(p.delete)} deleted"
          + (f", users removed: {', '.join(p.delete_users)}" if p.delete_users else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
