"""Ladders on durable timers, live: steps at their delays, acks, commitments, a SIGKILL.

One embedded stack (`escalation up`, real broker and service processes) on a policy whose
ladder climbs in seconds (ladder_policy.yaml), and one receiver process that records
every page it is sent, repeats included. Waits are bounded and generous; the only time
asserted is the one the engine promises: no step before its delay, and after a restart
no later than the restart took plus 2 s.
"""

from __future__ import annotations

import os
import signal
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from escalation.schemas import make_escalation_id
from escalation.testing.stack import eventually, stop_stack

from .timer_stack import AFTER, opened_at, start_timer_stack, unique

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def timers(tmp_path_factory):
    running, receiver = start_timer_stack(tmp_path_factory.mktemp("timers"))
    yield running
    code = stop_stack(running.stack)
    receiver.terminate()
    receiver.wait()
    assert code == 0, "\n".join(running.stack.output[-30:])


def levels(deliveries) -> list[int]:
    return [d.level for d in deliveries]


def test_the_ladder_pages_each_level_in_order_never_before_its_delay(timers):
    escalation_id = timers.open(unique("LAD"))
    pages = eventually(
        lambda: (found := timers.deliveries(escalation_id)) and len(found) >= 3 and found,
        "levels 1 to 3",
        90,
    )
    view = timers.view(escalation_id)
    timers.command(escalation_id, "ack", note="on it")
    start = opened_at(view)
    assert levels(pages[:3]) == [1, 2, 3]
    for page in pages[:3]:
        assert page.at >= start + AFTER[page.level], (page, start)
    assert len({p.page_id for p in pages}) == len(pages)  # one page per level, none twice
    assert pages[1].reason.startswith("ladder.step: level 2 at 4s, not acknowledged")
    assert view["level"] >= 3 and view["owner"] in {"ann", "bob"} and view["team"] == "desk"
    timeline = [(e["type"], e["level"]) for e in view["timeline"]]
    assert timeline[:6] == [
        ("opened", 1),
        ("paged", 1),
        ("stepped", 2),
        ("paged", 2),
        ("stepped", 3),
        ("paged", 3),
    ]
    assert all(e["reason"] for e in view["timeline"])


def test_an_ack_stops_the_ladder(timers):
    escalation_id = timers.open(unique("ACK"))
    timers.command(escalation_id, "ack", note="looking now")
    eventually(lambda: timers.deliveries(escalation_id, "escalation.acked"), "the ack's page", 60)
    view = timers.view(escalation_id)
    assert view["status"] == "acked"
    acked_at = next(
        datetime.fromisoformat(e["at"]).timestamp()
        for e in view["timeline"]
        if e["type"] == "acked"
    )
    start = opened_at(view)
    # Past level 3's delay with room to spare: nothing falls due while acknowledged.
    time.sleep(max(0.0, start + AFTER[3] + 4 - time.time()))
    pages = timers.deliveries(escalation_id)
    assert all(start + AFTER[p.level] < acked_at for p in pages), (pages, acked_at)
    assert 3 not in levels(pages)
    assert timers.view(escalation_id)["deadlines"] == {}


def test_a_missed_commitment_escalates_once(timers):
    escalation_id = timers.open(unique("ETA"))
    eta = datetime.now(UTC) + timedelta(seconds=3)
    timers.command(escalation_id, "ack", eta=eta.isoformat())
    missed = eventually(
        lambda: [d for d in timers.deliveries(escalation_id) if "eta.missed" in d.reason],
        "the page for the missed commitment",
        60,
    )
    timers.command(escalation_id, "ack", note="for real this time")
    assert missed[0].at >= eta.timestamp()
    assert missed[0].level == 2
    eventually(
        lambda: timers.view(escalation_id)["status"] == "acked", "the second ack to land", 60
    )
    time.sleep(3)  # a second tick of the same commitment would have fired by now
    again = [d for d in timers.deliveries(escalation_id) if "eta.missed" in d.reason]
    assert len(again) == 1, again
    view = timers.view(escalation_id)
    stepped = [e for e in view["timeline"] if e["type"] == "stepped"]
    assert [e["reason"].split(":")[0] for e in stepped].count("eta.missed") == 1


def test_queries_refuse_malformed_ids_and_say_why_one_is_absent(timers):
    assert timers.query("e1.not-an-id").status_code == 404
    absent = make_escalation_id(unique("NONE"), "b" * 24, 1)
    reply = timers.query(absent)
    assert reply.status_code == 404
    assert "its issue has no escalation" in reply.json()["detail"]
    crm = {"authorization": "Bearer test-token-crm"}
    refused = httpx.get(f"{timers.stack.intake}/v1/escalations/{absent}", headers=crm)
    assert refused.status_code == 403


def test_a_command_for_an_escalation_never_opened_is_counted_and_logged(timers):
    never = make_escalation_id(unique("GHOST"), "c" * 24, 3)
    before = timers.stack.metric(
        "escalator", "escalation_escalator_outcomes_total", input="command", outcome="unknown"
    )
    timers.command(never, "ack")
    eventually(
        lambda: (
            timers.stack.metric(
                "escalator",
                "escalation_escalator_outcomes_total",
                input="command",
                outcome="unknown",
            )
            > before
        ),
        "the unknown command to be counted",
    )
    log = (timers.log_dir() / "escalator.log").read_text()
    assert "escalator.command_not_applied" in log and never in log


def test_sigkill_between_two_steps_fires_the_next_step_once_after_the_restart(timers):
    escalation_id = timers.open(unique("KILL"))
    eventually(lambda: 2 in levels(timers.deliveries(escalation_id)), "the level 2 page", 60)
    start = opened_at(timers.view(escalation_id))
    pid = timers.escalator_pid()
    killed = time.time()
    os.kill(pid, signal.SIGKILL)

    def ready_again() -> bool:
        if timers.escalator_pid() == pid:
            return False
        try:
            return httpx.get(f"{timers.stack.web('escalator')}/readyz", timeout=1).is_success
        except httpx.HTTPError:
            return False

    eventually(ready_again, "the escalator to be restarted and ready", 120)
    restart = time.time() - killed
    third = eventually(
        lambda: [d for d in timers.deliveries(escalation_id) if d.level == 3],
        "the level 3 page after the restart",
        60,
    )
    time.sleep(3)  # room for a duplicate to arrive, were one sent
    pages = timers.deliveries(escalation_id)
    timers.command(escalation_id, "ack")
    due = start + AFTER[3]
    assert third[0].at >= due
    assert third[0].at - due <= restart + 2, (third[0].at - due, restart)
    assert levels(pages) == [1, 2, 3]  # every level exactly once: count and ids
    assert len({p.page_id for p in pages}) == len(pages) == 3
    lateness = timers.stack.metric("escalator", "escalation_escalator_timer_lateness_seconds_count")
    assert lateness >= 1  # the restarted worker measured the step it fired
    view = timers.view(escalation_id)  # the state and timeline came back from the changelog
    assert view["level"] == 3
    assert [e["type"] for e in view["timeline"]].count("stepped") == 2
