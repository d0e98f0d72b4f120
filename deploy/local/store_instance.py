"""A private instance of the local document store, started through deploy/local/infra.sh in a run
directory and on a port of its own (the store tests, the durability benchmark)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "deploy" / "local" / "infra.sh"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class StoreInstance:
    """One private store: its run dir, its port, and start/stop through infra.sh."""

    run_dir: Path
    port: int = field(default_factory=free_port)
    durability: str | None = None  # STORE_DURABILITY (commit | fsync | interval); None: the default

    @property
    def url(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}"

    @property
    def pid_file(self) -> Path:
        return self.run_dir / "store.pid"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            GONGKAI_RUN_DIR=str(self.run_dir),
            STORE_PORT=str(self.port),
            GONGKAI_START_TIMEOUT="60",
            GONGKAI_STOP_TIMEOUT="20",
        )
        if self.durability is not None:
            env["STORE_DURABILITY"] = self.durability
        # The readiness probe runs with the venv of these tests when it is one.
        if (Path(sys.prefix) / "bin" / "python").exists() and sys.prefix != sys.base_prefix:
            env["VENV"] = sys.prefix
        return env

    def infra(self, command: str) -> str:
        done = subprocess.run(
            ["bash", str(INFRA), command, "store"],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"infra.sh {command} store failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
            )
        return done.stdout

    def start(self) -> None:
        self.infra("start")

    def stop(self) -> None:
        self.infra("stop")

    def pid(self) -> int:
        return int(self.pid_file.read_text().strip())
