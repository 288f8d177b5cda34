"""The bench's page receiver: verifies every delivery's signature and page model, and
records each one.

``python -m bench.receiver PORT`` (secret in ``BENCH_PAGE_SECRET``). Unlike the stack's
page sink, which acknowledges a repeated webhook-id without listing it again, this
receiver records every delivery, repeats included, with its arrival time on the
system-wide monotonic clock (``time.monotonic`` is CLOCK_MONOTONIC, the same in every
process), so the bench can match pages to the send times of their contacts and count
duplicates. ``POST /delay`` (body: milliseconds) makes each answer wait that long, to
play a slow receiver. ``GET /deliveries/N`` returns the deliveries from the N-th on.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time

from escalation.schemas import WebhookPage, codec
from escalation.services.common.http import HttpApp, Request, Response, serve
from escalation.services.common.metrics import ServiceMetrics
from escalation.services.common.problems import Problem
from escalation.services.common.runner import run_async
from escalation.services.pager.signing import SignatureError, verify


class Receiver:
    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.delay = 0.0
        self.deliveries: list[dict[str, object]] = []
        self.seen: set[str] = set()
        self.rejected = 0

    async def receive(self, request: Request) -> Response:
        try:
            webhook_id = verify(self.secret, dict(request.headers), request.body, int(time.time()))
        except SignatureError as exc:
            self.rejected += 1
            raise Problem(401, "bad-signature", str(exc)) from exc
        arrived = time.monotonic()
        try:
            page = codec.decode(WebhookPage, request.body)
        except codec.DecodeError as exc:
            self.rejected += 1
            raise Problem(422, "schema-violation", exc.detail) from exc
        self.deliveries.append(
            {
                "at": arrived,
                "webhook_id": webhook_id,
                "repeat": webhook_id in self.seen,
                "type": page.type,
                "contacts": page.contacts,
            }
        )
        self.seen.add(webhook_id)
        if self.delay:
            await asyncio.sleep(self.delay)
        return Response(204)

    async def list_deliveries(self, request: Request) -> Response:
        since = int(request.params.get("since", "0"))
        body = {"deliveries": self.deliveries[since:], "rejected": self.rejected}
        return Response(200, codec.dumps(body))

    async def set_delay(self, request: Request) -> Response:
        self.delay = float(request.body or b"0") / 1000
        return Response(204)

    def http(self) -> HttpApp:
        app = HttpApp(ServiceMetrics("bench_receiver"), 1024 * 1024)
        app.route("POST", "/pages", self.receive)
        app.route("GET", "/deliveries", self.list_deliveries)
        app.route("GET", "/deliveries/{since}", self.list_deliveries)
        app.route("POST", "/delay", self.set_delay)
        return app


async def run(port: int, secret: str) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await serve(Receiver(secret).http(), "127.0.0.1", port, stop)


if __name__ == "__main__":
    run_async(run(int(sys.argv[1]), os.environ["BENCH_PAGE_SECRET"]))
