"""Shared by the readiness probes (kafka_ready.py, store_ready.py)."""

from __future__ import annotations

import os


def alive(pid: int | None) -> bool:
    """False only when the process we wait for is known to be gone (then waiting is pointless)."""
    if pid is None:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
