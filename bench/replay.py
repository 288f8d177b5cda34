"""Replay throughput: the routing and escalation decision code over recorded contacts."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from escalation.policy import load_policy
from escalation.replay import Simulation
from escalation.schemas import ContactEvent, codec
from escalation.services.common.runner import tune_gc

EXAMPLE = Path(__file__).resolve().parents[1] / "config" / "policy.example.yaml"
CATEGORIES = ["hvac.repair", "appliances.leak", "av.projector", "billing.question", "safety.gas"]


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


def replay_rate(n: int = 50_000) -> float:
    """Events/s of one Simulation over ``n`` decoded events (decoding not counted)."""
    events = history(n)
    simulation = Simulation(load_policy(EXAMPLE))
    tune_gc()  # as `escalation policy replay` does
    started = time.perf_counter()
    for event in events:
        simulation.feed(event)
    return n / (time.perf_counter() - started)


if __name__ == "__main__":
    print(f"replay: {replay_rate():,.0f} events/s")
