"""Shared fixtures.

- Every test runs in development mode unless it says otherwise: services built in-process accept
  development secrets (tests that prove the production refusal set GONGKAI_ENV=production).
- ``stack``: the real system for end-to-end and security tests, once per test session: a private
  Kafka broker (SASL/SCRAM, ACLs), store and identity provider (Keycloak, our realm) in a
  temporary run directory on ports of their own, the five services as separate processes, then the
  web service (pages, port ``http_base + 6``: 28106) once they are healthy; and a
  real SMTP server, webhook receiver and SMSC run by the tests themselves (``mail``, ``hooks``, ``smsc``).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("GONGKAI_ENV", "development")

from deploy.local.sinks import MailSink, WebhookSink  # noqa: E402
from deploy.local.smsc import Smsc  # noqa: E402
from deploy.local.stack import SERVICES, WEB, Stack, StackConfig  # noqa: E402
from tests.idp_fixture import Keycloak  # noqa: E402

# Real-browser fixtures (browser, page, new_page) and the failing test's screenshot: tests/browser.py.
pytest_plugins = ["tests.browser", "tests.store_fixture"]

# GONGKAI_E2E_PORT_SHIFT moves every port (e.g. 1000), so that two suites can run side by side.
_SHIFT = int(os.environ.get("GONGKAI_E2E_PORT_SHIFT", "0"))
TEST_PORTS = {name: port + _SHIFT for name, port in {
    "kafka_port": 29092, "kafka_controller_port": 29093, "store_port": 27217,
    "http_base": 28100, "smtp_port": 2625, "webhook_port": 28109, "smsc_port": 2875,
    "keycloak_port": 28080, "keycloak_mgmt_port": 28081}.items()}

# Short timings so that retries and sweeps happen within a test's patience.
FAST = {
    "GONGKAI_OUTBOX_POLL_SECONDS": "0.5",
    "REPLY_SWEEP_SECONDS": "2",
    "NOTIFY_BACKOFF_BASE_SECONDS": "0.5",
    "NOTIFY_BACKOFF_MAX_SECONDS": "3",
    "NOTIFY_POLL_SECONDS": "0.5",
}


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    run_dir = Path(tempfile.mkdtemp(prefix="gongkai-e2e-"))
    st = Stack(StackConfig(run_dir=run_dir, extra_env=FAST, **TEST_PORTS))
    try:
        st.infra("start")
        for service in SERVICES:
            st.start(service)
        for service in SERVICES:
            st.wait_healthy(service, timeout=120)
        st.start(WEB)
        st.wait_healthy(WEB, timeout=60)
        yield st
    finally:
        for service in (WEB, *SERVICES):
            st.stop(service)
        st.infra("stop")
        for service in (*SERVICES, WEB):  # the logs tell what happened when a test failed
            log = st.log_path(service)
            if log.exists():
                print(f"--- {service} log (last 15 lines) ---")
                print("\n".join(log.read_text(errors="replace").splitlines()[-15:]))


@pytest.fixture(scope="session")
def mail(stack: Stack) -> Iterator[MailSink]:
    sink = MailSink(port=stack.cfg.smtp_port).start()
    yield sink
    sink.stop()


@pytest.fixture(scope="session")
def smsc(stack: Stack) -> Iterator[Smsc]:
    """The local SMSC (a real SMPP server, deploy/local/smsc.py) on the stack's port: notify binds
    to it (retrying until it listens) and sends the texts there; records in run_dir/smsc."""
    center = Smsc(directory=stack.cfg.run_dir / "smsc", port=stack.cfg.smsc_port).start()
    yield center
    center.stop()


@pytest.fixture(scope="session")
def hooks(stack: Stack) -> Iterator[WebhookSink]:
    sink = WebhookSink(port=stack.cfg.webhook_port).start()
    yield sink
    sink.stop()


@pytest.fixture(scope="session")
def keycloak(stack: Stack) -> Keycloak:
    """The stack's identity provider (one Keycloak per session)."""
    return Keycloak(issuer=stack.cfg.issuer, run_dir=stack.cfg.run_dir, port=stack.cfg.keycloak_port,
                    mgmt_port=stack.cfg.keycloak_mgmt_port)


@pytest.fixture(scope="session")
def web_url(stack: Stack) -> str:
    """The stack's web service (pages)."""
    return stack.cfg.url(WEB)
