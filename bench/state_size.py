"""Escalator state per issue: encoded bytes of each issue's state after a realistic history.

The escalator writes an issue's whole state to its changelog on every change and reads
it back on recovery, so its size is paid per contact. This replays 20,000 contacts over a month
(a few issues per customer, repeats on the same issue, summaries of ordinary length)
through the live decision code and reports the encoded size of every issue's state,
and of the open (escalated) ones alone. Goal: at most 1 KiB per open issue.

Run again with every route's follow-ups waiting for the customer's hours
(``followup_in_customer_hours``), each customer in one of four time zones (one of them
among the longest names there are), since each issue then keeps its customer's zone.
"""

from __future__ import annotations

import random
import re
import statistics
import tempfile
from pathlib import Path

from escalation.policy import load_policy
from escalation.replay import Simulation
from escalation.schemas import codec

from .replay import EXAMPLE, history

SUMMARIES = [
    "AC failed again after the repair last week; house is at 31 C",
    "Water heater leaking from the base, customer put towels down",
    "Projector in the board room shows no image, meeting at 10:00",
    "Charged twice for the November service visit",
    "Smell of gas near the boiler, customer left the house",
]


ZONES = ["America/Argentina/Buenos_Aires", "Europe/Berlin", "America/New_York", "Asia/Kolkata"]
CUSTOMER_HOURS = """
quiet_hours:
  customer: {hours: [{days: [mon, tue, wed, thu, fri, sat], start: "09:00", end: "20:00"}]}
"""


def _policy(customer_hours: bool) -> Path:
    if not customer_hours:
        return EXAMPLE
    text = re.sub(
        r"\nescalation:[^\n]*\n",
        "\nescalation:\n  followup_in_customer_hours: true\n",
        EXAMPLE.read_text(),
        count=1,
    )
    path = Path(tempfile.mkdtemp()) / "customer-hours.yaml"
    path.write_text(text + CUSTOMER_HOURS)
    return path


def sizes(n: int = 20_000, customer_hours: bool = False) -> dict[str, list[int]]:
    rng = random.Random(11)
    events = []
    for event in history(n, seed=5):
        update: dict[str, object] = {"summary": rng.choice(SUMMARIES)}
        if customer_hours:
            zone = rng.choice(ZONES)
            update["customer"] = event.customer.model_copy(update={"timezone": zone})
        events.append(event.model_copy(update=update))
    simulation = Simulation(load_policy(_policy(customer_hours)))
    for event in events:
        simulation.feed(event)
    every = [len(codec.encode(state)) for state in simulation.issues.values()]
    opened = [
        len(codec.encode(state))
        for state in simulation.issues.values()
        if state.status in ("open", "acked")
    ]
    return {"every issue": every, "open issues": opened}


def summary(values: list[int]) -> str:
    if not values:
        return "none"
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (
        f"{len(values):,} issues: p50 {statistics.median(ordered):,.0f} B, "
        f"p99 {p99:,} B, max {ordered[-1]:,} B"
    )


if __name__ == "__main__":
    for name, values in sizes().items():
        print(f"escalator state, {name}: {summary(values)}")
    for name, values in sizes(customer_hours=True).items():
        print(f"escalator state, follow-ups in the customer's hours, {name}: {summary(values)}")
