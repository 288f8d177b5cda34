"""CloudEvents 1.0 envelopes: structured (intake) and binary (contacts.v1) become contacts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from tests.unit.factories import contact_data
from tests.unit.services.intake_fakes import make, problem

from escalation.schemas import codec

DATA = {k: v for k, v in contact_data().items() if k not in ("event_id", "occurred_at", "source")}


def envelope(**overrides):
    event = {
        "specversion": "1.0",
        "id": "ce-77",
        "source": "crm",
        "type": "dev.escalation.contact.v1",
        "time": "2026-11-24T14:15:00Z",
        "datacontenttype": "application/json",
        "subject": "C-1042",
        "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "data": DATA,
    }
    event.update(overrides)
    return event


def headers(**overrides):
    found = {
        "ce_specversion": b"1.0",
        "ce_id": b"ce-77",
        "ce_source": b"crm",
        "ce_type": b"dev.escalation.contact.v1",
        "ce_time": b"2026-11-24T14:15:00Z",
        "content-type": b"application/json",
    }
    found.update(overrides)
    return [(k, v) for k, v in found.items() if v is not None]


def test_structured_mode_maps_id_time_and_source():
    (contact,) = codec.decode_cloudevents(codec.dumps(envelope()), batch=False)
    assert (contact.event_id, contact.source) == ("ce-77", "crm")
    assert contact.occurred_at == datetime(2026, 11, 24, 14, 15, tzinfo=UTC)
    plain = {**DATA, "event_id": "ce-77", "occurred_at": "2026-11-24T14:15:00Z", "source": "crm"}
    assert contact == codec.decode_contact(codec.dumps(plain))


def test_data_may_repeat_the_envelopes_fields_only_with_the_same_value():
    same = envelope(data={**DATA, "event_id": "ce-77", "source": "crm"})
    assert codec.decode_cloudevents(codec.dumps(same), batch=False)[0].event_id == "ce-77"
    other = envelope(data={**DATA, "occurred_at": "2026-11-24T15:00:00Z"})
    with pytest.raises(codec.DecodeError, match=r"occurred_at .* differs from the envelope's time"):
        codec.decode_cloudevents(codec.dumps(other), batch=False)


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"specversion": "0.3"}, ["specversion"]),
        ({"type": "com.example.order"}, ["type"]),
        ({"time": None}, ["time"]),
        ({"time": "2026-11-24T14:15:00"}, ["time"]),
        ({"id": ""}, ["id"]),
        ({"datacontenttype": "text/plain"}, ["datacontenttype"]),
        ({"data": {**DATA, "customer": {}}}, ["data", "customer", "id"]),
        ({"data": {**DATA, "colour": "red"}}, ["data", "colour"]),
    ],
)
def test_a_bad_envelope_names_the_field(change, where):
    with pytest.raises(codec.DecodeError) as caught:
        codec.decode_cloudevents(codec.dumps(envelope(**change)), batch=False)
    assert caught.value.kind == "invalid"
    assert caught.value.errors[0]["loc"] == where


def test_base64_data_is_refused_in_words():
    with pytest.raises(codec.DecodeError, match="data_base64 is not accepted"):
        codec.decode_cloudevents(codec.dumps(envelope(data_base64="e30=")), batch=False)


def test_a_batch_is_counted_before_its_events_are_validated():
    two = codec.dumps([envelope(), envelope(id="ce-78")])
    assert [c.event_id for c in codec.decode_cloudevents(two, batch=True)] == ["ce-77", "ce-78"]
    with pytest.raises(codec.DecodeError) as caught:
        codec.decode_cloudevents(codec.dumps([envelope(time="x")] * 3), batch=True, max_batch=2)
    assert caught.value.kind == "too_many"
    with pytest.raises(codec.DecodeError) as caught:
        codec.decode_cloudevents(codec.dumps([envelope(), envelope(time="x")]), batch=True)
    assert caught.value.errors[0]["loc"] == [1, "time"]


def test_binary_mode_on_a_record_takes_the_headers_as_the_envelope():
    contact = codec.decode_contact_record(codec.dumps(DATA), headers())
    assert (contact.event_id, contact.source, contact.customer.id) == ("ce-77", "crm", "C-1042")
    assert contact.occurred_at == datetime(2026, 11, 24, 14, 15, tzinfo=UTC)


def test_a_record_without_ce_headers_is_a_plain_contact():
    plain = codec.dumps(contact_data())
    assert codec.decode_contact_record(plain, [("event-id", b"crm-1")]).event_id == "crm-1"


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"ce_time": None}, ["ce_time"]),
        ({"ce_id": b"\xff\xfe"}, ["ce_id"]),
        ({"ce_type": b"other"}, ["ce_type"]),
        ({"content-type": b"text/csv"}, ["content-type"]),
    ],
)
def test_a_bad_binary_record_names_the_header(change, where):
    with pytest.raises(codec.DecodeError) as caught:
        codec.decode_contact_record(codec.dumps(DATA), headers(**change))
    assert caught.value.errors[0]["loc"] == where
    assert where[0] in caught.value.detail


def test_a_bad_binary_value_names_its_field_or_is_malformed():
    with pytest.raises(codec.DecodeError) as caught:
        codec.decode_contact_record(codec.dumps({**DATA, "urgency": "now"}), headers())
    assert caught.value.errors[0]["loc"] == ["urgency"]
    with pytest.raises(codec.DecodeError) as caught:
        codec.decode_contact_record(b"{not json", headers())
    assert caught.value.kind == "malformed"


async def test_intake_accepts_a_structured_event_and_writes_a_plain_contact():
    intake, producer = make()
    media = {"content-type": "application/cloudevents+json; charset=utf-8"}
    reply = await intake.post_contacts(media, codec.dumps(envelope()))
    assert reply.status == 202, reply.body
    topic, key, value, sent_headers = producer.sent[0]
    assert (topic, key, sent_headers) == ("contacts.v1", b"C-1042", {"event-id": b"ce-77"})
    assert codec.decode_contact(value).occurred_at == datetime(2026, 11, 24, 14, 15, tzinfo=UTC)


async def test_intake_answers_a_bad_envelope_with_a_problem_naming_the_field():
    intake, producer = make()
    media = {"content-type": "application/cloudevents-batch+json"}
    reply = await intake.post_contacts(media, codec.dumps([envelope(), envelope(time=None)]))
    doc = problem(reply)
    assert (reply.status, doc["type"]) == (422, "https://escalation.dev/problems/schema-violation")
    assert doc["errors"] == [{"loc": [1, "time"], "msg": "Input should be a valid datetime"}]
    assert "first at 1.time" in doc["detail"]
    assert producer.sent == []
