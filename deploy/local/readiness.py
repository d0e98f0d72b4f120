"""Shared by the readiness probes (kafka_ready.py, store_ready.py, idp.py) and whoever starts or
kills the local processes (stack.py, the store's private instances, the benchmarks)."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path


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


def running(pidfile: Path) -> int | None:
    """The pid in ``pidfile`` if that process runs (a zombie does not: it is reaped if ours)."""
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return None
    if alive(pid):
        return pid
    with contextlib.suppress(OSError):  # our own child, exited: reap it
        os.waitpid(pid, os.WNOHANG)
    return None


def sigkill(pid: int, timeout: float = 10.0) -> None:
    """SIGKILL ``pid`` (a crash: no shutdown code runs) and wait until it is gone."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
