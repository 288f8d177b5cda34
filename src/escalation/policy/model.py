"""Policy file models (YAML, ``version: 1``). docs/policy.md documents every field.

The models only describe and validate shape; cross-references, time zones and schedule
coverage are checked in ``load.py``, decisions live in ``match.py``, ``hours.py``,
``schedule.py`` and ``choose.py``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Annotated, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from escalation.schemas.contact import Channel, Tier, Urgency
from escalation.schemas.silence import Matchers, SilenceMode
from escalation.schemas.state import LADDER_LIMIT, MARKS_LIMIT

_DURATION = re.compile(r"^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
_UNITS = (7 * 86400, 86400, 3600, 60, 1)
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def parse_duration(value: object) -> int:
    """'72h', '1h30m', '2d' or a number of seconds -> seconds."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value and (m := _DURATION.match(value.strip())):
        return sum(int(n) * unit for n, unit in zip(m.groups(), _UNITS, strict=True) if n)
    raise ValueError(f"invalid duration {value!r}: use e.g. '90s', '15m', '72h', '1d12h'")


def _clock(value: object) -> object:
    if isinstance(value, int | float) and not isinstance(value, bool):
        # YAML 1.1 reads an unquoted 17:30 as the number 1050 (base 60).
        raise ValueError('write times as quoted strings, e.g. "17:30"')
    if isinstance(value, str) and value.strip() == "24:00":
        return time.max
    return value


MAX_DURATION = 10 * 366 * 86400
"""Ten years: longer than any window a policy means, and far from where adding it to a
contact's time (years 1970-2999, see schemas.base) would overflow."""
Duration = Annotated[int, BeforeValidator(parse_duration), Field(ge=1, le=MAX_DURATION)]
Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
Clock = Annotated[time, BeforeValidator(_clock)]
Zone = Annotated[str, Field(min_length=1, max_length=64, description="IANA time zone")]


class PolicyModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class SecretRef(PolicyModel):
    env: str = Field(pattern=r"^[A-Z_][A-Z0-9_]*$", description="environment variable name")


PageAction = Literal["trigger", "acknowledge", "resolve"]
EmailAddress = Annotated[
    str, Field(max_length=254, pattern=r"^[^@\s<>,;\x00-\x1f]+@[^@\s<>,;\x00-\x1f]+$")
]
URL_FIELD = "receiver URL; ${VAR} and ${VAR:-default} are expanded (docs/policy.md#targets)"


class TargetBase(PolicyModel):
    """What every target has: ``targets.py`` checks the rest against the environment."""

    id: Id
    fallback: Id | None = Field(
        default=None,
        description="the target that gets the page when this one cannot: its circuit is "
        "open, it rejected the page, or the deadline passed",
    )
    deadline: Duration | None = Field(
        default=None,
        description="how long one page may take to reach this target, retries included "
        "(default ESCALATION_PAGER_DEADLINE_SECONDS)",
    )
    actions: list[PageAction] | None = Field(
        default=None, description="the page actions this target takes (default: all)"
    )
    templates: dict[str, str] = Field(
        default_factory=dict,
        description="Jinja2 templates by name, per type (docs/policy.md#templates)",
    )


class WebhookTarget(TargetBase):
    type: Literal["webhook"]
    url: str = Field(description=URL_FIELD)
    secret: SecretRef | None = Field(default=None, description="a whsec_ Standard Webhooks key")


class PagerDutyTarget(TargetBase):
    type: Literal["pagerduty"]
    url: str = Field(
        default="https://events.pagerduty.com/v2/enqueue",
        description="Events API v2 endpoint (e.g. https://events.eu.pagerduty.com/v2/enqueue)",
    )
    routing_key: SecretRef = Field(description="the integration's 32-character routing key")
    severity: Literal["critical", "error", "warning", "info"] = "critical"


class SlackTarget(TargetBase):
    type: Literal["slack"]
    url: str = Field(description="the incoming webhook URL (a secret: use ${VAR})")


class EmailTarget(TargetBase):
    type: Literal["email"]
    to: list[EmailAddress] = Field(min_length=1, max_length=50)
    sender: EmailAddress = Field(alias="from")
    host: str = Field(min_length=1, max_length=253, description="SMTP server")
    port: int = Field(default=587, ge=1, le=65535)
    starttls: bool = Field(
        default=True, description="upgrade with STARTTLS before sending (false: loopback only)"
    )
    username: str | None = None
    password: SecretRef | None = None


Target = Annotated[
    WebhookTarget | PagerDutyTarget | SlackTarget | EmailTarget, Field(discriminator="type")
]
TARGET_TYPES = ("webhook", "pagerduty", "slack", "email")


class Hours(PolicyModel):
    """Working hours: on these days, from start to end (local to the zone in use)."""

    days: list[Day] = Field(default_factory=lambda: ["mon", "tue", "wed", "thu", "fri"])
    start: Clock = time(9, 0)
    end: Clock = time(17, 0)

    @model_validator(mode="after")
    def _ordered(self) -> Hours:
        if self.end <= self.start:
            raise ValueError("end must be after start (split overnight shifts in two)")
        return self


class Holidays(PolicyModel):
    """Days off: public holidays of these countries (ISO 3166 codes) and explicit dates."""

    countries: list[Annotated[str, Field(pattern=r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$")]] = Field(
        default_factory=list, description="e.g. US, GB, DE-BY (country-subdivision)"
    )
    dates: list[str] = Field(default_factory=list, description="YYYY-MM-DD")

    @field_validator("dates")
    @classmethod
    def _iso_dates(cls, dates: list[str]) -> list[str]:
        for value in dates:
            datetime.strptime(value, "%Y-%m-%d")
        return dates


class Owner(PolicyModel):
    id: Id
    name: str = Field(min_length=1, max_length=128)
    teams: list[Id] = Field(min_length=1)
    authority: int = Field(ge=0, le=10, description="what this owner may decide alone")
    skills: list[str] = Field(default_factory=list)
    capacity: int = Field(default=25, ge=1, description="max open issues at once")
    timezone: Zone | None = Field(default=None, description="defaults to the policy's")
    hours: list[Hours] | None = Field(
        default=None, description="on shift in these hours; none: always (e.g. a desk)"
    )
    works_holidays: bool = False
    targets: list[Id] = Field(default_factory=list)


class Layer(PolicyModel):
    """One on-call rotation: members take turns, handing off every ``every``."""

    name: Id
    members: list[Id] = Field(min_length=1)
    every: Duration = Field(default=7 * 86400, description="e.g. 1d (daily) or 1w (weekly)")
    start: AwareDatetime = Field(description="a handoff moment: the first member starts here")
    hours: list[Hours] | None = Field(
        default=None, description="only on call within these hours (schedule's zone)"
    )


class Override(PolicyModel):
    owner: Id
    start: AwareDatetime
    end: AwareDatetime

    @model_validator(mode="after")
    def _ordered(self) -> Override:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class Schedule(PolicyModel):
    """On-call: the last layer with someone on call wins; overrides win over layers."""

    id: Id
    timezone: Zone | None = None
    layers: list[Layer] = Field(default_factory=list)
    overrides: list[Override] = Field(default_factory=list)
    ical: str | None = Field(
        default=None,
        description="iCalendar file (relative to the policy) whose events are overrides; "
        "an event's SUMMARY or ATTENDEE names the owner id",
    )


class Team(PolicyModel):
    id: Id
    name: str = Field(min_length=1, max_length=128)
    schedule: Id | None = Field(default=None, description="on-call schedule for this team")
    targets: list[Id] = Field(default_factory=list)


class Step(PolicyModel):
    """One rung of an escalation ladder: whom to page, and when if nobody acknowledges."""

    after: Duration = Field(description="since the escalation opened (elapsed time)")
    notify: Literal["owner", "team", "schedule", "fallback"] = Field(
        default="owner",
        description="the issue's owner, its team, whoever is on call for a schedule when "
        "the step fires, or the route's fallback",
    )
    schedule: Id | None = Field(
        default=None,
        description="notify: schedule: which one; default the route's, else its team's",
    )
    repeat: int = Field(default=0, ge=0, le=100, description="further pages of this level")
    every: Duration | None = Field(default=None, description="between repeats")


class Escalation(PolicyModel):
    """When an issue escalates, how the ladder climbs, and what follows resolution.

    On a route, only the fields it names override the top-level ``escalation``.
    """

    repeat_threshold: int = Field(default=3, ge=1, le=MARKS_LIMIT)
    repeat_window: Duration = 72 * 3600
    page_on_critical: bool = True
    ack_timeout: Duration | None = Field(
        default=None, description="a level not acknowledged this long moves to the next"
    )
    ladder: list[Step] = Field(default_factory=list, max_length=LADDER_LIMIT)
    reopen_window: Duration | None = Field(
        default=7 * 86400, description="a contact this soon after resolution reopens it"
    )
    followup_after: Duration | None = Field(
        default=2 * 86400, description="followup_due this long after resolution"
    )
    followup_in_customer_hours: bool = Field(
        default=False,
        description="the follow-up waits for quiet_hours.customer in the customer's time zone",
    )
    reopen_csat: int = Field(default=2, ge=1, le=5, description="a CSAT at or below reopens")
    reopen_sentiment: float = Field(
        default=-0.6, ge=-1.0, le=1.0, description="a sentiment at or below reopens"
    )
    deadline_lead: Annotated[int, BeforeValidator(parse_duration), Field(ge=0)] = Field(
        default=3600, description="escalate this long before a deadline the customer gave"
    )


class Range(PolicyModel):
    """Inclusive bounds; either may be left out."""

    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.min is not None and self.max is not None and self.max < self.min:
            raise ValueError("max must not be below min")
        return self


class When(PolicyModel):
    """Time conditions, evaluated at the contact's ``occurred_at``."""

    business_hours: bool | None = Field(
        default=None, description="true: only within business hours; false: only outside"
    )
    zone: Literal["customer", "policy"] = Field(
        default="policy", description="whose clock: the customer's time zone or the policy's"
    )
    holiday: bool | None = Field(default=None, description="true: only on holidays")


class Match(PolicyModel):
    """All given conditions must hold; an empty match is a catch-all."""

    tier: list[Tier] | None = Field(default=None, alias="customer.tier")
    customer_id: list[str] | None = Field(default=None, alias="customer.id")
    channel: list[Channel] | None = None
    source: list[str] | None = None
    category: list[str] | None = Field(
        default=None, description="dotted prefixes: 'hvac' matches 'hvac.repair'"
    )
    product: list[str] | None = None
    urgency: list[Urgency] | None = None
    sentiment: Range | None = None
    csat: Range | None = None
    attributes: dict[str, str] | None = Field(
        default=None, description="attribute -> exact value ('*' for present)"
    )
    regex: dict[str, str] | None = Field(
        default=None,
        description="field -> regular expression (search): summary, category, product, "
        "issue_key, source, customer.id, or attributes.<name>",
    )
    when: When | None = None

    @property
    def is_catch_all(self) -> bool:
        return all(getattr(self, name) is None for name in type(self).model_fields)


class Authority(PolicyModel):
    """The least authority an owner needs: a base that rises with tier and urgency."""

    base: int = Field(default=1, ge=0, le=10)
    tier: dict[Tier, int] = Field(default_factory=dict)
    urgency: dict[Urgency, int] = Field(default_factory=dict)


def _authority(value: object) -> object:
    return {"base": value} if isinstance(value, int) and not isinstance(value, bool) else value


class Fallback(PolicyModel):
    owner: Id | None = None
    team: Id | None = None

    @model_validator(mode="after")
    def _one(self) -> Fallback:
        if (self.owner is None) == (self.team is None):
            raise ValueError("name exactly one of owner or team")
        return self


class Route(PolicyModel):
    name: Id
    match: Match = Field(default_factory=Match)
    team: Id | None = None
    schedule: Id | None = None
    min_authority: Annotated[Authority, BeforeValidator(_authority)] = Field(
        default_factory=Authority, description="an integer, or {base, tier, urgency}"
    )
    skills: list[str] = Field(default_factory=list)
    fallback: Fallback | None = None
    escalation: Escalation | None = None
    targets: list[Id] = Field(default_factory=list)
    continue_: bool = Field(default=False, alias="continue")

    @model_validator(mode="after")
    def _destination(self) -> Route:
        if self.team is None and self.schedule is None:
            raise ValueError("a route names a team or a schedule")
        return self


class SurgeRule(PolicyModel):
    """Many customers, one product: one incident for a team (docs/policy.md#surges)."""

    name: Id
    match: Match = Field(
        default_factory=Match, description="which contacts count (the route matchers)"
    )
    routes: list[Id] | None = Field(
        default=None, description="count only contacts the router sent down these routes"
    )
    by: Literal["product", "category"] = Field(
        default="product", description="what is counted per: the product, or the category"
    )
    team: Id = Field(description="the team that owns the surge")
    owner: Id | None = Field(
        default=None, description="who the surge pages first; default the team's most senior"
    )
    customers: int = Field(
        ge=2, le=100_000, description="distinct customers within the window that open a surge"
    )
    window: Duration = Field(default=3600, description="the sliding window customers count in")
    ratio: float = Field(
        default=3.0,
        ge=1.0,
        le=1000.0,
        description="and at least this many times the product's own baseline per window",
    )
    baseline_half_life: Duration = Field(
        default=7 * 86400, description="how fast the baseline forgets (a moving average)"
    )
    close_after: Duration | None = Field(
        default=None, description="closes when no new customer reports this long (default: window)"
    )
    exempt: list[Literal["critical", "vip"]] = Field(
        default_factory=lambda: ["critical", "vip"],
        description="issues whose pages go out during a surge: critical contacts, VIP customers",
    )
    on_close: Literal["release", "resolve"] = Field(
        default="release",
        description="what closing does to the issues it held: page them now, or resolve them",
    )
    escalation: Escalation | None = Field(
        default=None, description="the surge's ladder; fields named override the top level"
    )


class Ownership(PolicyModel):
    release_after: Duration = Field(
        default=14 * 86400,
        description="an owner's issue with no contact and no open escalation for this "
        "long stops counting against their capacity",
    )
    forget_after: Duration = Field(
        default=90 * 86400,
        description="an issue with no contact for this long is forgotten: a later "
        "contact starts it afresh with a new owner; bounds the router's state",
    )

    @model_validator(mode="after")
    def _forget_later(self) -> Ownership:
        if self.forget_after < self.release_after:
            raise ValueError("forget_after must not be shorter than release_after")
        return self


class FileSilence(PolicyModel):
    """A silence kept in the policy file: in force from ``starts_at`` until ``ends_at``."""

    id: Id
    matchers: Matchers = Field(description="'name=value', 'name!=value', 'name=~re', 'name!~re'")
    starts_at: AwareDatetime | None = Field(default=None, description="default: always before")
    ends_at: AwareDatetime
    mode: SilenceMode = Field(default="wait", description="wait: pages go out when it ends")
    comment: str | None = Field(default=None, max_length=1024)

    @model_validator(mode="after")
    def _ordered(self) -> FileSilence:
        if self.starts_at is not None and self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class Maintenance(PolicyModel):
    """A recurring silence: starting at ``start`` on ``days`` (or as ``cron`` says), local
    to ``timezone``, until the wall-clock ``end`` or for ``duration`` of elapsed time."""

    id: Id
    matchers: Matchers
    timezone: Zone | None = Field(default=None, description="defaults to the policy's")
    days: list[Day] = Field(default_factory=lambda: list(DAYS))
    start: Clock | None = Field(default=None, description='local time it starts, e.g. "22:00"')
    cron: str | None = Field(
        default=None, description="instead of days and start: 'minute hour day month weekday'"
    )
    end: Clock | None = Field(default=None, description="wall clock; at or before start: next day")
    duration: Duration | None = Field(default=None, description="elapsed time instead of end")
    mode: SilenceMode = "wait"
    comment: str | None = Field(default=None, max_length=1024)

    @model_validator(mode="after")
    def _one_each(self) -> Maintenance:
        if (self.start is None) == (self.cron is None):
            raise ValueError("give either start (with days) or cron")
        if (self.end is None) == (self.duration is None):
            raise ValueError("give either end or duration")
        return self


class CustomerHours(PolicyModel):
    hours: list[Hours] = Field(
        default_factory=lambda: [Hours(days=list(DAYS), start=time(9, 0), end=time(20, 0))],
        description="when customers may be contacted, in their own time zone",
    )


class QuietHours(PolicyModel):
    """Pages of escalations below ``below`` urgency wait for their responder's working
    hours; an escalation that reaches that urgency meanwhile pages at once."""

    below: Literal["normal", "high"] = Field(
        default="high", description="high: low and normal wait; normal: only low waits"
    )
    matchers: Matchers | None = Field(
        default=None, description="only escalations every matcher matches (default: all)"
    )
    hours: list[Hours] | None = Field(
        default=None,
        description="working hours of responders without hours of their own (their zone); "
        "unset: those responders always work",
    )
    customer: CustomerHours | None = Field(
        default=None, description="customer-facing follow-ups wait for the customer's hours"
    )


class Policy(PolicyModel):
    version: Literal[1]
    timezone: Zone = "UTC"
    business_hours: list[Hours] = Field(default_factory=lambda: [Hours()])
    holidays: Holidays = Field(default_factory=Holidays)
    owners: list[Owner] = Field(min_length=1)
    teams: list[Team] = Field(min_length=1)
    schedules: list[Schedule] = Field(default_factory=list)
    targets: list[Target] = Field(default_factory=list)
    escalation: Escalation = Field(default_factory=Escalation)
    ownership: Ownership = Field(default_factory=Ownership)
    routes: list[Route] = Field(min_length=1)
    silences: list[FileSilence] = Field(default_factory=list)
    maintenance: list[Maintenance] = Field(default_factory=list)
    quiet_hours: QuietHours | None = None
    surges: list[SurgeRule] = Field(default_factory=list, description="docs/policy.md#surges")


class PolicyError(Exception):
    """A policy that cannot be used; ``errors`` holds every problem as 'path: message'."""

    def __init__(self, source: str, errors: list[str]) -> None:
        super().__init__(f"{source}: {len(errors)} error(s)\n" + "\n".join(errors))
        self.source = source
        self.errors = errors


@dataclass(frozen=True)
class LoadedPolicy:
    policy: Policy
    version: str
    """Content hash of the file: stamped on every routed event."""
    source: str
    warnings: list[str] = field(default_factory=list)
    ical_overrides: dict[str, list[Override]] = field(default_factory=dict)
