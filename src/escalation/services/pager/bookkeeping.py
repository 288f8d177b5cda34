"""The pager's books: what follows a delivery's outcome, decided into a batch's plan.

A lane does not write the pager's table: it hands its outcome record to the
``Reporter`` (``reporter.py``), which books every outcome gathered since its last write
into one plan (``batch.py``): the outcome record itself; for a delivery, the record
marked delivered (and the first delivery of a trigger page announced as ``paged``,
which a later delivery of the same page learns from the first one's record); for
a failure, a dead letter from the pending record (the page as it was read, with reason
``delivery``, the target and the last error), its fallback recorded pending and handed
to the fallback's lane once the plan is written, and the failed target's record
dropped, so ``escalation dlq replay`` delivers it afresh. A page its target cannot even
try (an unknown target, a full lane) is booked the same way, in the plan of the input
that found it so, or through the ``Reporter`` once that input's plan is written.

The records are written before the table, so a crash between the two leaves the
delivery pending: delivered again after recovery, with the same id, and its records
written again with the same event-ids. The books used to read the pager's own records
back from ``escalations.v1`` to learn the same; docs/decisions.md says why they no
longer do. Every step is idempotent: an outcome booked twice finds its pending record
gone.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import structlog

from escalation.schemas import EscalationEvent

from .batch import Offer, Plan
from .lanes import Job
from .ledger import PAGED, Ledger, Record, key
from .outcomes import outcome

if TYPE_CHECKING:
    from .app import PagerService

log = structlog.get_logger(__name__)


class Bookkeeper:
    def __init__(self, pager: PagerService) -> None:
        self.pager = pager

    def failure(self, job: Job, why: str, fallback: str | None) -> EscalationEvent:
        """The outcome of a page its target cannot even try (unknown target, full lane)."""
        self.pager.pager_metrics.failed.labels(job.target, "unusable").inc()
        said = f"{job.target} could not take the page: {why.split(': ', 1)[-1]}"
        if fallback:
            said += f"; sent to {fallback} instead"
        return outcome(
            "page.failed",
            job.page,
            said,
            target=job.target,
            attempts=0,
            error=why,
            fallback=fallback,
            fallback_for=job.fallback_for,
        )

    def fail(self, job: Job, why: str, fallback: str | None, plan: Plan) -> None:
        """Book ``failure`` in ``plan`` (whose input found the target unusable)."""
        plan.take_up(job.key)
        self.book(job, self.failure(job, why, fallback), plan)

    def fail_later(self, job: Job, why: str, fallback: str | None) -> None:
        """Book ``failure`` through the ``Reporter`` (a lane found full after its input's
        plan, and so its pending record, was written)."""
        self.pager.settled.add(job.key)  # in no lane, but its outcome is on the way
        self.pager.reporter.submit(job, self.failure(job, why, fallback))

    def book(self, job: Job, record: EscalationEvent, plan: Plan, owned: bool = True) -> None:
        """``record`` (page.delivered or page.failed for ``job``) and what follows from it.

        ``owned`` is False when this worker lost the page's partition meanwhile: the
        record is written, the table is left to the new owner (which still holds the
        delivery pending and makes it again, with the same id).
        """
        plan.outputs.append(self.pager.publisher.outgoing(record, job.partition))
        plan.settle.append(job.key)
        if not owned:
            return
        if record.type == "page.delivered":
            self._delivered(job, plan)
        else:
            self._failed(job, record, plan)

    def _delivered(self, job: Job, plan: Plan) -> None:
        ledger, page = plan.ledger, job.page
        pending = ledger.get(job.key)
        if pending is None or pending.state != "pending":
            return
        if page.action == "trigger" and not self._announced(job, ledger):
            paged = outcome("paged", page, page.reason, target=job.target)
            plan.outputs.append(self.pager.publisher.outgoing(paged, job.partition))
        ledger.deliver(job.key, job.partition)

    def _announced(self, job: Job, ledger: Ledger) -> bool:
        """Whether ``paged`` was written for ``job``'s page: another of its deliveries is
        recorded delivered (each is written after its records, ``paged`` among them), or
        the page has the marker record the books kept before (one changelog record per
        page less now). A target missed here (a fallback renamed by a policy reload)
        repeats ``paged`` under the same event-id, which consumers dedup by."""
        page = job.page
        if ledger.get(key(page.page_id, PAGED)) is not None:
            return True
        targets = self.pager.targets.get()[0]
        for target_id in page.targets:
            target = targets.get(target_id)
            fallback = target.fallback if target is not None else None
            for other in (target_id, fallback):
                if other is None or other == job.target:
                    continue
                known = ledger.get(key(page.page_id, other))
                if known is not None and known.state == "delivered":
                    return True
        return False

    def _failed(self, job: Job, record: EscalationEvent, plan: Plan) -> None:
        pending = plan.ledger.get(job.key)
        if pending is None or pending.state != "pending":
            return
        plan.outputs.append(
            self.pager.publisher.dead_letter_outgoing(
                pending.page,
                record.customer_id.encode(),
                pending.headers or {},
                pending.partition if pending.partition is not None else job.partition,
                pending.offset,
                job.target,
                record.error or record.reason,
            )
        )
        if record.fallback:
            self._fall_back(record.fallback, job, pending, plan)
        plan.ledger.forget(job.key)

    def _fall_back(self, fallback: str, failed: Job, pending: Record, plan: Plan) -> None:
        pager, page, partition = self.pager, failed.page, failed.partition
        ident = key(page.page_id, fallback)
        if plan.ledger.get(ident) is not None or ident in plan.offered:
            return  # the fallback has (or is getting) this page already
        now = time.time()
        plan.ledger.pend(
            ident,
            Record(
                "pending",
                now,
                partition,
                pending.page,
                pending.headers,
                pending.offset,
                fallback_for=failed.target,
            ),
        )
        pager.pager_metrics.fallbacks.labels(failed.target).inc()
        log.info("page.fallback", page_id=page.page_id, failed=failed.target, fallback=fallback)
        job = Job(page, fallback, partition, now, fallback_for=failed.target)
        if pager.targets.get()[0].get(fallback) is None:
            self.fail(job, f"{fallback}: not a usable target", None, plan)
        else:
            plan.offers.append(Offer(job, f"{fallback}: too many pages already waiting", None))
            plan.take_up(ident)
