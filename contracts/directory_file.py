"""The routing directory file (``services/routing/directory.json`` and each agency's overlay):
what tools outside the routing service read from it.

The file is a contract between the routing service, which parses and validates all of it
(``services.routing.directory``), and deployment, which needs only the department codes of the
home agency (each has an inbox topic and a Kafka principal). This reads just that, from the JSON,
without the service's code; tests/deploy checks it agrees with the service's parser on every file.
"""

from __future__ import annotations

import json
from pathlib import Path

DEFAULT_PATH = Path(__file__).resolve().parents[1] / "services" / "routing" / "directory.json"


def home_department_codes(path: Path = DEFAULT_PATH) -> list[str]:
    """The OGI office's code, then the departments' codes, of the file's home agency."""
    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    home = next((a for a in raw.get("agencies", []) if a.get("code") == raw.get("home_agency")), None)
    if home is None or not home.get("ogi_office"):
        raise ValueError(f"{path}: the home agency {raw.get('home_agency')!r} with its ogi_office is missing")
    return [home["ogi_office"]["code"], *(d["code"] for d in home.get("departments", []))]
