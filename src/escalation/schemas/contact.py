"""Contact event v1: one customer contact, as any upstream system reports it."""

from __future__ import annotations

import re
from functools import cache, cached_property
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import (
    BeforeValidator,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from .base import (
    CONTROL_CHARACTERS,
    PRINTABLE,
    Category,
    EventTime,
    Identifier,
    Text,
    WireModel,
)
from .identity import issue_digest

Channel = Literal["phone", "email", "chat", "web", "social", "in_person", "survey"]
Urgency = Literal["low", "normal", "high", "critical"]
Tier = Literal["standard", "priority", "vip"]

_CONTROL = re.compile(f"[{CONTROL_CHARACTERS}]")
MAX_ATTRIBUTES = 64
MAX_MEMBERS = 32
"""More members than an object can have fields: refused whole, not one error per member."""


def _attribute_map(value: Any) -> Any:
    # The size is checked before the entries are: a map of 100,000 bad entries would
    # otherwise cost 100,000 errors to build (max_length is checked after the items).
    # Keys are checked here, not by a key pattern, which JSON Schema would turn into
    # patternProperties and so let any other key through.
    if isinstance(value, dict):
        if len(value) > MAX_ATTRIBUTES:
            raise ValueError(f"at most {MAX_ATTRIBUTES} attributes, got {len(value)}")
        for key in value:
            if isinstance(key, str) and _CONTROL.search(key):
                raise ValueError(f"attribute name {key!r} contains a control character")
    return value


def _json_number(value: Any) -> Any:
    # Lax validation would read true as 1 and "0.5" as 0.5: a score must be a number.
    if isinstance(value, bool | str):
        raise ValueError("must be a JSON number")
    return value


def _bounded_members(data: Any) -> Any:
    if isinstance(data, dict) and len(data) > MAX_MEMBERS:
        raise ValueError(f"an object with {len(data)} members; at most {MAX_MEMBERS} are accepted")
    return data


AttributeKey = Annotated[str, StringConstraints(min_length=1, max_length=128)]
AttributeValue = Annotated[Text, StringConstraints(max_length=1024)]
Attributes = Annotated[dict[AttributeKey, AttributeValue], BeforeValidator(_attribute_map)]

Score = Annotated[float, Field(ge=-1.0, le=1.0), BeforeValidator(_json_number)]
Rating = Annotated[int, Field(ge=1, le=5), BeforeValidator(_json_number)]


@cache
def known_zones() -> frozenset[str]:
    """IANA zone names, without the machine's own ``localtime`` (it differs per host)."""
    return frozenset(available_timezones()) - {"localtime", "posixrules"}


class Customer(WireModel):
    id: Identifier
    tier: Tier = "standard"
    timezone: str | None = Field(default=None, max_length=64)

    @model_validator(mode="before")
    @classmethod
    def _bounded(cls, data: Any) -> Any:
        return _bounded_members(data)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str | None) -> str | None:
        # Looked up in the list of zones, not the file system: ZoneInfo("America") is a
        # directory and raises IsADirectoryError, which is no validation error.
        if value is None:
            return value
        if value not in known_zones():
            raise ValueError(f"unknown IANA time zone {value!r}; use e.g. 'America/New_York'")
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
            raise ValueError(f"time zone {value!r} cannot be loaded here") from exc
        return value


class ContactEvent(WireModel):
    """A contact event as published to ``contacts.v1`` (docs/contract.md, "Contact event")."""

    event_id: Identifier
    occurred_at: EventTime
    source: Annotated[Identifier, StringConstraints(max_length=64)]
    channel: Channel | None = None
    customer: Customer
    issue_key: Identifier | None = None
    category: Category
    product: Identifier | None = None
    urgency: Urgency = "normal"
    sentiment: Score | None = None
    csat: Rating | None = None
    summary: Text | None = Field(default=None, max_length=4096)
    deadline: EventTime | None = Field(
        default=None,
        description="when the customer needs it settled (the meeting at 10:00): unless the "
        "issue is acknowledged by this time less the route's deadline lead, it escalates",
    )
    attributes: Attributes = Field(
        default_factory=dict,
        max_length=MAX_ATTRIBUTES,
        json_schema_extra={
            "propertyNames": {"minLength": 1, "maxLength": 128, "pattern": PRINTABLE}
        },
    )

    @model_validator(mode="before")
    @classmethod
    def _bounded(cls, data: Any) -> Any:
        return _bounded_members(data)

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
