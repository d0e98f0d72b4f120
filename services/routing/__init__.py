"""The routing service: which departments answer an application, the OGI office's changes, referrals
and the rules it learns.

What tools outside the service (deploy/, benchmarks/) may use: the names below, imported from
this package (``from services.routing import ...``), never from its modules, which are the
service's own to change (tests/test_architecture.py holds the line). Loaded on first use
(servicekit/exports.py)."""

from servicekit.exports import exports

__getattr__, __all__ = exports(__name__, {
    "Directory": "directory",
    "load_directory": "directory:load",
    "parse_directory": "directory:parse",
    "apply_change": "directory",
    "decide": "rules",
    "Example": "learning",
    "Proposal": "learning",
    "example_from": "learning",
    "propose": "learning",
    "accepted_department": "learning",
})
