"""Pages against real receiver processes: once per target, retried as set, never stalled.

One broker, one HTTP receiver process (a behaviour per path: 200, 500 then 200, 429 with
Retry-After, never answering, 400 until fixed), an SMTP server process with STARTTLS
and a login, a closed port, and one pager process for the module; the last test kills
that pager with SIGKILL mid-delivery. Every receiver records every request, repeats
included, so the tests count what a receiver saw, not what the pager says.
"""

from __future__ import annotations

import asyncio
import email
import json
import subprocess
import sys
import time
from email import policy as email_policy

import pytest

from escalation.services.common.broker import EmbeddedBroker, ensure_topics, free_port
from escalation.services.common.topics import catalogue
from escalation.services.pager.signing import new_secret, verify
from escalation.testing.stack import ROOT, Service, eventually
from tests.vendor_shapes import PagerDutyEvent, SlackMessage

from .pager_stack import (
    PD_KEY,
    dead_letters,
    dedup_of,
    outcomes,
    page,
    policy_text,
    send,
    start_receivers,
)

pytestmark = pytest.mark.integration

SECRET = new_secret()
BACKOFF_BASE = 0.4


@pytest.fixture(scope="module")
def broker():
    with EmbeddedBroker() as running:
        asyncio.run(ensure_topics({"bootstrap_servers": running.bootstrap}, catalogue(2)))
        yield running


@pytest.fixture(scope="module")
def receivers(tmp_path_factory):
    running = start_receivers(tmp_path_factory.mktemp("receivers"), SECRET)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def pager(broker, receivers, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pager")
    policy = tmp / "policy.yaml"
    policy.write_text(policy_text(receivers))
    port = free_port()
    env = {
        "ESCALATION_KAFKA_BOOTSTRAP": broker.bootstrap,
        "ESCALATION_KAFKA_PARTITIONS": "2",
        "ESCALATION_PAGER_PORT": str(port),
        "ESCALATION_POLICY": str(policy),
        "ESCALATION_DATA_DIR": str(tmp / "data"),
        "ESCALATION_LOG_FORMAT": "json",
        "ESCALATION_PAGER_TIMEOUT_SECONDS": "1",
        "ESCALATION_PAGER_BACKOFF_BASE_SECONDS": str(BACKOFF_BASE),
        "ESCALATION_PAGER_BACKOFF_MAX_SECONDS": "2",
        "ESCALATION_PAGER_DEADLINE_SECONDS": "20",
        "ESCALATION_PAGER_BREAKER_FAILURES": "3",
        "ESCALATION_PAGER_BREAKER_RESET_SECONDS": "120",
        "ESCALATION_PAGER_CA_FILE": str(receivers.cert),
        "ESCALATION_PAGE_SINK_SECRET": new_secret(),
        "ESCALATION_TARGET_RECEIVER": receivers.url,
        "ESCALATION_TARGET_PD_KEY": PD_KEY,
        "HOOK_SECRET": SECRET,
        "SMTP_PASSWORD": "pw",
    }
    service = Service("pager", env, port, tmp / "pager.log").start()
    yield service
    service.stop()


def webhook_ids(deliveries) -> set[str]:
    return {d["headers"]["webhook-id"] for d in deliveries}


def test_each_target_gets_the_page_once_retried_as_configured(broker, receivers, pager):
    request = page(["hook-ok", "hook-flaky", "hook-429", "pd", "chat", "mail"])
    asyncio.run(send(broker.bootstrap, request))
    pid = request.page_id
    eventually(
        lambda: [d for d in receivers.deliveries("/ratelimit", pid) if d["status"] == 200],
        "the rate-limited receiver to take the page",
    )
    eventually(lambda: len(receivers.deliveries("/flaky", pid)) == 2, "the flaky receiver's retry")
    eventually(receivers.mails, "the email")

    [ok] = receivers.deliveries("/ok", pid)
    assert verify(SECRET, ok["headers"], ok["body"].encode(), int(time.time())) == pid
    assert ok["verified"] is True and ok["id"] == pid
    flaky = receivers.deliveries("/flaky", pid)
    assert [d["status"] for d in flaky] == [500, 200] and webhook_ids(flaky) == {pid}
    assert flaky[1]["at"] - flaky[0]["at"] >= BACKOFF_BASE / 2, "backoff floor: half a step"
    limited = receivers.deliveries("/ratelimit", pid)
    assert [d["status"] for d in limited] == [429, 200] and webhook_ids(limited) == {pid}
    assert limited[1]["at"] - limited[0]["at"] >= 2.0, "Retry-After: 2 honoured"

    [pd] = receivers.deliveries("/pagerduty")
    event = PagerDutyEvent.model_validate_json(pd["body"])
    assert (event.event_action, event.dedup_key) == ("trigger", request.escalation_id)
    [chat] = receivers.deliveries("/slack")
    message = SlackMessage.model_validate_json(chat["body"])
    assert "<!channel>" not in chat["body"] and message.blocks[-1].type == "actions"
    [mail] = receivers.mails()
    assert mail["tls"] and mail["login"] and mail["to"] == ["oncall@example.com"]
    parsed = email.message_from_string(mail["data"], policy=email_policy.default)
    assert parsed["Message-ID"] == f"<{pid}.mail@escalation.pager>"
    assert request.escalation_id in parsed.get_body(("plain",)).get_content()

    def books():
        found = outcomes(broker.bootstrap, pid)
        return found if len([r for r in found if r.type == "page.delivered"]) >= 6 else None

    records = eventually(books, "page.delivered for every target")
    delivered = [r for r in records if r.type == "page.delivered"]
    assert sorted(r.target for r in delivered) == sorted(request.targets)
    assert [r.type for r in records].count("paged") == 1, "paged once: someone got it"

    ack = request.model_copy(update={"page_id": pid + "a", "action": "acknowledge"})
    asyncio.run(send(broker.bootstrap, ack))
    acked = eventually(
        lambda: [d for d in receivers.deliveries("/pagerduty") if '"acknowledge"' in d["body"]],
        "the acknowledge event at PagerDuty",
    )
    assert dedup_of(acked[0]) == request.escalation_id


def test_a_dead_receiver_does_not_delay_another_targets_pages(broker, receivers, pager):
    """Healthy pages and pages that also go to a hanging or refusing receiver, in one batch.

    Measured against the healthy target in the same run: if a dead receiver held the
    pages behind it, the healthy target would get the batch's pages seconds apart (one
    attempt timeout per dead page); it gets them within a second of each other.
    """
    healthy = [page(["hook-ok"]) for _ in range(4)]
    slow = [page(["hook-slow", "hook-ok"]) for _ in range(4)]
    dead = [page(["hook-dead", "hook-ok"]) for _ in range(4)]
    batch = [p for trio in zip(slow, healthy, dead, strict=True) for p in trio]
    asyncio.run(send(broker.bootstrap, *batch))
    ids = [p.page_id for p in batch]
    got = eventually(
        lambda: (
            (found := [d for d in receivers.deliveries("/ok") if d["headers"]["webhook-id"] in ids])
            and len(found) == len(ids)
            and found
        ),
        "every page at the healthy target",
    )
    times = [d["at"] for d in got]
    assert max(times) - min(times) < 1.0, f"spread {max(times) - min(times):.2f}s"
    assert len(webhook_ids(got)) == len(ids), "once each"

    # The dead receivers' pages fall back (circuit or deadline), and are dead-lettered.
    eventually(
        lambda: {p.page_id for p in slow + dead} <= webhook_ids(receivers.deliveries("/spare")),
        "every dead receiver's page at the fallback",
    )
    records = outcomes(broker.bootstrap, dead[-1].page_id)
    [failed] = [r for r in records if r.type == "page.failed"]
    assert (failed.target, failed.fallback) == ("hook-dead", "hook-spare")
    assert "circuit open" in failed.error or "ConnectError" in failed.error
    letters = dead_letters(broker.bootstrap, slow[0].page_id)
    headers = {k: v.decode() for k, v in letters[0].headers}
    assert (headers["error-type"], headers["failed-target"]) == ("delivery", "hook-slow")
    assert pager.metric("escalation_page_circuit_open", target="hook-dead") == 1
    assert pager.metric("escalation_page_fallbacks_total", target="hook-slow") == len(slow)


def test_a_rejected_page_is_dead_lettered_then_replayed_after_the_fix(broker, receivers, pager):
    request = page(["hook-reject"])
    asyncio.run(send(broker.bootstrap, request))
    [letter] = eventually(
        lambda: dead_letters(broker.bootstrap, request.page_id), "the dead letter"
    )
    headers = {k: v.decode() for k, v in letter.headers}
    assert headers["error-type"] == "delivery"
    assert headers["error"] == "hook-reject: HTTP 400"
    assert headers["event-id"] == request.page_id, "the original headers are kept"
    assert [d["status"] for d in receivers.deliveries("/reject", request.page_id)] == [400]

    receivers.control(path="/reject", ok=True)
    replay = subprocess.run(
        [
            sys.executable,
            "-m",
            "escalation",
            "dlq",
            "replay",
            "pages.dlq.v1",
            "--bootstrap",
            broker.bootstrap,
            "--reason",
            "delivery",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert replay.returncode == 0, replay.stderr
    assert "to pages.v1" in replay.stdout
    eventually(
        lambda: [d for d in receivers.deliveries("/reject", request.page_id) if d["status"] == 200],
        "the replayed page at the fixed receiver",
    )
    records = eventually(
        lambda: [
            r for r in outcomes(broker.bootstrap, request.page_id) if r.type == "page.delivered"
        ],
        "page.delivered after the replay",
    )
    assert records[0].target == "hook-reject"


def test_a_pager_killed_after_the_post_sends_the_page_again_with_the_same_id(
    broker, receivers, pager
):
    """The receiver SIGKILLs the pager when the page arrives, before answering it."""
    assert pager.process is not None
    receivers.control(kill=pager.process.pid)
    request = page(["hook-kill"])
    asyncio.run(send(broker.bootstrap, request))
    eventually(lambda: pager.process.poll() is not None, "the pager to be killed")
    pager.start()
    again = eventually(
        lambda: (
            (found := receivers.deliveries("/kill", request.page_id)) and len(found) >= 2 and found
        ),
        "the page sent again after the restart",
    )
    assert webhook_ids(again) == {request.page_id}
    eventually(
        lambda: [
            r for r in outcomes(broker.bootstrap, request.page_id) if r.type == "page.delivered"
        ],
        "the delivery recorded",
    )
    time.sleep(2)
    assert len(receivers.deliveries("/kill", request.page_id)) == 2, "not a third time"
    assert json.loads(again[0]["body"])["page_id"] == request.page_id
