"""The timer task of one escalator worker: a tick for each issue whose deadline passed.

It never writes the table: faust allows that only while iterating a stream, and the
partition a write goes to is the source event's. It sends ``tick`` records instead, each
on the partition that holds its issue, and the agent that owns the issue reads them with
its other inputs and decides (``timers.decide_tick``), so a deadline fires in the same
place, with the same crash rules, as a contact or a command: effects, then state.

It scans only while the worker holds settled partitions (not while rebalancing or
recovering: the index is rebuilt after each recovery), and sleeps until the earliest
deadline it knows of, at most ``idle`` seconds, or until the agent wakes it with an
earlier one. A deadline missed while the worker was down is simply in the past when the
index is rebuilt, so it fires on the first scan after recovery.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import mode
import structlog

from .due import Due, DueIndex

log = structlog.get_logger(__name__)

RETRY_SEND = timedelta(seconds=1)
"""A tick the broker did not take is tried again this soon."""
UNSETTLED_WAIT = 0.1
"""Seconds between looks while the worker rebalances or recovers."""


def utc_now() -> datetime:
    return datetime.now(UTC)


class TickScanner(mode.Service):
    """Sends the due ticks of ``index`` through ``send``; a failed send is retried."""

    def __init__(
        self,
        index: DueIndex,
        settled: Callable[[], bool],
        send: Callable[[Due], Awaitable[None]],
        idle: float = 1.0,
        clock: Callable[[], datetime] = utc_now,
        **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)
        self.index = index
        self.settled = settled
        self.send = send
        self.idle = idle
        self.clock = clock
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Future[None] | None = None

    def wake(self) -> None:
        """An earlier deadline was written: look again now."""
        self._wake.set()

    async def on_start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.ensure_future(self._run())

    async def on_stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while not self._stopping.is_set():
            await self._sleep()
            if self._stopping.is_set():
                return
            try:
                await self.scan()
            except Exception:  # a bug here must not end the timers of the whole worker
                log.exception("escalator.scan_failed")

    async def _sleep(self) -> None:
        if not self.settled():
            timeout = UNSETTLED_WAIT
        else:
            next_at = self.index.next_at()
            timeout = self.idle
            if next_at is not None:
                timeout = min(self.idle, max(0.0, (next_at - self.clock()).total_seconds()))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)
        self._wake.clear()

    async def scan(self) -> int:
        """Send every tick due now; how many were taken for sending."""
        if not self.settled():
            return 0
        now = self.clock()
        due = self.index.take_due(now)
        if not due:
            return 0
        results = await asyncio.gather(*(self.send(d) for d in due), return_exceptions=True)
        failed = [(d, r) for d, r in zip(due, results, strict=True) if isinstance(r, BaseException)]
        for entry, _ in failed:
            self.index.retry(entry, now + RETRY_SEND)
        if failed:
            log.warning(
                "escalator.ticks_not_sent",
                count=len(failed),
                error=repr(failed[0][1]),
                retry_in=RETRY_SEND.total_seconds(),
            )
        return len(due)
