"""A batch of pages read or of outcomes booked: decided in order, written together, handed on.

The agent reading ``pages.v1`` takes its inputs in batches
(``StreamService.consume_batches``) the way the escalator does, and the ``Reporter``
books the outcomes its lanes handed over the same way: each item is decided against
the batch's staged view of the table (``staging.py``) into a :class:`Plan`, then the
plan is applied: its records (``page.delivered``, ``paged``, ``page.failed``, dead
letters) in one round of record batches, its table changes after them, and only once
the broker acknowledged both are jobs handed to the lanes and settled deliveries let
go. A page therefore reaches its lane only after its pending record is in the
changelog (a crash before that reads the page again, and nothing was sent), and a
delivery is marked delivered only after its outcome record is written (a crash before
that leaves it pending, delivered again with the same id). Per input this replaces
faust's event, ack and buffered changelog send, and an awaited send per record.

An input's own fault (it does not decode, or the code raised on it) undoes what it
staged and becomes a dead letter in the same batch. A failure to apply the batch that
is not the broker's (a record too large) cannot be pinned on one input, so the batch
is applied again one input at a time, as the escalator does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import structlog
from faust.types import EventT

from escalation.services.common.batches import BatchStep, BatchWriter, Outgoing, whole_or_each
from escalation.services.common.faults import classify

from .lanes import Job
from .ledger import Ledger
from .staging import Staged

if TYPE_CHECKING:
    from .app import PagerService

log = structlog.get_logger(__name__)

BATCH_SIZE = 1000
"""Inputs decided per batch at most (one round of writes per batch)."""
BATCH_SECONDS = 0.01
"""How long a batch waits to fill: at most this much latency added to a page."""


@dataclass
class Offer:
    """A job for its lane; if the lane is full, it fails at once with ``why``."""

    job: Job
    why: str
    fallback: str | None


@dataclass
class Plan:
    staged: Staged
    ledger: Ledger
    """The pager's ledger read and written through ``staged``."""
    outputs: list[Outgoing] = field(default_factory=list)
    offers: list[Offer] = field(default_factory=list)
    offered: set[bytes] = field(default_factory=set)
    """Deliveries taken up in this batch (offered, or failed at once), so an input
    repeated in the batch is taken once."""
    settle: list[bytes] = field(default_factory=list)
    """Deliveries whose outcome the books took in: no longer in anyone's hands."""
    _taken: list[bytes] = field(default_factory=list)

    def take_up(self, ident: bytes) -> None:
        self.offered.add(ident)
        self._taken.append(ident)

    def mark(self) -> tuple[int, int, int, int]:
        self.staged.begin()
        return len(self.outputs), len(self.offers), len(self.settle), len(self._taken)

    def undo(self, mark: tuple[int, int, int, int]) -> None:
        """Forget what the input being decided added (its fault becomes a dead letter)."""
        outputs, offers, settle, taken = mark
        self.staged.rollback()
        self.offered.difference_update(self._taken[taken:])
        del self.outputs[outputs:], self.offers[offers:], self.settle[settle:]
        del self._taken[taken:]


Decide = Callable[[EventT, Plan], None]


class Batches:
    """Runs a pager agent's batches: plan, write, hand on."""

    def __init__(self, pager: PagerService, writer: BatchWriter) -> None:
        self.pager = pager
        self.writer = writer

    def plan(self) -> Plan:
        staged = Staged(self.pager.table)
        return Plan(staged, self.pager.ledger.over(staged))

    def handler(self, decide: Decide) -> BatchStep:
        """The batch decided and applied, or each input alone when that fails
        (``whole_or_each``: a record too large, a bug)."""

        async def handle(events: list[EventT]) -> None:
            await self.run(events, decide)

        return whole_or_each(handle, self.writer, self.pager.dead_letter_record, "pager")

    async def run(self, events: list[EventT], decide: Decide) -> None:
        first = events[0].message  # a retry log names it: none of the batch is committed
        held = {"partition": first.partition, "offset": first.offset, "messages": len(events)}
        await self.apply(self._decide(events, decide), **held)

    def _decide(self, events: list[EventT], decide: Decide) -> Plan:
        plan = self.plan()
        for event in events:
            plan.staged.event = event
            mark = plan.mark()
            try:
                decide(event, plan)
            except Exception as exc:
                plan.undo(mark)
                reason = classify(exc, event.message.value)
                if reason == "dependency":  # nothing here talks to the broker: ours
                    reason = "bug"
                if reason == "bug":
                    log.error("message.handler_failed", exc_info=exc, offset=event.message.offset)
                plan.outputs.append(self.pager.dead_letter_record(event, reason, exc))
        return plan

    async def apply(self, plan: Plan, **held: object) -> None:
        """Write ``plan`` (records, then the table), then hand its jobs to their lanes."""
        await self.writer.send_together(plan.outputs, **held)
        await self.writer.write_tables(plan.staged.writes(), **held)
        pager = self.pager
        for ident in plan.settle:
            pager.settled.discard(ident)
        for offer in plan.offers:
            if not pager.lanes.offer(offer.job):
                pager.books.fail_later(offer.job, offer.why, offer.fallback)
        for target in {offer.job.target for offer in plan.offers}:
            pager.pager_metrics.waiting(target).set(pager.lanes.lane(target).backlog)
