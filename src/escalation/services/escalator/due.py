"""The scanner's view of the issues this worker holds: each one's next tick and partition.

Deadlines live in the issue state (the table), co-partitioned with the issue; this is
only an index over it, kept in memory so a scan costs the number of issues due, not the
size of the table (docs/decisions.md has the measurement). It is rebuilt from the table
after every recovery (the partitions held may have changed) and updated each time the
agent writes an issue's state, in the same process. Losing it loses nothing: the next
rebuild reads the deadlines from the state again.

Each entry remembers the partition the issue's state was written to, so its tick goes
to that partition of the tick topic, is read by the agent holding the issue, and writes
the issue's state back to the same changelog partition.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import count

from escalation.schemas import Tick
from escalation.schemas.state import IssueState

from .timers import tick_for

RESEND_AFTER = timedelta(seconds=30)
"""A tick sent and still current this long after (nothing wrote the issue since) is sent
again: a safety net for a tick that fired nothing, never the normal path."""


@dataclass(frozen=True)
class Due:
    key: bytes
    partition: int
    tick: Tick


class DueIndex:
    """Next tick per held issue, as a dict plus a heap of (when, order, key).

    Each issue has one live heap item, the one whose order ``_queued`` names; the others
    are skipped when they reach the top, and the heap is rebuilt once they outnumber the
    live ones.
    """

    def __init__(self, resend_after: timedelta = RESEND_AFTER) -> None:
        self.resend_after = resend_after
        self._entries: dict[bytes, Due] = {}
        self._queued: dict[bytes, int] = {}
        self._heap: list[tuple[datetime, int, bytes]] = []
        self._order = count()

    def __len__(self) -> int:
        return len(self._entries)

    def put(self, key: bytes, partition: int, state: IssueState | None) -> bool:
        """Record the issue's state as written; True when its next tick moved earlier."""
        tick = tick_for(state) if state is not None else None
        current = self._entries.get(key)
        if tick is None:
            self._entries.pop(key, None)
            self._queued.pop(key, None)
            return False
        if current is not None and current.tick == tick and current.partition == partition:
            return False  # the same deadline: keep what is queued (a resend included)
        entry = Due(key, partition, tick)
        self._entries[key] = entry
        self._push(tick.due, entry)
        return current is None or tick.due < current.tick.due

    def rebuild(self, held: Iterable[tuple[bytes, int, IssueState]]) -> None:
        """Start again from the states of the partitions now held."""
        self._entries.clear()
        self._queued.clear()
        self._heap.clear()
        for key, partition, state in held:
            self.put(key, partition, state)

    def next_at(self) -> datetime | None:
        """When the earliest queued tick is due (or due again), None when none is."""
        self._drop_stale_top()
        return self._heap[0][0] if self._heap else None

    def take_due(self, now: datetime) -> list[Due]:
        """Every tick due by ``now``; each is queued again ``resend_after`` later."""
        taken: list[Due] = []
        while True:
            self._drop_stale_top()
            if not self._heap or self._heap[0][0] > now:
                break
            _, _, key = heapq.heappop(self._heap)
            entry = self._entries[key]
            taken.append(entry)
            self._push(now + self.resend_after, entry)
        return taken

    def retry(self, entry: Due, when: datetime) -> None:
        """Queue a tick whose send failed again for ``when``, unless the issue moved on."""
        if self._entries.get(entry.key) is entry:
            self._push(when, entry)

    def _push(self, when: datetime, entry: Due) -> None:
        order = next(self._order)
        self._queued[entry.key] = order
        heapq.heappush(self._heap, (when, order, entry.key))
        if len(self._heap) > 2 * len(self._entries) + 1024:
            self._heap = [item for item in self._heap if self._live(item)]
            heapq.heapify(self._heap)

    def _live(self, item: tuple[datetime, int, bytes]) -> bool:
        return self._queued.get(item[2]) == item[1]

    def _drop_stale_top(self) -> None:
        while self._heap and not self._live(self._heap[0]):
            heapq.heappop(self._heap)
