"""The router's ownership state: sticky assignments and owner loads over partitions."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from tests.unit.factories import contact_data

from escalation.policy.engine import NoLoads, RoutingEngine
from escalation.policy.load import load_policy
from escalation.schemas import RoutedContact, codec
from escalation.schemas.state import Assignment
from escalation.services.common.changelog_store import ChangelogStore
from escalation.services.common.settings import Settings
from escalation.services.router.app import routed_bytes
from escalation.services.router.ownership import (
    Ownership,
    decode_assignment,
    encode_assignment,
)
from escalation.testing.stack import EXAMPLE_POLICY

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def store(partitions: int = 2) -> ChangelogStore:
    s = ChangelogStore(Settings(), "changelog", encode_assignment, decode_assignment)
    for p in range(partitions):
        s.data[p], s.dirty[p] = {}, set()
    return s


class Reference:
    """The load semantics, written plainly: sets of issues per (owner, partition)."""

    def __init__(self) -> None:
        self.release_after = timedelta(days=14)
        self.held: dict[tuple[str, int], dict[str, tuple[datetime, datetime]]] = {}

    def hold(self, owner: str, partition: int, issue: str, a: Assignment) -> None:
        issues = self.held.setdefault((owner, partition), {})
        entry = (a.assigned_at, a.last_contact_at)
        if issues.get(issue) == entry:
            return
        horizon = a.last_contact_at - self.release_after
        for idle in [k for k, (_, last) in issues.items() if last < horizon]:
            del issues[idle]
        issues[issue] = entry

    def release(self, owner: str, partition: int, issue: str) -> None:
        self.held.get((owner, partition), {}).pop(issue, None)

    def load(self, owner: str, now: datetime) -> tuple[int, datetime | None]:
        entries = [e for (o, _), issues in self.held.items() if o == owner for e in issues.values()]
        count = sum(1 for _, last in entries if last >= now - self.release_after)
        return count, max((assigned for assigned, _ in entries), default=None)


def assignment(owner: str, issue: str, assigned: datetime, last: datetime) -> Assignment:
    return Assignment(
        customer_id="C-1",
        issue_id=issue,
        owner=owner,
        team="t",
        route="r",
        assigned_at=assigned,
        last_contact_at=last,
    )


def test_loads_match_the_plain_semantics_over_random_operations():
    rng = random.Random(7)
    reference = Reference()
    batch = Ownership(store())
    for state in (reference, batch):
        state.release_after = timedelta(days=3)
    owners, issues = ["ana", "ben", "chen"], [f"i{n}" for n in range(40)]
    assigned: dict[tuple[str, int, str], datetime] = {}
    now = T0
    for step in range(3000):
        now += timedelta(minutes=rng.choice([1, 5, 60, 600]))
        owner, partition, issue = rng.choice(owners), rng.randrange(2), rng.choice(issues)
        if rng.random() < 0.2:
            for state in (reference, batch):
                state.release(owner, partition, issue)
            assigned.pop((owner, partition, issue), None)
        else:
            at = assigned.setdefault((owner, partition, issue), now)
            a = assignment(owner, issue, at, now)
            for state in (reference, batch):
                state.hold(owner, partition, issue, a)
        probe = now + timedelta(hours=rng.choice([0, 30, 80]))
        for who in owners:
            assert batch.load(who, probe) == reference.load(who, probe), (step, who)


def test_changed_assignments_are_taken_once_and_decode_back():
    s = store()
    state = Ownership(s)
    a = assignment("chen", "X", T0, T0)
    state.hold("chen", 1, "X", a)
    state.save(1, b"C-1/X", a)
    changes = list(s.changes())
    assert list(s.changes()) == []
    assert [(p, key) for p, key, _ in changes] == [(1, b"a/C-1/X")]
    assert decode_assignment(b"a/C-1/X", changes[0][2]) == a


def test_loads_are_rebuilt_from_the_open_assignments():
    s = store()
    state = Ownership(s)
    for n in range(6):
        at = T0 + timedelta(hours=n)
        a = assignment("ben", f"i{n}", at, at)
        state.hold("ben", n % 2, f"i{n}", a)
        state.save(n % 2, f"C-1/i{n}".encode(), a)
    state.release("ben", 1, "i5")  # resolved: the router saves the assignment closed
    state.save(1, b"C-1/i5", s.get(1, b"a/C-1/i5").model_copy(update={"open": False}))
    before = state.load("ben", T0 + timedelta(days=1))
    assert before == (5, T0 + timedelta(hours=4))
    state.reindex()
    assert state.load("ben", T0 + timedelta(days=1)) == before


def test_routed_bytes_match_the_model_encoding():
    contact = codec.decode_contact(
        codec.dumps(contact_data(attributes={"order": "SO-1"}, summary="two\nlines"))
    )
    engine = RoutingEngine(load_policy(EXAMPLE_POLICY))
    routing = engine.decide(contact, T0, None, NoLoads()).routing
    spliced = routed_bytes(contact, routing)
    assert spliced == codec.encode(RoutedContact.model_construct(**dict(contact), routing=routing))
    assert codec.decode_routed(spliced).routing == routing


def test_loads_sum_over_partitions_and_release_frees_capacity():
    state = Ownership(store())
    state.hold("chen", 0, "a", assignment("chen", "a", T0, T0))
    state.hold("chen", 1, "b", assignment("chen", "b", T0 + timedelta(hours=1), T0))
    state.hold("chen", 1, "b", assignment("chen", "b", T0 + timedelta(hours=1), T0))
    assert state.load("chen", T0) == (2, T0 + timedelta(hours=1))
    state.release("chen", 1, "b")
    state.release("chen", 1, "b")
    assert state.load("chen", T0)[0] == 1
    assert state.load("dana", T0) == (0, None)


def test_idle_issues_stop_counting_after_release_after():
    state = Ownership(store())
    state.hold("chen", 0, "a", assignment("chen", "a", T0, T0))
    assert state.load("chen", T0 + timedelta(days=13))[0] == 1
    assert state.load("chen", T0 + timedelta(days=15))[0] == 0


def test_idle_assignments_are_forgotten_with_tombstones():
    s = store()
    state = Ownership(s)
    old = assignment("chen", "old", T0, T0)
    recent = assignment("chen", "new", T0, T0 + timedelta(days=80))
    for issue, a in (("old", old), ("new", recent)):
        state.hold("chen", 0, issue, a)
        state.save(0, f"C-1/{issue}".encode(), a)
    list(s.changes())
    assert state.forget_idle(T0 + timedelta(days=30)) == 1
    assert state.assignment(0, b"C-1/old") is None
    assert state.assignment(0, b"C-1/new") is not None
    assert list(s.changes()) == [(0, b"a/C-1/old", None)]  # a tombstone for the changelog
    assert state.load("chen", T0 + timedelta(days=80))[0] == 1
