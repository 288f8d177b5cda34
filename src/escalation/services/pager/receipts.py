"""Every delivery a receiver got, duplicates and bad signatures included.

A receiver that drops a repeated webhook-id before recording it hides exactly what a
crash test has to see: a page delivered twice, and whether the copy carried the same
webhook-id. So the log keeps every delivery and derives the user's view (each page
once, with how many times it came) from it, with totals that tell distinct pages from
deliveries.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class Delivery:
    webhook_id: str | None
    received_at: str
    verified: bool
    """The signature matched."""
    accepted: bool
    """Verified and a valid page: the receiver took it (2xx)."""
    duplicate: bool
    """An accepted delivery whose webhook-id an earlier accepted delivery already carried."""
    page: dict[str, Any] | None
    """The payload, for accepted deliveries only: an unverified body is not trusted."""
    error: str | None = None


class DeliveryLog:
    """Deliveries in arrival order, and the accepted pages they carried, by webhook-id."""

    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []
        self._first: dict[str, int] = {}  # webhook-id -> index of its first delivery
        self._counts: dict[str, int] = {}

    def record(
        self,
        webhook_id: str | None,
        page: dict[str, Any] | None,
        error: str | None = None,
        verified: bool = True,
        at: datetime | None = None,
    ) -> Delivery:
        """Record one delivery: a ``page`` without ``error`` is one the receiver took."""
        accepted = verified and page is not None and error is None
        duplicate = accepted and webhook_id in self._first
        delivery = Delivery(
            webhook_id=webhook_id,
            received_at=(at or datetime.now(UTC)).isoformat(),
            verified=verified,
            accepted=accepted,
            duplicate=duplicate,
            page=page if accepted else None,
            error=error,
        )
        if accepted and webhook_id is not None:
            self._first.setdefault(webhook_id, len(self.deliveries))
            self._counts[webhook_id] = self._counts.get(webhook_id, 0) + 1
        self.deliveries.append(delivery)
        return delivery

    def count(self, webhook_id: str) -> int:
        return self._counts.get(webhook_id, 0)

    def totals(self) -> dict[str, int]:
        accepted = sum(self._counts.values())
        return {
            "distinct_pages": len(self._first),
            "deliveries": accepted,
            "duplicate_deliveries": accepted - len(self._first),
            "rejected_deliveries": len(self.deliveries) - accepted,
        }

    def pages(self) -> list[dict[str, Any]]:
        """Each accepted page once, in order of first arrival, with its delivery count."""
        out = []
        for webhook_id, index in self._first.items():
            first = self.deliveries[index]
            out.append(
                {
                    "webhook_id": webhook_id,
                    "verified": True,
                    "deliveries": self._counts[webhook_id],
                    "first_received_at": first.received_at,
                    "page": first.page,
                }
            )
        return out

    def every_delivery(self) -> list[dict[str, Any]]:
        return [asdict(d) for d in self.deliveries]
