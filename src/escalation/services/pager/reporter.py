"""Lane outcomes, written together: a lane worker hands its outcome over and takes the next job.

A lane used to await each outcome's acknowledgement (a faust send: a coroutine, a
future and a callback per record, and a broker round trip) before its next delivery,
so four workers per target delivered at most four pages per round trip. Here a worker
hands the record to the :class:`Reporter` and goes on; one task writes whatever has
gathered since its last write as record batches (``BatchWriter.send_together``) and,
while the broker refuses them, tries again with backoff, forever, as the lane did.

Nothing changes for a crash: until an outcome is written the delivery's pending record
stands (and the delivery stays ``settled``, in nobody else's hands), so a process that
dies with outcomes unwritten delivers those pages again after recovery, with the same
ids. ``drain`` gives a stopping pager the chance to write what it has.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from escalation.services.common.batches import BatchWriter, Outgoing

log = structlog.get_logger(__name__)


class Reporter:
    def __init__(self, writer: BatchWriter) -> None:
        self.writer = writer
        self.pending: list[Outgoing] = []
        self.wake = asyncio.Event()
        self.idle = asyncio.Event()
        self.idle.set()
        self.task: asyncio.Task[None] | None = None

    def submit(self, record: Outgoing) -> None:
        """Queue ``record``; it is written with the others gathered meanwhile."""
        self.pending.append(record)
        self.idle.clear()
        self.wake.set()
        if self.task is None or self.task.done():
            self.task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        while True:
            await self.wake.wait()
            self.wake.clear()
            records, self.pending = self.pending, []
            await self._write(records)
            if not self.pending:
                self.idle.set()

    async def _write(self, records: list[Outgoing]) -> None:
        delay = 0.2
        while True:
            try:
                await self.writer.send_together(records, outcomes=len(records))
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
