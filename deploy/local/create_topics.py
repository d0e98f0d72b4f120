"""Create every Gongkai topic of the catalogue (contracts.topics) on a Kafka cluster.

Idempotent: topics that already exist are left as they are (reported, with a warning when their
partition count or cleanup policy differs from the catalogue). Compacted topics get
``cleanup.policy=compact``; a spec's ``extra_config`` is passed through as topic configs.

Department topics (inbox and answers, with their dead letters) are created for the departments of
the routing directory's home agency, those in ``GONGKAI_DEPARTMENTS`` (comma-separated) and those
given with ``--dept`` (repeatable); ``--no-directory`` leaves out the directory's. Connects as the
``admin`` principal (SASL/SCRAM, its local password: deploy/local/credentials.py).

Run with PYTHONPATH at the repository root, e.g.
    PYTHONPATH=. .local/venv/bin/python deploy/local/create_topics.py --bootstrap 127.0.0.1:19092
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from contracts.topics import TopicSpec, topics_to_create
from deploy.local.credentials import kafka_client_kwargs
from deploy.local.kafka_acl import requested_departments
from servicekit.kafka import create_missing_topics, topic_configs


async def _check_existing(admin: AIOKafkaAdminClient, specs: list[TopicSpec], names: list[str]) -> list[str]:
    """Warnings for existing topics that differ from their spec (nothing is changed)."""
    if not names:
        return []
    warnings: list[str] = []
    by_name = {s.name: s for s in specs}
    described = await admin.describe_topics(names)
    for topic in described:
        spec = by_name.get(topic["topic"])
        if spec and len(topic["partitions"]) != spec.partitions:
            warnings.append(
                f"{spec.name}: has {len(topic['partitions'])} partitions, catalogue says {spec.partitions}"
            )
    resources = [ConfigResource(ConfigResourceType.TOPIC, n) for n in names]
    for response in await admin.describe_configs(resources):
        for _code, _msg, _type, name, entries in response.resources:
            spec = by_name.get(name)
            if spec is None:
                continue
            actual = {e[0]: e[1] for e in entries}
            for key, want in topic_configs(spec).items():
                if actual.get(key) != want:
                    warnings.append(f"{name}: {key}={actual.get(key)!r}, catalogue says {want!r}")
    return warnings


async def create_topics(
    bootstrap: str, dept_codes: list[str], replication_factor: int, timeout: float
) -> int:
    specs = topics_to_create(dept_codes)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout * 1000),
                                **kafka_client_kwargs())
    await admin.start()
    try:
        result = await create_missing_topics(admin, specs, replication_factor, int(timeout * 1000))
        for name, error in result.failed:
            print(f"create_topics: {name}: {error}", file=sys.stderr)
        created, present, failed = result.created, result.present, len(result.failed)
        for warning in await _check_existing(admin, specs, present):
            print(f"create_topics: WARNING {warning}", file=sys.stderr)
        print(
            f"create_topics: {len(specs)} topics in catalogue: {len(created)} created, "
            f"{len(present)} already present, {failed} failed"
        )
        for name in sorted(created):
            print(f"  + {name}")
        return 1 if failed else 0
    finally:
        await admin.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--bootstrap",
        default=os.environ.get("GONGKAI_KAFKA_BOOTSTRAP"),
        required="GONGKAI_KAFKA_BOOTSTRAP" not in os.environ,
    )
    parser.add_argument(
        "--dept", action="append", default=[], help="department code whose topics to create (repeatable)"
    )
    parser.add_argument("--no-directory", action="store_true", help="not the routing directory's departments")
    parser.add_argument("--replication-factor", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args()
    depts = requested_departments(args.dept, use_directory=not args.no_directory)
    logging.basicConfig(level=logging.WARNING)
    return asyncio.run(create_topics(args.bootstrap, depts, args.replication_factor, args.timeout))


if __name__ == "__main__":
    sys.exit(main())
