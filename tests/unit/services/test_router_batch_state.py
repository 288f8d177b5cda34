"""The batch router's state answers exactly as the faust router's OwnershipState does."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from tests.unit.factories import contact_data

from escalation.schemas import RoutedContact, codec
from escalation.schemas.state import Assignment
from escalation.services.common.changelog_store import ChangelogStore
from escalation.services.common.settings import Settings
from escalation.services.router.batch import BatchOwnership, _decode, _encode, routed_bytes
from escalation.services.router.policy.engine import NoLoads, RoutingEngine
from escalation.services.router.policy.load import load_policy
from escalation.services.router.state import OwnershipState
from escalation.testing.stack import EXAMPLE_POLICY

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def store(partitions: int = 2) -> ChangelogStore:
    s = ChangelogStore(Settings(), "changelog", _encode, _decode)
    for p in range(partitions):
        s.data[p], s.dirty[p] = {}, set()
    return s


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


def test_loads_match_ownership_state_over_random_operations():
    rng = random.Random(7)
    faust_like = OwnershipState({}, {}, 2)
    batch = BatchOwnership(store())
    for state in (faust_like, batch):
        state.release_after = timedelta(days=3)
    owners, issues = ["ana", "ben", "chen"], [f"i{n}" for n in range(40)]
    assigned: dict[tuple[str, int, str], datetime] = {}
    now = T0
    for step in range(3000):
        now += timedelta(minutes=rng.choice([1, 5, 60, 600]))
        owner, partition, issue = rng.choice(owners), rng.randrange(2), rng.choice(issues)
        if rng.random() < 0.2:
            for state in (faust_like, batch):
                state.release(owner, partition, issue)
            assigned.pop((owner, partition, issue), None)
        else:
            at = assigned.setdefault((owner, partition, issue), now)
            a = assignment(owner, issue, at, now)
            for state in (faust_like, batch):
                state.hold(owner, partition, issue, a)
        probe = now + timedelta(hours=rng.choice([0, 30, 80]))
        for who in owners:
            assert batch.load(who, probe) == faust_like.load(who, probe), (step, who)


def test_changed_keys_flush_once_and_decode_back():
    s = store()
    state = BatchOwnership(s)
    a = assignment("chen", "X", T0, T0)
    state.hold("chen", 1, "X", a)
    state.save(1, b"C-1/X", a)
    state.hold("chen", 1, "Y", assignment("chen", "Y", T0, T0 + timedelta(hours=1)))

    changes = list(s.changes())
    assert list(s.changes()) == []
    assert sorted(key for _, key, _ in changes) == [b"a/C-1/X", b"l/chen|1|X", b"l/chen|1|Y"]
    assert {p for p, *_ in changes} == {1}
    by_key = {key: value for _, key, value in changes}
    assert _decode(b"a/C-1/X", by_key[b"a/C-1/X"]) == a
    assert _decode(b"l/chen|1|Y", by_key[b"l/chen|1|Y"]).assigned_at == T0

    state.release("chen", 1, "X")
    assert list(s.changes()) == [(1, b"l/chen|1|X", None)]  # a tombstone


def test_reindex_rebuilds_loads_from_the_stored_entries():
    s = store()
    state = BatchOwnership(s)
    for n in range(5):
        at = T0 + timedelta(hours=n)
        state.hold("ben", n % 2, f"i{n}", assignment("ben", f"i{n}", at, at))
    before = state.load("ben", T0 + timedelta(days=1))
    state.reindex()
    assert state.load("ben", T0 + timedelta(days=1)) == before == (5, T0 + timedelta(hours=4))


def test_routed_bytes_match_the_model_encoding():
    contact = codec.decode_contact(
        codec.dumps(contact_data(attributes={"order": "SO-1"}, summary="two\nlines"))
    )
    engine = RoutingEngine(load_policy(EXAMPLE_POLICY))
    routing = engine.decide(contact, T0, None, NoLoads()).routing
    spliced = routed_bytes(contact, routing)
    assert spliced == codec.encode(RoutedContact.model_construct(**dict(contact), routing=routing))
    assert codec.decode_routed(spliced).routing == routing
