"""Kafka adapter: the broker of a service, publishing raw CloudEvents records, starting with retry."""

from __future__ import annotations

import asyncio

import structlog
from faststream.exceptions import SetupError
from faststream.kafka import KafkaBroker

log = structlog.get_logger()


def make_broker(bootstrap: str, client_id: str) -> KafkaBroker:
    return KafkaBroker(
        bootstrap,
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        logger=None,
        # Pattern subscribers (audit) see new topics, e.g. a new department inbox, within seconds.
        metadata_max_age_ms=5000,
    )


class BrokerHandle:
    """Owns a service's broker: starts it with retry (Kafka may be down), publishes records."""

    def __init__(self, broker: KafkaBroker) -> None:
        self.broker = broker
        self.connected = asyncio.Event()

    async def start_with_retry(self, max_delay: float = 10.0) -> None:
        delay = 0.5
        while True:
            try:
                await self.broker.start()
                self.connected.set()
                log.info("kafka_connected")
                return
            except (asyncio.CancelledError, SetupError):
                raise  # a wiring mistake in the code is not an outage: fail loudly
            except Exception as exc:  # noqa: BLE001 - broker down: keep trying
                log.warning("kafka_unavailable", error=repr(exc), retry_in=delay)
                try:
                    await self.broker.stop()
                except Exception:  # noqa: BLE001
                    pass
                await asyncio.sleep(delay)
                delay = min(delay * 2, max_delay)

    async def publish(self, topic: str, key: bytes, value: bytes, headers: dict[str, str]) -> None:
        if not self.connected.is_set():
            raise ConnectionError("Kafka not connected yet")
        await asyncio.wait_for(
            self.broker.publish(value, topic, key=key, headers=headers), timeout=30
        )

    async def stop(self) -> None:
        await self.broker.stop()


async def ensure_topics(bootstrap: str, specs: list) -> list[str]:  # noqa: ANN001 - TopicSpec list
    """Create the topics that do not exist yet (idempotent). Returns the names created."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        new = [
            NewTopic(
                s.name,
                num_partitions=s.partitions,
                replication_factor=1,
                topic_configs={"cleanup.policy": "compact"} if s.compacted else {},
            )
            for s in specs
            if s.name not in existing
        ]
        if new:
            await admin.create_topics(new)
        return [t.name for t in new]
    finally:
        await admin.close()
