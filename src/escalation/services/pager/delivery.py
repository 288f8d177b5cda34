"""Deliver one request with retries: classify every answer, back off with jitter.

One ``classify`` decides for every answer (as Alertmanager's Retrier.Check does) and
names a small set of reasons that become a metric label. Unlike it, 429 is retried and
Retry-After is honoured, and the attempts are bounded by count, not by a context.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from time import time

import httpx

RETRYABLE_STATUS = {408, 425, 429, 500, 502, 503, 504}


@dataclass(frozen=True)
class Verdict:
    outcome: str
    """delivered | retry | rejected"""
    reason: str
    """ok | http_4xx | http_429 | http_5xx | timeout | connect | transport"""
    retry_after: float | None = None


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if not value:
        return None
    if value.strip().isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time())
    except (TypeError, ValueError):
        return None


def classify(response: httpx.Response | None, error: Exception | None = None) -> Verdict:
    if error is not None:
        if isinstance(error, httpx.TimeoutException):
            return Verdict("retry", "timeout")
        if isinstance(error, httpx.ConnectError):
            return Verdict("retry", "connect")
        return Verdict("retry", "transport")
    assert response is not None
    status = response.status_code
    if 200 <= status < 300:
        return Verdict("delivered", "ok")
    if status == 429:
        return Verdict("retry", "http_429", _retry_after(response))
    if status in RETRYABLE_STATUS:
        return Verdict("retry", "http_5xx" if status >= 500 else "http_4xx", _retry_after(response))
    return Verdict("rejected", "http_4xx" if status < 500 else "http_5xx")


@dataclass(frozen=True)
class Backoff:
    base: float = 0.5
    cap: float = 30.0
    max_attempts: int = 8

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        """Full jitter, exponential in the attempt number; Retry-After wins (up to the cap)."""
        if retry_after is not None:
            return min(retry_after, self.cap)
        return rng.uniform(0, min(self.cap, self.base * 2 ** (attempt - 1)))


@dataclass
class Result:
    verdict: Verdict
    attempts: int


async def deliver(
    client: httpx.AsyncClient,
    build: Callable[[], httpx.Request],
    backoff: Backoff,
    on_attempt: Callable[[Verdict], None] = lambda v: None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    rng: random.Random | None = None,
) -> Result:
    """Send ``build()`` until delivered, rejected, or out of attempts.

    ``build`` is called per attempt so the signature timestamp is fresh while the
    webhook-id stays the same.
    """
    rng = rng or random.Random()
    verdict = Verdict("retry", "transport")
    for attempt in range(1, backoff.max_attempts + 1):
        try:
            response = await client.send(build())
            verdict = classify(response)
        except httpx.HTTPError as exc:
            verdict = classify(None, exc)
        on_attempt(verdict)
        if verdict.outcome != "retry":
            return Result(verdict, attempt)
        if attempt < backoff.max_attempts:
            await sleep(backoff.delay(attempt, verdict.retry_after, rng))
    return Result(verdict, backoff.max_attempts)
