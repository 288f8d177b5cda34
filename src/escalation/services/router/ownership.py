"""The router's ownership state: who owns each customer issue, and each owner's load.

Assignments (sticky owners) are kept per input partition in a ``ChangelogStore`` and
written to the router's changelog with every batch. Owner loads are an index over the
open assignments: per (owner, partition) the issues an owner holds, with a cached
aggregate so a decision does not scan every issue, rebuilt from the assignments after a
rebalance or a restart. One small record per routed contact is written, whatever an
owner holds: a record per owner holding every issue grows without bound when contacts
pile onto one owner (everyone else full or off shift) and crosses Kafka's 1 MB limit.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from escalation.policy import RouteDecision
from escalation.schemas import codec
from escalation.schemas.state import Assignment
from escalation.services.common.changelog_store import PartitionStore

Entry = tuple[datetime, datetime]
"""(assigned at, last contact at) of one issue an owner holds."""
Aggregate = tuple[datetime, datetime, int]
"""(earliest last contact, latest assignment, issues) of one owner's load in one partition."""


def encode_assignment(key: bytes, value: Any) -> bytes:
    return codec.encode(value)


def decode_assignment(key: bytes, value: bytes) -> Any:
    return codec.decode_assignment(value)


class Ownership:
    """Assignments in a :class:`PartitionStore` (key ``a/<customer>/<issue>``) and loads.

    An owner's idle issues (past ``release_after``) are dropped from the index when the
    owner is given another issue in that partition; after a rebuild they stay until
    then. Idle issues never count towards the load, so only the tie-break on the
    latest assignment can see the difference.
    """

    def __init__(self, store: PartitionStore) -> None:
        self.store = store
        self.release_after = timedelta(days=14)
        self.loads: dict[tuple[str, int], dict[str, Entry]] = {}
        self._aggregates: dict[tuple[str, int], Aggregate] = {}

    def reindex(self) -> None:
        """Rebuild the loads from the open assignments of the partitions held now."""
        self.loads.clear()
        self._aggregates.clear()
        for partition in self.store.partitions:
            for assignment in self.store.data[partition].values():
                if assignment.open:
                    self.loads.setdefault((assignment.owner, partition), {})[
                        assignment.issue_id
                    ] = (assignment.assigned_at, assignment.last_contact_at)

    def forget_idle(self, horizon: datetime) -> int:
        """Delete assignments with no contact since ``horizon`` (tombstones in the changelog)."""
        forgotten = 0
        for partition in list(self.store.partitions):
            idle = [
                (key, a)
                for key, a in self.store.data[partition].items()
                if a.last_contact_at < horizon
            ]
            for key, assignment in idle:
                self.release(assignment.owner, partition, assignment.issue_id)
                self.store.delete(partition, key)
            forgotten += len(idle)
        return forgotten

    def record(self, partition: int, key: bytes, decision: RouteDecision) -> None:
        """Apply a (non-duplicate) routing decision: move the load, save the assignment.

        The live router and ``policy replay`` both go through here.
        """
        assignment = decision.assignment
        if decision.released_from is not None:
            self.release(decision.released_from, partition, assignment.issue_id)
        self.hold(assignment.owner, partition, assignment.issue_id, assignment)
        self.save(partition, key, assignment)

    def assignment(self, partition: int, key: bytes) -> Assignment | None:
        return self.store.get(partition, b"a/" + key)

    def save(self, partition: int, key: bytes, assignment: Assignment) -> None:
        self.store.put(partition, b"a/" + key, assignment)

    def _aggregate(self, held: tuple[str, int], issues: dict[str, Entry]) -> Aggregate:
        cached = self._aggregates.get(held)
        if cached is None:
            entries = issues.values()
            cached = (
                min(last for _, last in entries),
                max(assigned for assigned, _ in entries),
                len(issues),
            )
            self._aggregates[held] = cached
        return cached

    def load(self, owner_id: str, now: datetime) -> tuple[int, datetime | None]:
        """Open issues the owner holds (idle ones past ``release_after`` excluded)."""
        horizon = now - self.release_after
        count, last = 0, None
        for partition in self.store.partitions:
            issues = self.loads.get((owner_id, partition))
            if not issues:
                continue
            low, high, size = self._aggregate((owner_id, partition), issues)
            if low >= horizon:
                count += size
            else:
                count += sum(1 for _, last in issues.values() if last >= horizon)
            if last is None or high > last:
                last = high
        return count, last

    def hold(self, owner_id: str, partition: int, issue: str, assignment: Assignment) -> None:
        held = (owner_id, partition)
        issues = self.loads.setdefault(held, {})
        entry = (assignment.assigned_at, assignment.last_contact_at)
        if issues.get(issue) == entry:
            return
        if issues:
            horizon = assignment.last_contact_at - self.release_after
            if self._aggregate(held, issues)[0] < horizon:
                for idle in [k for k, (_, last) in issues.items() if last < horizon]:
                    del issues[idle]
                self._aggregates.pop(held, None)
        old = issues.get(issue)
        issues[issue] = entry
        cached = self._aggregates.get(held)
        if cached is None:
            return
        low, high, size = cached
        if old is not None and (old[1] <= low < entry[1] or old[0] >= high > entry[0]):
            self._aggregates.pop(held)  # the extreme may have moved: recompute when asked
        else:
            self._aggregates[held] = (
                min(low, entry[1]),
                max(high, entry[0]),
                size + (old is None),
            )

    def release(self, owner_id: str, partition: int, issue: str) -> None:
        issues = self.loads.get((owner_id, partition))
        if issues and issue in issues:
            del issues[issue]
            self._aggregates.pop((owner_id, partition), None)
