"""Each route's escalation settings, and the checks a ladder must pass, with their paths.

A route's ``escalation`` overrides only the fields it names; the rest come from the
top-level ``escalation``. A ladder is checked where it is written, and every route that
uses it is checked for what its steps need (a schedule to page, a fallback).
"""

from __future__ import annotations

from escalation.schemas import EscalationSettings, LadderStep
from escalation.schemas.state import Notify

from .model import Escalation, Policy, Route, Step


def effective_escalation(route: Route, default: Escalation) -> Escalation:
    """The route's escalation: the fields it names over the top-level ones."""
    if route.escalation is None:
        return default
    named = {name: getattr(route.escalation, name) for name in route.escalation.model_fields_set}
    return default.model_copy(update=named)


def settings_for(
    escalation: Escalation, route: Route | None = None, policy: Policy | None = None
) -> EscalationSettings:
    """What a route hands the escalator; a ladder's schedule and fallback steps name ids
    from the route (``policy check`` has made sure every one resolves)."""
    return EscalationSettings(
        repeat_threshold=escalation.repeat_threshold,
        repeat_window_seconds=escalation.repeat_window,
        page_on_critical=escalation.page_on_critical,
        ack_timeout_seconds=escalation.ack_timeout,
        ladder=[_ladder_step(step, route, policy) for step in escalation.ladder],
        reopen_window_seconds=escalation.reopen_window,
        followup_after_seconds=escalation.followup_after,
        followup_in_customer_hours=escalation.followup_in_customer_hours,
        reopen_csat=escalation.reopen_csat,
        reopen_sentiment=escalation.reopen_sentiment,
        deadline_lead_seconds=escalation.deadline_lead,
    )


def _ladder_step(step: Step, route: Route | None, policy: Policy | None) -> LadderStep:
    notify: Notify = "owner" if step.notify == "owner" else "team"
    to: str | None = None
    if step.notify == "schedule":
        notify = "schedule"
        to = step_schedule(step, route, policy) if route and policy else step.schedule
    elif step.notify == "fallback":
        fallback = route.fallback if route is not None else None
        notify = "fallback_owner" if fallback and fallback.owner else "fallback_team"
        to = fallback.owner or fallback.team if fallback else None
    if notify != "owner" and notify != "team" and to is None:
        raise ValueError(f"ladder step notify {step.notify} names nobody on this route")
    return LadderStep(
        after_seconds=step.after,
        notify=notify,
        to=to,
        repeat=step.repeat,
        every_seconds=step.every,
    )


def step_schedule(step: Step, route: Route, policy: Policy) -> str | None:
    """The schedule a ``notify: schedule`` step pages: its own, the route's, its team's."""
    if step.schedule is not None:
        return step.schedule
    if route.schedule is not None:
        return route.schedule
    team = next((t for t in policy.teams if t.id == route.team), None)
    return team.schedule if team is not None else None


def _ladder_errors(where: str, escalation: Escalation, schedules: set[str]) -> list[str]:
    errors = []
    for j, step in enumerate(escalation.ladder):
        at = f"{where}.ladder[{j}]"
        if j and step.after <= escalation.ladder[j - 1].after:
            errors.append(f"{at}.after: must be later than the step before it")
        if step.repeat and step.every is None:
            errors.append(f"{at}.every: required when repeat is set")
        if step.every is not None and not step.repeat:
            errors.append(f"{at}.repeat: every is set, so say how many further pages (repeat)")
        if step.schedule is not None and step.notify != "schedule":
            errors.append(f"{at}.schedule: only for notify: schedule")
        if step.schedule is not None and step.schedule not in schedules:
            errors.append(f"{at}.schedule: unknown schedule {step.schedule!r}")
    return errors


def _route_needs(where: str, used_by: str, route: Route, policy: Policy) -> list[str]:
    """What this route's ladder asks of the route: a schedule to page, a fallback."""
    errors = []
    ladder = effective_escalation(route, policy.escalation).ladder
    for j, step in enumerate(ladder):
        at = f"{where}.ladder[{j}].notify"
        if step.notify == "schedule" and step_schedule(step, route, policy) is None:
            errors.append(
                f"{at}: schedule, but route {route.name!r} has no schedule and its team "
                f"{route.team!r} none{used_by}: name one (schedule: <id>)"
            )
        if step.notify == "fallback" and route.fallback is None:
            errors.append(f"{at}: fallback, but route {route.name!r} has no fallback{used_by}")
    return errors


def escalation_errors(policy: Policy) -> list[str]:
    """Every problem of every ladder, each with its path in the file."""
    schedules = {s.id for s in policy.schedules}
    errors = _ladder_errors("escalation", policy.escalation, schedules)
    for i, route in enumerate(policy.routes):
        own = route.escalation is not None and "ladder" in route.escalation.model_fields_set
        if route.escalation is not None:
            errors += _ladder_errors(f"routes[{i}].escalation", route.escalation, schedules)
        if own:
            errors += _route_needs(f"routes[{i}].escalation", "", route, policy)
        else:
            errors += _route_needs("escalation", f" (routes[{i}] uses it)", route, policy)
    return errors


def customer_hours_errors(policy: Policy) -> list[str]:
    """Follow-ups asked to wait for the customer's hours in a policy that names none."""
    if policy.quiet_hours is not None and policy.quiet_hours.customer is not None:
        return []
    places = [("escalation", policy.escalation)] + [
        (f"routes[{i}].escalation", route.escalation)
        for i, route in enumerate(policy.routes)
        if route.escalation is not None
    ]
    return [
        f"{where}.followup_in_customer_hours: the customer's hours are not set; "
        f"add quiet_hours.customer (hours, in each customer's time zone)"
        for where, escalation in places
        if escalation.followup_in_customer_hours
    ]


def escalation_warnings(policy: Policy) -> list[str]:
    """Settings that validate but do nothing: an ack timeout with no ladder to climb."""
    places = [("escalation", policy.escalation)] + [
        (f"routes[{i}].escalation", effective_escalation(route, policy.escalation))
        for i, route in enumerate(policy.routes)
        if route.escalation is not None and "ack_timeout" in route.escalation.model_fields_set
    ]
    return [
        f"{where}.ack_timeout: no ladder to climb, so it does nothing"
        for where, escalation in places
        if escalation.ack_timeout is not None and not escalation.ladder
    ]
