import json

import pytest
from tests.unit.factories import contact_data

from escalation.schemas import (
    ContactEvent,
    InvalidEscalationId,
    customer_of,
    issue_state_key,
    make_escalation_id,
    page_id_for,
    parse_escalation_id,
)
from escalation.schemas.identity import SEEN_LIMIT, issue_digest, remember, seen_token
from escalation.schemas.jsonschema import EXPORTED, SCHEMA_DIR, render

ISSUE = "0123456789abcdef01234567"


@pytest.mark.parametrize("customer", ["C-1042", "ünïcode/ id", "a.b.c", "x" * 128, "😀" * 128])
def test_escalation_id_embeds_customer_issue_and_sequence(customer):
    escalation_id = make_escalation_id(customer, ISSUE, 10**19)
    assert parse_escalation_id(escalation_id) == (customer, ISSUE, 10**19)
    assert customer_of(escalation_id) == customer
    assert all(c.isalnum() or c in "._-" for c in escalation_id)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "e1.Qy0x",
        f"e2.Qy0x.{ISSUE}.1",
        f"e1.Qy0x.{ISSUE}.one",
        f"e1.Qy0x.{ISSUE}.01",
        f"e1.Qy0x.{ISSUE}.\u0661",
        "e1.Qy0x.abc.1",
        f"e1.*.{ISSUE}.1",
        f"e1..{ISSUE}.1",
        f"e1.Qy0xx.{ISSUE}.1",
        f"e1.Qy0x.{ISSUE.upper()}.1",
        f"e1.Qy0x.{ISSUE}.{'9' * 800}",
    ],
)
def test_malformed_escalation_ids_are_refused(bad):
    with pytest.raises(InvalidEscalationId):
        parse_escalation_id(bad)


def test_issue_identity_is_one_function_of_customer_and_case():
    a = ContactEvent.model_validate(contact_data(event_id="a", issue_key="ticket-1"))
    b = ContactEvent.model_validate(
        contact_data(event_id="b", issue_key="ticket-1", category="other.thing")
    )
    assert a.issue_id == b.issue_id == issue_digest(a.customer.id, "key:ticket-1")
    assert issue_state_key(a.customer.id, a.issue_id) == f"{a.customer.id}/{a.issue_id}".encode()
    escalation_id = make_escalation_id(a.customer.id, a.issue_id, 1)
    ref = parse_escalation_id(escalation_id)
    assert issue_state_key(ref.customer_id, ref.issue_id) == issue_state_key(
        a.customer.id, a.issue_id
    )


def test_seen_memory_is_bounded_and_fixed_size():
    seen: list[str] = []
    for n in range(SEEN_LIMIT + 5):
        seen = remember(seen, seen_token(f"event-{n}" * 20))
    assert len(seen) == SEEN_LIMIT
    assert {len(token) for token in seen} == {11}
    assert seen_token("event-0" * 20) not in seen
    assert seen[-1] == seen_token(f"event-{SEEN_LIMIT + 4}" * 20)


def test_page_ids_are_stable_and_distinct_per_level_and_action():
    assert page_id_for("e", 1, "trigger") == page_id_for("e", 1, "trigger")
    assert (
        len(
            {
                page_id_for("e", 1, "trigger"),
                page_id_for("e", 2, "trigger"),
                page_id_for("e", 1, "resolve"),
            }
        )
        == 3
    )


def test_page_ids_of_cycle_zero_loop_zero_are_the_ids_pages_always_had():
    escalation = "e1.Qy0yMDAx.748fe2ba78cbb60d56867b46.1"
    assert page_id_for(escalation, 1, "trigger") == "msg_23aac4f2453ce54545263f99"
    assert page_id_for(escalation, 2, "acknowledge", 0, 0) == "msg_4c785da30221a5b1c13baf94"
    ids = {
        page_id_for(escalation, level, "trigger", cycle, loop)
        for level in (1, 2)
        for cycle in (0, 1, 12)
        for loop in (0, 1, 2)
    }
    assert len(ids) == 18


@pytest.mark.parametrize("name", sorted(EXPORTED))
def test_checked_in_json_schema_matches_the_models(name):
    path = SCHEMA_DIR / f"{name}.schema.json"
    assert path.exists(), f"{path.name} missing: run `escalation schemas export`"
    assert json.loads(path.read_text()) == json.loads(render(EXPORTED[name])), (
        f"{path.name} drifted from the model: run `escalation schemas export`"
    )


def test_trusted_construction_equals_validation_and_refuses_missing_fields():
    from datetime import UTC, datetime

    from escalation.schemas.base import trusted
    from escalation.schemas.state import ContactMark

    at = datetime(2026, 11, 25, tzinfo=UTC)
    built = trusted(ContactMark, event_id="a", at=at)
    assert built == ContactMark(event_id="a", at=at)
    assert built.model_dump_json() == ContactMark(event_id="a", at=at).model_dump_json()
    with pytest.raises(TypeError, match=r"missing fields \['at'\], unknown fields \['when'\]"):
        trusted(ContactMark, event_id="a", when=at)
