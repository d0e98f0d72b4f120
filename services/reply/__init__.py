"""The reply service: the departments' tasks and answers, the one reply, the case clock and every
procedural document.

What tools outside the service (deploy/, benchmarks/) may use: the names below, imported from
this package (``from services.reply import ...``), never from its modules, which are the
service's own to change (tests/test_architecture.py holds the line). Loaded on first use, so
that importing one module of the service does not load the others."""

from __future__ import annotations

import importlib
from typing import Any

_PUBLIC = {
    "CONSOLIDATED": ("services.reply.documents", "CONSOLIDATED"),
    "render_html": ("services.reply.documents", "render_html"),
    "render_pdf": ("services.reply.documents", "render_pdf"),
}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:  # noqa: ANN401 - PEP 562
    if name not in _PUBLIC:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, attr = _PUBLIC[name]
    return getattr(importlib.import_module(module), attr)
