"""What the escalator's timer task would cost scanning its table, against keeping an index.

``python -m bench.timers [N]`` builds N issue states as the escalator stores them (bytes,
from a replayed month of contacts, copied under new customer ids to reach N) and times:

- a full scan: decode every state and ask ``next_due`` (what a timer that reads the
  table on every pass pays, each pass);
- the index (``services/escalator/due.py``): its rebuild after a recovery (the same
  decode, once), one ``put`` per state write, and taking the ticks that fell due;
- the query API's scan of the held keys for one customer's issues.

docs/decisions.md ("Timers: an index in memory, rebuilt from the table") has the figures.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import timedelta

from escalation.policy import load_policy
from escalation.replay import Simulation
from escalation.schemas import codec, issue_state_key
from escalation.services.common.runner import tune_gc
from escalation.services.escalator.due import DueIndex
from escalation.services.escalator.timers import next_due

from .replay import EXAMPLE, history


def stored(n: int) -> dict[bytes, bytes]:
    """N encoded issue states keyed as the escalator keys them."""
    simulation = Simulation(load_policy(EXAMPLE))
    for event in history(20_000, seed=5):
        simulation.feed(event)
    base = list(simulation.issues.values())
    table: dict[bytes, bytes] = {}
    copy = 0
    while len(table) < n:
        for state in base:
            if len(table) >= n:
                break
            customer = f"{state.customer_id}~{copy}"
            moved = state.model_copy(update={"customer_id": customer})
            table[issue_state_key(customer, state.issue_id)] = codec.encode(moved)
        copy += 1
    return table


def timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def main(n: int) -> None:
    tune_gc()
    table = stored(n)
    states = {k: codec.decode_state(v) for k, v in table.items()}
    pending = sum(next_due(s) is not None for s in states.values())

    def scan() -> int:
        return sum(next_due(codec.decode_state(raw)) is not None for raw in table.values())

    scan_seconds = timed(scan)
    index = DueIndex()
    rebuild_seconds = timed(
        lambda: index.rebuild((k, 0, codec.decode_state(v)) for k, v in table.items())
    )
    # 20,000 writes, each leaving a customer's deadline pending (a distinct time each).
    first = min(s.updated_at for s in states.values() if s.updated_at is not None)
    writes = [
        (k, s.model_copy(update={"status": None, "deadline_due": first + timedelta(seconds=i)}))
        for i, (k, s) in enumerate(list(states.items())[:20_000])
    ]
    fresh = DueIndex()
    put_seconds = timed(lambda: [fresh.put(k, 0, s) for k, s in writes])
    take_seconds = timed(lambda: fresh.take_due(first + timedelta(days=1)))
    customer = next(iter(states.values())).customer_id
    prefix = f"{customer}/".encode()
    query_seconds = timed(lambda: [k for k in list(table) if k.startswith(prefix)])
    print(f"{n:,} issues, {pending:,} with a deadline pending")
    print(
        f"full scan (decode + next_due):  {scan_seconds:6.2f} s per pass, "
        f"{scan_seconds / n * 1e6:5.1f} us per issue"
    )
    print(f"index rebuild after recovery:   {rebuild_seconds:6.2f} s once")
    print(f"index put per state write:      {put_seconds / len(writes) * 1e6:6.1f} us")
    print(f"take a due tick:                {take_seconds / len(writes) * 1e6:6.1f} us")
    print(f"one customer's keys (query):    {query_seconds * 1e3:6.1f} ms")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
