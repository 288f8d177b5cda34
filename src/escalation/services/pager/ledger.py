"""The pager's state: per (page, target), pending or delivered; expired after a horizon.

It lives in a faust table (changelog-backed, co-partitioned with ``pages.v1`` and
``escalations.v1``), written in the partition of the input that changed it, through a
batch's staged view (``Ledger.over``, ``staging.py``). It is written in three places:
the agent reading ``pages.v1`` records a delivery as pending, and the books
(``bookkeeping.py``) mark it delivered once its outcome is written, or forget it once it
failed and was dead-lettered. So a page that reaches its one target costs two changelog
records (the ``PAGED`` marker of older versions is still read, no longer written). A
delivered record expires after the horizon: each agent sweeps its message's partition
now and then, so the state stays bounded by the pages of one horizon. Records written
before expiry existed (a bare timestamp) are read as delivered.
"""

from __future__ import annotations

import copy
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import orjson

PAGED = "*paged"
"""Target slot that marked a trigger page as announced before a delivered record said so
itself: read (state written by older versions), never written (a target id cannot start
with *)."""


@dataclass(frozen=True)
class Record:
    state: str
    """pending | delivered"""
    at: float
    partition: int | None
    page: bytes = b""
    headers: dict[str, str] | None = None
    offset: int = -1
    fallback_for: str | None = None


def decode(raw: bytes) -> Record:
    if raw.isdigit():  # before expiry: delivered at this Unix second, partition unknown
        return Record("delivered", float(raw), None)
    data = orjson.loads(raw)
    return Record(
        data["s"],
        data["at"],
        data.get("p"),
        data.get("page", "").encode(),
        data.get("h"),
        data.get("o", -1),
        data.get("fb"),
    )


def encode(record: Record) -> bytes:
    data: dict[str, Any] = {"s": record.state, "at": record.at, "p": record.partition}
    if record.state == "pending":
        data.update(page=record.page.decode(), h=record.headers or {}, o=record.offset)
        if record.fallback_for:
            data["fb"] = record.fallback_for
    return orjson.dumps(data)


def key(page_id: str, target: str) -> bytes:
    return f"{page_id}|{target}".encode()


class Ledger:
    def __init__(self, table: Any, horizon: float, sweep_every: float = 60.0) -> None:
        self.table = table
        self.horizon = horizon
        self.sweep_every = sweep_every
        self.expiring: dict[int, deque[tuple[float, bytes]]] = {}
        self.swept: dict[int, float] = {}

    def over(self, table: Any) -> Ledger:
        """This ledger read and written through ``table`` (a batch's staged view of the
        table); the expiry index stays shared."""
        view = copy.copy(self)
        view.table = table
        return view

    def get(self, ident: bytes) -> Record | None:
        raw = self.table.get(ident)
        return decode(raw) if raw else None

    def pend(self, ident: bytes, record: Record) -> None:
        self.table[ident] = encode(record)

    def deliver(self, ident: bytes, partition: int, now: float | None = None) -> None:
        at = time.time() if now is None else now
        self.table[ident] = encode(Record("delivered", at, partition))
        self.expiring.setdefault(partition, deque()).append((at, ident))

    def forget(self, ident: bytes) -> None:
        if self.table.get(ident) is not None:
            del self.table[ident]

    def sweep(self, partition: int, now: float | None = None) -> int:
        """Drop this partition's delivered records older than the horizon (in-stream only)."""
        now = time.time() if now is None else now
        if now - self.swept.get(partition, 0.0) < self.sweep_every:
            return 0
        self.swept[partition] = now
        queue = self.expiring.get(partition)
        dropped = 0
        while queue and queue[0][0] < now - self.horizon:
            at, ident = queue.popleft()
            record = self.get(ident)
            if record is not None and record.state == "delivered" and record.at == at:
                del self.table[ident]
                dropped += 1
        return dropped

    def recovered(self, partitions: set[int]) -> list[tuple[bytes, Record]]:
        """After recovery: index what expires, and return the pending records to resume."""
        self.expiring = {}
        self.swept = {}
        pending = []
        delivered = []
        for ident, raw in list(self.table.items()):
            record = decode(raw)
            if record.partition not in partitions:
                continue  # a standby copy, or from before expiry: not ours to act on
            if record.state == "pending":
                pending.append((ident, record))
            else:
                delivered.append((record.at, ident, record.partition))
        for at, ident, partition in sorted(delivered):
            self.expiring.setdefault(partition, deque()).append((at, ident))
        return pending
