"""Secrets of a deployment: refused at start-up in production when missing or left at a
development value; accepted in development (``GONGKAI_ENV=development``) with one warning line."""

from __future__ import annotations

from collections.abc import Mapping

import structlog

# Values that only local development may use (they are in this repository, so they are no secret).
DEVELOPMENT_VALUES = frozenset({
    "", "local-dev-only-secret", "gongkai-local-dev", "change-me", "changeme", "secret", "dev", "test",
})


class MissingSecret(SystemExit):
    pass


def weak(secrets: Mapping[str, str | None]) -> list[str]:
    """The settings (by environment name) that are missing or hold a development value."""
    return [name for name, value in secrets.items() if (value or "").strip() in DEVELOPMENT_VALUES]


def check(env: str, service: str, secrets: Mapping[str, str | None]) -> None:
    """In production, refuse (SystemExit naming the settings) a missing or development secret."""
    names = weak(secrets)
    if names and env != "development":
        raise MissingSecret(
            f"{service}: refusing to start in production: set {', '.join(names)} to a secret of this deployment "
            f"(or GONGKAI_ENV=development for a local run)")


def warn_development(service: str, secrets: Mapping[str, str | None]) -> None:
    """The one warning line of a development run."""
    structlog.get_logger().warning("development_mode", service=service, weak_settings=weak(secrets),
                                   note="GONGKAI_ENV=development: development secrets accepted; not for production")
