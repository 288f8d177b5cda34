"""A small ASGI application base: exact routes, capped bodies, problem+json errors.

Intake and the page sink serve through it on uvicorn (uvloop + httptools), started as a
task on the service's own event loop so the Kafka producer shares that loop.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog

from .metrics import ServiceMetrics
from .openapi import ApiDocument, describe_common
from .problems import PROBLEM_JSON, Problem

log = structlog.get_logger(__name__)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass
class Request:
    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes
    params: dict[str, str] = field(default_factory=dict)
    query: str = ""
    """The raw query string (after ``?``), undecoded; most routes ignore it."""


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Request], Awaitable[Response]]


def problem_response(problem: Problem, instance: str | None = None) -> Response:
    return Response(problem.status, problem.body(instance), PROBLEM_JSON, problem.headers)


class HttpApp:
    """Routes by method and path pattern (``{name}`` matches one path segment)."""

    def __init__(self, metrics: ServiceMetrics, max_body_bytes: int) -> None:
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes
        self._exact: dict[tuple[str, str], Handler] = {}
        self._patterns: list[tuple[str, re.Pattern[str], Handler]] = []
        self._templates: set[tuple[str, str]] = set()
        self.ready: Callable[[], Awaitable[list[str]]] = _always_ready
        self.api = ApiDocument(metrics.service)
        """The OpenAPI document at ``/openapi.json``: who adds a route documents it here."""
        self.route("GET", "/healthz", self._healthz)
        self.route("GET", "/readyz", self._readyz)
        self.route("GET", "/metrics", self._metrics)
        self.route("GET", "/openapi.json", self._openapi)
        describe_common(self.api)

    def routes(self) -> set[tuple[str, str]]:
        """Every (method, path template) served, as the OpenAPI document must list them."""
        return set(self._templates)

    def route(self, method: str, path: str, handler: Handler) -> None:
        self._templates.add((method, path))
        if "{" not in path:
            self._exact[(method, path)] = handler
            return
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path)
        self._patterns.append((method, re.compile(f"^{regex}$"), handler))

    def _find(self, method: str, path: str) -> tuple[Handler | None, dict[str, str], bool]:
        handler = self._exact.get((method, path))
        if handler is not None:
            return handler, {}, True
        path_known = any(p == path for _, p in self._exact)
        for pattern_method, pattern, candidate in self._patterns:
            match = pattern.match(path)
            if match:
                path_known = True
                if pattern_method == method:
                    return candidate, match.groupdict(), True
        return None, {}, path_known

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        method, path = scope["method"], scope["path"]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        handler, params, path_known = self._find(method, path)
        try:
            if handler is None:
                status = 405 if path_known else 404
                raise Problem(
                    status,
                    "not-found" if status == 404 else "method-not-allowed",
                    f"{method} {path} is not served here",
                )
            body = await self._read_body(headers, receive)
            query = scope.get("query_string", b"").decode("latin-1")
            response = await handler(Request(method, path, headers, body, params, query))
        except Problem as problem:
            response = problem_response(problem, path)
        except Exception:
            log.exception("http.handler_failed", method=method, path=path)
            response = problem_response(Problem(500, "internal", "unexpected error; see logs"))
        await _send(send, response)

    async def _read_body(self, headers: Mapping[str, str], receive: Receive) -> bytes:
        limit = self.max_body_bytes
        declared = headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise Problem(413, "body-too-large", f"body is {declared} bytes; the limit is {limit}")
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise Problem(400, "disconnected", "client went away before the body ended")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise Problem(413, "body-too-large", f"body exceeds the limit of {limit} bytes")
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _healthz(self, request: Request) -> Response:
        return Response(200, b'{"status":"ok"}')

    async def _readyz(self, request: Request) -> Response:
        from escalation.schemas import codec

        problems = await self.ready()
        return Response(
            503 if problems else 200,
            codec.dumps({"status": "not ready" if problems else "ready", "problems": problems}),
        )

    async def _openapi(self, request: Request) -> Response:
        from escalation.schemas import codec

        return Response(200, codec.dumps(self.api.render()))

    async def _metrics(self, request: Request) -> Response:
        body, content_type = self.metrics.exposition()
        return Response(200, body, content_type)


async def _always_ready() -> list[str]:
    return []


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _send(send: Send, response: Response) -> None:
    headers = [
        (b"content-type", response.content_type.encode()),
        (b"content-length", str(len(response.body)).encode()),
    ]
    headers += [(k.encode(), v.encode()) for k, v in response.headers.items()]
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})


async def serve(app: HttpApp, host: str, port: int, stop: asyncio.Event) -> None:
    """Serve ``app`` on uvicorn until ``stop`` is set."""
    import uvicorn

    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="none",
        http="httptools",
        lifespan="off",
        access_log=False,
        log_config=None,
        server_header=False,
        date_header=False,
        # No X-Forwarded-* rewriting: nothing here reads the client address or scheme,
        # and the middleware ran on every request.
        proxy_headers=False,
    )
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    await stop.wait()
    server.should_exit = True
    await task
