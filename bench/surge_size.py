"""Surge state: bytes per tracked product and per open surge, after realistic traffic.

The surge service keeps one ``ProductState`` per counted product in its table (a
changelog record on every report); the escalator keeps each open surge's own issue
state, and every escalator worker holds each open surge's control in memory. This feeds
the live decision code and reports the encoded size of each (what the changelog and the
in-memory store hold) and the Python objects of a control as the view holds it.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from escalation.schemas import EscalationSettings, codec
from escalation.schemas.surge import ProductReport, SurgeSettings
from escalation.schemas.surge_state import ProductState
from escalation.services.escalator.surges import decide_surge
from escalation.services.surge.detect import decide_report

T0 = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)

SCENARIOS = {
    "quiet product (3 customers an hour)": (3, 3600 / 3),
    "busy product (200 customers an hour)": (200, 3600 / 200),
    "flooded product (20,000 customers an hour)": (20_000, 3600 / 20_000),
}


def settings(threshold: int, window_seconds: int) -> SurgeSettings:
    return SurgeSettings(
        rule="water-heaters",
        threshold=threshold,
        window_seconds=window_seconds,
        ratio=3.0,
        half_life_seconds=7 * 86400,
        close_after_seconds=window_seconds,
        exempt=["critical", "vip"],
        team="product-quality",
        owner="farid",
        targets=["ops-webhook"],
        escalation=EscalationSettings(),
        policy_version="bench",
    )


def report(customer: str, at: datetime, rule_settings: SurgeSettings) -> ProductReport:
    return ProductReport(
        key=f"{rule_settings.rule}/WH-50",
        value="WH-50",
        event_id=f"ev-{customer}",
        customer_id=customer,
        issue_id=f"issue-of-{customer}",
        category="appliances.leak",
        product="WH-50",
        occurred_at=at,
        settings=rule_settings,
    )


def product_after(customers: int, gap: float, hours: int = 3) -> tuple[ProductState, Any]:
    """A product's state after ``hours`` of ``customers`` distinct customers an hour."""
    rule = settings(threshold=10**5, window_seconds=3600)  # count, never open
    state, decision = None, None
    total = customers * hours
    for n in range(total):
        at = T0 + timedelta(seconds=n * gap)
        decision = decide_report(state, report(f"C-{n}", at, rule_settings=rule), at)
        state = decision.state
    assert state is not None
    return state, decision


def open_surge(customers: int) -> tuple[int, int, int]:
    """(product state, the surge's escalation state, a control): bytes of an open surge."""
    rule = settings(threshold=10, window_seconds=3600)
    state, events, controls = None, [], []
    for n in range(customers):
        at = T0 + timedelta(seconds=n)
        decision = decide_report(state, report(f"CUSTOMER-{n:06d}", at, rule_settings=rule), at)
        state = decision.state
        events += decision.events
        controls += decision.controls
    escalation = None
    for event in events:
        escalation = decide_surge(escalation, event, event.at).state
    assert state is not None and escalation is not None
    return len(codec.encode(state)), len(codec.encode(escalation)), deep_size(controls[0])


def deep_size(value: Any, seen: set[int] | None = None) -> int:
    """Bytes of a Python object and everything it holds (each object once)."""
    seen = seen if seen is not None else set()
    if id(value) in seen:
        return 0
    seen.add(id(value))
    size = sys.getsizeof(value)
    if isinstance(value, dict):
        size += sum(deep_size(k, seen) + deep_size(v, seen) for k, v in value.items())
    elif isinstance(value, list | tuple | set):
        size += sum(deep_size(v, seen) for v in value)
    elif hasattr(value, "__dict__"):
        size += deep_size(vars(value), seen)
    return size


if __name__ == "__main__":
    for name, (customers, gap) in SCENARIOS.items():
        state, _ = product_after(customers, gap)
        print(f"tracked product, {name}: {len(codec.encode(state)):,} B")
    for customers in (12, 1000):
        product, escalation, control = open_surge(customers)
        print(
            f"open surge of {customers:,} customers: product state {product:,} B, "
            f"its escalation's state {escalation:,} B, control in each worker's view "
            f"{control:,} B"
        )
