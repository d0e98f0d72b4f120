"""Create every Gongkai topic of the catalogue (contracts.topics) on a Kafka cluster.

Idempotent: topics that already exist are left as they are (reported, with a warning when their
partition count or cleanup policy differs from the catalogue). Compacted topics get
``cleanup.policy=compact``; a spec's ``extra_config`` is passed through as topic configs.

Department inboxes are created for the department codes given with ``--dept`` (repeatable) or in
``GONGKAI_DEPARTMENTS`` (comma-separated).

Run with PYTHONPATH at the repository root, e.g.
    PYTHONPATH=. .local/venv/bin/python deploy/local/create_topics.py --bootstrap 127.0.0.1:19092
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import TopicAlreadyExistsError, for_code

from contracts.topics import TopicSpec, topics_to_create


def topic_configs(spec: TopicSpec) -> dict[str, str]:
    configs = dict(spec.extra_config)
    if spec.compacted:
        configs.setdefault("cleanup.policy", "compact")
    return configs


def _describe_errors(response) -> list[tuple[str, int, str | None]]:
    """(topic, error code, message) of a CreateTopics response, whatever its version."""
    out = []
    for entry in response.topic_errors:
        name, code = entry[0], entry[1]
        message = entry[2] if len(entry) > 2 else None
        out.append((name, code, message))
    return out


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
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout * 1000))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [s for s in specs if s.name not in existing]
        failed = 0
        created: list[str] = []
        raced: list[str] = []
        if missing:
            response = await admin.create_topics(
                [
                    NewTopic(
                        name=s.name,
                        num_partitions=s.partitions,
                        replication_factor=replication_factor,
                        topic_configs=topic_configs(s),
                    )
                    for s in missing
                ],
                timeout_ms=int(timeout * 1000),
            )
            for name, code, message in _describe_errors(response):
                if code == 0:
                    created.append(name)
                elif for_code(code) is TopicAlreadyExistsError:
                    raced.append(name)  # created meanwhile by someone else: fine
                else:
                    failed += 1
                    print(f"create_topics: {name}: {for_code(code).__name__}: {message}", file=sys.stderr)
        present = sorted((existing & {s.name for s in specs}) | set(raced))
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
        "--dept", action="append", default=[], help="department code whose inbox topic to create (repeatable)"
    )
    parser.add_argument("--replication-factor", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args()
    depts = list(args.dept)
    depts += [d.strip() for d in os.environ.get("GONGKAI_DEPARTMENTS", "").split(",") if d.strip()]
    logging.basicConfig(level=logging.WARNING)
    return asyncio.run(
        create_topics(args.bootstrap, sorted(set(depts)), args.replication_factor, args.timeout)
    )


if __name__ == "__main__":
    sys.exit(main())
