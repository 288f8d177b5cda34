"""The batch router runtime on a real broker: state survives SIGKILL, poison goes to the DLQ."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition

from escalation.services.common.broker import free_port
from escalation.services.common.topics import (
    CONTACTS,
    ROUTED,
    ROUTER_APP,
    ROUTER_BATCH_CHANGELOG,
    dlq_of,
)
from escalation.testing.stack import EXAMPLE_POLICY, Service, eventually
from tests.integration.test_router import repair, routed, send

pytestmark = pytest.mark.integration


def batch_router(broker, tmp_path: Path) -> Service:
    port = free_port()
    env = {
        "ESCALATION_KAFKA_BOOTSTRAP": broker.bootstrap,
        "ESCALATION_KAFKA_PARTITIONS": "2",
        "ESCALATION_ROUTER_PORT": str(port),
        "ESCALATION_ROUTER_RUNTIME": "batch",
        "ESCALATION_POLICY": str(EXAMPLE_POLICY),
        "ESCALATION_DATA_DIR": str(tmp_path / "data"),
        "ESCALATION_LOG_FORMAT": "json",
    }
    return Service("router", env, port, tmp_path / "router.log")


async def committed(bootstrap: str, topic: str = CONTACTS) -> int:
    """Offsets the router's group committed on ``topic``, summed over partitions."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=ROUTER_APP)
    await consumer.start()
    try:
        total = 0
        for partition in range(2):
            total += await consumer.committed(TopicPartition(topic, partition)) or 0
        return total
    finally:
        await consumer.stop()


async def records(bootstrap: str, topic: str, count: int, limit: float = 30.0) -> list:
    """Every record of ``topic`` once at least ``count`` arrived (and a short quiet period)."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    found: list = []
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        quiet = 0
        while loop.time() < deadline and (len(found) < count or quiet < 2):
            batch = await consumer.getmany(timeout_ms=500)
            got = [m for messages in batch.values() for m in messages]
            found += got
            quiet = 0 if got else quiet + 1
        return found
    finally:
        await consumer.stop()


def test_sticky_owner_and_loads_survive_sigkill(broker, tmp_path):
    service = batch_router(broker, tmp_path).start()
    try:
        for count, contact in enumerate(
            (repair("x1", "C-1", "X"), repair("y1", "C-2", "Y"), repair("z1", "C-3", "Z")), 1
        ):
            asyncio.run(send(broker.bootstrap, contact))
            asyncio.run(routed(broker.bootstrap, count))
        first = asyncio.run(routed(broker.bootstrap, 3))
        owners = {k: v.routing.owner for k, v in first.items()}
        assert owners == {"x1": "chen", "y1": "dana", "z1": "chen"}  # least loaded, then LRU
        assert first["x1"].routing.route == "equipment-repair"
        assert first["x1"].routing.reasons[-1].startswith("chen: least loaded")
        eventually(lambda: service.metric("escalation_routed_total") >= 3, "routing recorded")
        # Committed: a restart must not replay these inputs, so the state can only come
        # back from the changelog.
        eventually(lambda: asyncio.run(committed(broker.bootstrap)) == 3, "offsets committed")
        state = asyncio.run(records(broker.bootstrap, ROUTER_BATCH_CHANGELOG, 3))
        assert {m.key[:2] for m in state} == {b"a/", b"l/"}

        service.kill9()
        service.start()

        asyncio.run(send(broker.bootstrap, repair("x2", "C-1", "X"), repair("w1", "C-4", "W")))
        after = asyncio.run(routed(broker.bootstrap, 5))
        # Least loaded would now pick dana (chen holds 2); the issue keeps chen.
        assert after["x2"].routing.owner == "chen"
        assert after["x2"].routing.sticky is True
        # The loads came back too: the new issue goes to dana, who holds fewer.
        assert after["w1"].routing.owner == "dana"
        # Nothing committed before the kill was routed again.
        assert len(asyncio.run(records(broker.bootstrap, ROUTED, 5))) == 5
        eventually(lambda: asyncio.run(committed(broker.bootstrap)) == 5, "offsets committed")
    finally:
        service.stop()


async def produce_raw(bootstrap: str, key: bytes, value: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False)
    await producer.start()
    try:
        await producer.send_and_wait(CONTACTS, value, key=key, headers=[("event-id", b"bad-1")])
    finally:
        await producer.stop()


def test_poison_goes_to_the_dlq_and_routing_goes_on(broker, tmp_path):
    service = batch_router(broker, tmp_path).start()
    try:
        asyncio.run(produce_raw(broker.bootstrap, b"C-9", b"{not json"))
        asyncio.run(produce_raw(broker.bootstrap, b"C-9", b'{"event_id": "no-other-fields"}'))
        asyncio.run(send(broker.bootstrap, repair("ok1", "C-9", "Q")))
        assert asyncio.run(routed(broker.bootstrap, 1))["ok1"].routing.owner == "chen"

        dead = asyncio.run(records(broker.bootstrap, dlq_of(CONTACTS), 2))
        assert len(dead) == 2
        headers = [dict(m.headers) for m in dead]
        assert [h["error-type"] for h in headers] == [b"decode.malformed", b"decode.invalid"]
        for message, h in zip(dead, headers, strict=True):
            assert h["source-topic"] == CONTACTS.encode()
            assert h["event-id"] == b"bad-1"
            assert int(h["source-partition"]) == message.partition
            assert h["source-offset"].isdigit() and h["error"]
            assert message.key == b"C-9"
        assert dead[0].value == b"{not json"
        eventually(
            lambda: service.metric("escalation_dead_letters_total", reason="decode.malformed") == 1,
            "the dead letter counted",
        )
        eventually(lambda: asyncio.run(committed(broker.bootstrap)) == 3, "offsets committed")
    finally:
        service.stop()
