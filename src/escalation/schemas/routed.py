"""Routed contact: the contact plus the router's decision (``contacts.routed.v1``)."""

from __future__ import annotations

from pydantic import Field

from .base import Name, Timestamp, WireModel
from .contact import ContactEvent
from .state import MARKS_LIMIT


class EscalationSettings(WireModel):
    """The thresholds a route hands to the escalator for this contact's issue."""

    repeat_threshold: int = Field(default=3, ge=1, le=MARKS_LIMIT)
    repeat_window_seconds: int = Field(default=72 * 3600, ge=60)
    page_on_critical: bool = True


class Routing(WireModel):
    route: Name
    owner: Name
    team: Name
    authority_required: int = Field(ge=0)
    authority_held: int = Field(ge=0)
    fallback: bool = False
    sticky: bool = Field(default=False, description="the issue kept the owner it had")
    reassigned_from: str | None = Field(
        default=None, description="the previous owner, when the issue changed hands"
    )
    reasons: list[str] = Field(default_factory=list)
    targets: list[Name] = Field(default_factory=list)
    escalation: EscalationSettings = Field(default_factory=EscalationSettings)
    policy_version: str
    routed_at: Timestamp


class RoutedContact(ContactEvent):
    """The contact event with a ``routing`` block added by the router."""

    routing: Routing
