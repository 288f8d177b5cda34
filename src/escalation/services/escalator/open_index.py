"""Open escalations of the held partitions, by level, team and status: a gauge from state.

Counted from the issue states this worker holds, not from events, so a reprocessed
input never counts twice: each issue has one entry, replaced whenever the agent writes
its state, and the whole index is rebuilt from the table after every recovery (the
partitions held may have changed), as the deadline index is.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from escalation.schemas.state import ACTIVE, IssueState
from escalation.services.common.metrics import BoundedLabel

NAME = "escalation_escalations_open"
HELP = (
    "Escalations not yet resolved in the partitions this worker holds, by level, team and "
    "status (open and reopened page up the ladder; acked waits for resolution)."
)
LABELS = ["level", "team", "status"]


class OpenEscalations(Collector):
    def __init__(self) -> None:
        self._entries: dict[bytes, tuple[str, str, str]] = {}
        self.teams = BoundedLabel()

    def __len__(self) -> int:
        return len(self._entries)

    def put(self, key: bytes, state: IssueState | None) -> None:
        if state is None or state.status not in ACTIVE:
            self._entries.pop(key, None)
        else:
            self._entries[key] = (str(state.level), self.teams(state.team), str(state.status))

    def rebuild(self, states: Iterable[tuple[bytes, int, IssueState]]) -> None:
        self._entries.clear()
        for key, _partition, state in states:
            self.put(key, state)

    def counts(self) -> Counter[tuple[str, str, str]]:
        return Counter(self._entries.values())

    def describe(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily(NAME, HELP, labels=LABELS)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(NAME, HELP, labels=LABELS)
        for labels, count in sorted(self.counts().items()):
            family.add_metric(list(labels), count)
        yield family
