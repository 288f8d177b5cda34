"""A routed contact's fields validated straight from JSON accept what the model accepts."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest
from pydantic import ValidationError
from tests.unit.factories import routed

from escalation.schemas import codec
from escalation.schemas.fields_first import fields_first
from escalation.schemas.routed import EscalationSettings, RoutedContact, Routing

BASE = orjson.loads(
    codec.encode(
        routed(
            summary="Unit dead\nagain",
            sentiment=-0.4,
            csat=2,
            deadline="2026-11-25T10:00:00+01:00",
            attributes={"order": "SO-1"},
        )
    )
)
BASE["routing"]["reasons"] = ["route vip: no", "chen: least loaded"]
BASE["routing"]["escalation"]["ladder"] = [
    {"after_seconds": 1800, "notify": "team"},
    {
        "after_seconds": 3600,
        "notify": "schedule",
        "to": "on-call",
        "repeat": 2,
        "every_seconds": 900,
    },
]
WRONG: list[Any] = [
    None, True, False, 0, 1, -1, 1.0, 1.5, 1e300, "1", "1.0", "true", "", " ", "x" * 200,
    "\x00", "a\nb", "\u2028", "2026-11-26T00:00:00Z", "2026-11-26", 1764115200, [], ["x"],
    {}, {"id": "C-1"}, {"x": 1},
]  # fmt: skip


def _paths(value: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [at] if at else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*at, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*at, index))
    return found


def _with(path: tuple[Any, ...], new: Any) -> bytes:
    data = copy.deepcopy(BASE)
    holder = data
    for part in path[:-1]:
        holder = holder[part]
    holder[path[-1]] = new
    return orjson.dumps(data)


def _outcome(decode: Any, body: bytes) -> Any:
    try:
        return codec.encode(decode(body)), decode(body)
    except (ValidationError, codec.DecodeError):
        return "refused"


PATHS = _paths(BASE)
FAST = fields_first(RoutedContact)


@pytest.mark.parametrize("path", PATHS, ids=lambda p: ".".join(map(str, p)))
def test_every_wrong_value_in_every_field_is_judged_alike(path: tuple[Any, ...]) -> None:
    for new in WRONG:
        body = _with(path, new)
        full = _outcome(lambda b: codec.decode(RoutedContact, b), body)
        assert _outcome(FAST, body) == full, (path, new)
        assert _outcome(codec.decode_routed, body) == full, (path, new)


def test_unknown_members_extra_duplicates_and_bad_json_are_judged_alike() -> None:
    text = orjson.dumps(BASE)
    bodies = [
        text[:-1] + b',"urgency":"low"}',  # a duplicate: the last one counts in both
        text[:-1] + b',"surprise":1}',
        orjson.dumps({**BASE, **{f"x{i}": 1 for i in range(40)}}),
        text[:-1],
        b"[]",
        b"null",
        text.replace(b'"routing":{', b'"routing":{"x":1,', 1),
    ]
    for body in bodies:
        full = _outcome(lambda b: codec.decode(RoutedContact, b), body)
        assert _outcome(codec.decode_routed, body) == full, body[-40:]


def test_errors_are_the_models() -> None:
    body = orjson.dumps({**BASE, **{f"x{i}": 1 for i in range(40)}})
    with pytest.raises(codec.DecodeError) as caught:
        codec.decode_routed(body)
    assert caught.value.error_count == 1 and "at most 32" in caught.value.errors[0]["msg"]


def test_the_decoded_contact_is_the_models_own() -> None:
    body = orjson.dumps(BASE)
    fast, full = codec.decode_routed(body), codec.decode(RoutedContact, body)
    assert type(fast) is RoutedContact and fast == full
    assert fast.model_fields_set == full.model_fields_set and fast.issue_id == full.issue_id
    with pytest.raises(ValidationError):
        fast.summary = "frozen"  # type: ignore[misc]


def test_a_model_without_a_member_bound_is_refused() -> None:
    with pytest.raises(TypeError):
        fields_first(Routing)


def test_a_route_without_reopening_or_follow_up_keeps_them_off_across_the_topic():
    """The router writes the escalator's settings; a null there turns a default off."""
    off = EscalationSettings(reopen_window_seconds=None, followup_after_seconds=None)
    read = codec.decode_routed(codec.encode(routed(escalation=off)))
    assert read.routing.escalation.reopen_window_seconds is None
    assert read.routing.escalation.followup_after_seconds is None
    default = codec.decode_routed(codec.encode(routed())).routing.escalation
    assert (default.reopen_window_seconds, default.followup_after_seconds) == (7 * 86400, 2 * 86400)
