"""One contact event from HTTP to a signed page, through a real broker and real services."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from escalation.schemas import codec
from escalation.testing.stack import eventually
from tests.unit.factories import contact_data

from .conftest import TOKENS

pytestmark = pytest.mark.integration

CRM = {"authorization": f"Bearer {TOKENS['crm']}", "content-type": "application/json"}
OPS = {"authorization": f"Bearer {TOKENS['ops']}", "content-type": "application/json"}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def post(stack, payload, headers=CRM, raw: bytes | None = None) -> httpx.Response:
    content = raw if raw is not None else codec.dumps(payload)
    return httpx.post(f"{stack.intake}/v1/contacts", content=content, headers=headers, timeout=10)


def contact(customer: str, event_id: str, **overrides):
    # Now, not the factories' fixed date: intake refuses times a year from its clock.
    now = datetime.now(UTC).isoformat()
    return contact_data(event_id=event_id, customer={"id": customer}, occurred_at=now, **overrides)


def delivered_once(stack, pages, **match) -> None:
    """One distinct page, received once: the sink counts repeats, so none happened."""
    assert len(pages) == 1
    assert pages[0]["deliveries"] == 1
    assert len(stack.deliveries(**match)) == 1


def test_three_contacts_on_one_issue_page_exactly_once(stack):
    customer = unique("C")
    ids = [unique("ac") for _ in range(3)]
    for event_id in ids:
        reply = post(stack, contact(customer, event_id))
        assert reply.status_code == 202, reply.text
        assert reply.json() == {"accepted": [event_id], "duplicates": []}
    pages = eventually(lambda: stack.pages(customer=customer), "the repeat-contact page")
    delivered_once(stack, pages, customer=customer)
    page = pages[0]["page"]
    assert pages[0]["verified"] is True
    assert page["type"] == "escalation.paged"
    assert page["contacts"] == ids
    assert page["reason"].startswith("repeat.contacts: 3 contacts")
    assert page["owner"] in {"chen", "dana"}  # equipment-repair route, authority 2
    assert page["dedup_key"] == page["escalation_id"]
    ack = urlsplit(page["ack_url"])
    assert ack.path == f"/v1/escalations/{page['escalation_id']}/ack"
    assert ack.query.startswith("token=l1.1.")  # signed: see test_signed_links.py


def test_critical_contact_pages_at_once_and_ack_reaches_the_receiver(stack):
    customer = unique("VIP")
    event_id = unique("vip")
    vip = contact(customer, event_id, urgency="critical", category="av.projector")
    vip["customer"]["tier"] = "vip"
    reply = post(stack, vip)
    assert reply.status_code == 202, reply.text
    pages = eventually(lambda: stack.pages(customer=customer), "the critical page")
    delivered_once(stack, pages, customer=customer)
    page = pages[0]["page"]
    assert page["reason"] == "urgency.critical"
    assert page["owner"] in {"elif", "grace"}  # VIP desk, authority >= 3
    api = f"{stack.intake}/v1/escalations/{page['escalation_id']}/ack"
    body = {"by": "elif", "note": "on my way"}
    refused = httpx.post(api, json=body, headers=CRM)  # a contact source may not ack
    assert refused.status_code == 403, refused.text
    ack = httpx.post(api, json=body, headers=OPS)
    assert ack.status_code == 202, ack.text
    acked = eventually(
        lambda: stack.pages(customer=customer, type="escalation.acked"),
        "the acknowledgement delivered to the receiver",
    )
    assert acked[0]["page"]["escalation_id"] == page["escalation_id"]
    assert acked[0]["page"]["reason"] == "acked by token:ops"  # the principal, not the body
    delivered_once(stack, acked, customer=customer, type="escalation.acked")
    paged = stack.pages(customer=customer, type="escalation.paged")
    delivered_once(stack, paged, customer=customer, type="escalation.paged")


@pytest.mark.parametrize(
    ("headers", "raw", "status", "loc"),
    [
        (CRM, b'{"event_id": "x",', 400, None),
        (CRM, codec.dumps(contact_data(customer={"tier": "vip"})), 422, ["customer", "id"]),
        (
            CRM,
            b"[" + b",".join([codec.dumps(contact_data(summary="x" * 4000))] * 300) + b"]",
            413,
            None,
        ),
        (
            {"content-type": "text/plain", **{k: v for k, v in CRM.items() if k != "content-type"}},
            codec.dumps(contact_data()),
            415,
            None,
        ),
        ({"content-type": "application/json"}, codec.dumps(contact_data()), 401, None),
        ({**CRM, "authorization": "Bearer wrong"}, codec.dumps(contact_data()), 401, None),
        (
            {**CRM, "authorization": f"Bearer {TOKENS['chat']}"},
            codec.dumps(contact_data()),
            403,
            ["source"],
        ),
    ],
)
def test_bad_requests_get_problem_documents(stack, headers, raw, status, loc):
    reply = post(stack, None, headers=headers, raw=raw)
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"].startswith("application/problem+json")
    problem = reply.json()
    assert problem["status"] == status and problem["title"] and problem["detail"]
    if loc is not None:
        assert loc in [e["loc"] for e in problem["errors"]]


def test_duplicates_count_once_at_intake_and_in_the_stream(stack):
    customer = unique("DUP")
    first, second, third = (unique("d") for _ in range(3))
    assert post(stack, contact(customer, first)).json()["accepted"] == [first]
    again = post(stack, contact(customer, first))
    assert again.status_code == 202
    assert again.json() == {"accepted": [], "duplicates": [first]}
    assert post(stack, contact(customer, second)).status_code == 202

    # The same event reaching Kafka another way (a second intake, an upstream producer)
    # is still one contact: the escalator dedups by event id.
    value = codec.encode(codec.decode_contact(codec.dumps(contact(customer, first))))
    asyncio.run(
        produce(
            stack.bootstrap, "contacts.v1", customer.encode(), value, [("event-id", first.encode())]
        )
    )
    eventually(
        lambda: stack.metric("escalator", "escalation_duplicates_total") >= 1,
        "the escalator to see the duplicate",
    )
    assert stack.pages(customer=customer) == []
    assert stack.deliveries(customer=customer) == []

    assert post(stack, contact(customer, third)).status_code == 202
    pages = eventually(lambda: stack.pages(customer=customer), "the page on the third contact")
    delivered_once(stack, pages, customer=customer)
    assert pages[0]["page"]["contacts"] == [first, second, third]


def test_poison_message_goes_to_the_dlq_and_the_stream_goes_on(stack):
    poison = b'{"event_id": "poison-1", "this is": not json'
    asyncio.run(
        produce(stack.bootstrap, "contacts.v1", b"C-poison", poison, [("event-id", b"poison-1")])
    )
    customer = unique("AFTER")
    assert post(stack, contact(customer, unique("ok"), urgency="critical")).status_code == 202

    dead = asyncio.run(find_on(stack.bootstrap, "contacts.dlq.v1", lambda m: m.value == poison))
    headers = {k: v.decode() for k, v in dead.headers}
    assert headers["error-type"] == "decode"
    assert headers["source-topic"] == "contacts.v1"
    assert headers["source-offset"].isdigit()
    assert "malformed JSON" in headers["error"]
    assert headers["event-id"] == "poison-1"
    pages = eventually(lambda: stack.pages(customer=customer), "the next good page")
    delivered_once(stack, pages, customer=customer)


def test_every_service_serves_health_readiness_and_metrics(stack):
    for url in (stack.intake, stack.web("router"), stack.web("escalator"), stack.web("pager")):
        assert httpx.get(f"{url}/healthz").status_code == 200
        ready = httpx.get(f"{url}/readyz")
        assert ready.status_code == 200, ready.text
        metrics = httpx.get(f"{url}/metrics")
        assert "escalation_build_info" in metrics.text


async def produce(bootstrap, topic, key, value, headers):
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=key, headers=headers)
    finally:
        await producer.stop()


async def find_on(bootstrap, topic, predicate, limit: float = 60.0):
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    try:
        deadline = asyncio.get_running_loop().time() + limit
        while asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for messages in batch.values():
                for message in messages:
                    if predicate(message):
                        return message
        raise AssertionError(f"nothing matching on {topic} after {limit:.0f}s")
    finally:
        await consumer.stop()


@pytest.mark.parametrize(
    ("topic", "dlq", "service"),
    [
        ("contacts.routed.v1", "contacts.routed.dlq.v1", "escalator"),
        ("escalation.commands.v1", "escalation.commands.dlq.v1", "escalator"),
        ("pages.v1", "pages.dlq.v1", "pager"),
    ],
)
def test_every_stream_service_dead_letters_what_it_cannot_read(stack, topic, dlq, service):
    poison = f'{{"poison": "{uuid.uuid4().hex}"}}'.encode()
    asyncio.run(produce(stack.bootstrap, topic, b"C-poison", poison, [("event-id", b"p")]))
    dead = asyncio.run(find_on(stack.bootstrap, dlq, lambda m: m.value == poison))
    headers = {k: v.decode() for k, v in dead.headers}
    assert headers["error-type"] == "schema"
    assert headers["source-topic"] == topic
    assert headers["event-id"] == "p"
    assert stack.metric(service, "escalation_dead_letters_total", topic=topic) >= 1
