"""Surges: many customers reporting one product (docs/contract.md#surges).

The surge service repartitions routed contacts by product onto
``contacts.by-product.v1`` (``ProductReport``, and its own ``ProductTick`` for closes),
counts distinct customers per product, and writes ``SurgeEvent`` records to
``surges.v1`` (keyed by the surge's own id, so the escalator pages it through its
ladder on one partition) and ``Control`` records to ``escalation.controls.v1``, the
broadcast every escalator worker reads whole to hold back the pages of covered issues.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from .affected import Affected, SurgeKey
from .base import Name, Timestamp, WireModel
from .contact import Tier, Urgency
from .routed import EscalationSettings
from .silence import Silence

Exemption = Literal["critical", "vip"]
OnClose = Literal["release", "resolve"]


class SurgeSettings(WireModel):
    """A surge rule as the surge service resolved it from the policy in force."""

    rule: Name
    by: SurgeKey = "product"
    threshold: int = Field(ge=2, description="distinct customers in the window that open")
    window_seconds: int = Field(ge=1)
    ratio: float = Field(ge=1.0, description="and this many times the baseline per window")
    half_life_seconds: int = Field(ge=1, description="of the baseline's moving average")
    close_after_seconds: int = Field(ge=1, description="closes when no new customer this long")
    exempt: list[Exemption] = Field(default_factory=list)
    on_close: OnClose = "release"
    team: Name
    owner: Name
    targets: list[Name] = Field(default_factory=list)
    escalation: EscalationSettings = Field(default_factory=EscalationSettings)
    policy_version: str


class ProductReport(WireModel):
    """One routed contact, keyed by what a surge rule counts it under."""

    kind: Literal["report"] = "report"
    key: str = Field(description="<rule>/<value>: the record's key and the state's")
    value: str
    event_id: str
    customer_id: Name
    customer_tier: Tier = "standard"
    issue_id: str
    category: str
    product: str | None = None
    urgency: Urgency = "normal"
    occurred_at: Timestamp
    settings: SurgeSettings


class ProductTick(WireModel):
    """The surge service's timer to its own agent: look at this product's close."""

    kind: Literal["tick"] = "tick"
    key: str
    version: int = Field(ge=0)
    due: Timestamp


ProductSignal = Annotated[ProductReport | ProductTick, Field(discriminator="kind")]

SurgeEventType = Literal["surge.opened", "surge.updated", "surge.closed"]


class SurgeEvent(WireModel):
    """A surge's lifecycle on ``surges.v1``: the escalator pages and tracks it as an escalation.

    ``customer_id`` is the surge's own (``surge:<rule>:<value>``), not a real customer's:
    the record's key, so every record and command about the surge lands on one partition.
    """

    type: SurgeEventType
    surge_id: str = Field(description="the surge's escalation id")
    customer_id: Name
    issue_id: str
    at: Timestamp
    opened_at: Timestamp
    reason: str
    category: str
    product: str | None = None
    affected: Affected
    baseline: float = Field(ge=0, description="customers per window the product usually has")
    settings: SurgeSettings
    cause_id: str = Field(description="stable per record: the escalator's dedup")


class SurgeControl(WireModel):
    rule: Name
    by: SurgeKey
    value: str
    exempt: list[Exemption] = Field(default_factory=list)
    on_close: OnClose = "release"
    opened_at: Timestamp
    closed_at: Timestamp | None = None


class Control(WireModel):
    """One entry of the broadcast every escalator worker holds whole (keyed by ``id``).

    The latest record of an id is its state; production compacts the topic.
    """

    id: str
    kind: Literal["surge", "silence"]
    active: bool
    at: Timestamp
    surge: SurgeControl | None = None
    silence: Silence | None = Field(
        default=None, description="kind silence: the silence (schemas/silence.py)"
    )
    expired_by: str | None = Field(default=None, max_length=160, description="silence")
