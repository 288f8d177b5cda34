"""The policy's silences in force, kept between moments: the same answer as asking anew."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from escalation.policy import parse_policy
from escalation.policy.silencing import PolicySilences
from tests.unit.policy.fixtures import POLICY

WINDOWS = """
silences:
  - {id: later, matchers: ['product=a'], starts_at: "2026-03-08T06:00:00Z",
     ends_at: "2026-03-09T00:00:00Z"}
  - {id: recall, matchers: ['product=b'], ends_at: "2026-11-01T07:30:00Z", mode: drop}
maintenance:
  - {id: overnight, matchers: ['product=c'], days: [sat, sun], start: "22:00", end: "02:00"}
  - {id: skipped, matchers: ['product=d'], start: "02:30", end: "04:00"}
  - {id: repeated, matchers: ['product=e'], start: "01:00", end: "01:30"}
  - {id: quarters, matchers: ['product=f'], cron: "*/15 1-3 * * *", duration: 5m}
  - {id: overlap, matchers: ['product=g'], cron: "0 */2 * * *", duration: 3h,
     timezone: Europe/Berlin}
  - {id: month-end, matchers: ['product=h'], cron: "0 23 L * *", duration: 3h,
     timezone: America/Chicago}
"""
NIGHTS = [
    datetime(2026, 3, 7, 12, tzinfo=UTC),  # New York springs forward on the 8th
    datetime(2026, 3, 28, 12, tzinfo=UTC),  # Berlin on the 29th
    datetime(2026, 10, 31, 12, tzinfo=UTC),  # New York falls back on 1 November
    datetime(2026, 11, 29, 12, tzinfo=UTC),  # a month's end
]


LOADED = parse_policy(POLICY + WINDOWS, now=NIGHTS[0])


def _policy() -> PolicySilences:
    return PolicySilences(LOADED)


def _answer(silences: list) -> list[tuple[str, datetime, datetime]]:
    return [(s.id, s.starts_at, s.ends_at) for s in silences]


@settings(max_examples=25, deadline=None)
@given(
    night=st.sampled_from(NIGHTS),
    steps=st.lists(st.integers(min_value=-600, max_value=5400), min_size=1, max_size=60),
)
def test_a_kept_answer_is_the_answer_asked_anew(night: datetime, steps: list[int]) -> None:
    kept = _policy()
    moment = night
    for step in steps:
        moment += timedelta(seconds=step * 7)  # back a little, or on by up to 10.5 hours
        assert _answer(kept.active(moment)) == _answer(_policy().active(moment))


def test_every_start_and_end_of_a_night_is_seen_to_the_second() -> None:
    kept = _policy()
    moment = datetime(2026, 3, 7, 18, tzinfo=UTC)
    while moment < datetime(2026, 3, 9, 6, tzinfo=UTC):
        fresh = _policy().active(moment)
        assert _answer(kept.active(moment)) == _answer(fresh)
        for silence in fresh:  # its last second and its end, from the kept answer
            for edge in (silence.ends_at - timedelta(seconds=1), silence.ends_at):
                assert _answer(kept.active(edge)) == _answer(_policy().active(edge))
        moment += timedelta(minutes=37)


def test_a_start_the_clock_jumps_towards_is_not_missed() -> None:
    early = "maintenance:\n  - {id: early, matchers: ['product=i'], start: '03:10', end: '04:00'}\n"
    kept = PolicySilences(parse_policy(POLICY + early, now=NIGHTS[0]))
    assert "maintenance.early" not in _ids(kept.active(datetime(2026, 3, 8, 6, 30, tzinfo=UTC)))
    # 40 minutes later the clock reads 03:10 EDT, not 02:10 EST: the window has started.
    assert "maintenance.early" in _ids(kept.active(datetime(2026, 3, 8, 7, 10, tzinfo=UTC)))


def _ids(silences: list) -> list[str]:
    return [s.id for s in silences]
