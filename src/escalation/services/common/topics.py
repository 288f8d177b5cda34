"""The topic catalogue: every topic the services read or write, with its partition count."""

from __future__ import annotations

from dataclasses import dataclass

CONTACTS = "contacts.v1"
ROUTED = "contacts.routed.v1"
ESCALATIONS = "escalations.v1"
COMMANDS = "escalation.commands.v1"
PAGES = "pages.v1"
TICKS = "escalation.ticks.v1"
"""Timer ticks: the escalator's scanner to its own agent, on the issue's partition."""
BY_PRODUCT = "contacts.by-product.v1"
"""Routed contacts repartitioned by what a surge rule counts (product or category)."""
SURGES = "surges.v1"
"""Surge lifecycle, keyed by the surge's own id: the escalator pages it."""
CONTROLS = "escalation.controls.v1"
"""Broadcast, keyed by id (compacted): open surges and silences, read whole by every
escalator worker and by intake."""

ROUTER_APP = "escalation-router"
ESCALATOR_APP = "escalation-escalator"
PAGER_APP = "escalation-pager"
SURGE_APP = "escalation-surge"

ISSUES_TABLE = "issues"
TIMELINES_TABLE = "timelines"
DELIVERED_TABLE = "delivered"
PRODUCTS_TABLE = "products"

ROUTER_CHANGELOG = "escalation-router-changelog"
"""The router's state (services/router/ownership.py): one assignment per customer issue."""


def dlq_of(topic: str) -> str:
    """``contacts.v1`` -> ``contacts.dlq.v1``; every consumer's poison goes to its topic's DLQ."""
    base, dot, version = topic.rpartition(".")
    if not dot or not version.startswith("v"):
        return f"{topic}.dlq"
    return f"{base}.dlq.{version}"


def changelog_of(app_id: str, table: str) -> str:
    """The changelog topic faust uses for a table."""
    return f"{app_id}-{table}-changelog"


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    compacted: bool = False
    retention_ms: int | None = None


def catalogue(partitions: int) -> list[TopicSpec]:
    """Every topic, co-partitioned: keyed by customer id, so all share one partition count."""
    data = [CONTACTS, ROUTED, ESCALATIONS, COMMANDS, PAGES, TICKS, BY_PRODUCT, SURGES]
    specs = [TopicSpec(name, partitions) for name in data]
    specs += [TopicSpec(dlq_of(name), partitions) for name in data]
    specs += [TopicSpec(CONTROLS, partitions, compacted=True)]
    specs += [
        TopicSpec(changelog_of(ESCALATOR_APP, ISSUES_TABLE), partitions, compacted=True),
        TopicSpec(changelog_of(ESCALATOR_APP, TIMELINES_TABLE), partitions, compacted=True),
        TopicSpec(changelog_of(PAGER_APP, DELIVERED_TABLE), partitions, compacted=True),
        TopicSpec(changelog_of(SURGE_APP, PRODUCTS_TABLE), partitions, compacted=True),
        TopicSpec(ROUTER_CHANGELOG, partitions, compacted=True),
    ]
    return specs
