"""A template that would fail at 3 a.m. fails the policy when it loads, with its path."""

from __future__ import annotations

import pytest

from escalation.policy import PolicyError, parse_policy
from escalation.policy.templates import DEFAULTS, check
from tests.unit.policy.fixtures import POLICY

QUALITY = '  - {id: quality, type: webhook, url: "http://127.0.0.1:1/q", secret: {env: Q_SECRET}}\n'


def errors_of(target: str) -> list[str]:
    with pytest.raises(PolicyError) as caught:
        parse_policy(POLICY.replace(QUALITY, QUALITY + f"  - {target}\n"))
    return caught.value.errors


SLACK = "{id: chat, type: slack, url: 'https://hooks.slack.com/x', templates: {%s}}"


@pytest.mark.parametrize(
    ("templates", "expected"),
    [
        (
            "text: '{{ page.sumary }}'",
            "targets[1].templates.text: fails on a sample page (trigger): 'dict object' has "
            "no attribute 'sumary'",
        ),
        (
            "text: '{{ page.contacts[0] }}'",
            "targets[1].templates.text: fails on a sample page (resolve): list object has no "
            "element 0",
        ),
        (
            "text: '{{ page.summary[:10] }}'",
            "targets[1].templates.text: fails on a sample page (resolve): 'NoneType' object "
            "is not subscriptable",
        ),
        (
            "body: '{% if page.level %}'",
            "targets[1].templates.body: invalid template: line 1: Unexpected end of template. "
            "Jinja was looking for the following tags: 'elif' or 'else' or 'endif'. The "
            "innermost block that needs to be closed is 'if'.",
        ),
        (
            "subject: 'x'",
            "targets[1].templates.subject: unknown template for a slack target (known: text, "
            "title, body)",
        ),
        (
            "text: '{{ page.__class__.__mro__ }}'",
            "targets[1].templates.text: fails on a sample page (trigger): access to attribute "
            "'__class__' of 'dict' object is unsafe.",
        ),
    ],
)
def test_a_failing_template_is_a_policy_error_with_its_path(templates, expected):
    assert errors_of(SLACK % templates) == [expected]


def test_a_webhook_has_no_templates_and_a_fallback_must_exist():
    errors = errors_of(
        "{id: w, type: webhook, url: 'https://x', fallback: nowhere, templates: {text: x}}"
    )
    assert errors == [
        "targets[1].templates.text: unknown template for a webhook target (known: none: the "
        "body is the contract's)",
        "targets[1].fallback: unknown target 'nowhere'",
    ]


def test_the_sandbox_refuses_python_internals():
    problems = check("slack", {"text": "{{ ''.__class__.__mro__[1].__subclasses__() }}"})
    assert len(problems) == 1 and "unsafe" in problems[0][1]


@pytest.mark.parametrize("name", sorted(DEFAULTS))
def test_every_default_template_renders_on_every_sample(name):
    kind, template = name.split(".")
    assert check(kind, {template: DEFAULTS[name]}) == []


def test_a_good_template_loads():
    parse_policy(POLICY.replace(QUALITY, QUALITY + "  - " + SLACK % "text: '{{ page.reason }}'\n"))
