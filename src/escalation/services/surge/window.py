"""The sliding window of distinct customers per product, and the product's own baseline.

The window is cut into ``BUCKETS`` aligned buckets of ``window / BUCKETS`` seconds, each
a ``Distinct``; the count is the union of the buckets that overlap the last window, so
a customer counts for between one window and 13/12 of one. Buckets older than that are
dropped, which bounds a product's state at 13 buckets.

The baseline is an exponentially weighted average of the distinct customers per
window-long period (aligned to the epoch), with the rule's half-life: a period with no
contact folds in as zero, so a product that quietens lowers its baseline. It is left
alone while a surge is open, so a surge does not raise the bar for the next one. A
product never seen before has a baseline of 0: only the absolute threshold applies.
"""

from __future__ import annotations

from datetime import datetime

from escalation.schemas.surge import SurgeSettings
from escalation.schemas.surge_state import BUCKETS, Bucket, ProductState

from .distinct import add, union_count


def width(settings: SurgeSettings) -> int:
    return max(1, settings.window_seconds // BUCKETS)


def _epoch(at: datetime) -> int:
    return int(at.timestamp())


def counted(state: ProductState, settings: SurgeSettings, now: datetime) -> int:
    """Distinct customers in the window ending at ``now``."""
    since = _epoch(now) - settings.window_seconds
    size = width(settings)
    return union_count(b.seen for b in state.buckets if b.start + size > since)


def noted(
    state: ProductState, settings: SurgeSettings, digest: int, at: datetime, now: datetime
) -> tuple[ProductState, bool]:
    """The state with a customer seen at ``at``; whether the window had not counted them.

    A contact older than the window is not counted (it cannot be part of a surge now).
    """
    size = width(settings)
    since = _epoch(now) - settings.window_seconds
    kept = [b for b in state.buckets if b.start + size > since]
    moment = min(_epoch(at), _epoch(now))
    if moment <= since:
        return state.model_copy(update={"buckets": kept}), False
    fresh = not _in_window(kept, digest)
    start = moment - moment % size
    buckets, found = [], False
    for bucket in kept:
        if bucket.start == start:
            seen, _ = add(bucket.seen, digest)
            bucket = bucket.model_copy(update={"seen": seen})
            found = True
        buckets.append(bucket)
    if not found:
        seen, _ = add(Bucket(start=start).seen, digest)
        buckets = sorted([*buckets, Bucket(start=start, seen=seen)], key=lambda b: b.start)
    return state.model_copy(update={"buckets": buckets[-(BUCKETS + 1) :]}), fresh


def _in_window(buckets: list[Bucket], digest: int) -> bool:
    # In a sketch "seen" is a register already that high: a new customer may read as
    # seen (the undercount the sketch's error allows); an exact set is never wrong.
    return any(not add(b.seen, digest)[1] for b in buckets)


def folded(state: ProductState, settings: SurgeSettings, now: datetime) -> ProductState:
    """The baseline with every window-long period that ended before ``now`` folded in."""
    period = _epoch(now) // settings.window_seconds
    if state.period is None:
        return state.model_copy(update={"period": period})
    if period <= state.period:
        return state
    baseline = state.baseline
    if state.surge is None:
        keep = 0.5 ** (settings.window_seconds / settings.half_life_seconds)
        start = state.period * settings.window_seconds
        end = start + settings.window_seconds
        last = union_count(b.seen for b in state.buckets if start <= b.start < end)
        baseline = keep * baseline + (1 - keep) * last
        baseline *= keep ** min(period - state.period - 1, 10_000)
    return state.model_copy(update={"baseline": baseline, "period": period})


def surging(count: int, baseline: float, settings: SurgeSettings) -> bool:
    """The absolute threshold, and the ratio to the product's own baseline."""
    return count >= settings.threshold and count >= settings.ratio * baseline
