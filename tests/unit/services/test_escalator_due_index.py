"""The timer task's index: each held issue's next tick, taken once when due, resent late."""

import asyncio
from datetime import timedelta

from tests.unit.escalator_world import FakeRoster
from tests.unit.factories import T0, minutes
from tests.unit.services.test_escalator_ladder import opened

from escalation.services.escalator.due import DueIndex
from escalation.services.escalator.scanner import TickScanner
from escalation.services.escalator.timers import decide_tick, tick_for

KEY = b"C-1/issue"


def seconds(n: float) -> timedelta:
    return timedelta(seconds=n)


def open_state():
    issue = opened(roster=FakeRoster())
    return issue.state


def test_a_due_tick_is_taken_once_then_again_only_after_the_resend_delay():
    state = open_state()
    index = DueIndex(resend_after=minutes(1))
    assert index.put(KEY, 3, state) is True
    due = tick_for(state).due
    assert index.next_at() == due
    assert index.take_due(due - seconds(1)) == []
    [taken] = index.take_due(due)
    assert (taken.key, taken.partition, taken.tick) == (KEY, 3, tick_for(state))
    assert index.take_due(due + seconds(59)) == []  # sent; the agent has not written yet
    assert [t.tick for t in index.take_due(due + minutes(1))] == [tick_for(state)]


def test_the_agent_writing_the_fired_state_replaces_the_tick():
    state = open_state()
    index = DueIndex()
    index.put(KEY, 0, state)
    [taken] = index.take_due(tick_for(state).due)
    fired = decide_tick(state, taken.tick, taken.tick.due, FakeRoster()).state
    assert fired.version == state.version + 1
    assert index.put(KEY, 0, fired) is False  # later than the one it replaces
    assert index.next_at() == tick_for(fired).due
    [again] = index.take_due(tick_for(fired).due)
    assert again.tick.version == fired.version  # the old tick is never sent again


def test_a_write_that_changes_no_deadline_keeps_what_is_queued():
    state = open_state()
    index = DueIndex(resend_after=minutes(5))
    index.put(KEY, 1, state)
    due = tick_for(state).due
    index.take_due(due)
    index.put(KEY, 1, state.model_copy(update={"summary": "another contact"}))
    assert index.take_due(due + minutes(1)) == []  # no second send for the same deadline


def test_an_issue_with_nothing_due_leaves_the_index():
    state = open_state()
    index = DueIndex()
    index.put(KEY, 0, state)
    resolved = state.model_copy(update={"status": "resolved", "followup_due": None})
    assert tick_for(resolved) is None
    index.put(KEY, 0, resolved)
    assert len(index) == 0
    assert index.next_at() is None
    assert index.take_due(T0 + timedelta(days=365)) == []


def test_rebuild_starts_from_the_held_states_only():
    state = open_state()
    index = DueIndex()
    index.put(b"gone", 5, state)
    index.rebuild([(KEY, 2, state)])
    assert [(d.key, d.partition) for d in index.take_due(T0 + timedelta(days=1))] == [(KEY, 2)]


def test_a_failed_send_is_queued_again_soon_unless_the_issue_moved_on():
    state = open_state()
    index = DueIndex(resend_after=minutes(30))
    index.put(KEY, 0, state)
    due = tick_for(state).due
    [taken] = index.take_due(due)
    index.retry(taken, due + seconds(1))
    assert index.take_due(due + seconds(1)) == [taken]
    assert index.take_due(due + minutes(29)) == []  # the retry replaced the resend
    index.put(KEY, 0, state.model_copy(update={"version": state.version + 7}))
    index.retry(taken, due + minutes(31))
    assert [d.tick.version for d in index.take_due(due + minutes(31))] == [state.version + 7]


def test_stale_heap_items_are_compacted():
    state = open_state()
    index = DueIndex()
    for version in range(5000):
        index.put(KEY, 0, state.model_copy(update={"version": version}))
    assert len(index) == 1
    assert len(index._heap) <= 2 * len(index) + 1024 + 1


def test_the_scanner_sends_what_is_due_and_retries_a_failed_send():
    state = open_state()
    index = DueIndex()
    index.put(KEY, 4, state)
    due = tick_for(state).due
    sent, failures = [], [RuntimeError("broker down")]

    async def send(entry):
        if failures:
            raise failures.pop()
        sent.append(entry)

    async def scenario():
        clock = iter([due - seconds(1), due, due + seconds(1)])
        scanner = TickScanner(index, lambda: True, send, clock=lambda: next(clock))
        assert await scanner.scan() == 0
        assert await scanner.scan() == 1  # taken, but the broker refused it
        assert await scanner.scan() == 1  # tried again a second later

    asyncio.run(scenario())
    assert [(e.key, e.partition) for e in sent] == [(KEY, 4)]


def test_the_scanner_sends_nothing_while_the_worker_is_not_settled():
    state = open_state()
    index = DueIndex()
    index.put(KEY, 0, state)

    async def never(entry):
        raise AssertionError("sent while rebalancing")

    scanner = TickScanner(index, lambda: False, never, clock=lambda: T0 + timedelta(days=1))
    assert asyncio.run(scanner.scan()) == 0
    assert len(index.take_due(T0 + timedelta(days=1))) == 1  # still due for later
