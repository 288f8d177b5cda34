"""Replay throughput: the routing and escalation decision code over recorded contacts.

Throughput is measured on ``callback_history``, which has what live traffic has: most
issues contacted once, many called back within days, a few contacted again and again,
so the decisions run against issue state that grows (contact marks, seen ids, open
escalations) rather than against a fresh issue every time. ``history`` (contacts spread
evenly over a month, few repeats within a window) is what ``bench.state_size`` replays.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from escalation.policy import load_policy
from escalation.replay import Simulation
from escalation.schemas import ContactEvent, codec
from escalation.services.common.runner import tune_gc

EXAMPLE = Path(__file__).resolve().parents[1] / "config" / "policy.example.yaml"
CATEGORIES = ["hvac.repair", "appliances.leak", "av.projector", "billing.question", "safety.gas"]
CONTACTS_PER_ISSUE = [1] * 80 + [2] * 12 + [3] * 3 + [4] * 2 + [6] * 2 + [40]
"""Most issues contacted once, one in eight twice, one in fourteen 3-6 times, one in a
hundred 40 times: about half the contacts repeat an issue."""


def history(n: int, seed: int = 7) -> list[ContactEvent]:
    """A month of contacts from 20,000 customers, a few issues each, mostly normal urgency."""
    rng = random.Random(seed)
    start = datetime(2026, 10, 1, tzinfo=UTC)
    step = timedelta(days=30) / n
    events = []
    for i in range(n):
        customer = rng.randrange(20_000)
        data = {
            "event_id": f"h-{i}",
            "occurred_at": (start + step * i).isoformat(),
            "source": "crm",
            "channel": rng.choice(["phone", "email", "chat"]),
            "customer": {
                "id": f"C-{customer}",
                "tier": rng.choice(["standard"] * 8 + ["priority", "vip"]),
            },
            "issue_key": f"t-{customer}-{rng.randrange(3)}",
            "category": rng.choice(CATEGORIES),
            "product": "AC-3000",
            "urgency": rng.choice(["normal"] * 17 + ["high", "low", "critical"]),
        }
        events.append(codec.decode_contact(codec.dumps(data)))
    return events


def callback_history(n: int, seed: int = 7) -> list[ContactEvent]:
    """About ``n`` contacts over a month, issue by issue, sorted by when they happened."""
    rng = random.Random(seed)
    start = datetime(2026, 10, 1, tzinfo=UTC)
    placed: list[tuple[datetime, dict]] = []
    issue = 0
    while len(placed) < n:
        customer = rng.randrange(n // 4)
        tier = rng.choice(["standard"] * 8 + ["priority", "vip"])
        category = rng.choice(CATEGORIES)
        at = start + timedelta(days=rng.uniform(0, 30))
        for k in range(rng.choice(CONTACTS_PER_ISSUE)):
            placed.append(
                (
                    at,
                    {
                        "event_id": f"h-{issue}-{k}",
                        "occurred_at": at.isoformat(),
                        "source": "crm",
                        "channel": rng.choice(["phone", "email", "chat"]),
                        "customer": {"id": f"C-{customer}", "tier": tier},
                        "issue_key": f"t-{issue}",
                        "category": category,
                        "product": "AC-3000",
                        "urgency": rng.choice(["normal"] * 17 + ["high", "low", "critical"]),
                    },
                )
            )
            at += timedelta(hours=rng.expovariate(1 / 18))  # a call back within a day or so
        issue += 1
    placed.sort(key=lambda item: item[0])
    return [codec.decode_contact(codec.dumps(data)) for _, data in placed[:n]]


def replay_rate(n: int = 50_000) -> dict[str, float]:
    """Events/s of one Simulation over ``n`` decoded events (decoding not counted)."""
    events = callback_history(n)
    per_issue = Counter(event.issue_key for event in events)
    simulation = Simulation(load_policy(EXAMPLE))
    tune_gc()  # as `escalation policy replay` does
    opened = 0
    started = time.perf_counter()
    for event in events:
        opened += len(simulation.feed(event).escalations)
    return {
        "rate": n / (time.perf_counter() - started),
        "issues": len(per_issue),
        "repeat_share": sum(c for c in per_issue.values() if c > 1) / n,
        "max_per_issue": max(per_issue.values()),
        "escalations": opened,
    }


if __name__ == "__main__":
    figures = replay_rate()
    print(
        f"replay: {figures['rate']:,.0f} events/s over {figures['issues']:,} issues "
        f"({figures['repeat_share']:.0%} of contacts repeat an issue, up to "
        f"{figures['max_per_issue']} on one); {figures['escalations']:,} escalations opened"
    )
