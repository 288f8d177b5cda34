"""Surges, live: many customers on one product make one page, and hold back their own.

The embedded stack (`escalation up`, real broker and service processes) on
surge_policy.yaml: ten distinct customers on one product within two minutes open a
surge; only VIP customers are exempt. The page sink records every delivery, repeats
included, so "one page" is counted where a receiver sees it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from escalation.testing.stack import Stack, eventually, start_stack, stop_stack
from tests.unit.factories import contact_data

from .conftest import LINK_KEY, TOKENS, token_setting

pytestmark = pytest.mark.integration

POLICY = Path(__file__).with_name("surge_policy.yaml")
CRM = {"authorization": f"Bearer {TOKENS['crm']}"}
OPS = {"authorization": f"Bearer {TOKENS['ops']}"}


@pytest.fixture(scope="module")
def surge_stack():
    running = start_stack(
        {"ESCALATION_INTAKE_TOKENS": token_setting(), "ESCALATION_LINK_KEYS": LINK_KEY},
        policy=POLICY,
    )
    yield running
    code = stop_stack(running)
    assert code == 0, "\n".join(running.output[-30:])


def send(stack: Stack, customer: str, product: str, tier: str = "standard", **fields: Any):
    event = contact_data(
        event_id=f"ev-{uuid.uuid4().hex[:12]}",
        occurred_at=datetime.now(UTC).isoformat(),
        customer={"id": customer, "tier": tier},
        issue_key=None,
        category="appliances.leak",
        product=product,
        **fields,
    )
    reply = httpx.post(f"{stack.intake}/v1/contacts", json=event, headers=CRM, timeout=10)
    assert reply.status_code == 202, reply.text


def escalations(stack: Stack, customer: str) -> list[dict[str, Any]]:
    reply = httpx.get(
        f"{stack.intake}/v1/escalations", params={"customer_id": customer}, headers=OPS
    )
    assert reply.status_code in (200, 503), reply.text
    return reply.json()["escalations"] if reply.status_code == 200 else []


def timeline(stack: Stack, escalation_id: str) -> dict[str, Any] | None:
    reply = httpx.get(f"{stack.intake}/v1/escalations/{escalation_id}", headers=OPS)
    return reply.json() if reply.status_code == 200 else None


def held(stack: Stack, customer: str) -> dict[str, Any] | None:
    """The customer's escalation once the escalator held its page back, else None."""
    for listed in escalations(stack, customer):
        view = timeline(stack, listed["escalation_id"])
        if view and any(entry["type"] == "held" for entry in view["timeline"]):
            return view
    return None


def test_twelve_customers_on_one_product_make_one_surge_page_and_no_other(surge_stack):
    stack = surge_stack
    product = f"WH-{uuid.uuid4().hex[:6]}"
    first = [f"S{n:02d}-{product}" for n in range(10)]
    for customer in first:  # one normal contact each: nobody escalates on their own
        send(stack, customer, product)
    surge_customer = f"surge:defects:{product}"
    eventually(lambda: stack.pages(customer=surge_customer), "the surge page", 90)
    eventually(
        lambda: stack.metric("escalator", "escalation_escalator_surges_open") >= 1,
        "the escalator to hold the open surge",
        30,
    )
    # Now the product surges: these would each page on their own, and are held back.
    critical, repeats = f"S10-{product}", f"S11-{product}"
    send(stack, critical, product, urgency="critical")
    for _ in range(3):
        send(stack, repeats, product)
    send(stack, first[0], product, urgency="critical")  # an early reporter, now critical
    vip = f"V-{product}"
    send(stack, vip, product, tier="vip", urgency="critical")  # exempt: pages at once

    eventually(lambda: stack.pages(customer=vip), "the VIP's own page", 60)
    views = {
        customer: eventually(lambda c=customer: held(stack, c), f"{customer} held", 60)
        for customer in (critical, repeats, first[0])
    }
    surge_view = eventually(
        lambda: (
            (found := escalations(stack, surge_customer))
            and found[0]["affected"]["customer_count"] >= 13
            and found[0]
        ),
        "the surge to take in every customer",
        60,
    )

    surge_pages = stack.deliveries(customer=surge_customer, type="escalation.paged")
    assert len(surge_pages) == 1, surge_pages  # every delivery, repeats included
    page = surge_pages[0]["page"]
    named = set(page["affected"]["customers"])
    assert len(named & set(first)) >= 10
    assert page["owner"] == "quinn" and page["team"] == "quality"
    assert page["reason"].startswith("surge.opened: 10 customers reported product")
    for customer, view in views.items():
        assert stack.deliveries(customer=customer) == [], customer
        assert view["surge"] == {"id": page["escalation_id"], "held": True}
        assert any(page["escalation_id"] in e["reason"] for e in view["timeline"])
    assert [p["page"]["customer"]["tier"] for p in stack.deliveries(customer=vip)] == ["vip"]
    assert surge_view["escalation_id"] == page["escalation_id"]
    affected = surge_view["affected"]
    assert {critical, repeats, vip} <= set(affected["customers"])
    assert affected["customer_count"] == 13
    outcomes = stack.metric("surge", "escalation_surge_outcomes_total", outcome="opened")
    assert outcomes == 1
