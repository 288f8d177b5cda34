"""PagerDuty, Slack and email pages hold to their receivers' documented shapes."""

from __future__ import annotations

import email
import json
from email import policy as email_policy
from types import SimpleNamespace

import pytest
from tests.vendor_shapes import PagerDutyEvent, SlackMessage

from escalation.policy import parse_policy
from escalation.policy.templates import sample_pages
from escalation.services.common.links import new_key
from escalation.services.pager.targets.base import Links
from escalation.services.pager.targets.email import EmailTarget
from escalation.services.pager.targets.pagerduty import PagerDutyTarget
from escalation.services.pager.targets.slack import SlackTarget
from escalation.testing.stack import EXAMPLE_POLICY

LINKS = Links("https://intake.example", new_key())  # signed links, per target
KEY = "0123456789abcdef0123456789ABCDEF"
FULL, BARE = sample_pages()


def spec(**values):
    defaults = {"fallback": None, "deadline": None, "actions": None, "templates": {}}
    return SimpleNamespace(**{**defaults, **values})


@pytest.mark.parametrize("page", [FULL, BARE], ids=["full", "bare"])
@pytest.mark.parametrize("action", ["trigger", "acknowledge", "resolve"])
def test_pagerduty_events_have_the_documented_shape(page, action):
    page = page.model_copy(update={"action": action})
    target = PagerDutyTarget("pd", "https://events.pagerduty.com/v2/enqueue", KEY, spec=spec())
    request = target.build(page, LINKS, 0)
    event = PagerDutyEvent.model_validate_json(request.content)
    assert event.event_action == action
    assert event.dedup_key == page.escalation_id
    if action == "trigger":
        assert event.payload.severity == "critical"
        assert [link.href for link in event.links] == [
            LINKS.ack(page, "pd"),
            LINKS.resolve(page, "pd"),
        ]
    else:
        assert event.payload is None


def test_a_pagerduty_summary_template_is_cut_to_the_limit_on_one_line():
    long = spec(
        templates={"summary": "{{ page.reason }}\n{% for _ in range(300) %}xxxxx{% endfor %}"}
    )
    target = PagerDutyTarget("pd", "https://x/v2/enqueue", KEY, "warning", long)
    event = json.loads(target.build(FULL, LINKS, 0).content)
    assert len(event["payload"]["summary"]) == 1024
    assert "\n" not in event["payload"]["summary"]
    assert event["payload"]["severity"] == "warning"


@pytest.mark.parametrize("page", [FULL, BARE], ids=["full", "bare"])
def test_slack_messages_are_block_kit_with_who_what_why_and_link_buttons(page):
    target = SlackTarget("chat", "https://hooks.slack.com/services/T/B/x", spec())
    body = json.loads(target.build(page, LINKS, 0).content)
    message = SlackMessage.model_validate(body)
    text = json.dumps(body)
    assert "<!channel>" not in text, "a customer's text cannot mention a channel"
    if page is FULL:
        assert "&lt;!channel&gt; &amp; more" in text
        assert "*Who*" in text and "paging chen" in text
        assert "route equipment-repair: matched" in text
        buttons = message.blocks[-1].elements
        assert [(b.text.text, b.url) for b in buttons] == [
            ("Acknowledge", LINKS.ack(page, "chat")),
            ("Resolve", LINKS.resolve(page, "chat")),
        ]
    else:
        assert all(block.type != "actions" for block in message.blocks), "resolved: no buttons"


def email_target(**extra):
    values = {
        "port": 587,
        "starttls": True,
        "username": None,
        "sender": "pager@example.com",
        "to": ["oncall@example.com", "lead@example.com"],
    }
    return EmailTarget("mail", "smtp.example.com", "", spec(**{**values, **extra}))


def test_an_email_has_text_and_html_with_the_links_and_a_stable_message_id():
    raw = email_target().message(FULL, LINKS).as_bytes()
    message = email.message_from_bytes(raw, policy=email_policy.default)
    assert message.get_content_type() == "multipart/alternative"
    assert message["Message-ID"] == f"<{FULL.page_id}.mail@escalation.pager>"
    assert message["To"] == "oncall@example.com, lead@example.com"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    for part in (text, html):
        assert LINKS.ack(FULL, "mail") in part
        assert LINKS.resolve(FULL, "mail") in part
    assert "&lt;!channel&gt; &amp; more" in html, "HTML is escaped"
    assert "Why:  repeat.contacts" in text and "route equipment-repair: matched" in text


def test_an_email_subject_is_one_line_whatever_the_template_says():
    target = email_target(templates={"subject": "a\r\nBcc: evil@example.com\n{{ page.reason }}"})
    message = target.message(FULL, LINKS)
    assert "\n" not in message["Subject"] and "\r" not in message["Subject"]
    assert message["Bcc"] is None


def test_a_target_takes_only_the_actions_it_names():
    policy = parse_policy(
        EXAMPLE_POLICY.read_text().replace(
            "targets:\n",
            "targets:\n  - {id: chat, type: slack, url: 'https://hooks.slack.com/x', "
            "actions: [trigger]}\n",
            1,
        )
    ).policy
    from escalation.services.pager.targets.registry import build_targets

    targets, _ = build_targets(policy, {})
    assert targets["chat"].accepts("trigger") and not targets["chat"].accepts("resolve")
