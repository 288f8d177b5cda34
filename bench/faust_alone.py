"""faust consuming alone: one agent over a pre-filled topic, no sends, no table.

``python -m bench.faust_alone BOOTSTRAP TOPIC N`` runs a faust worker configured as the
services are (``Settings.faust_options``: the project's transport and fetch wait, uvloop,
the garbage-collector setting), whose one agent iterates ``stream.events()`` over raw
bytes and counts. When it has seen N events it prints one JSON line, the seconds from
its first event to its N-th (and the CPU seconds it spent meanwhile), and leaves. It is
the ceiling the escalator's rate is compared with: faust's own per-event machinery
(event, ack, commit), nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from typing import Any

import faust
import orjson

from escalation.services.common.runner import tune_gc
from escalation.services.common.settings import Settings

from .baseline import PARTITIONS


def build(bootstrap: str, topic: str, n: int, partitions: int) -> faust.App:
    settings = Settings(kafka_bootstrap=bootstrap, kafka_partitions=partitions)
    app = faust.App(f"bench-faust-alone-{os.getpid()}", **settings.faust_options())
    source = app.topic(
        topic,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        allow_empty=True,
    )
    seen = {"count": 0, "first": 0.0, "cpu": 0.0}

    async def count(stream: Any) -> None:
        async for _event in stream.events():
            seen["count"] += 1
            if seen["count"] == 1:
                seen["first"] = time.perf_counter()
                seen["cpu"] = time.process_time()
            if seen["count"] >= n:
                seconds = time.perf_counter() - seen["first"]
                cpu = time.process_time() - seen["cpu"]
                line = orjson.dumps({"events": n, "seconds": seconds, "cpu": cpu}) + b"\n"
                os.write(1, line)
                os._exit(0)  # a bench process: nothing to commit or clean up

    app.agent(source, name="count")(count)
    return app


def main() -> None:
    bootstrap, topic, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    partitions = int(sys.argv[4]) if len(sys.argv) > 4 else PARTITIONS
    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    app = build(bootstrap, topic, n, partitions)
    tune_gc()
    worker = faust.Worker(
        app, loglevel="WARNING", quiet=True, redirect_stdouts=False, override_logging=False
    )
    worker.execute_from_commandline()


if __name__ == "__main__":
    main()
