"""A timer tick: "look at this issue, something of version N was due at T".

The scanner that finds due deadlines in the escalator's state sends one per due issue,
keyed and partitioned like the issue; the escalator re-checks the state's deadlines
and version before anything fires, so a resent or late tick is harmless.
"""

from __future__ import annotations

from pydantic import Field

from .base import Name, Timestamp, WireModel


class Tick(WireModel):
    customer_id: Name
    issue_id: str
    version: int = Field(ge=0, description="the issue state's version the tick was made for")
    due: Timestamp = Field(description="the deadline that was due (for lateness)")
