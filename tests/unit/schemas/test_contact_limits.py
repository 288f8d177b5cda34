"""Values the router, escalator or pager could not use are refused when a contact is decoded.

Each case is one that got through before: it was accepted, then crashed or misled a
consumer, or cost seconds to report.
"""

import pytest
from tests.unit.factories import contact_data

from escalation.schemas import codec
from escalation.schemas.codec import MAX_LISTED, DecodeError


def refused(data) -> DecodeError:
    with pytest.raises(DecodeError) as caught:
        codec.decode_contact(codec.dumps(data))
    assert caught.value.kind == "invalid"
    return caught.value


@pytest.mark.parametrize("zone", ["America", "Etc", "Europe", "__init__.py", "zone.tab"])
def test_a_time_zone_that_is_a_directory_or_a_data_file_is_a_schema_error(zone):
    # ZoneInfo("America") raises IsADirectoryError: it used to escape validation as a
    # 500 at intake and a handler error (dead letter) at the router.
    error = refused(contact_data(customer={"id": "C-1", "timezone": zone}))
    assert error.errors[0]["loc"] == ["customer", "timezone"]
    assert "unknown IANA time zone" in error.errors[0]["msg"]


def test_the_hosts_own_localtime_is_no_zone_a_contact_can_name():
    # It is whatever zone each machine runs in: intake and router could disagree.
    refused(contact_data(customer={"id": "C-1", "timezone": "localtime"}))
    event = codec.decode_contact(
        codec.dumps(contact_data(customer={"id": "C-1", "timezone": "Asia/Kathmandu"}))
    )
    assert event.customer.timezone == "Asia/Kathmandu"


@pytest.mark.parametrize("field", ["event_id", "source", "issue_key", "product"])
@pytest.mark.parametrize("char", ["\x00", "\n", "\x1b", "\x7f", "\x85", "\u2028"])
def test_ids_with_control_characters_are_refused(field, char):
    error = refused(contact_data(**{field: f"id{char}1"}))
    assert error.errors == [
        {
            "loc": [field],
            "msg": "must not contain control characters "
            "(U+0000-U+001F, U+007F-U+009F, U+2028, U+2029)",
        }
    ]


def test_customer_ids_and_attribute_names_with_control_characters_are_refused():
    assert refused(contact_data(customer={"id": "C\x001"})).errors[0]["loc"] == ["customer", "id"]
    assert refused(contact_data(attributes={"a\tb": "x"})).errors[0]["loc"] == ["attributes"]


def test_text_keeps_line_breaks_but_not_nul():
    ok = codec.decode_contact(codec.dumps(contact_data(summary="line 1\nline 2\ttab ✓")))
    assert ok.summary == "line 1\nline 2\ttab ✓"
    assert refused(contact_data(summary="a\x00b")).errors[0]["msg"] == "must not contain U+0000"
    assert refused(contact_data(attributes={"k": "\x00"})).errors[0]["loc"] == ["attributes", "k"]


def test_unicode_ids_of_the_maximum_length_are_kept_whole():
    customer = "😀" * 128  # 512 bytes of UTF-8
    event = codec.decode_contact(codec.dumps(contact_data(customer={"id": customer})))
    assert event.customer.id == customer
    assert codec.decode_contact(codec.encode(event)) == event


@pytest.mark.parametrize(
    ("field", "value"),
    [("csat", True), ("csat", "3"), ("sentiment", False), ("sentiment", "0.5")],
)
def test_scores_are_json_numbers_not_booleans_or_strings(field, value):
    assert refused(contact_data(**{field: value})).errors[0]["msg"].endswith("a JSON number")


@pytest.mark.parametrize(
    ("field", "value"),
    [("sentiment", -1), ("sentiment", 1.0), ("sentiment", -0.0), ("csat", 1), ("csat", 5.0)],
)
def test_score_bounds_are_inclusive(field, value):
    event = codec.decode_contact(codec.dumps(contact_data(**{field: value})))
    assert getattr(event, field) == value


@pytest.mark.parametrize(
    "raw", [b'"sentiment": NaN', b'"sentiment": Infinity', b'"sentiment": 1e400', b'"csat": 1e400']
)
def test_non_finite_scores_are_refused(raw):
    body = codec.dumps(contact_data())[:-1] + b"," + raw + b"}"
    with pytest.raises(DecodeError):
        codec.decode_contact(body)


def test_summary_of_the_maximum_length_in_four_byte_characters_is_accepted():
    event = codec.decode_contact(codec.dumps(contact_data(summary="😀" * 4096)))
    assert len(codec.encode(event)) < 64 * 1024  # within intake's per-event limit
    refused(contact_data(summary="😀" * 4097))


def test_a_huge_attribute_map_is_one_error_found_before_its_entries():
    attributes = {f"k{i}": i for i in range(100_000)}  # every value also of the wrong type
    error = refused(contact_data(attributes=attributes))
    assert error.errors == [
        {"loc": ["attributes"], "msg": "Value error, at most 64 attributes, got 100000"}
    ]


@pytest.mark.parametrize("where", ["event", "customer"])
def test_an_object_with_thousands_of_unknown_members_is_one_error(where):
    junk = {f"x{i}": 1 for i in range(50_000)}
    data = contact_data(**junk) if where == "event" else contact_data(customer={"id": "C", **junk})
    error = refused(data)
    assert error.error_count == 1
    assert "at most 32 are accepted" in error.errors[0]["msg"]


def test_a_few_unknown_members_are_still_each_named():
    error = refused(contact_data(surprise=1, other=2))
    assert sorted(e["loc"][0] for e in error.errors) == ["other", "surprise"]


def test_a_batch_is_measured_before_its_items_are_validated():
    body = b"[" + b",".join([b"{}"] * 30_000) + b"]"
    with pytest.raises(DecodeError) as caught:
        codec.decode_contacts(body, max_batch=1000)
    assert caught.value.kind == "too_many"
    assert caught.value.detail == "batch has 30000 events; the limit is 1000"


def test_a_bad_batch_lists_the_first_errors_and_counts_them_all():
    body = b"[" + b",".join([b"{}"] * 1000) + b"]"
    with pytest.raises(DecodeError) as caught:
        codec.decode_contacts(body, max_batch=1000)
    error = caught.value
    assert error.error_count == 5000  # four required fields and the customer, per item
    assert len(error.errors) == MAX_LISTED
    assert error.errors[0] == {"loc": [0, "event_id"], "msg": "Field required"}
    assert error.errors[-1]["loc"][0] == 19
    assert error.detail.startswith("5000 schema violation(s); first at 0.event_id")


def test_many_bad_attributes_across_a_batch_list_only_the_first():
    item = contact_data(attributes={f"k{i}": i for i in range(64)})
    with pytest.raises(DecodeError) as caught:
        codec.decode_contacts(codec.dumps([item] * 1000), max_batch=1000)
    assert caught.value.error_count == 64_000
    assert [e["loc"] for e in caught.value.errors[:2]] == [
        [0, "attributes", "k0"],
        [0, "attributes", "k1"],
    ]
    assert len(caught.value.errors) == MAX_LISTED


def test_replay_still_reads_old_and_far_future_events():
    # The schema has no clock: only intake refuses times far from its own (see
    # test_intake_admission), so recorded history of any age still decodes.
    for moment in ("1970-01-01T00:00:00Z", "2001-09-11T08:46:00-04:00", "2999-12-31T23:59:59Z"):
        event = codec.decode_contact(codec.dumps(contact_data(occurred_at=moment)))
        assert event.occurred_at.year in (1970, 2001, 2999)


@pytest.mark.parametrize("field", ["occurred_at", "deadline"])
@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59Z"])
def test_years_no_window_can_be_added_to_are_a_schema_error(field, moment):
    # Every window the services add to a contact's time would overflow there, for a
    # contact produced straight to the topic as much as for one sent through intake.
    with pytest.raises(codec.DecodeError) as caught:
        codec.decode_contact(codec.dumps({**contact_data(), field: moment}))
    assert caught.value.kind == "invalid"
    assert [e["loc"] for e in caught.value.errors] == [[field]]
    assert "years 1970 to 2999" in caught.value.errors[0]["msg"]
