import pytest
from tests.unit.factories import contact_data

from escalation.schemas import codec
from escalation.schemas.codec import DecodeError


def encode(data) -> bytes:
    return codec.dumps(data)


def test_valid_event_gets_defaults():
    data = contact_data()
    del data["urgency"]
    data["customer"] = {"id": "C-1"}
    event = codec.decode_contact(encode(data))
    assert event.urgency == "normal"
    assert event.customer.tier == "standard"
    assert event.attributes == {}


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        ({"surprise": 1}, ["surprise"]),
        ({"occurred_at": "2026-11-24T09:15:00"}, ["occurred_at"]),
        ({"occurred_at": 1795610363}, ["occurred_at"]),
        ({"urgency": "urgent"}, ["urgency"]),
        ({"channel": "fax"}, ["channel"]),
        ({"sentiment": -1.5}, ["sentiment"]),
        ({"csat": 6}, ["csat"]),
        ({"category": "HVAC Repair"}, ["category"]),
        ({"event_id": ""}, ["event_id"]),
        ({"event_id": "x" * 129}, ["event_id"]),
        ({"summary": "s" * 4097}, ["summary"]),
        ({"attributes": {"order": 7}}, ["attributes", "order"]),
        ({"customer": {"id": "C-1", "tier": "gold"}}, ["customer", "tier"]),
        ({"customer": {"id": "C-1", "timezone": "Mars/Olympus"}}, ["customer", "timezone"]),
    ],
)
def test_schema_violations_name_the_field(change, loc):
    with pytest.raises(DecodeError) as caught:
        codec.decode_contact(encode(contact_data(**change)))
    assert caught.value.kind == "invalid"
    assert [e["loc"] for e in caught.value.errors] == [loc]


def test_missing_required_fields_are_each_reported():
    with pytest.raises(DecodeError) as caught:
        codec.decode_contact(b'{"source": "crm"}')
    missing = sorted(e["loc"][0] for e in caught.value.errors)
    assert missing == ["category", "customer", "event_id", "occurred_at"]


def test_malformed_json_is_not_a_schema_violation():
    with pytest.raises(DecodeError) as caught:
        codec.decode_contact(b'{"event_id": ')
    assert caught.value.kind == "malformed"
    assert caught.value.errors == []


def test_batch_errors_carry_the_index():
    good, bad = contact_data(event_id="a"), contact_data(event_id="b", urgency="meh")
    with pytest.raises(DecodeError) as caught:
        codec.decode_contacts(b"[" + encode(good) + b"," + encode(bad) + b"]")
    assert caught.value.errors[0]["loc"] == [1, "urgency"]


def test_single_and_batch_bodies_decode_to_lists():
    one = encode(contact_data())
    assert len(codec.decode_contacts(one)) == 1
    assert len(codec.decode_contacts(b"  [" + one + b"," + one + b"]")) == 2


def test_issue_identity_uses_issue_key_else_category_and_product():
    keyed = codec.decode_contact(encode(contact_data()))
    other_channel = codec.decode_contact(encode(contact_data(channel="email", event_id="2")))
    assert keyed.issue_id == other_channel.issue_id
    unkeyed = contact_data()
    del unkeyed["issue_key"]
    a = codec.decode_contact(encode(unkeyed))
    b = codec.decode_contact(encode({**unkeyed, "product": "AC-4000"}))
    assert a.issue_ref == "cat:hvac.repair|AC-3000"
    assert a.issue_id != b.issue_id
    other_customer = codec.decode_contact(encode(contact_data(customer={"id": "C-9"})))
    assert other_customer.issue_id != keyed.issue_id


def test_encode_round_trips():
    event = codec.decode_contact(encode(contact_data(sentiment=-0.6, csat=2)))
    assert codec.decode_contact(codec.encode(event)) == event
