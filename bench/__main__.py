"""``make bench``: the whole table from one run, each ratio against a baseline of the same run.

Starts its own brokers, stack, receiver and peer, stops every process it started, and
prints the date and commit it ran on. Absolute numbers on a shared 2-core machine move
from run to run; the ratios are taken against baselines measured minutes apart.
"""

from __future__ import annotations

import argparse
import datetime
import os
import subprocess
import time
import uuid

from escalation.services.common.broker import EmbeddedBroker, ensure_topics
from escalation.services.common.runner import tune_gc
from escalation.services.common.settings import Settings
from escalation.services.common.topics import TopicSpec
from escalation.testing.stack import ROOT

from . import peer
from .baseline import PARTITIONS, raw_chain, raw_produce
from .escalator import ESCALATOR_BURST, run_escalator_rows
from .load import aio_run
from .mix import routine
from .pager import PAGER_PAGES, run_pager_rows
from .replay import replay_rate
from .router import RouterFailed, raw_rate, router_rate
from .scenarios import run_scenarios
from .table import Table


def commit() -> str:
    def git(*argv: str) -> str:
        return subprocess.run(
            ["git", *argv], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()

    sha = git("rev-parse", "--short=12", "HEAD") or "unknown"
    return sha + (
        " (uncommitted changes)" if git("status", "--porcelain", "--", "src", "bench") else ""
    )


def load_average() -> str:
    with open("/proc/loadavg") as loadavg:
        return " ".join(loadavg.read().split()[:3])


BASELINE_TRIES = 2
"""Each raw baseline is measured this many times and the best kept: a baseline that a
neighbour slowed down would flatter every ratio taken against it."""


def baselines(n: int) -> dict[str, float]:
    broker = EmbeddedBroker()
    broker.start()
    try:
        best: dict[str, float] = {}
        payloads = routine(n, "raw")
        settings = Settings(kafka_bootstrap=broker.bootstrap)
        for attempt in range(BASELINE_TRIES):
            names = [f"raw{attempt}.{t}" for t in ("p", "q", "e", "f", "g")]
            specs = [TopicSpec(t, PARTITIONS) for t in names]
            aio_run(ensure_topics(settings.kafka_common(), specs))
            produce, single, *chain = names
            figures = {
                "produce": aio_run(raw_produce(broker.bootstrap, produce, payloads)),
                "one_per_batch": aio_run(
                    raw_produce(broker.bootstrap, single, payloads[: n // 4], one_per_batch=True)
                ),
                "chain": aio_run(raw_chain(broker.bootstrap, chain, payloads)),
            }
            best = {k: max(v, best.get(k, 0.0)) for k, v in figures.items()}
        return best
    finally:
        broker.stop()


ROUTER_PACE = 1000.0
ROUTER_PACED = 15_000


def router_rows(table: Table, n: int) -> None:
    """The raw one-hop loop (best of two) and the router process, with its CPU per event."""
    raw_loop = max(raw_rate(n) for _ in range(BASELINE_TRIES))
    table.add(
        f"raw consume->decode->produce, 1 hop (best of {BASELINE_TRIES})",
        raw_loop,
        "ev/s",
        base="loop",
    )
    cpu: dict[str, float] = {}
    try:
        table.add("router process, sticky state", router_rate(n, cpu=cpu), "ev/s", of="loop")
    except RouterFailed as failed:
        table.add("router process, sticky state", failed.rate, "ev/s", of="loop", note=str(failed))
    if "us_per_event" in cpu:
        table.add(
            "  router CPU per event, microseconds",
            cpu["us_per_event"],
            "us",
            text=f"{cpu['us_per_event']:,.0f} us",
        )
    paced: dict[str, float] = {}
    label = f"  router CPU per event at {ROUTER_PACE:,.0f} ev/s offered ({ROUTER_PACED:,} events)"
    try:
        router_rate(ROUTER_PACED, cpu=paced, rate=ROUTER_PACE)
        table.add(label, paced["us_per_event"], "us", text=f"{paced['us_per_event']:,.0f} us")
    except (RouterFailed, KeyError) as failed:
        table.add(label, 0, "us", text="FAILED", note=str(failed)[:300])


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--events", type=int, default=int(os.environ.get("BENCH_EVENTS", 20000)))
    parser.add_argument("--rate", type=float, default=1000.0, help="offered rate, events/s")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long it is offered")
    parser.add_argument("--burst", type=int, default=3000, help="critical contacts at once")
    parser.add_argument(
        "--only",
        choices=["escalator", "router", "pager", "stack"],
        help="run one step of the bench (its rows alone); stack: the offered rate and the "
        "burst, with CPU per process",
    )
    args = parser.parse_args()
    n = args.events
    began = time.monotonic()
    print(
        f"escalation bench  {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC  "
        f"commit {commit()}\n{os.cpu_count()} cores, load average {load_average()} at start; "
        f"{n} events per throughput figure, {PARTITIONS} partitions, embedded Tansu",
        flush=True,
    )
    tune_gc()  # the services' setting; every asyncio run below is on uvloop, as they are
    table = Table()
    if args.only == "escalator":
        run_escalator_rows(table, n, ESCALATOR_BURST)
        finish(table, began)
        return
    if args.only == "router":
        router_rows(table, n)
        finish(table, began)
        return
    if args.only == "pager":
        run_pager_rows(table, PAGER_PAGES)
        finish(table, began)
        return
    if args.only == "stack":
        run_scenarios(table, n, args.rate, args.seconds, args.burst, uuid.uuid4().hex[:6], True)
        finish(table, began)
        return

    raw = baselines(n)
    table.add(
        f"raw aiokafka produce (tuned, record batches; best of {BASELINE_TRIES})",
        raw["produce"],
        "ev/s",
        base="produce",
    )
    table.add(
        "raw aiokafka produce, one record per batch (the other end-offset workaround)",
        raw["one_per_batch"],
        "ev/s",
        of="produce",
    )
    table.add(
        f"raw consume->validate->produce, 2 hops at once (best of {BASELINE_TRIES})",
        raw["chain"],
        "ev/s",
        base="chain",
    )

    router_rows(table, n)
    run_escalator_rows(table, n, ESCALATOR_BURST)
    run_pager_rows(table, PAGER_PAGES)

    run_scenarios(table, n, args.rate, args.seconds, args.burst, uuid.uuid4().hex[:6])

    replay = replay_rate()
    table.add(
        f"replay, one core ({replay['repeat_share']:.0%} of {50_000:,} contacts repeat an "
        f"issue, {replay['escalations']:,} escalations)",
        replay["rate"],
        "ev/s",
    )

    if peer.binary() is None:
        print(
            "\nAlertmanager peer skipped: prometheus-alertmanager is not installed "
            "(apt-get install prometheus-alertmanager)",
            flush=True,
        )
    else:
        am = peer.alertmanager_burst(args.burst)
        table.add(
            f"Alertmanager, {args.burst:,} alerts each its own group (p50 {am['p50_ms']:,.0f} ms,"
            f" p99 {am['p99_ms']:,.0f} ms, {am['notified']:,.0f} notified)",
            am["rate"],
            "alerts/s",
            base="alertmanager",
        )
        table.ratio("burst", "alertmanager")

    finish(table, began)


def finish(table: Table, began: float) -> None:
    table.print()
    print(
        f"\nload average {load_average()} at the end; the bench took "
        f"{time.monotonic() - began:.0f} s",
        flush=True,
    )


if __name__ == "__main__":
    main()
