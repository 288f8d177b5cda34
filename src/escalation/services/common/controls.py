"""The controls broadcast: every worker holds all of ``escalation.controls.v1`` in memory.

Controls are the few facts that hold back pages across customers: open surges today,
silences later. Each escalator worker needs all of them, not the share of a consumer
group, so this reads the topic with a plain consumer outside any group: every
partition, from the beginning, for as long as the worker runs. The latest record of an
id is its state (production compacts the topic, keyed by id; Tansu keeps every record,
which only lengthens the first read). A record that does not decode is logged and
skipped: it cannot stop the view.

``ready()`` says whether the first read reached the end of every partition, by the
Fetch responses' high watermark (right on Tansu too, unlike its reported end offset,
docs/broker.md): until then the worker does not know which surges are open.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime

import mode
import structlog
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition

from escalation.schemas import codec
from escalation.schemas.surge import Control

from .settings import Settings
from .topics import CONTROLS

log = structlog.get_logger(__name__)

Listener = Callable[[Control], None]
RETRY_SECONDS = 1.0


class ControlsView:
    """Every control by id, as last written; pure apart from ``apply``'s callers."""

    def __init__(self) -> None:
        self.controls: dict[str, Control] = {}
        self.listeners: list[Listener] = []

    def apply(self, control: Control) -> None:
        known = self.controls.get(control.id)
        if known is not None and known.at > control.at:
            return  # an older record read after a newer one changes nothing
        self.controls[control.id] = control
        for listener in self.listeners:
            listener(control)

    def active(self, kind: str) -> list[Control]:
        return [c for c in self.controls.values() if c.kind == kind and c.active]

    def get(self, ident: str) -> Control | None:
        return self.controls.get(ident)

    def forget_before(self, moment: datetime) -> None:
        """Drop closed controls last written before ``moment``: the view stays bounded."""
        self.controls = {k: c for k, c in self.controls.items() if c.active or c.at >= moment}


class ControlsReader(mode.Service):
    """Keeps ``view`` up to date from the topic, from its first record, until stopped."""

    def __init__(self, settings: Settings, view: ControlsView, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.settings = settings
        self.view = view
        self.caught_up = False
        self._stopping = asyncio.Event()
        self._task: asyncio.Future[None] | None = None

    def ready(self) -> str | None:
        return None if self.caught_up else "controls (open surges) not yet read to the end"

    async def on_start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.ensure_future(self._run())

    async def on_stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self._follow()
            except asyncio.CancelledError:
                raise
            except Exception:  # the broker went away: read again from the start
                log.warning("controls.read_failed", exc_info=True)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), RETRY_SECONDS)

    async def _follow(self) -> None:
        consumer = AIOKafkaConsumer(**self.settings.reader_options())
        await consumer.start()
        try:
            parts = consumer.partitions_for_topic(CONTROLS) or set()
            if not parts:
                await consumer.force_metadata_update()
                parts = consumer.partitions_for_topic(CONTROLS) or set()
            tps = [TopicPartition(CONTROLS, p) for p in sorted(parts)]
            if not tps:
                raise RuntimeError(f"topic {CONTROLS} has no partitions yet")
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            while not self._stopping.is_set():
                batch = await consumer.getmany(*tps, timeout_ms=500, max_records=1000)
                for messages in batch.values():
                    for message in messages:
                        self._apply(message.value)
                if not self.caught_up and await self._at_end(consumer, tps):
                    self.caught_up = True
                    log.info("controls.caught_up", controls=len(self.view.controls))
        finally:
            await consumer.stop()

    async def _at_end(self, consumer: AIOKafkaConsumer, tps: list[TopicPartition]) -> bool:
        for tp in tps:
            highwater = consumer.highwater(tp)
            if highwater is None or await consumer.position(tp) < highwater:
                return False
        return True

    def _apply(self, value: bytes | None) -> None:
        if value is None:
            return
        try:
            control = codec.decode_control(value)
        except codec.DecodeError as exc:
            log.warning("controls.unreadable", error=exc.detail)
            return
        self.view.apply(control)
