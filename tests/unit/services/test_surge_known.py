"""Product states kept decoded: the same decisions as reading every state back."""

from __future__ import annotations

import types
from datetime import timedelta
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import PydanticUndefined
from tests.unit.factories import T0
from tests.unit.services.test_surge_detect import report, settings

from escalation.schemas import EscalationSettings, codec
from escalation.schemas.routed import NULL_MEANS_OFF
from escalation.schemas.surge_state import ProductState
from escalation.services.surge.detect import decide_report
from escalation.services.surge.known import KnownStates

KEY = b"products/WH-50"
TRAPS = {
    ("Distinct", "ids"),  # ignored by every reader of a sketch
}


def _run(reports: list, keep: bool) -> list[tuple[Any, ...]]:
    known, raw, seen = KnownStates(), None, []
    for item in reports:
        before = known.read(KEY, raw) if keep else (raw and codec.decode_product_state(raw))
        decision = decide_report(before, item, item.occurred_at)
        raw = codec.encode(decision.state)
        known.wrote(KEY, raw, decision.state)
        seen.append((decision.outcome, decision.count, [codec.encode(e) for e in decision.events]))
    return seen


def test_kept_states_decide_as_states_read_back_through_a_surge() -> None:
    for escalation in (EscalationSettings(), EscalationSettings(reopen_window_seconds=None)):
        rule = settings(threshold=20, escalation=escalation)
        reports = [
            report(f"C-{n}", T0 + timedelta(seconds=n * 7), rule_settings=rule) for n in range(300)
        ]
        assert _run(reports, keep=True) == _run(reports, keep=False)


def test_a_surge_with_follow_ups_off_reads_back_as_itself() -> None:
    rule = settings(threshold=2, escalation=EscalationSettings(followup_after_seconds=None))
    state = None
    for n in range(3):
        state = decide_report(state, report(f"C-{n}", rule_settings=rule), T0).state
    assert state is not None and state.surge is not None
    raw = codec.encode(state)
    assert codec.decode_product_state(raw) == state
    known = KnownStates()
    known.wrote(KEY, raw, state)
    assert known.read(KEY, raw) is state


def test_bytes_other_than_those_written_are_decoded() -> None:
    known = KnownStates()
    first = ProductState(key="k", rule="r", value="v")
    known.wrote(KEY, codec.encode(first), first)
    other = ProductState(key="k", rule="r", value="v", seq=3)
    assert known.read(KEY, codec.encode(other)) == other


def test_every_null_that_reads_back_as_something_else_is_known() -> None:
    found = _traps(ProductState, set())
    written = {("EscalationSettings", name) for name in NULL_MEANS_OFF}
    assert found - written == TRAPS
    for name in NULL_MEANS_OFF:  # written as null, so they read back as null
        settings = EscalationSettings(**{name: None})
        assert getattr(codec.decode(EscalationSettings, codec.encode(settings)), name) is None


def _traps(model: type[BaseModel], seen: set[type]) -> set[tuple[str, str]]:
    """(model, field) of every field that may be null but defaults to something else."""
    found: set[tuple[str, str]] = set()
    if model in seen:
        return found
    seen.add(model)
    for name, field in model.model_fields.items():
        kinds = _kinds(field.annotation)
        default = field.default_factory() if field.default_factory else field.default
        if type(None) in kinds and default is not None and default is not PydanticUndefined:
            found.add((model.__name__, name))
        for kind in kinds:
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                found |= _traps(kind, seen)
    return found


def _kinds(annotation: Any) -> set[Any]:
    if get_origin(annotation) in (Union, types.UnionType, list):
        return {k for arg in get_args(annotation) for k in _kinds(arg)}
    if get_origin(annotation) is not None:  # Annotated and other wrappers
        return {k for arg in get_args(annotation)[:1] for k in _kinds(arg)}
    return {annotation}
