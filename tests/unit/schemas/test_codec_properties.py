"""Properties of the codec: whatever bytes arrive, the only error is DecodeError.

A consumer dead-letters a DecodeError and goes on; any other exception is a handler
error, and at intake a 500. Every valid contact survives encode -> decode unchanged.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.unit.factories import contact_data, routed
from tests.unit.strategies import contact_dicts, json_bytes, json_values, moments, zoned_moments

from escalation.schemas import ContactEvent, EscalationCommand, codec
from escalation.schemas.codec import DecodeError
from escalation.schemas.state import Assignment
from escalation.services.escalator.rules import decide_contact

NOW = datetime(2026, 11, 25, tzinfo=UTC)
DECODERS = [
    codec.decode_contact,
    codec.decode_contacts,
    lambda data: codec.decode_contacts(data, max_batch=3),
    codec.decode_routed,
    codec.decode_escalation,
    codec.decode_page,
    codec.decode_command,
    codec.decode_command_body,
    codec.decode_state,
    codec.decode_assignment,
]
CASES = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def valid_documents() -> list[tuple[object, dict]]:
    """One valid document per decoder, built by the code that writes each message."""
    contact = routed("crm-1", urgency="critical")
    opened = decide_contact(None, contact, contact.routing, NOW)
    command = EscalationCommand(
        command_id="cmd_1",
        action="ack",
        escalation_id=opened.escalations[0].escalation_id,
        customer_id="C-1042",
        at=NOW,
        by="chen",
    )
    assignment = Assignment(
        customer_id="C-1042",
        issue_id=contact.issue_id,
        owner="chen",
        team="eng",
        route="hvac",
        assigned_at=NOW,
        last_contact_at=NOW,
    )
    plain = codec.loads_plain
    return [
        (codec.decode_contact, contact_data()),
        (codec.decode_contacts, [contact_data(), contact_data(event_id="crm-2")]),
        (codec.decode_routed, plain(codec.encode(contact))),
        (codec.decode_escalation, plain(codec.encode(opened.escalations[0]))),
        (codec.decode_page, plain(codec.encode(opened.pages[0]))),
        (codec.decode_command, plain(codec.encode(command))),
        (codec.decode_command_body, {"by": "chen", "note": "on it", "eta": NOW.isoformat()}),
        (codec.decode_state, plain(codec.encode(opened.state))),
        (codec.decode_assignment, plain(codec.encode(assignment))),
    ]


DOCUMENTS = valid_documents()


def only_decode_errors(decoder, data: bytes) -> None:
    try:
        decoder(data)
    except DecodeError as exc:
        assert exc.kind in ("malformed", "invalid", "too_many")
        assert exc.detail
        assert exc.error_count >= len(exc.errors)
        assert all(set(e) == {"loc", "msg"} for e in exc.errors)


@pytest.mark.parametrize("decoder", DECODERS)
@CASES
@given(data=st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_decode_errors(decoder, data):
    only_decode_errors(decoder, data)


@pytest.mark.parametrize("decoder", DECODERS)
@CASES
@given(value=json_values)
def test_arbitrary_json_raises_only_decode_errors(decoder, value):
    only_decode_errors(decoder, json_bytes(value))


def _mutate(document, path: list, value, delete: bool):
    """A copy of ``document`` with the member at ``path`` replaced, removed or added."""
    copy = codec.loads_plain(codec.dumps(document))
    parent = copy
    for step in path[:-1]:
        parent = parent[step]
    if delete and isinstance(parent, dict):
        parent.pop(path[-1], None)
    else:
        parent[path[-1]] = value
    return copy


@st.composite
def mutations(draw, document):
    """Walk down to some member; replace or remove it, or add a member beside it."""
    path: list = []
    node = document
    while isinstance(node, dict | list) and node and draw(st.booleans()):
        step = draw(st.sampled_from(sorted(node) if isinstance(node, dict) else range(len(node))))
        path.append(step)
        node = node[step]
    if isinstance(node, dict) and (not path or draw(st.booleans())):
        path.append(draw(st.sampled_from(["surprise", *sorted(node)])))
    elif not path:
        return draw(json_values)
    return _mutate(document, path, draw(json_values), draw(st.booleans()))


@pytest.mark.parametrize(
    ("decoder", "document"), DOCUMENTS, ids=lambda x: getattr(x, "__name__", "")
)
@CASES
@given(data=st.data())
def test_valid_documents_with_one_member_changed_raise_only_decode_errors(decoder, document, data):
    mutated = data.draw(mutations(document))
    only_decode_errors(decoder, json_bytes(mutated))


@pytest.mark.parametrize(
    ("decoder", "document"), DOCUMENTS, ids=lambda x: getattr(x, "__name__", "")
)
def test_the_valid_documents_are_valid(decoder, document):
    decoder(codec.dumps(document))


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=contact_dicts(moments().map(datetime.isoformat) | moments() | zoned_moments()))
def test_every_valid_contact_round_trips(data):
    event = ContactEvent.model_validate(data)
    encoded = codec.encode(event)
    decoded = codec.decode_contact(encoded)
    assert decoded == event
    assert codec.encode(decoded) == encoded
    assert decoded.issue_id == event.issue_id
    assert codec.decode_contacts(b"[" + encoded + b"]", max_batch=1) == [event]


def test_encode_writes_what_model_dump_json_writes_aliases_included():
    contact = routed(urgency="critical", summary="Unit dead")
    opened = decide_contact(None, contact, contact.routing, NOW)
    assert opened.state is not None and opened.state.snapshot is not None  # short aliases
    for model in (contact, opened.state, *opened.escalations, *opened.pages):
        assert codec.encode(model) == model.model_dump_json(exclude_none=True).encode()
