"""An intake with a fake producer and a fixed clock, for unit tests."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from aiokafka.errors import KafkaConnectionError

from escalation.schemas import codec
from escalation.services.common.metrics import ServiceMetrics
from escalation.services.common.settings import Settings
from escalation.services.intake.service import Intake

JSON = {"content-type": "application/json"}
NOW = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)
"""Intake's clock in these tests: the factories' events happened that morning."""


class FakeProducer:
    """Records sends; ``fail`` makes the broker refuse the next write, ``hang`` makes it
    never acknowledge (the futures stay pending until ``release``)."""

    def __init__(self):
        self.sent = []
        self.fail = False
        self.hang = False
        self.pending = []
        self.client = self

    async def send(self, topic, value, key=None, headers=None):
        future = asyncio.get_running_loop().create_future()
        if self.fail:
            future.set_exception(KafkaConnectionError("broker down"))
        elif self.hang:
            self.pending.append((future, (topic, key, value, dict(headers or []))))
        else:
            self.sent.append((topic, key, value, dict(headers or [])))
            future.set_result(None)
        return future

    def release(self):
        """The broker comes back: every write it held is acknowledged."""
        for future, record in self.pending:
            self.sent.append(record)
            future.set_result(None)
        self.pending.clear()

    async def fetch_all_metadata(self):
        if self.fail or self.hang:
            raise KafkaConnectionError("broker down")


def make(clock=lambda: NOW, connected=True, **settings):
    producer = FakeProducer()
    intake = Intake(Settings(**settings), producer, ServiceMetrics("intake"), clock=clock)
    intake.connected = connected
    return intake, producer


def body(*events):
    return codec.dumps(events[0] if len(events) == 1 else list(events))


def problem(reply):
    assert reply.content_type == "application/problem+json"
    return codec.loads_plain(reply.body)
