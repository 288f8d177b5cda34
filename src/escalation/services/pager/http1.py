"""A target's POST over HTTP/1.1 keep-alive connections, parsed by httptools (llhttp).

A page is one small POST with a body and headers made by its target: no cookies,
redirects, proxies, compression or streaming. aiohttp's client does all of these per
request (a ``ClientRequest`` with its header normalisation, payload object, timer
contexts, a response object and its stream reader), which cost about 120 us of CPU per
POST on this project's 2-core machine at four concurrent requests to a local receiver;
writing the request in one buffer on a pooled connection and reading the answer with
httptools (the parser uvicorn uses, already a dependency) costs about 30-45 us.
aiohttp still carries every request that comes as an ``httpx.Request``.

What does not change (``transport.py``): every new connection resolves the host through
``resolve_allowed`` (the outbound rules, no DNS cache) and connects to the checked
address, TLS verifying the certificate against the name; nothing is followed; each
phase has a timeout; errors are httpx's, so ``delivery.classify`` reads them as before.
A header name or value with a line break is refused (ValueError), as aiohttp does.
A connection reused from the pool that closes before any answer (the receiver dropped
it while idle) is retried once on a new one, as the page carries its webhook-id.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import Mapping

import httptools
import httpx
from multidict import CIMultiDict
from yarl import URL

from escalation.policy.outbound import OutboundRules

from .outbound import resolve_allowed

IDLE_PER_HOST = 100
"""Idle connections kept per host at most."""


class _Stale(Exception):
    """A reused connection closed before any byte of the answer."""


class _Connection(asyncio.Protocol):
    """One connection; one exchange at a time."""

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[tuple[int, CIMultiDict[str], bytes]] | None = None
        self.headers: CIMultiDict[str] = CIMultiDict()
        self.body: list[bytes] = []
        self.answered = False
        self.heard = False
        self.open = False
        self.reusable = False
        self.idle_since = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.open = True

    def send(self, data: bytes) -> asyncio.Future[tuple[int, CIMultiDict[str], bytes]]:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.headers, self.body, self.heard, self.answered = CIMultiDict(), [], False, False
        self.reusable = False
        self.transport.write(data)
        return self.waiter

    def data_received(self, data: bytes) -> None:
        self.heard = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(httpx.RemoteProtocolError(f"{type(exc).__name__}: {exc}"))
            self.close()

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.add(name.decode("latin-1"), value.decode("latin-1"))

    def on_headers_complete(self) -> None:
        self.answered = True

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.reusable = self.parser.should_keep_alive()
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result((self.parser.get_status_code(), self.headers, b"".join(self.body)))

    def connection_lost(self, exc: Exception | None) -> None:
        self.open = False
        waiter = self.waiter
        if waiter is None or waiter.done():
            return
        framed = "content-length" in self.headers or "transfer-encoding" in self.headers
        if self.answered and not framed:  # a body that ends with the connection
            waiter.set_result((self.parser.get_status_code(), self.headers, b"".join(self.body)))
        elif not self.heard:
            waiter.set_exception(_Stale())
        else:
            self._fail(httpx.RemoteProtocolError("the receiver closed the connection mid-answer"))

    def time_out(self, within: float) -> None:
        self._fail(httpx.ReadTimeout(f"no answer within {within:.1f} s"))

    def _fail(self, error: Exception) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(error)

    def close(self) -> None:
        self.open = False
        if self.transport is not None:
            self.transport.close()


def _head(url: URL, headers: Mapping[str, str], length: int) -> bytes:
    """The request line and headers; a line break in a header is refused."""
    host = url.host or ""
    if ":" in host:
        host = f"[{host}]"
    if not url.is_default_port():
        host = f"{host}:{url.port}"
    lines = [f"POST {url.raw_path_qs or '/'} HTTP/1.1\r\nHost: {host}\r\n"]
    for name, value in headers.items():
        if "\r" in name or "\n" in name or "\r" in value or "\n" in value:
            raise ValueError(f"header {name!r} has a line break")
        lines.append(f"{name}: {value}\r\n")
    lines.append(f"Content-Length: {length}\r\n\r\n")
    return "".join(lines).encode("latin-1")


class Http1:
    """Pooled HTTP/1.1 connections per (scheme, host, port), made on demand."""

    def __init__(self, rules: OutboundRules, context: ssl.SSLContext, keepalive: float) -> None:
        self.rules = rules
        self.context = context
        self.keepalive = keepalive
        self.idle: dict[tuple[str, str, int], list[_Connection]] = {}

    async def post(
        self, url: URL, body: bytes, headers: Mapping[str, str], within: float
    ) -> tuple[int, CIMultiDict[str], bytes]:
        """``body`` posted to ``url``; the answer's status, headers and body, read whole."""
        data = _head(url, headers, len(body)) + body
        where = (url.scheme, url.host or "", url.port or 0)
        connection = self._take(where)
        if connection is not None:
            try:
                return await self._exchange(connection, data, where, within)
            except _Stale:
                pass  # dropped while idle: once more on a new connection
        connection = await self._connect(url, within)
        try:
            return await self._exchange(connection, data, where, within)
        except _Stale as exc:
            raise httpx.RemoteProtocolError(
                "the receiver closed the connection unanswered"
            ) from exc

    def _take(self, where: tuple[str, str, int]) -> _Connection | None:
        pool = self.idle.get(where)
        now = time.monotonic()
        while pool:
            connection = pool.pop()
            if connection.open and now - connection.idle_since < self.keepalive:
                return connection
            connection.close()
        return None

    async def _connect(self, url: URL, within: float) -> _Connection:
        host, port = url.host or "", url.port or 0
        address = await resolve_allowed(host, port, self.rules, within)
        tls = url.scheme == "https"
        loop = asyncio.get_running_loop()
        try:
            _, connection = await asyncio.wait_for(
                loop.create_connection(
                    _Connection,
                    address,
                    port,
                    ssl=self.context if tls else None,
                    server_hostname=host if tls else None,
                ),
                within,
            )
        except TimeoutError as exc:
            raise httpx.ConnectTimeout(f"connecting to {host}:{port} timed out") from exc
        except OSError as exc:
            raise httpx.ConnectError(f"{host}:{port}: {exc}") from exc
        return connection

    async def _exchange(
        self, connection: _Connection, data: bytes, where: tuple[str, str, int], within: float
    ) -> tuple[int, CIMultiDict[str], bytes]:
        waiter = connection.send(data)
        # A timer on the answer itself: asyncio.wait_for would add a future and callbacks.
        timer = asyncio.get_running_loop().call_later(within, connection.time_out, within)
        try:
            answer = await waiter
        except BaseException:
            connection.close()
            raise
        finally:
            timer.cancel()
        if connection.reusable and connection.open:
            connection.idle_since = time.monotonic()
            pool = self.idle.setdefault(where, [])
            if len(pool) < IDLE_PER_HOST:
                pool.append(connection)
                return answer
        connection.close()
        return answer

    async def aclose(self) -> None:
        for pool in self.idle.values():
            for connection in pool:
                connection.close()
        self.idle.clear()
        with contextlib.suppress(Exception):
            await asyncio.sleep(0)
