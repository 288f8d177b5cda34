"""Pure surge decisions: (product state, report or tick, now) -> SurgeDecision.

No Kafka or clock inside, so the live surge service and ``policy replay`` share them.
A report counts its customer in the product's window; a surge opens when the count
passes the rule's threshold and its ratio to the product's baseline, takes in every
further customer (``surge.updated`` when one is new) and closes ``close_after`` after
the last new customer, by a tick. Every record's id derives from the state (the
surge's sequence, its update count), so a report read again yields the same records,
and counting is by sets, so it counts once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from escalation.schemas.affected import AFFECTED_SHOWN, Affected, IssueRef
from escalation.schemas.identity import issue_digest, make_escalation_id
from escalation.schemas.surge import (
    Control,
    ProductReport,
    ProductTick,
    SurgeControl,
    SurgeEvent,
    SurgeSettings,
)
from escalation.schemas.surge_state import Distinct, OpenSurge, ProductState, Reporter

from .distinct import add, count, token
from .window import counted, folded, noted, surging

MAX_SURGE_CUSTOMER = 128


@dataclass
class SurgeDecision:
    state: ProductState
    events: list[SurgeEvent] = field(default_factory=list)
    controls: list[Control] = field(default_factory=list)
    outcome: str = "counted"
    """counted | opened | updated | joined | closed | stale | early | old"""
    count: int = 0


def new_state(report: ProductReport) -> ProductState:
    rule = report.settings.rule
    return ProductState(key=report.key, rule=rule, value=report.value)


def surge_customer(rule: str, value: str) -> str:
    """The surge's own key (and the escalation's customer id): readable when it fits."""
    name = f"surge:{rule}:{value}"
    if len(name) <= MAX_SURGE_CUSTOMER and name.isprintable():
        return name
    return f"surge:{rule}:{issue_digest(rule, value)}"


def decide_report(
    state: ProductState | None, report: ProductReport, now: datetime
) -> SurgeDecision:
    settings = report.settings
    state = folded(state or new_state(report), settings, now)
    digest = token(report.customer_id)
    # Counted when seen, not at its occurred_at: a surge is about what is reported now, and
    # a history replayed is seen at each contact's own time (docs/decisions.md).
    state, fresh = noted(state, settings, digest, now, now)
    if fresh:
        state = _remember(state, report, now, settings)
    total = counted(state, settings, now)
    if state.surge is not None:
        return _join(state, report, now, total)
    if not fresh or not surging(total, state.baseline, settings):
        return SurgeDecision(state, outcome="counted" if fresh else "old", count=total)
    return _open(state, report, now, total)


def _remember(
    state: ProductState, report: ProductReport, now: datetime, settings: SurgeSettings
) -> ProductState:
    since = now - timedelta(seconds=settings.window_seconds)
    recent = [r for r in state.recent if r.at > since and r.customer_id != report.customer_id]
    mark = Reporter(customer_id=report.customer_id, issue_id=report.issue_id, at=now)
    return state.model_copy(update={"recent": [*recent, mark][-AFFECTED_SHOWN:]})


def _open(state: ProductState, report: ProductReport, now: datetime, total: int) -> SurgeDecision:
    settings = report.settings
    seq = state.seq + 1
    customer = surge_customer(settings.rule, state.value)
    issue_id = issue_digest(customer, f"surge#{seq}")
    customers, issues = Distinct(), Distinct()
    for reporter in state.recent:
        customers, _ = add(customers, token(reporter.customer_id))
        issues, _ = add(issues, token(f"{reporter.customer_id}/{reporter.issue_id}"))
    affected = Affected(
        rule=settings.rule,
        by=settings.by,
        value=state.value,
        customers=[r.customer_id for r in state.recent],
        customer_count=max(total, count(customers)),
        issues=[IssueRef(customer_id=r.customer_id, issue_id=r.issue_id) for r in state.recent],
        issue_count=count(issues),
    )
    surge = OpenSurge(
        surge_id=make_escalation_id(customer, issue_id, 1),
        customer_id=customer,
        issue_id=issue_id,
        opened_at=now,
        last_new_at=now,
        close_due=now + timedelta(seconds=settings.close_after_seconds),
        customers=customers,
        issues=issues,
        affected=affected,
        settings=settings,
        category=report.category,
        product=report.product,
        baseline=state.baseline,
    )
    state = state.model_copy(update={"seq": seq, "surge": surge, "version": state.version + 1})
    hours = settings.window_seconds / 3600
    reason = (
        f"surge.opened: {affected.customer_count} customers reported {settings.by} "
        f"{state.value} within {hours:g}h (baseline {state.baseline:.1f} per window, "
        f"threshold {settings.threshold}, ratio {settings.ratio:g})"
    )
    event = _event("surge.opened", surge, now, reason, f"opened:{seq}")
    return SurgeDecision(state, [event], [_control(surge, True, now)], "opened", total)


def _join(state: ProductState, report: ProductReport, now: datetime, total: int) -> SurgeDecision:
    surge = state.surge
    assert surge is not None
    customers, new_customer = add(surge.customers, token(report.customer_id))
    issues, new_issue = add(surge.issues, token(f"{report.customer_id}/{report.issue_id}"))
    if not new_customer and not new_issue:
        return SurgeDecision(state, outcome="joined", count=total)
    affected = surge.affected
    names = affected.customers
    if new_customer and len(names) < AFFECTED_SHOWN and report.customer_id not in names:
        names = [*names, report.customer_id]
    refs = affected.issues
    ref = IssueRef(customer_id=report.customer_id, issue_id=report.issue_id)
    if new_issue and len(refs) < AFFECTED_SHOWN and ref not in refs:
        refs = [*refs, ref]
    affected = affected.model_copy(
        update={
            "customers": names,
            "customer_count": max(count(customers), affected.customer_count),
            "issues": refs,
            "issue_count": max(count(issues), affected.issue_count),
        }
    )
    update: dict[str, object] = {"customers": customers, "issues": issues, "affected": affected}
    version = state.version
    if new_customer:
        close_after = timedelta(seconds=surge.settings.close_after_seconds)
        update |= {"last_new_at": now, "close_due": now + close_after}
        version += 1
    update["updates"] = surge.updates + 1
    surge = surge.model_copy(update=update)
    state = state.model_copy(update={"surge": surge, "version": version})
    reason = (
        f"surge.updated: {affected.customer_count} customers, {affected.issue_count} issues "
        f"on {affected.by} {affected.value}"
    )
    event = _event("surge.updated", surge, now, reason, f"updated:{surge.updates}")
    return SurgeDecision(state, [event], [], "updated", total)


def decide_close(state: ProductState | None, tick: ProductTick, now: datetime) -> SurgeDecision:
    """A tick closes the product's surge once ``close_after`` passed with no new customer."""
    if state is None or state.surge is None or tick.version != state.version:
        return SurgeDecision(
            state or ProductState(key=tick.key, rule="", value=""), outcome="stale"
        )
    surge = state.surge
    if now < surge.close_due:
        return SurgeDecision(state, outcome="early")
    quiet = int((surge.close_due - surge.last_new_at).total_seconds())
    reason = f"surge.closed: no new customer reported {surge.affected.value} for {quiet}s"
    event = _event("surge.closed", surge, now, reason, f"closed:{state.seq}")
    state = state.model_copy(update={"surge": None, "version": state.version + 1})
    return SurgeDecision(state, [event], [_control(surge, False, now)], "closed")


def close_due(state: ProductState) -> datetime | None:
    return state.surge.close_due if state.surge is not None else None


def _event(kind: str, surge: OpenSurge, now: datetime, reason: str, cause: str) -> SurgeEvent:
    return SurgeEvent(
        type=kind,  # type: ignore[arg-type]
        surge_id=surge.surge_id,
        customer_id=surge.customer_id,
        issue_id=surge.issue_id,
        at=now,
        opened_at=surge.opened_at,
        reason=reason,
        category=surge.category,
        product=surge.product,
        affected=surge.affected,
        baseline=surge.baseline,
        settings=surge.settings,
        cause_id=f"{surge.surge_id}:{cause}",
    )


def _control(surge: OpenSurge, active: bool, now: datetime) -> Control:
    settings = surge.settings
    return Control(
        id=surge.surge_id,
        kind="surge",
        active=active,
        at=now,
        surge=SurgeControl(
            rule=settings.rule,
            by=settings.by,
            value=surge.affected.value,
            exempt=settings.exempt,
            on_close=settings.on_close,
            opened_at=surge.opened_at,
            closed_at=None if active else now,
        ),
    )
