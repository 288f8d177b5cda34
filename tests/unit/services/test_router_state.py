from datetime import UTC, datetime, timedelta

from escalation.schemas.state import Assignment
from escalation.services.router.state import OwnershipState, issue_key

T0 = datetime(2026, 11, 25, 9, tzinfo=UTC)


def assignment(issue: str, owner: str = "chen", at: datetime = T0) -> Assignment:
    return Assignment(
        customer_id="C-1",
        issue_id=issue,
        owner=owner,
        team="eng",
        route="hvac",
        assigned_at=at,
        last_contact_at=at,
    )


def state(partitions: int = 2) -> OwnershipState:
    return OwnershipState({}, {}, partitions)


def test_load_sums_the_owner_s_issues_over_partitions():
    s = state()
    s.hold("chen", 0, "a", assignment("a"))
    s.hold("chen", 1, "b", assignment("b", at=T0 + timedelta(hours=1)))
    s.hold("dana", 0, "c", assignment("c", "dana"))
    assert s.load("chen", T0 + timedelta(hours=2)) == (2, T0 + timedelta(hours=1))
    assert s.load("dana", T0)[0] == 1
    assert s.load("elif", T0) == (0, None)


def test_holding_again_is_idempotent_and_release_frees_capacity():
    s = state()
    s.hold("chen", 0, "a", assignment("a"))
    s.hold("chen", 0, "a", assignment("a"))
    assert s.load("chen", T0)[0] == 1
    s.release("chen", 0, "a")
    s.release("chen", 0, "a")
    assert s.load("chen", T0)[0] == 0


def test_idle_issues_stop_counting_after_release_after():
    s = state()
    s.release_after = timedelta(days=14)
    s.hold("chen", 0, "a", assignment("a"))
    assert s.load("chen", T0 + timedelta(days=13))[0] == 1
    assert s.load("chen", T0 + timedelta(days=15))[0] == 0


def test_state_is_written_to_the_tables_and_read_back_fresh():
    assignments, loads = {}, {}
    s = OwnershipState(assignments, loads, 2)
    key = issue_key("C-1", "a")
    s.save(key, assignment("a"))
    s.hold("chen", 0, "a", assignment("a"))
    fresh = OwnershipState(assignments, loads, 2)  # as after a restart: tables only
    assert fresh.assignment(key).owner == "chen"
    assert fresh.load("chen", T0)[0] == 1
