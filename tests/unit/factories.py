"""Builders for valid messages; tests override only what they are about."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from escalation.schemas import ContactEvent, EscalationSettings, RoutedContact, Routing

T0 = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)


def contact_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "event_id": "crm-1",
        "occurred_at": "2026-11-24T09:15:00-05:00",
        "source": "crm",
        "channel": "phone",
        "customer": {"id": "C-1042", "tier": "standard", "timezone": "America/New_York"},
        "issue_key": "ticket-88",
        "category": "hvac.repair",
        "product": "AC-3000",
        "urgency": "normal",
    }
    data.update(overrides)
    return data


def routed(
    event_id: str = "crm-1",
    at: datetime = T0,
    urgency: str = "normal",
    owner: str = "chen",
    threshold: int = 3,
    window_hours: int = 72,
    escalation: EscalationSettings | None = None,
    authority: int = 2,
    **overrides: Any,
) -> RoutedContact:
    contact = ContactEvent.model_validate(
        contact_data(event_id=event_id, occurred_at=at.isoformat(), urgency=urgency, **overrides)
    )
    routing = Routing(
        route="equipment-repair",
        owner=owner,
        team="service-engineers",
        authority_required=authority,
        authority_held=authority,
        targets=["ops-webhook"],
        escalation=escalation
        or EscalationSettings(
            repeat_threshold=threshold, repeat_window_seconds=window_hours * 3600
        ),
        policy_version="test",
        routed_at=at,
    )
    return RoutedContact(**contact.model_dump(), routing=routing)


def hours(n: float) -> timedelta:
    return timedelta(hours=n)


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)
