"""Credentials of the local stack's Kafka principals (development only).

Every principal's password is derived from one development secret, so infra.sh (the broker's
SCRAM users), deploy/local/stack.py (each service's own principal) and the tests compute the same
value without storing it anywhere. A real deployment gives each principal its own password in its
own setting (``GONGKAI_KAFKA_PASSWORD`` of each service; the departments' systems get theirs from
the agency), and never uses these.

    python deploy/local/credentials.py kafka-password admin    prints the password of a principal
"""

from __future__ import annotations

import hashlib
import hmac
import sys

LOCAL_DEV_SECRET = "gongkai-local-dev"
ADMIN = "admin"
PROTOCOL = "SASL_PLAINTEXT"  # loopback only; production uses SASL_SSL
MECHANISM = "SCRAM-SHA-512"


def kafka_password(principal: str, secret: str = LOCAL_DEV_SECRET) -> str:
    """The local password of a Kafka principal: HMAC-SHA256(secret, "kafka:<principal>"), 32 hex digits."""
    return hmac.new(secret.encode(), f"kafka:{principal}".encode(), hashlib.sha256).hexdigest()[:32]


def kafka_client_kwargs(principal: str = ADMIN, password: str | None = None) -> dict[str, str]:
    """Keyword arguments of an aiokafka client (producer, consumer, admin) authenticating as ``principal``."""
    return {
        "security_protocol": PROTOCOL,
        "sasl_mechanism": MECHANISM,
        "sasl_plain_username": principal,
        "sasl_plain_password": kafka_password(principal) if password is None else password,
    }


def kafka_client_env(principal: str) -> dict[str, str]:
    """The GONGKAI_KAFKA_* settings (servicekit.settings.CommonSettings) of a process using ``principal``."""
    return {
        "GONGKAI_KAFKA_SECURITY_PROTOCOL": PROTOCOL,
        "GONGKAI_KAFKA_SASL_MECHANISM": MECHANISM,
        "GONGKAI_KAFKA_USERNAME": principal,
        "GONGKAI_KAFKA_PASSWORD": kafka_password(principal),
    }


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "kafka-password":
        print("usage: credentials.py kafka-password PRINCIPAL", file=sys.stderr)
        return 2
    print(kafka_password(argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
