"""Silences: matchers over an escalation's fields and a time range in which its pages
wait or are dropped (``escalation.controls.v1``, keyed by silence id).

Matchers follow Alertmanager's: ``name=value``, ``name!=value``, ``name=~regex`` and
``name!~regex``; a regular expression must match the whole value, and a field the
escalation lacks counts as the empty string (so ``product!=""`` means "has a product").
They are written as a string (``'category=~"hvac(\\..*)?"'``) or as a mapping
(``{name: category, op: "=~", value: "hvac(\\..*)?"}``).

A silence is created by one record and ended by a later one of the same id (expired):
both travel on the controls topic, which every escalator worker reads whole, so a
silence is known to every worker whichever partition its escalations live in.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from .base import Identifier, Text, Timestamp, WireModel

Op = Literal["=", "!=", "=~", "!~"]
SilenceMode = Literal["wait", "drop"]
"""wait: the pages go out when the silence ends (if still due); drop: they never do."""

FIELDS = (
    "customer.id",
    "customer.tier",
    "category",
    "product",
    "issue_key",
    "owner",
    "team",
    "urgency",
    "level",
    "status",
    "route",
    "channel",
    "source",
    "escalation_id",
)
"""What a matcher may name, besides ``attributes.<name>`` (a contact's attribute)."""
MATCHERS_LIMIT = 32
_TEXT = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.\-]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$", re.DOTALL)


@cache
def anchored(expression: str) -> re.Pattern[str]:
    """The regular expression anchored at both ends, as Alertmanager anchors it."""
    return re.compile(f"^(?:{expression})$", re.DOTALL)


def matcher_from_text(value: Any) -> Any:
    """'name=~"regex"' -> {name, op, value}; a mapping is left as it is."""
    if not isinstance(value, str):
        return value
    found = _TEXT.match(value)
    if found is None:
        raise ValueError(
            f"matcher {value!r} is not 'name=value', 'name!=value', 'name=~regex' or 'name!~regex'"
        )
    name, op, raw = found.groups()
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        raw = raw[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return {"name": name, "op": op, "value": raw}


class Matcher(WireModel):
    """One condition on a field of the escalation (or of the contact that paged)."""

    name: str = Field(min_length=1, max_length=140, description="customer.id, attributes.x...")
    op: Op = "="
    value: Annotated[Text, Field(max_length=1024)]

    @field_validator("name")
    @classmethod
    def _known(cls, name: str) -> str:
        if name in FIELDS or (name.startswith("attributes.") and len(name) > len("attributes.")):
            return name
        raise ValueError(f"unknown field {name!r}: use one of {', '.join(FIELDS)} or attributes.x")

    @model_validator(mode="after")
    def _compiles(self) -> Matcher:
        if self.op in ("=~", "!~"):
            try:
                anchored(self.value)
            except re.error as exc:
                raise ValueError(f"invalid regular expression {self.value!r}: {exc}") from exc
        return self

    def matches(self, labels: dict[str, str]) -> bool:
        """Whether ``labels`` satisfy this matcher; a missing field is the empty string."""
        value = labels.get(self.name, "")
        if self.op == "=":
            return value == self.value
        if self.op == "!=":
            return value != self.value
        found = anchored(self.value).match(value) is not None
        return found if self.op == "=~" else not found

    def __str__(self) -> str:
        quoted = self.value.replace("\\", "\\\\").replace('"', '\\"')
        return f'{self.name}{self.op}"{quoted}"'


MatcherInput = Annotated[Matcher, BeforeValidator(matcher_from_text)]
"""A matcher written as a string or as a mapping."""
Matchers = Annotated[list[MatcherInput], Field(min_length=1, max_length=MATCHERS_LIMIT)]


class SilenceBody(WireModel):
    """The JSON body of ``POST /v1/silences``: who made it comes from the token."""

    matchers: Matchers
    starts_at: Timestamp | None = Field(default=None, description="default: now")
    ends_at: Timestamp
    mode: SilenceMode = "wait"
    comment: Annotated[Text, Field(max_length=1024)] | None = None
    created_by: Annotated[str, Field(min_length=1, max_length=128)] | None = Field(
        default=None, description="kept as a claim in the comment when tokens are in use"
    )

    @model_validator(mode="after")
    def _ordered(self) -> SilenceBody:
        if self.starts_at is not None and self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class Silence(WireModel):
    """A silence as it is in force: from the API, the policy file or a maintenance window."""

    id: Identifier
    matchers: Matchers
    starts_at: Timestamp
    ends_at: Timestamp
    mode: SilenceMode = "wait"
    created_by: str | None = Field(default=None, max_length=160)
    comment: str | None = Field(default=None, max_length=1024)
    created_at: Timestamp | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Silence:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class SilenceShown(Silence):
    """A silence as the HTTP API shows it: whether it was expired, and by whom."""

    expired: bool
    expired_by: str | None = Field(default=None, max_length=160)


class SilenceRecord(WireModel):
    """A silence on ``escalation.controls.v1``, keyed by its id: the latest record of an id
    is its state (the topic is compacted in production).

    The envelope (``id``, ``kind``, ``active``, ``at``) is the one every entry of the
    controls broadcast has; ``active: false`` expires the silence, whose ``ends_at`` is
    then the moment it was expired (if that came first).
    """

    id: Identifier
    kind: Literal["silence"] = "silence"
    active: bool
    at: Timestamp = Field(description="when this record was made (created or expired)")
    silence: Silence
    expired_by: str | None = Field(default=None, max_length=160)
