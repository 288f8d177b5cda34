"""One batch of the ``count`` agent: decided in order, each product's state written once.

The agent takes reports and ticks in batches (``stream.noack_take``) and decides each
in order with the pure functions (``detect.py``) against the product's state as the
batch's earlier inputs left it, so ten reports of one product in a batch count ten
customers and write the product's state (several kilobytes for a busy one) once,
where each report used to rewrite it. Nothing touches the table while the batch is
decided; ``app.py`` then sends every record the decisions made, waits for the broker's
acknowledgements, and only then writes the states (their changelog first), then acks
the inputs.

A crash anywhere before the acks reads the whole batch again: before the records are
acknowledged nothing was taken; after them but before the states, the batch is decided
again from the states before it and makes the same records (their ids derive from the
state: the surge's sequence and update count), which the escalator's dedup drops; after
the states, each input counts its customer again into a set or sketch that already
holds it, which changes no count and no decision. A record or state the decision code
cannot make belongs to one input only: the batch is then applied one input at a time
(``app.py``), and that one is dead-lettered.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from faust.types import EventT

from escalation.schemas.surge import SurgeEvent
from escalation.schemas.surge_state import ProductState
from escalation.services.common.batches import Outgoing

_UNSEEN = object()


@dataclass
class Changed:
    name: str
    """The product's key as the closer knows it (``<rule>/<value>``)."""
    event: EventT
    """The last input that changed the state: its partition is the changelog's."""
    state: ProductState


@dataclass
class CountBatch:
    load: Callable[[bytes], ProductState | None]
    outputs: list[Outgoing] = field(default_factory=list)
    """Surge records, controls and dead letters, in input order."""
    records: list[SurgeEvent] = field(default_factory=list)
    controls: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    changed: dict[bytes, Changed] = field(default_factory=dict)
    _states: dict[bytes, object] = field(default_factory=dict)

    def state(self, key: bytes) -> ProductState | None:
        """The product's state as this batch has decided it so far, over the table's."""
        known = self._states.get(key, _UNSEEN)
        if known is _UNSEEN:
            known = self._states[key] = self.load(key)
        return known  # type: ignore[return-value]

    def put(self, key: bytes, name: str, event: EventT, state: ProductState) -> None:
        self._states[key] = state
        self.changed[key] = Changed(name, event, state)
