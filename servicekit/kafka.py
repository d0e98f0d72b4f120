"""Kafka adapter: the FastStream broker of a service (its subscribers), a producer for the outbox
(ordered, pipelined, idempotent), start-up with retry, a liveness probe, topic creation, and the
batched offset commits of the subscribers (``OffsetCommits``).

Every client authenticates as the service's own principal (``KafkaSecurity``, from the
``GONGKAI_KAFKA_*`` settings); what that principal may do is contracts/acl.py's table.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError, for_code
from aiokafka.helpers import create_ssl_context
from aiokafka.structs import OffsetAndMetadata
from faststream.exceptions import SetupError
from faststream.kafka import KafkaBroker
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from servicekit.settings import CommonSettings

log = structlog.get_logger()

Record = tuple[str, bytes, bytes, dict[str, str]]  # topic, key, value, headers


@dataclass(frozen=True)
class KafkaSecurity:
    """How a client authenticates to the broker: SASL (SCRAM-SHA-512 by default) as its own
    principal, over TLS (SASL_SSL) unless the deployment says the network is private (SASL_PLAINTEXT,
    e.g. the local stack on loopback); PLAINTEXT only where there is no authentication at all."""

    protocol: str = "SASL_SSL"
    mechanism: str = "SCRAM-SHA-512"
    username: str = ""
    password: str = field(default="", repr=False)
    ssl_cafile: str = ""

    @classmethod
    def of(cls, common: CommonSettings) -> KafkaSecurity:
        return cls(common.kafka_security_protocol, common.kafka_sasl_mechanism, common.kafka_username,
                   common.kafka_password, common.kafka_ssl_cafile)

    @classmethod
    def from_env(cls) -> KafkaSecurity:
        return cls.of(CommonSettings())

    @property
    def sasl(self) -> bool:
        return self.protocol.startswith("SASL_")

    @property
    def tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of an aiokafka client (producer, consumer, admin client)."""
        kwargs: dict[str, Any] = {"security_protocol": self.protocol}
        if self.tls:
            kwargs["ssl_context"] = create_ssl_context(cafile=self.ssl_cafile or None)
        if self.sasl:
            kwargs.update(sasl_mechanism=self.mechanism, sasl_plain_username=self.username,
                          sasl_plain_password=self.password)
        return kwargs

    def faststream(self) -> BaseSecurity | None:
        """The same, as FastStream's ``security=`` of a KafkaBroker."""
        ssl_context = create_ssl_context(cafile=self.ssl_cafile or None) if self.tls else None
        if not self.sasl:
            return BaseSecurity(ssl_context=ssl_context) if self.tls else None
        kind = {"SCRAM-SHA-512": SASLScram512, "SCRAM-SHA-256": SASLScram256, "PLAIN": SASLPlaintext}[self.mechanism]
        return kind(self.username, self.password, ssl_context=ssl_context, use_ssl=self.tls)


def servers(bootstrap: str) -> list[str]:
    """``host:port[,host:port...]`` (GONGKAI_KAFKA_BOOTSTRAP: one broker or a cluster's nodes) as the
    list the Kafka clients take; a single string with commas would be read as one host name."""
    return [s.strip() for s in bootstrap.split(",") if s.strip()]


def make_broker(bootstrap: str, client_id: str, security: KafkaSecurity | None = None) -> KafkaBroker:
    """The FastStream broker of a service; ``security`` defaults to the GONGKAI_KAFKA_* settings."""
    security = security or KafkaSecurity.from_env()
    return KafkaBroker(
        servers(bootstrap),
        client_id=client_id,
        security=security.faststream(),
        acks="all",
        enable_idempotence=True,
        logger=None,
        # Pattern subscribers (audit) see new topics, e.g. a new department inbox, within seconds.
        metadata_max_age_ms=5000,
    )


def membership(common: CommonSettings, member: str) -> dict[str, Any]:
    """Consumer-group options of one subscriber (``member``: its title, unique in the service).

    Each FastStream subscriber is its own group member, so a static instance id is the process's
    id plus the member's name. Without an instance id the member is dynamic, and a process that
    was killed holds its partitions until its session times out. Cooperative rebalancing is not
    offered here: aiokafka 0.14 implements only the eager protocol (range / round-robin), so the
    quick return after a restart comes from static membership."""
    options: dict[str, Any] = {
        "session_timeout_ms": common.kafka_session_timeout_ms,
        "heartbeat_interval_ms": common.kafka_heartbeat_interval_ms,
    }
    if common.kafka_instance_id:
        options["group_instance_id"] = f"{common.kafka_instance_id}:{member}"
    return options


class OffsetCommits(ConsumerRebalanceListener):  # type: ignore[misc]
    """The offsets of one consumer's processed records, committed together.

    FastStream's acknowledgement commits every assigned partition after every message (an
    OffsetCommit request naming all of them, for each record). Instead the subscriber calls
    ``done(msg)`` once a record is fully processed (handled, skipped, or dead-lettered) and the
    offsets are committed in one request naming only the partitions that moved:

    - at most ``interval`` seconds after the first record done since the last commit;
    - at once for the revoked partitions, when a rebalance revokes them (this listener's
      ``on_partitions_revoked``, before the user's ``listener`` runs);
    - at once when the broker stops (``close_commits``, from ``BrokerHandle.stop``); a record done
      while the broker stops (FastStream waits for the handler in flight) is committed at once too.

    At-least-once: a subscriber processes its records one at a time in the order it reads them, so
    a record done at offset ``o`` means every record before it in its partition was done; the
    offset committed is ``o + 1`` of the last record done, never one read but not yet done. A
    record read again after a seek back (a retry, a rewind) sets the partition's offset back too.
    A crash redelivers what was done since the last commit (at most ``interval`` of work plus the
    record in flight); the handlers are idempotent.
    """

    def __init__(self, interval: float = 0.15, listener: ConsumerRebalanceListener | None = None,
                 name: str = "") -> None:
        self.interval = interval
        self.listener = listener
        self.name = name
        self._consumer: AIOKafkaConsumer | None = None
        self._pending: dict[TopicPartition, int] = {}
        self._flusher: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._closing = False
        self.requests = 0  # OffsetCommit requests sent (for the tests and the benchmark)

    def pending(self) -> dict[TopicPartition, int]:
        """The offsets done but not committed yet."""
        return dict(self._pending)

    async def done(self, msg: Any) -> None:  # noqa: ANN401 - a FastStream KafkaMessage
        """The record of ``msg`` is fully processed: its offset + 1 goes with the next commit."""
        consumer, rec = getattr(msg, "consumer", None), msg.raw_message
        if not isinstance(consumer, AIOKafkaConsumer):
            return  # FastStream's in-memory test broker: nothing to commit
        self._consumer = consumer
        self._pending[TopicPartition(rec.topic, rec.partition)] = rec.offset + 1
        if self._closing or self.interval <= 0:
            try:
                await self.flush()
            except Exception as exc:  # noqa: BLE001 - the record is redelivered after the restart
                log.warning("offset_commit_failed", subscriber=self.name, error=repr(exc))
        elif self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_soon(), name=f"commit-{self.name}")

    def forget(self, partitions: set[TopicPartition] | None = None) -> None:
        """Drop what is pending (of ``partitions``; default all), e.g. after a seek back whose
        positions were committed by the caller."""
        for tp in list(self._pending):
            if partitions is None or tp in partitions:
                del self._pending[tp]

    async def _flush_soon(self) -> None:
        await asyncio.sleep(self.interval)
        try:
            await self.flush()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - kept pending: the next record done commits it
            log.warning("offset_commit_failed", subscriber=self.name, error=repr(exc))

    async def flush(self, partitions: set[TopicPartition] | None = None) -> None:
        """Commit what is pending now (of ``partitions``; default all) in one request. Offsets of
        partitions no longer assigned are dropped (their records are read again by their next
        owner); on a failure the offsets stay pending, unless a newer one was done meanwhile."""
        async with self._lock:
            consumer = self._consumer
            taken = {tp: o for tp, o in self._pending.items() if partitions is None or tp in partitions}
            if consumer is None or not taken:
                return
            for tp in taken:
                del self._pending[tp]
            assigned = consumer.assignment()
            offsets = {tp: OffsetAndMetadata(o, "") for tp, o in taken.items() if tp in assigned}
            if not offsets:
                return
            try:
                self.requests += 1
                await consumer.commit(offsets)
            except BaseException:
                for tp, o in taken.items():
                    self._pending.setdefault(tp, o)
                raise

    async def close(self) -> None:
        """Commit what is pending; from now on each record done is committed at once."""
        self._closing = True
        if self._flusher is not None and not self._flusher.done():
            self._flusher.cancel()
        try:
            await self.flush()
        except Exception as exc:  # noqa: BLE001 - redelivered after the restart
            log.warning("offset_commit_failed", subscriber=self.name, error=repr(exc), at="shutdown")

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        try:
            await self.flush(set(revoked))
        except Exception as exc:  # noqa: BLE001 - the next owner reads them again
            log.warning("offset_commit_failed", subscriber=self.name, error=repr(exc), at="revoke")
        self.forget(set(revoked))
        if self.listener is not None:
            await self.listener.on_partitions_revoked(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self._closing = False  # (re)started
        if self.listener is not None:
            await self.listener.on_partitions_assigned(assigned)


_COMMITS: weakref.WeakKeyDictionary[Any, list[OffsetCommits]] = weakref.WeakKeyDictionary()


def offset_commits(broker: KafkaBroker, name: str, interval: float,
                   listener: ConsumerRebalanceListener | None = None) -> OffsetCommits:
    """The ``OffsetCommits`` of one subscriber of ``broker`` (pass it as the subscriber's
    ``listener``): flushed by ``close_commits(broker)`` when the broker stops."""
    commits = OffsetCommits(interval, listener, name)
    _COMMITS.setdefault(broker, []).append(commits)
    return commits


async def close_commits(broker: KafkaBroker) -> None:
    """Commit every subscriber's processed offsets now (before the broker stops)."""
    await asyncio.gather(*(c.close() for c in _COMMITS.get(broker, [])))


class BrokerHandle:
    """Owns a service's Kafka connections; starts them with retry, since Kafka may be down."""

    def __init__(self, broker: KafkaBroker, bootstrap: str, client_id: str,
                 security: KafkaSecurity | None = None) -> None:
        self.broker = broker
        self.bootstrap = bootstrap
        self.client_id = client_id
        self.security = security or KafkaSecurity.from_env()
        self.producer: AIOKafkaProducer | None = None
        self.connected = asyncio.Event()

    async def start_with_retry(self, max_delay: float = 10.0) -> None:
        delay = 0.5
        while True:
            try:
                await self.broker.start()
                producer = AIOKafkaProducer(
                    bootstrap_servers=servers(self.bootstrap), client_id=f"{self.client_id}-outbox",
                    acks="all", enable_idempotence=True, linger_ms=2, **self.security.client_kwargs(),
                )
                await producer.start()
                self.producer = producer
                self.connected.set()
                log.info("kafka_connected")
                return
            except (asyncio.CancelledError, SetupError):
                raise  # a wiring mistake in the code is not an outage: fail loudly
            except Exception as exc:  # noqa: BLE001 - broker down: keep trying
                log.warning("kafka_unavailable", error=repr(exc), retry_in=delay)
                await self._close()
                await asyncio.sleep(delay)
                delay = min(delay * 2, max_delay)

    async def publish_many(self, records: Sequence[Record], timeout: float = 30.0) -> None:
        """Publish records in the given order (per partition) and wait until all are acknowledged.

        All are handed to the producer first, then awaited together: one round trip for a batch,
        and the producer's idempotence keeps their order within each partition.
        """
        if self.producer is None:
            raise ConnectionError("Kafka not connected yet")
        futures = []
        for topic, key, value, headers in records:
            futures.append(await self.producer.send(
                topic, value, key=key, headers=[(k, v.encode()) for k, v in headers.items()]))
        await asyncio.wait_for(asyncio.gather(*futures), timeout=timeout)

    async def alive(self, timeout: float = 2.0) -> bool:
        """True if the broker answers a metadata request now."""
        if self.producer is None:
            return False
        try:
            await asyncio.wait_for(self.producer.client.fetch_all_metadata(), timeout)
            return True
        except Exception:  # noqa: BLE001 - a probe reports, never raises
            return False

    async def _close(self) -> None:
        for closer in (self.broker.stop, self.producer.stop if self.producer else None):
            if closer is None:
                continue
            try:
                await closer()
            except Exception:  # noqa: BLE001
                pass
        self.producer = None

    async def stop(self) -> None:
        await close_commits(self.broker)  # what was processed is committed before the consumers stop
        await self._close()
        self.connected.clear()


def topic_configs(spec: Any) -> dict[str, str]:
    """The Kafka topic configs of a contracts.topics.TopicSpec."""
    configs = dict(spec.extra_config)
    if spec.compacted:
        configs.setdefault("cleanup.policy", "compact")
    return configs


@dataclass(frozen=True)
class TopicCreation:
    created: list[str]
    present: list[str]  # already there, or created meanwhile by someone else
    failed: list[tuple[str, str]]  # (topic, error)


async def create_missing_topics(
    admin: AIOKafkaAdminClient, specs: Sequence[Any], replication_factor: int = 1, timeout_ms: int = 30000
) -> TopicCreation:
    """Create the topics (contracts.topics.TopicSpec) that do not exist yet; idempotent."""
    existing = set(await admin.list_topics())
    missing = [s for s in specs if s.name not in existing]
    created: list[str] = []
    present = sorted(existing & {s.name for s in specs})
    failed: list[tuple[str, str]] = []
    if missing:
        response = await admin.create_topics(
            [NewTopic(name=s.name, num_partitions=s.partitions, replication_factor=replication_factor,
                      topic_configs=topic_configs(s)) for s in missing],
            timeout_ms=timeout_ms,
        )
        for entry in response.topic_errors:  # (name, code[, message]) whatever the response version
            name, code = entry[0], entry[1]
            if code == 0:
                created.append(name)
            elif for_code(code) is TopicAlreadyExistsError:
                present.append(name)
            else:
                failed.append((name, f"{for_code(code).__name__}: {entry[2] if len(entry) > 2 else ''}"))
    return TopicCreation(created, sorted(present), failed)


async def ensure_topics(bootstrap: str, specs: Sequence[Any], security: KafkaSecurity | None = None,
                        replication_factor: int | None = None) -> list[str]:
    """Create the topics that do not exist yet (raises if one cannot be). Returns those created.
    ``security`` defaults to the GONGKAI_KAFKA_* settings (the service's own principal),
    ``replication_factor`` to GONGKAI_KAFKA_REPLICATION_FACTOR."""
    if replication_factor is None:
        from servicekit.settings import CommonSettings

        replication_factor = CommonSettings().kafka_replication_factor
    admin = AIOKafkaAdminClient(bootstrap_servers=servers(bootstrap), **(security or KafkaSecurity.from_env()).client_kwargs())
    await admin.start()
    try:
        result = await create_missing_topics(admin, specs, replication_factor)
    finally:
        await admin.close()
    if result.failed:
        raise RuntimeError(f"could not create topics: {result.failed}")
    return result.created
