"""Settings common to every service, from environment variables (prefix ``GONGKAI_``)."""

from __future__ import annotations

from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GONGKAI_", extra="ignore")

    # "production" (the default) refuses to start with a missing or development secret;
    # "development" (set by ./dev and the tests) accepts them with one warning line per service.
    env: Literal["production", "development"] = "production"

    kafka_bootstrap: str = "127.0.0.1:19092"
    # Each service authenticates to Kafka as its own principal (contracts/acl.py grants it what its
    # code uses). Default: SASL over TLS, so that a deployment that forgets these settings does not
    # run unauthenticated; the local stack sets SASL_PLAINTEXT (loopback) and svc-<service>.
    kafka_security_protocol: Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL"] = "SASL_SSL"
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = "SCRAM-SHA-512"
    kafka_username: str = ""
    kafka_password: str = ""
    kafka_ssl_cafile: str = ""  # CA bundle of the broker's certificate (SASL_SSL); empty: the system's
    # Replicas of a topic a service creates at run time (a new department's inbox, the referrals and
    # checkpoint topics when missing): 3 on a production cluster (with min.insync.replicas=2), 1 on
    # the single local broker. The catalogue's topics are created beforehand with the same factor.
    kafka_replication_factor: int = 1
    mongo_url: str = "mongodb://127.0.0.1:27117"
    log_level: str = "INFO"
    # The agency this deployment serves (each agency runs its own instances).
    agency_code: str = "yn-gov-office"
    # How long a failing message is retried before it goes to the dead-letter topic.
    max_handler_attempts: int = 5
    handler_patience_seconds: float = 30.0
    outbox_poll_seconds: float = 1.0
    # Consumer-group membership. A non-empty instance id turns on static membership (KIP-345): a
    # restarted process rejoins under the same id and gets its partitions back at once, with no
    # rebalance of the group; it must be unique per process (the local stack sets
    # <service>-<port>; Kubernetes the pod's name). Session timeout: how long the broker waits
    # for a member it no longer hears from before giving its partitions to another.
    kafka_instance_id: str = ""
    kafka_session_timeout_ms: int = 10_000
    kafka_heartbeat_interval_ms: int = 1_000
    # Offsets of processed records are committed together (servicekit.kafka.OffsetCommits): at most
    # this long after a record was processed, and at once when its partitions are revoked or the
    # broker stops. A crash redelivers at most what was processed in this window (docs/reliability.md).
    kafka_commit_interval_ms: int = 150
