"""A real escalator service whose broker is a fake that logs every step in order.

The service is built as in production (faust app, tables in faust's memory store, the
example policy); only what would reach the broker is replaced: its output topics, its
DLQ topics and its tables' changelog sends, each answering with a future the test
scripts (taken, or refused with an error). ``Broker.log`` keeps every send, changelog
record, table store write, crash point crossing and ack, in the order they happened.
"""

from __future__ import annotations

import asyncio
from typing import Any

from faust.types.tuples import ConsumerMessage

from escalation.schemas import codec
from escalation.services.common import crashpoints
from escalation.services.common.faults import RetryPolicy
from escalation.services.common.settings import Settings
from escalation.services.common.topics import ESCALATIONS, PAGES, ROUTED, dlq_of
from escalation.services.escalator.app import EscalatorService


class FakeEvent:
    def __init__(self, value: bytes | None, offset: int, topic: str = ROUTED, partition: int = 1):
        self.message = ConsumerMessage(
            topic, partition, offset, 0.0, 0, [("event-id", b"e")], b"C", value, None
        )
        self.headers = self.message.headers

    def ack(self) -> bool:
        """faust's ``Event.ack``: True when this ack made the message done (not when held)."""
        if self.message.acked:
            return False
        self.message.acked = True
        return True


class Broker:
    """Answers every record batch; ``refuse[name]`` holds errors for the next batches to
    ``name``, ``down`` names what refuses every batch, ``rejects`` keys refused always."""

    def __init__(self) -> None:
        self.log: list[tuple[str, Any]] = []
        self.records: dict[str, list[dict[str, Any]]] = {}
        self.refuse: dict[str, list[BaseException]] = {}
        self.down: dict[str, BaseException] = {}
        self.rejects: dict[bytes, BaseException] = {}

    def take(self, name: str, records: list[dict[str, Any]]) -> asyncio.Future[None]:
        future = asyncio.get_running_loop().create_future()
        rejected = [self.rejects[r["key"]] for r in records if r.get("key") in self.rejects]
        failure = (
            self.down.get(name)
            or next(iter(rejected), None)
            or (self.refuse.get(name) or [None]).pop(0)
        )
        if failure is not None:
            self.log.append(("refused", name))
            future.set_exception(failure)
        else:
            for record in records:
                self.log.append(("sent", name))
                self.records.setdefault(name, []).append(record)
            future.set_result(None)
        return future

    def values(self, name: str) -> list[Any]:
        decode = {ESCALATIONS: codec.decode_escalation, PAGES: codec.decode_page}[name]
        return [decode(r["value"]) for r in self.records.get(name, [])]

    def steps(self) -> list[str]:
        """The log with consecutive repeats of one step folded: the order of the phases."""
        folded: list[str] = []
        for kind, name in self.log:
            step = f"{kind} {name}".strip()
            if not folded or folded[-1] != step:
                folded.append(step)
        return folded


class FakeBuilder:
    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def append(self, **record: Any) -> object:
        self.records.append(record)
        return object()

    def close(self) -> None:
        pass


class FakeProducer:
    """aiokafka's record-batch interface, answered by ``broker`` under short topic names."""

    def __init__(self, broker: Broker, names: dict[str, str]) -> None:
        self.broker, self.names = broker, names

    def create_batch(self) -> FakeBuilder:
        return FakeBuilder()

    async def send_batch(self, builder: FakeBuilder, topic: str, *, partition: int) -> Any:
        records = [{**r, "partition": partition} for r in builder.records]
        return self.broker.take(self.names.get(topic, topic), records)


class FakeTopic:
    def __init__(self, name: str, broker: Broker) -> None:
        self.name, self.broker = name, broker

    async def send(self, **record: Any) -> asyncio.Future[None]:
        return self.broker.take(self.name, [record])


class FakeStream:
    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.acked: list[int] = []

    def _on_stream_event_out(self, tp: object, offset: int, stream: object, event: object) -> None:
        """The sensor call faust's ``Stream.ack`` makes for every event it acks."""
        self.broker.log.append(("ack", ""))
        self.acked.append(offset)

    def _on_message_out(self, tp: object, offset: int, message: object) -> None:
        pass


class LoggedStore(dict):
    """A table's store that logs each write; a write must follow its changelog record."""

    def __init__(self, name: str, broker: Broker) -> None:
        super().__init__()
        self.name, self.broker = name, broker

    def __setitem__(self, key: bytes, value: bytes) -> None:
        taken = self.broker.records.get(self.name, [])
        assert any(r["key"] == key and r["value"] == value for r in taken), "stored too soon"
        self.broker.log.append(("stored", self.name))
        super().__setitem__(key, value)


def escalator(monkeypatch: Any, **settings: Any) -> tuple[EscalatorService, Broker, FakeStream]:
    """The service with every broker write going to one fake ``Broker``."""
    broker = Broker()
    service = EscalatorService(Settings(**settings))
    service.retry = RetryPolicy(budget_seconds=0.05, first_seconds=0.01, max_seconds=0.02)
    service.writer.policy = service.retry
    service.exits = []
    service.exit = service.exits.append
    service.topic = lambda *names: FakeTopic(names[0], broker)
    names = {}
    for name, table in (("issues", service.issues), ("timelines", service.timelines)):
        table._data = LoggedStore(name, broker)
        names[table.changelog_topic.get_topic_name()] = name
    producer = FakeProducer(broker, names)
    service.writer.producer = lambda: producer
    monkeypatch.setattr(
        crashpoints, "crash_point", lambda name, when=True: broker.log.append(("crossed", name))
    )
    return service, broker, FakeStream(broker)


async def run(service: EscalatorService, stream: FakeStream, events: list[FakeEvent]) -> None:
    await service.guarded_batch(stream, events, service.handle_batch)


def dead_reasons(broker: Broker) -> list[bytes]:
    return [dict(r["headers"])["error-type"] for r in broker.records.get(dlq_of(ROUTED), [])]
