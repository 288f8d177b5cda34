"""A local page receiver for the embedded stack: verifies, validates and prints each page.

After the signature, the body is validated against ``WebhookPage`` (the contract's page
model): a page that drifts from the contract is refused, and the tests that read pages
here fail. Every delivery is recorded, repeats and refusals included (``receipts.py``):
a repeat of a webhook-id is acknowledged and not printed as a new page, as a Standard
Webhooks receiver should, but it is counted. ``GET /pages`` lists each accepted page
once, as sent, with its ``deliveries`` count; ``GET /deliveries`` lists every delivery
in arrival order with the totals (distinct pages, deliveries, duplicate and rejected
deliveries), so a test can tell a page delivered twice from two pages.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from typing import Any

import structlog
from prometheus_client import Counter

from escalation.schemas import WebhookPage, codec
from escalation.services.common.http import HttpApp, Request, Response, serve
from escalation.services.common.metrics import ServiceMetrics
from escalation.services.common.problems import Problem

from .receipts import DeliveryLog
from .signing import SignatureError, verify

log = structlog.get_logger(__name__)


def render(page: WebhookPage) -> str:
    lines = [
        f"PAGE [{page.type}] level {page.level}  {page.escalation_id}",
        f"  why:      {page.reason}",
        f"  customer: {page.customer.id} ({page.customer.tier})  issue: "
        f"{page.issue_key or page.category} {page.product or ''}".rstrip(),
        f"  owner:    {page.owner} (team {page.team})",
        f"  contacts: {', '.join(page.contacts)}",
    ]
    if page.summary:
        lines.append(f"  summary:  {page.summary}")
    if page.affected is not None:
        affected = page.affected
        lines.append(
            f"  affected: {affected.customer_count} customers, {affected.issue_count} issues: "
            + ", ".join(affected.customers)
        )
    lines.append(f"  ack:      {page.ack_url}")
    return "\n".join(lines)


class PageSink:
    def __init__(self, secret: str, out: Any = sys.stdout) -> None:
        self.secret = secret
        self.out = out
        self.log = DeliveryLog()
        self.metrics = ServiceMetrics("sink")
        self.received = Counter(
            "escalation_sink_deliveries_total",
            "Deliveries received: first of a webhook-id, duplicate, or rejected.",
            ["result"],
            registry=self.metrics.registry,
        )

    async def receive(self, request: Request) -> Response:
        headers = dict(request.headers)
        try:
            msg_id = verify(self.secret, headers, request.body, int(time.time()))
        except SignatureError as exc:
            log.warning("sink.rejected", error=str(exc))
            self._refused(headers.get("webhook-id"), str(exc), verified=False)
            raise Problem(401, "bad-signature", str(exc)) from exc
        try:
            page = codec.decode(WebhookPage, request.body)
        except codec.DecodeError as exc:
            log.warning("sink.invalid_page", webhook_id=msg_id, error=exc.detail)
            self._refused(msg_id, exc.detail, verified=True)
            if exc.kind == "malformed":
                raise Problem(400, "malformed-json", exc.detail) from exc
            raise Problem(422, "schema-violation", exc.detail, exc.errors) from exc
        delivery = self.log.record(msg_id, codec.loads_plain(request.body))
        if delivery.duplicate:
            self.received.labels("duplicate").inc()
            repeat = f"REPEAT {msg_id}: delivery {self.log.count(msg_id)} of a page shown above"
            print(repeat, file=self.out, flush=True)
        else:
            self.received.labels("first").inc()
            print(render(page), file=self.out, flush=True)
        return Response(204)

    def _refused(self, webhook_id: str | None, error: str, verified: bool) -> None:
        self.log.record(webhook_id, None, error=error, verified=verified)
        self.received.labels("rejected").inc()

    async def list_pages(self, request: Request) -> Response:
        return Response(200, codec.dumps(self.log.pages()))

    async def list_deliveries(self, request: Request) -> Response:
        body = {"totals": self.log.totals(), "deliveries": self.log.every_delivery()}
        return Response(200, codec.dumps(body))

    def http(self) -> HttpApp:
        app = HttpApp(self.metrics, 1024 * 1024)
        app.route("POST", "/pages", self.receive)
        app.route("GET", "/pages", self.list_pages)
        app.route("GET", "/deliveries", self.list_deliveries)
        return app


async def run(host: str, port: int, secret: str) -> None:
    sink = PageSink(secret)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info("sink.listening", url=f"http://{host}:{port}/pages")
    await serve(sink.http(), host, port, stop)
