"""Escalation lifecycle events (``escalations.v1``) and escalation ids."""

from __future__ import annotations

import base64
import binascii
from typing import Literal

from pydantic import Field

from .base import Name, Timestamp, WireModel

EscalationType = Literal[
    "opened", "stepped", "paged", "acked", "resolved", "reopened", "followup_due"
]

_ID_PREFIX = "e1"


class EscalationEvent(WireModel):
    escalation_id: str
    type: EscalationType
    at: Timestamp
    customer_id: Name
    issue_id: str
    issue_key: str | None = None
    category: str
    product: str | None = None
    owner: str
    team: str
    level: int = Field(default=1, ge=0)
    reason: str
    contacts: list[str] = Field(default_factory=list)
    by: str | None = None
    note: str | None = None
    cause_id: str = Field(description="event or command id that caused this record")


def make_escalation_id(customer_id: str, issue_id: str, sequence: int) -> str:
    """Build an id that embeds the customer id, so a command can be keyed without a lookup.

    ``e1.<base64url(customer id)>.<issue digest>.<n>``; base64url never contains '.'.
    """
    encoded = base64.urlsafe_b64encode(customer_id.encode()).rstrip(b"=").decode()
    return f"{_ID_PREFIX}.{encoded}.{issue_id}.{sequence}"


class InvalidEscalationId(ValueError):
    pass


def customer_of(escalation_id: str) -> str:
    """Recover the customer id an escalation id embeds, or raise InvalidEscalationId."""
    parts = escalation_id.split(".")
    if len(parts) != 4 or parts[0] != _ID_PREFIX or not parts[3].isdigit():
        raise InvalidEscalationId(
            f"escalation id {escalation_id!r} is not of the form e1.<customer>.<issue>.<n>"
        )
    encoded = parts[1]
    try:
        raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        customer_id = raw.decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise InvalidEscalationId(
            f"escalation id {escalation_id!r} does not embed a valid customer id"
        ) from exc
    if not customer_id:
        raise InvalidEscalationId(f"escalation id {escalation_id!r} embeds an empty customer id")
    return customer_id
