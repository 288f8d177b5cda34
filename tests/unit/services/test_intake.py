import pytest
from tests.unit.factories import contact_data
from tests.unit.services.intake_fakes import JSON, body, make, problem

from escalation.schemas import codec
from escalation.services.intake.auth import digest


async def test_accepts_one_event_keyed_by_customer_with_event_id_header():
    intake, producer = make()
    reply = await intake.post_contacts(JSON, body(contact_data()))
    assert reply.status == 202
    assert codec.loads_plain(reply.body) == {"accepted": ["crm-1"], "duplicates": []}
    topic, key, value, headers = producer.sent[0]
    assert (topic, key, headers) == ("contacts.v1", b"C-1042", {"event-id": b"crm-1"})
    assert codec.decode_contact(value).event_id == "crm-1"


async def test_duplicates_are_reported_not_written_again():
    intake, producer = make()
    await intake.post_contacts(JSON, body(contact_data()))
    reply = await intake.post_contacts(
        JSON, body(contact_data(), contact_data(event_id="crm-2"), contact_data(event_id="crm-2"))
    )
    assert codec.loads_plain(reply.body) == {
        "accepted": ["crm-2"],
        "duplicates": ["crm-1", "crm-2"],
    }
    assert len(producer.sent) == 2


@pytest.mark.parametrize(
    ("headers", "payload", "status", "slug"),
    [
        (JSON, b'{"event_id": ', 400, "malformed-json"),
        ({"content-type": "text/plain"}, body(contact_data()), 415, "unsupported-media-type"),
        ({}, body(contact_data()), 415, "unsupported-media-type"),
        (JSON, body(contact_data(urgency="urgent")), 422, "schema-violation"),
        (JSON, b"[]", 422, "schema-violation"),
    ],
)
async def test_rejections_are_problem_documents(headers, payload, status, slug):
    intake, producer = make()
    reply = await intake.post_contacts(headers, payload)
    doc = problem(reply)
    assert (reply.status, doc["status"]) == (status, status)
    assert doc["type"].endswith(slug)
    assert doc["title"] and doc["detail"]
    assert producer.sent == []


async def test_nothing_of_a_bad_batch_is_accepted():
    intake, producer = make()
    reply = await intake.post_contacts(JSON, body(contact_data(), contact_data(csat=9)))
    assert reply.status == 422
    assert problem(reply)["errors"] == [
        {"loc": [1, "csat"], "msg": "Input should be less than or equal to 5"}
    ]
    assert producer.sent == []


async def test_size_limits():
    intake, _ = make(intake_max_body_bytes=2000, intake_max_event_bytes=600, intake_max_batch=2)
    big = contact_data(summary="x" * 700)
    assert (await intake.post_contacts(JSON, body(big))).status == 413
    many = body(*[contact_data(event_id=str(i)) for i in range(3)])
    assert problem(await intake.post_contacts(JSON, many))["type"].endswith("batch-too-large")
    assert (await intake.post_contacts(JSON, b" " * 2001)).status == 413


async def test_tokens_identify_the_source():
    intake, producer = make(intake_tokens={"crm": digest("s3cret"), "chat": digest("other")})
    missing = await intake.post_contacts(JSON, body(contact_data()))
    assert missing.status == 401 and "www-authenticate" in missing.headers
    wrong = await intake.post_contacts(
        {**JSON, "authorization": "Bearer nope"}, body(contact_data())
    )
    assert wrong.status == 401
    foreign = await intake.post_contacts(
        {**JSON, "authorization": "Bearer other"}, body(contact_data())
    )
    assert foreign.status == 403
    assert problem(foreign)["errors"][0]["loc"] == ["source"]
    ok = await intake.post_contacts(
        {**JSON, "authorization": "Bearer s3cret"}, body(contact_data())
    )
    assert ok.status == 202 and len(producer.sent) == 1


async def test_rate_limit_answers_429_with_retry_after():
    intake, _ = make(intake_rate_per_source=1, intake_burst_per_source=2)
    replies = [
        await intake.post_contacts(JSON, body(contact_data(event_id=str(i)))) for i in range(3)
    ]
    assert [r.status for r in replies] == [202, 202, 429]
    assert int(replies[-1].headers["retry-after"]) >= 1


async def test_broker_down_is_503_and_the_retry_is_not_a_duplicate():
    intake, producer = make()
    producer.fail = True
    reply = await intake.post_contacts(JSON, body(contact_data()))
    assert reply.status == 503 and reply.headers["retry-after"]
    producer.fail = False
    retry = await intake.post_contacts(JSON, body(contact_data()))
    assert codec.loads_plain(retry.body)["accepted"] == ["crm-1"]


async def test_commands_are_keyed_by_the_customer_the_id_embeds():
    from escalation.schemas import make_escalation_id

    intake, producer = make()
    escalation_id = make_escalation_id("C-7", "0123456789abcdef01234567", 1)
    reply = await intake.post_command(escalation_id, "ack", JSON, b'{"by": "chen"}')
    assert reply.status == 202
    topic, key, value, _ = producer.sent[0]
    command = codec.decode_command(value)
    assert (topic, key, command.action, command.by) == (
        "escalation.commands.v1",
        b"C-7",
        "ack",
        "chen",
    )
    assert (await intake.post_command("bogus", "ack", JSON, b"")).status == 404
    assert (await intake.post_command(escalation_id, "resolve", JSON, b'{"by": 3}')).status == 422
    malformed = await intake.post_command(escalation_id, "ack", JSON, b'{"by": ')
    assert (malformed.status, problem(malformed)["type"]) == (
        400,
        "https://escalation.dev/problems/malformed-json",
    )


async def test_command_bodies_carry_a_resolve_cause_and_a_reassign_target():
    from escalation.schemas import make_escalation_id

    intake, producer = make()
    escalation_id = make_escalation_id("C-7", "0123456789abcdef01234567", 1)
    resolve = await intake.post_command(escalation_id, "resolve", JSON, b'{"cause": "usage"}')
    reassign = await intake.post_command(escalation_id, "reassign", JSON, b'{"to": "dana"}')
    assert (resolve.status, reassign.status) == (202, 202)
    sent = [codec.decode_command(value) for _, _, value, _ in producer.sent]
    assert [(c.action, c.cause, c.to) for c in sent] == [
        ("resolve", "usage", None),
        ("reassign", None, "dana"),
    ]
    wrong = await intake.post_command(escalation_id, "resolve", JSON, b'{"cause": "bad luck"}')
    assert wrong.status == 422
