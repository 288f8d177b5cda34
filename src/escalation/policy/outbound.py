"""Where the pager may send pages, and which variables a target may read.

A policy file is written by people who should not thereby reach the pager's network or
its environment: a target URL pointing at a cloud metadata service, an internal admin
page or the pager's own loopback would turn the pager into a proxy, and ``${VAR}`` in a
URL could carry any of the pager's variables (a broker password) to a receiver. So only
public unicast addresses are paged, unless a network is allowed
(``ESCALATION_PAGER_ALLOW_NETWORKS``; the embedded profile allows loopback), and only
variables whose names start with an allowed prefix are expanded
(``ESCALATION_PAGER_EXPAND_PREFIXES``, default ``ESCALATION_TARGET_``).

The rules are read from an environment mapping, as ``targets.check_targets`` reads
everything else, so ``policy check`` and the pager agree; ``Settings`` validates the
same variables with the same parsers. Addresses are checked twice: literal hosts when
the policy loads, and the address actually connected to on every delivery (a name may
resolve anywhere, and resolve differently later).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

DEFAULT_PREFIXES = ("ESCALATION_TARGET_",)
LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))
METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200", "168.63.129.16")
)
"""Cloud instance metadata services (AWS, GCP, Azure: link-local; AWS IPv6; Alibaba; Azure)."""


def parse_networks(text: str) -> tuple[IPNetwork, ...]:
    """``"10.20.0.0/16, 192.168.7.9"`` -> networks; ValueError naming a bad entry."""
    networks = []
    for part in text.split(","):
        if not part.strip():
            continue
        try:
            networks.append(ipaddress.ip_network(part.strip(), strict=False))
        except ValueError as exc:
            raise ValueError(f"{part.strip()!r} is not a network (use e.g. 10.20.0.0/16)") from exc
    return tuple(networks)


def parse_prefixes(text: str) -> tuple[str, ...]:
    """``"ESCALATION_TARGET_,PAGES_"`` -> prefixes; ValueError when one could match anything."""
    prefixes = tuple(p.strip() for p in text.split(",") if p.strip())
    for prefix in prefixes:
        if len(prefix) < 3 or not prefix.replace("_", "A").isalnum() or not prefix.isupper():
            raise ValueError(
                f"{prefix!r}: a prefix is at least 3 upper-case letters, digits or '_' "
                "(e.g. ESCALATION_TARGET_)"
            )
    return prefixes


@dataclass(frozen=True)
class OutboundRules:
    allowed: tuple[IPNetwork, ...] = ()
    prefixes: tuple[str, ...] = DEFAULT_PREFIXES

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> OutboundRules:
        """The rules of the services started with ``environ`` (their profile included)."""
        allowed = parse_networks(environ.get("ESCALATION_PAGER_ALLOW_NETWORKS", ""))
        if environ.get("ESCALATION_PROFILE", "embedded") == "embedded":
            allowed = LOOPBACK + allowed
        prefixes = environ.get("ESCALATION_PAGER_EXPAND_PREFIXES")
        return cls(allowed, parse_prefixes(prefixes) if prefixes is not None else DEFAULT_PREFIXES)

    def expandable(self, name: str) -> bool:
        return any(name.startswith(prefix) for prefix in self.prefixes)

    def refusal(self, address: IPAddress) -> str | None:
        """Why pages may not go to ``address``, or None when they may."""
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if any(address in network for network in self.allowed):
            return None
        if address in METADATA:
            return f"{address} is a cloud metadata address"
        if address.is_loopback:
            return f"{address} is a loopback address"
        if address.is_link_local:
            return f"{address} is a link-local address"
        if address.is_private:
            return f"{address} is a private address"
        if not address.is_global or address.is_multicast:
            return f"{address} is not a public unicast address"
        return None

    def host_refusal(self, host: str) -> str | None:
        """At load: a literal address or ``localhost`` that may not be paged (names pass)."""
        name = host.strip("[]").lower().rstrip(".")
        if name == "localhost" or name.endswith(".localhost"):
            return self.refusal(ipaddress.ip_address("127.0.0.1"))
        try:
            return self.refusal(ipaddress.ip_address(name))
        except ValueError:
            return None

    def advice(self) -> str:
        return "allow its network in ESCALATION_PAGER_ALLOW_NETWORKS if it is meant"
