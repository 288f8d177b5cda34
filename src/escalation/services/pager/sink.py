"""A local page receiver for the embedded stack: verifies, validates and prints each page.

After the signature, the body is validated against ``WebhookPage`` (the contract's page
model): a page that drifts from the contract is refused, and the tests that read pages
here fail. ``GET /pages`` lists every accepted page as sent, in arrival order. A
webhook-id already seen is acknowledged and not printed again, as a Standard Webhooks
receiver should.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from typing import Any

import structlog

from escalation.schemas import WebhookPage, codec
from escalation.services.common.http import HttpApp, Request, Response, serve
from escalation.services.common.metrics import ServiceMetrics
from escalation.services.common.problems import Problem

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
    lines.append(f"  ack:      {page.ack_url}")
    return "\n".join(lines)


class PageSink:
    def __init__(self, secret: str, out: Any = sys.stdout) -> None:
        self.secret = secret
        self.out = out
        self.pages: list[dict[str, Any]] = []
        self.seen: set[str] = set()
        self.metrics = ServiceMetrics("sink")

    async def receive(self, request: Request) -> Response:
        try:
            msg_id = verify(self.secret, dict(request.headers), request.body, int(time.time()))
        except SignatureError as exc:
            log.warning("sink.rejected", error=str(exc))
            raise Problem(401, "bad-signature", str(exc)) from exc
        if msg_id in self.seen:
            return Response(204)
        try:
            page = codec.decode(WebhookPage, request.body)
        except codec.DecodeError as exc:
            log.warning("sink.invalid_page", webhook_id=msg_id, error=exc.detail)
            if exc.kind == "malformed":
                raise Problem(400, "malformed-json", exc.detail) from exc
            raise Problem(422, "schema-violation", exc.detail, exc.errors) from exc
        self.seen.add(msg_id)
        sent = codec.loads_plain(request.body)
        self.pages.append({"webhook_id": msg_id, "verified": True, "page": sent})
        print(render(page), file=self.out, flush=True)
        return Response(204)

    async def list_pages(self, request: Request) -> Response:
        return Response(200, codec.dumps(self.pages))

    def http(self) -> HttpApp:
        app = HttpApp(self.metrics, 1024 * 1024)
        app.route("POST", "/pages", self.receive)
        app.route("GET", "/pages", self.list_pages)
        return app


async def run(host: str, port: int, secret: str) -> None:
    sink = PageSink(secret)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info("sink.listening", url=f"http://{host}:{port}/pages")
    await serve(sink.http(), host, port, stop)
