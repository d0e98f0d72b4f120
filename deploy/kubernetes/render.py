"""Render a kustomization of deploy/kubernetes/ without a ``kustomize`` binary.

    python -m deploy.kubernetes.render overlays/yunnan-province > yunnan.yaml

The tests validate what an agency would apply, offline and on a clean clone, so they need the
rendered manifests without depending on a binary. This renders the subset of Kustomize
(v1beta1 Kustomization, v1alpha1 Component) that deploy/kubernetes/ uses, and refuses any other
field, so that a kustomization that uses more fails loudly here instead of rendering wrongly:

- ``resources`` (files, and directories with a kustomization), ``components``;
- ``namespace`` (namespaced kinds, and ServiceAccount subjects of (Cluster)RoleBindings);
- ``labels`` with ``includeSelectors: false`` (metadata labels only);
- ``images`` (``newName``, ``newTag``), ``replicas``;
- ``configMapGenerator`` (``literals``, ``files``; ``behavior`` create or merge) with
  ``generatorOptions.disableNameSuffixHash: true``;
- ``patches`` that are JSON 6902 operations (add, replace, remove) with a ``target`` kind/name.

Where ``kubectl kustomize`` is installed, tests/deploy compares the two renderings.
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
Doc = dict[str, Any]
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "PersistentVolume",
                  "StorageClass", "PriorityClass", "IngressClass", "ValidatingWebhookConfiguration",
                  "MutatingWebhookConfiguration"}
KNOWN = {"apiVersion", "kind", "resources", "components", "namespace", "labels", "images", "replicas",
         "configMapGenerator", "generatorOptions", "patches"}


class RenderError(ValueError):
    pass


def _load_docs(path: Path) -> list[Doc]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


def _kustomization(folder: Path) -> Doc:
    path = folder / "kustomization.yaml"
    if not path.exists():
        raise RenderError(f"{folder}: no kustomization.yaml")
    k = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    unknown = set(k) - KNOWN
    if unknown:
        raise RenderError(f"{path}: fields this renderer does not support: {sorted(unknown)}")
    return k


def _find(docs: list[Doc], kind: str, name: str) -> list[Doc]:
    return [d for d in docs if d.get("kind") == kind and d["metadata"].get("name") == name]


# ------------------------------------------------------------------------------ JSON 6902
def _pointer(path: str) -> list[str]:
    if not path.startswith("/"):
        raise RenderError(f"JSON pointer {path!r} must start with /")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _apply_op(doc: Doc, op: Doc) -> None:
    parts = _pointer(op["path"])
    parent: Any = doc
    for p in parts[:-1]:
        parent = parent[int(p)] if isinstance(parent, list) else parent[p]
    last = parts[-1]
    kind = op["op"]
    if isinstance(parent, list):
        if kind == "add":
            parent.insert(len(parent) if last == "-" else int(last), copy.deepcopy(op["value"]))
        elif kind == "replace":
            parent[int(last)] = copy.deepcopy(op["value"])
        elif kind == "remove":
            del parent[int(last)]
        else:
            raise RenderError(f"unsupported JSON patch op {kind!r}")
    else:
        if kind in ("replace", "remove") and last not in parent:
            raise RenderError(f"{op['path']}: nothing to {kind}")
        if kind in ("add", "replace"):
            parent[last] = copy.deepcopy(op["value"])
        elif kind == "remove":
            del parent[last]
        else:
            raise RenderError(f"unsupported JSON patch op {kind!r}")


def _patch(docs: list[Doc], folder: Path, patch: Doc) -> None:
    target = patch.get("target") or {}
    if set(target) - {"kind", "name"} or not target.get("kind") or not target.get("name"):
        raise RenderError(f"{folder}: a patch needs a target of kind and name only, got {target}")
    ops = yaml.safe_load((folder / patch["path"]).read_text(encoding="utf-8"))
    if not isinstance(ops, list):
        raise RenderError(f"{folder / patch['path']}: only JSON 6902 patches (a list of operations) are supported")
    matches = _find(docs, target["kind"], target["name"])
    if not matches:
        raise RenderError(f"{folder}: patch target {target} not found")
    for doc in matches:
        for op in ops:
            _apply_op(doc, op)


# ------------------------------------------------------------------------------ generators
def _configmaps(docs: list[Doc], folder: Path, k: Doc) -> None:
    gens = k.get("configMapGenerator") or []
    if gens and not (k.get("generatorOptions") or {}).get("disableNameSuffixHash"):
        raise RenderError(f"{folder}: configMapGenerator needs generatorOptions.disableNameSuffixHash: true here")
    for gen in gens:
        if set(gen) - {"name", "behavior", "literals", "files"}:
            raise RenderError(f"{folder}: configMapGenerator fields {sorted(set(gen))} not supported")
        data: dict[str, str] = {}
        for literal in gen.get("literals") or []:
            key, sep, value = literal.partition("=")
            if not sep:
                raise RenderError(f"{folder}: literal {literal!r} is not KEY=VALUE")
            data[key] = value
        for entry in gen.get("files") or []:
            key, sep, rel = entry.partition("=")
            rel = rel if sep else key
            data[Path(key).name if not sep else key] = (folder / rel).read_text(encoding="utf-8")
        behavior = gen.get("behavior", "create")
        existing = _find(docs, "ConfigMap", gen["name"])
        if behavior == "create":
            if existing:
                raise RenderError(f"{folder}: ConfigMap {gen['name']} already exists")
            cm: Doc = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": gen["name"]}}
            if data:
                cm["data"] = data
            docs.append(cm)
        elif behavior == "merge":
            if not existing:
                raise RenderError(f"{folder}: ConfigMap {gen['name']} does not exist; cannot merge")
            existing[0].setdefault("data", {}).update(data)
        else:
            raise RenderError(f"{folder}: behavior {behavior!r} not supported")


# ------------------------------------------------------------------------------ transformers
def _namespace(docs: list[Doc], namespace: str) -> None:
    for doc in docs:
        if doc["kind"] in CLUSTER_SCOPED:
            continue
        old = doc["metadata"].get("namespace")
        doc["metadata"]["namespace"] = namespace
        if doc["kind"] in ("RoleBinding", "ClusterRoleBinding"):
            for subject in doc.get("subjects") or []:
                if subject.get("kind") == "ServiceAccount" and subject.get("namespace") in (None, old):
                    subject["namespace"] = namespace


def _labels(docs: list[Doc], folder: Path, entries: list[Doc]) -> None:
    for entry in entries:
        if entry.get("includeSelectors", False) or entry.get("includeTemplates", False) or set(entry) - {
                "pairs", "includeSelectors", "includeTemplates"}:
            raise RenderError(f"{folder}: only labels with includeSelectors: false are supported")
        for doc in docs:
            doc["metadata"].setdefault("labels", {}).update(entry["pairs"])


def _containers(doc: Doc) -> list[Doc]:
    spec = doc.get("spec") or {}
    pod = (spec.get("template") or {}).get("spec") if "template" in spec else None
    if pod is None:
        return []
    return [*(pod.get("initContainers") or []), *(pod.get("containers") or [])]


def _image_name(image: str) -> str:
    name = image.split("@", 1)[0]
    head, _, tail = name.rpartition(":")
    return head if head and "/" not in tail else name


def _images(docs: list[Doc], folder: Path, images: list[Doc]) -> None:
    for img in images:
        if set(img) - {"name", "newName", "newTag"}:
            raise RenderError(f"{folder}: images fields {sorted(img)} not supported")
        for doc in docs:
            for c in _containers(doc):
                if _image_name(c["image"]) != img["name"]:
                    continue
                tag = c["image"][len(img["name"]):]
                c["image"] = img.get("newName", img["name"]) + (f":{img['newTag']}" if "newTag" in img else tag)


def _replicas(docs: list[Doc], folder: Path, replicas: list[Doc]) -> None:
    for r in replicas:
        matches = [d for d in docs if d["kind"] in ("Deployment", "StatefulSet", "ReplicaSet")
                   and d["metadata"]["name"] == r["name"]]
        if not matches:
            raise RenderError(f"{folder}: replicas for {r['name']}: no such workload")
        for d in matches:
            d["spec"]["replicas"] = int(r["count"])


# ------------------------------------------------------------------------------ build
def _apply(docs: list[Doc], folder: Path, k: Doc) -> list[Doc]:
    """What one kustomization (or component) does to the accumulated ``docs``."""
    for entry in k.get("resources") or []:
        path = folder / entry
        docs.extend(build(path) if path.is_dir() else _load_docs(path))
    for entry in k.get("components") or []:
        comp_folder = folder / entry
        comp = _kustomization(comp_folder)
        if comp.get("kind") != "Component":
            raise RenderError(f"{comp_folder}: not a Component")
        docs = _apply(docs, comp_folder, comp)
    _configmaps(docs, folder, k)
    for patch in k.get("patches") or []:
        _patch(docs, folder, patch)
    if k.get("namespace"):
        _namespace(docs, k["namespace"])
    _labels(docs, folder, k.get("labels") or [])
    _images(docs, folder, k.get("images") or [])
    _replicas(docs, folder, k.get("replicas") or [])
    return docs


def build(folder: Path) -> list[Doc]:
    """The resources of the kustomization in ``folder``, as kustomize would emit them (unordered)."""
    folder = folder.resolve()
    k = _kustomization(folder)
    if k.get("kind", "Kustomization") != "Kustomization":
        raise RenderError(f"{folder}: a Component is rendered by the kustomization that uses it")
    docs = _apply([], folder, k)
    seen: set[tuple] = set()
    for d in docs:
        key = (d["apiVersion"].split("/")[0] if "/" in d["apiVersion"] else "", d["kind"],
               d["metadata"].get("namespace"), d["metadata"]["name"])
        if key in seen:
            raise RenderError(f"{folder}: {key} defined twice")
        seen.add(key)
    return docs


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    folder = Path(argv[0])
    if not folder.is_absolute() and not folder.exists():
        folder = HERE / folder
    sys.stdout.write(yaml.safe_dump_all(build(folder), sort_keys=False, allow_unicode=True, width=120))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
