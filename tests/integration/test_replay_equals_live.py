"""`policy replay` is the live code: one recorded history, the same owner for every event.

The live router process (one partition, real broker) and `escalation policy replay` read
the same history of 2,400 contacts on 700 issues. The policy fills capacity so that
later issues take the fallback owner, and most issues get several contacts, so the
history exercises least-loaded choice, stickiness and fallback. One partition: with
several, the live router keeps loads per partition and interleaves them (docs/policy.md).
"""

from __future__ import annotations

import asyncio
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from escalation.schemas import codec
from escalation.services.common.broker import EmbeddedBroker, ensure_topics, free_port
from escalation.services.common.topics import CONTACTS, ROUTED, catalogue
from escalation.testing.stack import Service

pytestmark = pytest.mark.integration

POLICY = """
version: 1
timezone: UTC
owners:
  - {id: ana, name: Ana, teams: [front], authority: 1, capacity: 120}
  - {id: ben, name: Ben, teams: [front], authority: 1, capacity: 90}
  - {id: cam, name: Cam, teams: [front], authority: 2, capacity: 60}
  - {id: chen, name: Chen, teams: [eng], authority: 2, capacity: 50, skills: [hvac]}
  - {id: dana, name: Dana, teams: [eng], authority: 3, capacity: 40, skills: [hvac]}
  - {id: eli, name: Eli, teams: [eng], authority: 2, capacity: 30}
  - {id: elif, name: Elif, teams: [vip], authority: 3, capacity: 15}
  - {id: lead, name: Lead, teams: [vip], authority: 4, capacity: 1000}
teams:
  - {id: front, name: Front}
  - {id: eng, name: Engineers}
  - {id: vip, name: VIP desk}
routes:
  - name: vip
    match: {customer.tier: [vip]}
    team: vip
    min_authority: 3
    fallback: {owner: lead}
  - name: hvac
    match: {category: [hvac]}
    team: eng
    min_authority: {base: 2, urgency: {critical: 3}}
    skills: [hvac]
    fallback: {owner: lead}
  - name: default
    team: front
    min_authority: {base: 1, tier: {priority: 2}}
    fallback: {owner: lead}
"""

ISSUES = 700
EVENTS = 2400


def history(start: datetime) -> list[dict]:
    rng = random.Random(8)
    issues = []
    for n in range(ISSUES):
        issues.append(
            {
                "customer": {
                    "id": f"C-{n % 450}",
                    "tier": rng.choices(["standard", "priority", "vip"], [80, 15, 5])[0],
                },
                "issue_key": f"case-{n}",
                "category": rng.choice(["hvac.repair", "hvac.install", "billing", "delivery"]),
            }
        )
    events = []
    for n in range(EVENTS):
        # Early issues come back more often: sticky owners while capacity fills.
        issue = issues[min(int(rng.expovariate(1 / 250)), ISSUES - 1) if n >= ISSUES else n]
        events.append(
            {
                "event_id": f"ev-{n}",
                "occurred_at": (start + timedelta(milliseconds=n)).isoformat(),
                "source": "crm",
                "urgency": rng.choices(["normal", "high", "critical"], [90, 8, 2])[0],
                **issue,
            }
        )
    return events


async def produce(bootstrap: str, events: list[dict]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False)
    await producer.start()
    try:
        for event in events:  # in order, one partition: the router sees file order
            await producer.send(
                CONTACTS,
                codec.dumps(event),
                key=event["customer"]["id"].encode(),
                headers=[("event-id", event["event_id"].encode())],
            )
        await producer.flush()
    finally:
        await producer.stop()


async def routed(bootstrap: str, count: int, limit: float = 120.0) -> dict[str, dict]:
    consumer = AIOKafkaConsumer(
        ROUTED, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    found: dict[str, dict] = {}
    try:
        deadline = asyncio.get_running_loop().time() + limit
        while len(found) < count and asyncio.get_running_loop().time() < deadline:
            for messages in (await consumer.getmany(timeout_ms=500)).values():
                for message in messages:
                    event = codec.decode_routed(message.value)
                    found.setdefault(event.event_id, event.routing.model_dump())
    finally:
        await consumer.stop()
    assert len(found) == count, f"only {len(found)} of {count} routed events arrived"
    return found


def test_replay_finds_the_live_router_s_owner_for_every_event(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    events = history(datetime.now(UTC))
    path = tmp_path / "history.jsonl"
    path.write_bytes(b"".join(codec.dumps(e) + b"\n" for e in events))

    with EmbeddedBroker() as broker:
        asyncio.run(ensure_topics({"bootstrap_servers": broker.bootstrap}, catalogue(1)))
        port = free_port()
        env = {
            "ESCALATION_KAFKA_BOOTSTRAP": broker.bootstrap,
            "ESCALATION_KAFKA_PARTITIONS": "1",
            "ESCALATION_ROUTER_PORT": str(port),
            "ESCALATION_POLICY": str(policy),
            "ESCALATION_LOG_FORMAT": "json",
        }
        router = Service("router", env, port, tmp_path / "router.log").start()
        try:
            asyncio.run(produce(broker.bootstrap, events))
            live = asyncio.run(routed(broker.bootstrap, EVENTS))
        finally:
            router.stop()

    decisions = tmp_path / "decisions.jsonl"
    command = ["policy", "replay", str(policy), str(path), "--decisions", str(decisions)]
    subprocess.run(
        [sys.executable, "-m", "escalation", *command],
        check=True,
        capture_output=True,
    )
    replayed = {
        d["event_id"]: d for d in map(codec.loads_plain, decisions.read_bytes().splitlines())
    }
    assert len(replayed) == EVENTS

    fields = ("route", "owner", "team", "fallback", "sticky")
    different = [
        (event_id, {f: (live[event_id][f], replayed[event_id][f]) for f in fields})
        for event_id in live
        if any(live[event_id][f] != replayed[event_id][f] for f in fields)
    ]
    assert different == [], f"{len(different)} events decided differently: {different[:5]}"

    # The history exercised what it is meant to: choice, stickiness and fallback.
    sticky = sum(d["sticky"] for d in replayed.values())
    fallback = sum(d["fallback"] for d in replayed.values())
    owners = {d["owner"] for d in replayed.values()}
    assert sticky > 1000 and fallback > 100, (sticky, fallback)
    assert owners >= {"ana", "ben", "cam", "chen", "dana", "elif", "lead"}
