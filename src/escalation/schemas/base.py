"""Shared model configuration and constrained types for every wire schema."""

from __future__ import annotations

from datetime import UTC, datetime, timezone
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    StringConstraints,
)


def _rfc3339_text(value: Any) -> Any:
    # JSON numbers would otherwise pass as Unix seconds; the contract says RFC 3339 text.
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError("must be an RFC 3339 timestamp string with a UTC offset")
    return value


def _stdlib_offset(value: datetime) -> datetime:
    # pydantic's parsed offsets are its own tzinfo class, whose utcoffset() goes through
    # Python on every comparison and subtraction; the stdlib fixed-offset timezone is C.
    offset = value.utcoffset()
    if type(value.tzinfo) is timezone or offset is None:
        return value
    return value.replace(tzinfo=UTC if not offset else timezone(offset))


Timestamp = Annotated[AwareDatetime, BeforeValidator(_rfc3339_text), AfterValidator(_stdlib_offset)]
"""An RFC 3339 date-time that carries its UTC offset (naive times are rejected)."""

Name = Annotated[str, StringConstraints(min_length=1, max_length=128, strip_whitespace=False)]
Category = Annotated[
    str,
    StringConstraints(
        min_length=1, max_length=128, pattern=r"^[a-z0-9][a-z0-9_-]*(\.[a-z0-9][a-z0-9_-]*)*$"
    ),
]


class WireModel(BaseModel):
    """Base of every message on a topic: unknown fields are an error, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)
