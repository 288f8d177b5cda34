"""The router's state: sticky ownership per customer issue, open issues per owner.

Both live in changelog-backed tables written while processing the partition they belong
to. Owner loads are kept per (owner, partition) as sets of issue ids, so a replayed
input changes nothing, and an owner's load is the sum over the partitions this worker
holds (exact with one router; with several, each counts its own partitions).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from escalation.schemas import codec
from escalation.schemas.state import Assignment, LoadEntry, OwnerLoad


def issue_key(customer_id: str, issue_id: str) -> bytes:
    return f"{customer_id}/{issue_id}".encode()


class OwnershipState:
    def __init__(self, assignments: Any, loads: Any, partitions: int) -> None:
        self.assignments = assignments
        self.loads = loads
        self.partitions = partitions
        self.release_after = timedelta(days=14)
        self._cache: dict[bytes, OwnerLoad] = {}

    def forget_cache(self, *args: Any, **kwargs: Any) -> None:
        """Partitions moved: what this worker cached may belong to another worker now."""
        self._cache.clear()

    # -- assignments -------------------------------------------------------------------

    def assignment(self, key: bytes) -> Assignment | None:
        raw = self.assignments.get(key)
        return codec.decode_assignment(raw) if raw else None

    def save(self, key: bytes, assignment: Assignment) -> None:
        self.assignments[key] = codec.encode(assignment)

    # -- loads ---------------------------------------------------------------------------

    def _load_of(self, key: bytes) -> OwnerLoad:
        cached = self._cache.get(key)
        if cached is None:
            raw = self.loads.get(key)
            cached = codec.decode_owner_load(raw) if raw else OwnerLoad()
            self._cache[key] = cached
        return cached

    def load(self, owner_id: str, now: datetime) -> tuple[int, datetime | None]:
        """Open issues the owner holds (idle ones past ``release_after`` excluded)."""
        horizon = now - self.release_after
        count, last = 0, None
        for partition in range(self.partitions):
            for entry in self._load_of(f"{owner_id}|{partition}".encode()).issues.values():
                if entry.last_contact_at >= horizon:
                    count += 1
                if last is None or entry.assigned_at > last:
                    last = entry.assigned_at
        return count, last

    def hold(self, owner_id: str, partition: int, issue: str, assignment: Assignment) -> None:
        key = f"{owner_id}|{partition}".encode()
        current = self._load_of(key)
        entry = LoadEntry(
            assigned_at=assignment.assigned_at, last_contact_at=assignment.last_contact_at
        )
        if current.issues.get(issue) == entry:
            return
        horizon = assignment.last_contact_at - self.release_after
        kept = {k: v for k, v in current.issues.items() if v.last_contact_at >= horizon}
        self._write(key, OwnerLoad(issues={**kept, issue: entry}))

    def release(self, owner_id: str, partition: int, issue: str) -> None:
        key = f"{owner_id}|{partition}".encode()
        current = self._load_of(key)
        if issue in current.issues:
            self._write(
                key, OwnerLoad(issues={k: v for k, v in current.issues.items() if k != issue})
            )

    def _write(self, key: bytes, load: OwnerLoad) -> None:
        self._cache[key] = load
        self.loads[key] = codec.encode(load)
