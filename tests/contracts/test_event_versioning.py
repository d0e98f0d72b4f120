"""Event versions are contracts (docs/events-versioning.md): the generated schemas may change a
committed (published) version only compatibly. Distinct from the drift test of test_contracts.py:
that one says "regenerate", this one says "this change needs a new version" — and the exporter
refuses to write such a change over the committed file."""

from __future__ import annotations

import copy

import pytest

from contracts import jsonschema_export, schema_compat
from contracts.events import ALL_EVENTS

COMMITTED = schema_compat.load_dir(jsonschema_export.DEFAULT_DIR)


def test_generated_schemas_are_compatible_with_the_committed_ones() -> None:
    problems = schema_compat.incompatibilities(COMMITTED, jsonschema_export.schemas())
    assert not problems, "incompatible change of a published event version; add the next version beside it " \
        "(docs/events-versioning.md):\n" + "\n".join(problems)


def test_every_version_is_committed_and_types_are_unique() -> None:
    assert {m.schema_file() for m in ALL_EVENTS} == set(COMMITTED)
    assert len({m.ce_type() for m in ALL_EVENTS}) == len(ALL_EVENTS)


# ------------------------------------------------------------------------------ the checker itself
BASE = COMMITTED["task.assigned.v1.json"]


def _changed(fn) -> list[str]:  # noqa: ANN001
    new = copy.deepcopy(BASE)
    fn(new)
    return schema_compat.compare(BASE, new)


def _data(schema: dict) -> dict:
    return schema["$defs"]["TaskAssigned"]


def test_unchanged_is_compatible() -> None:
    assert _changed(lambda s: None) == []


def test_a_new_optional_field_and_new_descriptions_are_compatible() -> None:
    def change(s: dict) -> None:
        _data(s)["properties"]["priority"] = {"anyOf": [{"type": "integer"}, {"type": "null"}], "default": None}
        _data(s)["properties"]["rule"]["description"] = "why this department"
        s["description"] = "another text"
    assert _changed(change) == []


@pytest.mark.parametrize(("change", "expected"), [
    (lambda s: _data(s)["properties"].pop("rule"), "data.rule: field removed"),
    (lambda s: _data(s)["properties"].__setitem__("received_on", {"type": "integer"}),
     "data.received_on: type changed"),
    (lambda s: _data(s)["properties"].__setitem__("rule", {"anyOf": [{"type": "string"}, {"type": "null"}]}),
     "data.rule: type changed"),
    (lambda s: (_data(s)["properties"].__setitem__("priority", {"type": "integer"}),
                _data(s)["required"].append("priority")), "data.priority: new required field"),
    (lambda s: s["required"].append("causationid"), "causationid: field made required"),
    (lambda s: s["properties"]["type"].__setitem__("const", "cn.gongkai.task.assigned.v2"), "type: const changed"),
    (lambda s: _data(s)["properties"]["received_on"].__setitem__("format", "date-time"),
     "data.received_on: format changed"),
])
def test_incompatible_changes_are_found(change, expected: str) -> None:  # noqa: ANN001
    problems = _changed(change)
    assert any(p.startswith(expected) for p in problems), problems


def test_an_enum_value_added_or_removed_is_incompatible() -> None:
    name, schema = next((n, s) for n, s in COMMITTED.items()
                        if any("enum" in d for d in s.get("$defs", {}).values()))
    enum_name = next(k for k, d in schema["$defs"].items() if "enum" in d)
    for change in (lambda e: e.append("new_value"), lambda e: e.pop()):
        new = copy.deepcopy(schema)
        change(new["$defs"][enum_name]["enum"])
        assert any("enum changed" in p for p in schema_compat.compare(schema, new)), name


def test_a_removed_version_is_incompatible() -> None:
    generated = dict(COMMITTED)
    generated.pop("task.assigned.v1.json")
    assert schema_compat.incompatibilities(COMMITTED, generated) == [
        "task.assigned.v1.json: the schema of a published version was removed"]


def test_the_exporter_refuses_an_incompatible_change(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    for name, schema in COMMITTED.items():
        (tmp_path / name).write_text(jsonschema_export.render(schema), encoding="utf-8")
    broken = copy.deepcopy(jsonschema_export.schemas())
    broken["task.assigned.v1.json"]["$defs"]["TaskAssigned"]["properties"].pop("rule")
    monkeypatch.setattr(jsonschema_export, "schemas", lambda: broken)
    before = (tmp_path / "task.assigned.v1.json").read_text(encoding="utf-8")
    assert jsonschema_export.main(["export", str(tmp_path)]) == 1
    assert (tmp_path / "task.assigned.v1.json").read_text(encoding="utf-8") == before
    assert jsonschema_export.main(["export", str(tmp_path), "--allow-incompatible"]) == 0
