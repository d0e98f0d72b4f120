"""Fixtures: private instances of the local document store, started through deploy/local/infra.sh

Each instance runs in its own temporary GONGKAI_RUN_DIR on a free port, so the tests neither need
nor disturb a developer's running infrastructure. The store is built (if needed) by
``deploy/local/install.sh store``. A plugin of tests/conftest.py (``pytest_plugins``): every test
directory has ``store`` (one per session; each test uses a database of its own), ``new_store``
(a factory of stores of its own, stopped at teardown) and ``store_built``.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.local.store_instance import StoreInstance

REPO = Path(__file__).resolve().parents[1]
INSTALL = REPO / "deploy" / "local" / "install.sh"


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

    def make(durability: str | None = None) -> StoreInstance:
        inst = StoreInstance(run_dir=tmp_path_factory.mktemp("store-run"), durability=durability)
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
