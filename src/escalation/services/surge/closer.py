"""The surge service's timer task: a close tick for each surge whose quiet time passed.

A timer cannot write a faust table (only a stream may, on the source event's
partition), so, as the escalator's scanner does, it sends a ``ProductTick`` keyed by the
product instead: it lands on the partition that holds the product's state, and the
agent decides the close like any input, effects first, then state. A tick carries the
state's version, so one made before a new customer moved the close is ``stale``, and a
tick sent twice closes once.

The index is rebuilt from the table after each recovery; a key another worker now holds
only costs a stale tick there. A tick still current ``RESEND_AFTER`` later is sent again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime, timedelta

import mode
import structlog

from escalation.schemas.surge import ProductTick

log = structlog.get_logger(__name__)

RESEND_AFTER = timedelta(seconds=30)


class Closer(mode.Service):
    def __init__(
        self,
        settled: Callable[[], bool],
        send: Callable[[ProductTick], Awaitable[None]],
        idle: float = 1.0,
        **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)
        self.settled = settled
        self.send = send
        self.idle = idle
        self.due: dict[str, tuple[datetime, int]] = {}
        self._stopping = asyncio.Event()
        self._task: asyncio.Future[None] | None = None

    def put(self, key: str, when: datetime | None, version: int) -> None:
        if when is None:
            self.due.pop(key, None)
        else:
            self.due[key] = (when, version)

    def rebuild(self, entries: Iterable[tuple[str, datetime | None, int]]) -> None:
        self.due.clear()
        for key, when, version in entries:
            self.put(key, when, version)

    async def on_start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.ensure_future(self._run())

    async def on_stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.idle)
            if self._stopping.is_set() or not self.settled():
                continue
            try:
                await self.scan(datetime.now(UTC))
            except Exception:  # a bug here must not end the closes of the whole worker
                log.exception("surge.scan_failed")

    async def scan(self, now: datetime) -> int:
        sent = 0
        for key, (when, version) in list(self.due.items()):
            if when > now:
                continue
            try:
                await self.send(ProductTick(key=key, version=version, due=when))
            except Exception as exc:  # noqa: BLE001 - the broker refused: the next scan retries
                log.warning("surge.tick_not_sent", key=key, error=repr(exc))
                continue
            if self.due.get(key) == (when, version):
                self.due[key] = (now + RESEND_AFTER, version)
            sent += 1
        return sent
