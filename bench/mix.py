"""Contact workloads for the end-to-end bench, each knowing how many pages it must cause.

The escalator pages an issue when a contact is critical or when the issue's third
contact within the window arrives (the example policy's default; VIP issues page on the
second, so repeats here are never VIP). Every workload is built so that the number of
escalating issues, and so of pages, is known in advance.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiokafka.partitioner import DefaultPartitioner

from escalation.schemas import codec

CATEGORIES = ["hvac.repair", "appliances.leak", "av.projector", "billing.question", "hvac.noise"]
SUMMARY = "The unit stopped cooling again after last week's visit; the customer asks for a date"


@dataclass
class Workload:
    """Bodies in send order, their event ids, and how many pages they must cause."""

    name: str
    bodies: list[bytes] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    pages: int = 0

    def add(self, event: dict) -> None:
        self.bodies.append(codec.dumps(event))
        self.ids.append(event["event_id"])

    def extend(self, other: Workload) -> None:
        self.bodies += other.bodies
        self.ids += other.ids
        self.pages += other.pages


def contact(
    event_id: str,
    customer: str,
    issue: str,
    *,
    urgency: str = "normal",
    tier: str = "standard",
    category: str = "hvac.repair",
) -> dict:
    return {
        "event_id": event_id,
        "occurred_at": datetime.now(UTC).isoformat(),
        "source": "crm",
        "channel": "phone",
        "customer": {"id": customer, "tier": tier},
        "issue_key": issue,
        "category": category,
        "product": "AC-3000",
        "urgency": urgency,
        "summary": SUMMARY,
        "attributes": {"order": f"SO-{issue}"},
    }


def routine(n: int, run: str) -> list[bytes]:
    """N one-off contacts over 5,000 customers, none of which pages (the raw loops' input)."""
    return [
        codec.dumps(contact(f"{run}-{i}", f"C-{run}-{i % 5000}", f"{run}-{i}", category=c))
        for i, c in zip(range(n), CATEGORIES * (n // len(CATEGORIES) + 1), strict=False)
    ]


def realistic(n: int, run: str, seed: int = 11) -> Workload:
    """Per 1,000 contacts: 10 critical, 10 issues with a third contact (both page),
    20 issues contacted twice and 920 one-off contacts (neither pages).

    Repeats of one issue are spread 10-200 positions apart, as a customer calling back.
    """
    rng = random.Random(seed)
    placed: list[tuple[float, dict]] = []

    def issue(kind: str, count: int, urgency: str, tiers: list[str]) -> None:
        number = len(placed)
        customer = f"C-{run}-{rng.randrange(50_000)}"
        tier, category = rng.choice(tiers), rng.choice(CATEGORIES)
        at = rng.uniform(0, n)
        for k in range(count):
            event = contact(
                f"{run}-{kind}-{number}-{k}",
                customer,
                f"{run}-{number}",
                urgency=urgency,
                tier=tier,
                category=category,
            )
            placed.append((at, event))
            at += rng.uniform(10, 200)

    per_thousand = n / 1000
    for _ in range(round(10 * per_thousand)):
        issue("critical", 1, "critical", ["standard", "priority", "vip"])
    for _ in range(round(10 * per_thousand)):
        issue("repeat", 3, rng.choice(["normal", "high"]), ["standard", "priority"])
    for _ in range(round(20 * per_thousand)):
        issue("twice", 2, "normal", ["standard", "priority"])
    while len(placed) < n:
        tiers = ["standard"] * 17 + ["priority"] * 2 + ["vip"]
        issue("once", 1, rng.choice(["normal"] * 8 + ["low", "high"]), tiers)
    workload = Workload("realistic", pages=round(20 * per_thousand))
    for _, event in sorted(placed, key=lambda item: item[0]):
        workload.add(event)
    return workload


def critical_burst(n: int, run: str) -> Workload:
    """N critical contacts, each its own customer and issue: every one pages."""
    workload = Workload("critical burst", pages=n)
    for i in range(n):
        workload.add(
            contact(f"{run}-burst-{i}", f"C-{run}-b{i}", f"{run}-b{i}", urgency="critical")
        )
    return workload


def same_issues(n: int, issues: int, run: str) -> Workload:
    """N contacts on ``issues`` issues, round robin: each issue pages once, at its third."""
    workload = Workload("repeats on the same issues", pages=issues)
    for i in range(n):
        k = i % issues
        workload.add(contact(f"{run}-same-{i}", f"C-{run}-s{k}", f"{run}-s{k}"))
    return workload


def end_markers(run: str, partitions: int) -> Workload:
    """One critical contact per partition, sent last: its page arrives after every
    earlier contact of that partition was routed and escalated (each hop keeps order)."""
    partitioner = DefaultPartitioner()
    everyone = list(range(partitions))
    workload = Workload("end markers")
    found: set[int] = set()
    i = 0
    while len(found) < partitions:
        customer = f"C-{run}-end{i}"
        partition = partitioner(customer.encode(), everyone, everyone)
        if partition not in found:
            found.add(partition)
            workload.add(contact(f"{run}-end-{i}", customer, f"{run}-end{i}", urgency="critical"))
            workload.pages += 1
        i += 1
    return workload
