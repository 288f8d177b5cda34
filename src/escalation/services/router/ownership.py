"""The router's ownership state: who owns each customer issue, and each owner's load.

Assignments (sticky owners) are kept per input partition in a ``ChangelogStore`` and
written to the router's changelog with every batch. Owner loads are an index over the
open assignments: per (owner, partition) the issues an owner holds (``held.py``: sorted
by last contact, so a load query never scans them), rebuilt from the assignments after
a rebalance or a restart. One small record per routed contact is written, whatever an
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

from .held import HeldIssues


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
        self.loads: dict[tuple[str, int], HeldIssues] = {}

    def reindex(self) -> None:
        """Rebuild the loads from the open assignments of the partitions held now."""
        self.loads.clear()
        for partition in self.store.partitions:
            for assignment in self.store.data[partition].values():
                if assignment.open:
                    self.loads.setdefault((assignment.owner, partition), HeldIssues()).put(
                        assignment.issue_id, (assignment.assigned_at, assignment.last_contact_at)
                    )

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

    def load(self, owner_id: str, now: datetime) -> tuple[int, datetime | None]:
        """Open issues the owner holds (idle ones past ``release_after`` excluded)."""
        horizon = now - self.release_after
        count, last = 0, None
        for partition in self.store.partitions:
            held = self.loads.get((owner_id, partition))
            if not held:
                continue
            count += held.active(horizon)
            latest = held.latest_assigned()
            if last is None or (latest is not None and latest > last):
                last = latest
        return count, last

    def hold(self, owner_id: str, partition: int, issue: str, assignment: Assignment) -> None:
        held = self.loads.setdefault((owner_id, partition), HeldIssues())
        entry = (assignment.assigned_at, assignment.last_contact_at)
        if held.get(issue) == entry:
            return
        held.drop_idle(assignment.last_contact_at - self.release_after)
        held.put(issue, entry)

    def release(self, owner_id: str, partition: int, issue: str) -> None:
        held = self.loads.get((owner_id, partition))
        if held is not None:
            held.remove(issue)
