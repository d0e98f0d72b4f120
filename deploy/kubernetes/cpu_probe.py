"""CPU time of the benchmark's processes, sampled from /proc while ``benchmarks/pipeline.py`` runs.

The pipeline benchmark reports throughput and memory but not CPU. docs/capacity.md needs the CPU
cost of one application per process kind (service, broker, store), so this probe runs beside it:

    flock /tmp/gongkai-e2e.lock timeout -s INT 900 \\
        .local/venv/bin/python -m deploy.kubernetes.cpu_probe --out /tmp/cpu.json -- ./dev bench --n 50

It starts the command, timestamps each line it prints, and every 0.25 s reads utime+stime of the
benchmark stack's processes (the five services by their ``<SERVICE>_HTTP_PORT`` environment, the
broker, store and identity provider by the benchmark's run dir, and the load generator itself).
The CPU of the pipeline phase is the difference between the line ``benchmark: pipeline: ...`` and
the end of the report; the idle rate of the settle phase is reported beside it. Linux only.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")
BENCH_PORTS = {f"{s.upper()}_HTTP_PORT={31101 + i}": s  # benchmarks/pipeline.py's ports
               for i, s in enumerate(("intake", "routing", "reply", "notify", "audit"))}


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return b""


def classify(pid: int) -> str | None:
    """Which part of the benchmark stack a process is, or None."""
    cmd = _read(f"/proc/{pid}/cmdline").replace(b"\0", b" ").decode(errors="replace")
    if "benchmarks/pipeline.py" in cmd:
        return "load generator (benchmark)"
    if "gk-bench-" in cmd:
        if "kafka" in cmd.lower():
            return "kafka broker"
        if "keycloak" in cmd.lower():
            return "keycloak"
        return "store" if "GongkaiStore" in cmd or "store" in cmd else "other infra"
    if "-m services." in cmd:
        env = _read(f"/proc/{pid}/environ").split(b"\0")
        for item in env:
            name = BENCH_PORTS.get(item.decode(errors="replace"))
            if name:
                return name
        if b"WEB_HTTP_PORT=38106" in env:
            return "web"
    return None


def cpu_seconds(pid: int) -> float | None:
    stat = _read(f"/proc/{pid}/stat").decode(errors="replace")
    if not stat:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime (fields 14, 15 of proc(5))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--interval", type=float, default=0.25)
    ap.add_argument("command", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    samples: list[tuple[float, dict[int, tuple[str, float]]]] = []
    known: dict[int, tuple[bytes | None, str | None]] = {}
    lines: list[tuple[float, str]] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            now = time.time()
            snap: dict[int, tuple[str, float]] = {}
            for entry in os.listdir("/proc"):
                if not entry.isdigit():
                    continue
                pid = int(entry)
                # Classified again whenever the command line changes: a child between fork and exec
                # still shows its parent's (the benchmark's) command line.
                cmd = _read(f"/proc/{pid}/cmdline")
                if known.get(pid, (None, None))[0] != cmd:
                    known[pid] = (cmd, classify(pid))
                kind = known[pid][1]
                if kind is None:
                    continue
                cpu = cpu_seconds(pid)
                if cpu is not None:
                    snap[pid] = (kind, cpu)
            samples.append((now, snap))
            done.wait(args.interval)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append((time.time(), line.rstrip("\n")))
        print(line, end="", flush=True)
    rc = proc.wait()
    done.set()
    thread.join()

    def at(t: float) -> dict[str, float]:
        """CPU seconds by kind at the last sample before t (processes seen so far)."""
        last: dict[int, tuple[str, float]] = {}
        for ts, snap in samples:
            if ts > t:
                break
            last.update(snap)
        out: dict[str, float] = {}
        for kind, cpu in last.values():
            out[kind] = out.get(kind, 0.0) + cpu
        return out

    def first(pattern: str) -> float | None:
        return next((ts for ts, text in lines if re.search(pattern, text)), None)

    t_settle = first(r"stack healthy after")
    t_raw = first(r"benchmark: raw broker")
    t_pipe = first(r"benchmark: pipeline:")
    t_end = first(r"^MEMORY \(VmRSS") or (lines[-1][0] if lines else None)
    n_match = next((re.search(r"pipeline: (\d+) applications", text) for _, text in lines
                    if "benchmark: pipeline:" in text), None)
    result: dict = {"command": command, "returncode": rc, "lines": [t for _, t in lines]}
    if t_pipe and t_end and n_match:
        n = int(n_match.group(1))
        a, b = at(t_pipe), at(t_end)
        phase = {k: b.get(k, 0.0) - a.get(k, 0.0) for k in sorted(set(a) | set(b))}
        result["pipeline_phase"] = {
            "applications": n, "seconds": t_end - t_pipe, "cpu_seconds_by_process": phase,
            "cpu_seconds_total": sum(phase.values()),
            "cpu_seconds_per_application_by_process": {k: v / n for k, v in phase.items()},
            "cpu_seconds_per_application_total": sum(phase.values()) / n,
        }
    if t_settle and t_raw:
        a, b = at(t_settle), at(t_raw)
        idle = {k: (b.get(k, 0.0) - a.get(k, 0.0)) / max(t_raw - t_settle, 1e-9) for k in sorted(set(a) | set(b))}
        result["idle_cpu_per_second_by_process"] = idle
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "lines"}, indent=2, ensure_ascii=False))
    return rc


if __name__ == "__main__":
    sys.exit(main())
