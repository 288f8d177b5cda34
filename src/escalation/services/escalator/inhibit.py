"""Inhibition: while a surge covers an issue, the issue's own pages wait.

A pure filter over a decision the rules already made, given the controls every worker
holds (``services/common/controls.py``): ``inhibit(decision, controls, now, roster,
contact)``. An issue on the product (or category) of an open surge is attached to it
(``state.surge``); its trigger pages are dropped and each ``paged`` record becomes a
``held`` one naming the surge, so the state and the timeline say why nobody was paged.
Exempt, as the rule says: a critical contact, a VIP customer; their pages go out.

When the surge closes, the next decision on a held issue (the worker sends each one a
tick when it sees the close) releases it: ``release`` pages its current level now (the
same page id a held page had, so a receiver never sees one twice), ``resolve`` resolves
it with cause ``defect``. A surge the view no longer knows counts as closed, released.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime

from escalation.schemas import ContactEvent
from escalation.schemas.affected import SurgeLink
from escalation.schemas.base import copied
from escalation.schemas.state import ACTIVE, PAGING, IssueState
from escalation.schemas.surge import Control

from .effects import Decision, record, settle
from .ladder import Roster
from .moves import paged, resolve_times
from .surges import SURGE_CUSTOMER_PREFIX


def covering(controls: Mapping[str, Control], state: IssueState) -> Control | None:
    """The open surge whose product (or category) is the issue's, if any."""
    for control in controls.values():
        surge = control.surge
        if not control.active or surge is None:
            continue
        value = state.product if surge.by == "product" else state.category
        if value == surge.value:
            return control
    return None


def exemption(control: Control, state: IssueState, contact: ContactEvent | None) -> str | None:
    exempt = control.surge.exempt if control.surge is not None else []
    if "critical" in exempt and contact is not None and contact.urgency == "critical":
        return "critical"
    if "vip" in exempt and state.customer_tier == "vip":
        return "vip"
    return None


def inhibit(
    decision: Decision,
    controls: Mapping[str, Control],
    now: datetime,
    roster: Roster | None = None,
    contact: ContactEvent | None = None,
) -> Decision:
    state = decision.state
    if state is None or decision.outcome == "duplicate":
        return decision
    if state.customer_id.startswith(SURGE_CUSTOMER_PREFIX):
        return decision  # the surge's own escalation
    link = state.surge
    if link is not None and link.held:
        control = controls.get(link.id)
        if control is None or not control.active:
            return _closed(decision, state, control, now, roster)
    cover = covering(controls, state)
    if cover is None:
        return decision
    exempt = exemption(cover, state, contact)
    attached = link is None or link.id != cover.id
    if attached or (link is not None and link.held and exempt is not None):
        state = copied(state, {"surge": SurgeLink(id=cover.id, held=exempt is None)})
    if state.surge is None or not state.surge.held:
        return replace(decision, state=state)
    return _held(decision, state, now, attached)


def _held(decision: Decision, state: IssueState, now: datetime, attached: bool) -> Decision:
    assert state.surge is not None
    surge_id = state.surge.id
    records = []
    converted = False
    for item in decision.escalations:
        if item.type == "paged":
            reason = f"surge.held: {item.reason}; held back while surge {surge_id} is open"
            item = copied(item, {"type": "held", "reason": reason, "notified": None})
            converted = True
        records.append(item)
    if attached and not converted and state.escalation_id is not None:
        reason = f"surge.attached: pages held back while surge {surge_id} is open"
        records.append(record("held", state, now, reason, f"surge:{surge_id}"))
    pages = [p for p in decision.pages if p.action != "trigger"]
    return replace(decision, state=state, escalations=records, pages=pages)


def _closed(
    decision: Decision,
    state: IssueState,
    control: Control | None,
    now: datetime,
    roster: Roster | None,
) -> Decision:
    """The surge that held this issue closed: release it (or resolve it) now."""
    assert state.surge is not None
    surge_id = state.surge.id
    on_close = control.surge.on_close if control and control.surge else "release"
    freed = copied(state, {"surge": SurgeLink(id=surge_id, held=False)})
    cause = f"surge-closed:{surge_id}"
    records = list(decision.escalations)
    pages = list(decision.pages)
    if freed.escalation_id is None:
        return replace(decision, state=freed)
    if on_close == "resolve" and freed.status in ACTIVE:
        freed = copied(freed, {**resolve_times(freed, now), "updated_at": now})
        reason = f"resolved with surge {surge_id} (cause: defect)"
        records.append(record("resolved", freed, now, reason, cause, by="surge", cause="defect"))
        pages = [p for p in pages if p.action != "trigger"]
        return settle(state, replace(decision, state=freed, escalations=records, pages=pages))
    reason = f"surge.released: surge {surge_id} closed"
    records.append(record("released", freed, now, reason, cause))
    if freed.status in PAGING and not any(p.action == "trigger" for p in pages):
        again = paged(freed, now, f"{reason}; paging the held level {freed.level}", cause, roster)
        records += again.escalations
        pages += again.pages
    return replace(decision, state=freed, escalations=records, pages=pages)
