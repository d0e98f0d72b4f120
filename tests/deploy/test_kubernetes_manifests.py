"""deploy/kubernetes/: rendered offline and validated, against the catalogue and the schemas.

- The generated KafkaTopics and KafkaUsers are the catalogue exactly (contracts/topics.py,
  contracts/acl.py): every topic and principal once, the same ACLs, nothing else.
- Every core resource of every overlay validates against the Kubernetes schemas
  (kubernetes-validate, strict: no unknown fields), every custom resource against its CRD's own
  openAPIV3Schema (deploy/kubernetes/crds/, copies of Strimzi 1.2.0 and MongoDB Controllers for
  Kubernetes 1.10.0), with unknown fields refused as the API server's strict validation does.
- The Deployments: probes, requests and limits, non-root read-only containers, spread, PDBs; the
  settings they pass are settings the services read; Secrets referenced, never committed.
- The NetworkPolicies allow exactly the edges the services need.
Fast and offline: no cluster, no network, no binary needed (kubectl, when installed, is compared).
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from contracts import acl, topics
from contracts.acl import Acl
from deploy.kubernetes import generate, render

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "kubernetes"
OVERLAYS = {a.overlay: a for a in generate.AGENCIES}
SERVICES = ("intake", "routing", "reply", "notify", "audit", "web")
# The oldest Kubernetes the manifests are for, and the newest schemas kubernetes-validate ships.
K8S_VERSIONS = ("1.30.0", "1.37.0")
CRD_FILES = {
    ("kafka.strimzi.io", "Kafka"): "strimzi-1.2.0/040-Crd-kafka.yaml",
    ("kafka.strimzi.io", "KafkaTopic"): "strimzi-1.2.0/043-Crd-kafkatopic.yaml",
    ("kafka.strimzi.io", "KafkaUser"): "strimzi-1.2.0/044-Crd-kafkauser.yaml",
    ("kafka.strimzi.io", "KafkaNodePool"): "strimzi-1.2.0/045-Crd-kafkanodepool.yaml",
    ("mongodbcommunity.mongodb.com", "MongoDBCommunity"): "mongodb-kubernetes-1.10.0/mongodbcommunity.mongodb.com_mongodbcommunity.yaml",
}


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict]]:
    return {name: render.build(K8S / "overlays" / name) for name in OVERLAYS}


def of_kind(docs: list[dict], kind: str) -> list[dict]:
    return [d for d in docs if d["kind"] == kind]


def by_name(docs: list[dict], kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in of_kind(docs, kind)}


# ------------------------------------------------------------------------------ generated = catalogue
def test_generated_files_are_current():
    stale = [str(p.relative_to(ROOT)) for p, text in generate.outputs().items()
             if not p.exists() or p.read_text(encoding="utf-8") != text]
    assert not stale, f"run python -m deploy.kubernetes.generate: {stale}"


def test_generate_check_reports_a_stale_file(tmp_path, monkeypatch):
    target = next(iter(generate.outputs()))
    original = target.read_text(encoding="utf-8")
    monkeypatch.setattr(generate, "outputs", lambda: {target: original + "# changed\n"})
    assert generate.main(["--check"]) == 1
    assert target.read_text(encoding="utf-8") == original  # --check writes nothing


@pytest.mark.parametrize("overlay", sorted(OVERLAYS))
def test_topics_are_the_catalogue_exactly(rendered, overlay):
    depts = OVERLAYS[overlay].departments()
    kt = of_kind(rendered[overlay], "KafkaTopic")
    names = Counter(d["spec"]["topicName"] for d in kt)
    assert all(n == 1 for n in names.values()), [t for t, n in names.items() if n > 1]
    catalogue = {s.name: s for s in topics.topics_to_create(depts)}
    assert set(names) == set(catalogue)
    for d in kt:
        spec = catalogue[d["spec"]["topicName"]]
        assert d["metadata"]["name"] == spec.name
        assert d["metadata"]["labels"]["strimzi.io/cluster"] == "gongkai"
        assert d["spec"]["partitions"] == spec.partitions
        assert d["spec"]["replicas"] == 3
        want = {**spec.extra_config, **({"cleanup.policy": "compact"} if spec.compacted else {}),
                "min.insync.replicas": "2"}
        assert d["spec"]["config"] == want
    assert by_name(kt, "KafkaTopic")["gongkai.private.contacts"]["spec"]["config"]["cleanup.policy"] == "compact"
    assert by_name(kt, "KafkaTopic")["gongkai.ledger.checkpoints"]["spec"]["partitions"] == 1


_OPS = {"Read": acl.READ, "Write": acl.WRITE, "Create": acl.CREATE, "Describe": acl.DESCRIBE, "All": acl.ALL}


def bindings_of(user: dict) -> set[Acl]:
    """The Kafka ACL bindings a Strimzi KafkaUser's simple authorization creates."""
    out: set[Acl] = set()
    for rule in (user["spec"].get("authorization") or {}).get("acls", []):
        r = rule["resource"]
        rtype = {"topic": acl.TOPIC, "group": acl.GROUP, "cluster": acl.CLUSTER}[r["type"]]
        pattern = {"literal": acl.LITERAL, "prefix": acl.PREFIXED}[r.get("patternType", "literal")]
        for op in rule["operations"]:
            out.add(Acl(acl.user(user["metadata"]["name"]), rtype, r.get("name", "kafka-cluster"), pattern,
                        _OPS[op], rule["type"].upper(), rule.get("host", "*")))
    return out


@pytest.mark.parametrize("overlay", sorted(OVERLAYS))
def test_users_are_the_acl_table_exactly(rendered, overlay):
    depts = OVERLAYS[overlay].departments()
    users = of_kind(rendered[overlay], "KafkaUser")
    names = Counter(u["metadata"]["name"] for u in users)
    assert all(n == 1 for n in names.values())
    assert set(names) == set(acl.principals(depts))
    for u in users:
        assert u["spec"]["authentication"] == {"type": "scram-sha-512"}  # password: a Secret by Strimzi
        assert u["metadata"]["labels"]["strimzi.io/cluster"] == "gongkai"
    table = {a for u in users for a in bindings_of(u)}
    assert table == set(acl.acls(depts))
    # The one super user is the catalogue's, and only it has no ACLs.
    kafka = of_kind(rendered[overlay], "Kafka")[0]
    assert kafka["spec"]["kafka"]["authorization"] == {"type": "simple", "superUsers": list(acl.SUPER_USERS)}
    assert [u["metadata"]["name"] for u in users if "authorization" not in u["spec"]] == [acl.ADMIN]


@pytest.mark.parametrize("overlay", sorted(OVERLAYS))
def test_department_grants_as_the_broker_would_enforce_them(rendered, overlay):
    depts = OVERLAYS[overlay].departments()
    table = [a for u in of_kind(rendered[overlay], "KafkaUser") for a in bindings_of(u)]
    a, b = depts[1], depts[2]
    allowed = lambda p, op, name, rtype=acl.TOPIC: acl.allowed(table, p, op, rtype, name)  # noqa: E731
    assert allowed(f"dept-{a}", acl.READ, f"gongkai.dept.{a}.tasks")
    assert allowed(f"dept-{a}", acl.WRITE, f"gongkai.dept.{a}.answers")
    assert allowed(f"dept-{a}", acl.READ, f"dept-{a}.mirror", acl.GROUP)
    assert not allowed(f"dept-{a}", acl.READ, f"gongkai.dept.{b}.tasks")
    assert not allowed(f"dept-{a}", acl.WRITE, f"gongkai.dept.{b}.answers")
    assert not allowed(f"dept-{a}", acl.READ, "gongkai.private.contacts")
    # Prefixes: routing writes and creates any inbox (a new department's too) but no answers topic;
    # audit reads every department topic.
    assert allowed("svc-routing", acl.WRITE, "gongkai.dept.new-dept.tasks")
    assert allowed("svc-routing", acl.CREATE, "gongkai.dept.new-dept.tasks")
    assert not allowed("svc-routing", acl.WRITE, f"gongkai.dept.{a}.answers")
    assert allowed("svc-audit", acl.READ, "gongkai.dept.new-dept.answers")
    assert not allowed("svc-audit", acl.READ, "gongkai.private.contacts")
    assert allowed("svc-notify", acl.READ, "gongkai.private.contacts")
    assert not allowed("svc-web", acl.READ, "gongkai.applications.received")


def test_strimzi_acl_grouping_round_trips():
    bindings = acl.department_acls("zjt") + [Acl("User:dept-zjt", acl.TOPIC, "x", acl.LITERAL, acl.WRITE, acl.DENY)]
    user = generate.kafka_user("dept-zjt", bindings)
    assert bindings_of(user) == set(bindings)


def test_departments_come_from_the_directory_files():
    from services.routing import directory  # the file's own parser (tests may use service code)

    for agency in generate.AGENCIES:
        parsed = directory.load(agency.directory)
        assert agency.departments() == parsed.all_codes
    province = set(OVERLAYS["yunnan-province"].departments())
    city = set(OVERLAYS["kunming"].departments())
    assert len(city) >= 2 and not province & city  # a code names one inbox topic on the bus


# ------------------------------------------------------------------------------ schemas
def test_core_resources_validate_against_the_kubernetes_schemas(rendered):
    validated = Counter()
    for overlay, docs in rendered.items():
        for doc in docs:
            if "." in doc["apiVersion"].split("/")[0] and not doc["apiVersion"].startswith(
                    ("apps/", "policy/", "networking.k8s.io/", "rbac.authorization.k8s.io/")):
                continue  # a custom resource: next test
            for version in K8S_VERSIONS:
                kubernetes_validate.validate(doc, version, strict=True)
                validated[(overlay, version)] += 1
    for overlay, docs in rendered.items():
        core = [d for d in docs if d["kind"] not in {k for _, k in CRD_FILES}]
        for version in K8S_VERSIONS:
            assert validated[(overlay, version)] == len(core) > 40
    print(f"kubernetes-validate: {dict(validated)}", file=sys.stderr)


def test_kubernetes_validation_refuses_a_broken_deployment(rendered):
    deploy = copy.deepcopy(by_name(rendered["kunming"], "Deployment")["intake"])
    deploy["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["paht"] = "/health"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deploy, K8S_VERSIONS[-1], strict=True)


def strict_schema(schema: dict) -> dict:
    """The CRD's schema, refusing unknown fields (kubectl's and the API server's strict field
    validation; an unknown field would otherwise be pruned silently)."""
    schema = copy.deepcopy(schema)

    def walk(s: dict) -> None:
        if not isinstance(s, dict):
            return
        if "properties" in s and "additionalProperties" not in s and not s.get("x-kubernetes-preserve-unknown-fields"):
            s["additionalProperties"] = False
        for key in ("properties", "patternProperties"):
            for sub in (s.get(key) or {}).values():
                walk(sub)
        for key in ("items", "additionalProperties", "not"):
            if isinstance(s.get(key), dict):
                walk(s[key])
        for key in ("allOf", "anyOf", "oneOf"):
            for sub in s.get(key) or []:
                walk(sub)
    walk(schema)
    # metadata is the API server's ObjectMeta, not described by the CRD.
    schema.get("properties", {}).get("metadata", {}).pop("additionalProperties", None)
    return schema


@functools.cache
def crd_validator(group: str, kind: str, version: str) -> jsonschema.Draft4Validator:
    crd = yaml.safe_load((K8S / "crds" / CRD_FILES[(group, kind)]).read_text(encoding="utf-8"))
    assert crd["spec"]["group"] == group and crd["spec"]["names"]["kind"] == kind
    served = {v["name"]: v for v in crd["spec"]["versions"] if v.get("served")}
    assert version in served, f"{kind}: {version} not served by the CRD ({sorted(served)})"
    return jsonschema.Draft4Validator(strict_schema(served[version]["schema"]["openAPIV3Schema"]))


def custom_resources(docs: list[dict]) -> list[dict]:
    return [d for d in docs if (d["apiVersion"].split("/")[0], d["kind"]) in CRD_FILES]


def test_custom_resources_validate_against_their_crds(rendered):
    counts = Counter()
    for overlay, docs in rendered.items():
        crs = custom_resources(docs)
        for doc in crs:
            group, version = doc["apiVersion"].split("/")
            errors = sorted(crd_validator(group, doc["kind"], version).iter_errors(doc), key=str)
            assert not errors, f"{overlay} {doc['kind']}/{doc['metadata']['name']}: {errors[0].message} at {list(errors[0].path)}"
            counts[(overlay, doc["kind"])] += 1
        assert {k for o, k in counts if o == overlay} == {k for _, k in CRD_FILES}
    print(f"CRD validation: {dict(counts)}", file=sys.stderr)


@pytest.mark.parametrize("mutate, kind", [
    (lambda d: d["spec"].__setitem__("replica", 3), "KafkaTopic"),  # unknown field
    (lambda d: d["spec"]["authentication"].__setitem__("type", "scram-sha-256"), "KafkaUser"),  # not in the enum
    (lambda d: d["spec"]["authorization"]["acls"][0]["operations"].append("Fly"), "KafkaUser"),
    (lambda d: d["spec"].pop("roles"), "KafkaNodePool"),  # required
    (lambda d: d["spec"]["kafka"]["listeners"][0].pop("tls"), "Kafka"),
    (lambda d: d["spec"].__setitem__("type", "Sharded"), "MongoDBCommunity"),
])
def test_crd_validation_refuses_broken_resources(rendered, mutate, kind):
    doc = copy.deepcopy(next(d for d in custom_resources(rendered["kunming"])
                             if d["kind"] == kind and d["spec"].get("authorization", True)))
    if kind == "KafkaUser":
        doc = copy.deepcopy(by_name(rendered["kunming"], "KafkaUser")["svc-intake"])
    mutate(doc)
    group, version = doc["apiVersion"].split("/")
    assert list(crd_validator(group, kind, version).iter_errors(doc))


def test_crd_copies_are_the_recorded_release_files():
    readme = (K8S / "crds" / "README.md").read_text(encoding="utf-8")
    recorded = dict((path, digest) for digest, path in re.findall(r"^([0-9a-f]{64})  (\S+)$", readme, re.M))
    assert set(recorded) == set(CRD_FILES.values())
    for path, digest in recorded.items():
        assert hashlib.sha256((K8S / "crds" / path).read_bytes()).hexdigest() == digest, path
    shared = ROOT.parent / "shared" / "testdata" / "crds"
    for path in recorded:  # where the shared copy is present, ours is the same file
        if (shared / path).exists():
            assert (shared / path).read_bytes() == (K8S / "crds" / path).read_bytes()


# ------------------------------------------------------------------------------ workloads
def container(deploy: dict) -> dict:
    return deploy["spec"]["template"]["spec"]["containers"][0]


@pytest.mark.parametrize("overlay", sorted(OVERLAYS))
def test_every_service_runs_hardened_with_probes_and_limits(rendered, overlay):
    docs = rendered[overlay]
    deployments = by_name(docs, "Deployment")
    pdbs = of_kind(docs, "PodDisruptionBudget")
    for name in SERVICES:
        d = deployments[name]
        pod = d["spec"]["template"]["spec"]
        c = container(d)
        assert c["args"] == ["-m", f"services.{name}"]
        assert c["readinessProbe"]["httpGet"]["path"] == "/health"
        assert c["livenessProbe"]["httpGet"]["path"] == "/metrics"  # not /health: an outage restarts nothing
        assert c["startupProbe"]["httpGet"]["port"] == "http"
        for kind in ("requests", "limits"):
            assert set(c["resources"][kind]) == {"cpu", "memory"}
        sc = c["securityContext"]
        assert sc["readOnlyRootFilesystem"] and sc["runAsNonRoot"] and not sc["allowPrivilegeEscalation"]
        assert sc["capabilities"]["drop"] == ["ALL"]
        assert pod["securityContext"]["runAsUser"] != 0 and pod["securityContext"]["runAsNonRoot"]
        assert pod["automountServiceAccountToken"] is False
        assert {t["topologyKey"] for t in pod["topologySpreadConstraints"]} == {
            "kubernetes.io/hostname", "topology.kubernetes.io/zone"}
        assert any(m["mountPath"] == "/tmp" for m in c["volumeMounts"])  # the one writable place
        labels = d["spec"]["template"]["metadata"]["labels"]
        covering = [p for p in pdbs if all(labels.get(k) == v for k, v in p["spec"]["selector"]["matchLabels"].items())]
        assert len(covering) == 1, name
        env = {e["name"]: e for e in c["env"]}
        assert env[f"{name.upper()}_HTTP_HOST"]["value"] == "0.0.0.0"
        if name != "web":
            assert env["GONGKAI_KAFKA_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": f"svc-{name}", "key": "password"}
            assert env["GONGKAI_KAFKA_USERNAME"]["value"] == f"svc-{name}"
            assert env["GONGKAI_KAFKA_INSTANCE_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    audit = deployments["audit"]
    # Leader and standby (one ledger writer by the lease); a rolling update never adds a third.
    assert audit["spec"]["replicas"] == 2 and audit["spec"]["strategy"] == {
        "type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}
    assert all(deployments[s]["spec"]["replicas"] >= 2 for s in SERVICES)
    common = by_name(docs, "ConfigMap")["gongkai-common"]["data"]
    assert common["GONGKAI_ENV"] == "production" and common["GONGKAI_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert not [k for cm in of_kind(docs, "ConfigMap") for k, v in (cm.get("data") or {}).items()
                if v == "set-by-the-overlay"]
    assert common["GONGKAI_AGENCY_CODE"] == json.loads(OVERLAYS[overlay].directory.read_text())["home_agency"]


def settings_fields() -> dict[str, set[str]]:
    """Every environment variable a service reads, by service (its settings classes)."""
    import importlib

    from servicekit.oidc import OidcSettings
    from servicekit.settings import CommonSettings

    def names(cls) -> set[str]:  # noqa: ANN001
        prefix = cls.model_config.get("env_prefix", "")
        return {(prefix + f).upper() for f in cls.model_fields}
    shared = names(CommonSettings) | names(OidcSettings) | {"GONGKAI_SCHEMA_BASE_URL"}
    out = {}
    for s in SERVICES:
        module = importlib.import_module(f"services.{s}.settings")
        classes = [c for c in vars(module).values() if isinstance(c, type) and c.__module__ == module.__name__
                   and hasattr(c, "model_config") and c.model_config.get("env_prefix")]
        out[s] = shared | {n for c in classes for n in names(c)}
    return out


def test_schema_base_url_is_a_setting_the_code_reads():
    sources = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "contracts").rglob("*.py"))
    sources += "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "servicekit").rglob("*.py"))
    assert "GONGKAI_SCHEMA_BASE_URL" in sources


@pytest.mark.parametrize("overlay", sorted(OVERLAYS))
def test_every_setting_passed_is_one_the_service_reads(rendered, overlay):
    docs = rendered[overlay]
    known = settings_fields()
    cms = by_name(docs, "ConfigMap")
    for name in SERVICES:
        c = container(by_name(docs, "Deployment")[name])
        passed = {e["name"] for e in c["env"]}
        for ref in c["envFrom"]:
            passed |= set(cms[ref["configMapRef"]["name"]].get("data") or {})
        unknown = passed - known[name] - {f"{s.upper()}_{k}" for s in SERVICES if s != name
                                         for k in ("HTTP_HOST",)}
        # a common ConfigMap may carry other services' settings; only its own prefix must be known
        own = {n for n in unknown if n.startswith((f"{name.upper()}_", "GONGKAI_"))}
        assert not own, f"{name}: settings no code reads: {sorted(own)}"


@pytest.mark.parametrize("overlay", sorted(OVERLAYS))
def test_secrets_are_referenced_never_committed(rendered, overlay):
    docs = rendered[overlay]
    assert not of_kind(docs, "Secret")
    for path in K8S.rglob("*.yaml"):
        if K8S / "crds" in path.parents:
            continue
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            assert not (isinstance(doc, dict) and doc.get("kind") == "Secret"), path
    deployments = by_name(docs, "Deployment")
    required = {  # what each service refuses to start without in production (its require_secrets)
        "intake": {"INTAKE_QUERY_CODE_SECRET", "INTAKE_APPLICANT_REF_SECRET", "GONGKAI_KAFKA_PASSWORD"},
        "routing": {"GONGKAI_KAFKA_PASSWORD"},
        "reply": {"REPLY_QUERY_CODE_SECRET", "REPLY_DOCUMENT_LINK_SECRET", "GONGKAI_KAFKA_PASSWORD"},
        "notify": {"NOTIFY_DOCUMENT_LINK_SECRET", "NOTIFY_SMPP_PASSWORD", "GONGKAI_KAFKA_PASSWORD"},
        "audit": {"AUDIT_QUERY_CODE_SECRET", "AUDIT_SIGNING_KEY", "GONGKAI_KAFKA_PASSWORD"},
        "web": {"WEB_SESSION_SECRET", "WEB_OIDC_CLIENT_SECRET"},
    }
    for name, names in required.items():
        env = {e["name"]: e for e in container(deployments[name])["env"]}
        for n in names | {"GONGKAI_MONGO_URL"}:
            assert "secretKeyRef" in env[n]["valueFrom"], (name, n)
        secret_values = [e for e in env.values() if "value" in e and re.search(r"SECRET|PASSWORD|KEY$", e["name"])]
        assert not secret_values, (name, secret_values)
    # The three services that check query codes share one key.
    refs = {n: {e["name"]: e for e in container(deployments[n])["env"]} for n in ("intake", "reply", "audit")}
    keys = {json.dumps(refs[n][f"{n.upper()}_QUERY_CODE_SECRET"]["valueFrom"], sort_keys=True) for n in refs}
    assert len(keys) == 1
    # reply and notify share the documents' link key (servicekit.doclinks).
    links = {json.dumps({e["name"]: e for e in container(deployments[n])["env"]}[f"{n.upper()}_DOCUMENT_LINK_SECRET"]
                        ["valueFrom"], sort_keys=True) for n in ("reply", "notify")}
    assert len(links) == 1


@pytest.mark.parametrize("overlay", sorted(OVERLAYS))
def test_notify_texts_through_the_operators_smsc(rendered, overlay, monkeypatch):
    """Texts (issue #17): the operator's SMSC and account from the overlay, its password a Secret,
    a valid default quiet-hours window, the sender id of the overlay's agency, texts pointing to the
    portal's own status page, and notify's egress to the SMSC's port."""
    from services.notify.quiet import QuietHours
    from services.notify.settings import NotifySettings

    docs = rendered[overlay]
    cms = by_name(docs, "ConfigMap")
    notify = cms["gongkai-notify"]["data"]
    agency = cms["gongkai-common"]["data"]["GONGKAI_AGENCY_CODE"]
    assert notify["NOTIFY_SMPP_HOST"] and notify["NOTIFY_SMPP_SYSTEM_ID"] and len(notify["NOTIFY_SMPP_SYSTEM_ID"]) <= 15
    port = int(notify["NOTIFY_SMPP_PORT"])
    assert QuietHours.parse(notify["NOTIFY_SMS_QUIET_HOURS"]) is not None
    assert notify["NOTIFY_STATUS_URL"] == cms["gongkai-web"]["data"]["WEB_PUBLIC_URL"] + "/status"
    assert notify["NOTIFY_STATUS_URL"].startswith("https://")
    for key, value in notify.items():  # read as the service reads them: from its environment
        monkeypatch.setenv(key, value)
    settings = NotifySettings()
    assert settings.sms_sender(agency).startswith("106")
    env = {e["name"]: e for e in container(by_name(docs, "Deployment")["notify"])["env"]}
    assert env["NOTIFY_SMPP_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "gongkai-smpp", "key": "password"}
    outbound = by_name(docs, "NetworkPolicy")["notify-outbound"]["spec"]["egress"]
    to_smsc = [r for r in outbound if any(p.get("port") == port for p in r.get("ports") or [])]
    assert to_smsc and all("ipBlock" in peer and peer["ipBlock"]["cidr"] != "0.0.0.0/0"
                           for r in to_smsc for peer in r["to"])


# ------------------------------------------------------------------------------ network
def selects(selector: dict, labels: dict) -> bool:
    assert set(selector) <= {"matchLabels"}, selector
    return all(labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items())


def peer_allows(rules: list[dict] | None, direction: str, labels: dict, port: int) -> bool:
    """Does one of the rules admit a pod of this namespace with ``labels`` on ``port``?"""
    for rule in rules or []:
        peers = rule.get("from" if direction == "ingress" else "to")
        ports = rule.get("ports")
        if ports and not any(p.get("port") == port for p in ports):
            continue
        if peers is None:
            return True
        for peer in peers:
            if "podSelector" in peer and "namespaceSelector" not in peer and selects(peer["podSelector"], labels):
                return True
    return False


def allowed_edge(policies: list[dict], src: dict, dst: dict, port: int) -> bool:
    """Pod-to-pod in one namespace: egress of src and ingress of dst must both admit it."""
    def side(direction: str, me: dict, other: dict) -> bool:
        mine = [p for p in policies if direction.capitalize() in p["spec"]["policyTypes"]
                and selects(p["spec"]["podSelector"], me)]
        return bool(mine) and any(peer_allows(p["spec"].get(direction), direction, other, port) for p in mine)
    return side("egress", src, dst) and side("ingress", dst, src)


PORTS = {"intake": 8101, "routing": 8102, "reply": 8103, "notify": 8104, "audit": 8105, "web": 8106}


@pytest.mark.parametrize("overlay", sorted(OVERLAYS))
def test_network_policies_allow_exactly_the_edges_needed(rendered, overlay):
    docs = rendered[overlay]
    policies = of_kind(docs, "NetworkPolicy")
    # Strimzi adds a policy of its own for each listener: ingress on its port from its
    # networkPolicyPeers (none: from anywhere). Modelled here, since the operator writes it.
    for listener in of_kind(docs, "Kafka")[0]["spec"]["kafka"]["listeners"]:
        policies.append({"spec": {"podSelector": {"matchLabels": {"strimzi.io/cluster": "gongkai", "strimzi.io/kind": "Kafka"}},
                                  "policyTypes": ["Ingress"],
                                  "ingress": [{"ports": [{"port": listener["port"]}],
                                               **({"from": listener["networkPolicyPeers"]}
                                                  if listener.get("networkPolicyPeers") else {})}]}})
    default = by_name(docs, "NetworkPolicy")["default-deny"]["spec"]
    assert default == {"podSelector": {}, "ingress": [], "egress": [], "policyTypes": ["Ingress", "Egress"]}
    pods = {n: by_name(docs, "Deployment")[n]["spec"]["template"]["metadata"]["labels"] for n in SERVICES}
    broker = {"strimzi.io/cluster": "gongkai", "strimzi.io/kind": "Kafka", "strimzi.io/name": "gongkai-kafka"}
    store = {"app": "gongkai-store-svc"}
    edges = {(a, b) for a in SERVICES for b in SERVICES if a != b and allowed_edge(policies, pods[a], pods[b], PORTS[b])}
    # pages -> APIs; the case's documents: notify (attachments) and audit (the case file) -> reply; no other.
    assert edges == {("web", s) for s in SERVICES if s != "web"} | {("notify", "reply"), ("audit", "reply")}
    to_kafka = {s for s in SERVICES if allowed_edge(policies, pods[s], broker, 9093)}
    assert to_kafka == set(SERVICES) - {"web"}
    assert {s for s in SERVICES if allowed_edge(policies, pods[s], store, 27017)} == set(SERVICES)
    assert not allowed_edge(policies, pods["intake"], store, 8101)
    assert not allowed_edge(policies, pods["intake"], broker, 9091)  # the brokers' replication port
    # The listener's own peers (Strimzi's policy) are the Kafka clients, i.e. not web.
    peers = of_kind(docs, "Kafka")[0]["spec"]["kafka"]["listeners"][0]["networkPolicyPeers"]
    assert [p for p in peers if selects(p["podSelector"], pods["intake"])]
    assert not [p for p in peers if selects(p["podSelector"], pods["web"])]
    # Outbound: notify alone reaches public :443 (webhooks), never the private ranges.
    out443 = [p for p in policies if any(
        "ipBlock" in peer and peer["ipBlock"]["cidr"] == "0.0.0.0/0" for r in p["spec"].get("egress") or []
        for peer in r.get("to") or [])]
    assert [p["metadata"]["name"] for p in out443] == ["notify-outbound"]
    assert "10.0.0.0/8" in out443[0]["spec"]["egress"][0]["to"][0]["ipBlock"]["except"]


# ------------------------------------------------------------------------------ renderer, image
def test_renderer_refuses_what_it_does_not_support(tmp_path):
    (tmp_path / "kustomization.yaml").write_text("resources: []\nnamePrefix: x-\n")
    with pytest.raises(render.RenderError, match="namePrefix"):
        render.build(tmp_path)


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed: no second renderer to compare")
@pytest.mark.parametrize("folder", ["base", "overlays/yunnan-province", "overlays/kunming"])
def test_renderer_matches_kubectl_kustomize(folder):
    out = subprocess.run(["kubectl", "kustomize", str(K8S / folder)], capture_output=True, text=True, check=True,
                         timeout=120).stdout
    key = lambda d: (d["kind"], d["metadata"].get("namespace", ""), d["metadata"]["name"])  # noqa: E731
    theirs = {key(d): d for d in yaml.safe_load_all(out) if d}
    mine = {key(d): d for d in render.build(K8S / folder)}
    assert mine == theirs


def test_containerfile_builds_the_services_as_the_project_runs_them():
    text = (ROOT / "deploy" / "container" / "Containerfile").read_text(encoding="utf-8")
    base = re.search(r"^FROM\s+(\S+)", text, re.M).group(1)
    major_minor = ".".join(map(str, sys.version_info[:2]))
    assert re.search(rf"python:{re.escape(major_minor)}(\.\d+)?-slim", base), base
    lock = [ln for ln in (ROOT / "requirements.lock").read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    hashed = any("--hash=" in ln for ln in lock)
    install = re.search(r"pip install ([^\n\\]*)-r /app/requirements.lock", text).group(1)
    if hashed:
        assert "--require-hashes" in install
    else:
        assert "--no-deps" in install and all(re.fullmatch(r"[A-Za-z0-9_.\-]+==[A-Za-z0-9_.+\-!]+", ln) for ln in lock)
    user = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert user and user[-1].split(":")[0] not in ("root", "0")
    for copied in re.findall(r"^COPY\s+(\S+)\s", text, re.M):
        assert (ROOT / copied).exists(), copied
    assert "COPY tests" not in text and "COPY .local" not in text
