"""The router's commits: acknowledged offsets wait at most the interval, a failure stays."""

from __future__ import annotations

import asyncio

from aiokafka.errors import CommitFailedError

from escalation.services.router.commits import Commits


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Consumer:
    def __init__(self) -> None:
        self.commits: list[dict[str, int]] = []
        self.fail = False

    async def commit(self, offsets: dict[str, int]) -> None:
        if self.fail:
            raise CommitFailedError("rebalanced")
        self.commits.append(dict(offsets))


def make(clock: Clock, consumer: Consumer, seen: list[dict[str, int]]) -> Commits:
    return Commits(consumer.commit, 1.0, seen.append, every=0.1, clock=clock)


def test_offsets_wait_for_the_interval_then_go_in_one_commit():
    clock, consumer, seen = Clock(), Consumer(), []
    commits = make(clock, consumer, seen)
    commits.add({"p0": 5})
    assert not commits.due()
    assert commits.wait_ms(500) == 101
    clock.now += 0.05
    commits.add({"p0": 9, "p1": 3})
    assert 0 < commits.wait_ms(500) <= 51
    clock.now += 0.06
    assert commits.due()
    asyncio.run(commits.commit())
    assert consumer.commits == [{"p0": 9, "p1": 3}] == seen
    assert not commits.due() and commits.wait_ms(500) == 500


def test_a_failed_commit_stays_pending_under_later_offsets():
    clock, consumer, seen = Clock(), Consumer(), []
    commits = make(clock, consumer, seen)
    commits.add({"p0": 5, "p1": 2})
    consumer.fail = True
    asyncio.run(commits.commit())
    assert seen == [] and commits.pending == {"p0": 5, "p1": 2}
    commits.add({"p0": 7})
    commits.drop(["p1"])  # revoked: its new owner reads from the last commit
    consumer.fail = False
    asyncio.run(commits.commit())
    assert consumer.commits == [{"p0": 7}]
