"""Is a new revision of an event's JSON Schema compatible with the committed (published) one?

A version of an event type (``cn.gongkai.<event>.v<n>``) is a contract: records of it stay on the
topics and in the audit ledger, and consumers outside this repository (departments' systems) read
them. Within one version only *compatible* changes are allowed (docs/events-versioning.md):

- allowed: a new optional field; a description, title or example changed; a default added;
- incompatible (the next version must be introduced beside this one): a field removed; a field's
  type changed (widened or narrowed, ``null`` allowed or no longer allowed included); a new
  required field, or an optional one made required; a ``const``, ``enum``, ``format`` or
  ``pattern`` changed; the schema file of a version removed.

``incompatibilities(committed, generated)`` lists the incompatible changes between two sets of
schema files ({file name: schema}); contracts/jsonschema_export.py refuses to write over the
committed files when there is one, and tests/contracts/test_event_versioning.py fails on one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

_JSON_TYPES = {bool: "boolean", int: "integer", float: "number", str: "string", type(None): "null",
               list: "array", dict: "object"}
_PINNED = ("const", "format", "pattern")


def load_dir(directory: Path) -> dict[str, dict]:
    """The schema files of a directory, by file name."""
    return {p.name: json.loads(p.read_text(encoding="utf-8")) for p in sorted(directory.glob("*.json"))}


def incompatibilities(committed: dict[str, dict], generated: dict[str, dict]) -> list[str]:
    """Every incompatible change from ``committed`` to ``generated`` (empty: compatible)."""
    out: list[str] = []
    for name in sorted(committed):
        if name not in generated:
            out.append(f"{name}: the schema of a published version was removed")
            continue
        out += [f"{name}: {p}" for p in compare(committed[name], generated[name])]
    return out


def compare(old_root: dict, new_root: dict) -> list[str]:
    """The incompatible changes between two schemas of one event version."""
    problems: list[str] = []
    _compare(old_root, new_root, old_root, new_root, "", problems, set())
    return problems


def _resolve(node: Any, root: dict) -> Any:
    seen = 0
    while isinstance(node, dict) and "$ref" in node and seen < 50:
        ref = node["$ref"]
        if not ref.startswith("#/"):
            raise ValueError(f"only local references are supported: {ref}")
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        extra = {k: v for k, v in node.items() if k != "$ref"}
        node = {**target, **extra} if extra else target
        seen += 1
    return node


def _types(node: dict, root: dict) -> frozenset[str]:
    node = _resolve(node, root)
    if not isinstance(node, dict):
        return frozenset()
    if "const" in node:
        return frozenset({_JSON_TYPES.get(type(node["const"]), "?")})
    if "enum" in node:
        return frozenset(_JSON_TYPES.get(type(v), "?") for v in node["enum"])
    declared = node.get("type")
    if isinstance(declared, str):
        types = {declared}
    elif isinstance(declared, list):
        types = set(declared)
    else:
        types = set()
    for key in ("anyOf", "oneOf"):
        for sub in node.get(key, ()):
            types |= _types(sub, root)
    if "integer" in types and "number" in types:
        types.discard("integer")
    return frozenset(types)


def _branches(node: dict, root: dict) -> list[dict]:
    node = _resolve(node, root)
    subs = node.get("anyOf") or node.get("oneOf")
    return [_resolve(s, root) for s in subs] if subs else [node]


def _compare(old: Any, new: Any, old_root: dict, new_root: dict, path: str, problems: list[str],
             seen: set[tuple[int, int]]) -> None:
    old, new = _resolve(old, old_root), _resolve(new, new_root)
    if not isinstance(old, dict) or not isinstance(new, dict):
        return
    marker = (id(old), id(new))
    if marker in seen:
        return
    seen.add(marker)
    where = path or "(event)"
    old_types, new_types = _types(old, old_root), _types(new, new_root)
    if old_types != new_types:
        problems.append(f"{where}: type changed from {sorted(old_types)} to {sorted(new_types)}")
        return
    for key in _PINNED:
        if old.get(key) != new.get(key):
            problems.append(f"{where}: {key} changed from {old.get(key)!r} to {new.get(key)!r}")
    if "enum" in old or "enum" in new:
        if old.get("enum") != new.get("enum"):
            problems.append(f"{where}: enum changed from {old.get('enum')} to {new.get('enum')}")
    # Union (e.g. "X or null"): compare the branches of the same type with each other.
    old_b, new_b = _branches(old, old_root), _branches(new, new_root)
    if len(old_b) > 1 or len(new_b) > 1:
        for ob in old_b:
            t = _types(ob, old_root)
            match = [nb for nb in new_b if _types(nb, new_root) == t]
            if len(match) == 1:
                _compare(ob, match[0], old_root, new_root, path, problems, seen)
        return
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    for name in old_props:
        if name not in new_props:
            problems.append(f"{path}.{name}".lstrip(".") + ": field removed")
        else:
            _compare(old_props[name], new_props[name], old_root, new_root, f"{path}.{name}".lstrip("."),
                     problems, seen)
    for name in sorted(set(new.get("required", ())) - set(old.get("required", ()))):
        what = "new required field" if name not in old_props else "field made required"
        problems.append(f"{path}.{name}".lstrip(".") + f": {what}")
    if "items" in old and "items" in new:
        _compare(old["items"], new["items"], old_root, new_root, f"{path}[]", problems, seen)
