"""The pager's connections out: only to addresses the rules allow, never redirected, timed.

A target's host is checked when the policy loads (``policy.outbound``), but a name can
resolve to anything, and to something else later (DNS rebinding). So every connection
resolves the name itself, refuses it when any of its addresses is not allowed, and
connects to the checked address, while TLS still verifies the certificate against the
name. HTTP goes through the pager's transport, whose resolver does this
(``transport.py``); SMTP gets a socket connected the same way. Proxies from the
environment are not used: they would connect on the pager's behalf, past the check.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from pathlib import Path

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


def tls_context(ca_file: Path | None) -> ssl.SSLContext:
    """The system's trust, plus ``ca_file`` when given (a private CA, a test's own)."""
    context = ssl.create_default_context()
    if ca_file is not None:
        context.load_verify_locations(cafile=str(ca_file))
    return context


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
