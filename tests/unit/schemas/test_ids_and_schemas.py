import json

import pytest

from escalation.schemas import customer_of, make_escalation_id, page_id_for
from escalation.schemas.escalation import InvalidEscalationId
from escalation.schemas.jsonschema import EXPORTED, SCHEMA_DIR, render


@pytest.mark.parametrize("customer", ["C-1042", "ünïcode/ id", "a.b.c", "x" * 128])
def test_escalation_id_embeds_the_customer_url_safe(customer):
    escalation_id = make_escalation_id(customer, "abc123", 2)
    assert customer_of(escalation_id) == customer
    assert all(c.isalnum() or c in "._-" for c in escalation_id)


@pytest.mark.parametrize(
    "bad", ["", "e1.Qy0x", "e2.Qy0x.abc.1", "e1.Qy0x.abc.one", "e1.*.a.1", "e1..abc.1"]
)
def test_malformed_escalation_ids_are_refused(bad):
    with pytest.raises(InvalidEscalationId):
        customer_of(bad)


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
