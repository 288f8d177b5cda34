"""Whose fault a failed message is: the message's, ours, or a dependency's.

Only a message that can never be processed belongs on a DLQ: bytes that are not JSON
(``decode``), JSON that fails the model (``schema``), a valid message our handler raised
on (``bug``, logged with its stack so it can be fixed and the DLQ replayed), or one a
handler refuses on purpose (a :class:`DeadLetter` with its own reason). A failed
dependency (a Kafka error or timeout, a lost connection) says nothing about the message:
it is retried in place with backoff, and when the retries are spent the worker stops
with :data:`EXIT_DEPENDENCY` *without committing*, so the message is read again after
the restart. Dead-lettering it would lose a valid contact or ack.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Literal

import structlog
from aiokafka.errors import (
    KafkaError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
)

from escalation.schemas import DecodeError

log = structlog.get_logger(__name__)

Verdict = Literal["decode", "schema", "bug", "dependency"]

EXIT_DEPENDENCY = 75
"""EX_TEMPFAIL: a dependency stayed down past the retries; restart and read again."""

# Kafka errors about one record: retrying never helps, the record is the problem.
_RECORD_ERRORS = (MessageSizeTooLargeError, RecordListTooLargeError, RecordTooLargeError)


class DeadLetter(Exception):
    """Raised by a handler to dead-letter its message on purpose, with ``reason``."""

    reason = "rejected"


class DependencyFailed(RuntimeError):
    """A dependency kept failing past the retry budget; the input must not be committed."""


def _dependency_errors() -> tuple[type[BaseException], ...]:
    from faust.exceptions import ProducerSendError

    # OSError covers TimeoutError (asyncio.TimeoutError since 3.11) and ConnectionError.
    return (KafkaError, ProducerSendError, OSError)


def classify(exc: BaseException, value: bytes | None = None) -> Verdict | str:
    """The DLQ reason for ``exc`` raised while handling ``value``, or ``dependency``."""
    if isinstance(exc, DecodeError):
        if value is None or exc.kind == "malformed":
            return "decode"  # a tombstone or bytes that are not (UTF-8) JSON
        return "schema"
    if isinstance(exc, DeadLetter):
        return exc.reason
    if isinstance(exc, _RECORD_ERRORS):
        return "bug"  # our output for a valid input cannot be written: never retried
    if isinstance(exc, _dependency_errors()):
        return "dependency"
    return "bug"


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, until ``budget_seconds`` of waiting are spent."""

    budget_seconds: float = 30.0
    first_seconds: float = 0.5
    max_seconds: float = 5.0

    def delays(self) -> Iterator[float]:
        spent, delay = 0.0, self.first_seconds
        while spent < self.budget_seconds:
            wait = min(delay * random.uniform(0.8, 1.2), self.budget_seconds - spent)
            spent += wait
            yield wait
            delay = min(delay * 2, self.max_seconds)


async def retrying(
    attempt: Callable[[], Awaitable[None]],
    policy: RetryPolicy,
    what: str,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    **context: object,
) -> None:
    """Run ``attempt``; retry dependency failures with backoff; raise DependencyFailed at last.

    The budget bounds both the time slept and the time since the first attempt (an
    attempt itself may wait for a broker's timeout). Any other exception propagates at
    once: the caller decides what it means.
    """
    delays = policy.delays()
    deadline = time.monotonic() + policy.budget_seconds
    while True:
        try:
            await attempt()
            return
        except Exception as exc:
            if classify(exc) != "dependency":
                raise
            delay = next(delays, None)
            if delay is None or time.monotonic() >= deadline:
                raise DependencyFailed(f"{what} failed past the retry budget: {exc!r}") from exc
            log.warning(
                "dependency.retrying", what=what, error=repr(exc), retry_in=delay, **context
            )
            await sleep(delay)


async def handle_message(
    run: Callable[[], Awaitable[None]],
    value: bytes | None,
    dead_letter: Callable[[str, BaseException], Awaitable[None]],
    policy: RetryPolicy,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    **context: object,
) -> str | None:
    """Run one message's handler; dead-letter what is the message's fault or a bug.

    Returns the DLQ reason, or None when the handler succeeded. A dependency failure is
    retried (the whole handler again: handlers are idempotent) and raises
    DependencyFailed once the budget is spent; so does a DLQ write that keeps failing.
    """
    failure: list[BaseException] = []

    async def attempt() -> None:
        failure.clear()
        try:
            await run()
        except Exception as exc:
            if classify(exc, value) == "dependency":
                raise
            failure.append(exc)

    await retrying(attempt, policy, "handler", sleep, **context)
    if not failure:
        return None
    error = failure[0]
    reason = classify(error, value)
    if reason == "bug":
        log.error("message.handler_failed", exc_info=error, **context)
    await retrying(lambda: dead_letter(reason, error), policy, "dead letter", sleep, **context)
    return reason


def exit_for_restart(error: BaseException, code: int = EXIT_DEPENDENCY) -> None:
    """Log why and leave at once: no ``finally``, no shutdown hook, no offset commit."""
    import os

    log.critical("service.exiting_uncommitted", error=repr(error), exit_code=code)
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(code)
