"""The tree's import rules, read from the source (ast), so that a violation fails here and not in a
review:

- a service never imports another service's code (shared shapes live in ``contracts``, shared
  adapters in ``servicekit``);
- ``servicekit`` and ``contracts`` import no service at all;
- ``deploy`` and ``benchmarks`` use no service internals: only the names a service's package
  exports (``services/<name>/__init__.py``'s ``__all__``), imported from the package itself.

Imports inside functions count as much as those at the top of a module.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SERVICES = sorted(p.name for p in (ROOT / "services").iterdir() if (p / "__init__.py").exists())


def sources(*parts: str) -> list[Path]:
    return sorted(p for p in ROOT.joinpath(*parts).rglob("*.py") if ".local" not in p.parts)


def rel(path: Path) -> Path:
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def imports(path: Path) -> list[tuple[int, str, list[str]]]:
    """(line, module, names) of each import of the file: ``import a.b`` is ("a.b", []),
    ``from a import b, c`` is ("a", ["b", "c"]); a relative import is made absolute."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = ".".join(rel(path).with_suffix("").parts[:-1])
    out: list[tuple[int, str, list[str]]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend((node.lineno, a.name, []) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, module] if module else base)
            out.append((node.lineno, module, [a.name for a in node.names]))
    return out


def services_named(module: str, names: list[str]) -> set[str]:
    """The services an import reaches: ``services.x...`` or ``from services import x``."""
    parts = module.split(".")
    if parts[0] != "services":
        return set()
    if len(parts) > 1:
        return {parts[1]}
    return set(names)


def test_the_rules_see_the_whole_tree():
    assert {"intake", "routing", "reply", "notify", "audit", "web"} <= set(SERVICES)
    assert len(sources("services")) > 80 and sources("servicekit") and sources("contracts")
    assert sources("deploy") and sources("benchmarks")


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_imports_no_other_service(service: str):
    wrong = [f"{p.relative_to(ROOT)}:{line}: {module}"
             for p in sources("services", service)
             for line, module, names in imports(p)
             if services_named(module, names) - {service}]
    assert not wrong, "a service imports another service's code:\n" + "\n".join(wrong)


def test_servicekit_and_contracts_import_no_service():
    wrong = [f"{p.relative_to(ROOT)}:{line}: {module}"
             for p in sources("servicekit") + sources("contracts")
             for line, module, names in imports(p)
             if services_named(module, names)]
    assert not wrong, "shared code imports a service:\n" + "\n".join(wrong)


def public(service: str) -> set[str]:
    return set(getattr(importlib.import_module(f"services.{service}"), "__all__", ()))


def internals_used(path: Path) -> list[str]:
    """What the file takes from services beyond their packages' exported names."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    wrong: list[str] = []
    aliases: dict[str, str] = {}  # local name -> service, for ``import services.x as y``
    for line, module, names in imports(path):
        parts = module.split(".")
        if parts[0] != "services":
            continue
        if len(parts) == 1 or len(parts) > 2:
            wrong.append(f"{line}: {module} {names}")  # a module of a service, or ``from services import x``
            continue
        if not names:
            continue  # ``import services.x``: its attributes are checked below
        wrong.extend(f"{line}: {module}.{n}" for n in names if n not in public(parts[1]))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                parts = a.name.split(".")
                if parts[0] == "services" and len(parts) == 2:
                    aliases[a.asname or a.name] = parts[1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases:
            if node.attr not in public(aliases[node.value.id]):
                wrong.append(f"{node.lineno}: services.{aliases[node.value.id]}.{node.attr}")
        if (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module"
                and node.args and isinstance(node.args[0], ast.Constant)
                and str(node.args[0].value).startswith("services.")):
            wrong.append(f"{node.lineno}: import_module({node.args[0].value!r})")
    return [f"{rel(path)}:{w}" for w in wrong]


def test_deploy_and_benchmarks_use_only_what_services_export():
    wrong = [w for p in sources("deploy") + sources("benchmarks") for w in internals_used(p)]
    assert not wrong, "deploy/ or benchmarks/ reach into a service's modules:\n" + "\n".join(wrong)


def test_every_exported_name_exists():
    for service in SERVICES:
        package = importlib.import_module(f"services.{service}")
        for name in getattr(package, "__all__", ()):
            assert getattr(package, name) is not None, f"services.{service}.{name}"


def test_the_checker_sees_a_violation(tmp_path: Path):
    """The checks above would fail on a file that breaks the rules (so a pass means something)."""
    bad = tmp_path / "probe.py"
    bad.write_text("import services.routing as r\nfrom services.routing.rules import decide\n"
                   "from services.reply import render_pdf\nr.casework\nr.decide\n", encoding="utf-8")
    found = [w.split(":", 1)[1] for w in internals_used(bad)]
    assert found == ["2: services.routing.rules ['decide']", "4: services.routing.casework"]
    other = tmp_path / "other.py"
    other.write_text("from services.reply import cases\nimport services.audit.merkle\nimport json\n", encoding="utf-8")
    assert [services_named(m, n) for _, m, n in imports(other)] == [{"reply"}, {"audit"}, set()]
