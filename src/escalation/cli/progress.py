"""Progress of a long run: a bar with rate and ETA on a terminal, plain lines elsewhere.

``escalation send`` and ``policy replay`` read files of any size. On a terminal one line
is redrawn in place (at most five times a second, so drawing never costs the run);
written to a file or a pipe (CI logs, ``2> log``), a carriage return would make a mess,
so a plain line goes out every ``every`` seconds instead, as the bench prints its steps.
Progress goes to stderr: stdout keeps only the result, for scripts.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import IO

BAR = 24
REDRAW = 0.2
"""Seconds between redraws of the terminal bar."""
EVERY = 5.0
"""Seconds between plain lines."""


def clock_text(seconds: float) -> str:
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class Progress:
    """Counts ``done`` of ``total`` (lines, bytes: whatever the run can measure ahead) and
    ``count`` items (events) for the rate."""

    def __init__(
        self,
        total: int,
        label: str,
        unit: str = "events",
        out: IO[str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        every: float = EVERY,
    ) -> None:
        self.total = max(total, 1)
        self.label = label
        self.unit = unit
        self.out = out or sys.stderr
        self.clock = clock
        self.tty = self.out.isatty()
        self.interval = REDRAW if self.tty else every
        self.started = clock()
        self.shown = self.started
        self.done = self.count = 0
        self.width = 0
        self.lines = 0

    def update(self, done: int, count: int | None = None) -> None:
        self.done = done
        self.count = done if count is None else count
        now = self.clock()
        if now - self.shown >= self.interval:
            self.shown = now
            self._show(now)

    def close(self) -> None:
        """Clear the bar (the command prints its summary), or end the plain lines with the
        last one; a run too short for any line stays quiet."""
        if self.tty:
            if self.width:
                self.out.write("\r" + " " * self.width + "\r")
                self.out.flush()
        elif self.lines:
            self._show(self.clock(), final=True)

    def _show(self, now: float, final: bool = False) -> None:
        elapsed = max(now - self.started, 1e-9)
        share = min(self.done / self.total, 1.0)
        rate = self.count / elapsed
        left = elapsed * (1 - share) / share if share else None
        eta = "ETA --:--" if left is None else f"ETA {clock_text(left)}"
        when = f"in {clock_text(elapsed)}" if final else eta
        if self.tty:
            filled = int(share * BAR)
            line = (
                f"{self.label} [{'#' * filled}{'.' * (BAR - filled)}] {share:4.0%}  "
                f"{self.count:,} {self.unit}  {rate:,.0f}/s  {when}"
            )
            self.width = max(self.width, len(line))
            self.out.write("\r" + line.ljust(self.width))
        else:
            self.out.write(
                f"{self.label}: {share:.0%}, {self.count:,} {self.unit}, "
                f"{rate:,.0f} {self.unit}/s, {when}\n"
            )
            self.lines += 1
        self.out.flush()
