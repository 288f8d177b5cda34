"""Router events/s (sticky state included) beside the raw aiokafka loop, same run.

``python -m bench.router [--events N] [--runs R]``

Each measurement gets a fresh embedded broker with the project's topics and N contact
events in ``contacts.v1`` (keys = customer id, header ``event-id``):

- raw: one aiokafka consumer/producer loop, contacts.v1 -> decode_contact -> encode ->
  another topic, commit per batch; timed from its first read to its last write;
- router: ``escalation router`` as a real process; timed from the first
  poll of its ``escalation_routed_total`` metric that is above zero until it reaches
  N, so its startup (group join, state recovery) is excluded.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from aiokafka import AIOKafkaProducer

from escalation.schemas import codec
from escalation.services.common.broker import EmbeddedBroker, ensure_topics, free_port
from escalation.services.common.settings import Settings
from escalation.services.common.topics import CONTACTS, TopicSpec, catalogue
from escalation.testing.stack import EXAMPLE_POLICY, ROOT, eventually, scrape

from .__main__ import PARTITIONS, raw_pipeline, values

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
    asyncio.run(ensure_topics(Settings(kafka_bootstrap=broker.bootstrap).kafka_common(), specs))
    return broker


async def preload(bootstrap: str, n: int, run: str) -> None:
    """N contact events into contacts.v1, keyed by customer id, with an event-id header."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False, acks="all")
    await producer.start()
    try:
        payloads = values(n, run)
        for offset in range(0, n, 1000):
            futures = []
            for value in payloads[offset : offset + 1000]:
                data = codec.loads_plain(value)
                futures.append(
                    await producer.send(
                        CONTACTS,
                        value,
                        key=data["customer"]["id"].encode(),
                        headers=[("event-id", data["event_id"].encode())],
                    )
                )
            await asyncio.gather(*futures)
    finally:
        await producer.stop()


def raw_rate(n: int) -> float:
    broker = fresh_broker()
    try:
        asyncio.run(preload(broker.bootstrap, n, "raw"))
        start, end = asyncio.run(
            raw_pipeline(broker.bootstrap, CONTACTS, RAW_OUT, n, asyncio.Event())
        )
        return n / (end - start)
    finally:
        broker.stop()


def _routed(port: int) -> float | None:
    try:
        return scrape(f"http://127.0.0.1:{port}", "escalation_routed_total")
    except httpx.HTTPError:
        return None


def _ready(port: int, process: subprocess.Popen[bytes], log: Path) -> bool:
    if process.poll() is not None:
        raise RuntimeError(f"router exited: {log.read_text()[-3000:]}")
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).is_success
    except httpx.HTTPError:
        return False


def router_rate(n: int, limit: float = 900.0) -> float:
    """Start the router, wait until ready, load N contacts, time until it routed them all."""
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
            asyncio.run(preload(broker.bootstrap, n, "router"))
            first = started = None
            count, now = 0.0, time.perf_counter()
            deadline = time.monotonic() + limit
            while time.monotonic() < deadline and process.poll() is None:
                count = _routed(port) or count
                now = time.perf_counter()
                if first is None and count > 0:
                    first, started = count, now
                if count >= n:
                    assert first is not None and started is not None
                    if now == started:
                        raise RuntimeError("routed everything before the first poll")
                    return (n - first) / (now - started)
                time.sleep(0.05)
            kept = Path(tempfile.gettempdir()) / f"bench-router-{process.pid}.log"
            kept.write_bytes(log.read_bytes())
            rate = (count - first) / (now - started) if first is not None and started else 0.0
            raise RouterFailed(
                f"router {'exited' if process.poll() is not None else 'timed out'} "
                f"after routing {count:.0f} of {n} (log: {kept})",
                rate,
            )
        finally:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
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
