"""faust's own sensor figures on the service's Prometheus registry.

faust reports what its runtime does (messages in, events run, table operations, sends,
commits, rebalances) to one ``Monitor``. faust-streaming ships a Prometheus monitor, but
it names counters without units, observes milliseconds and clears series at every
rebalance; this subclass exports the same events in seconds under ``escalation_faust_*``.
It also answers the consumer lag of the partitions the worker holds (``lag.py``), from
the end and committed offsets the parent keeps.

faust calls the per-message hooks (message in, stream event in and out, message out)
for every message, and its consume-only rate is the escalator's yardstick, so these do
the least that keeps our figures: they skip the parent's in-memory tallies (message and
event totals, per-stream and per-task counts, a timestamp on every message), which only
faust's own web pages read, and those are off (``web_enabled`` is False). The active
events gauge reads a plain integer when scraped, and the received counter's children
are each looked up once.
"""

from __future__ import annotations

from time import monotonic
from typing import Any

from faust.sensors import Monitor
from faust.types import TP, AppT, CollectionT, EventT, Message, StreamT
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from .lag import lag_of
from .metrics import Children

SECONDS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 2.5, 10, 30)


class PrometheusMonitor(Monitor):
    """faust's ``Monitor`` that also counts into ``registry``."""

    def __init__(self, registry: CollectorRegistry, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.received = Counter(
            "escalation_faust_messages_received_total",
            "Messages the faust consumer handed to streams, by topic.",
            ["topic"],
            registry=registry,
        )
        self.active = Gauge(
            "escalation_faust_events_active",
            "Stream events being processed right now.",
            registry=registry,
        )
        self._active = 0
        self.active.set_function(lambda: self._active)
        self.event_seconds = Histogram(
            "escalation_faust_event_seconds",
            "Time a stream event took from entering the agent to leaving it.",
            registry=registry,
            buckets=SECONDS,
        )
        self.table_ops = Counter(
            "escalation_faust_table_operations_total",
            "Table reads, writes and deletes, by table.",
            ["table", "operation"],
            registry=registry,
        )
        self.sent = Counter(
            "escalation_faust_messages_sent_total",
            "Messages the faust producer was given, by topic.",
            ["topic"],
            registry=registry,
        )
        self.send_errors = Counter(
            "escalation_faust_send_errors_total",
            "Producer sends that failed.",
            registry=registry,
        )
        self.send_seconds = Histogram(
            "escalation_faust_send_seconds",
            "From a send to the broker's acknowledgement.",
            registry=registry,
            buckets=SECONDS,
        )
        self.commit_seconds = Histogram(
            "escalation_faust_commit_seconds",
            "Time of one offset commit (producer flush included).",
            registry=registry,
            buckets=SECONDS,
        )
        self.rebalances = Counter(
            "escalation_faust_rebalances_total",
            "Rebalances this worker went through.",
            registry=registry,
        )
        self.rebalance_seconds = Histogram(
            "escalation_faust_rebalance_seconds",
            "From a rebalance's start to its end, table recovery included.",
            registry=registry,
            buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
        )
        self.buffer_full = Counter(
            "escalation_faust_topic_buffer_full_total",
            "Times a partition's buffer filled up and its fetching paused, by topic.",
            ["topic"],
            registry=registry,
        )

        # Counted for every message and table read: each child looked up once.
        self._received = Children(self.received)
        self._table_ops = Children(self.table_ops)
        self._sent = Children(self.sent)

    def lag(self) -> dict[tuple[str, int], int]:
        ends = {(tp.topic, tp.partition): end for tp, end in self.tp_end_offsets.items()}
        done = {(tp.topic, tp.partition): at for tp, at in self.tp_committed_offsets.items()}
        return lag_of(ends, done)

    # -- per message: no parent call (see the module docstring) ----------------------------

    def on_message_in(self, tp: TP, offset: int, message: Message) -> None:
        self._received(tp.topic).inc()

    def on_stream_event_in(
        self, tp: TP, offset: int, stream: StreamT, event: EventT
    ) -> dict | None:
        self._active += 1
        return {"time_in": monotonic()}

    def on_stream_event_out(
        self, tp: TP, offset: int, stream: StreamT, event: EventT, state: dict | None = None
    ) -> None:
        # A stream that acks by hand (``Stream.ack``) passes no state: no time to observe.
        self._active -= 1
        if state is not None:
            self.event_seconds.observe(monotonic() - state["time_in"])

    def on_message_out(self, tp: TP, offset: int, message: Message) -> None:
        pass

    def on_table_get(self, table: CollectionT, key: Any) -> None:
        super().on_table_get(table, key)
        self._table_ops(table.name, "get").inc()

    def on_table_set(self, table: CollectionT, key: Any, value: Any) -> None:
        super().on_table_set(table, key, value)
        self._table_ops(table.name, "set").inc()

    def on_table_del(self, table: CollectionT, key: Any) -> None:
        super().on_table_del(table, key)
        self._table_ops(table.name, "del").inc()

    def on_send_initiated(self, producer: Any, topic: str, message: Any, *sizes: int) -> Any:
        self._sent(topic).inc()
        return super().on_send_initiated(producer, topic, message, *sizes)

    def on_send_completed(self, producer: Any, state: Any, metadata: Any) -> None:
        super().on_send_completed(producer, state, metadata)
        self.send_seconds.observe(self.secs_since(state))

    def on_send_error(self, producer: Any, exc: BaseException, state: Any) -> None:
        super().on_send_error(producer, exc, state)
        self.send_errors.inc()

    def on_commit_completed(self, consumer: Any, state: Any) -> None:
        super().on_commit_completed(consumer, state)
        self.commit_seconds.observe(self.secs_since(state))

    def on_rebalance_start(self, app: AppT) -> dict:
        self.rebalances.inc()
        return super().on_rebalance_start(app)

    def on_rebalance_end(self, app: AppT, state: dict) -> None:
        super().on_rebalance_end(app, state)
        self.rebalance_seconds.observe(self.secs_since(state["time_start"]))

    def on_topic_buffer_full(self, tp: TP) -> None:
        super().on_topic_buffer_full(tp)
        self.buffer_full.labels(tp.topic).inc()
