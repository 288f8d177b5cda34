"""Whom the policy names, as the escalator asks when a step fires or an issue changes hands.

Pure: built from one loaded policy, every answer a function of it and the moment given.
The escalator snapshots a ladder's shape when an escalation opens but asks a roster of
the policy in force at each step who is on call, so a handoff or override made since is
honoured; an owner or schedule the policy no longer has reaches nobody.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from .model import LoadedPolicy
from .schedule import on_call


class PolicyRoster:
    def __init__(self, loaded: LoadedPolicy) -> None:
        policy = loaded.policy
        self.zone = ZoneInfo(policy.timezone)
        self.owners = {o.id: o for o in policy.owners}
        self.team_by_id = {t.id: t for t in policy.teams}
        self.schedules = {s.id: s for s in policy.schedules}
        self.ical_overrides = loaded.ical_overrides

    def on_call(self, schedule_id: str, at: datetime) -> list[str]:
        schedule = self.schedules.get(schedule_id)
        if schedule is None:
            return []
        return on_call(schedule, at, self.zone, self.ical_overrides.get(schedule_id, ()))

    def owner_targets(self, owner_id: str) -> list[str]:
        owner = self.owners.get(owner_id)
        return list(owner.targets) if owner is not None else []

    def team_targets(self, team_id: str) -> list[str]:
        team = self.team_by_id.get(team_id)
        return list(team.targets) if team is not None else []

    def authority(self, owner_id: str) -> int | None:
        owner = self.owners.get(owner_id)
        return owner.authority if owner is not None else None

    def teams(self, owner_id: str) -> list[str]:
        owner = self.owners.get(owner_id)
        return list(owner.teams) if owner is not None else []
