"""The controls view every escalator worker holds: the latest record per id wins."""

from __future__ import annotations

from datetime import timedelta

from tests.unit.factories import T0

from escalation.schemas.surge import Control, SurgeControl
from escalation.services.common.controls import ControlsView


def control(ident: str, active: bool, minutes: int = 0) -> Control:
    at = T0 + timedelta(minutes=minutes)
    return Control(
        id=ident,
        kind="surge",
        active=active,
        at=at,
        surge=SurgeControl(rule="r", by="product", value="WH-50", opened_at=T0),
    )


def test_the_latest_record_of_an_id_is_its_state_whatever_the_order_read():
    view = ControlsView()
    seen: list[bool] = []
    view.listeners.append(lambda c: seen.append(c.active))
    view.apply(control("s1", True, 0))
    view.apply(control("s1", False, 5))
    view.apply(control("s1", True, 0))  # read again after a reconnect: older, ignored
    assert view.active("surge") == []
    assert seen == [True, False]


def test_closed_controls_are_forgotten_after_a_while_open_ones_never():
    view = ControlsView()
    view.apply(control("open", True, 0))
    view.apply(control("closed", False, 0))
    view.forget_before(T0 + timedelta(days=8))
    assert list(view.controls) == ["open"]


def test_at_the_same_moment_the_record_that_ends_a_control_wins():
    view = ControlsView()
    view.apply(control("s1", False, 5))
    view.apply(control("s1", True, 5))  # read again in another order: still closed
    assert view.active("surge") == []
