"""Held pages: a decision's trigger pages that a silence or quiet hours hold back.

Applied after every decision (``rules``, ``commands``, ``timers``), as a pure function of
the state before, the decision, the silences in force and the quiet-hours rules:

- a trigger page a silence matches is not sent: with ``mode: drop`` it is dropped
  (``page.dropped``), with ``wait`` it is kept in the issue's state (``hold``) until the
  silence ends (``page.held``, with the silence id); quiet hours hold it likewise until a
  responder works;
- the hold's end is a deadline like any other (``timers``), so the durable timer
  checks again then and sends the page once, with its own page id (``page.released``),
  unless a silence or quiet hours still hold it;
- a newer page of the escalation (it escalated meanwhile) takes the held one's place,
  and an escalation no longer paging (acknowledged, resolved) drops it;
- a surge holding the issue (``inhibit.py``, applied before this) drops it too: the
  surge's own hold replaces it, and the page the surge's close sends is held again here
  if a silence or quiet hours still hold it then (docs/decisions.md says why the two
  holds stay apart).

The page is the one the decision made, so releasing it after a crash sends the same id
and the pager drops the copy. Escalation records still go out: a silenced escalation is
recorded and visible; only its pages wait.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from escalation.policy.quiet import URGENCY_RANK, QuietRules
from escalation.policy.silences import silenced_by
from escalation.schemas import ContactEvent, EscalationEvent, PageRequest
from escalation.schemas.base import copied
from escalation.schemas.silence import Silence
from escalation.schemas.state import PAGING, SUMMARY_LIMIT, Hold, IssueState

from .effects import Decision, record
from .followups import in_customer_hours


def labels(
    state: IssueState, page: PageRequest | None = None, contact: ContactEvent | None = None
) -> dict[str, str]:
    """The fields silence matchers name, for this issue (and the page and contact if any)."""
    found = {
        "customer.id": state.customer_id,
        "customer.tier": state.customer_tier,
        "category": state.category,
        "product": state.product or "",
        "issue_key": state.issue_key or "",
        "owner": state.owner,
        "team": state.team,
        "urgency": state.urgency or "",
        "level": str(page.level if page is not None else state.level),
        "status": state.status or "",
        "escalation_id": state.escalation_id or "",
    }
    if page is not None and page.route is not None:
        found["route"] = page.route
    if contact is not None:
        found |= {"channel": contact.channel or "", "source": contact.source}
        found |= {f"attributes.{k}": v for k, v in contact.attributes.items()}
    return found


@dataclass
class _Pass:
    """One pass over a decision: the records and pages it keeps, and the hold it leaves."""

    state: IssueState
    now: datetime
    silences: Sequence[Silence]
    quiet: QuietRules | None
    hold: Hold | None
    records: list[EscalationEvent] = field(default_factory=list)
    pages: list[PageRequest] = field(default_factory=list)

    def note(self, kind: str, page: PageRequest, reason: str, cause: str, **extra: object) -> None:
        # The page's own escalation: the issue may have started its next episode since.
        base = copied(self.state, {"escalation_id": page.escalation_id})
        made = record(kind, base, self.now, reason, f"{cause}:{page.page_id}", **extra)
        self.records.append(copied(made, {"level": page.level, "page_id": page.page_id}))

    def supersede(self, reason: str) -> None:
        if self.hold is not None:
            self.note("page.dropped", self.hold.page, reason, "superseded")
            self.hold = None

    def verdict(
        self, page: PageRequest, contact: ContactEvent | None
    ) -> tuple[Silence | None, datetime | None]:
        """The silence holding ``page`` (or None), and until when it waits (None: send)."""
        found = None
        if self.silences:  # the labels only when a silence could match them: most inputs
            found = silenced_by(self.silences, labels(self.state, page, contact), self.now)
        if found is not None:
            return found, found.ends_at
        if self.quiet is None:
            return None, None
        people = page.notified or [self.state.owner]
        return None, self.quiet.release_at(
            self.state.urgency, labels(self.state, page), people, self.now
        )

    def hold_page(self, page: PageRequest, silence: Silence | None, until: datetime) -> None:
        again = self.hold is not None and self.hold.page.page_id == page.page_id
        silence_id = silence.id if silence is not None else None
        if again and self.hold is not None:
            if (self.hold.until, self.hold.silence_id) == (until, silence_id):
                return  # held as it was: nothing new to record
            since = self.hold.since
        else:
            since = self.now
        why = f"silence {silence_id}" if silence_id else "quiet hours"
        reason = f"held by {why} until {until.astimezone(UTC).isoformat()}"
        kept = _bounded(page)
        self.hold = Hold(page=kept, reason=reason, silence_id=silence_id, until=until, since=since)
        cause = f"hold.{int(until.timestamp())}" if again else "hold"
        self.note("page.held", page, reason, cause, silence_id=silence_id, held_until=until)


REASONS_KEPT = 5


def _bounded(page: PageRequest) -> PageRequest:
    """The page as the state keeps it: the state is rewritten by every contact, so the
    summary is cut as the state's own is, and only the last routing reasons (the owner's
    choice) are kept; the page id, and so the receivers' dedup, stays the same."""
    summary = page.summary
    reasons = page.routing_reasons
    return copied(
        page,
        {
            "summary": summary[:SUMMARY_LIMIT] if summary else summary,
            "routing_reasons": [r[:SUMMARY_LIMIT] for r in reasons[-REASONS_KEPT:]]
            if reasons
            else reasons,
        },
    )


def _urgency(before: IssueState | None, state: IssueState, contact: ContactEvent | None) -> str:
    """The escalation's urgency: its contacts' highest, afresh for each new escalation."""
    current = state.urgency
    if before is not None and before.escalation_id not in (None, state.escalation_id):
        current = None  # another escalation (or a new episode): its own contacts count
    if contact is None:
        return current or "normal"
    if current is None or URGENCY_RANK[contact.urgency] > URGENCY_RANK[current]:
        return contact.urgency
    return current


def _judge_new(
    run: _Pass, page: PageRequest, paged: EscalationEvent, contact: ContactEvent | None
) -> None:
    """A trigger page the decision made: it takes the place of any page held before."""
    run.supersede(f"superseded by the level {page.level} page {page.page_id}")
    silence, until = run.verdict(page, contact)
    if until is None:
        run.records.append(paged)
        run.pages.append(page)
    elif silence is not None and silence.mode == "drop":
        run.note(
            "page.dropped", page, f"dropped by silence {silence.id}", "drop", silence_id=silence.id
        )
    else:
        run.hold_page(page, silence, until)


def _recheck(run: _Pass) -> None:
    """Check the held page again: still held (the same silence, else anew), dropped or sent."""
    held = run.hold
    assert held is not None
    page = held.page
    same = next((s for s in run.silences if s.id == held.silence_id), None)
    if same is not None and same.starts_at <= run.now < same.ends_at:
        silence, until = same, same.ends_at  # it matched when it held the page
    else:
        silence, until = run.verdict(page, None)
    if until is None:
        run.note("page.released", page, f"released; it was {held.reason}", "release")
        sent = copied(page, {"created_at": run.now})
        paged = record("paged", run.state, run.now, page.reason, f"release:{page.page_id}")
        run.records.append(copied(paged, {"level": page.level, "notified": page.notified}))
        run.pages.append(sent)
        run.hold = None
    elif silence is not None and silence.mode == "drop":
        run.hold = None
        run.note(
            "page.dropped", page, f"dropped by silence {silence.id}", "drop", silence_id=silence.id
        )
    else:
        run.hold_page(page, silence, until)


def apply_holds(
    before: IssueState | None,
    decision: Decision,
    silences: Sequence[Silence],
    quiet: QuietRules | None,
    now: datetime,
    contact: ContactEvent | None = None,
) -> Decision:
    """The decision with its pages held, dropped or released as silences and quiet hours say.

    ``silences`` are those in force (API, file and maintenance windows); ``contact`` is
    the input when it is a contact (its urgency counts, its fields can be matched).
    """
    original = state = decision.state
    if state is None or decision.outcome == "duplicate":
        return decision
    urgency = _urgency(before, state, contact)
    if urgency != state.urgency:  # a copy per input only when something changes
        state = copied(state, {"urgency": urgency})
    if _nothing_held(before, decision, state):
        decision.state = state
        return decision
    now = now.astimezone(UTC)
    run = _Pass(state, now, silences, quiet, state.hold)
    if run.hold is not None and state.surge is not None and state.surge.held:
        # The surge's hold (inhibit.py) takes the place of this one: its close pages the
        # current level, and that page meets the silences and quiet hours then in force.
        run.supersede(f"not sent: surge {state.surge.id} holds the issue's pages")
    elif run.hold is not None and (
        state.status not in PAGING or run.hold.page.escalation_id != state.escalation_id
    ):
        run.supersede(f"not sent: the escalation is {state.status or 'over'}")
    triggers = iter([p for p in decision.pages if p.action == "trigger"])
    for made in decision.escalations:
        if made.type != "paged":
            run.records.append(made)
            continue
        page = next(triggers, None)
        if page is None:
            run.records.append(made)
        else:
            _judge_new(run, page, made, contact)
    run.pages += [p for p in decision.pages if p.action != "trigger"]
    if run.hold is not None and not _held_now(run, decision):
        _recheck(run)
    if run.hold is not state.hold:
        state = copied(state, {"hold": run.hold})
    # The follow-up reminder waits for the customer's hours where the route says so.
    state = in_customer_hours(state, quiet)
    state = _bumped(before, state)
    unchanged = ("urgency", "hold", "followup_due", "version")
    if any(getattr(state, name) != getattr(original, name) for name in unchanged):
        decision.state = state
    decision.escalations, decision.pages = run.records, run.pages
    return decision


def _nothing_held(before: IssueState | None, decision: Decision, state: IssueState) -> bool:
    """No page made, none held now or before: only the urgency can change (most inputs)."""
    was_held = before is not None and before.hold is not None
    return not (decision.pages or decision.escalations or state.hold is not None or was_held)


def _held_now(run: _Pass, decision: Decision) -> bool:
    """The hold was made by this very decision: nothing to check again yet."""
    assert run.hold is not None
    return any(p.page_id == run.hold.page.page_id for p in decision.pages)


def _deadlines(state: IssueState | None) -> tuple[object, object]:
    if state is None:
        return None, None
    return (state.hold.until if state.hold is not None else None), state.followup_due


def _bumped(before: IssueState | None, state: IssueState) -> IssueState:
    """A changed hold or follow-up deadline is a timer change: older ticks are stale."""
    if _deadlines(before) != _deadlines(state) and (
        before is None or state.version == before.version
    ):
        return copied(state, {"version": state.version + 1})
    return state
