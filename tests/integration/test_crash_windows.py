"""A service killed inside each crash window, mid-traffic, then restarted: nothing lost.

Each window is where an effect is acknowledged but the record of it is not: the router
after its outputs are flushed but before its offsets are committed, the escalator after
its escalations and pages are sent but before its issue table is written, the pager
after a receiver took a page but before the outcome that records it is written. A crash
point (``ESCALATION_CRASH_AT``) kills the service there with SIGKILL on the n-th
crossing while a few hundred contacts flow; the test shows the window was hit, restarts
the service without the crash point, lets the traffic drain, and checks every contact,
escalation and page against what was sent, counting every delivery the sink received.
"""

from __future__ import annotations

import asyncio
import random
import signal
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
import pytest

from escalation.schemas import ContactEvent, codec, make_escalation_id, page_id_for
from escalation.services.common import crashpoints
from escalation.services.common.topics import (
    CONTACTS,
    ESCALATIONS,
    ESCALATOR_APP,
    PAGER_APP,
    PAGES,
    ROUTED,
    ROUTER_APP,
)
from escalation.testing.pipeline import Pipeline, Record, Traffic, behind, read_topic
from escalation.testing.stack import eventually, sink_deliveries
from tests.unit.factories import contact_data

pytestmark = pytest.mark.integration

PARTITIONS = 2
CRITICAL = 150
"""Issues with one critical contact each: every one opens an escalation and pages once."""
ROUTINE = 45
"""Issues with two normal contacts each: routed and recorded, below the repeat threshold."""


@dataclass
class Expected:
    records: list[Record]
    event_ids: set[str]
    escalation_ids: set[str]
    page_ids: set[str]


def traffic() -> Expected:
    """The contacts to send, shuffled, and the ids a correct pipeline derives from them."""
    now = datetime.now(UTC).isoformat()
    contacts = [
        contact_data(
            event_id=f"crit-{i}",
            occurred_at=now,
            customer={"id": f"C-crit-{i}"},
            issue_key=f"ticket-{i}",
            urgency="critical",
        )
        for i in range(CRITICAL)
    ] + [
        contact_data(
            event_id=f"routine-{i}-{n}",
            occurred_at=now,
            customer={"id": f"C-routine-{i}"},
            issue_key=f"ticket-r{i}",
        )
        for i in range(ROUTINE)
        for n in (1, 2)
    ]
    random.Random(9).shuffle(contacts)
    events = [ContactEvent.model_validate(c) for c in contacts]
    escalations = {
        make_escalation_id(e.customer.id, e.issue_id, 1) for e in events if e.urgency == "critical"
    }
    return Expected(
        records=[(e.customer.id.encode(), codec.encode(e), e.event_id) for e in events],
        event_ids={e.event_id for e in events},
        escalation_ids=escalations,
        page_ids={page_id_for(escalation, 1, "trigger") for escalation in escalations},
    )


def distinct_pages(pipeline: Pipeline) -> set[str]:
    received = sink_deliveries(pipeline.sink)["deliveries"]
    return {d["page"]["page_id"] for d in received if d["accepted"]}


def crash_mid_traffic(pipeline: Pipeline, crash_at: str, expected: Expected) -> None:
    """Send the traffic; the armed service dies at its crash point; restart it; drain."""
    service = crash_at.split(".", 1)[0]
    flow = Traffic(pipeline.bootstrap, CONTACTS, expected.records)
    flow.start()
    code = pipeline.services[service].wait_exit(90)
    assert code == -signal.SIGKILL, f"{service} ended with {code}, not at its crash point"
    point, crossing = crash_at.split(":")
    log = pipeline.services[service].log_path.read_text()
    markers = [line for line in log.splitlines() if crashpoints.MARKER in line]
    assert len(markers) == 1, log[-3000:]
    marker = orjson.loads(markers[0])
    assert (marker["point"], marker["crossing"]) == (point, int(crossing))
    # Killed in the middle: pages were still to come.
    assert len(distinct_pages(pipeline)) < len(expected.page_ids)
    flow.finish()
    pipeline.restart_without_crash_point(service)
    drain(pipeline, expected)


def drain(pipeline: Pipeline, expected: Expected) -> None:
    """Wait until as many pages arrived as expected and every service committed its input.

    Counts, not ids: a pipeline that mints other ids than expected still drains, and the
    checks that follow say which ids differ.
    """
    eventually(lambda: len(distinct_pages(pipeline)) >= len(expected.page_ids), "every page", 120)
    lag: dict[str, dict[int, str]] = {}
    inputs = (
        (ROUTER_APP, CONTACTS),
        (ESCALATOR_APP, ROUTED),
        (PAGER_APP, PAGES),
    )

    def committed() -> bool:
        for group, topic in inputs:
            lag[f"{group} {topic}"] = asyncio.run(
                behind(pipeline.bootstrap, group, topic, PARTITIONS)
            )
        return not any(lag.values())

    try:
        eventually(committed, "every service to commit its input", 90)
    except AssertionError as exc:
        raise AssertionError(f"{exc}: {lag}") from None


@dataclass
class Observed:
    routed_total: int
    page_requests_total: int
    deliveries_total: int


def check_nothing_lost_nothing_doubled(pipeline: Pipeline, expected: Expected) -> Observed:
    bootstrap = pipeline.bootstrap
    routed = [codec.decode_routed(m.value) for m in read(bootstrap, ROUTED)]
    copies = defaultdict(list)
    for record in routed:
        copies[record.event_id].append(record)
    assert set(copies) == expected.event_ids  # every contact routed, none invented
    for event_id, sent in copies.items():
        # A repeat is a re-send of the same contact to the same owner, nothing else.
        contact = {c.model_dump_json(exclude={"routing"}) for c in sent}
        assert len(contact) == 1, event_id
        assert len({c.routing.owner for c in sent}) == 1, event_id

    lifecycle = [codec.decode_escalation(m.value) for m in read(bootstrap, ESCALATIONS)]
    opened = defaultdict(set)
    for record in lifecycle:
        if record.type == "opened":
            opened[(record.customer_id, record.issue_id)].add(record.escalation_id)
    twice = {issue: ids for issue, ids in opened.items() if len(ids) > 1}
    assert twice == {}  # a replayed contact opened the same escalation, not a second one
    assert {e for ids in opened.values() for e in ids} == expected.escalation_ids

    requests = [codec.decode_page(m.value) for m in read(bootstrap, PAGES)]
    assert {p.page_id for p in requests} == expected.page_ids

    received = sink_deliveries(pipeline.sink)
    deliveries = received["deliveries"]
    assert received["totals"]["rejected_deliveries"] == 0
    by_page, by_step = defaultdict(set), defaultdict(set)
    for delivery in deliveries:
        page = delivery["page"]
        by_page[page["page_id"]].add(delivery["webhook_id"])
        by_step[(page["escalation_id"], page["level"], page["type"])].add(delivery["webhook_id"])
    assert set(by_page) == expected.page_ids  # every page delivered, none invented
    # Every repeat of a page carried the webhook-id of its first delivery.
    assert {page: ids for page, ids in by_page.items() if len(ids) > 1} == {}
    assert {step: ids for step, ids in by_step.items() if len(ids) > 1} == {}
    totals = received["totals"]
    assert totals["distinct_pages"] == len(expected.page_ids)
    assert totals["deliveries"] == len(deliveries) >= totals["distinct_pages"]
    return Observed(len(routed), len(requests), len(deliveries))


def read(bootstrap: str, topic: str):
    return asyncio.run(read_topic(bootstrap, topic, PARTITIONS))


@pytest.fixture
def pipeline(broker, tmp_path):
    running = Pipeline(broker.bootstrap, tmp_path, PARTITIONS)
    yield running
    running.stop()


def test_router_killed_after_flush_before_commit(pipeline):
    expected = traffic()
    pipeline.start(crash_at="router.after_flush:3")
    crash_mid_traffic(pipeline, "router.after_flush:3", expected)
    observed = check_nothing_lost_nothing_doubled(pipeline, expected)
    # The uncommitted batch was read again and routed again, under the same event ids...
    assert observed.routed_total > len(expected.event_ids)
    router, escalator = pipeline.services["router"], pipeline.services["escalator"]
    # ...recognised as repeats from the router's recovered changelog, and dropped
    # downstream by event id: no escalation or page request came of them.
    assert router.metric("escalation_duplicates_total", topic=CONTACTS) >= 1
    assert escalator.metric("escalation_duplicates_total", topic=ROUTED) >= 1
    assert observed.page_requests_total == len(expected.page_ids)


def test_escalator_killed_after_emit_before_table_write(pipeline):
    expected = traffic()
    pipeline.start(crash_at="escalator.after_emit:40")
    crash_mid_traffic(pipeline, "escalator.after_emit:40", expected)
    observed = check_nothing_lost_nothing_doubled(pipeline, expected)
    # The contact whose effects were sent but not recorded was decided again: the same
    # escalation and page ids were sent again, and the pager dropped the copy.
    assert observed.page_requests_total > len(expected.page_ids)
    pager = pipeline.services["pager"]
    assert pager.metric("escalation_duplicates_total", topic=PAGES) >= 1


def test_pager_killed_after_post_before_recording_delivery(pipeline):
    expected = traffic()
    pipeline.start(crash_at="pager.after_post:40")
    crash_mid_traffic(pipeline, "pager.after_post:40", expected)
    observed = check_nothing_lost_nothing_doubled(pipeline, expected)
    # The page posted but not recorded was delivered again, which the receiver saw, with
    # the webhook-id of the first delivery (checked above for every repeat).
    assert observed.deliveries_total > len(expected.page_ids)
