"""The real local identity provider in tests: a handle on a Keycloak started through
``deploy/local/infra.sh start keycloak`` (the session's stack starts it: the ``keycloak`` fixture of
tests/conftest.py), to get officers' tokens with ``keycloak.token("zrzy-officer")`` (password grant
of the local development client, cached per user until near expiry; every sample user's password
is ``gongkai-dev``) and to stop and start it again. ``start_keycloak(run_dir)`` starts one of its own
on free ports. ``keycloak.oidc_env()`` is what a service needs to trust it.
"""

from __future__ import annotations

import os
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path


from deploy.local.idp import DEV_CLIENT, DEV_PASSWORD, issuer, password_token, wait_ready

HOME = Path(__file__).resolve().parents[1]
INFRA = HOME / "deploy" / "local" / "infra.sh"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Keycloak:
    issuer: str
    run_dir: Path | None = None  # None: a Keycloak this session did not start
    port: int | None = None
    mgmt_port: int | None = None

    def token(self, username: str, password: str = DEV_PASSWORD, client_id: str = DEV_CLIENT) -> str:
        """An access token of a sample user of the realm."""
        return password_token(self.issuer, username, password, client_id)

    def bearer(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(username)}"}

    def oidc_env(self) -> dict[str, str]:
        """Environment making a service trust this Keycloak (keys by discovery)."""
        return {"GONGKAI_OIDC_ISSUER": self.issuer, "GONGKAI_OIDC_AUDIENCE": "gongkai-api",
                "GONGKAI_OIDC_JWKS_URL": "", "GONGKAI_OIDC_JWKS_FILE": ""}

    @property
    def log(self) -> Path | None:
        return self.run_dir / "keycloak.log" if self.run_dir else None

    # -- only for a Keycloak this session started -------------------------------------------------
    def _env(self) -> dict[str, str]:
        assert self.run_dir is not None, "not started by this session"
        return {**os.environ, "GONGKAI_RUN_DIR": str(self.run_dir), "KEYCLOAK_PORT": str(self.port),
                "KEYCLOAK_MGMT_PORT": str(self.mgmt_port)}

    def infra(self, action: str) -> subprocess.CompletedProcess[str]:
        """``infra.sh ACTION keycloak`` for this run dir (output captured, not checked)."""
        return subprocess.run(["bash", str(INFRA), action, "keycloak"], env=self._env(), text=True,
                              capture_output=True, timeout=600)

    def start(self) -> None:
        done = self.infra("start")
        if done.returncode != 0:
            tail = self.log.read_text(errors="replace").splitlines()[-40:] if self.log and self.log.exists() else []
            raise RuntimeError(f"infra.sh start keycloak failed ({done.returncode}):\n{done.stdout}\n{done.stderr}\n"
                               + "\n".join(tail))
        wait_ready(self.issuer, timeout=30)

    def stop(self) -> None:
        self.infra("stop")


def start_keycloak(run_dir: Path) -> Keycloak:
    port, mgmt = free_port(), free_port()
    kc = Keycloak(issuer=issuer(port), run_dir=run_dir, port=port, mgmt_port=mgmt)
    kc.start()
    return kc
