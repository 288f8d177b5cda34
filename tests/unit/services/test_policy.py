from datetime import UTC, datetime
from pathlib import Path

import pytest
from tests.unit.factories import contact_data

from escalation.schemas import codec
from escalation.services.router.policy import PolicyError, load_policy, parse_policy
from escalation.services.router.policy.match import route_contact
from escalation.services.router.policy.model import parse_duration

EXAMPLE = Path(__file__).parents[3] / "config" / "policy.example.yaml"
NOW = datetime(2026, 11, 25, tzinfo=UTC)

MINIMAL = """
version: 1
owners:
  - {id: ana, name: Ana, teams: [front], authority: 1}
  - {id: chen, name: Chen, teams: [eng], authority: 2, skills: [hvac]}
teams:
  - {id: front, name: Front}
  - {id: eng, name: Engineers}
routes:
  - {name: hvac, match: {category: [hvac]}, team: eng, min_authority: 2}
  - {name: default, team: front}
"""


def event(**overrides):
    return codec.decode_contact(codec.dumps(contact_data(**overrides)))


def test_example_policy_is_valid():
    loaded = load_policy(EXAMPLE)
    assert len(loaded.version) == 12


@pytest.mark.parametrize(
    ("category", "route", "owner"),
    [
        ("hvac.repair", "hvac", "chen"),
        ("hvac", "hvac", "chen"),
        ("hvacx.repair", "default", "ana"),
        ("billing.refund", "default", "ana"),
    ],
)
def test_category_matches_by_dotted_prefix(category, route, owner):
    routing = route_contact(parse_policy(MINIMAL), event(category=category), NOW)
    assert (routing.route, routing.owner) == (route, owner)
    assert routing.authority_held >= routing.authority_required


def test_reasons_say_why_each_route_did_or_did_not_match():
    routing = route_contact(parse_policy(MINIMAL), event(category="billing.refund"), NOW)
    assert routing.reasons == [
        "route hvac: no (category billing.refund not under ['hvac'])",
        "route default: matched",
    ]


def test_example_routes_vip_to_the_empowered_desk():
    routing = route_contact(load_policy(EXAMPLE), event(customer={"id": "C-2", "tier": "vip"}), NOW)
    assert routing.route == "vip"
    assert routing.authority_held >= 3
    assert routing.escalation.repeat_threshold == 2


def test_no_eligible_owner_falls_back_to_the_most_empowered_member():
    text = MINIMAL.replace("min_authority: 2}", "min_authority: 3}")
    routing = route_contact(parse_policy(text), event(), NOW)
    assert routing.fallback is True
    assert routing.owner == "chen"
    assert any(r.startswith("fallback:") for r in routing.reasons)


def test_version_is_a_content_hash():
    assert parse_policy(MINIMAL).version == parse_policy(MINIMAL).version
    assert parse_policy(MINIMAL).version != parse_policy(MINIMAL + "\n# edit\n").version


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            lambda t: t.replace("team: eng, min", "team: hvac-lead, min"),
            "routes[0].team: unknown team 'hvac-lead'",
        ),
        (
            lambda t: t.replace("teams: [front]", "teams: [frnt]"),
            "owners[0].teams: unknown team 'frnt'",
        ),
        (
            lambda t: t.replace("  - {name: default, team: front}\n", ""),
            "routes[0]: the last route must be a catch-all default (no match conditions, no "
            "continue)",
        ),
        (
            lambda t: t.replace("authority: 1}", "authority: high}"),
            "owners[0].authority: Input should be a valid integer, unable to parse string as an "
            "integer",
        ),
        (lambda t: t.replace("version: 1", "version: 2"), "version: Input should be 1"),
        (lambda t: t.replace("{id: chen,", "{id: ana,"), "owners[1]: duplicate id 'ana'"),
        (
            lambda t: t.replace("min_authority: 2}", "min_authority: 2, colour: red}"),
            "routes[0].colour: Extra inputs are not permitted",
        ),
    ],
)
def test_validation_errors_name_their_path(edit, expected):
    with pytest.raises(PolicyError) as caught:
        parse_policy(edit(MINIMAL))
    assert expected in caught.value.errors


def test_every_error_is_reported_at_once():
    text = MINIMAL.replace("team: eng, min", "team: nope, min").replace(
        "teams: [front]", "teams: [gone]"
    )
    with pytest.raises(PolicyError) as caught:
        parse_policy(text)
    assert len(caught.value.errors) >= 2


def test_invalid_yaml_names_line_and_column():
    with pytest.raises(PolicyError) as caught:
        parse_policy("version: 1\nowners: [\n")
    assert caught.value.errors[0].startswith("line 3, column 1: invalid YAML")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("72h", 259200), ("1h30m", 5400), ("2d", 172800), ("90s", 90), (45, 45), ("1w", 604800)],
)
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["", "3 days", "h", "1.5h", True])
def test_bad_durations(bad):
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(bad)
