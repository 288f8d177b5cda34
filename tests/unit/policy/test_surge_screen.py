"""The surge screen: a contact it rules out is one no rule's full match counts."""

from __future__ import annotations

import itertools

import orjson
import pytest

from escalation.policy import parse_policy
from escalation.policy.surges import SurgeRules
from escalation.schemas import codec
from tests.unit.factories import routed
from tests.unit.policy.fixtures import POLICY

RULES = {
    "category prefix": "match: {category: [hvac]}",
    "product list": "match: {product: [AC-3000, WH-7]}",
    "product regex": 'match: {regex: {product: "^WH-"}}',
    "category regex and tier": 'match: {regex: {category: "leak$"}, customer.tier: [vip]}',
    "routes": "routes: [unhappy]",
    "by category": "by: category\n    match: {category: [appliances]}",
}

CONTACTS = [
    {},
    {"category": "billing.question"},
    {"category": "hvac"},
    {"category": "hvacx.repair"},
    {"product": None},
    {"product": "WH-7"},
    {"product": "XWH-7"},
    {"category": "appliances.leak", "customer": {"id": "C-1", "tier": "vip"}},
    {"category": "appliances.leak", "product": None},
]


def rules_of(condition: str) -> SurgeRules:
    text = f"""
surges:
  - name: defects
    {condition}
    team: eng
    customers: 10
    window: 2m
"""
    return SurgeRules(parse_policy(POLICY + text))


@pytest.mark.parametrize("condition", list(RULES.values()), ids=list(RULES))
def test_a_contact_ruled_out_is_counted_by_no_rule(condition):
    rules = rules_of(condition)
    ruled_out = 0
    for overrides, route in itertools.product(CONTACTS, ["equipment-repair", "unhappy"]):
        contact = routed(**overrides)
        contact = contact.model_copy(
            update={"routing": contact.routing.model_copy(update={"route": route})}
        )
        fields = orjson.loads(codec.encode(contact))
        if not rules.may_count(fields):
            ruled_out += 1
            assert rules.matches(contact, route) == [], (overrides, route)
    assert ruled_out > 0  # the screen rules something out for every rule here


def test_members_of_an_unexpected_type_are_left_to_the_full_decode():
    rules = rules_of(RULES["category prefix"])
    assert rules.may_count({"product": "AC-3000", "category": 7})
    assert not rules.may_count({"product": "AC-3000", "category": "billing"})
    assert not rules.may_count({"category": "hvac.repair"})  # no product: not counted
