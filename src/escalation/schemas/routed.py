"""Routed contact: the contact plus the router's decision (``contacts.routed.v1``)."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from pydantic import Field, SerializerFunctionWrapHandler, model_serializer, model_validator

from .base import Name, Timestamp, WireModel
from .contact import ContactEvent
from .state import LADDER_LIMIT, MARKS_LIMIT, Notify


class LadderStep(WireModel):
    """One rung of the ladder as the route resolved it; ids are named, people are not."""

    after_seconds: int = Field(ge=1, description="since the escalation opened")
    notify: Notify = "owner"
    to: Name | None = Field(
        default=None,
        description="the schedule, team or owner id (schedule, fallback_*); "
        "for team, none means the issue's team",
    )
    repeat: int = Field(default=0, ge=0, le=100, description="further pages of this level")
    every_seconds: int | None = Field(default=None, ge=1, description="between repeats")

    @model_validator(mode="after")
    def _complete(self) -> LadderStep:
        if self.notify in ("schedule", "fallback_owner", "fallback_team") and self.to is None:
            raise ValueError(f"notify {self.notify} needs `to`")
        if self.repeat and self.every_seconds is None:
            raise ValueError("repeat needs every_seconds")
        return self


NULL_MEANS_OFF = ("reopen_window_seconds", "followup_after_seconds")
"""Settings whose null (no reopening, no follow-up) differs from their default."""


class EscalationSettings(WireModel):
    """What a route hands to the escalator for this contact's issue.

    The escalator snapshots the ladder and the after-resolution settings when an
    escalation opens, so a later policy edit leaves an escalation in flight alone.
    """

    repeat_threshold: int = Field(default=3, ge=1, le=MARKS_LIMIT)
    repeat_window_seconds: int = Field(default=72 * 3600, ge=60)
    page_on_critical: bool = True
    ack_timeout_seconds: int | None = Field(
        default=None, ge=1, description="a level not acknowledged this long moves to the next"
    )
    ladder: list[LadderStep] = Field(default_factory=list, max_length=LADDER_LIMIT)
    reopen_window_seconds: int | None = Field(
        default=7 * 86400, ge=1, description="a contact this soon after resolution reopens"
    )
    followup_after_seconds: int | None = Field(
        default=2 * 86400, ge=1, description="followup_due this long after resolution"
    )
    followup_in_customer_hours: bool = Field(
        default=False,
        description="the follow-up waits for the customer's hours (the policy's "
        "quiet_hours.customer, in the contact's customer.timezone)",
    )
    reopen_csat: int = Field(default=2, ge=1, le=5, description="a CSAT at or below reopens")
    reopen_sentiment: float = Field(
        default=-0.6, ge=-1.0, le=1.0, description="a sentiment at or below reopens"
    )
    deadline_lead_seconds: int = Field(
        default=3600, ge=0, description="escalate this long before a customer's deadline"
    )

    @model_serializer(mode="wrap")
    def _explicit_nulls(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """A null that turns a default off is written, not left out: read back without
        it, ``reopen_window_seconds`` would be 7 days again and ``followup_after_seconds``
        2 days (the encoder leaves nulls out)."""
        data = handler(self)
        for name in NULL_MEANS_OFF:
            if getattr(self, name) is None:
                data[name] = None
        return data

    @model_validator(mode="after")
    def _ladder_climbs(self) -> EscalationSettings:
        afters = [step.after_seconds for step in self.ladder]
        if any(later <= earlier for earlier, later in pairwise(afters)):
            raise ValueError("ladder steps must come later one after another (after_seconds)")
        return self


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
