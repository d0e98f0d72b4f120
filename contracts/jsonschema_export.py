"""Write one JSON Schema (2020-12) file per event type and version (the whole CloudEvent with its
data), for integrators that do not use Python. The web service serves them at the events'
``dataschema`` URL (``GET /schemas/<event>.v<n>.json``).

    python -m contracts.jsonschema_export [OUT_DIR]   (default: contracts/jsonschema)

A committed schema is a published contract: the export refuses to overwrite one with an
incompatible change (contracts/schema_compat.py; the rules are in docs/events-versioning.md);
introduce the next version beside it instead. ``--allow-incompatible`` overrides (never for a
version already produced anywhere).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from contracts import schema_compat
from contracts.envelope import DEFAULT_SCHEMA_BASE, CloudEvent, EventData
from contracts.events import ALL_EVENTS

DEFAULT_DIR = Path(__file__).with_name("jsonschema")
DIALECT = "https://json-schema.org/draft/2020-12/schema"


def schema_of(model: type[EventData]) -> dict:
    """The JSON Schema of one event type and version: the CloudEvent, its ``type`` pinned."""
    schema = CloudEvent[model].model_json_schema()  # type: ignore[valid-type]
    schema = {"$schema": DIALECT, "$id": model.dataschema(DEFAULT_SCHEMA_BASE), **schema}
    schema["title"] = model.ce_type()
    if model.__doc__:
        schema["description"] = " ".join(model.__doc__.split())
    props = schema["properties"]
    props["type"] = {"const": model.ce_type(), "title": "Type", "type": "string",
                     "description": "The event type and its schema version"}
    props["dataschema"] = {**props["dataschema"], "format": "uri",
                           "description": f"URL of this JSON Schema as the producing deployment serves it "
                           f"(…/schemas/{model.schema_file()})"}
    return schema


def schemas() -> dict[str, dict]:
    return {model.schema_file(): schema_of(model) for model in ALL_EVENTS}


def render(schema: dict) -> str:
    return json.dumps(schema, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def main(argv: list[str]) -> int:
    args = [a for a in argv[1:] if not a.startswith("--")]
    allow = "--allow-incompatible" in argv
    out_dir = Path(args[0]) if args else DEFAULT_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    generated = schemas()
    committed = schema_compat.load_dir(out_dir)
    problems = schema_compat.incompatibilities(committed, generated)
    if problems and not allow:
        for problem in problems:
            print(f"incompatible: {problem}", file=sys.stderr)
        print("not written: introduce the next version beside the old one (docs/events-versioning.md)",
              file=sys.stderr)
        return 1
    for name, schema in generated.items():
        (out_dir / name).write_text(render(schema), encoding="utf-8")
        print(out_dir / name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
