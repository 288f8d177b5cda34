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


KEY = "0123456789abcdef0123456789ABCDEF"
PRODUCTION = {**ENV, "ESCALATION_PROFILE": "production"}


def pagerduty(env: str = "ESCALATION_TARGET_PD_KEY", url: str = "") -> str:
    where = f", url: '{url}'" if url else ""
    return f"{{id: pd, type: pagerduty, routing_key: {{env: {env}}}{where}}}"


def email(**fields: str) -> str:
    values = {"to": "[oncall@example.com]", "from": "pager@example.com", "host": "smtp.example.com"}
    values.update(fields)
    return "{id: mail, type: email, " + ", ".join(f"{k}: {v}" for k, v in values.items()) + "}"


@pytest.mark.parametrize(
    ("target", "environ", "expected"),
    [
        (
            pagerduty(),
            ENV,
            "targets[1].routing_key.env: target 'pd' reads its routing key from "
            "ESCALATION_TARGET_PD_KEY, which is not set or empty",
        ),
        (
            pagerduty(),
            {**ENV, "ESCALATION_TARGET_PD_KEY": "short"},
            "targets[1].routing_key.env: target 'pd' reads its routing key from "
            "ESCALATION_TARGET_PD_KEY, which is not an Events API v2 routing key (32 letters "
            "or digits)",
        ),
        (
            "{id: chat, type: slack, url: '${ESCALATION_TARGET_SLACK_URL}'}",
            ENV,
            "targets[1].url: target 'chat' uses ${ESCALATION_TARGET_SLACK_URL}, which is not "
            "set (set it, or give a default: ${ESCALATION_TARGET_SLACK_URL:-...})",
        ),
        (
            "{id: chat, type: slack, url: '${SLACK_URL:-https://hooks.slack.com/x}'}",
            {**ENV, "SLACK_URL": "https://hooks.slack.com/services/T/B/x"},
            "targets[1].url: target 'chat' uses ${SLACK_URL}, which is not expanded: only "
            "variables starting with ESCALATION_TARGET_ are (ESCALATION_PAGER_EXPAND_PREFIXES)",
        ),
        (
            ops(env=None),
            ENV,
            "targets[1]: webhook target 'ops' needs secret: {env: NAME}, a variable holding "
            "a whsec_ secret",
        ),
        (
            ops("${ESCALATION_TARGET_OPS_URL}/hook", "Q_SECRET"),
            ENV,
            "targets[1].url: target 'ops' uses ${ESCALATION_TARGET_OPS_URL}, which is not set "
            "(set it, or give a default: ${ESCALATION_TARGET_OPS_URL:-...})",
        ),
        (
            ops("ftp://ops.example.com", "Q_SECRET"),
            ENV,
            "targets[1].url: target 'ops' needs an http:// or https:// URL",
        ),
        (
            ops("${ESCALATION_TARGET_OPS_URL:-}", "Q_SECRET"),
            ENV,
            "targets[1].url: target 'ops' needs an http:// or https:// URL",
        ),
        (
            ops("http://169.254.169.254/latest/meta-data", "Q_SECRET"),
            ENV,
            "targets[1].url: target 'ops' may not be paged: 169.254.169.254 is a cloud "
            "metadata address (allow its network in ESCALATION_PAGER_ALLOW_NETWORKS if it is "
            "meant)",
        ),
        (
            ops("http://10.1.2.3/hook", "Q_SECRET"),
            ENV,
            "targets[1].url: target 'ops' may not be paged: 10.1.2.3 is a private address "
            "(allow its network in ESCALATION_PAGER_ALLOW_NETWORKS if it is meant)",
        ),
        (
            ops("http://[fe80::1]/hook", "Q_SECRET"),
            ENV,
            "targets[1].url: target 'ops' may not be paged: fe80::1 is a link-local address "
            "(allow its network in ESCALATION_PAGER_ALLOW_NETWORKS if it is meant)",
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
        (
            email(starttls="false"),
            ENV,
            "targets[1].starttls: target 'mail' would send pages (and their ack links) in "
            "clear: STARTTLS may be off only for a loopback SMTP server",
        ),
        (
            email(username="pager", password="{env: SMTP_PASSWORD}"),
            ENV,
            "targets[1].password.env: target 'mail' reads its password from SMTP_PASSWORD, "
            "which is not set or empty",
        ),
        (
            email(host="192.168.1.5"),
            ENV,
            "targets[1].host: target 'mail' may not be paged: 192.168.1.5 is a private address "
            "(allow its network in ESCALATION_PAGER_ALLOW_NETWORKS if it is meant)",
        ),
    ],
)
def test_each_refusal_names_the_target_the_field_and_what_to_do(target, environ, expected):
    usable, problems = check_targets(policy_with(extra(target)), environ)
    assert problems == [expected]
    assert [t.id for t in usable] == ["quality"], "the other targets stay usable"


def test_every_problem_of_every_target_is_reported_not_only_the_first():
    policy = policy_with(
        extra(
            "{id: a, type: webhook, url: '${ESCALATION_TARGET_HOST}/${ESCALATION_TARGET_PATH}',"
            " secret: {env: A_SECRET}}"
        ),
        extra("{id: b, type: slack, url: '${HOME}'}"),
    )
    usable, problems = check_targets(policy, {"HOME": "/root"})
    assert usable == []
    assert problems == [
        "targets[0].secret.env: target 'quality' reads its secret from Q_SECRET, which is not set",
        "targets[1].url: target 'a' uses ${ESCALATION_TARGET_HOST}, which is not set (set it, "
        "or give a default: ${ESCALATION_TARGET_HOST:-...})",
        "targets[1].url: target 'a' uses ${ESCALATION_TARGET_PATH}, which is not set (set it, "
        "or give a default: ${ESCALATION_TARGET_PATH:-...})",
        "targets[1].secret.env: target 'a' reads its secret from A_SECRET, which is not set",
        "targets[2].url: target 'b' uses ${HOME}, which is not expanded: only variables "
        "starting with ESCALATION_TARGET_ are (ESCALATION_PAGER_EXPAND_PREFIXES)",
    ]


def test_a_usable_target_has_its_url_expanded_and_its_secret_read():
    url = "${ESCALATION_TARGET_HOST:-http://h.example}/p/${ESCALATION_TARGET_TEAM}"
    policy = policy_with(extra(ops(url, "Q_SECRET")))
    usable, problems = check_targets(policy, {**ENV, "ESCALATION_TARGET_TEAM": "hvac"})
    assert problems == []
    assert usable[1] == Deliverable("ops", "webhook", "http://h.example/p/hvac", SECRET)


def test_every_type_the_policy_accepts_is_usable_when_its_environment_is_set():
    policy = policy_with(
        extra(pagerduty(url="https://events.eu.pagerduty.com/v2/enqueue")),
        extra("{id: chat, type: slack, url: '${ESCALATION_TARGET_SLACK_URL}'}"),
        extra(email(username="pager", password="{env: SMTP_PASSWORD}")),
    )
    environ = {
        **ENV,
        "ESCALATION_TARGET_PD_KEY": KEY,
        "ESCALATION_TARGET_SLACK_URL": "https://hooks.slack.com/services/T0/B0/xyz",
        "SMTP_PASSWORD": "pw",
    }
    usable, problems = check_targets(policy, environ)
    assert problems == []
    assert [(t.id, t.type, t.url, t.secret) for t in usable[1:]] == [
        ("pd", "pagerduty", "https://events.eu.pagerduty.com/v2/enqueue", KEY),
        ("chat", "slack", "https://hooks.slack.com/services/T0/B0/xyz", ""),
        ("mail", "email", "smtp.example.com", "pw"),
    ]


def test_loopback_is_allowed_only_in_the_embedded_profile_or_when_listed():
    policy = policy_with()
    assert check_targets(policy, ENV)[1] == []
    assert check_targets(policy, PRODUCTION)[1] == [
        "targets[0].url: target 'quality' may not be paged: 127.0.0.1 is a loopback address "
        "(allow its network in ESCALATION_PAGER_ALLOW_NETWORKS if it is meant)"
    ]
    allowed = {**PRODUCTION, "ESCALATION_PAGER_ALLOW_NETWORKS": "10.0.0.0/8, 127.0.0.1/32"}
    assert check_targets(policy, allowed)[1] == []


def test_more_prefixes_can_be_allowed():
    policy = policy_with(extra("{id: chat, type: slack, url: '${PAGES_SLACK}'}"))
    environ = {**ENV, "PAGES_SLACK": "https://hooks.slack.com/x"}
    assert len(check_targets(policy, environ)[1]) == 1
    environ["ESCALATION_PAGER_EXPAND_PREFIXES"] = "ESCALATION_TARGET_,PAGES_"
    assert check_targets(policy, environ)[1] == []


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
