"""The pager's books, kept by the agent that reads its own outcomes on ``escalations.v1``.

A lane cannot write the pager's table (faust allows that only while an agent handles a
message), so it writes an outcome record, and this agent, reading it in the page's
partition, does what follows: a delivery is marked delivered (and the first delivery of
a trigger page announced as ``paged``); a failure is dead-lettered from the pending
record (the page as it was read, with reason ``delivery``, the target and the last
error), its fallback is recorded pending and handed to the fallback's lane, and the
failed target's record is dropped, so ``escalation dlq replay`` delivers it afresh.
Every step is idempotent: an outcome read twice finds its pending record gone.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import structlog
from faust.types import EventT

from escalation.schemas import EscalationEvent, codec
from escalation.services.common.batches import Outgoing
from escalation.services.common.stream import header_map

from .batch import Offer, Plan
from .lanes import Job
from .ledger import PAGED, Record, key
from .outcomes import OUTCOME_HEADER, outcome

if TYPE_CHECKING:
    from .app import PagerService

log = structlog.get_logger(__name__)

SETTLING = (b"page.delivered", b"page.failed")
"""The outcome kinds (the ``page-outcome`` header) that settle a delivery."""


class Bookkeeper:
    def __init__(self, pager: PagerService) -> None:
        self.pager = pager

    def failure(self, job: Job, why: str, fallback: str | None) -> Outgoing:
        """A page its target cannot even try (unknown target, full lane): its outcome."""
        page, pager = job.page, self.pager
        pager.pager_metrics.failed.labels(job.target, "unusable").inc()
        said = f"{job.target} could not take the page: {why.split(': ', 1)[-1]}"
        if fallback:
            said += f"; sent to {fallback} instead"
        record = outcome(
            "page.failed",
            page,
            said,
            target=job.target,
            attempts=0,
            error=why,
            fallback=fallback,
            fallback_for=job.fallback_for,
        )
        pager.settled.add(job.key)  # before the books can read it back
        return pager.publisher.outgoing(record, job.partition)

    async def fail_now(self, job: Job, why: str, fallback: str | None) -> None:
        """Write ``failure`` at once (a lane found full after its batch was written)."""
        out = self.failure(job, why, fallback)
        try:
            await self.pager.batches.writer.send_together([out], partition=job.partition)
        except BaseException:
            self.pager.settled.discard(job.key)  # not written: a retried input takes it up
            raise

    def take(self, event: EventT, plan: Plan) -> None:
        kind = header_map(event).get(OUTCOME_HEADER)
        if kind is None:
            return  # the escalator's lifecycle records: not the pager's business
        partition = event.message.partition
        if kind not in SETTLING:  # ``paged``, read back: nothing to book, nothing to decode
            self.pager.pager_metrics.expired.inc(plan.ledger.sweep(partition))
            return
        record = codec.decode_escalation(event.message.value)
        if record.type in ("page.delivered", "page.failed") and record.target is not None:
            plan.settle.append(key(record.page_id or "", record.target))
            if record.type == "page.delivered":
                self._delivered(record, partition, plan)
            else:
                self._failed(record, partition, plan)
        self.pager.pager_metrics.expired.inc(plan.ledger.sweep(partition))

    def _delivered(self, record: EscalationEvent, partition: int, plan: Plan) -> None:
        ledger = plan.ledger
        assert record.page_id is not None and record.target is not None
        ident = key(record.page_id, record.target)
        pending = ledger.get(ident)
        if pending is None or pending.state != "pending":
            return
        ledger.deliver(ident, partition)
        page = codec.decode_page(pending.page)
        announced = key(page.page_id, PAGED)
        if page.action == "trigger" and ledger.get(announced) is None:
            paged = outcome("paged", page, page.reason, target=record.target)
            plan.outputs.append(self.pager.publisher.outgoing(paged, partition))
            ledger.deliver(announced, partition)

    def _failed(self, record: EscalationEvent, partition: int, plan: Plan) -> None:
        pager = self.pager
        assert record.page_id is not None and record.target is not None
        ident = key(record.page_id, record.target)
        pending = plan.ledger.get(ident)
        if pending is None or pending.state != "pending":
            return
        plan.outputs.append(
            pager.publisher.dead_letter_outgoing(
                pending.page,
                record.customer_id.encode(),
                pending.headers or {},
                pending.partition if pending.partition is not None else partition,
                pending.offset,
                record.target,
                record.error or record.reason,
            )
        )
        if record.fallback:
            self._fall_back(record.fallback, record.target, pending, partition, plan)
        plan.ledger.forget(ident)

    def _fall_back(
        self, fallback: str, failed: str, pending: Record, partition: int, plan: Plan
    ) -> None:
        pager = self.pager
        page = codec.decode_page(pending.page)
        ident = key(page.page_id, fallback)
        if plan.ledger.get(ident) is not None:
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
                fallback_for=failed,
            ),
        )
        pager.pager_metrics.fallbacks.labels(failed).inc()
        log.info("page.fallback", page_id=page.page_id, failed=failed, fallback=fallback)
        job = Job(page, fallback, partition, now, fallback_for=failed)
        if pager.targets.get()[0].get(fallback) is None:
            plan.outputs.append(self.failure(job, f"{fallback}: not a usable target", None))
        else:
            plan.offers.append(Offer(job, f"{fallback}: too many pages already waiting", None))
            plan.offered.add(ident)
