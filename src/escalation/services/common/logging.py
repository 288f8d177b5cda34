"""structlog configured once per process: JSON off a TTY, readable on one.

Every line carries the context bound for its unit of work (``bound``: event id,
escalation id, the issue's digest, route, owner), and passes the redactor before it is
rendered, so a contact's summary and any field named in ``ESCALATION_LOG_REDACT`` never
reach the output (``redact.py``).

A line below its logger's level is dropped before any processor runs
(``LevelFilteredLogger``): stdlib's ``BoundLogger`` would merge the context, stamp the
time and redact it first, only for ``logging`` to drop it at the end, about 15 us per
line the escalator writes at debug for each input it decides.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from contextlib import AbstractContextManager
from typing import Any

import orjson
import structlog
from structlog._log_levels import NAME_TO_LEVEL

from .redact import Redactor


class LevelFilteredLogger(structlog.stdlib.BoundLogger):
    """stdlib's bound logger, which asks its logger's level before the processors run."""

    def _proxy_to_logger(
        self, method_name: str, event: str | None = None, *event_args: str, **event_kw: Any
    ) -> Any:
        if not self._logger.isEnabledFor(NAME_TO_LEVEL[method_name]):
            return None
        return super()._proxy_to_logger(method_name, event, *event_args, **event_kw)


def configure_logging(
    level: str = "INFO",
    fmt: str = "auto",
    service: str | None = None,
    redact: Iterable[str] = (),
) -> None:
    """Route structlog and stdlib logging (faust, aiokafka) through one set of processors."""
    as_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        Redactor(redact),
    ]
    renderer: structlog.types.Processor
    if as_json:
        renderer = structlog.processors.JSONRenderer(
            serializer=lambda v, **_: orjson.dumps(v).decode()
        )
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=LevelFilteredLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.processors.format_exc_info,
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiokafka and faust are chatty at INFO about every rebalance step.
    for noisy in ("aiokafka", "faust", "mode"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    if service:
        structlog.contextvars.bind_contextvars(service=service)


def bound(**context: object) -> AbstractContextManager[None]:
    """Bind a unit of work's context (``with bound(event_id=...):``), None values left out.

    Every line logged inside, by this code or a library, carries it; it is unbound when
    the block ends, so the next unit of work starts clean.
    """
    return structlog.contextvars.bound_contextvars(
        **{key: value for key, value in context.items() if value is not None}
    )
