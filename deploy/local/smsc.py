"""The local SMSC: a real SMPP 3.4 server (deploy/local/smsc/smsc.mjs, npm ``smpp``) that stands for
the operators' SMS centre in local runs and tests of notify's SMS channel (issue #17).

``Smsc`` starts and stops the node process (installed by ``deploy/local/install.sh smsc`` into
.local/smsc), waits until it listens, and reads what it recorded: every ``submit_sm`` (one JSON line
per part, ``submits``), every delivery receipt it sent (``receipts``), and the concatenated
messages reassembled in order (``messages``). ``fail(number)`` makes a destination's receipts say
``stat:UNDELIV``. The stack starts it like the mail sink (``deploy/local/stack.py``: ``sinks``);
``python -m deploy.local.smsc --port 2775 --dir DIR`` runs it in the foreground.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HOME = Path(__file__).resolve().parents[2]
LOCAL = Path(os.environ.get("GONGKAI_LOCAL_DIR", HOME / ".local"))
SCRIPT = LOCAL / "smsc" / "smsc.mjs"
INSTALL = HOME / "deploy" / "local" / "install.sh"

# The local stack's SMSC (SMPP's registered port) and its account; notify's NOTIFY_SMPP_* defaults.
PORT = 2775
SYSTEM_ID = "gongkai"
PASSWORD = "localsms"


def installed() -> bool:
    return (SCRIPT.parent / "node_modules" / "smpp" / "package.json").exists()


def ensure_installed() -> None:
    if not installed():
        subprocess.run(["bash", str(INSTALL), "smsc"], check=True, capture_output=True, timeout=300)


def command(*, host: str, port: int, directory: Path, system_id: str = SYSTEM_ID, password: str = PASSWORD,
            receipt_delay_ms: int = 200, fail_numbers: tuple[str, ...] = ()) -> tuple[list[str], dict[str, str]]:
    """The node process's argv and environment."""
    node = shutil.which("node") or "node"
    env = {**os.environ, "SMSC_HOST": host, "SMSC_PORT": str(port), "SMSC_DIR": str(directory),
           "SMSC_SYSTEM_ID": system_id, "SMSC_PASSWORD": password, "SMSC_RECEIPT_DELAY_MS": str(receipt_delay_ms),
           "SMSC_FAIL_NUMBERS": ",".join(fail_numbers)}
    return [node, str(SCRIPT)], env


def _lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:  # a line being written right now
                break
    return out


def reassemble(parts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The messages the parts make, in the order their first part arrived: the parts of a
    concatenated message (same source, destination and UDH reference and total) joined in their
    sequence order. ``complete``: every part 1..total arrived, once."""
    messages: list[dict[str, Any]] = []
    open_: dict[tuple[str, str, int, int], dict[str, Any]] = {}
    for p in parts:
        udh = p.get("udh")
        if not udh:
            messages.append({"source": p["source"], "destination": p["destination"], "text": p["text"],
                             "parts": [p], "message_ids": [p["message_id"]], "complete": True})
            continue
        key = (p["source"], p["destination"], udh["ref"], udh["total"])
        msg = open_.get(key)
        if msg is None or any(q["udh"]["seq"] == udh["seq"] for q in msg["parts"]):
            msg = {"source": p["source"], "destination": p["destination"], "parts": [], "ref": udh["ref"],
                   "total": udh["total"]}
            open_[key] = msg
            messages.append(msg)
        msg["parts"].append(p)
    for msg in messages:
        if "total" in msg:
            msg["parts"].sort(key=lambda q: q["udh"]["seq"])
            msg["text"] = "".join(q["text"] for q in msg["parts"])
            msg["message_ids"] = [q["message_id"] for q in msg["parts"]]
            msg["complete"] = [q["udh"]["seq"] for q in msg["parts"]] == list(range(1, msg["total"] + 1))
    return messages


@dataclass
class Smsc:
    """The node SMSC as a child process of the tests (or of ``main``)."""

    directory: Path
    host: str = "127.0.0.1"
    port: int = PORT
    system_id: str = SYSTEM_ID
    password: str = PASSWORD
    receipt_delay_ms: int = 200
    fail_numbers: tuple[str, ...] = ()
    proc: subprocess.Popen | None = field(default=None, init=False)

    def start(self, timeout: float = 20.0) -> Smsc:
        ensure_installed()
        self.directory.mkdir(parents=True, exist_ok=True)
        argv, env = command(host=self.host, port=self.port, directory=self.directory, system_id=self.system_id,
                            password=self.password, receipt_delay_ms=self.receipt_delay_ms,
                            fail_numbers=self.fail_numbers)
        log = (self.directory / "smsc.log").open("ab")
        self.proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"smsc exited ({self.proc.returncode}); see {self.directory / 'smsc.log'}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise TimeoutError(f"smsc not listening on {self.host}:{self.port} after {timeout}s")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.proc = None

    def __enter__(self) -> Smsc:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def fail(self, number: str) -> None:
        """Receipts of messages to ``number`` submitted from now on say ``stat:UNDELIV``."""
        with (self.directory / "fail-numbers.txt").open("a", encoding="utf-8") as fh:
            fh.write(number + "\n")

    @property
    def submits(self) -> list[dict[str, Any]]:
        """Every ``submit_sm`` taken, one per part, in arrival order."""
        return _lines(self.directory / "submits.jsonl")

    @property
    def binds(self) -> list[dict[str, Any]]:
        """Every successful bind (system_id, mode: transceiver / transmitter / receiver, time)."""
        return _lines(self.directory / "binds.jsonl")

    @property
    def receipts(self) -> list[dict[str, Any]]:
        """Every delivery receipt sent and acknowledged by the client."""
        return _lines(self.directory / "receipts.jsonl")

    def messages(self, destination: str | None = None) -> list[dict[str, Any]]:
        """The messages reassembled from their parts (to ``destination`` only, if given)."""
        parts = [p for p in self.submits if destination is None or p["destination"] == destination]
        return reassemble(parts)

    def wait_for(self, predicate, timeout: float = 10.0, what: str = "smsc records") -> Any:  # noqa: ANN001, ANN401
        """Poll until ``predicate(self)`` is truthy; returns it."""
        deadline = time.time() + timeout
        while True:
            got = predicate(self)
            if got:
                return got
            if time.time() > deadline:
                raise TimeoutError(f"{what}: not within {timeout}s")
            time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description="Local SMSC (SMPP 3.4 server) for notify's SMS channel")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=PORT)
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--receipt-delay-ms", type=int, default=200)
    args = parser.parse_args()
    ensure_installed()
    args.dir.mkdir(parents=True, exist_ok=True)
    argv, env = command(host=args.host, port=args.port, directory=args.dir, receipt_delay_ms=args.receipt_delay_ms)
    os.execvpe(argv[0], argv, env)  # the node process itself: SIGTERM ends it


if __name__ == "__main__":
    main()
