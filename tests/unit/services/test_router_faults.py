"""The router's batch loop under faults: what is dead-lettered, what is never committed."""

from __future__ import annotations

from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError
from aiokafka.structs import ConsumerRecord, TopicPartition
from tests.unit.factories import contact_data
from tests.unit.services.fakes import FakeProducer

from escalation.schemas import codec
from escalation.services.common.faults import DependencyFailed, RetryPolicy
from escalation.services.common.settings import Settings
from escalation.services.common.topics import CONTACTS, ROUTED, ROUTER_CHANGELOG, dlq_of
from escalation.services.router.app import Router
from escalation.testing.stack import EXAMPLE_POLICY

TP0 = TopicPartition(CONTACTS, 0)
FAST = RetryPolicy(budget_seconds=0.1, first_seconds=0.01, max_seconds=0.02)


class FakeConsumer:
    def __init__(self, *assigned: TopicPartition) -> None:
        self.assigned = set(assigned)
        self.commits: list[dict[TopicPartition, int]] = []
        self.seeks: list[tuple[TopicPartition, int]] = []

    def assignment(self) -> set[TopicPartition]:
        return self.assigned

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.commits.append(dict(offsets))

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks.append((tp, offset))


def record(offset: int, value: bytes | None) -> ConsumerRecord:
    return ConsumerRecord(
        CONTACTS, 0, offset, 0, 0, b"C-1", value, None, 3, len(value or b""), [("event-id", b"x")]
    )


def contact(event_id: str) -> bytes:
    return codec.dumps(contact_data(event_id=event_id))


@pytest.fixture
async def router():
    running = Router(Settings(policy=EXAMPLE_POLICY))
    real_producer, real_consumer = running.producer, running.consumer
    running.producer = FakeProducer()
    running.consumer = FakeConsumer(TP0)
    running.routed_partitions = [0, 1]
    running.retry = FAST
    running.store.open(0)
    running.rebalancing = False
    running.broker_problem = None
    yield running
    await real_producer.stop()  # never started: closes what their constructors opened
    await real_consumer.stop()


def dead(router: Router) -> list[bytes]:
    written = router.producer.written
    return [
        dict(r["headers"])["error-type"]
        for topic, _, records in written
        if topic == dlq_of(CONTACTS)
        for r in records
    ]


async def test_each_failure_goes_where_it_belongs_and_the_batch_commits(router):
    engine = router.engines.get()
    real_decide = engine.decide

    def decide(contact: Any, *args: Any) -> Any:
        if contact.event_id == "explodes":
            raise ZeroDivisionError("a bug in the decision code")
        return real_decide(contact, *args)

    engine.decide = decide
    batch = {
        TP0: [
            record(0, b"{not json"),
            record(1, b'{"event_id": "only"}'),
            record(2, contact("explodes")),
            record(3, contact("fine")),
        ]
    }
    await router.process(batch)
    assert dead(router) == [b"decode", b"schema", b"bug"]
    assert len(router.producer.values(ROUTED)) == 1
    assert router.producer.values(ROUTER_CHANGELOG)  # the state of the routed one
    assert router.consumer.commits == []  # committable, and committed when due
    await router.commits.commit()
    assert router.consumer.commits == [{TP0: 4}]


async def test_a_broker_blip_on_flush_is_retried_and_then_committed(router):
    router.producer.failures = [KafkaTimeoutError()]
    await router.process({TP0: [record(0, contact("fine"))]})
    assert len(router.producer.values(ROUTED)) == 1
    assert dead(router) == []
    await router.commits.commit()
    assert router.consumer.commits == [{TP0: 1}]


async def test_a_broker_down_past_the_budget_commits_nothing_and_dead_letters_nothing(router):
    router.producer.down = KafkaTimeoutError()
    with pytest.raises(DependencyFailed):
        await router.process({TP0: [record(0, contact("fine")), record(1, b"{not json")]})
    await router.commits.commit()
    assert router.consumer.commits == []
    assert router.producer.written == []


class FlakyStore:
    """Stands in for the changelog store's recovery: fails ``failures`` times first."""

    def __init__(self, store: Any, failures: int) -> None:
        self.store, self.failures, self.calls = store, failures, 0

    async def recover(self, partitions: list[int]) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise KafkaConnectionError("broker blip")
        for partition in partitions:
            self.store.open(partition)


async def test_recovery_is_retried_and_readiness_waits_for_it(router):
    router.store.drop([0])
    router.rebalancing = True
    flaky = FlakyStore(router.store, failures=2)
    router.store.recover = flaky.recover
    router.retry = RetryPolicy(budget_seconds=5.0, first_seconds=0.01, max_seconds=0.02)
    await router.on_assigned([TP0])
    assert flaky.calls == 3
    assert router.failed is None
    assert await router.readiness() == []


async def test_recovery_that_keeps_failing_stops_the_loop_without_processing(router):
    router.store.drop([0])
    router.rebalancing = True
    router.store.recover = FlakyStore(router.store, failures=1000).recover
    await router.on_assigned([TP0])
    assert isinstance(router.failed, DependencyFailed)
    assert router.stopping.is_set()
    problems = await router.readiness()
    assert problems and "state recovery of partitions [0]" in problems[0]


async def test_a_batch_of_an_assigned_but_unrecovered_partition_is_read_again(router):
    router.store.drop([0])
    await router.process({TP0: [record(5, contact("fine"))]})
    assert router.consumer.seeks == [(TP0, 5)]
    await router.commits.commit()
    assert router.consumer.commits == []
    assert router.producer.written == []
