"""Policy file models (YAML, ``version: 1``). See docs/policy.md for every field."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from escalation.schemas.contact import Channel, Tier, Urgency

_DURATION = re.compile(r"^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
_UNITS = (7 * 86400, 86400, 3600, 60, 1)


def parse_duration(value: object) -> int:
    """'72h', '1h30m', '2d' or a number of seconds -> seconds."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value and (m := _DURATION.match(value.strip())):
        return sum(int(n) * unit for n, unit in zip(m.groups(), _UNITS, strict=True) if n)
    raise ValueError(f"invalid duration {value!r}: use e.g. '90s', '15m', '72h', '1d12h'")


Duration = Annotated[int, BeforeValidator(parse_duration), Field(ge=1)]
Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]


class PolicyModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SecretRef(PolicyModel):
    env: str = Field(pattern=r"^[A-Z_][A-Z0-9_]*$", description="environment variable name")


class Target(PolicyModel):
    id: Id
    type: Literal["webhook", "pagerduty", "slack"]
    url: str = Field(description="receiver URL; ${VAR} and ${VAR:-default} are expanded")
    secret: SecretRef | None = None


class Owner(PolicyModel):
    id: Id
    name: str = Field(min_length=1, max_length=128)
    teams: list[Id] = Field(min_length=1)
    authority: int = Field(ge=0, le=10)
    skills: list[str] = Field(default_factory=list)
    capacity: int = Field(default=25, ge=1)
    targets: list[Id] = Field(default_factory=list)


class Team(PolicyModel):
    id: Id
    name: str = Field(min_length=1, max_length=128)
    targets: list[Id] = Field(default_factory=list)


class Escalation(PolicyModel):
    repeat_threshold: int = Field(default=3, ge=1, le=1000)
    repeat_window: Duration = 72 * 3600
    page_on_critical: bool = True


class Match(PolicyModel):
    """All given conditions must hold; an empty match is a catch-all."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    tier: list[Tier] | None = Field(default=None, alias="customer.tier")
    channel: list[Channel] | None = None
    category: list[str] | None = Field(
        default=None, description="dotted prefixes: 'hvac' matches 'hvac.repair'"
    )
    product: list[str] | None = None
    urgency: list[Urgency] | None = None

    @property
    def is_catch_all(self) -> bool:
        return all(
            v is None for v in (self.tier, self.channel, self.category, self.product, self.urgency)
        )


class Route(PolicyModel):
    name: Id
    match: Match = Field(default_factory=Match)
    team: Id
    min_authority: int = Field(default=1, ge=0, le=10)
    skills: list[str] = Field(default_factory=list)
    escalation: Escalation | None = None
    targets: list[Id] = Field(default_factory=list)
    continue_: bool = Field(default=False, alias="continue")


class Policy(PolicyModel):
    version: Literal[1]
    owners: list[Owner] = Field(min_length=1)
    teams: list[Team] = Field(min_length=1)
    targets: list[Target] = Field(default_factory=list)
    escalation: Escalation = Field(default_factory=Escalation)
    routes: list[Route] = Field(min_length=1)
