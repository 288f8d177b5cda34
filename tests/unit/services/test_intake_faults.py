"""Intake under faults: floods, huge bad bodies, a broker that hangs or is not there yet."""

import asyncio

import httpx
from tests.unit.factories import contact_data
from tests.unit.services.intake_fakes import JSON, body, make, problem

from escalation.schemas import codec
from escalation.services.common.metrics import ServiceMetrics
from escalation.services.intake.app import build_http
from escalation.services.intake.auth import digest


async def test_a_flood_is_refused_before_its_bodies_are_parsed():
    intake, _ = make(intake_rate_per_source=1, intake_burst_per_source=2)
    for i in range(2):
        assert (await intake.post_contacts(JSON, body(contact_data(event_id=str(i))))).status == 202
    # Malformed JSON would be a 400 if it were read: once the bucket is empty it is not.
    reply = await intake.post_contacts(JSON, b'{"event_id": ')
    assert reply.status == 429
    assert int(reply.headers["retry-after"]) >= 1


async def test_every_request_costs_one_event_and_a_batch_one_per_event():
    intake, producer = make(intake_rate_per_source=0.001, intake_burst_per_source=4)
    assert (await intake.post_contacts(JSON, b"not json")).status == 400  # costs 1
    three = body(*[contact_data(event_id=f"b{i}") for i in range(3)])
    assert (await intake.post_contacts(JSON, three)).status == 202  # costs 3
    assert (await intake.post_contacts(JSON, body(contact_data(event_id="x")))).status == 429
    assert len(producer.sent) == 3


async def test_sources_with_tokens_have_their_own_buckets():
    tokens = {"crm": digest("a"), "chat": digest("b")}
    intake, _ = make(intake_tokens=tokens, intake_rate_per_source=0.001, intake_burst_per_source=1)
    crm = {**JSON, "authorization": "Bearer a"}
    chat = {**JSON, "authorization": "Bearer b"}
    assert (await intake.post_contacts(crm, body(contact_data()))).status == 202
    assert (await intake.post_contacts(crm, body(contact_data(event_id="2")))).status == 429
    reply = await intake.post_contacts(chat, body(contact_data(event_id="3", source="chat")))
    assert reply.status == 202


async def test_a_batch_over_the_limit_is_refused_by_its_length_with_a_small_answer():
    intake, _ = make()
    reply = await intake.post_contacts(JSON, b"[" + b",".join([b"{}"] * 30_000) + b"]")
    doc = problem(reply)
    assert reply.status == 413
    assert doc["type"].endswith("/batch-too-large")
    assert doc["detail"] == "batch has 30000 events; the limit is 1000"
    assert len(reply.body) < 1000


async def test_a_bad_batch_lists_a_hundred_errors_and_counts_them_all():
    intake, _ = make()
    reply = await intake.post_contacts(JSON, b"[" + b",".join([b"{}"] * 1000) + b"]")
    doc = problem(reply)
    assert reply.status == 422
    assert doc["error_count"] == 5000
    assert len(doc["errors"]) == 100
    assert doc["errors"][0] == {"loc": [0, "event_id"], "msg": "Field required"}
    assert len(reply.body) < 20_000


async def test_a_broker_that_does_not_acknowledge_is_503_within_the_deadline():
    intake, producer = make(intake_broker_deadline_seconds=0.05)
    producer.hang = True
    reply = await intake.post_contacts(JSON, body(contact_data()))
    assert reply.status == 503
    assert reply.headers["retry-after"] == "1"
    assert problem(reply)["type"].endswith("/broker-unavailable")
    command = await intake.post_command("e1.Qy0xMDQy.0123456789abcdef01234567.1", "ack", JSON, b"")
    assert command.status == 503 and command.headers["retry-after"] == "1"


async def test_a_write_acknowledged_after_its_503_makes_the_retry_a_duplicate():
    intake, producer = make(intake_broker_deadline_seconds=0.05)
    producer.hang = True
    assert (await intake.post_contacts(JSON, body(contact_data()))).status == 503
    producer.hang = False
    producer.release()  # the broker wakes up and acknowledges what it held
    await asyncio.sleep(0)
    retry = await intake.post_contacts(JSON, body(contact_data()))
    assert codec.loads_plain(retry.body) == {"accepted": [], "duplicates": ["crm-1"]}
    assert len(producer.sent) == 1


async def test_a_write_that_never_lands_is_accepted_on_retry():
    intake, producer = make(intake_broker_deadline_seconds=0.05)
    producer.hang = True
    assert (await intake.post_contacts(JSON, body(contact_data()))).status == 503
    producer.hang = False
    producer.pending.clear()  # the broker lost them
    retry = await intake.post_contacts(JSON, body(contact_data()))
    assert codec.loads_plain(retry.body) == {"accepted": ["crm-1"], "duplicates": []}


async def test_live_before_connected_ready_after_and_writes_wait_with_retry_after():
    intake, producer = make(connected=False, intake_broker_deadline_seconds=2.0)
    http = build_http(intake, ServiceMetrics("intake"), intake.settings)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(http), base_url="http://i"
    ) as client:
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/readyz")).json()["problems"] == [
            "not connected to the event log yet"
        ]
        write = await client.post("/v1/contacts", content=body(contact_data()), headers=JSON)
        assert write.status_code == 503 and write.headers["retry-after"] == "2"
        assert producer.sent == []
        intake.connected = True
        assert (await client.get("/readyz")).status_code == 200
        again = await client.post("/v1/contacts", content=body(contact_data()), headers=JSON)
        assert again.status_code == 202
        producer.hang = True  # a broker that stops answering is not ready either
        assert (await client.get("/readyz")).status_code == 503
        assert (await client.get("/healthz")).status_code == 200


async def test_token_digests_match_in_any_case():
    upper = "SHA256:" + digest("s3cret").partition(":")[2].upper()
    intake, _ = make(intake_tokens={"crm": upper})
    reply = await intake.post_contacts(
        {**JSON, "authorization": "Bearer s3cret"}, body(contact_data())
    )
    assert reply.status == 202
    assert intake.settings.intake_tokens["crm"] == digest("s3cret")
