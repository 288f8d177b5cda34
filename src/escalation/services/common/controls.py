"""The controls broadcast: every reader holds all of ``escalation.controls.v1`` in memory.

Controls are the few facts that hold back pages across customers: open surges and
silences. Each escalator worker needs all of them, not the share of a consumer group,
and so does intake, which lists silences: ``ControlsReader`` reads the topic with a
plain consumer outside any group: every partition, from the beginning, for as long as
the service runs. It is the one reader of the topic, so the rules below hold alike for
every service that reads it. The latest record of an id is its state (production
compacts the topic, keyed by id; Tansu keeps every record, which only lengthens the
first read); of two records made at the same moment, the one that ends the control wins,
so an expiry is never undone by reading the records again. A record that does not
decode is logged and skipped: it cannot stop the view.

Readiness (``ControlsView.caught_up``) is reached once the first read got to the end of
every partition, judged by the Fetch responses' high watermark (right on Tansu too,
unlike its reported end offset, docs/broker.md): until then a worker does not know which
surges are open, nor intake which silences exist. A later reconnect reads the topic
again from the start into the same view; readiness stays, since the newest record of an
id wins whatever the order, and no control can be written while the broker is away.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

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
CLOSED_KEPT = timedelta(days=7)
"""A closed control is kept this long: a held issue the close could not reach at once
learns of it at its next input (older than this, it is released as by default)."""
PRUNE_EVERY = 600.0


class ControlsView:
    """Every control by id, as last written; pure apart from ``apply``'s callers."""

    def __init__(self) -> None:
        self.controls: dict[str, Control] = {}
        self.listeners: list[Listener] = []
        self.caught_up = False
        """The reader has read every partition to its end once (set by the reader)."""

    def apply(self, control: Control) -> None:
        known = self.controls.get(control.id)
        if known is not None and _order(control) < _order(known):
            return  # an older record read after a newer one changes nothing
        self.controls[control.id] = control
        for listener in self.listeners:
            listener(control)

    def active(self, kind: str) -> list[Control]:
        return [c for c in self.controls.values() if c.kind == kind and c.active]

    def get(self, ident: str) -> Control | None:
        return self.controls.get(ident)

    def of_kind(self, kind: str) -> list[Control]:
        """Every control of ``kind``, ended ones too."""
        return [c for c in self.controls.values() if c.kind == kind]

    def forget_before(self, moment: datetime) -> None:
        """Drop closed controls last written before ``moment``: the view stays bounded."""
        self.controls = {k: c for k, c in self.controls.items() if c.active or c.at >= moment}


def _order(control: Control) -> tuple[datetime, bool]:
    # Later wins; at the same moment, the record that ends the control.
    return (control.at, not control.active)


class ControlsReader(mode.Service):
    """Keeps ``view`` up to date from the topic, from its first record, until stopped.

    ``forget_closed_after``: closed controls older than this are dropped from the view
    now and then (the escalator's, which needs only what holds pages); None keeps every
    one (intake's, which lists expired silences on request).
    """

    def __init__(
        self,
        settings: Settings,
        view: ControlsView,
        forget_closed_after: timedelta | None = CLOSED_KEPT,
        what: str = "controls (open surges and silences)",
        **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)
        self.settings = settings
        self.view = view
        self.forget_closed_after = forget_closed_after
        self.what = what
        self._stopping = asyncio.Event()
        self._task: asyncio.Future[None] | None = None

    @property
    def caught_up(self) -> bool:
        return self.view.caught_up

    def ready(self) -> str | None:
        return None if self.view.caught_up else f"{self.what} not yet read to the end"

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
        options = self.settings.reader_options()
        consumer = AIOKafkaConsumer(
            **{**options, "fetch_max_wait_ms": self.settings.controls_fetch_wait_ms}
        )
        try:
            await consumer.start()
            parts = consumer.partitions_for_topic(CONTROLS) or set()
            if not parts:
                await consumer.force_metadata_update()
                parts = consumer.partitions_for_topic(CONTROLS) or set()
            tps = [TopicPartition(CONTROLS, p) for p in sorted(parts)]
            if not tps:
                raise RuntimeError(f"topic {CONTROLS} has no partitions yet")
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            loop = asyncio.get_running_loop()
            pruned_at = loop.time()
            while not self._stopping.is_set():
                if self.forget_closed_after and loop.time() - pruned_at > PRUNE_EVERY:
                    self.view.forget_before(datetime.now(UTC) - self.forget_closed_after)
                    pruned_at = loop.time()
                batch = await consumer.getmany(*tps, timeout_ms=500, max_records=1000)
                for messages in batch.values():
                    for message in messages:
                        self._apply(message.value)
                if not self.view.caught_up and await self._at_end(consumer, tps):
                    self.view.caught_up = True
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
