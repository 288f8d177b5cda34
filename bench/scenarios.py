"""The end-to-end rows of the table: one stack, one receiver, every shape users hit.

- contact -> page latency at a fixed offered rate (open loop, one event per POST);
- intake alone, one event per request;
- the saturated end-to-end rate on the realistic mix, clock stopped at the last page;
- a burst where every contact pages, repeats on the same issues, a slow receiver.

Each workload that does not page with its last contact ends with one critical contact
per partition (``end_markers``), so its last page proves every earlier contact went
through.
"""

from __future__ import annotations

import httpx

from escalation.schemas import codec

from .baseline import PARTITIONS
from .cpu import cpu_by_process, per_contact
from .mix import Workload, critical_burst, end_markers, realistic, routine, same_issues
from .pages import Outcome, PageBench
from .table import Table

BATCH = 100
SLOW_RECEIVER_MS = 75
SLOW_PAGES = 200


def routine_posts(n: int, run: str) -> Workload:
    """N one-off contacts that page nobody, with their ids."""
    workload = Workload("routine")
    for body in routine(n, run):
        workload.bodies.append(body)
        workload.ids.append(codec.loads_plain(body)["event_id"])
    return workload


def _latency(outcome: Outcome) -> str:
    missing = outcome.expected - outcome.pages
    text = (
        f"p50 {outcome.p(0.5):,.0f} ms, p99 {outcome.p(0.99):,.0f} ms, max {outcome.p(1):,.0f} ms"
    )
    text += f"; {outcome.pages:,} pages"
    if missing:
        text += f", {missing:,} MISSING"
    return text + f", {outcome.duplicates} duplicate deliveries"


def offered_rate(table: Table, bench: PageBench, rate: float, seconds: float, run: str) -> None:
    from .hops import hop_split

    assert bench.stack is not None
    before = cpu_by_process(bench.stack.process.pid)
    offered = bench.run(realistic(int(rate * seconds), f"{run}r"), rate=rate)
    spent = per_contact(before, cpu_by_process(bench.stack.process.pid), offered.contacts)
    assert offered.load is not None
    table.add(
        f"contact -> page at {rate:,.0f} ev/s offered for {seconds:.0f} s (one event per "
        "POST, open loop; realistic mix)",
        offered.p(0.99),
        "ms",
        text=_latency(offered),
        note=f"sender at most {offered.load.behind * 1000:.0f} ms behind its schedule",
    )
    hops = hop_split(bench.stack.bootstrap, PARTITIONS, offered.matched)
    table.add(
        "  where that time goes, p50 / p99 ms",
        0,
        "ms",
        text=", ".join(f"{hop} {p50:.0f} / {p99:.0f}" for hop, (p50, p99) in hops.items()),
    )
    table.add("  CPU per contact at that rate, microseconds", 0, "us", text=spent)


def intake_single(table: Table, bench: PageBench, n: int, run: str) -> None:
    single = bench.run(routine_posts(n, f"{run}s"), connections=64)
    bench.run(end_markers(f"{run}s", PARTITIONS))  # drained before the next figure
    assert single.load is not None
    table.add(
        "intake, one event per request (64 connections)",
        single.load.rate,
        "req/s",
        text=f"{single.load.rate:,.0f} req/s (p99 {single.load.p99_ms:.0f} ms)",
        of="produce",
    )


def saturated(table: Table, bench: PageBench, n: int, run: str) -> None:
    mix = realistic(n, f"{run}m")
    mix.extend(end_markers(f"{run}m", PARTITIONS))
    outcome = bench.run(mix, batch=BATCH, connections=8)
    assert outcome.load is not None
    accepted = outcome.contacts / outcome.load.seconds
    table.add(f"intake, {BATCH} events per request (8 connections)", accepted, "ev/s", of="produce")
    table.add(
        "end to end, saturated: intake -> router -> escalator -> pager -> receiver "
        f"(realistic mix, {BATCH} per POST; clock stops at the last verified page)",
        outcome.contacts / outcome.seconds,
        "ev/s",
        of="chain",
        note=_latency(outcome),
    )


def burst_row(table: Table, bench: PageBench, burst: int, run: str) -> None:
    """Every contact pages; below it, the CPU each process spent per page."""
    assert bench.stack is not None
    before = cpu_by_process(bench.stack.process.pid)
    everyone = bench.run(critical_burst(burst, f"{run}b"), batch=BATCH, connections=8)
    spent = per_contact(before, cpu_by_process(bench.stack.process.pid), everyone.contacts)
    table.add(
        f"burst: {burst:,} critical contacts, each its own issue, {BATCH} per POST",
        everyone.pages / everyone.seconds,
        "pages/s",
        key="burst",
        note=_latency(everyone),
    )
    table.add("  CPU per page in that burst, microseconds", 0, "us", text=spent)


def heavy_shapes(table: Table, bench: PageBench, burst: int, run: str) -> None:
    burst_row(table, bench, burst, run)
    repeats = same_issues(burst, 30, f"{run}i")
    repeats.extend(end_markers(f"{run}i", PARTITIONS))
    again = bench.run(repeats, batch=BATCH, connections=8)
    table.add(
        f"repeats: {burst:,} contacts on 30 issues (each pages once), {BATCH} per POST",
        again.contacts / again.seconds,
        "ev/s",
        note=_latency(again),
    )
    bench.set_delay(SLOW_RECEIVER_MS)
    try:
        slow = bench.run(critical_burst(SLOW_PAGES, f"{run}d"), batch=BATCH, connections=8)
    finally:
        bench.set_delay(0)
    table.add(
        f"slow receiver ({SLOW_RECEIVER_MS} ms per POST): {SLOW_PAGES} critical contacts",
        slow.pages / slow.seconds,
        "pages/s",
        note=_latency(slow),
    )


def run_scenarios(
    table: Table, n: int, rate: float, seconds: float, burst: int, run: str, only: bool = False
) -> None:
    """Every end-to-end row of the table, on one stack; a failed step is a row saying so.

    ``only``: just the offered rate and the burst, each with its CPU per process
    (``python -m bench --only stack``, about 90 s).
    """
    bench = PageBench(PARTITIONS)
    steps = [
        ("offered rate", lambda: offered_rate(table, bench, rate, seconds, run)),
        ("intake alone", lambda: intake_single(table, bench, n // 2, run)),
        ("saturated", lambda: saturated(table, bench, n, run)),
        ("heavy shapes", lambda: heavy_shapes(table, bench, burst, run)),
    ]
    if only:
        steps = [steps[0], ("burst", lambda: burst_row(table, bench, burst, run))]
    try:
        bench.start()
        bench.run(realistic(1000, f"{run}w"), rate=500)  # joins, connections, first decisions
        for name, step in steps:
            try:
                step()
            except (RuntimeError, AssertionError, OSError, httpx.HTTPError) as exc:
                table.add(f"{name}: FAILED", 0, "", text=f"{type(exc).__name__}: {exc}")
    finally:
        bench.stop()
