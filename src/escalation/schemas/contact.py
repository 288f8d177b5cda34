"""Contact event v1: one customer contact, as any upstream system reports it."""

from __future__ import annotations

from functools import cached_property
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, StringConstraints, field_validator

from .base import Category, Name, Timestamp, WireModel
from .identity import issue_digest

Channel = Literal["phone", "email", "chat", "web", "social", "in_person", "survey"]
Urgency = Literal["low", "normal", "high", "critical"]
Tier = Literal["standard", "priority", "vip"]

AttributeKey = Annotated[str, StringConstraints(min_length=1, max_length=128)]
AttributeValue = Annotated[str, StringConstraints(max_length=1024)]


class Customer(WireModel):
    id: Name
    tier: Tier = "standard"
    timezone: str | None = Field(default=None, max_length=64)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {value!r}") from exc
        return value


class ContactEvent(WireModel):
    """A contact event as published to ``contacts.v1`` (docs/contract.md, "Contact event")."""

    event_id: Name
    occurred_at: Timestamp
    source: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    channel: Channel | None = None
    customer: Customer
    issue_key: Name | None = None
    category: Category
    product: Name | None = None
    urgency: Urgency = "normal"
    sentiment: float | None = Field(default=None, ge=-1.0, le=1.0)
    csat: int | None = Field(default=None, ge=1, le=5)
    summary: str | None = Field(default=None, max_length=4096)
    attributes: dict[AttributeKey, AttributeValue] = Field(default_factory=dict, max_length=64)

    @cached_property
    def issue_ref(self) -> str:
        """What makes two contacts the same issue for one customer: the upstream case id,
        else category and product."""
        if self.issue_key is not None:
            return f"key:{self.issue_key}"
        return f"cat:{self.category}|{self.product or ''}"

    @cached_property
    def issue_id(self) -> str:
        """A short, stable digest of (customer, issue); see ``identity``."""
        return issue_digest(self.customer.id, self.issue_ref)
