"""The directory: agencies (with administrative division codes), their OGI office and departments,
the subjects each is responsible for (the categories of its disclosure catalogue 政府信息公开目录,
keywords), and contacts.

Pure code, no I/O besides ``load`` reading the data file. The file beside this module is version
"1"; later versions are made through the authenticated directory API and stored in the routing
database (``services/routing/directory_store.py``). A change is a pure function from one raw
directory (the JSON shape of the file) to the next, validated by ``parse``.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_PATH = Path(__file__).with_name("directory.json")
FILE_VERSION = "1"

_CODE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")  # also a valid department inbox topic segment
_DIVISION = re.compile(r"^[1-9]\d{5}$")  # GB/T 2260 administrative division code


class DirectoryError(ValueError):
    """A directory (or a change to it) that is not valid; the message is Chinese, for the admin."""


@dataclass(frozen=True)
class Contact:
    address: str = ""
    phone: str = ""
    office_hours: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"address": self.address, "phone": self.phone, "office_hours": self.office_hours}


@dataclass(frozen=True)
class Department:
    code: str
    name: str
    subjects: tuple[str, ...]
    keywords: tuple[str, ...]
    weak_keywords: tuple[str, ...] = ()
    catalogue: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    contact: Contact = field(default_factory=Contact)


@dataclass(frozen=True)
class Agency:
    code: str
    name: str
    division_code: str
    division_name: str
    on_bus: bool
    contact: Contact
    subjects: tuple[str, ...] = ()
    ogi_office: Department | None = None
    departments: tuple[Department, ...] = ()


@dataclass(frozen=True)
class Directory:
    """One version of the directory, seen from the home agency (the one this deployment serves)."""

    version: str
    home: Agency
    agencies: tuple[Agency, ...]
    raw: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)

    # -- the home agency (what routing picks from) ------------------------------------------
    @property
    def agency_code(self) -> str:
        return self.home.code

    @property
    def agency_name(self) -> str:
        return self.home.name

    @property
    def ogi_office(self) -> Department:
        assert self.home.ogi_office is not None
        return self.home.ogi_office

    @property
    def departments(self) -> tuple[Department, ...]:
        return self.home.departments

    def get(self, code: str) -> Department | None:
        if code == self.ogi_office.code:
            return self.ogi_office
        return next((d for d in self.departments if d.code == code), None)

    @property
    def all_codes(self) -> list[str]:
        return [self.ogi_office.code] + [d.code for d in self.departments]

    # -- other agencies (referrals) ------------------------------------------------------------
    def agency(self, code: str) -> Agency | None:
        return next((a for a in self.agencies if a.code == code), None)


def _strs(value: Any, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() == v and v for v in value):
        raise DirectoryError(f"{what} 必须是非空字符串的列表（不含首尾空格）")
    if len(set(value)) != len(value):
        raise DirectoryError(f"{what} 含有重复项")
    return tuple(value)


def _text(obj: dict[str, Any], key: str, what: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value.strip():
        raise DirectoryError(f"{what} 缺少 {key}")
    return value


def _contact(value: Any, what: str) -> Contact:
    if value is None:
        return Contact()
    if not isinstance(value, dict) or set(value) - {"address", "phone", "office_hours"}:
        raise DirectoryError(f"{what} 的联系方式只能包含 address、phone、office_hours")
    if not all(isinstance(v, str) for v in value.values()):
        raise DirectoryError(f"{what} 的联系方式必须是文字")
    return Contact(**value)


def _department(raw: dict[str, Any], what: str, ogi: bool = False) -> Department:
    if not isinstance(raw, dict):
        raise DirectoryError(f"{what} 必须是对象")
    code = _text(raw, "code", what)
    if not _CODE.match(code):
        raise DirectoryError(f"{what} 的代码 {code!r} 无效（小写字母、数字、连字符）")
    name = _text(raw, "name", what)
    dept = Department(
        code=code,
        name=name,
        subjects=_strs(raw.get("subjects"), f"{name} 的 subjects") or (("政府信息公开申请的登记、分办",) if ogi else ()),
        keywords=_strs(raw.get("keywords"), f"{name} 的 keywords"),
        weak_keywords=_strs(raw.get("weak_keywords"), f"{name} 的 weak_keywords"),
        catalogue=_strs(raw.get("catalogue"), f"{name} 的 catalogue"),
        aliases=_strs(raw.get("aliases"), f"{name} 的 aliases"),
        contact=_contact(raw.get("contact"), name),
    )
    if not ogi and not dept.subjects:
        raise DirectoryError(f"{name} 至少需要一个主管事项（subjects）")
    if set(dept.keywords) & set(dept.weak_keywords):
        raise DirectoryError(f"{name} 的关键词不能同时为强关键词和弱关键词")
    return dept


def parse(raw: dict[str, Any], version: str) -> Directory:
    """Validate a raw directory and build it (raises DirectoryError with a Chinese message)."""
    if not isinstance(raw, dict) or not isinstance(raw.get("agencies"), list) or not raw["agencies"]:
        raise DirectoryError("目录必须包含至少一个机关（agencies）")
    agencies: list[Agency] = []
    for i, a in enumerate(raw["agencies"]):
        what = f"第 {i + 1} 个机关"
        if not isinstance(a, dict):
            raise DirectoryError(f"{what} 必须是对象")
        code, name = _text(a, "code", what), _text(a, "name", what)
        if not _CODE.match(code):
            raise DirectoryError(f"机关代码 {code!r} 无效")
        division = _text(a, "division_code", name)
        if not _DIVISION.match(division):
            raise DirectoryError(f"{name} 的行政区划代码 {division!r} 无效（6 位数字）")
        ogi = _department(a["ogi_office"], f"{name} 的政府信息公开工作机构", ogi=True) if a.get("ogi_office") else None
        depts = tuple(_department(d, f"{name} 的第 {j + 1} 个部门") for j, d in enumerate(a.get("departments") or []))
        codes = ([ogi.code] if ogi else []) + [d.code for d in depts]
        if len(codes) != len(set(codes)):
            raise DirectoryError(f"{name} 的部门代码重复")
        names = ([ogi.name] if ogi else []) + [d.name for d in depts]
        if len(names) != len(set(names)):
            raise DirectoryError(f"{name} 的部门名称重复")
        agencies.append(Agency(
            code=code, name=name, division_code=division,
            division_name=a.get("division_name") or "", on_bus=bool(a.get("on_bus", False)),
            contact=_contact(a.get("contact"), name), subjects=_strs(a.get("subjects"), f"{name} 的 subjects"),
            ogi_office=ogi, departments=depts,
        ))
    if len({a.code for a in agencies}) != len(agencies):
        raise DirectoryError("机关代码重复")
    home = next((a for a in agencies if a.code == raw.get("home_agency")), None)
    if home is None:
        raise DirectoryError("home_agency 必须是目录中的一个机关")
    if home.ogi_office is None:
        raise DirectoryError(f"{home.name} 必须有政府信息公开工作机构（ogi_office）")
    if not home.departments:
        raise DirectoryError(f"{home.name} 至少需要一个部门")
    # Department inbox topics are global on the bus: a code names one department only.
    all_codes = [c for a in agencies for c in ([a.ogi_office.code] if a.ogi_office else []) + [d.code for d in a.departments]]
    if len(all_codes) != len(set(all_codes)):
        raise DirectoryError("部门代码在各机关之间必须唯一（每个代码对应一个收件箱主题）")
    return Directory(version=version, home=home, agencies=tuple(agencies), raw=copy.deepcopy(raw))


def load_raw(path: Path = DEFAULT_PATH) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def load(path: Path = DEFAULT_PATH, version: str = FILE_VERSION) -> Directory:
    return parse(load_raw(path), version)


# ---------------------------------------------------------------------------- changes (pure)

CHANGE_OPS = ("upsert_department", "remove_department", "upsert_agency")


def apply_change(raw: dict[str, Any], op: str, agency_code: str, payload: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The raw directory after one change, and a one-line summary of what changed (Chinese).

    ``upsert_department``: payload is the department (with its code); replaces or appends it.
    ``remove_department``: payload {"code"}; the OGI office cannot be removed.
    ``upsert_agency``: payload is the agency without departments/ogi_office; replaces or appends.
    The result is validated by the caller with ``parse``.
    """
    new = copy.deepcopy(raw)
    agencies = new["agencies"]
    agency = next((a for a in agencies if a.get("code") == agency_code), None)
    if op == "upsert_agency":
        fields = {k: v for k, v in payload.items() if k not in ("departments", "ogi_office")}
        fields["code"] = agency_code
        if agency is None:
            agencies.append({**fields, "departments": []})
            return new, f"新增机关 {agency_code}（{fields.get('name', '')}）"
        kept = {k: agency[k] for k in ("departments", "ogi_office") if k in agency}
        agency.clear()
        agency.update({**fields, **kept})
        return new, f"修改机关 {agency_code}（{fields.get('name', '')}）"
    if agency is None:
        raise DirectoryError(f"目录中没有机关 {agency_code}")
    depts = agency.setdefault("departments", [])
    code = payload.get("code")
    if op == "upsert_department":
        ogi = agency.get("ogi_office") or {}
        if code == ogi.get("code"):
            agency["ogi_office"] = payload
            return new, f"修改 {agency_code} 的政府信息公开工作机构"
        for i, d in enumerate(depts):
            if d.get("code") == code:
                depts[i] = payload
                return new, f"修改部门 {agency_code}/{code}（{payload.get('name', '')}）"
        depts.append(payload)
        return new, f"新增部门 {agency_code}/{code}（{payload.get('name', '')}）"
    if op == "remove_department":
        if code == (agency.get("ogi_office") or {}).get("code"):
            raise DirectoryError("政府信息公开工作机构不能删除")
        kept = [d for d in depts if d.get("code") != code]
        if len(kept) == len(depts):
            raise DirectoryError(f"{agency_code} 没有部门 {code}")
        agency["departments"] = kept
        return new, f"删除部门 {agency_code}/{code}"
    raise DirectoryError(f"未知的目录变更 {op!r}")
