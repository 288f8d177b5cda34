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
    assert 0 <= backoff.delay(3, None, random.Random(1)) <= 2.0


def run(handler, attempts=4):
    sleeps = []
    seen_ids = []

    def transport(request):
        seen_ids.append(request.headers["webhook-id"])
        return handler(len(seen_ids))

    async def sleep(seconds):
        sleeps.append(seconds)

    async def go():
        async with httpx.AsyncClient(transport=httpx.MockTransport(transport)) as client:
            return await deliver(
                client,
                lambda: httpx.Request(
                    "POST", "http://sink.test/pages", headers={"webhook-id": "msg_1"}
                ),
                Backoff(base=0.1, cap=1.0, max_attempts=attempts),
                sleep=sleep,
                rng=random.Random(0),
            )

    import asyncio

    return asyncio.run(go()), sleeps, seen_ids


def test_transient_failures_are_retried_with_the_same_id():
    result, sleeps, ids = run(lambda n: httpx.Response(503 if n < 3 else 204))
    assert result.verdict.outcome == "delivered"
    assert result.attempts == 3
    assert len(sleeps) == 2
    assert set(ids) == {"msg_1"}


def test_rejection_stops_at_once():
    result, sleeps, _ = run(lambda n: httpx.Response(400))
    assert (result.verdict.outcome, result.attempts, sleeps) == ("rejected", 1, [])


def test_attempts_are_bounded():
    result, sleeps, ids = run(lambda n: httpx.Response(500), attempts=3)
    assert (result.verdict.outcome, result.attempts, len(ids), len(sleeps)) == ("retry", 3, 3, 2)
