"""What a lane does with one job: deliver it, then say so on ``escalations.v1``.

The delivery runs the retry loop (``delivery.deliver``) against the target's circuit
breaker, within what is left of the target's deadline since the page was first taken
(a page resumed after a restart does not get a fresh deadline). The outcome record is
the only thing a lane makes, handed to the ``Reporter`` (``reporter.py``), which books
the outcomes of every lane together while the lane goes on: it writes them, updates the
pager's state, dead-letters a failure and sends the fallback. Until the record is
written the pending state stands, so a crash before it (after the
receiver took the page, say) delivers the page again after recovery, with the same id.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import structlog

from escalation.services.common import crashpoints

from .delivery import Result, Verdict, deliver
from .lanes import Job
from .outcomes import outcome

if TYPE_CHECKING:
    from .app import PagerService
    from .targets.base import Target

log = structlog.get_logger(__name__)


class Courier:
    def __init__(self, pager: PagerService) -> None:
        self.pager = pager

    async def run(self, job: Job) -> None:
        pager = self.pager
        targets, _ = pager.targets.get()
        target = targets.get(job.target)
        if target is None:
            policy = pager.targets.built_from
            missing = f"{job.target}: no longer a usable target in policy {policy}"
            result = Result(Verdict("rejected", "unknown", detail=missing), 0)
        else:
            result = await self._deliver(target, job)
            crashpoints.crash_point("pager.after_post", when=result.verdict.outcome == "delivered")
        await self._report(target, job, result)

    async def _deliver(self, target: Target, job: Job) -> Result:
        pager = self.pager
        breaker = pager.breaker(target.id)
        deadline = target.deadline or pager.settings.pager_deadline_seconds
        left = deadline - (time.time() - job.started)

        def attempted(verdict: Verdict) -> None:
            breaker.record(verdict)
            pager.pager_metrics.attempt(target.id, verdict.reason).inc()
            pager.pager_metrics.open(target.id).set(breaker.state != "closed")

        async def attempt(within: float) -> Verdict:
            try:
                now = int(time.time())
                return await target.attempt(job.page, pager.links, pager.wire, now, within)
            except (ValueError, TypeError, LookupError) as exc:  # a template on this page
                return Verdict("rejected", "rendering", detail=f"{type(exc).__name__}: {exc}")

        return await deliver(
            attempt,
            pager.backoff,
            left,
            halted=breaker.blocked,
            on_attempt=attempted,
            sleep=breaker.sleep,
        )

    async def _report(self, target: Target | None, job: Job, result: Result) -> None:
        pager, page, verdict = self.pager, job.page, result.verdict
        kind = target.kind if target is not None else None
        common = {
            "target": job.target,
            "target_type": kind,
            "attempts": result.attempts,
            "fallback_for": job.fallback_for,
        }
        if verdict.outcome == "delivered":
            pager.pager_metrics.delivery(job.target, page.action).inc()
            lag = (datetime.now(UTC) - page.created_at).total_seconds()
            pager.pager_metrics.delay(job.target).observe(max(lag, 0.0))
            # Every delivery is on record (page.delivered on escalations.v1, the metric);
            # a log line per page cost more CPU than the delivery itself (stdlib logging,
            # the JSON renderer, redaction, a write), so only the eventful ones say so at
            # info: after retries, or to a fallback.
            eventful = result.attempts > 1 or job.fallback_for is not None
            (log.info if eventful else log.debug)(
                "page.delivered",
                target=job.target,
                page_id=page.page_id,
                escalation_id=page.escalation_id,
                action=page.action,
                attempts=result.attempts,
                fallback_for=job.fallback_for,
            )
            said = f"{job.target} took the page ({kind}, {result.attempts} attempt(s))"
            record = outcome("page.delivered", page, said, **common)
        else:
            fallback = target.fallback if target is not None and not job.fallback_for else None
            pager.pager_metrics.failed.labels(job.target, verdict.reason).inc()
            log.warning(
                "page.failed",
                target=job.target,
                page_id=page.page_id,
                reason=verdict.reason,
                error=verdict.detail,
                fallback=fallback,
            )
            said = f"{job.target} could not take the page: {verdict.reason}"
            if fallback:
                said += f"; sent to {fallback} instead"
            error = f"{job.target}: {verdict.detail or verdict.reason}"
            record = outcome("page.failed", page, said, error=error, fallback=fallback, **common)
        pager.settled.add(job.key)  # in no lane now, and not yet booked
        pager.reporter.submit(job, record)
