"""A small keep-alive HTTP/1.1 load generator (no dependency, one event loop).

Two shapes: ``post_all`` posts as fast as ``connections`` allow (closed loop), and
``post_paced`` sends request i at ``start + i / rate`` whatever the answers do (open
loop), so a slow system shows up as latency rather than as a lower offered rate. Send
times are on ``time.monotonic`` (system-wide), comparable with the page receiver's.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")


def aio_run(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` on uvloop, as the services run (asyncio where uvloop is missing)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


@dataclass
class LoadResult:
    requests: int
    seconds: float = 0.0
    statuses: dict[int, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    sent_at: list[float] = field(default_factory=list)
    """Per request: when it was due (paced) or written (closed loop), monotonic seconds."""
    behind: float = 0.0
    """Paced only: the most a request was written after it was due."""

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        return percentile(self.latencies, q)

    @property
    def p99_ms(self) -> float:
        return percentile(self.latencies, 0.99) * 1000


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _request(path: str, body: bytes, token: str | None) -> bytes:
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"{auth}Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> int:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    if length:
        await reader.readexactly(length)
    return int(head[9:12])


async def _connection(
    host: str, port: int, work: asyncio.Queue[int | None], requests: list[bytes], result: LoadResult
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while (index := await work.get()) is not None:
            if not result.sent_at[index]:  # closed loop: sent now
                result.sent_at[index] = time.monotonic()
            else:  # paced: due then
                result.behind = max(result.behind, time.monotonic() - result.sent_at[index])
            status = await _exchange(reader, writer, requests[index])
            result.latencies.append(time.monotonic() - result.sent_at[index])
            result.statuses[status] = result.statuses.get(status, 0) + 1
    finally:
        writer.close()


async def _run(
    host: str, port: int, requests: list[bytes], connections: int, rate: float | None
) -> LoadResult:
    result = LoadResult(len(requests), sent_at=[0.0] * len(requests))
    work: asyncio.Queue[int | None] = asyncio.Queue()
    workers = [
        asyncio.create_task(_connection(host, port, work, requests, result))
        for _ in range(min(connections, len(requests)))
    ]
    started = time.monotonic()
    if rate is None:
        for index in range(len(requests)):
            work.put_nowait(index)
    else:
        for index in range(len(requests)):
            due = started + index / rate
            if (wait := due - time.monotonic()) > 0:
                await asyncio.sleep(wait)
            result.sent_at[index] = due
            work.put_nowait(index)
    for _ in workers:
        work.put_nowait(None)
    await asyncio.gather(*workers)
    result.seconds = time.monotonic() - started
    return result


async def post_all(
    host: str,
    port: int,
    path: str,
    bodies: Sequence[bytes],
    connections: int = 64,
    token: str | None = None,
) -> LoadResult:
    """POST every body once, as fast as ``connections`` keep-alive connections allow."""
    requests = [_request(path, body, token) for body in bodies]
    return await _run(host, port, requests, connections, None)


async def post_paced(
    host: str,
    port: int,
    path: str,
    bodies: Sequence[bytes],
    rate: float,
    connections: int = 64,
    token: str | None = None,
) -> LoadResult:
    """POST body i when it is due (``i / rate`` seconds in), on the first free connection.

    Each latency runs from when its request was due, not from when a connection was free.
    """
    requests = [_request(path, body, token) for body in bodies]
    return await _run(host, port, requests, connections, rate)
