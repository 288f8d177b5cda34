"""The pager alone: pages delivered per second and its CPU per page, on pre-filled requests.

``python -m bench.pager [--pages N]`` (or ``python -m bench --only pager``)

A fresh embedded broker with the project's topics, ``pages.v1`` pre-filled with N
trigger page requests (each its own escalation and customer, one webhook target), the
bench's receiver (``bench/receiver.py``, which verifies every signature) and then
``escalation pager`` as a process with the example policy's webhook pointed at the
receiver. The clock runs from the first poll of the receiver that sees a delivery to
the poll that sees all N delivered and the pager's books done (N outcomes booked: each
``page.delivered`` and ``paged`` record written, then the table), and the pager's CPU
(``/proc``) is read at the same two polls, so its start-up (group join, recovery) is
left out. Every page is one delivery, one
``page.delivered`` and one ``paged`` record, and the pager's books (a changelog record
per state change): the pager's whole work for a page that pages someone.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from escalation.schemas import PageRequest, codec
from escalation.services.common.broker import EmbeddedBroker, ensure_topics, free_port
from escalation.services.common.settings import Settings
from escalation.services.common.topics import PAGES, catalogue
from escalation.services.pager.signing import new_secret
from escalation.testing.stack import ROOT, eventually, scrape

from .baseline import producer, write_all
from .cpu import cpu_seconds, stop
from .load import aio_run
from .pages import bench_policy
from .table import Table

PARTITIONS = 2
PAGER_PAGES = 3000


class PagerFailed(RuntimeError):
    pass


def page_records(n: int, run: str) -> list[tuple[bytes, bytes, list[tuple[str, bytes]]]]:
    """N trigger pages as the escalator writes them: keyed by customer, event-id header."""
    now = datetime.now(UTC)
    records = []
    for i in range(n):
        escalation = f"e1.{run}.{i:06d}.1"
        page = PageRequest(
            page_id=f"msg_{run}{i:020d}",
            escalation_id=escalation,
            dedup_key=escalation,
            level=1,
            reason="critical contact",
            customer_id=f"C-{run}-{i}",
            customer_tier="standard",
            issue_key=f"ticket-{i}",
            category="hvac.repair",
            product="AC-3000",
            owner="chen",
            team="service-engineers",
            summary="The unit stopped cooling again after last week's visit",
            contacts=[f"crm-{run}-{i}"],
            targets=["ops-webhook"],
            created_at=now,
            route="equipment-repair",
            routing_reasons=["route equipment-repair: matched", "chen: least loaded"],
            notified=["chen"],
        )
        key = page.customer_id.encode()
        records.append((key, codec.encode(page), [("event-id", page.page_id.encode())]))
    return records


def pager_rate(n: int, limit: float = 180.0) -> tuple[float, float]:
    """(pages/s, microseconds of the pager's CPU per page) over N pre-filled pages."""
    broker = EmbeddedBroker()
    broker.start()
    secret, receiver_port, pager_port = new_secret(), free_port(), free_port()
    url = f"http://127.0.0.1:{receiver_port}"
    processes: list[subprocess.Popen[bytes]] = []
    try:
        settings = Settings(kafka_bootstrap=broker.bootstrap)
        aio_run(ensure_topics(settings.kafka_common(), catalogue(PARTITIONS)))
        aio_run(_fill(broker.bootstrap, page_records(n, f"{time.time_ns() % 10**8:08d}")))
        with tempfile.TemporaryDirectory(prefix="bench-pager-") as tmp:
            env = {
                **os.environ,
                "BENCH_PAGE_SECRET": secret,
                "ESCALATION_KAFKA_BOOTSTRAP": broker.bootstrap,
                "ESCALATION_KAFKA_PARTITIONS": str(PARTITIONS),
                "ESCALATION_PAGER_PORT": str(pager_port),
                "ESCALATION_POLICY": str(bench_policy(Path(tmp), f"{url}/pages")),
                "ESCALATION_DATA_DIR": str(Path(tmp) / "data"),
                "ESCALATION_LOG_FORMAT": "json",
                "ESCALATION_LOG_LEVEL": "WARNING",
                # Every page waits in its lane at once: more than the default 1,000
                # would fall back (the bench measures capacity, not shedding).
                "ESCALATION_PAGER_LANE_CAPACITY": str(n + 1),
            }
            log = Path(tmp) / "pager.log"
            with open(log, "ab") as out:
                for argv in (["bench.receiver", str(receiver_port)], ["escalation", "pager"]):
                    processes.append(
                        subprocess.Popen(
                            [sys.executable, "-m", *argv],
                            cwd=ROOT,
                            env=env,
                            stdout=out,
                            stderr=out,
                            start_new_session=True,
                        )
                    )
            return _watch(url, f"http://127.0.0.1:{pager_port}", n, limit, processes[1], log)
    finally:
        for process in reversed(processes):
            stop(process)
        broker.stop()


async def _fill(
    bootstrap: str, records: list[tuple[bytes, bytes, list[tuple[str, bytes]]]]
) -> None:
    client = producer(bootstrap)
    await client.start()
    try:
        await write_all(client, PAGES, records)
    finally:
        await client.stop()


def _books_done(pager_url: str, n: int) -> bool:
    try:
        booked = scrape(pager_url, "escalation_page_outcomes_booked_total")
    except httpx.HTTPError:
        return False
    return booked >= n


def _watch(
    url: str, pager_url: str, n: int, limit: float, pager: subprocess.Popen[bytes], log: Path
) -> tuple[float, float]:
    seen = 0
    first: tuple[int, float, float] | None = None
    deadline = time.monotonic() + limit

    def up() -> bool:
        try:
            return httpx.get(f"{url}/deliveries/0", timeout=1).is_success
        except httpx.HTTPError:
            return False

    eventually(up, "bench receiver", 30)
    while time.monotonic() < deadline:
        if pager.poll() is not None:
            raise PagerFailed(f"the pager exited: {log.read_text()[-2000:]}")
        answer = httpx.get(f"{url}/deliveries/{seen}", timeout=10).json()
        seen += len(answer["deliveries"])
        now, cpu = time.perf_counter(), cpu_seconds(pager.pid)
        if first is None and seen:
            first = (seen, now, cpu)
        if seen >= n and first is not None and _books_done(pager_url, n):
            if seen == first[0]:
                raise PagerFailed("every page arrived before the first poll")
            done = seen - first[0]
            return done / (now - first[1]), (cpu - first[2]) * 1e6 / done
        time.sleep(0.1)
    raise PagerFailed(f"the receiver got {seen} of {n} pages in {limit:.0f} s (or the books lag)")


def run_pager_rows(table: Table, n: int) -> None:
    label = f"pager process alone, {n:,} pre-filled trigger pages, one webhook target"
    try:
        rate, cpu = pager_rate(n)
    except PagerFailed as failed:
        table.add(label, 0, "pages/s", text="FAILED", note=str(failed)[:300])
        return
    table.add(label, rate, "pages/s", key="pager")
    table.add("  pager CPU per page, microseconds", cpu, "us", text=f"{cpu:,.0f} us")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.pager")
    parser.add_argument("--pages", type=int, default=PAGER_PAGES)
    args = parser.parse_args()
    table = Table()
    run_pager_rows(table, args.pages)
    table.print()


if __name__ == "__main__":
    main()
