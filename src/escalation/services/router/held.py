"""The issues one owner holds in one partition, indexed for the load query.

A routing decision asks every candidate owner's load: how many issues they hold that
had a contact within ``release_after`` (idle ones no longer count), and when they were
last given one (the tie-break). Owners that take the fallback path hold thousands of
issues, and a month of traffic ages issues past ``release_after`` all the time, so both
answers must not scan the owner's issues: the issues are kept sorted by last contact
(count by bisection, drop the idle prefix by one slice), and the latest assignment is
cached and recomputed only when the issue that set it leaves.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from datetime import datetime

Entry = tuple[datetime, datetime]
"""(assigned at, last contact at) of one held issue."""

_UNKNOWN = object()


class HeldIssues:
    __slots__ = ("_latest", "by_last", "entries")

    def __init__(self) -> None:
        self.entries: dict[str, Entry] = {}
        self.by_last: list[tuple[datetime, str]] = []
        self._latest: object = None

    def __len__(self) -> int:
        return len(self.entries)

    def get(self, issue: str) -> Entry | None:
        return self.entries.get(issue)

    def put(self, issue: str, entry: Entry) -> None:
        old = self.entries.get(issue)
        if old == entry:
            return
        if old is not None:
            self._unindex(issue, old)
        self.entries[issue] = entry
        insort(self.by_last, (entry[1], issue))
        latest = self._latest
        if latest is None or (latest is not _UNKNOWN and entry[0] > latest):  # type: ignore[operator]
            self._latest = entry[0]

    def remove(self, issue: str) -> None:
        old = self.entries.pop(issue, None)
        if old is not None:
            self._unindex(issue, old)

    def _unindex(self, issue: str, old: Entry) -> None:
        del self.by_last[bisect_left(self.by_last, (old[1], issue))]
        if old[0] == self._latest:
            self._latest = _UNKNOWN if self.entries else None

    def drop_idle(self, horizon: datetime) -> None:
        """Forget every issue whose last contact is before ``horizon``."""
        cut = bisect_left(self.by_last, (horizon,))
        if not cut:
            return
        for _, issue in self.by_last[:cut]:
            assigned, _ = self.entries.pop(issue)
            if assigned == self._latest:
                self._latest = _UNKNOWN
        del self.by_last[:cut]
        if not self.entries:
            self._latest = None

    def active(self, horizon: datetime) -> int:
        """Issues with a contact at or after ``horizon``."""
        return len(self.by_last) - bisect_left(self.by_last, (horizon,))

    def latest_assigned(self) -> datetime | None:
        if self._latest is _UNKNOWN:
            self._latest = max(assigned for assigned, _ in self.entries.values())
        return self._latest  # type: ignore[return-value]
