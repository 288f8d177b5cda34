"""The router's input offsets, committed at most every ``COMMIT_SECONDS`` instead of per batch.

A batch's offsets become committable once its outputs and state writes are acknowledged
(``app.py``); committing them later never loses anything, it only widens what a crash
reads again: the batches since the last commit instead of the last one. Those are
routed again under the same event ids, against a state recovered from the changelog
that already holds their seen tokens, so the state does not change and downstream
dedups the copies, as with one batch. At 1,000 contacts/s a batch holds a dozen
contacts, and its commit (a broker round trip, with aiokafka's coordinator work) cost
about as much CPU as routing them.

Pending offsets are committed when due, when the loop finds nothing to read (so the
last batch is committed within ``COMMIT_SECONDS``), before partitions are revoked, and
at stop. A commit that fails stays pending: the next one covers it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import structlog
from aiokafka.errors import CommitFailedError, KafkaError

log = structlog.get_logger(__name__)

COMMIT_SECONDS = 0.1
"""The longest a batch's acknowledged offsets wait for their commit."""


class Commits:
    def __init__(
        self,
        commit: Callable[[dict[Any, int]], Awaitable[None]],
        timeout: float,
        on_committed: Callable[[dict[Any, int]], None],
        every: float = COMMIT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._commit = commit
        self.timeout = timeout
        self.on_committed = on_committed
        self.every = every
        self.clock = clock
        self.pending: dict[Any, int] = {}
        self.last = clock()

    def add(self, offsets: dict[Any, int]) -> None:
        """Offsets whose records' outputs and state writes the broker acknowledged."""
        self.pending.update(offsets)

    def due(self) -> bool:
        return bool(self.pending) and self.clock() - self.last >= self.every

    def wait_ms(self, idle_ms: int) -> int:
        """How long the loop may wait for records before a pending commit falls due."""
        if not self.pending:
            return idle_ms
        left = self.every - (self.clock() - self.last)
        return max(0, min(idle_ms, int(left * 1000) + 1))

    def drop(self, partitions: Iterable[Any]) -> None:
        """Forget revoked partitions: their new owner reads from the last commit."""
        for tp in partitions:
            self.pending.pop(tp, None)

    async def commit(self) -> None:
        """Commit what is pending; bounded, since aiokafka retries while the broker is away."""
        self.last = self.clock()
        if not self.pending:
            return
        offsets, self.pending = self.pending, {}
        try:
            await asyncio.wait_for(self._commit(offsets), self.timeout)
        except (CommitFailedError, KafkaError, TimeoutError) as exc:
            # Outputs are written; the next commit covers these offsets, or a restart
            # reads them again and downstream dedup drops the copies.
            log.warning("router.commit_failed", error=repr(exc))
            self.pending = {**offsets, **self.pending}
            return
        self.on_committed(offsets)
