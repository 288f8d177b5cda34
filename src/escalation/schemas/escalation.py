"""Escalation lifecycle events (``escalations.v1``) and escalation ids."""

from __future__ import annotations

import base64
import binascii
import re
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


_ID = re.compile(r"e1\.([A-Za-z0-9_-]+)\.([0-9a-f]{24})\.([1-9][0-9]{0,17})")


def customer_of(escalation_id: str) -> str:
    """Recover the customer id an escalation id embeds, or raise InvalidEscalationId.

    Only ids ``make_escalation_id`` could have made pass: canonical base64url of a
    customer id of at most 128 characters, a 24-hex issue digest, a decimal sequence.
    """
    form = f"escalation id {escalation_id[:300]!r}"
    match = _ID.fullmatch(escalation_id)
    if match is None:
        raise InvalidEscalationId(f"{form} is not of the form e1.<customer>.<issue>.<n>")
    encoded = match.group(1)
    try:
        customer_id = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise InvalidEscalationId(f"{form} does not embed a valid customer id") from exc
    canonical = make_escalation_id(customer_id, match.group(2), int(match.group(3)))
    if not 0 < len(customer_id) <= 128 or canonical != escalation_id:
        raise InvalidEscalationId(f"{form} does not embed a valid customer id")
    return customer_id
