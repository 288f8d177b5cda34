"""Run one service in the foreground, as a container or the supervisor does."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any

from .settings import Settings


def run_async(main: Coroutine[Any, Any, None]) -> None:
    try:
        import uvloop

        uvloop.run(main)
    except ImportError:
        asyncio.run(main)


def run_stream_service(build: Callable[[Settings], Any], settings: Settings) -> None:
    """Start a faust worker for the service ``build`` returns, until SIGINT/SIGTERM."""
    import faust

    with contextlib.suppress(ImportError):
        import uvloop

        # faust (mode) creates its loop from the policy; uvloop roughly halves loop overhead.
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    service = build(settings)
    worker = faust.Worker(
        service.app,
        loglevel=settings.log_level,
        quiet=True,
        redirect_stdouts=False,
        override_logging=False,
        loop=None,
    )
    worker.execute_from_commandline()
