"""Signed ack and resolve links: the link itself is the credential.

A page reaches people who hold no API token (an inbox, a chat channel, a phone), so
the link in it must carry its own authority, and no more than it needs: one
escalation, one action, the level it was paged at, the target it was sent to, and a
time after which it is worthless. The pager signs (HMAC-SHA256 with the first of
``ESCALATION_LINK_KEYS``) and intake verifies (with any of them), so a key rotates by
putting the new one first everywhere, then dropping the old one once its links have
expired. Nothing here reads a clock or the environment: ``now`` is passed in.

A token is ``l1.<level>.<expires>.<target>.<mac>``: the escalation id and action are in
the URL path, not the token, and are part of what the MAC covers, so a token moved to
another escalation or action fails like a forged one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

VERSION = "l1"
LINK_ACTIONS = ("ack", "resolve")
KEY_PREFIX = "lk_"
MIN_KEY_CHARS = 32

_TARGET = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_DIGITS = re.compile(r"0|[1-9][0-9]{0,11}")  # one spelling per number
_MAC = re.compile(r"[A-Za-z0-9_-]{43}")

Failure = Literal["malformed", "signature", "expired"]


class LinkError(ValueError):
    """Why a link token does not authorise this request; ``reason`` is for the page."""

    def __init__(self, reason: Failure, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class LinkClaim:
    """What a valid token attests: the bearer was sent this link for this action."""

    escalation_id: str
    action: str
    level: int
    expires: int
    """Unix seconds after which the link is refused."""
    target: str
    """The page target the link was delivered to: all a link can honestly name."""

    @property
    def principal(self) -> str:
        return f"link:{self.target}"


def new_key() -> str:
    """A fresh signing key: 32 random bytes, URL-safe, with a recognisable prefix."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def _message(claim: LinkClaim) -> bytes:
    # 0x1f cannot occur in any field (ids are printable), so the fields cannot be shifted.
    fields = (VERSION, claim.escalation_id, claim.action, str(claim.level), str(claim.expires))
    return "\x1f".join(("escalation-link", *fields, claim.target)).encode()


def _mac(key: str, claim: LinkClaim) -> str:
    digest = hmac.new(key.encode(), _message(claim), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def sign(key: str, claim: LinkClaim) -> str:
    """The token for ``claim``; refuses fields the token format cannot carry."""
    if claim.action not in LINK_ACTIONS:
        raise ValueError(f"links are made for {LINK_ACTIONS}, not {claim.action!r}")
    if not _TARGET.fullmatch(claim.target):
        raise ValueError(f"target id {claim.target!r} cannot be carried in a link")
    if claim.level < 0 or claim.expires < 0:
        raise ValueError("level and expiry must be non-negative")
    return f"{VERSION}.{claim.level}.{claim.expires}.{claim.target}.{_mac(key, claim)}"


def parse(token: str, escalation_id: str, action: str) -> tuple[LinkClaim, str]:
    """The claim a token makes for this escalation and action, and its MAC; unverified."""
    version, _, rest = token.partition(".")
    level, _, rest = rest.partition(".")
    expires, _, rest = rest.partition(".")
    target, _, mac = rest.rpartition(".")
    well_formed = (
        version == VERSION
        and _DIGITS.fullmatch(level)
        and _DIGITS.fullmatch(expires)
        and _TARGET.fullmatch(target)
        and _MAC.fullmatch(mac)
    )
    if not well_formed:
        raise LinkError("malformed", "the link's token is incomplete or not of this service")
    return LinkClaim(escalation_id, action, int(level), int(expires), target), mac


def verify(keys: Sequence[str], token: str, escalation_id: str, action: str, now: int) -> LinkClaim:
    """The claim of a token signed with any of ``keys`` for this escalation and action,
    not expired at ``now`` (Unix seconds); else ``LinkError``."""
    claim, mac = parse(token, escalation_id, action)
    if action not in LINK_ACTIONS or not any(
        hmac.compare_digest(_mac(key, claim), mac) for key in keys
    ):
        raise LinkError(
            "signature",
            "the link's signature does not match: it was altered, made for another "
            "escalation or action, or signed with a key this service no longer holds",
        )
    if now >= claim.expires:
        raise LinkError("expired", "the link has expired")
    return claim
