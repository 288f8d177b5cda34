"""Crash points: a deterministic process death inside a window that recovery must survive.

Killing a service from outside lands wherever it happens to be, which is almost never
between an acknowledged effect and the write that records it; those windows are where
duplicates and losses come from. A test sets ``ESCALATION_CRASH_AT=<point>:<n>``; the
service arms it once at start (``arm``), and the n-th time the code crosses ``<point>``
the process writes one line to stderr (the marker a test reads) and sends itself
SIGKILL: nothing is flushed, committed or written after it, exactly as if the machine
died there.

Test only: settings refuse it under the production profile. Unarmed, a crossing costs
one global lookup.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass

import orjson

POINTS = frozenset(
    {
        # router: the batch's outputs and changelog are acknowledged, its offsets are not.
        "router.after_flush",
        # escalator: escalations and pages are acknowledged, the issue table is not written.
        "escalator.after_emit",
        # pager: a receiver took the page; the outcome that records it is not written.
        "pager.after_post",
    }
)
MARKER = "crash_point.reached"
"""The ``event`` of the line written to stderr just before the process kills itself."""


@dataclass
class CrashAt:
    point: str
    crossing: int
    crossed: int = 0


_armed: CrashAt | None = None


def parse(spec: str) -> CrashAt:
    """``router.after_flush:3`` -> CrashAt; raises ValueError naming what is wrong."""
    point, sep, count = spec.rpartition(":")
    if not sep or not count.isdigit() or int(count) < 1:
        raise ValueError(f"crash_at {spec!r} must be '<point>:<n>' with n >= 1")
    if point not in POINTS:
        raise ValueError(f"crash_at names unknown point {point!r}; known: {sorted(POINTS)}")
    return CrashAt(point, int(count))


def arm(spec: str | None) -> None:
    """Arm the crash point of ``spec`` for this process (None disarms)."""
    global _armed
    _armed = parse(spec) if spec else None


def crash_point(name: str, when: bool = True) -> None:
    """Cross ``name``; die here if this is the armed point's n-th crossing.

    ``when`` is False for a crossing that has nothing in the window (an empty batch), so
    the n-th crossing is always one with effects at stake.
    """
    if _armed is None:
        return
    if when and name == _armed.point:
        _cross(_armed)


def _cross(armed: CrashAt) -> None:
    armed.crossed += 1
    if armed.crossed < armed.crossing:
        return
    line = {
        "event": MARKER,
        "point": armed.point,
        "crossing": armed.crossed,
        "pid": os.getpid(),
        "level": "critical",
        "timestamp": time.time(),
    }
    # Straight to the file descriptor: buffered logging would die with the process. On a
    # line of its own: whatever was written last may not have ended its line (faust's
    # start-up spinner leaves a cursor escape on stderr, then the next log line follows).
    os.write(2, b"\n" + orjson.dumps(line) + b"\n")
    os.kill(os.getpid(), signal.SIGKILL)
    os._exit(137)  # not reached: SIGKILL cannot be caught
