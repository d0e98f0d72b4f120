"""The routing service: which departments answer an application, the OGI office's changes, referrals
and the rules it learns.

What tools outside the service (deploy/, benchmarks/) may use: the names below, imported from
this package (``from services.routing import ...``), never from its modules, which are the
service's own to change (tests/test_architecture.py holds the line). Loaded on first use, so
that importing one module of the service does not load the others."""

from __future__ import annotations

import importlib
from typing import Any

_PUBLIC = {
    "Directory": ("services.routing.directory", "Directory"),
    "load_directory": ("services.routing.directory", "load"),
    "parse_directory": ("services.routing.directory", "parse"),
    "apply_change": ("services.routing.directory", "apply_change"),
    "decide": ("services.routing.rules", "decide"),
    "Example": ("services.routing.learning", "Example"),
    "Proposal": ("services.routing.learning", "Proposal"),
    "example_from": ("services.routing.learning", "example_from"),
    "propose": ("services.routing.learning", "propose"),
    "accepted_department": ("services.routing.learning", "accepted_department"),
}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:  # noqa: ANN401 - PEP 562
    if name not in _PUBLIC:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, attr = _PUBLIC[name]
    return getattr(importlib.import_module(module), attr)
