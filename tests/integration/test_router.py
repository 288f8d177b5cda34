"""The router on a real broker: sticky owners across SIGKILL, hot reload, capacity, DLQ."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition

from escalation.schemas import codec
from escalation.services.common.broker import free_port
from escalation.services.common.topics import CONTACTS, ROUTED, ROUTER_APP, ROUTER_CHANGELOG, dlq_of
from escalation.testing.stack import EXAMPLE_POLICY, Service, eventually
from tests.unit.factories import contact_data

pytestmark = pytest.mark.integration


def router(broker, tmp_path: Path, policy: Path) -> Service:
    port = free_port()
    env = {
        "ESCALATION_KAFKA_BOOTSTRAP": broker.bootstrap,
        "ESCALATION_KAFKA_PARTITIONS": "2",
        "ESCALATION_ROUTER_PORT": str(port),
        "ESCALATION_POLICY": str(policy),
        "ESCALATION_DATA_DIR": str(tmp_path / "data"),
        "ESCALATION_LOG_FORMAT": "json",
    }
    return Service("router", env, port, tmp_path / "router.log")


def repair(event_id: str, customer: str, issue: str, **overrides) -> dict:
    return contact_data(
        event_id=event_id,
        customer={"id": customer},
        issue_key=issue,
        category="hvac.repair",
        **overrides,
    )


async def send(bootstrap: str, *contacts: dict) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False)
    await producer.start()
    try:
        for data in contacts:
            value = codec.encode(codec.decode_contact(codec.dumps(data)))
            await producer.send_and_wait(
                CONTACTS,
                value,
                key=data["customer"]["id"].encode(),
                headers=[("event-id", data["event_id"].encode())],
            )
    finally:
        await producer.stop()


async def routed(bootstrap: str, count: int, limit: float = 60.0) -> dict[str, object]:
    """The first ``count`` routed events, by event id."""
    consumer = AIOKafkaConsumer(
        ROUTED,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    found = {}
    try:
        deadline = asyncio.get_running_loop().time() + limit
        while len(found) < count and asyncio.get_running_loop().time() < deadline:
            for messages in (await consumer.getmany(timeout_ms=500)).values():
                for message in messages:
                    event = codec.decode_routed(message.value)
                    found[event.event_id] = event
        assert len(found) >= count, f"only {len(found)} of {count} routed events arrived"
        return found
    finally:
        await consumer.stop()


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


def route_three_issues(bootstrap: str) -> None:
    """Three customers' repairs, each routed before the next is sent (owners: chen, dana, chen)."""
    for count, contact in enumerate(
        (repair("x1", "C-1", "X"), repair("y1", "C-2", "Y"), repair("z1", "C-3", "Z")), 1
    ):
        asyncio.run(send(bootstrap, contact))
        asyncio.run(routed(bootstrap, count))


def test_sticky_owner_and_loads_survive_sigkill(broker, tmp_path):
    service = router(broker, tmp_path, EXAMPLE_POLICY).start()
    try:
        route_three_issues(broker.bootstrap)
        first = asyncio.run(routed(broker.bootstrap, 3))
        owners = {k: v.routing.owner for k, v in first.items()}
        assert owners == {"x1": "chen", "y1": "dana", "z1": "chen"}  # least loaded, then LRU
        assert first["x1"].routing.route == "equipment-repair"
        assert first["x1"].routing.reasons[-1].startswith("chen: least loaded")
        eventually(lambda: service.metric("escalation_routed_total") >= 3, "routing recorded")
        # Committed: a restart must not replay these inputs, so the state can only come
        # back from the changelog.
        eventually(lambda: asyncio.run(committed(broker.bootstrap)) == 3, "offsets committed")
        state = asyncio.run(records(broker.bootstrap, ROUTER_CHANGELOG, 3))
        # one assignment per issue (a/<customer>/<issue digest>); loads are derived from them
        assert sorted(m.key.rsplit(b"/", 1)[0] for m in state) == [b"a/C-1", b"a/C-2", b"a/C-3"]

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


def test_broken_policy_keeps_routing_on_the_old_one(broker, tmp_path):
    policy = tmp_path / "policy.yaml"
    shutil.copy(EXAMPLE_POLICY, policy)
    service = router(broker, tmp_path, policy).start()
    try:
        asyncio.run(send(broker.bootstrap, repair("a1", "C-1", "A")))
        old_version = asyncio.run(routed(broker.bootstrap, 1))["a1"].routing.policy_version

        policy.write_text(
            policy.read_text().replace("team: service-engineers\n", "team: hvac-lead\n")
        )
        eventually(
            lambda: service.metric("escalation_policy_reloads_total", result="failed") >= 1,
            "the failed reload to be counted",
        )
        assert service.metric("escalation_policy_last_reload_success") == 0
        asyncio.run(send(broker.bootstrap, repair("a2", "C-2", "B")))
        assert asyncio.run(routed(broker.bootstrap, 2))["a2"].routing.policy_version == (
            old_version
        )

        policy.write_text(
            shutil.copy(EXAMPLE_POLICY, tmp_path / "ok.yaml").read_text() + "\n# reviewed\n"
        )
        eventually(
            lambda: service.metric("escalation_policy_reloads_total", result="ok") >= 1,
            "the good reload",
        )
        asyncio.run(send(broker.bootstrap, repair("a3", "C-3", "C")))
        assert asyncio.run(routed(broker.bootstrap, 3))["a3"].routing.policy_version != (
            old_version
        )
    finally:
        service.stop()


def test_resolved_escalations_release_the_owner_s_capacity(broker, tmp_path):
    from datetime import UTC, datetime

    from escalation.schemas import EscalationEvent
    from escalation.services.common.topics import ESCALATIONS

    service = router(broker, tmp_path, EXAMPLE_POLICY).start()
    try:
        contacts = (repair("x1", "C-1", "X"), repair("y1", "C-2", "Y"), repair("z1", "C-3", "Z"))
        for count, contact in enumerate(contacts, 1):
            asyncio.run(send(broker.bootstrap, contact))
            asyncio.run(routed(broker.bootstrap, count))
        first = asyncio.run(routed(broker.bootstrap, 3))
        chen_issues = [e for e in first.values() if e.routing.owner == "chen"]
        assert len(chen_issues) == 2  # chen holds two issues, dana one

        async def resolve_all() -> None:
            producer = AIOKafkaProducer(
                bootstrap_servers=broker.bootstrap, enable_idempotence=False
            )
            await producer.start()
            try:
                for event in chen_issues:
                    record = EscalationEvent(
                        escalation_id=f"e1.x.{event.issue_id}.1",
                        type="resolved",
                        at=datetime.now(UTC),
                        customer_id=event.customer.id,
                        issue_id=event.issue_id,
                        category=event.category,
                        owner="chen",
                        team="service-engineers",
                        reason="resolved by chen",
                        cause_id=f"cmd-{event.event_id}",
                    )
                    await producer.send_and_wait(
                        ESCALATIONS, codec.encode(record), key=event.customer.id.encode()
                    )
            finally:
                await producer.stop()

        asyncio.run(resolve_all())
        eventually(
            lambda: service.metric("escalation_messages_consumed_total", topic=ESCALATIONS) >= 2,
            "the resolutions",
        )
        asyncio.run(send(broker.bootstrap, repair("w1", "C-4", "W")))
        # chen's two issues are resolved: chen now holds none, dana one.
        assert asyncio.run(routed(broker.bootstrap, 4))["w1"].routing.owner == "chen"
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
    service = router(broker, tmp_path, EXAMPLE_POLICY).start()
    try:
        asyncio.run(produce_raw(broker.bootstrap, b"C-9", b"{not json"))
        asyncio.run(produce_raw(broker.bootstrap, b"C-9", b'{"event_id": "no-other-fields"}'))
        asyncio.run(send(broker.bootstrap, repair("ok1", "C-9", "Q")))
        assert asyncio.run(routed(broker.bootstrap, 1))["ok1"].routing.owner == "chen"

        dead = asyncio.run(records(broker.bootstrap, dlq_of(CONTACTS), 2))
        assert len(dead) == 2
        headers = [dict(m.headers) for m in dead]
        assert [h["error-type"] for h in headers] == [b"decode", b"schema"]
        for message, h in zip(dead, headers, strict=True):
            assert h["source-topic"] == CONTACTS.encode()
            assert h["event-id"] == b"bad-1"
            assert int(h["source-partition"]) == message.partition
            assert h["source-offset"].isdigit() and h["error"]
            assert message.key == b"C-9"
        assert dead[0].value == b"{not json"
        eventually(
            lambda: service.metric("escalation_dead_letters_total", reason="decode") == 1,
            "the dead letter counted",
        )
        eventually(lambda: asyncio.run(committed(broker.bootstrap)) == 3, "offsets committed")
    finally:
        service.stop()


async def append_to_changelog(bootstrap: str, partition: int, key: bytes, value: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False)
    await producer.start()
    try:
        await producer.send_and_wait(ROUTER_CHANGELOG, value, key=key, partition=partition)
    finally:
        await producer.stop()


def test_an_unreadable_changelog_record_is_skipped_and_counted_the_rest_recovers(broker, tmp_path):
    service = router(broker, tmp_path, EXAMPLE_POLICY).start()
    try:
        route_three_issues(broker.bootstrap)
        eventually(lambda: asyncio.run(committed(broker.bootstrap)) == 3, "offsets committed")
        state = asyncio.run(records(broker.bootstrap, ROUTER_CHANGELOG, 3))
        service.kill9()

        # One record the router cannot read, in every partition that holds state.
        for partition in {m.partition for m in state}:
            asyncio.run(
                append_to_changelog(
                    broker.bootstrap, partition, b"a/C-7/garbled", b'{"owner": "nobody", '
                )
            )
        service.start()  # ready means every assigned partition recovered

        partitions = len({m.partition for m in state})
        assert service.metric("escalation_changelog_skipped_total") == partitions
        assert "changelog.record_skipped" in service.log_path.read_text()
        asyncio.run(send(broker.bootstrap, repair("x2", "C-1", "X"), repair("w1", "C-4", "W")))
        after = asyncio.run(routed(broker.bootstrap, 5))
        # The readable state came back: the issue keeps chen, and the loads too (dana next).
        assert after["x2"].routing.owner == "chen" and after["x2"].routing.sticky is True
        assert after["w1"].routing.owner == "dana"
    finally:
        service.stop()
