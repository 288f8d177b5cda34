"""A broker that stops answering while the escalator sends: no contact dead-lettered or lost."""

from __future__ import annotations

import asyncio
import os
import signal
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaConsumer

from escalation.schemas import codec
from escalation.services.common.broker import free_port
from escalation.services.common.faults import EXIT_DEPENDENCY
from escalation.services.common.topics import ESCALATIONS, ROUTED, dlq_of
from escalation.testing.stack import Service, eventually
from tests.integration.test_recovery import produce
from tests.unit.factories import routed

pytestmark = pytest.mark.integration

CONTACTS = 1500
T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def critical(n: int):
    event = routed(
        f"crit-{n}", T0, urgency="critical", issue_key=f"ticket-{n}", customer={"id": f"C-{n}"}
    )
    return event.customer.id.encode(), codec.encode(event), event.event_id


async def read_all(bootstrap: str, topic: str) -> list:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
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


def opened(bootstrap: str) -> set[str]:
    records = [
        codec.decode_escalation(m.value) for m in asyncio.run(read_all(bootstrap, ESCALATIONS))
    ]
    return {r.escalation_id for r in records if r.type == "opened"}


def test_a_broker_outage_during_sends_exits_uncommitted_and_nothing_is_lost(broker, tmp_path):
    port = free_port()
    env = {
        "ESCALATION_KAFKA_BOOTSTRAP": broker.bootstrap,
        "ESCALATION_KAFKA_PARTITIONS": "2",
        "ESCALATION_ESCALATOR_PORT": str(port),
        "ESCALATION_DATA_DIR": str(tmp_path / "data"),
        "ESCALATION_KAFKA_REQUEST_TIMEOUT_SECONDS": "3",
        "ESCALATION_STREAM_RETRY_SECONDS": "3",
        "ESCALATION_LOG_FORMAT": "json",
    }
    service = Service("escalator", env, port, tmp_path / "escalator.log").start()
    paused = False
    try:
        asyncio.run(produce(broker.bootstrap, [critical(n) for n in range(CONTACTS)]))
        eventually(
            lambda: service.metric("escalation_escalator_outcomes_total", input="contact") >= 1,
            "the escalator to start on the contacts",
        )
        os.kill(broker.process.pid, signal.SIGSTOP)  # sends now go unanswered
        paused = True
        assert service.process is not None
        code = service.process.wait(180)
        os.kill(broker.process.pid, signal.SIGCONT)
        paused = False
        log = service.log_path.read_text()
        assert code == EXIT_DEPENDENCY, log[-3000:]
        assert "dependency.retrying" in log and "service.exiting_uncommitted" in log
        assert len(opened(broker.bootstrap)) < CONTACTS  # the outage hit mid-stream

        service.start()  # reads again from the last commit
        eventually(
            lambda: len(opened(broker.bootstrap)) >= CONTACTS,
            "every critical contact's escalation after the restart",
            limit=180,
        )
        assert len(opened(broker.bootstrap)) == CONTACTS
        assert asyncio.run(read_all(broker.bootstrap, dlq_of(ROUTED))) == []
    finally:
        if paused:
            os.kill(broker.process.pid, signal.SIGCONT)
        service.stop()
