"""A surge in the escalator: its own escalation, and the inhibition of the issues it covers."""

from __future__ import annotations

from datetime import timedelta

from tests.unit.factories import T0, routed
from tests.unit.services.test_surge_detect import report, settings

from escalation.schemas import EscalationSettings, LadderStep
from escalation.schemas.surge import Control, ProductTick, SurgeControl
from escalation.services.escalator.inhibit import inhibit
from escalation.services.escalator.rules import decide_contact
from escalation.services.escalator.surges import decide_surge
from escalation.services.escalator.timers import decide_tick, tick_for
from escalation.services.surge.detect import decide_close, decide_report

LADDER = EscalationSettings(
    repeat_threshold=3,
    ladder=[LadderStep(after_seconds=600, notify="team")],
)


def opened_surge(**rule):
    state = None
    for n in range(5):
        at = T0 + timedelta(minutes=n)
        decision = decide_report(state, report(f"C-{n}", at, rule_settings=settings(**rule)), at)
        state = decision.state
    return state, decision


def control(
    surge_id: str,
    active: bool = True,
    by: str = "product",
    value: str = "AC-3000",
    exempt=("critical", "vip"),
    on_close: str = "release",
):
    return {
        surge_id: Control(
            id=surge_id,
            kind="surge",
            active=active,
            at=T0,
            surge=SurgeControl(
                rule="products",
                by=by,
                value=value,
                exempt=list(exempt),
                on_close=on_close,
                opened_at=T0,
                closed_at=None if active else T0,
            ),
        )
    }


SURGE = "e1.c3VyZ2U6cHJvZHVjdHM6QUMtMzAwMA.000000000000000000000000.1"


def contact(n: int, at_minutes: float = 0, **overrides):
    return routed(
        event_id=f"ev-{n}", at=T0 + timedelta(minutes=at_minutes), escalation=LADDER, **overrides
    )


def feed(state, n, controls, **overrides):
    item = contact(n, **overrides)
    decision = decide_contact(state, item, item.routing, item.occurred_at)
    return inhibit(decision, controls, item.occurred_at, None, item)


def test_a_surge_opens_its_own_escalation_listing_the_customers():
    _, decision = opened_surge()
    event = decision.events[0]
    opened = decide_surge(None, event, T0)
    assert opened.outcome == "opened"
    assert opened.state.escalation_id == event.surge_id
    (page,) = opened.pages
    assert page.affected.customers == [f"C-{n}" for n in range(5)]
    assert page.owner == "farid" and page.team == "product-quality"
    assert "C-0, C-1, C-2, C-3, C-4" in page.summary
    again = decide_surge(opened.state, event, T0)
    assert again.outcome == "duplicate"


def test_an_update_records_the_new_customers_and_pages_nobody():
    state, decision = opened_surge()
    surge = decide_surge(None, decision.events[0], T0).state
    later = T0 + timedelta(minutes=6)
    update = decide_report(state, report("C-9", later), later)
    updated = decide_surge(surge, update.events[0], later)
    assert updated.outcome == "updated" and updated.pages == []
    assert updated.state.affected.customers[-1] == "C-9"
    assert [r.type for r in updated.escalations] == ["updated"]


def test_closing_the_surge_resolves_its_escalation_once():
    state, decision = opened_surge()
    surge = decide_surge(None, decision.events[0], T0).state
    due = state.surge.close_due
    closed = decide_close(state, _tick(state), due)
    resolved = decide_surge(surge, closed.events[0], due)
    assert resolved.outcome == "resolved"
    assert resolved.escalations[0].cause == "defect"
    assert decide_surge(resolved.state, closed.events[0], due).outcome == "duplicate"


def _tick(state):
    return ProductTick(key=state.key, version=state.version, due=state.surge.close_due)


def test_a_covered_issue_is_attached_and_its_pages_are_held():
    controls = control(SURGE)
    state = None
    for n in range(3):  # the third contact would escalate: repeat.contacts
        decision = feed(state, n, controls, at_minutes=n)
        state = decision.state
    assert decision.outcome == "opened"
    assert decision.pages == []
    assert [r.type for r in decision.escalations] == ["opened", "held"]
    assert "held back while surge" in decision.escalations[1].reason
    assert state.surge.id == SURGE and state.surge.held


def test_the_ladder_of_a_held_issue_is_held_too():
    controls = control(SURGE)
    state = None
    for n in range(3):
        state = feed(state, n, controls, at_minutes=n).state
    tick = tick_for(state)
    stepped = inhibit(decide_tick(state, tick, tick.due), controls, tick.due)
    assert stepped.outcome == "stepped"
    assert stepped.pages == [] and "held" in [r.type for r in stepped.escalations]


def test_another_product_is_not_covered():
    controls = control(SURGE, value="WH-50")
    decision = feed(None, 1, controls, urgency="critical")
    assert [p.action for p in decision.pages] == ["trigger"]
    assert decision.state.surge is None


def test_a_critical_contact_is_exempt_when_the_rule_says_so():
    decision = feed(None, 1, control(SURGE), urgency="critical")
    assert [p.action for p in decision.pages] == ["trigger"]
    assert decision.state.surge.id == SURGE and not decision.state.surge.held
    held = feed(None, 1, control(SURGE, exempt=("vip",)), urgency="critical")
    assert held.pages == [] and held.state.surge.held


def test_a_vip_customer_is_exempt_when_the_rule_says_so():
    vip = {"id": "C-7", "tier": "vip"}
    decision = feed(None, 1, control(SURGE), urgency="critical", customer=vip)
    assert [p.action for p in decision.pages] == ["trigger"]
    held = feed(None, 1, control(SURGE, exempt=()), urgency="critical", customer=vip)
    assert held.pages == []


def test_a_held_issue_that_turns_critical_pages():
    controls = control(SURGE)
    state = feed(None, 1, control(SURGE, exempt=()), urgency="critical").state
    assert state.surge.held
    decision = feed(state, 2, controls, at_minutes=1, urgency="critical")
    assert not decision.state.surge.held


def test_closing_releases_a_held_issue_with_the_page_it_was_denied():
    state = None
    for n in range(3):
        state = feed(state, n, control(SURGE), at_minutes=n).state
    closed = control(SURGE, active=False)
    later = T0 + timedelta(minutes=4)
    tick = tick_for(state).model_copy(update={"due": later})
    decision = inhibit(decide_tick(state, tick, later), closed, later)
    assert [r.type for r in decision.escalations] == ["released", "paged"]
    (page,) = decision.pages
    assert page.level == 1 and "surge.released" in page.reason
    assert not decision.state.surge.held
    after = inhibit(decide_tick(decision.state, tick, later), closed, later)
    assert after.pages == []  # released once


def test_closing_resolves_held_issues_when_the_policy_says_so():
    state = None
    for n in range(3):
        state = feed(state, n, control(SURGE), at_minutes=n).state
    closed = control(SURGE, active=False, on_close="resolve")
    later = T0 + timedelta(minutes=4)
    tick = tick_for(state).model_copy(update={"due": later})
    decision = inhibit(decide_tick(state, tick, later), closed, later)
    assert decision.state.status == "resolved"
    assert decision.escalations[-1].type == "resolved"
    assert decision.escalations[-1].cause == "defect"
    assert decision.pages == []
    assert decision.state.version > state.version  # its ladder's ticks are stale now
