"""The directory of the agency and its departments (loaded from the data file beside this module)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PATH = Path(__file__).with_name("directory.json")


@dataclass(frozen=True)
class Department:
    code: str
    name: str
    subjects: tuple[str, ...]
    keywords: tuple[str, ...]


@dataclass(frozen=True)
class Directory:
    version: str
    agency_code: str
    agency_name: str
    ogi_office: Department
    departments: tuple[Department, ...]

    def get(self, code: str) -> Department | None:
        if code == self.ogi_office.code:
            return self.ogi_office
        return next((d for d in self.departments if d.code == code), None)

    @property
    def all_codes(self) -> list[str]:
        return [self.ogi_office.code] + [d.code for d in self.departments]


def load(path: Path = DEFAULT_PATH) -> Directory:
    raw = json.loads(path.read_text(encoding="utf-8"))
    agency = raw["agency"]
    ogi = agency["ogi_office"]
    return Directory(
        version=raw["version"],
        agency_code=agency["code"],
        agency_name=agency["name"],
        ogi_office=Department(ogi["code"], ogi["name"], ("政府信息公开申请的登记、分办",), ()),
        departments=tuple(
            Department(d["code"], d["name"], tuple(d.get("subjects", ())), tuple(d.get("keywords", ())))
            for d in raw["departments"]
        ),
    )
