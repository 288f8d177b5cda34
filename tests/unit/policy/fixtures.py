"""A small policy to route against, and helpers to build events and states."""

from __future__ import annotations

from datetime import datetime

from escalation.policy import parse_policy
from escalation.schemas import codec
from tests.unit.factories import contact_data

POLICY = """
version: 1
timezone: America/New_York
business_hours: [{days: [mon, tue, wed, thu, fri], start: "09:00", end: "17:00"}]
holidays: {dates: ["2026-12-24"]}
owners:
  - {id: ana, name: Ana, teams: [front], authority: 1, skills: [billing],
     hours: [{start: "08:00", end: "16:00"}]}
  - {id: ben, name: Ben, teams: [front], authority: 1, capacity: 2,
     hours: [{start: "12:00", end: "20:00"}]}
  - {id: chen, name: Chen, teams: [eng], authority: 2, skills: [hvac]}
  - {id: dana, name: Dana, teams: [eng], authority: 3, skills: [hvac, av]}
  - {id: elif, name: Elif, teams: [vip], authority: 3}
  - {id: noor, name: Noor, teams: [night], authority: 2, timezone: Asia/Kolkata,
     hours: [{days: [mon, tue, wed, thu, fri, sat, sun], start: "09:00", end: "18:00"}]}
teams:
  - {id: front, name: Front}
  - {id: eng, name: Engineers}
  - {id: vip, name: VIP desk}
  - {id: night, name: Night desk, schedule: nights}
schedules:
  - id: nights
    layers:
      - {name: weekly, members: [noor], every: 1w, start: "2026-11-02T00:00:00-05:00"}
routes:
  - name: vip
    match: {customer.tier: [vip]}
    team: vip
    min_authority: 3
  - name: unhappy
    match: {sentiment: {max: -0.5}}
    team: eng
    min_authority: {base: 2, urgency: {critical: 3}}
    continue: true
    targets: [quality]
  - name: hvac
    match: {category: [hvac]}
    team: eng
    min_authority: {base: 2, tier: {priority: 3}, urgency: {critical: 3}}
    skills: [hvac]
  - name: after-hours
    match: {when: {business_hours: false}}
    team: night
    min_authority: 2
  - name: default
    team: front
    min_authority: 1
    fallback: {team: eng}
targets:
  - {id: quality, type: webhook, url: "http://127.0.0.1:1/q", secret: {env: Q_SECRET}}
"""

SURGE_RULE = """
surges:
  - name: defects
    match: {category: [hvac]}
    team: eng
    customers: 10
    window: 2m
"""
"""One surge rule over POLICY's hvac routes: ten customers in two minutes."""

LOADED = parse_policy(POLICY)
# Wednesday 2026-11-25, 10:00 in New York: business hours, ana and chen on shift.
MORNING = datetime.fromisoformat("2026-11-25T10:00:00-05:00")


def event(**overrides):
    data = contact_data(occurred_at=overrides.pop("occurred_at", MORNING.isoformat()), **overrides)
    return codec.decode_contact(codec.dumps(data))


class Loads:
    """In-memory loads for tests: owner -> open issue count."""

    def __init__(self, **counts: int) -> None:
        self.counts = counts
        self.last: dict[str, datetime] = {}

    def load(self, owner_id, now):
        return self.counts.get(owner_id, 0), self.last.get(owner_id)
