"""A faust service's handler failures: where each message goes, and what stays uncommitted."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka.errors import KafkaTimeoutError
from faust.types.tuples import ConsumerMessage
from tests.unit.factories import contact_data

from escalation.schemas import codec
from escalation.services.common.faults import DependencyFailed, RetryPolicy
from escalation.services.common.settings import Settings
from escalation.services.common.stream import StreamService, hold_uncommitted
from escalation.services.common.topics import ROUTED, dlq_of


class FakeEvent:
    def __init__(self, value: bytes | None, offset: int = 7) -> None:
        self.message = ConsumerMessage(
            ROUTED, 1, offset, 0.0, 0, [("event-id", b"e-1")], b"C-1", value, None
        )
        self.headers = self.message.headers


class FakeTopic:
    """Stands in for a faust topic: ``send`` returns the future of the broker's answer."""

    def __init__(self, name: str, sent: list[dict[str, Any]], failures: list[BaseException]):
        self.name, self.sent, self.failures = name, sent, failures

    async def send(self, **record: Any) -> asyncio.Future[None]:
        future = asyncio.get_running_loop().create_future()
        if self.failures:
            future.set_exception(self.failures.pop(0))
        else:
            self.sent.append({"topic": self.name, **record})
            future.set_result(None)
        return future


@pytest.fixture
def service():
    running = StreamService(Settings(), "escalation-test-guard", "test", 0)
    running.retry = RetryPolicy(budget_seconds=0.05, first_seconds=0.01)
    running.sent = []
    running.send_failures = []
    running.exits = []
    running.topic = lambda *names: FakeTopic(names[0], running.sent, running.send_failures)
    running.exit = running.exits.append
    return running


def handler_raising(error: BaseException | None):
    async def handler(event: Any) -> None:
        if error is not None:
            raise error

    return handler


async def guarded(service: StreamService, value: bytes | None, error: BaseException | None):
    event = FakeEvent(value)
    await service.guarded(event, handler_raising(error))
    return event


def dead_reasons(service: StreamService) -> list[bytes]:
    return [dict(record["headers"])["error-type"] for record in service.sent]


async def test_decode_and_schema_errors_go_to_the_dlq_with_their_reason(service):
    for value in (b"{oops", b"{}"):
        with pytest.raises(codec.DecodeError) as caught:
            codec.decode_routed(value)
        await guarded(service, value, caught.value)
    assert dead_reasons(service) == [b"decode", b"schema"]
    first = service.sent[0]
    assert first["topic"] == dlq_of(ROUTED)
    assert first["value"] == b"{oops" and first["key"] == b"C-1" and first["partition"] == 1
    headers = dict(first["headers"])
    assert headers["event-id"] == b"e-1"
    assert headers["source-offset"] == b"7"
    assert service.exits == []


async def test_a_handler_bug_on_a_valid_message_is_dead_lettered_as_bug(service):
    await guarded(service, codec.dumps(contact_data()), OverflowError("date value out of range"))
    assert dead_reasons(service) == [b"bug"]
    assert b"out of range" in dict(service.sent[0]["headers"])["error"]


async def test_a_broker_error_on_send_is_retried_not_dead_lettered(service):
    service.send_failures.extend([KafkaTimeoutError(), KafkaTimeoutError()])

    async def handler(event: Any) -> None:  # emits an output, as the escalator does
        await (await service.topic("escalations.v1").send(key=b"C-1", value=b"{}"))

    service.retry = RetryPolicy(budget_seconds=5.0, first_seconds=0.01, max_seconds=0.02)
    await service.guarded(FakeEvent(b"{}"), handler)
    assert [r["topic"] for r in service.sent] == ["escalations.v1"]
    assert service.exits == []


async def test_a_broker_down_past_the_budget_holds_the_message_and_exits(service):
    event = await guarded(service, codec.dumps(contact_data()), KafkaTimeoutError())
    assert service.sent == []  # nothing on the DLQ
    assert len(service.exits) == 1 and isinstance(service.exits[0], DependencyFailed)
    assert event.message.acked  # held: faust will never record its offset as done


async def test_a_dlq_write_that_keeps_failing_exits_instead_of_losing_the_message(service):
    service.send_failures.extend([KafkaTimeoutError()] * 100)
    event = await guarded(service, b"{oops", ValueError("unused"))
    assert len(service.exits) == 1 and event.message.acked


async def test_a_cancelled_handler_leaves_its_message_uncommitted(service):
    async def slow(event: Any) -> None:
        await asyncio.sleep(10)

    event = FakeEvent(b"{}")
    task = asyncio.create_task(service.guarded(event, slow))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert event.message.acked


def test_a_held_message_never_reaches_the_consumer_s_acked_offsets():
    """What hold_uncommitted relies on in faust: Message.ack skips an acked message."""

    class Consumer:
        def __init__(self) -> None:
            self.acked: list[int] = []

        def ack(self, message: ConsumerMessage) -> bool:
            self.acked.append(message.offset)
            return True

    consumer = Consumer()
    normal, held = FakeEvent(b"{}", offset=1), FakeEvent(b"{}", offset=2)
    for event in (normal, held):
        event.message.incref()
    hold_uncommitted(held)
    assert normal.message.ack(consumer) is True
    assert held.message.ack(consumer) is False
    assert consumer.acked == [1]


async def test_readiness_says_the_broker_is_not_reachable_before_anything_else(service):
    assert service.readiness() == ["broker not reachable yet"]
    service.broker_problem = None
    assert service.readiness() == ["consumer group not joined yet"]
