"""Fixtures: private instances of the local document store, started through deploy/local/infra.sh.

Each instance runs in its own temporary GONGKAI_RUN_DIR on a free port, so the tests neither need
nor disturb a developer's running infrastructure. The store is built (if needed) by
``deploy/local/install.sh store``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "deploy" / "local" / "infra.sh"
INSTALL = REPO / "deploy" / "local" / "install.sh"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class StoreInstance:
    """One private store: its run dir, its port, and start/stop through infra.sh."""

    run_dir: Path
    port: int = field(default_factory=free_port)

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


@pytest.fixture(scope="session")
def store_built() -> None:
    done = subprocess.run(
        ["bash", str(INSTALL), "store"], capture_output=True, text=True, timeout=600, check=False
    )
    if done.returncode != 0:
        pytest.fail(f"install.sh store failed:\n{done.stdout}\n{done.stderr}")


@pytest.fixture
def new_store(store_built: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """A factory of private stores; each one made is stopped at teardown."""
    made: list[StoreInstance] = []

    def make() -> StoreInstance:
        inst = StoreInstance(run_dir=tmp_path_factory.mktemp("store-run"))
        inst.start()
        made.append(inst)
        return inst

    yield make
    for inst in made:
        inst.stop()


@pytest.fixture(scope="session")
def store(store_built: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StoreInstance]:
    """One private store shared by the tests of the session (each test uses its own database)."""
    inst = StoreInstance(run_dir=tmp_path_factory.mktemp("store-run"))
    inst.start()
    yield inst
    inst.stop()
