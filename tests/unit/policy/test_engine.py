from datetime import timedelta
from pathlib import Path

import pytest

from escalation.policy import NoLoads, RoutingEngine, load_policy
from escalation.schemas.identity import seen_token
from tests.unit.policy.fixtures import LOADED, MORNING, Loads, event

ENGINE = RoutingEngine(LOADED)


def decide(contact, now=MORNING, current=None, loads=None):
    return ENGINE.decide(contact, now, current, loads or NoLoads())


@pytest.mark.parametrize(
    ("overrides", "route", "owner"),
    [
        ({"category": "hvac.repair"}, "hvac", "chen"),
        ({"category": "billing.refund"}, "default", "ana"),
        ({"customer": {"id": "C-9", "tier": "vip"}}, "vip", "elif"),
        (
            {"category": "hvac.repair", "customer": {"id": "C-9", "tier": "priority"}},
            "hvac",
            "dana",
        ),
        ({"category": "hvac.repair", "urgency": "critical"}, "hvac", "dana"),
        (
            {"category": "billing.refund", "occurred_at": "2026-11-25T21:00:00-05:00"},
            "after-hours",
            "noor",
        ),
    ],
)
def test_route_and_owner(overrides, route, owner):
    routing = decide(event(**overrides)).routing
    assert (routing.route, routing.owner) == (route, owner)
    assert routing.authority_held >= routing.authority_required


def test_authority_rises_with_tier_and_urgency():
    assert decide(event(category="hvac.repair")).routing.authority_required == 2
    vip_like = event(category="hvac.repair", customer={"id": "C", "tier": "priority"})
    assert decide(vip_like).routing.authority_required == 3
    assert decide(event(category="hvac", urgency="critical")).routing.authority_required == 3


def test_continue_adds_targets_but_the_first_match_decides():
    routing = decide(event(category="hvac.repair", sentiment=-0.8)).routing
    assert routing.route == "unhappy"
    assert "quality" in routing.targets
    assert routing.reasons[:2] == [
        "route vip: no (customer.tier standard not in ['vip'])",
        "route unhappy: matched",
    ]
    assert "route hvac: matched" in routing.reasons


def test_reasons_name_the_skipped_owners():
    routing = decide(event(category="billing.refund")).routing
    assert "ben: off shift" in routing.reasons
    assert routing.reasons[-1].startswith("ana: least loaded")


def test_least_loaded_then_longest_since_last_assignment():
    contact = event(category="billing.refund", occurred_at="2026-11-25T13:00:00-05:00")
    now = MORNING.replace(hour=13)
    assert decide(contact, now, loads=Loads(ana=1, ben=0)).routing.owner == "ben"
    loads = Loads(ana=1, ben=1)
    loads.last = {"ana": now - timedelta(hours=1), "ben": now - timedelta(minutes=5)}
    assert decide(contact, now, loads=loads).routing.owner == "ana"


def test_capacity_excludes_a_full_owner():
    contact = event(category="billing.refund")
    now = MORNING.replace(hour=13)
    routing = decide(contact, now, loads=Loads(ana=30, ben=0)).routing
    assert routing.owner == "ben"
    assert "ana: at capacity (30/25)" in routing.reasons


def test_no_eligible_owner_uses_the_route_fallback_team():
    contact = event(category="billing.refund")
    routing = decide(contact, loads=Loads(ana=25)).routing  # ana full, ben off shift
    assert routing.fallback is True
    assert routing.owner == "chen"
    assert "fallback: fallback team eng" in routing.reasons


def test_sticky_owner_kept_on_a_further_contact():
    first = decide(event(event_id="a", category="hvac.repair"))
    later = decide(
        event(event_id="b", category="hvac.repair"),
        MORNING + timedelta(hours=1),
        current=first.assignment,
        loads=Loads(chen=9, dana=0),
    )
    assert later.routing.owner == "chen"
    assert later.routing.sticky is True
    assert later.assignment.assigned_at == first.assignment.assigned_at
    assert later.assignment.seen == [seen_token("a"), seen_token("b")]


def test_sticky_owner_replaced_when_no_longer_empowered():
    first = decide(event(event_id="a", category="hvac.repair"))
    critical = decide(
        event(event_id="b", category="hvac.repair", urgency="critical"), current=first.assignment
    )
    assert critical.routing.owner == "dana"
    assert critical.routing.reassigned_from == "chen"
    assert critical.released_from == "chen"
    assert "reassigned from chen: authority 2 < 3" in critical.routing.reasons


def test_redelivered_event_reproduces_the_decision_without_changing_state():
    first = decide(event(event_id="a", category="hvac.repair"))
    again = decide(
        event(event_id="a", category="hvac.repair"), current=first.assignment, loads=Loads(chen=20)
    )
    assert again.duplicate is True
    assert again.routing.owner == "chen"
    assert again.assignment.seen == [seen_token("a")]


def test_every_routed_event_carries_the_policy_version():
    assert decide(event()).routing.policy_version == LOADED.version


def test_example_policy_routes_the_demo_stories():
    engine = RoutingEngine(
        load_policy(Path(__file__).parents[3] / "config" / "policy.example.yaml")
    )
    vip = event(
        customer={"id": "C-2001", "tier": "vip"}, category="av.projector", urgency="critical"
    )
    assert engine.decide(vip, MORNING, None, NoLoads()).routing.team == "vip-desk"
