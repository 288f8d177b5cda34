"""Token buckets per source: a source over its rate gets 429 with Retry-After."""

from __future__ import annotations

import math
import time
from collections.abc import Callable


class RateLimiter:
    def __init__(
        self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, source: str, cost: float = 1.0) -> float:
        """Spend ``cost`` tokens; return 0 when allowed, else the seconds to wait."""
        now = self.clock()
        tokens, last = self._buckets.get(source, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if cost > self.burst:
            return math.inf
        if tokens >= cost:
            self._buckets[source] = (tokens - cost, now)
            return 0.0
        self._buckets[source] = (tokens, now)
        return (cost - tokens) / self.rate
