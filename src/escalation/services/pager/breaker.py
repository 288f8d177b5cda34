"""A circuit breaker per target: stop hammering a receiver that keeps failing.

After ``failures`` failed attempts in a row the circuit opens: no attempt goes out for
``reset_after`` seconds, and pages waiting for the target (in backoff, or queued) give up
at once and go to its fallback instead of waiting out their deadline. Then one trial
attempt goes through (half-open); its success closes the circuit, its failure opens it
again. A 429 is the receiver asking for time, not failing: it does not count. The clock
is injected, so the decisions are tested without waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .delivery import Verdict

NOT_COUNTED = frozenset({"http_429", "forbidden", "rendering", "circuit_open"})


@dataclass
class Breaker:
    failures: int = 5
    reset_after: float = 30.0
    clock: Callable[[], float] = time.monotonic
    failed: int = 0
    opened_at: float | None = None
    trial: bool = False
    _opened: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        return "half_open" if self.clock() - self.opened_at >= self.reset_after else "open"

    def blocked(self) -> str | None:
        """Why no attempt may go out now, or None; a half-open circuit lets one trial by."""
        if self.opened_at is None:
            return None
        since = self.clock() - self.opened_at
        if since < self.reset_after:
            left = self.reset_after - since
            return f"circuit open for {left:.0f}s more after {self.failed} failures"
        if self.trial:
            return "circuit half-open: a trial attempt is under way"
        self.trial = True
        return None

    def record(self, verdict: Verdict) -> None:
        if verdict.outcome == "delivered":
            self.failed, self.opened_at, self.trial = 0, None, False
            self._opened = asyncio.Event()
            return
        if verdict.reason in NOT_COUNTED:
            return
        self.failed += 1
        if self.trial or self.failed >= self.failures:
            self.opened_at, self.trial = self.clock(), False
            self._opened.set()

    async def sleep(self, seconds: float) -> None:
        """A backoff that ends early when the circuit opens, so the page falls back at once."""
        if self._opened.is_set():
            await asyncio.sleep(0)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._opened.wait(), seconds)
