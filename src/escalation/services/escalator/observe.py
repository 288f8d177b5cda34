"""What one decision tells the operators: the domain metrics and one canonical log line.

Called once per input the agent handled, with the state before and the decision, so the
figures come from the same pure decisions the escalation follows (``rules.py``,
``commands.py``, ``timers.py``) and the agent's loop needs one call, wherever it lives.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import structlog

from escalation.schemas import EscalationCommand, EscalationEvent, RoutedContact
from escalation.schemas.state import IssueState
from escalation.services.common.metrics import BoundedLabel

from .effects import Decision
from .metrics import EscalatorMetrics

log = structlog.get_logger("escalation.services.escalator.app")

RAISING = frozenset({"opened", "reopened", "stepped"})
REASONS = {
    "urgency": "urgency",
    "repeat": "repeat",
    "deadline": "deadline",
    "eta": "eta_missed",
    "ladder.ack_timeout": "ack_timeout",
    "ladder.step": "ladder_step",
    "ladder.repeat": "ladder_repeat",
    "reopened.csat": "csat",
    "reopened.sentiment": "sentiment",
    "reopened.contact": "contact",
    "reopened.command": "command",
    "reassigned": "reassigned",
    "surge": "surge",
}
"""A reason's leading words (``ladder.ack_timeout: level 1 ...``) -> its bounded label."""
QUIET = frozenset({"recorded", "grouped", "duplicate"})
"""Outcomes logged at DEBUG: an input that changed no escalation."""
NOT_APPLIED = frozenset({"unknown", "stale", "refused", "ignored"})
"""Command outcomes that change nothing: logged as a warning, with the reason."""


def reason_label(reason: str) -> str:
    """The bounded ``reason`` label of a record's free-text reason; ``other`` if unknown."""
    head = reason.split(":", 1)[0].split(";", 1)[0].strip()
    if head in REASONS:
        return REASONS[head]
    return REASONS.get(head.split(".", 1)[0], "other")


class Observer:
    def __init__(self, metrics: EscalatorMetrics) -> None:
        self.metrics = metrics
        self.teams = BoundedLabel()
        self.categories = BoundedLabel()
        self._bound: Any = None

    def _logger(self) -> Any:
        """The module's logger, bound once where structlog caches loggers anyway: asked
        through its lazy proxy, every input paid for a bind."""
        if self._bound is not None:
            return self._bound
        bound = log.bind()
        if structlog.is_configured() and structlog.get_config()["cache_logger_on_first_use"]:
            self._bound = bound
        return bound

    def decided(
        self,
        kind: str,
        before: IssueState | None,
        decision: Decision,
        now: datetime,
        contact: RoutedContact | None = None,
        command: EscalationCommand | None = None,
    ) -> None:
        """Count what ``decision`` did and log it: one line per input."""
        m = self.metrics
        m.outcome(kind, decision.outcome).inc()
        if decision.due is not None:
            m.lateness.observe(max(0.0, (now - decision.due).total_seconds()))
        if decision.outcome == "duplicate":
            return self._log(kind, before, decision, contact, command)
        if contact is not None:
            self._contact(before, decision, now, contact)
        for record in decision.escalations:
            self._record(before, record, now)
        self._log(kind, before, decision, contact, command)

    def _contact(
        self, before: IssueState | None, decision: Decision, now: datetime, contact: RoutedContact
    ) -> None:
        m = self.metrics
        if contact.csat is not None or contact.channel == "survey":
            m.contact_kind("survey").inc()
            if contact.csat is not None and before is not None and before.status == "resolved":
                m.csat.observe(contact.csat)
        else:
            state = decision.state
            repeat = state is not None and len(state.contacts) > 1
            m.contact_kind("repeat" if repeat else "first").inc()
        if decision.pages:
            m.contact_to_page.observe(max(0.0, (now - contact.occurred_at).total_seconds()))

    def _record(self, before: IssueState | None, record: EscalationEvent, now: datetime) -> None:
        m = self.metrics
        if record.type in RAISING:
            m.raised_by(record.type, reason_label(record.reason)).inc()
            return
        opened = before.opened_at if before is not None else None
        team = self.teams(record.team)
        if record.type == "acked" and before is not None and before.status in ("open", "reopened"):
            since = before.level_at if before.status == "reopened" else opened
            if since is not None:
                m.time_to_ack.labels(team).observe(max(0.0, (now - since).total_seconds()))
        elif record.type == "resolved":
            if opened is not None:
                m.time_to_resolve.labels(team).observe(max(0.0, (now - opened).total_seconds()))
            contacts = (
                "one" if before is not None and len(before.escalation_contacts) <= 1 else "several"
            )
            m.resolutions.labels(
                self.categories(record.category), record.cause or "none", contacts
            ).inc()

    def _log(
        self,
        kind: str,
        before: IssueState | None,
        decision: Decision,
        contact: RoutedContact | None,
        command: EscalationCommand | None,
    ) -> None:
        state = decision.state or before
        level, name = logging.INFO, "escalator.decided"
        if decision.outcome in QUIET and not decision.escalations:
            level = logging.DEBUG
        elif command is not None and decision.outcome in NOT_APPLIED:
            level, name = logging.WARNING, "escalator.command_not_applied"  # docs/contract.md
        logger = self._logger()
        if not logger.is_enabled_for(level):
            return  # most inputs at the usual levels: their fields are not even gathered
        logger.log(
            level,
            name,
            input=kind,
            outcome=decision.outcome,
            event_id=contact.event_id if contact is not None else None,
            command_id=command.command_id if command is not None else None,
            action=command.action if command is not None else None,
            escalation_id=(
                command.escalation_id
                if command is not None
                else state.escalation_id
                if state is not None
                else None
            ),
            issue=state.issue_id if state is not None else None,
            route=contact.routing.route if contact is not None else None,
            owner=state.owner if state is not None else None,
            escalation_level=state.level if state is not None else None,
            records=[r.type for r in decision.escalations] or None,
            pages=len(decision.pages) or None,
            why=decision.note,
        )
