"""Issue identity: which contacts are one customer issue, where its state lives, its ids.

Every service derives these the same way from here, never by hand:

- ``ContactEvent.issue_key`` is the upstream system's case id (a CRM ticket number); it
  is optional and only one input to identity.
- ``issue_id`` is a short digest of (customer id, upstream case id, or else category and
  product): the same issue always gets the same ``issue_id``.
- :func:`issue_state_key` is the key of an issue's state (router assignments, escalator
  issue table), in the partition of the customer id like every record about the customer.
- An escalation id embeds the customer id, so a command on it can be keyed (and land on
  the partition that holds the issue) without a lookup: :func:`parse_escalation_id`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from typing import NamedTuple

ESCALATION_ID_PREFIX = "e1"
ISSUE_ID_PATTERN = re.compile(r"^[0-9a-f]{24}$")
MAX_ESCALATION_ID = 760
"""Longer than any id made here: a 128-character customer id is at most 512 UTF-8 bytes,
683 base64url characters; with the prefix, issue id and a 20-digit sequence, 732."""

SEEN_LIMIT = 32
"""How many recent input ids (contact event ids, command ids) one issue remembers.

Both the router (per assignment) and the escalator (per issue) drop an input whose id is
among them. The bound covers what the stream can redeliver for one issue: the
uncommitted span after a crash or rebalance, seconds of traffic. A resend older than the
last 32 inputs on the same issue is caught by intake's recent-id window instead (see
``ESCALATION_INTAKE_DEDUP_WINDOW``), or, for a producer writing straight to the topic,
counts again. Ids are kept as 11-character digests (:func:`seen_token`), so the bound
costs at most about 450 bytes of state per issue whatever the ids' length.
"""


def issue_digest(customer_id: str, issue_ref: str) -> str:
    """The ``issue_id`` of (customer, issue reference): 24 hex characters."""
    raw = f"{customer_id}\x1f{issue_ref}".encode()
    return hashlib.blake2s(raw, digest_size=12).hexdigest()


def issue_state_key(customer_id: str, issue_id: str) -> bytes:
    """Key of one customer issue's state, in every store that keeps state per issue."""
    return f"{customer_id}/{issue_id}".encode()


def seen_token(ident: str) -> str:
    """A fixed-size stand-in for an input id in an issue's dedup memory (64 bits)."""
    digest = hashlib.blake2b(ident.encode(), digest_size=8).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def remember(seen: list[str], token: str) -> list[str]:
    """``seen`` with ``token`` appended, keeping the last :data:`SEEN_LIMIT`."""
    return [*seen[-(SEEN_LIMIT - 1) :], token]


class EscalationRef(NamedTuple):
    customer_id: str
    issue_id: str
    sequence: int


class InvalidEscalationId(ValueError):
    pass


def make_escalation_id(customer_id: str, issue_id: str, sequence: int) -> str:
    """``e1.<base64url(customer id)>.<issue id>.<n>``; base64url never contains '.'."""
    encoded = base64.urlsafe_b64encode(customer_id.encode()).rstrip(b"=").decode()
    return f"{ESCALATION_ID_PREFIX}.{encoded}.{issue_id}.{sequence}"


def parse_escalation_id(escalation_id: str) -> EscalationRef:
    """(customer id, issue id, sequence) of an escalation id, or InvalidEscalationId."""
    parts = escalation_id.split(".")
    if (
        len(escalation_id) > MAX_ESCALATION_ID
        or len(parts) != 4
        or parts[0] != ESCALATION_ID_PREFIX
        or not ISSUE_ID_PATTERN.match(parts[2])
        or not parts[3].isascii()
        or not parts[3].isdigit()
        or parts[3].startswith("0")
    ):
        raise InvalidEscalationId(
            f"escalation id {escalation_id!r} is not of the form "
            "e1.<customer>.<24 hex issue id>.<n>"
        )
    encoded = parts[1]
    try:
        raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        customer_id = raw.decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise InvalidEscalationId(
            f"escalation id {escalation_id!r} does not embed a valid customer id"
        ) from exc
    if not customer_id or make_escalation_id(customer_id, parts[2], 1).split(".")[1] != encoded:
        raise InvalidEscalationId(
            f"escalation id {escalation_id!r} does not embed a valid customer id"
        )
    return EscalationRef(customer_id, parts[2], int(parts[3]))


def customer_of(escalation_id: str) -> str:
    """The customer id an escalation id embeds, or InvalidEscalationId."""
    return parse_escalation_id(escalation_id).customer_id
