"""What the pager says about a page: records on ``escalations.v1`` and dead letters.

``page.delivered`` (per target that took the page), ``page.failed`` (per target that
could not, naming the fallback), and ``paged`` once a trigger page reached its first
target. They go to the page's own partition, keyed by the customer like every record
of that escalation, with an ``event-id`` of ``<escalation>:<type>:<cause>`` and a
``page-outcome`` header that lets the pager find its own records without decoding the
escalator's. A page that failed at a target goes to ``pages.dlq.v1`` as it was read
(bytes and headers), with the reason ``delivery``, the target and the last error.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from escalation.schemas import EscalationEvent, PageRequest, codec, parse_escalation_id
from escalation.schemas.base import trusted
from escalation.schemas.identity import InvalidEscalationId
from escalation.services.common.batches import Outgoing
from escalation.services.common.dlq import FAILED_TARGET, dead_letter_headers
from escalation.services.common.metrics import Children, ServiceMetrics
from escalation.services.common.topics import PAGES

OUTCOME_HEADER = "page-outcome"
DELIVERY = "delivery"
"""The DLQ reason of a page a target could not take: not bad input, so kept apart."""


@lru_cache(maxsize=4096)  # a page's records (page.delivered, paged) come together
def _issue_id(escalation_id: str) -> str:
    try:
        return parse_escalation_id(escalation_id).issue_id
    except (InvalidEscalationId, ValueError):
        return "unknown"


def outcome(
    kind: str,
    page: PageRequest,
    reason: str,
    *,
    target: str | None = None,
    target_type: str | None = None,
    attempts: int | None = None,
    error: str | None = None,
    fallback: str | None = None,
    fallback_for: str | None = None,
    now: datetime | None = None,
) -> EscalationEvent:
    """One pager record about ``page``; its cause is the page (and target).

    Built without validation: every value is the validated page's, a target id the
    policy checked, or the pager's own (a unit test holds the result to the model).
    """
    cause = page.page_id if target is None or kind == "paged" else f"{page.page_id}/{target}"
    return trusted(
        EscalationEvent,
        escalation_id=page.escalation_id,
        type=kind,
        at=now or datetime.now(UTC),
        customer_id=page.customer_id,
        issue_id=_issue_id(page.escalation_id),
        issue_key=page.issue_key,
        category=page.category,
        product=page.product,
        owner=page.owner,
        team=page.team,
        level=page.level,
        reason=reason,
        contacts=list(page.contacts),
        cause_id=cause,
        notified=list(page.notified) if kind == "paged" and page.notified else None,
        page_id=page.page_id,
        target=target,
        target_type=target_type,
        attempts=attempts,
        error=error[:4000] if error else None,
        fallback=fallback,
        fallback_for=fallback_for,
        by=None,
        note=None,
        eta=None,
        cause=None,
        silence_id=None,
        held_until=None,
    )


class Publisher:
    """The pager's records and dead letters: as ``Outgoing`` for a batch to write
    together, or written one at a time (a lane's outcome), acknowledged by the broker."""

    def __init__(self, escalations: Any, dlq: Any, metrics: ServiceMetrics) -> None:
        self.escalations = escalations
        self.dlq = dlq
        self.metrics = metrics
        self.produced = Children(metrics.produced)

    def outgoing(self, record: EscalationEvent, partition: int) -> Outgoing:
        """``record`` as written to ``escalations.v1``; counted as produced."""
        event_id = f"{record.escalation_id}:{record.type}:{record.cause_id}"
        topic = self.escalations.get_topic_name()
        self.produced(topic).inc()
        return Outgoing(
            topic,
            partition,
            record.customer_id.encode(),
            codec.encode(record),
            [("event-id", event_id.encode()), (OUTCOME_HEADER, record.type.encode())],
        )

    async def record(self, record: EscalationEvent, partition: int) -> None:
        out = self.outgoing(record, partition)
        sent = await self.escalations.send(
            key=out.key, value=out.value, headers=out.headers, partition=partition
        )
        await sent

    def dead_letter_outgoing(
        self,
        page: bytes,
        key: bytes,
        headers: dict[str, str],
        partition: int,
        offset: int,
        target: str | None,
        error: str,
    ) -> Outgoing:
        """``page`` as it was read from ``pages.v1``, with why it was not delivered."""
        original = {k: v.encode() for k, v in headers.items()}
        if target is not None:
            original[FAILED_TARGET] = target.encode()
        with_why = dead_letter_headers(
            self.metrics, original, PAGES, partition, offset, DELIVERY, error
        )
        return Outgoing(self.dlq.get_topic_name(), partition, key, page, with_why)
