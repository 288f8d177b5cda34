"""The escalator's own rate beside faust consuming alone, in the same run, on the same input.

``python -m bench.escalator [--events N]`` (or ``python -m bench --only escalator``)

Each measurement gets a fresh embedded broker with the project's topics at 4 partitions,
pre-filled before the process under test starts, with N contacts routed offline by the
example policy (``replay.Simulation``: the router's own decisions), keyed by customer id:

- faust alone (``bench/faust_alone.py``): one agent counting the same records, no sends,
  no table; timed inside the process, first event to N-th;
- the escalator as a process (``escalation escalator``) over the realistic mix (about 2 %
  of contacts page; every contact writes its issue's state), and over N critical
  contacts, each its own issue (every contact opens an escalation with its ladder
  snapshot, writes a timeline, sends an ``opened`` record and a page). The clock runs
  from the first poll of its ``escalation_processing_seconds_count`` that sees progress
  to the one that sees all N done, so its start-up (group join, recovery) is left out,
  as faust's is. It is polled every 250 ms: each poll costs the process about 3 ms.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import httpx
import orjson

from escalation.policy import load_policy
from escalation.replay import Simulation
from escalation.schemas import codec
from escalation.services.common.broker import EmbeddedBroker, ensure_topics, free_port
from escalation.services.common.settings import Settings
from escalation.services.common.topics import ROUTED, TopicSpec, catalogue
from escalation.services.router.app import routed_bytes
from escalation.testing.stack import EXAMPLE_POLICY, ROOT, scrape

from .baseline import producer, write_all
from .cpu import cpu_seconds, stop
from .load import aio_run
from .mix import critical_burst, realistic
from .table import Table

PARTITIONS = 4
ESCALATOR_BURST = 5000
"""Critical contacts in the escalator's every-contact-pages row."""
FAUST_TOPIC = "bench.faust.alone"
POLL_SECONDS = 0.25

Record = tuple[bytes, bytes, list[tuple[str, bytes]]]


class Measured(NamedTuple):
    rate: float
    """Inputs per second of wall clock."""
    cpu: float
    """CPU seconds the process spent per input meanwhile: steadier than the rate on a
    shared machine, where the rate also says how often the process got a core."""


class StepFailed(RuntimeError):
    """A process under test crashed or stalled; ``rate`` is what it did until then."""

    def __init__(self, message: str, rate: float = 0.0) -> None:
        super().__init__(message)
        self.rate = rate


def routed_records(bodies: list[bytes]) -> list[Record]:
    """Each contact routed by the example policy, as the router writes it."""
    simulation = Simulation(load_policy(EXAMPLE_POLICY))
    records = []
    for body in bodies:
        contact = codec.decode_contact(body)
        routing = simulation.feed(contact).routing
        headers = [("event-id", contact.event_id.encode())]
        records.append((contact.customer.id.encode(), routed_bytes(contact, routing), headers))
    return records


def fresh_broker(records: list[Record], topic: str) -> EmbeddedBroker:
    broker = EmbeddedBroker()
    broker.start()
    specs = [*catalogue(PARTITIONS), TopicSpec(FAUST_TOPIC, PARTITIONS)]
    aio_run(ensure_topics(Settings(kafka_bootstrap=broker.bootstrap).kafka_common(), specs))

    async def fill() -> None:
        client = producer(broker.bootstrap)
        await client.start()
        try:
            await write_all(client, topic, records)
        finally:
            await client.stop()

    aio_run(fill())
    return broker


def faust_alone_rate(records: list[Record], limit: float = 180.0) -> Measured:
    broker = fresh_broker(records, FAUST_TOPIC)
    argv = [sys.executable, "-m", "bench.faust_alone", broker.bootstrap, FAUST_TOPIC]
    argv += [str(len(records)), str(PARTITIONS)]
    try:
        with tempfile.TemporaryDirectory(prefix="bench-faust-") as tmp:
            done = subprocess.run(
                argv, cwd=ROOT, capture_output=True, timeout=limit, check=False, env=_env(tmp)
            )
        # faust's worker writes terminal escapes to stdout too: the result is the JSON.
        lines = [line[line.find(b"{") :] for line in done.stdout.splitlines() if b"{" in line]
        if not lines:
            raise StepFailed(f"faust alone printed no result: {done.stderr[-2000:]!r}")
        result = orjson.loads(lines[-1])
        return Measured(result["events"] / result["seconds"], result["cpu"] / result["events"])
    except subprocess.TimeoutExpired:
        raise StepFailed(f"faust alone did not count {len(records)} in {limit:.0f} s") from None
    finally:
        broker.stop()


def _env(tmp: str, **extra: str) -> dict[str, str]:
    return {**os.environ, "ESCALATION_DATA_DIR": str(Path(tmp) / "data"), **extra}


def escalator_rate(records: list[Record], limit: float = 180.0) -> Measured:
    """Start the escalator over the pre-filled input; time it from first progress to all."""
    broker = fresh_broker(records, ROUTED)
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bench-escalator-") as tmp:
        log = Path(tmp) / "escalator.log"
        env = _env(
            tmp,
            ESCALATION_KAFKA_BOOTSTRAP=broker.bootstrap,
            ESCALATION_KAFKA_PARTITIONS=str(PARTITIONS),
            ESCALATION_ESCALATOR_PORT=str(port),
            ESCALATION_POLICY=str(EXAMPLE_POLICY),
            ESCALATION_LOG_FORMAT="json",
            ESCALATION_LOG_LEVEL="WARNING",
        )
        argv = [sys.executable, "-m", "escalation", "escalator"]
        with open(log, "ab") as out:
            process = subprocess.Popen(
                argv, cwd=ROOT, env=env, stdout=out, stderr=out, start_new_session=True
            )
        try:
            return _watch(f"http://127.0.0.1:{port}", len(records), limit, process, log)
        finally:
            stop(process)
            broker.stop()


def _watch(url: str, n: int, limit: float, process: subprocess.Popen[bytes], log: Path) -> Measured:
    first = started = None
    done = cpu = 0.0
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise StepFailed(f"the escalator exited: {log.read_text()[-2000:]}")
        try:
            done = scrape(url, "escalation_processing_seconds_count", topic=ROUTED)
        except httpx.HTTPError:
            done = 0.0
        now = time.perf_counter()
        if first is None and done > 0:
            first, started, cpu = done, now, cpu_seconds(process.pid)
        if done >= n and started is not None:
            if now == started:
                raise StepFailed("every input was done before the first poll")
            spent = cpu_seconds(process.pid) - cpu
            return Measured((n - first) / (now - started), spent / (n - first))
        time.sleep(POLL_SECONDS)
    rate = (done - first) / (time.perf_counter() - started) if first and started else 0.0
    raise StepFailed(f"the escalator did {done:.0f} of {n} in {limit:.0f} s", rate)


def run_escalator_rows(table: Table, n: int, burst: int) -> None:
    """faust alone, the escalator on the realistic mix and on a critical burst: 3 rows."""
    mix = routed_records(realistic(n, "esc").bodies)
    _row(table, "faust consume-only", "one agent, no sends, no table", faust_alone_rate, mix)
    goal = "goal: 0.5 of faust consume-only"
    detail = f"state per contact, 2 % page; {goal}"
    _row(table, "escalator process, realistic mix", detail, escalator_rate, mix, "faust")
    every = routed_records(critical_burst(burst, "escb").bodies)
    detail = f"each opens, snapshots its ladder, pages; {goal}"
    _row(table, "escalator process, critical contacts", detail, escalator_rate, every, "faust")


def _row(
    table: Table,
    measure: str,
    detail: str,
    measure_rate: Callable[[list[Record]], Measured],
    records: list[Record],
    of: str | None = None,
) -> None:
    label = f"{measure} ({len(records):,} routed contacts, {PARTITIONS} partitions; {detail})"
    base = None if of else "faust"
    try:
        rate, cpu = measure_rate(records)
        text = f"{rate:,.0f} ev/s, {cpu * 1e6:,.0f} us CPU per input"
        table.add(label, rate, "ev/s", text=text, base=base, of=of)
    except StepFailed as failed:
        table.add(label, failed.rate, "ev/s", base=base, of=of, note=str(failed)[:300])


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.escalator")
    parser.add_argument("--events", type=int, default=int(os.environ.get("BENCH_EVENTS", 20000)))
    parser.add_argument("--burst", type=int, default=ESCALATOR_BURST)
    args = parser.parse_args()
    table = Table()
    run_escalator_rows(table, args.events, args.burst)
    table.print()


if __name__ == "__main__":
    main()
