"""The supervisor's restart policy: backoff, reset once stable, and giving up."""

from __future__ import annotations

import signal

from escalation.services.common.restarts import RestartHistory, RestartPolicy, describe_exit


def crash_loop(history: RestartHistory, now: float, uptime: float) -> float | None:
    """The child starts at ``now`` and dies ``uptime`` later; the delay asked for."""
    history.on_start(now)
    return history.on_exit(now + uptime)


def test_delays_double_from_half_a_second_up_to_the_cap():
    history = RestartHistory(RestartPolicy(max_restarts=100, window=10.0))
    now, delays = 0.0, []
    for _ in range(9):
        delay = crash_loop(history, now, uptime=1.0)
        assert delay is not None
        delays.append(delay)
        now += 1.0 + delay + 20.0  # spread out, so the window never fills
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    assert history.count == 9


def test_a_child_that_stayed_up_starts_again_from_the_first_delay():
    history = RestartHistory()
    assert crash_loop(history, 0.0, uptime=1.0) == 0.5
    assert crash_loop(history, 2.0, uptime=1.0) == 1.0
    assert crash_loop(history, 5.0, uptime=600.0) == 0.5  # up 10 minutes: a new failure


def test_more_than_five_restarts_in_five_minutes_stop_the_stack():
    history = RestartHistory()
    now = 0.0
    for _ in range(5):
        delay = crash_loop(history, now, uptime=2.0)
        assert delay is not None
        now += 2.0 + delay
    assert crash_loop(history, now, uptime=2.0) is None
    assert history.count == 5


def test_restarts_outside_the_window_are_forgiven():
    history = RestartHistory(RestartPolicy(stable_after=1000.0))
    now = 0.0
    for _ in range(5):
        delay = crash_loop(history, now, uptime=2.0)
        assert delay is not None
        now += 2.0 + delay + 70.0  # one failure every ~75 s: 5 span more than 5 minutes
    assert crash_loop(history, now, uptime=2.0) is not None


def test_exit_codes_and_signals_read_as_words():
    assert describe_exit(75) == "code 75"
    assert describe_exit(-signal.SIGKILL) == "killed by SIGKILL"
