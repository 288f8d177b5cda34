"""Lane outcomes, booked and written together: a lane worker hands its outcome over and goes on.

A worker hands each outcome record to the :class:`Reporter` and takes its next job; one
task books whatever has gathered since its last write (waiting a few milliseconds for
more, so a write carries many outcomes) into one plan
(``bookkeeping.py``: the outcome records, ``paged``, dead letters, the table's changes,
fallback jobs) and applies it as the agent applies a batch of pages (``batch.py``):
records, then the table's changelog, then the store and the lanes. While the broker
refuses it, the plan is tried again with backoff, forever, as a lane would.

Nothing changes for a crash: until its plan is written a delivery's pending record
stands (and the delivery stays ``settled``, in nobody else's hands), so a process that
dies with outcomes unwritten delivers those pages again after recovery, with the same
ids. ``drain`` gives a stopping pager the chance to write what it has.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

import structlog

from escalation.schemas import EscalationEvent

from .batch import Plan
from .lanes import Job
from .staging import InPartition

if TYPE_CHECKING:
    from .app import PagerService

log = structlog.get_logger(__name__)

GATHER_SECONDS = 0.015
"""How long the books wait for more outcomes before a write: under load, fewer and larger
writes (two produce round trips each, whatever their size); at most this much added to
when an outcome is recorded, never to a page's delivery. 15 ms rather than 5: the pager's
CPU per page fell by about a tenth (three interleaved pairs of ``bench --only pager``)."""
GATHER_MAX = 500
"""Outcomes that start a write at once."""


class Reporter:
    def __init__(self, pager: PagerService) -> None:
        self.pager = pager
        self.pending: list[tuple[Job, EscalationEvent]] = []
        self.wake = asyncio.Event()
        self.idle = asyncio.Event()
        self.idle.set()
        self.task: asyncio.Task[None] | None = None

    def submit(self, job: Job, record: EscalationEvent) -> None:
        """Queue ``job``'s outcome; it is booked with the others gathered meanwhile."""
        self.pending.append((job, record))
        self.idle.clear()
        self.wake.set()
        if self.task is None or self.task.done():
            self.task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        while True:
            await self.wake.wait()
            if len(self.pending) < GATHER_MAX:
                await asyncio.sleep(GATHER_SECONDS)
            self.wake.clear()
            outcomes, self.pending = self.pending, []
            await self._write(self._book(outcomes), len(outcomes))
            if not self.pending:
                self.idle.set()

    def _book(self, outcomes: list[tuple[Job, EscalationEvent]]) -> Plan:
        pager = self.pager
        plan = pager.batches.plan()
        owned = pager.owned()
        for job, record in outcomes:
            plan.staged.event = InPartition(job.partition)
            mark = plan.mark()
            try:
                pager.books.book(job, record, plan, job.partition in owned)
            except Exception:
                plan.undo(mark)
                pager.settled.discard(job.key)  # still pending: delivered again after a restart
                log.exception("page.outcome_unbooked", page_id=job.page.page_id, target=job.target)
        return plan

    async def _write(self, plan: Plan, outcomes: int) -> None:
        delay = 0.2
        while True:
            try:
                await self.pager.batches.apply(plan, outcomes=outcomes)
                self.pager.pager_metrics.booked.inc(outcomes)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the broker's errors are many; all wait
                log.warning("page.outcome_unwritten", error=repr(exc), retry_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def drain(self, within: float) -> None:
        """Wait until every submitted outcome is written, at most ``within`` seconds."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.idle.wait(), within)

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
