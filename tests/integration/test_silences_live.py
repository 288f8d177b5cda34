"""Silences, live: one made over HTTP holds back a matching page and lets another through.

The embedded stack (`escalation up`, real broker and service processes) on the example
policy. The silence reaches the escalator through the controls broadcast; expiring it
over HTTP releases the held page at once, with the page id the timeline named.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from escalation.testing.stack import Stack, eventually
from tests.unit.factories import contact_data

from .conftest import TOKENS

pytestmark = pytest.mark.integration

CRM = {"authorization": f"Bearer {TOKENS['crm']}"}
OPS = {"authorization": f"Bearer {TOKENS['ops']}"}
ACTIVE = "escalation_escalator_silences_active"


def send(stack: Stack, customer: str, product: str) -> None:
    event = contact_data(
        event_id=f"ev-{uuid.uuid4().hex[:12]}",
        occurred_at=datetime.now(UTC).isoformat(),
        customer={"id": customer, "tier": "standard"},
        issue_key=None,
        product=product,
        urgency="critical",
    )
    reply = httpx.post(f"{stack.intake}/v1/contacts", json=event, headers=CRM, timeout=10)
    assert reply.status_code == 202, reply.text


def timeline(stack: Stack, customer: str) -> list[dict[str, Any]] | None:
    """The timeline of the customer's escalation, once there is one."""
    found = httpx.get(
        f"{stack.intake}/v1/escalations", params={"customer_id": customer}, headers=OPS
    )
    if found.status_code != 200 or not found.json()["escalations"]:
        return None
    ident = found.json()["escalations"][0]["escalation_id"]
    view = httpx.get(f"{stack.intake}/v1/escalations/{ident}", headers=OPS)
    return view.json()["timeline"] if view.status_code == 200 else None


def entry(stack: Stack, customer: str, kind: str) -> dict[str, Any] | None:
    return next((e for e in timeline(stack, customer) or [] if e["type"] == kind), None)


def test_a_silence_made_over_http_holds_a_matching_page_and_lets_another_through(stack):
    tag = uuid.uuid4().hex[:6]
    silenced, plain = f"SIL-{tag}", f"OK-{tag}"
    before = stack.metric("escalator", ACTIVE)
    made = httpx.post(
        f"{stack.intake}/v1/silences",
        json={
            "matchers": [f'product="{silenced}"'],
            "ends_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
            "comment": "a known fault on this product",
        },
        headers=OPS,
        timeout=10,
    )
    assert made.status_code == 201, made.text
    silence_id = made.json()["id"]
    eventually(
        lambda: stack.metric("escalator", ACTIVE) >= before + 1,
        "the escalator to hold the silence",
        60,
    )

    held_customer, paged_customer = f"H-{tag}", f"P-{tag}"
    send(stack, held_customer, silenced)
    send(stack, paged_customer, plain)
    eventually(lambda: stack.pages(customer=paged_customer), "the other page", 60)
    held = eventually(lambda: entry(stack, held_customer, "page.held"), "the held page", 60)
    assert held["silence_id"] == silence_id
    assert entry(stack, held_customer, "opened") is not None  # recorded and visible
    assert stack.deliveries(customer=held_customer) == []

    gone = httpx.delete(f"{stack.intake}/v1/silences/{silence_id}", headers=OPS, timeout=10)
    assert gone.status_code == 200, gone.text
    released = eventually(lambda: stack.pages(customer=held_customer), "the released page", 60)
    assert [p["page"]["page_id"] for p in released] == [held["page_id"]]
    assert entry(stack, held_customer, "page.released") is not None
    assert len(stack.deliveries(customer=held_customer)) == 1
