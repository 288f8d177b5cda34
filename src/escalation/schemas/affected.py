"""Who a surge covers, as its state, records and pages name them (bounded lists + counts)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import Name, WireModel

AFFECTED_SHOWN = 50
"""Customers and issues a surge names on its records and pages; the counts say how many."""
SurgeKey = Literal["product", "category"]


class IssueRef(WireModel):
    customer_id: Name
    issue_id: str


class Affected(WireModel):
    """Who a surge covers: the first customers and issues by name, and how many in all."""

    rule: Name
    by: SurgeKey
    value: str = Field(description="the product (or category) the surge is about")
    customers: list[str] = Field(default_factory=list, max_length=AFFECTED_SHOWN)
    customer_count: int = Field(ge=0, description="distinct customers (estimated past 64)")
    issues: list[IssueRef] = Field(default_factory=list, max_length=AFFECTED_SHOWN)
    issue_count: int = Field(ge=0, description="distinct issues (estimated past 64)")


class SurgeLink(WireModel):
    """An issue's tie to the surge that covers it: ``held`` while its own pages wait."""

    id: str = Field(description="the surge's escalation id")
    held: bool = Field(description="false: exempt (critical, VIP), its pages go out")
