"""The batch path's shortcuts do what faust's and prometheus_client's own calls do."""

from __future__ import annotations

from typing import Any

import pytest
from faust.streams import Stream
from faust.types import TP
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from escalation.services.common.faust_monitor import PrometheusMonitor
from escalation.services.common.metrics import observe_many
from escalation.services.common.stream import ack_in_order


class _Message:
    def __init__(self, offset: int) -> None:
        self.tp = TP("contacts.routed.v1", 2)
        self.offset = offset


class _Event:
    """Its ack answers as scripted: True when it was the message's last."""

    def __init__(self, offset: int, last: bool, log: list[Any]) -> None:
        self.message = _Message(offset)
        self.last = last
        self.log = log

    def ack(self) -> bool:
        self.log.append(("ack", self.message.offset))
        return self.last


class _Stream:
    def __init__(self, log: list[Any]) -> None:
        self.log = log

    def _on_stream_event_out(self, tp: TP, offset: int, stream: Any, event: Any) -> None:
        self.log.append(("event_out", offset, stream is self, event.message.offset))

    def _on_message_out(self, tp: TP, offset: int, message: Any) -> None:
        self.log.append(("message_out", offset, message.offset))


async def test_acking_a_batch_makes_the_calls_faust_s_stream_ack_makes_in_order():
    script = [(10, True), (11, False), (12, True)]
    theirs: list[Any] = []
    stream = _Stream(theirs)
    for offset, last in script:
        await Stream.ack(stream, _Event(offset, last, theirs))  # type: ignore[arg-type]
    ours: list[Any] = []
    ack_in_order(_Stream(ours), [_Event(offset, last, ours) for offset, last in script])
    assert ours == theirs
    assert [entry[0] for entry in ours][:3] == ["ack", "event_out", "message_out"]


def test_observing_many_at_once_equals_observing_each():
    buckets = (0.0005, 0.001, 0.0025, 0.005, 1.0)
    for amount in (0.0, 0.0004, 0.001, 0.003, 7.0):
        one, many = CollectorRegistry(), CollectorRegistry()
        a = Histogram("t_seconds", "t", ["topic"], registry=one, buckets=buckets)
        b = Histogram("t_seconds", "t", ["topic"], registry=many, buckets=buckets)
        for _ in range(7):
            a.labels("x").observe(amount)
        observe_many(b.labels("x"), amount, 7)
        observe_many(b.labels("x"), amount, 0)
        for le in [*(str(bound) for bound in buckets), "+Inf"]:
            labels = {"topic": "x", "le": le}
            assert one.get_sample_value("t_seconds_bucket", labels) == many.get_sample_value(
                "t_seconds_bucket", labels
            )
        count = {"topic": "x"}
        assert one.get_sample_value("t_seconds_count", count) == 7
        assert many.get_sample_value("t_seconds_count", count) == 7
        # The sum is one product instead of seven additions: equal up to float rounding.
        assert many.get_sample_value("t_seconds_sum", count) == pytest.approx(
            one.get_sample_value("t_seconds_sum", count)
        )


def test_the_monitor_counts_messages_and_active_events_and_times_acked_events():
    registry = CollectorRegistry()
    monitor = PrometheusMonitor(registry)
    tp = TP("contacts.routed.v1", 0)
    for offset in range(3):
        monitor.on_message_in(tp, offset, None)  # type: ignore[arg-type]
    states = [monitor.on_stream_event_in(tp, n, None, None) for n in range(3)]  # type: ignore[arg-type]
    monitor.on_stream_event_out(tp, 0, None, None, states[0])  # type: ignore[arg-type]
    monitor.on_stream_event_out(tp, 1, None, None, None)  # type: ignore[arg-type]
    monitor.on_message_out(tp, 0, None)  # type: ignore[arg-type]
    text = generate_latest(registry).decode()
    assert 'escalation_faust_messages_received_total{topic="contacts.routed.v1"} 3.0' in text
    assert "escalation_faust_events_active 1.0" in text
    assert "escalation_faust_event_seconds_count 1.0" in text
