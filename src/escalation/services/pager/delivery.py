"""Deliver one page to one target with retries: classify every answer, stop at a deadline.

One ``classify`` decides for every answer (as Alertmanager's Retrier.Check does) and
names a small set of reasons that become a metric label. Unlike it, 429 is retried and
Retry-After is honoured. The retry loop is tenacity's: it retries on the classified
result, waits what the answer asked for (Retry-After) or an exponential backoff with
equal jitter (never less than half the step, so the spacing has a floor), and stops at
whichever comes first: the last attempt, a wait that would pass the deadline, or the
target's circuit opening. Each attempt gets what is left of the deadline at most.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_result, stop_after_attempt

if TYPE_CHECKING:
    from .transport import Answer

RETRYABLE_STATUS = {408, 425, 429, 500, 502, 503, 504}
_JITTER = random.Random()
"""The backoff's jitter: one generator (seeding one per delivery read the OS's entropy)."""


@dataclass(frozen=True)
class Verdict:
    outcome: str
    """delivered | retry | rejected"""
    reason: str
    """ok | http_4xx | http_429 | http_5xx | timeout | connect | transport | forbidden |
    smtp_4xx | smtp_5xx | tls | deadline | circuit_open | rendering"""
    retry_after: float | None = None
    detail: str = ""
    """What happened, for the log and ``page.failed``'s error (never a secret)."""


def _retry_after(response: Answer | httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if not value:
        return None
    if value.strip().isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def classify(response: Answer | httpx.Response | None, error: Exception | None = None) -> Verdict:
    if error is not None:
        detail = f"{type(error).__name__}: {error}"[:500]
        if isinstance(error, httpx.TimeoutException):
            return Verdict("retry", "timeout", detail=detail)
        if isinstance(error, httpx.ConnectError):
            return Verdict("retry", "connect", detail=detail)
        return Verdict("retry", "transport", detail=detail)
    assert response is not None
    status = response.status_code
    detail = f"HTTP {status}"
    if 200 <= status < 300:
        return Verdict("delivered", "ok", detail=detail)
    if status == 429:
        return Verdict("retry", "http_429", _retry_after(response), detail)
    if status in RETRYABLE_STATUS:
        reason = "http_5xx" if status >= 500 else "http_4xx"
        return Verdict("retry", reason, _retry_after(response), detail)
    return Verdict("rejected", "http_4xx" if status < 500 else "http_5xx", detail=detail)


@dataclass(frozen=True)
class Backoff:
    base: float = 0.5
    cap: float = 30.0
    max_attempts: int = 8
    attempt_timeout: float = 5.0

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        """Retry-After wins (up to the cap); else half the step plus up to half again."""
        if retry_after is not None:
            return min(retry_after, self.cap)
        step = min(self.cap, self.base * 2 ** (attempt - 1))
        return step / 2 + rng.uniform(0, step / 2)


@dataclass
class Result:
    verdict: Verdict
    attempts: int


async def deliver(
    attempt: Callable[[float], Awaitable[Verdict]],
    backoff: Backoff,
    deadline: float,
    *,
    halted: Callable[[], str | None] = lambda: None,
    on_attempt: Callable[[Verdict], None] = lambda v: None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
    rng: random.Random | None = None,
) -> Result:
    """Call ``attempt(timeout)`` until delivered, rejected, halted or out of time.

    ``deadline`` is in seconds from now; ``halted`` says why to stop before the next
    attempt (the target's circuit is open), or None.
    """
    rng = rng or _JITTER
    ends = clock() + deadline
    count = 0
    last = Verdict("retry", "deadline", detail="the deadline passed before any attempt")

    async def one() -> Verdict:
        nonlocal count, last
        why = halted()
        if why is not None:
            last = Verdict("rejected", "circuit_open", detail=f"{why}; last: {last.detail}")
            return last
        left = ends - clock()
        if left <= 0:
            return last
        count += 1
        last = await attempt(min(backoff.attempt_timeout, left))
        on_attempt(last)
        return last

    def wait(state: RetryCallState) -> float:
        verdict = state.outcome.result() if state.outcome else None
        return backoff.delay(state.attempt_number, getattr(verdict, "retry_after", None), rng)

    def out_of_time(state: RetryCallState) -> bool:
        return clock() + state.upcoming_sleep >= ends

    # Most pages are taken at the first attempt: make it before building the retry loop
    # (tenacity's machinery cost about a tenth of the pager's CPU per page), and hand it
    # to the loop as its first call when it asks for another.
    made = [await one()]
    if made[0].outcome != "retry":
        return Result(made[0], count)

    async def first_made_then_one() -> Verdict:
        return made.pop() if made else await one()

    retrying = AsyncRetrying(
        stop=stop_after_attempt(backoff.max_attempts) | out_of_time,
        wait=wait,
        retry=retry_if_result(lambda v: v.outcome == "retry"),
        sleep=sleep,
        retry_error_callback=lambda state: state.outcome.result() if state.outcome else last,
    )
    verdict = await retrying(first_made_then_one)
    if verdict.outcome == "retry":  # gave up: say why, for page.failed and the DLQ
        why = "attempts" if count >= backoff.max_attempts else "deadline"
        detail = f"{verdict.detail}; gave up after {count} attempt(s): out of {why}"
        verdict = Verdict(verdict.outcome, verdict.reason, verdict.retry_after, detail)
    return Result(verdict, count)
