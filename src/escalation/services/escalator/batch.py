"""One batch of the escalator's inputs: what its decisions send and write, in input order.

The agent takes its inputs in batches (``stream.noack_take``) and decides each in order
with the pure functions (rules, commands, timers), against an overlay: each issue's
state and timeline as the batch's earlier inputs left them, over the table. So the
third contact of an issue opens its escalation even when the first two are in the same
batch, and a tick decided after a contact sees the contact's state. Nothing touches the
table while the batch is decided; what it will write is kept here, the last value per
issue (the changelog holds whole values, so the last one says everything).

``app.py`` then applies the batch in three steps, each acknowledged by the broker before
the next starts: every output (and dead letter), then the timelines, then the states
(docs/decisions.md, "The escalator's batches", walks through every crash point).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from faust.types import EventT

from escalation.schemas import EscalationEvent
from escalation.schemas.state import IssueState
from escalation.schemas.timeline import Timeline
from escalation.services.common.batches import Outgoing, TableWrite

_UNSEEN = object()


@dataclass
class _Written:
    event: EventT
    """The last input that changed the value: its partition is where the value lives."""
    value: Any
    encoded: bytes


class Overlay:
    """States and timelines as this batch has decided them so far, over the table's."""

    def __init__(
        self,
        load_state: Callable[[bytes], IssueState | None],
        load_timeline: Callable[[bytes], Timeline | None],
    ) -> None:
        self._load_state = load_state
        self._load_timeline = load_timeline
        self._states: dict[bytes, Any] = {}
        self._timelines: dict[bytes, Any] = {}
        self.states: dict[bytes, _Written] = {}
        self.timelines: dict[bytes, _Written] = {}

    def state(self, key: bytes) -> IssueState | None:
        known = self._states.get(key, _UNSEEN)
        if known is _UNSEEN:
            known = self._states[key] = self._load_state(key)
        return known

    def timeline(self, key: bytes) -> Timeline | None:
        known = self._timelines.get(key, _UNSEEN)
        if known is _UNSEEN:
            known = self._timelines[key] = self._load_timeline(key)
        return known

    def put(
        self,
        key: bytes,
        event: EventT,
        state: tuple[IssueState, bytes],
        timeline: tuple[Timeline, bytes] | None,
    ) -> None:
        """What one input decided for ``key``; taken whole, or (on an error) not at all."""
        self._states[key] = state[0]
        self.states[key] = _Written(event, *state)
        if timeline is not None:
            self._timelines[key] = timeline[0]
            self.timelines[key] = _Written(event, *timeline)

    def written(self) -> Iterator[tuple[bytes, int, IssueState]]:
        """Each state this batch wrote, with the partition it lives in (for the timers)."""
        for key, written in self.states.items():
            yield key, written.event.message.partition, written.value


def writes(table: Any, values: dict[bytes, _Written]) -> list[TableWrite]:
    return [TableWrite(table, w.event, key, w.encoded) for key, w in values.items()]


@dataclass
class Plan:
    """Everything one batch sends, in input order, and what to tell the timers after."""

    overlay: Overlay
    outputs: list[Outgoing] = field(default_factory=list)
    records: list[EscalationEvent] = field(default_factory=list)
    """The lifecycle records among ``outputs``: counted and logged once they are taken."""
    pages: int = 0
    paging: int = 0
    """Inputs whose decision pages: each crosses the ``escalator.after_emit`` crash point."""
    forget: dict[bytes, int] = field(default_factory=dict)
    """Ticks for issues the table does not hold: dropped from the deadline index."""
