"""Write one JSON Schema file per event type (the whole CloudEvent with its data), for integrators
that do not use Python.

    python -m contracts.jsonschema_export [OUT_DIR]   (default: contracts/jsonschema)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from contracts.envelope import CloudEvent
from contracts.events import ALL_EVENTS

DEFAULT_DIR = Path(__file__).with_name("jsonschema")


def schemas() -> dict[str, dict]:
    out = {}
    for model in ALL_EVENTS:
        schema = CloudEvent[model].model_json_schema()  # type: ignore[valid-type]
        schema["$id"] = model.dataschema()
        schema["title"] = model.ce_type()
        out[f"{model.event_name}.v{model.schema_version}.json"] = schema
    return out


def render(schema: dict) -> str:
    return json.dumps(schema, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def main(argv: list[str]) -> int:
    out_dir = Path(argv[1]) if len(argv) > 1 else DEFAULT_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, schema in schemas().items():
        (out_dir / name).write_text(render(schema), encoding="utf-8")
        print(out_dir / name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
