"""When the supervisor restarts a child that died, and when it gives up.

A child that exits is started again after a delay that doubles from 0.5 s up to 30 s,
and falls back to 0.5 s once the child has stayed up for 60 s. A child that has been
restarted 5 times within the last 5 minutes and exits again is failing for a reason a
restart will not cure: the supervisor stops the stack instead of looping.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RestartPolicy:
    first_delay: float = 0.5
    max_delay: float = 30.0
    stable_after: float = 60.0
    max_restarts: int = 5
    window: float = 300.0


@dataclass
class RestartHistory:
    """One child's restarts; ``on_exit`` decides the next, with the clock passed in."""

    policy: RestartPolicy = field(default_factory=RestartPolicy)
    started_at: float = 0.0
    restarted_at: list[float] = field(default_factory=list)
    next_delay: float | None = None

    @property
    def count(self) -> int:
        return len(self.restarted_at)

    def on_start(self, now: float) -> None:
        self.started_at = now

    def on_exit(self, now: float) -> float | None:
        """Seconds to wait before the restart, or None when the child keeps failing."""
        policy = self.policy
        if self.next_delay is None or now - self.started_at >= policy.stable_after:
            self.next_delay = policy.first_delay
        recent = [t for t in self.restarted_at if now - t < policy.window]
        if len(recent) >= policy.max_restarts:
            return None
        delay = self.next_delay
        self.next_delay = min(delay * 2, policy.max_delay)
        self.restarted_at.append(now + delay)
        return delay


def describe_exit(code: int) -> str:
    """``code 75`` or ``killed by SIGKILL`` (Popen reports a signal as a negative code)."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"code {code}"
