"""A broker that stops answering mid-stream: nothing dead-lettered, nothing committed early.

The broker is paused with SIGSTOP while a service works through a backlog, so its writes
go unanswered; the service retries, then exits with code 75 without committing.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition

from escalation.schemas import codec
from escalation.services.common.broker import free_port
from escalation.services.common.faults import EXIT_DEPENDENCY
from escalation.services.common.topics import CONTACTS, ESCALATOR_APP, ROUTED, dlq_of
from escalation.testing.stack import EXAMPLE_POLICY, Service, eventually
from tests.integration.test_recovery import produce
from tests.unit.factories import contact_data, routed

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
FAST_FAILURE = {
    "ESCALATION_KAFKA_REQUEST_TIMEOUT_SECONDS": "3",
    "ESCALATION_STREAM_RETRY_SECONDS": "8",
    "ESCALATION_KAFKA_PARTITIONS": "2",
    "ESCALATION_LOG_FORMAT": "json",
}


async def read_all(bootstrap: str, topic: str) -> list:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    await consumer.start()
    found: list = []
    try:
        quiet = 0
        while quiet < 3:
            batch = await consumer.getmany(timeout_ms=500)
            got = [m for messages in batch.values() for m in messages]
            found += got
            quiet = 0 if got else quiet + 1
        return found
    finally:
        await consumer.stop()


async def committed(bootstrap: str, group: str, tp: TopicPartition) -> int | None:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await consumer.start()
    try:
        return await consumer.committed(tp)
    finally:
        await consumer.stop()


def pause_mid_stream(broker, service: Service, progress: str) -> int:
    """SIGSTOP the broker once ``progress`` counts work; the service's exit code."""
    eventually(lambda: service.metric(progress) >= 1, "the service to start on the backlog")
    os.kill(broker.process.pid, signal.SIGSTOP)
    try:
        assert service.process is not None
        return service.process.wait(180)
    finally:
        os.kill(broker.process.pid, signal.SIGCONT)


def retried_message(log: str) -> tuple[int, int]:
    """(partition, offset) of the message the service was retrying when it gave up."""
    line = [x for x in log.splitlines() if '"dependency.retrying"' in x][-1]
    record = json.loads(line[line.index("{") :])
    return record["partition"], record["offset"]


def test_the_escalator_exits_uncommitted_and_dead_letters_nothing(broker, tmp_path):
    port = free_port()
    env = {
        **FAST_FAILURE,
        "ESCALATION_KAFKA_BOOTSTRAP": broker.bootstrap,
        "ESCALATION_ESCALATOR_PORT": str(port),
        "ESCALATION_DATA_DIR": str(tmp_path / "data"),
    }
    service = Service("escalator", env, port, tmp_path / "escalator.log").start()
    try:
        contacts = [
            routed(
                f"crit-{n}", T0, urgency="critical", issue_key=f"t-{n}", customer={"id": f"C-{n}"}
            )
            for n in range(1500)
        ]
        asyncio.run(
            produce(
                broker.bootstrap,
                [(c.customer.id.encode(), codec.encode(c), c.event_id) for c in contacts],
            )
        )
        code = pause_mid_stream(broker, service, "escalation_escalator_outcomes_total")
        log = service.log_path.read_text()
        assert code == EXIT_DEPENDENCY, log[-3000:]
        assert "service.exiting_uncommitted" in log
        partition, offset = retried_message(log)
        # The valid contact it could not finish is neither dead-lettered nor committed:
        # the restarted escalator reads it again.
        assert asyncio.run(read_all(broker.bootstrap, dlq_of(ROUTED))) == []
        done = asyncio.run(
            committed(broker.bootstrap, ESCALATOR_APP, TopicPartition(ROUTED, partition))
        )
        assert done is None or done <= offset
    finally:
        service.stop()


async def produce_contacts(bootstrap: str, count: int) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False, linger_ms=20)
    await producer.start()
    try:
        futures = []
        for n in range(count):
            data = contact_data(event_id=f"ev-{n}", customer={"id": f"C-{n % 500}"})
            value = codec.encode(codec.decode_contact(codec.dumps(data)))
            key = data["customer"]["id"].encode()
            futures.append(await producer.send(CONTACTS, value, key=key))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


def test_the_router_exits_uncommitted_and_routes_everything_after_the_restart(broker, tmp_path):
    count = 30_000
    port = free_port()
    env = {
        **FAST_FAILURE,
        "ESCALATION_KAFKA_BOOTSTRAP": broker.bootstrap,
        "ESCALATION_ROUTER_PORT": str(port),
        "ESCALATION_POLICY": str(EXAMPLE_POLICY),
        "ESCALATION_DATA_DIR": str(tmp_path / "data"),
    }
    asyncio.run(produce_contacts(broker.bootstrap, count))
    service = Service("router", env, port, tmp_path / "router.log").start()
    try:
        code = pause_mid_stream(broker, service, "escalation_routed_total")
        log = service.log_path.read_text()
        assert code == EXIT_DEPENDENCY, log[-3000:]
        assert "router.flush_failed" in log or "router.recovery_failed" in log

        service.start()  # reads again from the last commit
        eventually(
            lambda: (
                service.metric("escalation_messages_consumed_total", topic=CONTACTS) > 0
                and len({m.headers[0][1] for m in asyncio.run(read_all(broker.bootstrap, ROUTED))})
                >= count
            ),
            "every contact routed after the restart",
            limit=300,
        )
        assert asyncio.run(read_all(broker.bootstrap, dlq_of(CONTACTS))) == []
    finally:
        service.stop()
