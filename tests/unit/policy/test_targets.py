"""What the pager refuses, as ``policy check`` reports it: one function, exact messages."""

from __future__ import annotations

import pytest

from escalation.policy import parse_policy
from escalation.policy.targets import Deliverable, check_targets, expand
from tests.unit.policy.fixtures import POLICY

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
ENV = {"Q_SECRET": SECRET}
QUALITY = '  - {id: quality, type: webhook, url: "http://127.0.0.1:1/q", secret: {env: Q_SECRET}}\n'


def policy_with(*targets: str):
    """The fixture policy with its targets replaced (the routes name ``quality``)."""
    assert QUALITY in POLICY
    return parse_policy(POLICY.replace(QUALITY, QUALITY + "".join(targets))).policy


def extra(line: str) -> str:
    return f"  - {line}\n"


def ops(url: str = "https://ops.example.com", env: str | None = "OPS_SECRET") -> str:
    secret = f", secret: {{env: {env}}}" if env else ""
    return f"{{id: ops, type: webhook, url: '{url}'{secret}}}"


@pytest.mark.parametrize(
    ("target", "environ", "expected"),
    [
        (
            "{id: pd, type: pagerduty, url: 'https://events.pagerduty.com'}",
            ENV,
            "targets[1].type: target 'pd' has type 'pagerduty', which the pager does not "
            "deliver yet (use webhook)",
        ),
        (
            "{id: chat, type: slack, url: '${SLACK_URL}'}",
            ENV,
            "targets[1].type: target 'chat' has type 'slack', which the pager does not "
            "deliver yet (use webhook)",
        ),
        (
            ops(env=None),
            ENV,
            "targets[1]: webhook target 'ops' needs secret: {env: NAME}, a variable holding "
            "a whsec_ secret",
        ),
        (
            ops("${OPS_URL}/hook", "Q_SECRET"),
            ENV,
            "targets[1].url: target 'ops' uses ${OPS_URL}, which is not set (set it, or give "
            "a default: ${OPS_URL:-...})",
        ),
        (
            ops("ftp://ops.example.com", "Q_SECRET"),
            ENV,
            "targets[1].url: target 'ops' needs an http:// or https:// URL",
        ),
        (
            ops("${OPS_URL:-}", "Q_SECRET"),
            ENV,
            "targets[1].url: target 'ops' needs an http:// or https:// URL",
        ),
        (
            ops(),
            ENV,
            "targets[1].secret.env: target 'ops' reads its secret from OPS_SECRET, which is "
            "not set",
        ),
        (
            ops(),
            {**ENV, "OPS_SECRET": ""},
            "targets[1].secret.env: target 'ops' reads its secret from OPS_SECRET, which is empty",
        ),
        (
            ops(),
            {**ENV, "OPS_SECRET": "hunter2"},
            "targets[1].secret.env: target 'ops' reads its secret from OPS_SECRET, which is "
            "not usable: webhook secrets start with 'whsec_'",
        ),
        (
            ops(),
            {**ENV, "OPS_SECRET": "whsec_not base64!"},
            "targets[1].secret.env: target 'ops' reads its secret from OPS_SECRET, which is "
            "not usable: webhook secret is not valid base64 after 'whsec_'",
        ),
        (
            ops(),
            {**ENV, "OPS_SECRET": "whsec_"},
            "targets[1].secret.env: target 'ops' reads its secret from OPS_SECRET, which is "
            "not usable: webhook secret has no key after 'whsec_'",
        ),
    ],
)
def test_each_refusal_names_the_target_the_field_and_what_to_do(target, environ, expected):
    usable, problems = check_targets(policy_with(extra(target)), environ)
    assert problems == [expected]
    assert [t.id for t in usable] == ["quality"], "the other targets stay usable"


def test_every_problem_of_every_target_is_reported_not_only_the_first():
    policy = policy_with(
        extra("{id: a, type: webhook, url: '${A_HOST}/${A_PATH}', secret: {env: A_SECRET}}"),
        extra("{id: b, type: slack, url: 'https://hooks.slack.com/x'}"),
    )
    usable, problems = check_targets(policy, {})
    assert usable == []
    assert problems == [
        "targets[0].secret.env: target 'quality' reads its secret from Q_SECRET, which is not set",
        "targets[1].url: target 'a' uses ${A_HOST}, which is not set (set it, or give a "
        "default: ${A_HOST:-...})",
        "targets[1].url: target 'a' uses ${A_PATH}, which is not set (set it, or give a "
        "default: ${A_PATH:-...})",
        "targets[1].secret.env: target 'a' reads its secret from A_SECRET, which is not set",
        "targets[2].type: target 'b' has type 'slack', which the pager does not deliver yet "
        "(use webhook)",
    ]


def test_a_usable_target_has_its_url_expanded_and_its_secret_read():
    policy = policy_with(extra(ops("${OPS_HOST:-http://h}/p/${TEAM}", "Q_SECRET")))
    usable, problems = check_targets(policy, {**ENV, "TEAM": "hvac"})
    assert problems == []
    assert usable[1] == Deliverable("ops", "webhook", "http://h/p/hvac", SECRET)


def test_no_problem_message_carries_the_secret_value():
    policy = policy_with(extra(ops()))
    leaked = "whsec_!!!top-secret!!!"
    _, problems = check_targets(policy, {**ENV, "OPS_SECRET": leaked})
    assert len(problems) == 1 and "top-secret" not in problems[0]


@pytest.mark.parametrize(
    ("text", "environ", "expected"),
    [
        ("${A}", {"A": "1"}, ("1", [])),
        ("${A:-d}", {}, ("d", [])),
        ("${A:-d}", {"A": ""}, ("", [])),  # set but empty is set, as the pager has always read it
        ("x${A}y${B}", {}, ("x${A}y${B}", ["A", "B"])),
        ("$A ${lower}", {}, ("$A ${lower}", [])),  # not the ${NAME} form: left as written
    ],
)
def test_expand(text, environ, expected):
    assert expand(text, environ) == expected
