"""Summarise a py-spy speedscope profile (as written by ``benchmarks/pipeline.py --profile``).

    PYTHONPATH=. .local/venv/bin/python benchmarks/profile_top.py /tmp/prof/prof-routing.speedscope.json [--top 15]
    PYTHONPATH=. .local/venv/bin/python benchmarks/profile_top.py /tmp/prof/prof-store.jfr   (JDK's jfr tool)

Prints, as a percentage of all samples (py-spy records only threads that are running, not idle,
unless it was given --idle):
- self time: the functions at the top of the stack (where the CPU is actually spent);
- inclusive time of the project's own code (services/, servicekit/, contracts/): the function of
  ours closest to the hot leaf, i.e. which of our functions caused the work;
- inclusive time of every function (the big callers: the event loop, handlers, libraries).
``file:line`` is the function's first line when py-spy ran with --function (pipeline.py does),
else the line being executed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

OURS = ("services/", "servicekit/", "contracts/")
# Leaf functions that are a thread waiting, not working: py-spy's idle detection (thread state) is
# not exact, least of all with --nonblocking. Samples ending in one of them count as idle.
IDLE_LEAVES = {
    ("select", "selectors.py"), ("wait", "threading.py"), ("_worker", "thread.py"),
    ("get", "queue.py"), ("sleep", "time"), ("_wait_for_tstate_lock", "threading.py"),
}


# Entry frames that every sample of a service has: not an explanation of where the time goes.
ENTRY = {("serve", "servicekit/runtime.py"), ("<module>", "__main__.py")}


def package(path: str) -> str:
    sp = short(path)
    if sp.startswith("stdlib/"):
        rest = sp.removeprefix("stdlib/")
        return "stdlib " + (rest.split("/", 1)[0] if "/" in rest else rest.removesuffix(".py"))
    return sp.split("/", 1)[0].removesuffix(".py") if "/" in sp else sp


def is_idle(frame: dict) -> bool:
    name = frame.get("name", "").rsplit(".", 1)[-1]
    file = frame.get("file", "")
    return any(name == n and file.endswith(f) for n, f in IDLE_LEAVES)


def short(path: str) -> str:
    for marker in ("/site-packages/", "/lib/python3"):
        if marker in path:
            return path.split(marker, 1)[1] if marker == "/site-packages/" else "stdlib/" + path.split(marker, 1)[1].split("/", 1)[-1]
    for root in OURS:
        i = path.find("/" + root)
        if i >= 0:
            return path[i + 1:]
    return path


def summarise(path: Path, top: int) -> str:
    doc = json.loads(path.read_text())
    frames = doc["shared"]["frames"]
    labels = [f"{f.get('name', '?')} ({short(f.get('file', '?'))}:{f.get('line', '?')})" for f in frames]
    ours = [any(short(f.get("file", "")).startswith(r) for r in OURS)
            and not any(f.get("name") == n and f.get("file", "").endswith(e) for n, e in ENTRY) for f in frames]
    pkgs = [package(f.get("file", "?")) for f in frames]
    pkg_c: Counter[str] = Counter()
    self_c: Counter[int] = Counter()
    incl: Counter[int] = Counter()
    ours_c: Counter[int] = Counter()
    idle = [is_idle(f) for f in frames]
    total = 0.0
    idle_n = 0
    threads: Counter[str] = Counter()
    for prof in doc["profiles"]:
        for stack in prof["samples"]:
            w = 1  # one sample (py-spy's weights are its sampling interval)
            if not stack or idle[stack[-1]]:
                idle_n += w
                continue
            total += w
            threads[prof.get("name", "?")] += w
            self_c[stack[-1]] += w
            pkg_c[pkgs[stack[-1]]] += w
            for idx in set(stack):
                incl[idx] += w
            mine = [i for i in stack if ours[i]]
            ours_c[mine[-1] if mine else -1] += w
    if not total:
        return f"{path}: no samples"
    out = [f"{path}: {total:.0f} active samples ({idle_n} idle-waiting samples left out; % below are of "
           "the active ones), threads: "
           + ", ".join(f"{k} {100 * v / total:.0f}%" for k, v in threads.most_common(5))]

    def section(title: str, counter: Counter) -> None:
        out.append(title)
        for idx, w in counter.most_common(top):
            name = idx if isinstance(idx, str) else (
                labels[idx] if idx >= 0 else "(no project frame: event loop callbacks, library tasks)")
            out.append(f"  {100 * w / total:5.1f}%  {name}")

    section("self time by package of the leaf:", pkg_c)
    section("self time (leaf functions):", self_c)
    section("our code nearest the leaf (services/, servicekit/, contracts/), inclusive:", ours_c)
    section("inclusive (any function on the stack):", incl)
    return "\n".join(out)


def _jfr_duration_s(v: Any) -> float:  # noqa: ANN401 - "PT0.0123S" (ISO-8601) or nanoseconds
    if isinstance(v, (int, float)):
        return v / 1e9
    if isinstance(v, str) and v.startswith("PT"):
        total, num = 0.0, ""
        for ch in v[2:]:
            if ch.isdigit() or ch == ".":
                num += ch
            else:
                total += float(num or 0) * {"H": 3600, "M": 60, "S": 1}.get(ch, 0)
                num = ""
        return total
    return 0.0


def summarise_jfr(path: Path, top: int) -> str:
    """A Java Flight Recorder file (the store's or the broker's, pipeline.py --profile store,kafka):
    execution samples by method (self and inclusive), by thread, and the GC pauses."""
    jfr = shutil.which("jfr")
    if not jfr:
        return f"{path}: the jfr tool (JDK) is not on PATH"
    text = subprocess.run([jfr, "print", "--json", "--events", "jdk.ExecutionSample,jdk.GarbageCollection",
                           "--stack-depth", "64", str(path)], capture_output=True, text=True, check=True).stdout
    events = json.loads(text)["recording"]["events"]
    self_c: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    pkg_c: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    n = 0
    gc_pause = 0.0
    gcs: Counter[str] = Counter()
    for ev in events:
        vals = ev.get("values", {})
        if ev.get("type") == "jdk.GarbageCollection":
            gc_pause += _jfr_duration_s(vals.get("sumOfPauses", vals.get("duration")))
            gcs[str(vals.get("name"))] += 1
            continue
        frames = (vals.get("stackTrace") or {}).get("frames") or []
        if not frames:
            continue
        n += 1
        thread = (vals.get("sampledThread") or {}).get("javaName") or "?"
        threads["".join(c for c in thread if not c.isdigit()).rstrip("-#_ ")] += 1
        names = []
        for f in frames:
            m = f.get("method") or {}
            cls = ((m.get("type") or {}).get("name") or "?").replace("/", ".")
            names.append(f"{cls}.{m.get('name', '?')}")
        self_c[names[0]] += 1
        pkg_c[".".join(names[0].split(".")[:3])] += 1
        for nm in set(names):
            incl[nm] += 1
    if not n:
        return f"{path}: no execution samples"
    out = [f"{path}: {n} Java execution samples (JFR samples running Java code only, not GC or "
           f"native I/O); GC: {sum(gcs.values())} collections ({', '.join(f'{k} {v}' for k, v in gcs.items())}), "
           f"pauses {gc_pause:.2f} s in total",
           "threads: " + ", ".join(f"{k} {100 * v / n:.0f}%" for k, v in threads.most_common(6))]
    for title, counter in (("self time by package of the leaf:", pkg_c), ("self time (leaf methods):", self_c),
                           ("inclusive (any method on the stack):", incl)):
        out.append(title)
        for k, v in counter.most_common(top):
            out.append(f"  {100 * v / n:5.1f}%  {k}")
    return "\n".join(out)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="+", type=Path)
    ap.add_argument("--top", type=int, default=15)
    args = ap.parse_args(argv)
    for f in args.files:
        print(summarise_jfr(f, args.top) if f.suffix == ".jfr" else summarise(f, args.top))
        print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
