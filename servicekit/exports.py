"""A service package's public surface, loaded on first use (PEP 562).

``services/<name>/__init__.py`` names what tools outside the service (deploy/, benchmarks/) may
use, and where each lives; nothing is imported until it is asked for, so importing one module of
the service does not load the others. tests/test_architecture.py holds the line::

    __getattr__, __all__ = exports(__name__, {"decide": "rules", "load_directory": "directory:load"})

A value is ``"<module>"`` (the same name in that module of the package) or ``"<module>:<name>"``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def exports(package: str, table: Mapping[str, str]) -> tuple[Callable[[str], Any], list[str]]:
    where = {name: (f"{package}.{spec.partition(':')[0]}", spec.partition(":")[2] or name)
             for name, spec in table.items()}

    def __getattr__(name: str) -> Any:  # noqa: ANN401, N807
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, attr = where[name]
        return getattr(importlib.import_module(module), attr)

    return __getattr__, sorted(where)
