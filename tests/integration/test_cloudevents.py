"""CloudEvents binary mode on contacts.v1: the router routes it, or dead-letters it naming
the header at fault."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaProducer

from escalation.schemas import codec
from escalation.services.common.topics import CONTACTS, dlq_of
from escalation.testing.stack import EXAMPLE_POLICY
from tests.integration.test_router import records, repair, routed, router

pytestmark = pytest.mark.integration


def ce_headers(event_id: str, time: str | None) -> list[tuple[str, bytes]]:
    headers = [
        ("ce_specversion", b"1.0"),
        ("ce_id", event_id.encode()),
        ("ce_source", b"crm"),
        ("ce_type", b"dev.escalation.contact.v1"),
        ("content-type", b"application/json"),
    ]
    return headers + ([("ce_time", time.encode())] if time else [])


async def produce_binary(bootstrap: str, event_id: str, time: str | None) -> None:
    """A binary-mode CloudEvent as an upstream producer writes it: data only in the value."""
    data = repair(event_id, "C-77", "CE-1")
    value = {k: v for k, v in data.items() if k not in ("event_id", "occurred_at", "source")}
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False)
    await producer.start()
    try:
        await producer.send_and_wait(
            CONTACTS, codec.dumps(value), key=b"C-77", headers=ce_headers(event_id, time)
        )
    finally:
        await producer.stop()


def test_a_binary_mode_cloudevent_is_routed_and_a_bad_one_dead_lettered(broker, tmp_path):
    service = router(broker, tmp_path, EXAMPLE_POLICY).start()
    try:
        asyncio.run(produce_binary(broker.bootstrap, "ce-bad", None))
        asyncio.run(produce_binary(broker.bootstrap, "ce-1", "2026-11-24T14:15:00Z"))
        found = asyncio.run(routed(broker.bootstrap, 1))
        event = found["ce-1"]
        assert (event.source, event.customer.id) == ("crm", "C-77")
        assert event.occurred_at.isoformat() == "2026-11-24T14:15:00+00:00"
        assert event.routing.route == "equipment-repair"
        assert "ce-bad" not in found

        (dead,) = asyncio.run(records(broker.bootstrap, dlq_of(CONTACTS), 1))
        headers = dict(dead.headers)
        assert headers["error-type"] == b"schema"
        assert b"ce_time: Field required" in headers["error"]
        assert headers["ce_id"] == b"ce-bad"  # the original headers ride along
    finally:
        service.stop()
