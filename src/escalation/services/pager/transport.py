"""The pager's HTTP transport: aiohttp's client on the wire, httpx's errors out of it.

Every target builds a :class:`Post` (its URL parsed once per target, its body and
headers), sent over ``http1.py``'s pooled connections, and ``delivery.classify`` reads an
:class:`Answer` (status, headers, body) or an httpx error; the transport also serves as
an httpx transport (``handle_async_request``) for callers that hold an
``httpx.Request``, over aiohttp. What carries the request is aiohttp's
connection pool and C parser, without httpx's client around it (its cookie jar alone
parsed every answer). Measured on this project's 2-core machine, at four concurrent
POSTs to a local receiver: 560-615 us of CPU per request through httpx's client and
httpcore (anyio cancel scopes and locks, h11 in pure Python), 260-280 us through httpx's
client over this transport, 80-85 us through aiohttp alone. Building an
``httpx.Request`` and ``httpx.Response`` per page (header normalisation, byte streams)
cost about as much again as aiohttp's request, so a page's POST carries neither.

The guard is the same as before (``outbound.py``): every new connection resolves the
name through :class:`GuardedResolver`, which refuses it when any address is not
allowed and hands aiohttp the checked address only (no DNS cache, so a rebinding is
caught on the next connection); TLS still verifies the certificate against the name.
aiohttp never asks the resolver about an address literal, so a URL's literal host is
checked before the request (once per host: the rules do not change).
No redirects are followed, no proxy from the environment is used, and aiohttp's errors
become httpx's, so the classification of every answer is unchanged.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp
import httpx
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from escalation.policy.outbound import OutboundRules

from .http1 import Http1
from .outbound import resolve_allowed

RESOLVE_SECONDS = 10.0
"""How long a name may take to resolve when the request gives no connect timeout."""


JSON_HEADERS = {"content-type": "application/json", "user-agent": "escalation-pager/1"}


@dataclass(frozen=True)
class Post:
    """One POST a target makes: ``url`` already encoded (parsed once per target)."""

    url: URL
    content: bytes
    headers: Mapping[str, str]


@dataclass(frozen=True)
class Answer:
    """A receiver's answer, read whole: what ``delivery.classify`` reads of it."""

    status_code: int
    headers: Mapping[str, str]
    """Case-insensitive (aiohttp's multidict)."""
    content: bytes


class GuardedResolver(AbstractResolver):
    """aiohttp's resolver: only allowed addresses, or ``OutboundRefused`` (not an OSError,
    so aiohttp lets it through unchanged and the attempt is rejected, never retried)."""

    def __init__(self, rules: OutboundRules) -> None:
        self.rules = rules

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        address = await resolve_allowed(host, port, self.rules, RESOLVE_SECONDS)
        return [
            {
                "hostname": host,
                "host": address,
                "port": port,
                "family": socket.AF_INET6 if ":" in address else socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
        ]

    async def close(self) -> None:
        return None


def _timeout(request: httpx.Request, default: float) -> aiohttp.ClientTimeout:
    """httpx's per-phase timeouts (the request's extension, else ``default``) as aiohttp's."""
    phases: dict[str, float | None] = request.extensions.get("timeout") or (
        httpx.Timeout(default).as_dict()
    )
    pool, connect = phases.get("pool"), phases.get("connect")
    both = None if pool is None or connect is None else pool + connect
    return aiohttp.ClientTimeout(connect=both, sock_connect=connect, sock_read=phases.get("read"))


class AiohttpTransport(httpx.AsyncBaseTransport):
    """An httpx transport over one aiohttp session, made on first use (in the loop).

    Its answer is read whole: the response's ``content`` is there without ``aread``.
    """

    def __init__(
        self,
        rules: OutboundRules,
        context: ssl.SSLContext,
        timeout: float,
        keepalive: float = 5.0,
    ) -> None:
        self.rules = rules
        self.context = context
        self.timeout = timeout
        self.keepalive = keepalive
        self.session: aiohttp.ClientSession | None = None
        self.literals: set[str] = set()
        """Address-literal hosts already found allowed."""
        self.http1: Http1 | None = None

    def _session(self) -> aiohttp.ClientSession:
        if self.session is None or self.session.closed:
            connector = aiohttp.TCPConnector(
                ssl=self.context,
                resolver=GuardedResolver(self.rules),
                use_dns_cache=False,
                limit=100,
                keepalive_timeout=self.keepalive,
            )
            self.session = aiohttp.ClientSession(
                connector=connector,
                auto_decompress=False,  # httpx decodes the body by its content-encoding
                trust_env=False,
                skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding"),
            )
        return self.session

    async def _check_literal(self, host: str | None, port: int | None) -> None:
        if host is None or host in self.literals:
            return
        try:
            ipaddress.ip_address(host)
        except ValueError:
            return  # a name: the resolver checks it on every new connection
        await resolve_allowed(host, port or 0, self.rules, RESOLVE_SECONDS)
        self.literals.add(host)

    async def post(self, post: Post, within: float) -> Answer:
        """``post`` sent, its answer read whole within ``within`` seconds per phase.

        A target's POST goes over ``http1.Http1`` (pooled connections, httptools), not
        aiohttp's request machinery: the same guard, timeouts and errors for less CPU.
        """
        if self.http1 is None:
            self.http1 = Http1(self.rules, self.context, self.keepalive)
        status, headers, content = await self.http1.post(
            post.url, post.content, post.headers, within
        )
        return Answer(status, headers, content)

    async def _send(
        self,
        method: str,
        url: URL,
        body: bytes,
        headers: Mapping[str, str] | list[tuple[str, str]],
        phases: aiohttp.ClientTimeout,
        request: httpx.Request | None = None,
    ) -> Answer:
        try:
            async with self._session().request(
                method, url, data=body, headers=headers, allow_redirects=False, timeout=phases
            ) as answer:
                content = await answer.read()
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise _timed_out(exc, request) from exc
        except aiohttp.ClientConnectorError as exc:
            raise httpx.ConnectError(str(exc), request=request) from exc
        except aiohttp.ClientError as exc:
            raise httpx.NetworkError(f"{type(exc).__name__}: {exc}", request=request) from exc
        return Answer(answer.status, answer.headers, content)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        await self._check_literal(url.host, url.port)
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw]
        answer = await self._send(
            request.method,
            URL(str(url), encoded=True),  # as httpx encoded it, not again
            request.content,
            headers,
            _timeout(request, self.timeout),
            request,
        )
        return httpx.Response(
            answer.status_code,
            headers=list(answer.headers.items()),
            content=answer.content,
            request=request,
        )

    async def aclose(self) -> None:
        if self.http1 is not None:
            await self.http1.aclose()
        if self.session is not None:
            await self.session.close()


def _timed_out(exc: BaseException, request: httpx.Request | None) -> httpx.TimeoutException:
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(str(exc) or "connect timed out", request=request)
    return httpx.ReadTimeout(str(exc) or "timed out", request=request)
