"""An escalation's timeline: every record the escalator made for it, each once, with why.

Kept per issue in its own table, beside the issue state rather than in it: the state is
rewritten by every contact and must stay small, while the timeline is written only when
a decision makes records. A new episode of the issue (its next escalation) starts a new
timeline; the query API answers for the current escalation of each issue.

Appending is idempotent (an entry's id is its record's type and cause), because a crash
between the effects and the state write reprocesses the input, which makes the same
records again.
"""

from __future__ import annotations

from escalation.schemas import EscalationEvent, PageRequest
from escalation.schemas.base import built, copied
from escalation.schemas.timeline import NOTE_SHOWN, TIMELINE_LIMIT, Timeline, TimelineEntry


def entry(record: EscalationEvent, page: PageRequest | None = None) -> TimelineEntry:
    note = record.note[:NOTE_SHOWN] if record.note else None
    return built(
        TimelineEntry,
        id=f"{record.type}:{record.cause_id}",
        type=record.type,
        at=record.at,
        level=record.level,
        reason=record.reason,
        by=record.by,
        note=note,
        eta=record.eta,
        cause=record.cause,
        notified=record.notified,
        page_id=page.page_id if page is not None else record.page_id,
        silence_id=record.silence_id,
        held_until=record.held_until,
    )


def entries(records: list[EscalationEvent], pages: list[PageRequest]) -> list[TimelineEntry]:
    """The records as entries; each ``paged`` record with the trigger page it stands for.

    A decision pages once per ``paged`` record, in the same order (a repeat superseded in
    the same decision drops both), so the n-th of each belong together.
    """
    triggers = iter([p for p in pages if p.action == "trigger"])
    return [entry(r, next(triggers, None) if r.type == "paged" else None) for r in records]


def appended(
    timeline: Timeline | None, records: list[EscalationEvent], pages: list[PageRequest]
) -> Timeline | None:
    """``timeline`` with the records added, or None when nothing new was added."""
    current = timeline
    kept = current.entries if current is not None else []
    dropped = current.dropped if current is not None else 0
    changed = False
    for record, item in zip(records, entries(records, pages), strict=True):
        if current is None or current.escalation_id != record.escalation_id:
            current = built(Timeline, escalation_id=record.escalation_id)
            kept, dropped, changed = [], 0, True
        if any(known.id == item.id for known in kept):
            continue
        kept = [*kept, item]
        over = max(0, len(kept) - TIMELINE_LIMIT)
        kept, dropped, changed = kept[over:], dropped + over, True
    if not changed or current is None:
        return None
    return copied(current, {"entries": kept, "dropped": dropped})  # one copy per decision
