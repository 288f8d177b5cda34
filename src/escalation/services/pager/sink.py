"""A local page receiver for the embedded stack: verifies signatures and prints each page.

Also serves ``GET /pages`` (every verified page, in arrival order) so tests and the demo
can read what arrived. Deliveries with a webhook-id already seen are acknowledged and
not printed again, as a Standard Webhooks receiver should.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from typing import Any

import structlog

from escalation.schemas import codec
from escalation.services.common.http import HttpApp, Request, Response, serve
from escalation.services.common.metrics import ServiceMetrics
from escalation.services.common.problems import Problem

from .signing import SignatureError, verify

log = structlog.get_logger(__name__)


def render(page: dict[str, Any]) -> str:
    customer = page.get("customer") or {}
    lines = [
        f"PAGE [{page.get('type')}] level {page.get('level')}  {page.get('escalation_id')}",
        f"  why:      {page.get('reason')}",
        f"  customer: {customer.get('id')} ({customer.get('tier')})  issue: "
        f"{page.get('issue_key') or page.get('category')} {page.get('product') or ''}".rstrip(),
        f"  owner:    {page.get('owner')} (team {page.get('team')})",
        f"  contacts: {', '.join(page.get('contacts') or [])}",
    ]
    if page.get("summary"):
        lines.append(f"  summary:  {page['summary']}")
    lines.append(f"  ack:      curl -X POST {page.get('ack_url')}")
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
        page = codec.loads_plain(request.body)
        self.seen.add(msg_id)
        self.pages.append({"webhook_id": msg_id, "verified": True, "page": page})
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
