"""Silences and quiet hours in ``policy replay``: the escalator's holds over a history.

Every decision replay makes (a contact, a command, a timer, a surge record) goes through
the same ``apply_holds`` the live escalator applies after each decision, with the policy
file's silences and maintenance windows in force at that decision's own time and the
policy's quiet hours. So a page a silence would have held waits here too; the end of its
wait is a deadline like any other, which the replayed timers fire, and the page is then
released, dropped or replaced as it would be live. Silences made through the HTTP API
are not part of a recorded history: only the file's count.

``HoldReport`` reads the records ``apply_holds`` writes (``page.held``,
``page.released``, ``page.dropped``): per silence and for quiet hours, how many pages
each held, released and dropped, and for each page until when it waited and how its
wait ended.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from escalation.policy import LoadedPolicy
from escalation.policy.quiet import QuietRules
from escalation.policy.silencing import PolicySilences
from escalation.schemas import ContactEvent, EscalationEvent
from escalation.schemas.state import IssueState
from escalation.services.escalator.holds import apply_holds
from escalation.services.escalator.rules import Decision

QUIET_HOURS = "quiet hours"
"""What holds a page no silence holds (silence ids have no spaces)."""
OUTCOMES = ("held", "released", "dropped", "superseded", "waiting")


@dataclass
class HeldPage:
    """One page a silence or quiet hours held or dropped, and how that ended."""

    page_id: str
    escalation_id: str
    customer_id: str
    level: int
    held_by: str
    held_at: datetime
    until: datetime | None = None
    outcome: str = "waiting"
    """waiting (still held when the history ends), released, dropped or superseded."""
    ended_at: datetime | None = None
    why: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "page_id": self.page_id,
            "escalation_id": self.escalation_id,
            "customer_id": self.customer_id,
            "level": self.level,
            "held_by": self.held_by,
            "held_at": self.held_at.isoformat(),
            "until": self.until.isoformat() if self.until else None,
            "outcome": self.outcome,
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
            "why": self.why,
        }


@dataclass
class HoldReport:
    """Held, released and dropped pages, per silence and for quiet hours."""

    pages: dict[str, HeldPage] = field(default_factory=dict)
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    holders: dict[str, set[str]] = field(default_factory=dict)
    """page id -> everything that held it at some time (each counts it once as held)."""

    def note(self, record: EscalationEvent) -> None:
        page_id = record.page_id
        if page_id is None:
            return
        if record.type == "page.held":
            self._held(page_id, record)
        elif record.type == "page.released":
            self._ended(page_id, record, "released")
        elif record.type == "page.dropped" and record.silence_id is not None:
            if page_id not in self.pages:  # dropped at once: it never waited
                self.pages[page_id] = _page(record, record.silence_id)
            self.pages[page_id].held_by = record.silence_id
            self._ended(page_id, record, "dropped")
        elif record.type == "page.dropped":
            self._ended(page_id, record, "superseded")

    def _held(self, page_id: str, record: EscalationEvent) -> None:
        holder = record.silence_id or QUIET_HOURS
        known = self.pages.get(page_id)
        if known is None:
            known = self.pages[page_id] = _page(record, holder)
        known.held_by, known.until = holder, record.held_until
        if holder not in self.holders.setdefault(page_id, set()):
            self.holders[page_id].add(holder)
            self.counts[(holder, "held")] += 1

    def _ended(self, page_id: str, record: EscalationEvent, outcome: str) -> None:
        known = self.pages.get(page_id)
        if known is None or known.outcome != "waiting":
            return
        known.outcome, known.ended_at, known.why = outcome, record.at, record.reason
        self.counts[(known.held_by, outcome)] += 1

    def by_holder(self) -> dict[str, dict[str, int]]:
        """Per silence (by id) and quiet hours: pages held, released, dropped, superseded,
        and still waiting when the history ended."""
        waiting = Counter(p.held_by for p in self.pages.values() if p.outcome == "waiting")
        names = sorted({holder for holder, _ in self.counts} | set(waiting))
        return {
            name: {
                **{kind: self.counts[(name, kind)] for kind in OUTCOMES[:-1]},
                "waiting": waiting[name],
            }
            for name in names
        }

    def as_dict(self) -> dict[str, object]:
        ordered = sorted(self.pages.values(), key=lambda p: (p.held_at, p.page_id))
        return {"by": self.by_holder(), "pages": [p.as_dict() for p in ordered]}


def _page(record: EscalationEvent, holder: str) -> HeldPage:
    assert record.page_id is not None
    return HeldPage(
        page_id=record.page_id,
        escalation_id=record.escalation_id,
        customer_id=record.customer_id,
        level=record.level,
        held_by=holder,
        held_at=record.at,
        until=record.held_until,
    )


class SilenceReplay:
    """The policy's silences, maintenance windows and quiet hours, applied as live."""

    def __init__(self, loaded: LoadedPolicy) -> None:
        self.silences = PolicySilences(loaded)
        self.quiet = QuietRules(loaded)
        self.report = HoldReport()

    def apply(
        self,
        before: IssueState | None,
        decision: Decision,
        now: datetime,
        contact: ContactEvent | None = None,
        route: str | None = None,
    ) -> Decision:
        """``decision`` with its pages held, dropped or released, as the escalator would.

        ``route``: the contact's route, which the live escalator puts on the pages a
        contact makes before holding them, so a silence can match it.
        """
        if route is not None:
            decision.pages = [
                p.model_copy(update={"route": route}) if p.route is None else p
                for p in decision.pages
            ]
        state = decision.state
        pages = any(p.action == "trigger" for p in decision.pages)
        # Finding the maintenance windows in force costs more than the rest of a decision;
        # holds read silences only for a new page or a held one.
        silences = self.silences.active(now) if pages or (state and state.hold) else []
        decision = apply_holds(before, decision, silences, self.quiet, now, contact)
        for record in decision.escalations:
            if record.type.startswith("page."):
                self.report.note(record)
        return decision
