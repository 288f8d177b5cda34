"""Surge rules in the policy: validated whole by `policy check`, matched per contact."""

from __future__ import annotations

import pytest

from escalation.policy import PolicyError, parse_policy
from escalation.policy.surges import SurgeRules
from tests.unit.factories import routed
from tests.unit.policy.fixtures import POLICY, SURGE_RULE


def errors_of(text: str) -> list[str]:
    with pytest.raises(PolicyError) as caught:
        parse_policy(text)
    return caught.value.errors


def test_a_rule_takes_its_team_senior_owner_and_the_default_ladder():
    rules = SurgeRules(parse_policy(POLICY + SURGE_RULE))
    settings = rules.settings["defects"]
    assert (settings.team, settings.owner) == ("eng", "dana")  # authority 3 beats 2
    assert settings.window_seconds == 120
    assert settings.close_after_seconds == 120  # close_after defaults to the window
    assert settings.exempt == ["critical", "vip"]


def test_contacts_count_under_the_rules_that_match_them():
    rules = SurgeRules(parse_policy(POLICY + SURGE_RULE))
    route = "equipment-repair"
    matched = rules.matches(routed(), route)
    assert [(s.rule, v) for s, v in matched] == [("defects", "AC-3000")]
    assert rules.matches(routed(category="billing.question"), route) == []
    assert rules.matches(routed(product=None), route) == []


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        ("team: eng", "surges[0].team: unknown team 'nobody'"),
        ("    window: 2m", "surges[0].owner: 'ana' is not in team 'eng'"),
        ("customers: 10", "surges[0].customers: Input should be greater than or equal to 2"),
        ("    window: 2m", "surges[0].routes: unknown route 'nowhere'"),
    ],
)
def test_rule_errors_name_their_path(edit, expected):
    replacement = {
        "surges[0].team": "team: nobody",
        "surges[0].owner": "    window: 2m\n    owner: ana",
        "surges[0].customers": "customers: 1",
        "surges[0].routes": "    window: 2m\n    routes: [nowhere]",
    }[expected.split(":")[0]]
    assert expected in errors_of(POLICY + SURGE_RULE.replace(edit, replacement))


def test_a_surge_ladder_cannot_page_a_fallback():
    text = POLICY + SURGE_RULE + "    escalation: {ladder: [{after: 10m, notify: fallback}]}\n"
    assert errors_of(text) == [
        "surges[0].escalation.ladder[0].notify: a surge has no fallback; page a team or a schedule"
    ]
