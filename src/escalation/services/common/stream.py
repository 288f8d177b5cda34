"""Base of the faust services: one app, raw topics, health/metrics pages, and the DLQ.

Every topic is read with ``value_serializer="raw"``: bytes reach our code, and
``schemas.codec`` decodes them, so a value faust could not decode never kills an agent.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import faust
import structlog
from faust.types import EventT

from .dlq import dead_letter_headers
from .metrics import ServiceMetrics
from .settings import Settings
from .topics import dlq_of

log = structlog.get_logger(__name__)

Handler = Callable[[EventT], Awaitable[None]]
ReadyCheck = Callable[[], str | None]
"""Returns None when ready, else why not."""


def header_map(event: EventT) -> dict[str, bytes]:
    headers = event.headers or {}
    items: Iterable[tuple[str, Any]] = headers.items() if isinstance(headers, dict) else headers
    return {str(k): (v if isinstance(v, bytes) else str(v).encode()) for k, v in items}


class StreamService:
    """A faust app with the pages and helpers every stream service shares."""

    def __init__(self, settings: Settings, app_id: str, service: str, web_port: int) -> None:
        self.settings = settings
        self.service = service
        self.metrics = ServiceMetrics(service)
        self.app = faust.App(app_id, web_port=web_port, **settings.faust_options())
        self.ready_checks: list[ReadyCheck] = [self._assigned]
        self._assigned_once = False
        self._register_pages()
        self.app.on_partitions_assigned.connect(self._on_assigned)

    def topic(self, *names: str) -> faust.TopicT:
        return self.app.topic(
            *names,
            key_type=bytes,
            value_type=bytes,
            key_serializer="raw",
            value_serializer="raw",
            allow_empty=True,
        )

    def consume(self, topic: faust.TopicT, name: str, handler: Handler) -> None:
        """Run ``handler`` on every message of ``topic`` in an agent that never raises."""

        async def agent(stream: Any) -> None:
            async for event in stream.events():
                await self.guarded(event, handler)

        self.app.agent(topic, name=name)(agent)

    def bytes_table(self, name: str) -> Any:
        """A changelog-backed table of bytes -> bytes, co-partitioned with the topics."""
        return self.app.Table(
            name,
            key_type=bytes,
            value_type=bytes,
            partitions=self.settings.kafka_partitions,
            default=None,
        )

    async def _on_assigned(self, *args: Any, **kwargs: Any) -> None:
        self._assigned_once = True

    def _assigned(self) -> str | None:
        if not self._assigned_once:
            return "consumer group not joined yet"
        if self.app.rebalancing:
            return "rebalancing"
        if self.app.in_recovery:
            return "recovering table state"
        return None

    def readiness(self) -> list[str]:
        return [why for check in self.ready_checks if (why := check()) is not None]

    def _register_pages(self) -> None:
        service = self

        @self.app.page("/healthz")
        async def healthz(web: Any, request: Any) -> Any:
            return web.json({"status": "ok", "service": service.service})

        @self.app.page("/readyz")
        async def readyz(web: Any, request: Any) -> Any:
            problems = service.readiness()
            status = 503 if problems else 200
            return web.json(
                {"status": "ready" if not problems else "not ready", "problems": problems},
                status=status,
            )

        @self.app.page("/metrics")
        async def metrics(web: Any, request: Any) -> Any:
            body, content_type = service.metrics.exposition()
            return web.bytes(body, content_type=content_type.split(";")[0])

    async def dead_letter(self, event: EventT, reason: str, error: BaseException | str) -> None:
        """Send the original bytes and headers to the source topic's DLQ with the reason."""
        message = event.message
        headers = dead_letter_headers(
            self.metrics,
            header_map(event),
            message.topic,
            message.partition,
            message.offset,
            reason,
            error,
        )
        await self.topic(dlq_of(message.topic)).send(
            key=message.key,
            value=message.value,
            headers=headers,
            partition=message.partition,
        )

    async def _dead_letter_until_written(
        self, event: EventT, reason: str, error: BaseException
    ) -> None:
        """Retry the DLQ write until the broker takes it: the partition waits, nothing is lost."""
        delay = 0.2
        while True:
            try:
                await self.dead_letter(event, reason, error)
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception(
                    "message.dead_letter_failed", topic=event.message.topic, retry_in=delay
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def guarded(self, event: EventT, handler: Handler) -> None:
        """Run one message's handler so that nothing escapes the agent loop.

        A decode or validation failure is the message's fault: DLQ. Anything else is
        a bug or a failed dependency: DLQ too, with its type, so the partition moves on
        and the message can be replayed from the DLQ once fixed.
        """
        topic = event.message.topic
        self.metrics.consumed.labels(topic).inc()
        started = time.perf_counter()
        try:
            await handler(event)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            from escalation.schemas import DecodeError

            reason = f"decode.{exc.kind}" if isinstance(exc, DecodeError) else "handler.error"
            if reason == "handler.error":
                log.exception("message.handler_failed", topic=topic)
            await self._dead_letter_until_written(event, reason, exc)
        finally:
            self.metrics.processing_seconds.labels(topic).observe(time.perf_counter() - started)
