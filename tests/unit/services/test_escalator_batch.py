"""The escalator's batches: decided in order over an overlay, applied effects -> timelines ->
states -> acks, with each input's fault dead-lettered and a failed write acking nothing."""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest
from aiokafka.errors import KafkaTimeoutError, MessageSizeTooLargeError
from tests.unit.factories import T0, minutes, routed
from tests.unit.services.batch_fakes import FakeEvent, dead_reasons, escalator, run

from escalation.schemas import EscalationSettings, LadderStep, codec, issue_state_key
from escalation.services.common.faults import DependencyFailed
from escalation.services.common.topics import ESCALATIONS, PAGES, TICKS
from escalation.services.escalator.rules import decide_contact
from escalation.services.escalator.timers import tick_for

LADDER = EscalationSettings(
    ladder=[LadderStep(after_seconds=1800, notify="team")],
    repeat_threshold=3,
    repeat_window_seconds=72 * 3600,
)


def routed_contact(offset: int, customer: str, at: datetime, urgency: str, **fields):
    customer_data = {"id": customer, "tier": "standard"}
    return routed(f"ev-{offset}", at, urgency, customer=customer_data, escalation=LADDER, **fields)


def contact(
    offset: int, customer: str, *, at: datetime = T0, urgency: str = "normal", **fields
) -> FakeEvent:
    return FakeEvent(codec.encode(routed_contact(offset, customer, at, urgency, **fields)), offset)


def state_of(service, customer: str):
    key = issue_state_key(customer, routed(customer={"id": customer}).issue_id)
    return service.holdings.state(key), key


async def test_inputs_of_one_issue_in_one_batch_see_each_other_s_state(monkeypatch):
    service, broker, stream = escalator(monkeypatch)
    events = [contact(i, "C-7", at=T0 + minutes(i)) for i in range(3)]
    await run(service, stream, events)
    # The third contact opened the escalation: it saw the two before it, decided in the
    # same batch and not yet in the table.
    opened = [r for r in broker.values(ESCALATIONS) if r.type == "opened"]
    assert [r.contacts for r in opened] == [["ev-0", "ev-1", "ev-2"]]
    assert len(broker.values(PAGES)) == 1
    state, key = state_of(service, "C-7")
    assert state is not None and state.status == "open"
    assert [m.event_id for m in state.contacts] == ["ev-0", "ev-1", "ev-2"]
    # One changelog record per issue and table: the last value says everything.
    assert len(broker.records["issues"]) == 1 and len(broker.records["timelines"]) == 1
    assert stream.acked == [0, 1, 2]
    assert key in service.holdings.partition_of and len(service.timers) == 1


async def test_a_tick_after_a_contact_in_the_same_batch_fires_the_step_it_made_due(monkeypatch):
    service, broker, stream = escalator(monkeypatch)
    first = routed_contact(0, "C-5", T0, "critical")
    opened = decide_contact(None, first, first.routing, T0, None).state
    tick = tick_for(opened)  # the ladder's next level, due 30 minutes after T0
    service.clock = iter([T0, T0 + minutes(31)]).__next__  # as each input is decided
    events = [FakeEvent(codec.encode(first), 0), FakeEvent(codec.encode(tick), 1, topic=TICKS)]
    await run(service, stream, events)
    assert [(r.type, r.level) for r in broker.values(ESCALATIONS)] == [
        ("opened", 1),
        ("stepped", 2),
    ]
    assert [p.level for p in broker.values(PAGES)] == [1, 2]
    state, _ = state_of(service, "C-5")
    assert state.level == 2 and stream.acked == [0, 1]
    assert service.engine.outcomes.labels("tick", "stepped")._value.get() == 1


async def test_a_redelivered_input_in_the_same_batch_is_a_duplicate(monkeypatch):
    service, broker, stream = escalator(monkeypatch)
    first = contact(0, "C-1", urgency="critical")
    again = FakeEvent(first.message.value, 1)
    await run(service, stream, [first, again])
    assert len(broker.values(PAGES)) == 1
    assert service.metrics.duplicates.labels("contacts.routed.v1")._value.get() == 1
    assert stream.acked == [0, 1]


async def test_outputs_keep_the_order_of_the_inputs_and_precede_every_state(monkeypatch):
    service, broker, stream = escalator(monkeypatch)
    issues = ["t-3", "t-1", "t-2"]  # one customer: one partition, where order is kept
    events = [contact(i, "C-9", urgency="critical", issue_key=t) for i, t in enumerate(issues)]
    await run(service, stream, events)
    assert [p.issue_key for p in broker.values(PAGES)] == issues
    assert [r.issue_key for r in broker.values(ESCALATIONS)] == issues
    # Effects, the crash point (once per input that paged), timelines, states, acks.
    assert broker.steps() == [
        f"sent {ESCALATIONS}",
        f"sent {PAGES}",
        "crossed escalator.after_emit",
        "sent timelines",
        "stored timelines",
        "sent issues",
        "stored issues",
        "ack",
    ]
    assert broker.log.count(("crossed", "escalator.after_emit")) == 3
    assert stream.acked == [0, 1, 2]


async def test_bad_inputs_inside_a_batch_go_to_the_dlq_with_their_reasons(monkeypatch):
    service, broker, stream = escalator(monkeypatch)
    events = [
        contact(0, "C-1", urgency="critical"),
        FakeEvent(b"{oops", 1),
        FakeEvent(codec.dumps({"event_id": "x"}), 2),
        contact(3, "C-2", urgency="critical"),
    ]
    await run(service, stream, events)
    assert dead_reasons(broker) == [b"decode", b"schema"]
    assert [p.customer_id for p in broker.values(PAGES)] == ["C-1", "C-2"]
    assert stream.acked == [0, 1, 2, 3] and service.exits == []


async def test_a_handler_bug_on_one_input_dead_letters_it_as_bug_and_keeps_the_rest(monkeypatch):
    service, broker, stream = escalator(monkeypatch)
    real = service.holdings.state
    poisoned = state_of(service, "C-2")[1]

    def load(key):
        if key == poisoned:
            raise RuntimeError("stored record does not decode")
        return real(key)

    service.holdings.state = load
    await run(service, stream, [contact(i, f"C-{i}", urgency="critical") for i in range(4)])
    assert dead_reasons(broker) == [b"bug"]
    assert [p.customer_id for p in broker.values(PAGES)] == ["C-0", "C-1", "C-3"]
    assert stream.acked == [0, 1, 2, 3]


async def test_a_refused_record_batch_is_sent_again_alone(monkeypatch):
    service, broker, stream = escalator(monkeypatch)
    broker.refuse[PAGES] = [None, KafkaTimeoutError()]  # the second page, once
    await run(service, stream, [contact(i, f"C-{i}", urgency="critical") for i in range(3)])
    # The refused record batch was sent again, and only it: each page is there once.
    assert sorted(p.customer_id for p in broker.values(PAGES)) == ["C-0", "C-1", "C-2"]
    assert broker.log.count(("refused", PAGES)) == 1
    assert len(broker.values(ESCALATIONS)) == 3
    assert stream.acked == [0, 1, 2] and service.exits == []


@pytest.mark.parametrize("down", [PAGES, "timelines", "issues"])
async def test_a_write_the_broker_keeps_refusing_acks_nothing_and_exits(monkeypatch, down):
    service, broker, stream = escalator(monkeypatch)
    broker.down[down] = KafkaTimeoutError()
    events = [contact(i, f"C-{i}", urgency="critical") for i in range(3)]
    await run(service, stream, events)
    assert stream.acked == []
    assert all(e.message.acked for e in events)  # held: faust never records them as done
    assert len(service.exits) == 1 and isinstance(service.exits[0], DependencyFailed)
    assert len(service.issues.data) == 0  # no state for effects that may not have landed
    assert len(service.timers) == 0
    if down == PAGES:
        assert "sent timelines" not in broker.steps()  # the state waits for every effect
    if down == "timelines":
        assert "sent issues" not in broker.steps()


async def test_a_record_the_broker_cannot_take_is_pinned_on_its_input(monkeypatch):
    service, broker, stream = escalator(monkeypatch)
    broker.rejects[b"C-1"] = MessageSizeTooLargeError()  # never retried: not the broker's
    await run(service, stream, [contact(i, f"C-{i}", urgency="critical") for i in range(3)])
    # Applied again one input at a time: the others went through (sent again, same ids),
    # and the input whose record cannot be written was dead-lettered as a bug.
    assert dead_reasons(broker) == [b"bug"]
    assert {p.customer_id for p in broker.values(PAGES)} == {"C-0", "C-2"}
    assert state_of(service, "C-1")[0] is None and state_of(service, "C-2")[0] is not None
    assert stream.acked == [0, 1, 2] and service.exits == []


async def test_a_batch_cancelled_mid_write_leaves_every_input_uncommitted(monkeypatch):
    service, _broker, stream = escalator(monkeypatch)
    never = asyncio.get_running_loop().create_future()  # the broker never answers

    async def hanging(builder, topic, *, partition):
        return never

    service.writer.producer().send_batch = hanging
    events = [contact(i, f"C-{i}", urgency="critical") for i in range(2)]
    task = asyncio.create_task(run(service, stream, events))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert stream.acked == [] and all(e.message.acked for e in events)
    assert len(service.issues.data) == 0
