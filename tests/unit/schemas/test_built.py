"""Models built from trusted values (``built``, ``copied``) are the ones validation makes:
equal, and written as the same bytes, so the escalator's records keep their wire form."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from tests.unit.factories import T0, routed

from escalation.schemas import EscalationEvent, EscalationSettings, LadderStep, PageRequest, codec
from escalation.schemas.base import built, copied
from escalation.schemas.timeline import Timeline, TimelineEntry
from escalation.services.escalator.ladder import snapshot_of
from escalation.services.escalator.rules import decide_contact

RECORD: dict[str, Any] = {
    "escalation_id": "e1.x.y.1",
    "type": "paged",
    "at": T0,
    "customer_id": "C-1",
    "issue_id": "y",
    "category": "hvac.repair",
    "owner": "chen",
    "team": "hvac",
    "reason": "urgency.critical",
    "contacts": ["crm-1"],
    "cause_id": "crm-1",
    "notified": ["chen"],
}
PAGE: dict[str, Any] = {
    "page_id": "msg_1",
    "escalation_id": "e1.x.y.1",
    "dedup_key": "e1.x.y.1",
    "level": 1,
    "reason": "urgency.critical",
    "customer_id": "C-1",
    "customer_tier": "vip",
    "category": "hvac.repair",
    "owner": "chen",
    "team": "hvac",
    "targets": ["webhook:ops"],
    "created_at": T0,
    "routing_reasons": ["route hvac matched"],
}
ENTRY: dict[str, Any] = {
    "id": "paged:crm-1",
    "type": "paged",
    "at": T0,
    "level": 1,
    "reason": "urgency.critical",
    "eta": T0 + timedelta(hours=1),
}


@pytest.mark.parametrize(
    ("model", "values"),
    [
        (EscalationEvent, RECORD),
        (EscalationEvent, {**RECORD, "notified": None, "level": 3}),
        (PageRequest, PAGE),
        (TimelineEntry, ENTRY),
        (Timeline, {"escalation_id": "e1.x.y.1"}),
    ],
)
def test_a_built_model_equals_the_validated_one_and_encodes_the_same(model, values):
    made, validated = built(model, **values), model(**values)
    assert made == validated
    assert codec.encode(made) == codec.encode(validated)


def test_a_snapshot_built_from_the_settings_encodes_as_the_validated_one():
    settings = EscalationSettings(
        ladder=[LadderStep(after_seconds=900, notify="team"), LadderStep(after_seconds=1800)],
        ack_timeout_seconds=600,
    )
    made = snapshot_of(settings)
    validated = type(made).model_validate(made.model_dump())
    assert made == validated and codec.encode(made) == codec.encode(validated)


def test_a_state_the_rules_made_reads_back_as_it_was_written():
    contact = routed(urgency="critical")
    state = decide_contact(None, contact, contact.routing, T0).state
    assert state is not None
    assert codec.decode_state(codec.encode(state)) == state


def test_unknown_or_missing_fields_are_refused():
    with pytest.raises(TypeError, match="unknown fields"):
        built(Timeline, escalation_id="e", colour="red")
    with pytest.raises(TypeError, match="missing fields"):
        built(Timeline, dropped=1)


def test_copied_is_model_copy():
    page = PageRequest(**PAGE)
    update = {"route": "hvac", "level": 2}
    assert copied(page, update) == page.model_copy(update=update)
    assert codec.encode(copied(page, update)) == codec.encode(page.model_copy(update=update))
    assert page.route is None  # the original is left as it was
