"""The circuit breaker's decisions, and where the pager's connections may go."""

from __future__ import annotations

import asyncio
import ipaddress

import pytest

from escalation.policy.outbound import OutboundRules
from escalation.services.pager.breaker import Breaker
from escalation.services.pager.delivery import Verdict
from escalation.services.pager.outbound import OutboundRefused, resolve_allowed

FAIL = Verdict("retry", "http_5xx")
OK = Verdict("delivered", "ok")


class Clock:
    now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_circuit_opens_after_failures_then_lets_one_trial_by():
    clock = Clock()
    breaker = Breaker(failures=3, reset_after=30, clock=clock)
    for _ in range(2):
        breaker.record(FAIL)
    assert breaker.blocked() is None
    breaker.record(FAIL)
    assert breaker.blocked() == "circuit open for 30s more after 3 failures"
    clock.now += 30
    assert breaker.blocked() is None, "half-open: one trial"
    assert breaker.blocked() == "circuit half-open: a trial attempt is under way"
    breaker.record(FAIL)
    assert breaker.state == "open", "a failed trial opens it again"
    clock.now += 30
    assert breaker.blocked() is None
    breaker.record(OK)
    assert (breaker.state, breaker.blocked()) == ("closed", None)


def test_a_429_and_a_success_do_not_count_as_failures():
    breaker = Breaker(failures=2, reset_after=30, clock=Clock())
    breaker.record(FAIL)
    breaker.record(Verdict("retry", "http_429", 5))
    breaker.record(OK)
    breaker.record(FAIL)
    assert breaker.state == "closed"


async def test_a_backoff_ends_when_the_circuit_opens():
    breaker = Breaker(failures=1, reset_after=30)
    sleeping = asyncio.ensure_future(breaker.sleep(60))
    await asyncio.sleep(0.01)
    breaker.record(FAIL)
    await asyncio.wait_for(sleeping, 1)


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("169.254.169.254", "169.254.169.254 is a cloud metadata address"),
        ("fd00:ec2::254", "fd00:ec2::254 is a cloud metadata address"),
        ("127.0.0.1", "127.0.0.1 is a loopback address"),
        ("::ffff:127.0.0.1", "127.0.0.1 is a loopback address"),
        ("169.254.1.1", "169.254.1.1 is a link-local address"),
        ("10.0.0.1", "10.0.0.1 is a private address"),
        ("172.16.3.4", "172.16.3.4 is a private address"),
        ("192.168.0.1", "192.168.0.1 is a private address"),
        ("100.64.0.1", "100.64.0.1 is not a public unicast address"),
        ("0.0.0.0", "0.0.0.0 is a private address"),
        ("224.0.0.1", "224.0.0.1 is not a public unicast address"),
        ("8.8.8.8", None),
        ("2606:4700:4700::1111", None),
    ],
)
def test_only_public_unicast_addresses_are_paged_by_default(address, why):
    rules = OutboundRules.from_environ({"ESCALATION_PROFILE": "production"})
    assert rules.refusal(ipaddress.ip_address(address)) == why


def test_allowed_networks_and_the_embedded_profile():
    embedded = OutboundRules.from_environ({})
    assert embedded.refusal(ipaddress.ip_address("127.0.0.1")) is None
    assert embedded.refusal(ipaddress.ip_address("10.1.1.1")) is not None
    listed = OutboundRules.from_environ(
        {"ESCALATION_PROFILE": "production", "ESCALATION_PAGER_ALLOW_NETWORKS": "10.1.0.0/16"}
    )
    assert listed.refusal(ipaddress.ip_address("10.1.1.1")) is None
    assert listed.refusal(ipaddress.ip_address("127.0.0.1")) is not None


async def test_a_name_is_checked_by_the_address_it_resolves_to():
    production = OutboundRules.from_environ({"ESCALATION_PROFILE": "production"})
    with pytest.raises(
        OutboundRefused, match=r"localhost may not be paged: 127\.0\.0\.1 is a loop"
    ):
        await resolve_allowed("localhost", 80, production, 5)
    assert await resolve_allowed("localhost", 80, OutboundRules.from_environ({}), 5) in (
        "127.0.0.1",
        "::1",
    )
