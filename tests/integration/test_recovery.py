"""A stream service killed with SIGKILL and restarted neither forgets state nor pages twice."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition

from escalation.schemas import codec
from escalation.services.common.broker import EmbeddedBroker, ensure_topics, free_port
from escalation.services.common.topics import ESCALATOR_APP, PAGES, ROUTED, catalogue
from escalation.testing.stack import Service, eventually
from tests.unit.factories import routed

pytestmark = pytest.mark.integration

ISSUES = 60
PARTITIONS = 2
T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
def broker():
    with EmbeddedBroker() as running:
        asyncio.run(ensure_topics({"bootstrap_servers": running.bootstrap}, catalogue(PARTITIONS)))
        yield running


def escalator(broker, tmp_path, mode: str) -> Service:
    port = free_port()
    env = {
        "ESCALATION_KAFKA_BOOTSTRAP": broker.bootstrap,
        "ESCALATION_KAFKA_PARTITIONS": str(PARTITIONS),
        "ESCALATION_ESCALATOR_PORT": str(port),
        "ESCALATION_DATA_DIR": str(tmp_path / "data"),
        "ESCALATION_EMBEDDED_END_OFFSETS": mode,
        "ESCALATION_LOG_FORMAT": "json",
    }
    return Service("escalator", env, port, tmp_path / "escalator.log")


def contact(issue: int, n: int):
    event = routed(
        f"i{issue}-c{n}",
        T0 + timedelta(hours=n),
        issue_key=f"ticket-{issue}",
        customer={"id": f"C-{issue}"},
    )
    return event.customer.id.encode(), codec.encode(event), event.event_id


async def produce(bootstrap: str, records) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False, linger_ms=20)
    await producer.start()
    try:
        futures = [
            await producer.send(ROUTED, value, key=key, headers=[("event-id", ident.encode())])
            for key, value, ident in records
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def committed_everything(bootstrap: str) -> bool:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=ESCALATOR_APP, enable_auto_commit=False
    )
    await consumer.start()
    try:
        tps = [TopicPartition(ROUTED, p) for p in range(PARTITIONS)]
        ends = await consumer.end_offsets(tps)
        for tp in tps:
            committed = await consumer.committed(tp)
            if committed is None or committed < ends[tp]:
                return False
        return True
    finally:
        await consumer.stop()


async def triggers(bootstrap: str) -> list:
    consumer = AIOKafkaConsumer(
        PAGES,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    pages = []
    try:
        while True:
            batch = await consumer.getmany(timeout_ms=1000)
            if not batch:
                return pages
            for messages in batch.values():
                pages += [codec.decode_page(m.value) for m in messages]
    finally:
        await consumer.stop()


def run_kill_and_recover(broker, tmp_path, mode: str) -> list:
    """Two contacts per issue, SIGKILL after the commit, restart, a third contact each."""
    service = escalator(broker, tmp_path, mode).start()
    try:
        asyncio.run(
            produce(broker.bootstrap, [contact(i, n) for n in (1, 2) for i in range(ISSUES)])
        )
        eventually(
            lambda: (
                service.metric("escalation_escalator_outcomes_total", outcome="recorded")
                >= 2 * ISSUES
            ),
            "the first two contacts to be recorded",
        )
        eventually(
            lambda: asyncio.run(committed_everything(broker.bootstrap)),
            "the escalator to commit its offsets",
        )
        service.kill9()
        service.start()  # recovers the issue table from its changelog
        asyncio.run(produce(broker.bootstrap, [contact(i, 3) for i in range(ISSUES)]))
        eventually(
            lambda: (
                service.metric("escalation_escalator_outcomes_total", input="contact") >= ISSUES
            ),
            "the third contacts to be processed",
        )
        return [p for p in asyncio.run(triggers(broker.bootstrap)) if p.action == "trigger"]
    finally:
        service.stop()


def test_escalator_state_survives_sigkill(broker, tmp_path):
    pages = run_kill_and_recover(broker, tmp_path, "fetch")
    assert len(pages) == ISSUES
    assert len({p.page_id for p in pages}) == ISSUES
    assert all(len(p.contacts) == 3 for p in pages)


def test_single_record_batches_workaround_also_recovers(broker, tmp_path):
    pages = run_kill_and_recover(broker, tmp_path, "single-record-batches")
    assert len(pages) == ISSUES


def test_trusting_the_broker_end_offset_loses_table_writes(broker, tmp_path):
    """Documents the broker bug the workarounds exist for; fails once Tansu is fixed."""
    pages = run_kill_and_recover(broker, tmp_path, "trust-broker")
    assert len(pages) < ISSUES
