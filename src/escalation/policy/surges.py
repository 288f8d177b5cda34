"""Surge rules: which routed contacts each counts, under what key, with what settings.

Pure, built from one loaded policy. A contact counts under every rule that matches it
(its ``match``, as a route's, and its ``routes``) and has the rule's key: a contact with
no product is not counted by a ``by: product`` rule. ``surge_errors`` is what
``policy check`` says of the ``surges`` block.
"""

from __future__ import annotations

from escalation.schemas import ContactEvent
from escalation.schemas.surge import ProductReport, SurgeSettings

from .escalation import _ladder_errors, effective_escalation, settings_for
from .hours import HolidayCalendar
from .match import Matcher
from .model import LoadedPolicy, Policy, Route, SurgeRule
from .surge_screen import Fields, SurgeScreen


class SurgeRules:
    def __init__(self, loaded: LoadedPolicy) -> None:
        policy = loaded.policy
        self.rules = list(policy.surges)
        self.matcher = Matcher(policy, HolidayCalendar(policy.holidays))
        self.settings = {
            rule.name: surge_settings(rule, policy, loaded.version) for rule in self.rules
        }
        self.screen = SurgeScreen(self.rules)

    def may_count(self, fields: Fields) -> bool:
        """False when no rule can count the routed contact with these raw members
        (``surge_screen.py``): it need not be decoded."""
        return self.screen.may_count(fields)

    def matches(self, contact: ContactEvent, route: str) -> list[tuple[SurgeSettings, str]]:
        """(settings, counted value) of every rule that counts this contact, routed so."""
        found = []
        for rule in self.rules:
            value = contact.product if rule.by == "product" else contact.category
            if value is None:
                continue
            if rule.routes is not None and route not in rule.routes:
                continue
            if self.matcher.misses(rule.match, contact):
                continue
            found.append((self.settings[rule.name], value))
        return found

    def reports(self, contact: ContactEvent, route: str) -> list[ProductReport]:
        """The contact as each rule that counts it reports it, keyed ``<rule>/<value>``."""
        return [
            ProductReport(
                key=f"{settings.rule}/{value}",
                value=value,
                event_id=contact.event_id,
                customer_id=contact.customer.id,
                customer_tier=contact.customer.tier,
                issue_id=contact.issue_id,
                category=contact.category,
                product=contact.product,
                urgency=contact.urgency,
                occurred_at=contact.occurred_at,
                settings=settings,
            )
            for settings, value in self.matches(contact, route)
        ]


def surge_owner(rule: SurgeRule, policy: Policy) -> str:
    """The rule's owner, else the most senior owner of its team (first listed on a tie)."""
    if rule.owner is not None:
        return rule.owner
    members = [o for o in policy.owners if rule.team in o.teams]
    return max(members, key=lambda o: o.authority).id if members else rule.team


def surge_settings(rule: SurgeRule, policy: Policy, version: str) -> SurgeSettings:
    owner = surge_owner(rule, policy)
    team = next((t for t in policy.teams if t.id == rule.team), None)
    person = next((o for o in policy.owners if o.id == owner), None)
    targets = [*(team.targets if team else []), *(person.targets if person else [])]
    # The surge escalates like an issue of a route that sends it to its team.
    route = Route(name=f"surge-{rule.name}", team=rule.team, escalation=rule.escalation)
    escalation = effective_escalation(route, policy.escalation)
    return SurgeSettings(
        rule=rule.name,
        by=rule.by,
        threshold=rule.customers,
        window_seconds=rule.window,
        ratio=rule.ratio,
        half_life_seconds=rule.baseline_half_life,
        close_after_seconds=rule.close_after or rule.window,
        exempt=list(rule.exempt),
        on_close=rule.on_close,
        team=rule.team,
        owner=owner,
        targets=list(dict.fromkeys(targets)),
        escalation=settings_for(escalation, route, policy),
        policy_version=version,
    )


def surge_errors(policy: Policy) -> list[str]:
    """Every problem of the ``surges`` block, each with its path in the file."""
    errors: list[str] = []
    teams = {t.id for t in policy.teams}
    routes = {r.name for r in policy.routes}
    schedules = {s.id for s in policy.schedules}
    owners = {o.id: o for o in policy.owners}
    names: set[str] = set()
    for i, rule in enumerate(policy.surges):
        where = f"surges[{i}]"
        if rule.name in names:
            errors.append(f"{where}: duplicate name {rule.name!r}")
        names.add(rule.name)
        if rule.team not in teams:
            errors.append(f"{where}.team: unknown team {rule.team!r}")
        if rule.owner is not None:
            owner = owners.get(rule.owner)
            if owner is None:
                errors.append(f"{where}.owner: unknown owner {rule.owner!r}")
            elif rule.team not in owner.teams:
                errors.append(f"{where}.owner: {rule.owner!r} is not in team {rule.team!r}")
        errors += [
            f"{where}.routes: unknown route {r!r}" for r in rule.routes or () if r not in routes
        ]
        errors += _ladder_needs(where, rule, policy, schedules)
    return errors


def _ladder_needs(where: str, rule: SurgeRule, policy: Policy, schedules: set[str]) -> list[str]:
    """The surge's ladder: checked as written, and for what its steps need of the team."""
    errors = []
    if rule.escalation is not None:
        errors += _ladder_errors(f"{where}.escalation", rule.escalation, schedules)
    route = Route(name="surge", team=rule.team, escalation=rule.escalation)
    for j, step in enumerate(effective_escalation(route, policy.escalation).ladder):
        at = f"{where}.escalation.ladder[{j}].notify"
        if step.notify == "fallback":
            errors.append(f"{at}: a surge has no fallback; page a team or a schedule")
        unnamed = step.notify == "schedule" and step.schedule is None
        if unnamed and _team_schedule(policy, rule.team) is None:
            errors.append(
                f"{at}: schedule, but team {rule.team!r} has none: name one (schedule: <id>)"
            )
    return errors


def _team_schedule(policy: Policy, team_id: str) -> str | None:
    team = next((t for t in policy.teams if t.id == team_id), None)
    return team.schedule if team is not None else None
