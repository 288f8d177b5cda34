"""The routing decision: (policy, ownership state, event, now) -> decision. Pure.

The live router, ``policy explain`` and ``policy replay`` all call ``RoutingEngine.decide``;
only where state is kept differs (faust tables, nothing, in-memory dicts).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from escalation.schemas import ContactEvent, Routing
from escalation.schemas.base import trusted
from escalation.schemas.identity import remember, seen_token
from escalation.schemas.state import Assignment

from .choose import Loads, choose, qualifies, required_authority
from .escalation import effective_escalation, settings_for
from .hours import HolidayCalendar, on_shift
from .match import Matcher
from .model import LoadedPolicy, Override, Owner, Route
from .schedule import on_call

__all__ = ["NoLoads", "RouteDecision", "RoutingEngine", "settings_for"]


@dataclass
class RouteDecision:
    routing: Routing
    assignment: Assignment
    released_from: str | None = None
    """The previous owner whose load this issue leaves, when it changed hands."""
    duplicate: bool = False


@dataclass
class NoLoads:
    """Loads for decisions made without state (``policy explain``): nobody holds anything."""

    def load(self, owner_id: str, now: datetime) -> tuple[int, datetime | None]:
        return 0, None


@dataclass
class RoutingEngine:
    loaded: LoadedPolicy

    def __post_init__(self) -> None:
        policy = self.loaded.policy
        self.ical_overrides: Mapping[str, Sequence[Override]] = self.loaded.ical_overrides
        self.policy = policy
        self.zone = ZoneInfo(policy.timezone)
        self.calendar = HolidayCalendar(policy.holidays)
        self.matcher = Matcher(policy, self.calendar)
        self.owners = {o.id: o for o in policy.owners}
        self.teams = {t.id: t for t in policy.teams}
        self.schedules = {s.id: s for s in policy.schedules}
        self.release_after = timedelta(seconds=policy.ownership.release_after)
        self.members = {
            t.id: sorted((o for o in policy.owners if t.id in o.teams), key=lambda o: o.id)
            for t in policy.teams
        }
        self.settings = {
            route.name: settings_for(effective_escalation(route, policy.escalation), route, policy)
            for route in policy.routes
        }

    # -- routes ------------------------------------------------------------------------

    def select(self, event: ContactEvent) -> tuple[Route, list[str], list[str]]:
        """The deciding route, the page targets of every matched route, and the reasons."""
        reasons: list[str] = []
        targets: list[str] = []
        chosen: Route | None = None
        for route in self.policy.routes:
            misses = self.matcher.misses(route.match, event)
            if misses:
                reasons.append(f"route {route.name}: no ({'; '.join(misses)})")
                continue
            reasons.append(f"route {route.name}: matched")
            targets += [t for t in route.targets if t not in targets]
            chosen = chosen or route
            if not route.continue_:
                break
        assert chosen is not None, "validated policies end with a catch-all route"
        return chosen, targets, reasons

    # -- owners ------------------------------------------------------------------------

    def _members(self, team_id: str) -> list[Owner]:
        return self.members.get(team_id, [])

    def on_call(self, schedule_id: str, now: datetime) -> list[str]:
        schedule = self.schedules[schedule_id]
        extra = self.ical_overrides.get(schedule_id, ())
        return on_call(schedule, now, self.zone, extra)

    def _pool(self, route: Route, now: datetime) -> list[tuple[Owner, str | None]]:
        """Everyone who could own contacts on ``route``, with why they are unavailable now."""
        if route.schedule is not None:
            ids = self.on_call(route.schedule, now)
            return [(self.owners[i], None) for i in ids if i in self.owners]
        assert route.team is not None
        team = self.teams[route.team]
        on_duty = set(self.on_call(team.schedule, now)) if team.schedule else set()
        return [
            (
                o,
                None
                if o.id in on_duty or on_shift(o, now, self.zone, self.calendar)
                else "off shift",
            )
            for o in self._members(route.team)
        ]

    def _team_of(self, route: Route, owner: Owner) -> str:
        if route.team is not None and route.team in owner.teams:
            return route.team
        return owner.teams[0]

    def _fallback(
        self,
        route: Route,
        pool: Iterable[tuple[Owner, str | None]],
        required: int,
        loads: Loads,
        now: datetime,
    ) -> tuple[Owner, list[str]]:
        fallback = route.fallback
        if fallback is not None and fallback.owner is not None:
            return self.owners[fallback.owner], [f"fallback owner {fallback.owner}"]
        if fallback is not None and fallback.team is not None:
            team_pool = [
                (o, None if on_shift(o, now, self.zone, self.calendar) else "off shift")
                for o in self._members(fallback.team)
            ]
            owner, notes = choose(team_pool, route, required, loads, now)
            if owner is not None:
                return owner, [f"fallback team {fallback.team}", *notes]
            pool = team_pool
        members = [o for o, _ in pool] or self._members(route.team or "")
        if not members:
            members = list(self.owners.values())
        best = max(members, key=lambda o: (o.authority, o.id))
        return best, [f"no eligible owner: most empowered {best.id} (authority {best.authority})"]

    # -- the decision ------------------------------------------------------------------

    def decide(
        self, event: ContactEvent, now: datetime, current: Assignment | None, loads: Loads
    ) -> RouteDecision:
        route, targets, reasons = self.select(event)
        required = required_authority(route, event)
        owner, sticky, fallback, released = None, False, False, None
        if current is not None and event.event_id in current.seen:
            owner = self.owners.get(current.owner)
        if current is not None and owner is None:
            kept = self.owners.get(current.owner)
            why = "no longer in the policy" if kept is None else qualifies(kept, route, required)
            if kept is not None and why is None:
                owner, sticky = kept, True
                reasons.append(
                    f"sticky: {kept.id} has owned this issue since "
                    f"{current.assigned_at.isoformat()}"
                )
            else:
                released = current.owner
                reasons.append(f"reassigned from {current.owner}: {why}")
        if owner is None:
            pool = self._pool(route, now)
            owner, notes = choose(pool, route, required, loads, now)
            reasons += notes
            if owner is None:
                fallback = True
                owner, notes = self._fallback(route, pool, required, loads, now)
                reasons += [f"fallback: {n}" for n in notes]
        return self._build(
            event,
            now,
            route,
            owner,
            required,
            targets,
            reasons,
            current,
            sticky=sticky,
            fallback=fallback,
            released=released,
        )

    def _build(
        self,
        event: ContactEvent,
        now: datetime,
        route: Route,
        owner: Owner,
        required: int,
        targets: list[str],
        reasons: list[str],
        current: Assignment | None,
        *,
        sticky: bool,
        fallback: bool,
        released: str | None,
    ) -> RouteDecision:
        team = self._team_of(route, owner)
        for target in (*owner.targets, *self.teams[team].targets):
            if target not in targets:
                targets.append(target)
        token = seen_token(event.event_id)
        duplicate = current is not None and token in current.seen
        keep = current if current is not None and current.owner == owner.id else None
        seen = current.seen if current is not None else []
        if not duplicate:
            seen = remember(seen, token)
        # Every value is already validated: construct both without validating again.
        assignment = trusted(
            Assignment,
            customer_id=event.customer.id,
            issue_id=event.issue_id,
            owner=owner.id,
            team=team,
            route=route.name,
            assigned_at=keep.assigned_at if keep else now,
            last_contact_at=max(now, current.last_contact_at) if current else now,
            open=True,
            seen=seen,
        )
        routing = trusted(
            Routing,
            route=route.name,
            owner=owner.id,
            team=team,
            authority_required=required,
            authority_held=owner.authority,
            fallback=fallback,
            sticky=sticky,
            reassigned_from=released,
            reasons=reasons,
            targets=targets,
            escalation=self.settings[route.name],
            policy_version=self.loaded.version,
            routed_at=now,
        )
        return RouteDecision(routing, assignment, released, duplicate)
