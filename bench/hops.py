"""Where a page's latency goes: each hop's share, read from the records' timestamps.

Every record carries its producer's create time (wall clock, ms). For each page the
bench matched, the triggering contact's record in ``contacts.v1`` (written by intake),
its routed record (router) and the page request in ``pages.v1`` (escalator) split the
contact -> page latency into intake, router, escalator and pager (delivery included).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition

from escalation.schemas import codec
from escalation.services.common.topics import CONTACTS, PAGES, ROUTED

from .load import percentile

HOPS = ("intake", "router", "escalator", "pager")


async def _read_all(bootstrap: str, topic: str, partitions: int) -> list:
    """Every record of ``topic``: read until two polls in a row bring nothing."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False, fetch_max_wait_ms=20
    )
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, p) for p in range(partitions)])
        await consumer.seek_to_beginning()
        records, empty = [], 0
        while empty < 2:
            batch = await consumer.getmany(timeout_ms=300, max_records=10_000)
            empty = 0 if batch else empty + 1
            for messages in batch.values():
                records += messages
        return records
    finally:
        await consumer.stop()


def _event_id(record) -> str | None:
    for key, value in record.headers or ():
        if key == "event-id":
            return bytes(value).decode()
    return None


async def _stamps(bootstrap: str, partitions: int) -> tuple[dict, dict, dict]:
    contacts, routed, pages = await asyncio.gather(
        *(_read_all(bootstrap, t, partitions) for t in (CONTACTS, ROUTED, PAGES))
    )
    written = {_event_id(r): r.timestamp / 1000 for r in contacts}
    decided = {_event_id(r): r.timestamp / 1000 for r in routed}
    requested = {}
    for record in pages:
        page = codec.decode_page(record.value)
        if page.action == "trigger":
            requested[page.page_id] = record.timestamp / 1000
    return written, decided, requested


def hop_split(
    bootstrap: str, partitions: int, pages: Iterable[tuple[str, str, float, float]]
) -> dict[str, tuple[float, float]]:
    """p50 and p99 (ms) of each hop over ``pages``: (page id, trigger contact id, sent, arrived),
    times on ``time.monotonic``."""
    to_wall = time.time() - time.monotonic()
    written, decided, requested = asyncio.run(_stamps(bootstrap, partitions))
    spans: dict[str, list[float]] = {hop: [] for hop in HOPS}
    for page_id, contact_id, sent, arrived in pages:
        if contact_id not in written or contact_id not in decided or page_id not in requested:
            continue
        marks = [sent + to_wall, written[contact_id], decided[contact_id], requested[page_id]]
        marks.append(arrived + to_wall)
        for hop, start, end in zip(HOPS, marks, marks[1:], strict=False):
            spans[hop].append(end - start)
    return {
        hop: (percentile(values, 0.5) * 1000, percentile(values, 0.99) * 1000)
        for hop, values in spans.items()
    }
