import json

import pytest

from escalation.schemas import customer_of, make_escalation_id, page_id_for
from escalation.schemas.contact import issue_digest
from escalation.schemas.escalation import InvalidEscalationId
from escalation.schemas.jsonschema import EXPORTED, SCHEMA_DIR, render

ISSUE = issue_digest("C-1", "key:ticket-1")


@pytest.mark.parametrize("customer", ["C-1042", "ünïcode/ id", "a.b.c", "x" * 128, "😀" * 128])
def test_escalation_id_embeds_the_customer_url_safe(customer):
    escalation_id = make_escalation_id(customer, ISSUE, 2)
    assert customer_of(escalation_id) == customer
    assert all(c.isalnum() or c in "._-" for c in escalation_id)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "e1.Qy0x",
        f"e2.Qy0x.{ISSUE}.1",
        f"e1.Qy0x.{ISSUE}.one",
        f"e1.*.{ISSUE}.1",
        f"e1..{ISSUE}.1",
        "e1.Qy0x.abc.1",  # the issue part is always a 24-hex digest
        f"e1.Qy0x.{ISSUE.upper()}.1",
        f"e1.Qy0x.{ISSUE}.\u0661",  # isdigit() is true for ARABIC-INDIC DIGIT ONE
        f"e1.Qy0x.{ISSUE}.\u00b2",  # and for SUPERSCRIPT TWO, which int() refuses
        f"e1.Qy0x.{ISSUE}.01",
        f"e1.Qy0x.{ISSUE}.0",
        f"e1.QR.{ISSUE}.1",  # decodes to "A" as QQ does: not the id intake would have made
        f"e1.Q.{ISSUE}.1",
        f"e1.{'eA' * 86}.{ISSUE}.1",  # 129 characters of customer id
        f"e1.gA.{ISSUE}.1",  # not UTF-8
        f"e1.Qy0x.{ISSUE}.1 ",
    ],
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
