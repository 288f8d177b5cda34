"""The surge service's state per counted product (its ``products`` table, a changelog).

Bounded whatever the traffic: a product keeps at most ``BUCKETS + 1`` window buckets,
each an exact set of up to 64 customer digests or a 512-byte HyperLogLog past that
(``services/surge/distinct.py``), the latest ``AFFECTED_SHOWN`` reporters, and while a
surge is open its own two counters and named lists. ``python -m bench.surge_size``
measures it (docs/benchmarks.md).
"""

from __future__ import annotations

from pydantic import Field

from .affected import Affected
from .base import Name, Timestamp, WireModel
from .surge import SurgeSettings

BUCKETS = 12
"""Buckets per window: a customer counts for between one window and 13/12 of one."""


class Distinct(WireModel):
    """Distinct 62-bit digests: exact up to a limit, then HyperLogLog registers (base64)."""

    ids: list[int] | None = Field(default_factory=list)
    registers: str | None = None


class Bucket(WireModel):
    start: int = Field(description="epoch seconds, a multiple of the bucket's width")
    seen: Distinct = Field(default_factory=Distinct)


class Reporter(WireModel):
    customer_id: Name
    issue_id: str
    at: Timestamp


class OpenSurge(WireModel):
    surge_id: str
    customer_id: Name = Field(description="the surge's own key: surge:<rule>:<value>")
    issue_id: str
    opened_at: Timestamp
    last_new_at: Timestamp = Field(description="when a customer last joined it")
    close_due: Timestamp
    customers: Distinct = Field(default_factory=Distinct)
    issues: Distinct = Field(default_factory=Distinct)
    affected: Affected
    settings: SurgeSettings
    category: str
    product: str | None = None
    baseline: float = 0.0
    updates: int = Field(default=0, description="surge.updated records sent: their cause ids")


class ProductState(WireModel):
    key: str
    rule: Name
    value: str
    buckets: list[Bucket] = Field(default_factory=list)
    recent: list[Reporter] = Field(default_factory=list)
    baseline: float = Field(default=0.0, description="moving average of customers per window")
    period: int | None = Field(default=None, description="the window-long period being counted")
    seq: int = Field(default=0, description="surges this product has had: in their ids")
    surge: OpenSurge | None = None
    version: int = Field(default=0, description="+1 whenever the close time moves")
