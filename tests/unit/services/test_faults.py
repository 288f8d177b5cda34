"""Which failures dead-letter a message and which are retried: faults.classify and friends."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    NotLeaderForPartitionError,
)
from faust.exceptions import ProducerSendError
from structlog.testing import capture_logs
from tests.unit.factories import contact_data

from escalation.schemas import codec
from escalation.services.common.faults import (
    DeadLetter,
    DependencyFailed,
    RetryPolicy,
    classify,
    handle_message,
    retrying,
)

VALID = codec.dumps(contact_data())


def decode_error(data: bytes | None) -> codec.DecodeError:
    with pytest.raises(codec.DecodeError) as caught:
        codec.decode_contact(data)  # type: ignore[arg-type]
    return caught.value


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"{not json", "decode"),
        (b"\xff\xfe\x00", "decode"),  # not UTF-8
        (b'{"event_id": "\xff"}', "decode"),  # JSON-shaped, invalid UTF-8 inside
        (b"", "decode"),
        (None, "decode"),  # a tombstone
        (b"{}", "schema"),
        (b"[1, 2]", "schema"),
        (codec.dumps(contact_data(urgency="apocalyptic")), "schema"),
    ],
)
def test_what_the_message_cannot_be_is_decode_or_schema(data, reason):
    assert classify(decode_error(data), data) == reason


@pytest.mark.parametrize(
    "error",
    [
        KafkaTimeoutError(),
        KafkaConnectionError("broker gone"),
        NotLeaderForPartitionError(),
        ProducerSendError("attached messages"),
        TimeoutError(),
        ConnectionResetError(),
    ],
)
def test_failed_dependencies_are_never_the_message_s_fault(error):
    assert classify(error, VALID) == "dependency"


def test_bugs_and_deliberate_rejections_keep_their_own_reasons():
    class Refused(DeadLetter):
        reason = "refused"

    assert classify(ZeroDivisionError(), VALID) == "bug"
    assert classify(OverflowError("date value out of range"), VALID) == "bug"
    assert classify(MessageSizeTooLargeError(), VALID) == "bug"  # retrying cannot help
    assert classify(Refused("receiver said 400"), VALID) == "refused"


def test_backoff_doubles_to_its_cap_and_stops_at_the_budget():
    delays = list(RetryPolicy(budget_seconds=20, first_seconds=0.5, max_seconds=4).delays())
    assert sum(delays) == pytest.approx(20)
    assert delays[0] == pytest.approx(0.5, rel=0.25)
    assert max(delays) <= 4 * 1.2
    assert delays[1] > delays[0]
    assert list(RetryPolicy(budget_seconds=0).delays()) == []


class Recorder:
    """A fake handler and DLQ writer: fails as scripted, records what reached it."""

    def __init__(self, *failures: BaseException | None) -> None:
        self.failures = list(failures)
        self.calls = 0
        self.dead: list[tuple[str, BaseException]] = []
        self.slept: list[float] = []

    async def handler(self) -> None:
        self.calls += 1
        failure = self.failures.pop(0) if self.failures else None
        if failure is not None:
            raise failure

    async def dead_letter(self, reason: str, error: BaseException) -> None:
        self.dead.append((reason, error))

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


async def run(recorder: Recorder, value: bytes | None, budget: float = 5.0) -> str | None:
    return await handle_message(
        recorder.handler,
        value,
        recorder.dead_letter,
        RetryPolicy(budget_seconds=budget),
        sleep=recorder.sleep,
        topic="contacts.routed.v1",
    )


async def test_a_decode_error_and_a_schema_error_go_to_the_dlq_without_retry():
    for data, reason in ((b"{not json", "decode"), (b"{}", "schema")):
        recorder = Recorder(decode_error(data))
        assert await run(recorder, data) == reason
        assert recorder.calls == 1 and recorder.slept == []
        assert [r for r, _ in recorder.dead] == [reason]


async def test_a_handler_bug_goes_to_the_dlq_as_bug_with_its_stack_logged():
    recorder = Recorder(KeyError("routing"))
    with capture_logs() as logs:
        assert await run(recorder, VALID) == "bug"
    assert [r for r, _ in recorder.dead] == ["bug"]
    failed = [e for e in logs if e["event"] == "message.handler_failed"]
    assert failed and isinstance(failed[0]["exc_info"], KeyError)


async def test_a_kafka_error_is_retried_in_place_and_never_dead_lettered():
    recorder = Recorder(KafkaTimeoutError(), KafkaConnectionError("x"), None)
    assert await run(recorder, VALID) is None
    assert recorder.calls == 3
    assert len(recorder.slept) == 2
    assert recorder.dead == []


async def test_a_dependency_that_stays_down_raises_and_dead_letters_nothing():
    recorder = Recorder(*[KafkaTimeoutError()] * 1000)
    with pytest.raises(DependencyFailed):
        await run(recorder, VALID, budget=3.0)
    assert recorder.dead == []
    assert sum(recorder.slept) == pytest.approx(3.0)


async def test_a_dead_letter_write_that_fails_is_retried_too():
    recorder = Recorder(decode_error(b"{}"))
    writes: list[str] = []

    async def flaky_dlq(reason: str, error: BaseException) -> None:
        writes.append(reason)
        if len(writes) < 3:
            raise KafkaTimeoutError()

    reason = await handle_message(
        recorder.handler, b"{}", flaky_dlq, RetryPolicy(5.0), sleep=recorder.sleep
    )
    assert reason == "schema"
    assert writes == ["schema"] * 3


async def test_retrying_lets_anything_but_a_dependency_failure_through():
    async def broken() -> None:
        raise ValueError("not a dependency")

    with pytest.raises(ValueError):
        await retrying(broken, RetryPolicy(5.0), "test")


async def test_the_budget_also_bounds_attempts_that_wait_for_a_timeout():
    attempts = []

    async def slow_failure() -> None:
        attempts.append(1)
        await asyncio.sleep(0.05)  # as a send waiting for the broker's request timeout
        raise KafkaTimeoutError()

    async def no_sleep(seconds: float) -> None:
        return None

    policy = RetryPolicy(budget_seconds=0.12, first_seconds=0.001, max_seconds=0.001)
    with pytest.raises(DependencyFailed):
        await retrying(slow_failure, policy, "send", sleep=no_sleep)
    assert 2 <= len(attempts) <= 4  # sleeping alone would allow over a hundred
