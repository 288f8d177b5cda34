from pathlib import Path

import pytest

from escalation.policy import PolicyError, load_policy, parse_policy
from escalation.policy.model import parse_duration
from tests.unit.policy.fixtures import POLICY

EXAMPLE = Path(__file__).parents[3] / "config" / "policy.example.yaml"


def errors_of(text: str) -> list[str]:
    with pytest.raises(PolicyError) as caught:
        parse_policy(text)
    return caught.value.errors


def test_example_policy_is_valid():
    loaded = load_policy(EXAMPLE)
    assert len(loaded.version) == 12


def test_version_is_a_content_hash():
    assert parse_policy(POLICY).version == parse_policy(POLICY).version
    assert parse_policy(POLICY).version != parse_policy(POLICY + "\n# edit\n").version


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "team: eng\n    min_authority: {base: 2, tier",
            "team: hvac-lead\n    min_authority: {base: 2, tier",
            "routes[2].team: unknown team 'hvac-lead'",
        ),
        (
            "teams: [front], authority: 1, skills",
            "teams: [frnt], authority: 1, skills",
            "owners[0].teams: unknown team 'frnt'",
        ),
        (
            "  - name: default\n    team: front\n    min_authority: 1\n    fallback: {team: eng}\n",
            "",
            "routes[3]: the last route must be a catch-all default (no match conditions, no "
            "continue)",
        ),
        (
            "authority: 1, skills: [billing]",
            "authority: high, skills: [billing]",
            "owners[0].authority: Input should be a valid integer, unable to parse string as an "
            "integer",
        ),
        ("version: 1", "version: 2", "version: Input should be 1"),
        ("{id: chen,", "{id: ana,", "owners[2]: duplicate id 'ana'"),
        (
            "match: {customer.tier: [vip]}",
            "match: {customer.tier: [vip], colour: red}",
            "routes[0].match.colour: Extra inputs are not permitted",
        ),
        (
            "timezone: America/New_York",
            "timezone: America/Gotham",
            "timezone: unknown time zone 'America/Gotham'",
        ),
        (
            "timezone: Asia/Kolkata",
            "timezone: Mars/Base",
            "owners[5].timezone: unknown time zone 'Mars/Base'",
        ),
        (
            "members: [noor]",
            "members: [nour]",
            "schedules[0].layers[0].members: unknown owner 'nour'",
        ),
        ("schedule: nights}", "schedule: days}", "teams[3].schedule: unknown schedule 'days'"),
        (
            "fallback: {team: eng}",
            "fallback: {owner: zed}",
            "routes[4].fallback.owner: unknown owner 'zed'",
        ),
        (
            "fallback: {team: eng}",
            "fallback: {team: eng, owner: ana}",
            "routes[4].fallback: Value error, name exactly one of owner or team",
        ),
        (
            "match: {sentiment: {max: -0.5}}",
            "match: {regex: {summary: '(unclosed'}}",
            "routes[1].match.regex.summary: invalid regular expression: missing ), unterminated "
            "subpattern at position 0",
        ),
        (
            "match: {sentiment: {max: -0.5}}",
            "match: {regex: {colour: 'x'}}",
            "routes[1].match.regex.colour: unknown field (use one of summary, category, product, "
            "issue_key, source, channel, customer.id, customer.tier or attributes.<name>)",
        ),
        (
            "match: {sentiment: {max: -0.5}}",
            "match: {sentiment: {min: 0.5, max: -0.5}}",
            "routes[1].match.sentiment: Value error, max must not be below min",
        ),
        (
            'start: "08:00", end: "16:00"',
            'start: "16:00", end: "08:00"',
            "owners[0].hours[0]: Value error, end must be after start (split overnight shifts "
            "in two)",
        ),
        (
            'holidays: {dates: ["2026-12-24"]}',
            "holidays: {countries: [XX]}",
            "holidays: unknown holiday country or subdivision 'XX': Country XX not available",
        ),
        (
            "every: 1w",
            "every: weekly",
            "schedules[0].layers[0].every: Value error, invalid duration 'weekly': use e.g. "
            "'90s', '15m', '72h', '1d12h'",
        ),
        ("    team: vip\n", "", "routes[0]: Value error, a route names a team or a schedule"),
    ],
)
def test_validation_errors_name_their_path(old, new, expected):
    assert old in POLICY, old
    assert expected in errors_of(POLICY.replace(old, new, 1))


def test_forget_after_must_not_be_shorter_than_release_after():
    text = POLICY.replace(
        "routes:\n", "ownership: {release_after: 30d, forget_after: 7d}\nroutes:\n"
    )
    assert (
        "ownership: Value error, forget_after must not be shorter than release_after"
        in errors_of(text)
    )


def test_every_error_is_reported_at_once():
    text = POLICY.replace("members: [noor]", "members: [nour]").replace(
        "teams: [front], authority: 1, skills", "teams: [frnt], authority: 1, skills"
    )
    assert len(errors_of(text)) == 2


def test_invalid_yaml_names_line_and_column():
    assert errors_of("version: 1\nowners: [\n")[0].startswith("line 3, column 1: invalid YAML")


def test_coverage_gaps_are_warnings_not_errors():
    text = POLICY.replace(
        '{name: weekly, members: [noor], every: 1w, start: "2026-11-02T00:00:00-05:00"}',
        '{name: weekly, members: [noor], every: 1w, start: "2026-11-02T00:00:00-05:00", '
        'hours: [{start: "09:00", end: "17:00"}]}',
    )
    loaded = parse_policy(text)
    assert any(w.startswith("schedules[0]: nobody on call") for w in loaded.warnings)


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
