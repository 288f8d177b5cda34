"""The batch loop's outbox: a write the broker does not acknowledge is sent again, in order."""

from __future__ import annotations

import pytest
from aiokafka.errors import KafkaTimeoutError, NotLeaderForPartitionError
from tests.unit.services.fakes import FakeProducer

from escalation.services.common.faults import DependencyFailed, RetryPolicy
from escalation.services.common.outbox import Outbox

FAST = RetryPolicy(budget_seconds=0.2, first_seconds=0.01, max_seconds=0.02)


async def fill(outbox: Outbox, topic: str, count: int, partition: int = 0) -> None:
    for n in range(count):
        await outbox.add(topic, partition, b"k", f"{topic}-{n}".encode())


async def test_every_record_is_written_once_when_the_broker_answers():
    producer = FakeProducer(capacity=2)
    outbox = Outbox(producer)
    await fill(outbox, "routed", 5)
    await outbox.flush(FAST)
    assert producer.values("routed") == [f"routed-{n}".encode() for n in range(5)]


async def test_a_failed_batch_is_sent_again_with_everything_after_it_in_order():
    # Batches of 2: the first write of partition 0 fails, the next two succeed.
    producer = FakeProducer(KafkaTimeoutError(), None, None, capacity=2)
    outbox = Outbox(producer)
    await fill(outbox, "routed", 5)
    await outbox.flush(FAST)
    values = producer.values("routed")
    # The batches after the failed one were resent behind it: order kept, copies allowed.
    assert values[-5:] == [f"routed-{n}".encode() for n in range(5)]
    assert set(values) == {f"routed-{n}".encode() for n in range(5)}


async def test_other_partitions_are_not_sent_twice():
    producer = FakeProducer(NotLeaderForPartitionError(), None, capacity=10)
    outbox = Outbox(producer)
    await fill(outbox, "routed", 3, partition=0)
    await fill(outbox, "changelog", 2, partition=0)
    await outbox.flush(FAST)
    assert producer.values("routed") == [b"routed-0", b"routed-1", b"routed-2"]
    assert producer.values("changelog") == [b"changelog-0", b"changelog-1"]


async def test_a_broker_that_stays_down_raises_so_nothing_is_committed():
    producer = FakeProducer(capacity=10)
    producer.down = KafkaTimeoutError()
    outbox = Outbox(producer)
    await fill(outbox, "routed", 3)
    with pytest.raises(DependencyFailed):
        await outbox.flush(FAST)
    assert producer.written == []
    assert producer.sends > 2  # it did retry


async def test_put_closes_full_and_single_batches_and_flush_sends_them_in_order():
    # ``put`` sends nothing itself: every batch it closed goes out with the flush.
    producer = FakeProducer(NotLeaderForPartitionError(), None, capacity=2)
    outbox = Outbox(producer, single=frozenset({"changelog"}))
    for n in range(5):
        outbox.put("routed", 0, b"k", f"routed-{n}".encode())
    outbox.put("changelog", 0, b"k", b"changelog-0")
    outbox.put("changelog", 0, b"k", b"changelog-1")
    assert producer.sends == 0
    await outbox.flush(FAST)
    values = producer.values("routed")
    assert values[-5:] == [f"routed-{n}".encode() for n in range(5)]
    assert set(values) == {f"routed-{n}".encode() for n in range(5)}
    assert producer.values("changelog") == [b"changelog-0", b"changelog-1"]
