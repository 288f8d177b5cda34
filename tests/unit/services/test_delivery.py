import asyncio
import random

import httpx
import pytest

from escalation.services.pager.delivery import Backoff, classify, deliver


@pytest.mark.parametrize(
    ("status", "outcome", "reason"),
    [
        (200, "delivered", "ok"),
        (204, "delivered", "ok"),
        (400, "rejected", "http_4xx"),
        (401, "rejected", "http_4xx"),
        (404, "rejected", "http_4xx"),
        (429, "retry", "http_429"),
        (500, "retry", "http_5xx"),
        (503, "retry", "http_5xx"),
        (501, "rejected", "http_5xx"),
        (408, "retry", "http_4xx"),
    ],
)
def test_every_answer_is_classified(status, outcome, reason):
    verdict = classify(httpx.Response(status))
    assert (verdict.outcome, verdict.reason) == (outcome, reason)


def test_transport_errors_are_retried():
    request = httpx.Request("POST", "http://127.0.0.1:9/")
    assert classify(None, httpx.ConnectError("refused", request=request)).reason == "connect"
    assert classify(None, httpx.ReadTimeout("slow", request=request)).reason == "timeout"


def test_retry_after_is_honoured_up_to_the_cap():
    verdict = classify(httpx.Response(429, headers={"retry-after": "7"}))
    backoff = Backoff(base=0.5, cap=5.0)
    assert verdict.retry_after == 7
    assert backoff.delay(1, verdict.retry_after, random.Random(1)) == 5.0


def test_backoff_has_a_floor_of_half_its_step_and_grows_to_the_cap():
    backoff = Backoff(base=0.5, cap=4.0)
    rng = random.Random(7)
    for attempt, step in ((1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (9, 4.0)):
        delays = [backoff.delay(attempt, None, rng) for _ in range(200)]
        assert step / 2 <= min(delays) and max(delays) <= step


class Clock:
    """Time that moves only when the retry loop sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def run(answers, attempts=4, deadline=100.0, halted=lambda: None):
    clock = Clock()
    timeouts: list[float] = []

    async def attempt(within: float):
        timeouts.append(within)
        answer = answers(len(timeouts))
        return classify(answer) if isinstance(answer, httpx.Response) else classify(None, answer)

    result = asyncio.run(
        deliver(
            attempt,
            Backoff(base=0.1, cap=1.0, max_attempts=attempts, attempt_timeout=5.0),
            deadline,
            halted=halted,
            sleep=clock.sleep,
            clock=clock,
            rng=random.Random(0),
        )
    )
    return result, clock.sleeps, timeouts


def test_transient_failures_are_retried_until_delivered():
    result, sleeps, _ = run(lambda n: httpx.Response(503 if n < 3 else 204))
    assert result.verdict.outcome == "delivered"
    assert result.attempts == 3
    assert len(sleeps) == 2


def test_rejection_stops_at_once():
    result, sleeps, _ = run(lambda n: httpx.Response(400))
    assert (result.verdict.outcome, result.attempts, sleeps) == ("rejected", 1, [])


def test_attempts_are_bounded():
    result, sleeps, _ = run(lambda n: httpx.Response(500), attempts=3)
    assert (result.verdict.outcome, result.attempts, len(sleeps)) == ("retry", 3, 2)
    assert result.verdict.detail == "HTTP 500; gave up after 3 attempt(s): out of attempts"


def test_retry_after_sets_the_wait():
    result, sleeps, _ = run(
        lambda n: (
            httpx.Response(429, headers={"retry-after": "1"}) if n == 1 else httpx.Response(200)
        )
    )
    assert result.verdict.outcome == "delivered" and sleeps == [1.0]


def test_the_deadline_stops_retries_and_bounds_each_attempt():
    request = httpx.Request("POST", "http://sink.test/")
    result, sleeps, timeouts = run(
        lambda n: httpx.ConnectError("refused", request=request), attempts=100, deadline=1.2
    )
    assert result.verdict.outcome == "retry"
    assert result.verdict.detail.endswith("out of deadline")
    assert sum(sleeps) < 1.2
    assert timeouts[0] == 1.2, "an attempt never runs past the deadline"
    assert all(t <= 1.2 for t in timeouts)


def test_an_open_circuit_stops_before_the_next_attempt():
    state = {"n": 0}

    def halted():
        return "circuit open" if state["n"] >= 2 else None

    def answers(n):
        state["n"] = n
        return httpx.Response(503)

    result, _, _ = run(answers, attempts=10, halted=halted)
    assert (result.verdict.outcome, result.verdict.reason, result.attempts) == (
        "rejected",
        "circuit_open",
        2,
    )
    assert "last: HTTP 503" in result.verdict.detail
