"""The reply service: the departments' tasks and answers, the one reply, the case clock and every
procedural document.

What tools outside the service (deploy/, benchmarks/) may use: the names below, imported from
this package (``from services.reply import ...``), never from its modules, which are the
service's own to change (tests/test_architecture.py holds the line). Loaded on first use
(servicekit/exports.py)."""

from servicekit.exports import exports

__getattr__, __all__ = exports(__name__, {
    "CONSOLIDATED": "documents",
    "render_html": "documents",
    "render_pdf": "documents",
})
