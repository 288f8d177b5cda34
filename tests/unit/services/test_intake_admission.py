"""Intake refuses, with a 422 naming the field, what a consumer downstream could not use."""

from datetime import UTC, datetime, timedelta

import pytest
from tests.unit.factories import contact_data, routed
from tests.unit.services.intake_fakes import JSON, NOW, body, make, problem

from escalation.schemas import make_escalation_id
from escalation.schemas.identity import issue_digest
from escalation.services.escalator.rules import decide_contact


def at(moment: datetime) -> dict:
    return contact_data(occurred_at=moment.isoformat())


@pytest.mark.parametrize(
    "occurred_at", ["2999-12-31T23:59:59Z", "1970-01-01T00:00:00+05:00", "2001-01-01T00:00:00Z"]
)
async def test_an_event_time_far_from_intakes_clock_is_refused_with_the_window(occurred_at):
    intake, producer = make()
    reply = await intake.post_contacts(JSON, body(contact_data(occurred_at=occurred_at)))
    doc = problem(reply)
    assert reply.status == 422
    assert doc["type"].endswith("/occurred-at-outside-window")
    assert [e["loc"] for e in doc["errors"]] == [["occurred_at"]]
    assert "2025-11-24T16:00:00Z to 2026-11-25T16:00:00Z" in doc["errors"][0]["msg"]
    assert "at most 365 days before and 1 day after" in doc["errors"][0]["msg"]
    assert producer.sent == []


async def test_the_window_is_inclusive_and_each_bad_item_of_a_batch_is_named():
    intake, producer = make()
    edges = [at(NOW - timedelta(days=365)), at(NOW + timedelta(days=1))]
    reply = await intake.post_contacts(
        JSON, body(*[{**e, "event_id": f"edge-{i}"} for i, e in enumerate(edges)])
    )
    assert reply.status == 202, reply.body
    outside = [
        {**at(NOW), "event_id": "ok"},
        {**at(NOW - timedelta(days=365, seconds=1)), "event_id": "old"},
        {**at(NOW + timedelta(days=1, seconds=1)), "event_id": "early"},
    ]
    doc = problem(await intake.post_contacts(JSON, body(*outside)))
    assert [e["loc"] for e in doc["errors"]] == [[1, "occurred_at"], [2, "occurred_at"]]
    assert len(producer.sent) == 2  # nothing of the bad batch


async def test_the_window_is_a_setting():
    intake, _ = make(intake_max_event_age=timedelta(days=30), intake_max_clock_skew=timedelta(0))
    assert (await intake.post_contacts(JSON, body(at(NOW - timedelta(days=29))))).status == 202
    doc = problem(await intake.post_contacts(JSON, body(at(NOW - timedelta(days=31)))))
    assert "at most 30 days before and 0 seconds after" in doc["errors"][0]["msg"]


async def test_the_clock_is_intakes_not_the_schemas():
    # The same event is refused or accepted by what intake's clock says: the schema
    # itself keeps accepting old events, so replay reads recorded history.
    old = contact_data(occurred_at="2001-09-11T08:46:00-04:00")
    today, _ = make()
    assert (await today.post_contacts(JSON, body(old))).status == 422
    then, _ = make(clock=lambda: datetime(2001, 9, 11, 13, tzinfo=UTC))
    assert (await then.post_contacts(JSON, body(old))).status == 202


@pytest.mark.parametrize("year", [1970, 2999])
def test_the_escalator_takes_the_extreme_years_the_schema_allows(year):
    moment = datetime(year, 1 if year == 1970 else 12, 1 if year == 1970 else 31, tzinfo=UTC)
    contact = routed("far", moment, window_hours=10 * 366 * 24)
    assert decide_contact(None, contact, contact.routing, NOW).outcome == "recorded"


@pytest.mark.parametrize(
    ("change", "loc", "words"),
    [
        ({"customer": {"id": "C-1", "timezone": "America"}}, ["customer", "timezone"], "IANA"),
        ({"customer": {"id": "C-1", "timezone": "localtime"}}, ["customer", "timezone"], "IANA"),
        ({"event_id": "crm-1\x00"}, ["event_id"], "control characters"),
        ({"customer": {"id": "C\u2028-1"}}, ["customer", "id"], "control characters"),
        ({"issue_key": "ticket\x1b[31m"}, ["issue_key"], "control characters"),
        ({"summary": "nul \x00 inside"}, ["summary"], "U+0000"),
        ({"csat": True}, ["csat"], "JSON number"),
        ({"sentiment": "-0.9"}, ["sentiment"], "JSON number"),
        ({"attributes": {f"k{i}": "v" for i in range(65)}}, ["attributes"], "at most 64"),
        ({"summary": "s" * 4097}, ["summary"], "4096"),
    ],
)
async def test_values_a_consumer_cannot_use_are_422_naming_the_field(change, loc, words):
    intake, producer = make()
    reply = await intake.post_contacts(JSON, body(contact_data(**change)))
    doc = problem(reply)
    assert reply.status == 422
    assert doc["errors"][0]["loc"] == loc
    assert words in doc["errors"][0]["msg"]
    assert producer.sent == []


@pytest.mark.parametrize(
    "escalation_id",
    [
        "e1.Qy0x.abc.1",
        "e1.Qy0x.0123456789abcdef01234567.\u0661",
        "e1.QR.0123456789abcdef01234567.1",
    ],
)
async def test_commands_on_ids_intake_could_not_have_made_are_404(escalation_id):
    intake, producer = make()
    reply = await intake.post_command(escalation_id, "ack", JSON, b"")
    assert reply.status == 404
    assert problem(reply)["type"].endswith("/unknown-escalation")
    assert producer.sent == []


async def test_a_real_escalation_id_is_accepted():
    intake, producer = make()
    escalation_id = make_escalation_id("C-1042", issue_digest("C-1042", "key:ticket-88"), 3)
    assert (await intake.post_command(escalation_id, "resolve", JSON, b"")).status == 202
    assert producer.sent[0][1] == b"C-1042"


@pytest.mark.parametrize("deadline", ["2999-12-31T23:59:59Z", "1970-01-01T00:00:00Z"])
async def test_a_customer_deadline_far_from_intakes_clock_is_refused(deadline):
    # deadline minus the route's lead time would overflow in the escalator.
    intake, producer = make()
    reply = await intake.post_contacts(JSON, body({**at(NOW), "deadline": deadline}))
    doc = problem(reply)
    assert reply.status == 422
    assert [e["loc"] for e in doc["errors"]] == [["deadline"]]
    assert "at most 365 days either side" in doc["errors"][0]["msg"]
    assert producer.sent == []
    tomorrow = (NOW + timedelta(days=1)).isoformat()
    assert (await intake.post_contacts(JSON, body({**at(NOW), "deadline": tomorrow}))).status == 202
