"""The pager's connections out: only to addresses the rules allow, never redirected, timed.

A target's host is checked when the policy loads (``policy.outbound``), but a name can
resolve to anything, and to something else later (DNS rebinding). So every connection
resolves the name itself, refuses it when any of its addresses is not allowed, and
connects to the checked address, while TLS still verifies the certificate against the
name. HTTP goes through an httpx transport whose network backend does this; SMTP gets
a socket connected the same way. Proxies from the environment are not used: they
would connect on the pager's behalf, past the check.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpcore
import httpx

from escalation.policy.outbound import OutboundRules


class OutboundRefused(Exception):
    """A target's address is not one pages may go to; a rejection, never retried."""


async def resolve_allowed(host: str, port: int, rules: OutboundRules, within: float) -> str:
    """The address to connect to for ``host``; OutboundRefused when any is not allowed."""
    loop = asyncio.get_running_loop()
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
        addresses = [str(literal)]
    except ValueError:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), within
        )
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    for address in addresses:
        refusal = rules.refusal(ipaddress.ip_address(address.split("%")[0]))
        if refusal is not None:
            raise OutboundRefused(f"{host} may not be paged: {refusal}")
    if not addresses:
        raise OSError(f"{host} has no address")
    return addresses[0]


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, connecting only to allowed addresses."""

    def __init__(self, rules: OutboundRules) -> None:
        self.rules = rules
        self.inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's signature
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        address = await resolve_allowed(host, port, self.rules, timeout or 10.0)
        return await self.inner.connect_tcp(address, port, timeout, local_address, socket_options)

    async def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore.AsyncNetworkStream:
        raise OutboundRefused("pages are not sent over unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


def tls_context(ca_file: Path | None) -> ssl.SSLContext:
    """The system's trust, plus ``ca_file`` when given (a private CA, a test's own)."""
    context = ssl.create_default_context()
    if ca_file is not None:
        context.load_verify_locations(cafile=str(ca_file))
    return context


class GuardedTransport(httpx.AsyncHTTPTransport):
    def __init__(self, rules: OutboundRules, context: ssl.SSLContext) -> None:
        super().__init__(verify=context, trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=context,
            max_connections=100,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=GuardedBackend(rules),
        )


def http_client(rules: OutboundRules, context: ssl.SSLContext, timeout: float) -> httpx.AsyncClient:
    """The pager's one HTTP client: guarded, no redirects, a timeout on everything."""
    return httpx.AsyncClient(
        transport=GuardedTransport(rules, context),
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,
        trust_env=False,
    )


async def smtp_socket(host: str, port: int, rules: OutboundRules, within: float) -> socket.socket:
    """A socket connected to an allowed address of ``host``, for aiosmtplib's ``sock``."""
    address = await resolve_allowed(host, port, rules, within)
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        connect = asyncio.get_running_loop().sock_connect(sock, (address, port))
        await asyncio.wait_for(connect, within)
    except BaseException:
        sock.close()
        raise
    return sock
