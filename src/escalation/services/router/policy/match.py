"""Pure routing decision: (policy, event, now) -> Routing. No Kafka, HTTP or clock inside."""

from __future__ import annotations

from datetime import datetime

from escalation.schemas import ContactEvent, EscalationSettings, Routing

from .load import LoadedPolicy
from .model import Match, Owner, Policy, Route


def _category_matches(prefixes: list[str], category: str) -> bool:
    return any(category == p or category.startswith(p + ".") for p in prefixes)


def match_reasons(match: Match, event: ContactEvent) -> list[str]:
    """Why ``match`` does not match ``event``: empty when it matches."""
    misses = []
    if match.tier is not None and event.customer.tier not in match.tier:
        misses.append(f"customer.tier {event.customer.tier} not in {match.tier}")
    if match.channel is not None and event.channel not in match.channel:
        misses.append(f"channel {event.channel} not in {match.channel}")
    if match.category is not None and not _category_matches(match.category, event.category):
        misses.append(f"category {event.category} not under {match.category}")
    if match.product is not None and event.product not in match.product:
        misses.append(f"product {event.product} not in {match.product}")
    if match.urgency is not None and event.urgency not in match.urgency:
        misses.append(f"urgency {event.urgency} not in {match.urgency}")
    return misses


def choose_owner(policy: Policy, route: Route) -> tuple[Owner, bool, list[str]]:
    """The first eligible member of the route's team by id; else the most empowered member."""
    members = sorted((o for o in policy.owners if route.team in o.teams), key=lambda o: o.id)
    skipped = []
    for owner in members:
        if owner.authority < route.min_authority:
            skipped.append(f"{owner.id}: authority {owner.authority} < {route.min_authority}")
            continue
        missing = [s for s in route.skills if s not in owner.skills]
        if missing:
            skipped.append(f"{owner.id}: lacks skills {missing}")
            continue
        return owner, False, skipped
    best = max(members, key=lambda o: (o.authority, o.id))
    return best, True, skipped


def route_contact(loaded: LoadedPolicy, event: ContactEvent, now: datetime) -> Routing:
    policy = loaded.policy
    reasons: list[str] = []
    chosen: Route | None = None
    targets: list[str] = []
    for route in policy.routes:
        misses = match_reasons(route.match, event)
        if misses:
            reasons.append(f"route {route.name}: no ({'; '.join(misses)})")
            continue
        reasons.append(f"route {route.name}: matched")
        targets += [t for t in route.targets if t not in targets]
        if chosen is None:
            chosen = route
        if not route.continue_:
            break
    assert chosen is not None, "validated policies end with a catch-all route"
    owner, fallback, skipped = choose_owner(policy, chosen)
    reasons += [f"owner skipped {s}" for s in skipped]
    if fallback:
        reasons.append(f"fallback: no eligible owner, chose most empowered {owner.id}")
    team = next(t for t in policy.teams if t.id == chosen.team)
    for t in (*owner.targets, *team.targets):
        if t not in targets:
            targets.append(t)
    esc = chosen.escalation or policy.escalation
    return Routing(
        route=chosen.name,
        owner=owner.id,
        team=team.id,
        authority_required=chosen.min_authority,
        authority_held=owner.authority,
        fallback=fallback,
        reasons=reasons,
        targets=targets,
        escalation=EscalationSettings(
            repeat_threshold=esc.repeat_threshold,
            repeat_window_seconds=esc.repeat_window,
            page_on_critical=esc.page_on_critical,
        ),
        policy_version=loaded.version,
        routed_at=now,
    )
