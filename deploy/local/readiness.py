"""Shared by the readiness probes (kafka_ready.py, store_ready.py, idp.py)."""

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
    try:  # a zombie (exited, not yet reaped) is gone too
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True
