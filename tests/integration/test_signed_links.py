"""A page's signed ack link, opened in a real headless browser against the real stack.

The link is read from a delivered email: the stack runs the example policy with an
email target added to every team, delivered over STARTTLS to a local SMTP server
process that records every message, as an on-call engineer would receive it.
"""

from __future__ import annotations

import asyncio
import email
import json
import re
import time
from email import policy as email_policy
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from escalation.services.common.links import LinkClaim, sign
from escalation.testing.stack import EXAMPLE_POLICY, Stack, eventually, start_stack, stop_stack

from .browser import chromium_path, headless_chromium
from .conftest import LINK_KEY, token_setting
from .pager_stack import Receivers, start_receivers
from .test_walking_skeleton import contact, find_on, post, unique

pytestmark = pytest.mark.integration

TARGET = "oncall-mail"  # the email target this module adds to every team


def mail_policy(smtp_port: int) -> str:
    text = EXAMPLE_POLICY.read_text()
    assert text.count("targets: [ops-webhook]") >= 1
    text = text.replace("targets: [ops-webhook]", f"targets: [ops-webhook, {TARGET}]")
    target = (
        f"  - {{id: {TARGET}, type: email, to: [oncall@example.com], from: pager@example.com, "
        f"host: 127.0.0.1, port: {smtp_port}, username: pager, password: {{env: SMTP_PASSWORD}}}}\n"
    )
    return text.replace("\ntargets:\n", "\ntargets:\n" + target, 1)


@pytest.fixture(scope="module")
def receivers(tmp_path_factory) -> Receivers:
    running = start_receivers(tmp_path_factory.mktemp("receivers"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def stack(receivers, tmp_path_factory) -> Stack:
    policy = tmp_path_factory.mktemp("policy") / "policy.yaml"
    policy.write_text(mail_policy(receivers.smtp_port))
    env = {
        "ESCALATION_INTAKE_TOKENS": token_setting(),
        "ESCALATION_LINK_KEYS": LINK_KEY,
        "ESCALATION_PAGER_CA_FILE": str(receivers.cert),
        "SMTP_PASSWORD": "pw",
    }
    running = start_stack(env, policy=policy)
    yield running
    assert stop_stack(running) == 0, "\n".join(running.output[-30:])


@pytest.fixture(scope="session")
def chromium() -> str:
    """Found before the stack starts: a missing browser costs no broker start-up."""
    return chromium_path()


def delivered_link(
    stack: Stack, receivers: Receivers, customer: str, action: str
) -> tuple[str, dict]:
    """The ``action`` link in the email about ``customer``'s first page, and the page."""
    pages = eventually(lambda: stack.pages(customer=customer), "the page at the sink")
    page = pages[0]["page"]

    def mail():
        for sent in receivers.mails():
            message = email.message_from_string(sent["data"], policy=email_policy.default)
            text = message.get_body(("plain",)).get_content()
            if page["escalation_id"] in text:
                return text
        return None

    text = eventually(mail, "the page's email")
    [link] = re.findall(rf"https?://\S+/{action}\?token=\S+", text)
    return link, page


def token_of(link: str) -> str:
    return parse_qs(urlsplit(link).query)["token"][0]


def with_token(link: str, token: str) -> str:
    return link.split("?", 1)[0] + "?token=" + token


def record(message) -> dict:
    """A record's JSON object; other tests leave poison on these topics, read as empty."""
    try:
        value = json.loads(message.value)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def commands_until(stack: Stack, escalation_id: str, last) -> list[dict]:
    """Every command on the escalation up to and including the first ``last`` matches.

    A customer's commands share one partition, in the order intake wrote them, and intake
    answers only once the broker has a write: whatever the link's GETs or refused posts had
    written would be found before the confirmed command.
    """
    seen: list[dict] = []

    def collect(message) -> bool:
        command = record(message)
        if command.get("escalation_id") != escalation_id:
            return False
        seen.append(command)
        return last(command)

    asyncio.run(find_on(stack.bootstrap, "escalation.commands.v1", collect))
    return seen


def test_a_signed_ack_link_confirmed_in_a_browser_acks_as_its_target(chromium, stack, receivers):
    customer = unique("LINK")
    critical = contact(customer, unique("vip"), urgency="critical", category="av.projector")
    assert post(stack, critical).status_code == 202
    link, page = delivered_link(stack, receivers, customer, "ack")
    escalation_id = page["escalation_id"]
    claim = LinkClaim(escalation_id, "ack", page["level"], int(time.time()) - 60, TARGET)
    expired = sign(LINK_KEY, claim)
    tampered = token_of(link).replace(f"l1.{page['level']}.", f"l1.{page['level'] + 1}.", 1)
    api = link.split("?", 1)[0]

    # What a mail scanner or chat unfurler does: fetch the link. Nothing may change.
    for _ in range(2):
        assert httpx.get(link, timeout=10).status_code == 200
    for bad in (tampered, expired):
        assert httpx.post(api, data={"token": bad}, timeout=10).status_code == 403

    with headless_chromium(chromium) as browser:
        tab = browser.new_page()
        for bad, words in ((tampered, "not valid"), (expired, "expired")):
            response = tab.goto(with_token(link, bad))
            assert response is not None and response.status == 403
            assert words in tab.inner_text("#outcome")
            assert "Nothing was changed" in tab.inner_text("body")
            assert tab.locator("form").count() == 0
        response = tab.goto(link)
        assert response is not None and response.status == 200
        shown = tab.inner_text("body")
        assert escalation_id in shown and f"link:{TARGET}" in shown
        with tab.expect_navigation() as answer:
            tab.click("#confirm")
        assert answer.value.status == 202, tab.inner_text("body")
        assert tab.inner_text("#outcome") == "Acknowledged"

    acked = asyncio.run(
        find_on(
            stack.bootstrap,
            "escalations.v1",
            lambda m: (
                json.loads(m.value)["escalation_id"] == escalation_id
                and json.loads(m.value)["type"] == "acked"
            ),
        )
    )
    assert record(acked)["by"] == f"link:{TARGET}"
    commands = commands_until(stack, escalation_id, lambda c: c["by"] == f"link:{TARGET}")
    assert [(c["action"], c["by"]) for c in commands] == [("ack", f"link:{TARGET}")]
    receipt = eventually(
        lambda: stack.pages(customer=customer, type="escalation.acked"), "the acked page"
    )
    assert receipt[0]["page"]["reason"] == f"acked by link:{TARGET}"
