import pytest

from escalation.policy.hours import HolidayCalendar
from escalation.policy.match import Matcher
from escalation.policy.model import Match
from tests.unit.policy.fixtures import LOADED, event

MATCHER = Matcher(LOADED.policy, HolidayCalendar(LOADED.policy.holidays))
WEEKDAY_NOON = "2026-11-25T12:00:00-05:00"
CHRISTMAS_EVE = "2026-12-24T12:00:00-05:00"
SATURDAY = "2026-11-28T12:00:00-05:00"


def misses(match: dict, **event_fields) -> list[str]:
    return MATCHER.misses(Match.model_validate(match), event(**event_fields))


@pytest.mark.parametrize(
    ("match", "fields", "matches"),
    [
        ({}, {}, True),
        ({"customer.tier": ["vip"]}, {"customer": {"id": "C", "tier": "vip"}}, True),
        ({"customer.tier": ["vip"]}, {}, False),
        ({"customer.id": ["C-1042"]}, {}, True),
        ({"channel": ["phone", "chat"]}, {"channel": "chat"}, True),
        ({"channel": ["phone"]}, {"channel": "email"}, False),
        ({"source": ["crm"]}, {}, True),
        ({"category": ["hvac"]}, {"category": "hvac.repair.compressor"}, True),
        ({"category": ["hvac.repair"]}, {"category": "hvac"}, False),
        ({"category": ["hvac"]}, {"category": "hvacx"}, False),
        ({"product": ["AC-3000"]}, {}, True),
        ({"urgency": ["high", "critical"]}, {"urgency": "normal"}, False),
        ({"sentiment": {"max": -0.5}}, {"sentiment": -0.6}, True),
        ({"sentiment": {"max": -0.5}}, {"sentiment": -0.4}, False),
        ({"sentiment": {"min": -1, "max": 0}}, {}, False),  # absent never matches a range
        ({"csat": {"max": 2}}, {"csat": 2}, True),
        ({"csat": {"min": 4}}, {"csat": 3}, False),
        ({"attributes": {"site": "HQ"}}, {"attributes": {"site": "HQ"}}, True),
        ({"attributes": {"site": "*"}}, {"attributes": {"site": "Plant 2"}}, True),
        ({"attributes": {"site": "*"}}, {}, False),
        ({"regex": {"summary": "(?i)failed again"}}, {"summary": "AC FAILED AGAIN"}, True),
        ({"regex": {"summary": "refund"}}, {}, False),
        ({"regex": {"attributes.order": r"^SO-\d+$"}}, {"attributes": {"order": "SO-12"}}, True),
        ({"regex": {"customer.id": "^VIP-"}}, {}, False),
        ({"when": {"business_hours": True}}, {"occurred_at": WEEKDAY_NOON}, True),
        ({"when": {"business_hours": True}}, {"occurred_at": SATURDAY}, False),
        ({"when": {"business_hours": True}}, {"occurred_at": CHRISTMAS_EVE}, False),
        ({"when": {"business_hours": False}}, {"occurred_at": "2026-11-25T20:00:00-05:00"}, True),
        ({"when": {"holiday": True}}, {"occurred_at": CHRISTMAS_EVE}, True),
        ({"when": {"holiday": True}}, {"occurred_at": WEEKDAY_NOON}, False),
        # 12:00 in New York is 22:30 in Kolkata: outside the customer's business hours.
        (
            {"when": {"business_hours": True, "zone": "customer"}},
            {"occurred_at": WEEKDAY_NOON, "customer": {"id": "C", "timezone": "Asia/Kolkata"}},
            False,
        ),
        (
            {"when": {"business_hours": True, "zone": "customer"}},
            {
                "occurred_at": "2026-11-24T23:30:00-05:00",
                "customer": {"id": "C", "timezone": "Asia/Kolkata"},
            },
            True,
        ),
    ],
)
def test_each_matcher(match, fields, matches):
    assert (misses(match, **fields) == []) is matches


def test_misses_say_why():
    assert misses({"customer.tier": ["vip"], "urgency": ["critical"]}) == [
        "customer.tier standard not in ['vip']",
        "urgency normal not in ['critical']",
    ]
    assert misses({"sentiment": {"max": -0.5}}, sentiment=0.2) == [
        "sentiment 0.2 outside [-inf, -0.5]"
    ]
