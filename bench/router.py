"""Router events/s (sticky state included) beside the raw aiokafka loop, same run.

``python -m bench.router [--events N] [--runs R]``

Each measurement gets a fresh embedded broker with the project's topics and N contact
events in ``contacts.v1`` (keys = customer id, header ``event-id``):

- raw: the tuned aiokafka loop of ``bench/baseline.py``, contacts.v1 -> decode_contact
  -> encode -> another topic, commit per batch; timed from its first read to its last
  commit;
- router: ``escalation router`` as a real process; the bench polls the group's committed
  offsets, and the clock runs from the first poll that sees a commit to the one that sees
  all N committed, so its startup (group join, state recovery) is excluded.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.structs import TopicPartition

from escalation.schemas import codec
from escalation.services.common.broker import EmbeddedBroker, ensure_topics, free_port
from escalation.services.common.settings import Settings
from escalation.services.common.topics import CONTACTS, ROUTER_APP, TopicSpec, catalogue
from escalation.testing.stack import EXAMPLE_POLICY, ROOT, eventually

from .baseline import PARTITIONS, producer, raw_pipeline, write_all
from .cpu import cpu_seconds, stop
from .load import aio_run
from .mix import routine

RAW_OUT = "bench.raw.routed"


class RouterFailed(RuntimeError):
    """The router crashed or stalled; ``rate`` is what it sustained until then."""

    def __init__(self, message: str, rate: float) -> None:
        super().__init__(message)
        self.rate = rate


def fresh_broker() -> EmbeddedBroker:
    broker = EmbeddedBroker()
    broker.start()
    specs = [*catalogue(PARTITIONS), TopicSpec(RAW_OUT, PARTITIONS)]
    aio_run(ensure_topics(Settings(kafka_bootstrap=broker.bootstrap).kafka_common(), specs))
    return broker


async def preload(bootstrap: str, n: int, run: str, rate: float | None = None) -> None:
    """N contact events into contacts.v1, keyed by customer id, with an event-id header;
    all at once, or record i at ``i / rate`` seconds in."""
    records = []
    for value in routine(n, run):
        data = codec.loads_plain(value)
        records.append(
            (data["customer"]["id"].encode(), value, [("event-id", data["event_id"].encode())])
        )
    client = producer(bootstrap)
    await client.start()
    try:
        if rate is None:
            await write_all(client, CONTACTS, records)
            return
        partitions = sorted(await client.partitions_for(CONTACTS))
        partitioner = DefaultPartitioner()
        started, sent = time.monotonic(), []
        for i, (key, value, headers) in enumerate(records):
            if (wait := started + i / rate - time.monotonic()) > 0:
                await asyncio.sleep(wait)
            partition = partitioner(key, partitions, partitions)
            sent.append(
                await client.send(CONTACTS, value, key=key, partition=partition, headers=headers)
            )
        await asyncio.gather(*sent)
    finally:
        await client.stop()


def raw_rate(n: int) -> float:
    broker = fresh_broker()
    try:
        aio_run(preload(broker.bootstrap, n, "raw"))
        start, end = aio_run(raw_pipeline(broker.bootstrap, CONTACTS, RAW_OUT, n, asyncio.Event()))
        return n / (end - start)
    finally:
        broker.stop()


async def _watch_commits(
    bootstrap: str,
    n: int,
    limit: float,
    alive: Callable[[], bool],
    cpu: Callable[[], float] = lambda: 0.0,
    spent: list[float] | None = None,
) -> tuple[float, float, float]:
    """(first committed count seen, when, when all N were committed) by polling the group.

    ``spent`` gets the process's CPU seconds (``cpu()``) at the first poll that sees a
    commit and at the one that sees all N.
    """
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=ROUTER_APP)
    await consumer.start()
    tps = [TopicPartition(CONTACTS, p) for p in range(PARTITIONS)]
    first = started = None
    count = 0.0
    try:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline and alive():
            count = sum([(await consumer.committed(tp)) or 0 for tp in tps])
            now = time.perf_counter()
            if first is None and count > 0:
                first, started = count, now
                if spent is not None:
                    spent.append(cpu())
            if count >= n:
                if spent is not None:
                    spent.append(cpu())
                assert first is not None and started is not None
                if now == started:
                    raise RouterFailed("committed everything before the first poll", 0.0)
                return first, started, now
            await asyncio.sleep(0.02)
        rate = (count - first) / (time.perf_counter() - started) if first and started else 0.0
        raise RouterFailed(f"the router committed {count:.0f} of {n} in {limit:.0f} s", rate)
    finally:
        await consumer.stop()


async def _load_and_watch(
    bootstrap: str,
    n: int,
    limit: float,
    alive: Callable[[], bool],
    cpu: Callable[[], float],
    spent: list[float],
    rate: float | None = None,
) -> tuple[float, float, float]:
    """Watch the commits from before the first contact is written."""
    watch = asyncio.create_task(_watch_commits(bootstrap, n, limit, alive, cpu, spent))
    await preload(bootstrap, n, "router", rate)
    return await watch


def _ready(port: int, process: subprocess.Popen[bytes], log: Path) -> bool:
    if process.poll() is not None:
        raise RuntimeError(f"router exited: {log.read_text()[-3000:]}")
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).is_success
    except httpx.HTTPError:
        return False


def router_rate(
    n: int,
    limit: float = 120.0,
    cpu: dict[str, float] | None = None,
    rate: float | None = None,
) -> float:
    """Start the router, wait until ready, load N contacts, time until it routed them all.

    ``cpu`` gets ``us_per_event``: the router's CPU over the timed span, per event routed.
    With ``rate``, the contacts are written at that rate instead of all before (the
    router then decides small batches, as it does under live traffic).
    """
    broker = fresh_broker()
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bench-router-") as tmp:
        log = Path(tmp) / "router.log"
        env = {
            **os.environ,
            "ESCALATION_KAFKA_BOOTSTRAP": broker.bootstrap,
            "ESCALATION_KAFKA_PARTITIONS": str(PARTITIONS),
            "ESCALATION_ROUTER_PORT": str(port),
            "ESCALATION_POLICY": str(EXAMPLE_POLICY),
            "ESCALATION_DATA_DIR": str(Path(tmp) / "data"),
            "ESCALATION_LOG_FORMAT": "json",
            "ESCALATION_LOG_LEVEL": "WARNING",
        }
        argv = [sys.executable, "-m", "escalation", "router"]
        with open(log, "ab") as out:
            process = subprocess.Popen(
                argv, cwd=ROOT, env=env, stdout=out, stderr=out, start_new_session=True
            )
        try:
            eventually(lambda: _ready(port, process, log), "router ready", 120)
            spent: list[float] = []
            try:
                first, started, ended = aio_run(
                    _load_and_watch(
                        broker.bootstrap,
                        n,
                        limit,
                        lambda: process.poll() is None,
                        lambda: cpu_seconds(process.pid),
                        spent,
                        rate,
                    )
                )
            except RouterFailed as failed:
                kept = Path(tempfile.gettempdir()) / f"bench-router-{process.pid}.log"
                kept.write_bytes(log.read_bytes())
                state = " (the router exited)" if process.poll() is not None else ""
                raise RouterFailed(f"{failed}{state}; log: {kept}", failed.rate) from None
            if cpu is not None and len(spent) == 2:
                cpu["us_per_event"] = (spent[1] - spent[0]) * 1e6 / (n - first)
            return (n - first) / (ended - started)
        finally:
            stop(process)
            broker.stop()


def run_router_bench(
    n: int = 20_000,
    runs: int = 2,
    verbose: bool = False,
) -> list[dict[str, float | str]]:
    """Rows of {measure, run, rate, ratio}: raw then the router, ``runs`` times."""
    rows: list[dict[str, float | str]] = []
    for run in range(1, runs + 1):
        raw = raw_rate(n)
        rows.append({"measure": "raw consume->decode->produce", "run": run, "rate": raw})
        if verbose:
            print_rows(rows[-1:], header=run == 1)
        row: dict[str, float | str] = {"measure": "router (sticky state)", "run": run}
        try:
            row["rate"] = router_rate(n)
        except RouterFailed as failed:
            row.update(rate=failed.rate, note=str(failed))
        row["ratio"] = float(row["rate"]) / raw
        rows.append(row)
        if verbose:
            print_rows([row], header=False)
    return rows


def print_rows(rows: list[dict[str, float | str]], header: bool = True) -> None:
    if header:
        print(f"\n{'measure':<40}{'run':>4}{'ev/s':>12}{'ratio to raw':>14}")
    for row in rows:
        ratio = f"{row['ratio']:14.2f}" if "ratio" in row else f"{'1.00':>14}"
        print(f"{row['measure']:<40}{row['run']:>4}{row['rate']:>12,.0f}{ratio}", flush=True)
        if "note" in row:
            print(f"    {row['note']}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.router")
    parser.add_argument("--events", type=int, default=int(os.environ.get("BENCH_EVENTS", 20000)))
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    print(
        f"router bench: {args.events} events, {PARTITIONS} partitions, {os.cpu_count()} cores, "
        "embedded Tansu, config/policy.example.yaml"
    )
    run_router_bench(args.events, args.runs, verbose=True)


if __name__ == "__main__":
    main()
