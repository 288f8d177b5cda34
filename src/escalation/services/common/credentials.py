"""Intake tokens with scopes, and link keys: the credential parts of the settings.

A token is stored as its SHA-256 digest, never in clear (tokens are random, not
passwords, so a plain digest is enough). The bare-digest form of earlier releases
still works and means what it always meant for contacts: a source that may post
contact events as itself; it no longer lets that source act on escalations.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

_HEX64 = re.compile(r"[0-9a-f]{64}")

Scope = Literal["contacts", "escalations"]
"""What a bearer token may do: post contacts as its source, or act on escalations."""


class TokenGrant(BaseModel):
    """An intake token in the object form: its digest and what it may do."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    digest: str
    scopes: list[Scope] = Field(min_length=1)


def hashed_digest(name: str, digest: str) -> str:
    """A digest in one case, so that a ``sha256:ABC...`` written by hand matches as well."""
    algo, _, hexdigest = digest.strip().lower().partition(":")
    if algo != "sha256" or not _HEX64.fullmatch(hexdigest):
        raise ValueError(
            f"token {name!r} must be stored as 'sha256:<64 hex>', never in clear; "
            "create one with `escalation token new NAME`"
        )
    return f"sha256:{hexdigest}"


def key_list(value: Any) -> Any:
    """``ESCALATION_LINK_KEYS`` as a JSON array or comma-separated, newest first."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


class MissingSetting(ValueError):
    """A setting a service cannot start without in this profile."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"ESCALATION_{name.upper()}: {message}")
        self.name = name
