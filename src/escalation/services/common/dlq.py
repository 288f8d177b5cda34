"""Dead letters: what each carries besides the original bytes, counted and logged once.

Reasons: ``decode`` (not UTF-8 JSON), ``schema`` (JSON that fails the model), ``bug``
(our handler raised on a valid message), or a handler's own (``delivery`` on pages.dlq.v1);
see ``faults.classify``. A failed dependency is never a reason: it is retried.
"""

from __future__ import annotations

import time

import structlog

from .metrics import ServiceMetrics

log = structlog.get_logger(__name__)


def dead_letter_headers(
    metrics: ServiceMetrics,
    original: dict[str, bytes],
    topic: str,
    partition: int,
    offset: int,
    reason: str,
    error: BaseException | str,
) -> list[tuple[str, bytes]]:
    """The original headers plus why and where from; counts and logs the dead letter."""
    text = str(error)
    headers = dict(original)
    headers.update(
        {
            "error": text[:4000].encode(),
            "error-type": reason.encode(),
            "source-topic": topic.encode(),
            "source-partition": str(partition).encode(),
            "source-offset": str(offset).encode(),
            "dead-lettered-at": str(int(time.time() * 1000)).encode(),
        }
    )
    metrics.dead_lettered.labels(topic, reason).inc()
    log.warning(
        "message.dead_lettered",
        topic=topic,
        partition=partition,
        offset=offset,
        reason=reason,
        error=text[:500],
    )
    return list(headers.items())


FAILED_TARGET = "failed-target"
"""On ``pages.dlq.v1``: the target that could not take the page (reason ``delivery``)."""
DEAD_LETTER_HEADERS = frozenset(
    {
        "error",
        "error-type",
        "source-topic",
        "source-partition",
        "source-offset",
        "dead-lettered-at",
        FAILED_TARGET,
    }
)
"""What a dead letter carries besides the original headers: removed when it is replayed."""
