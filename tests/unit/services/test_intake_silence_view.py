"""Intake's silence view: the latest record of each id, whatever order records come in,
over the controls reader every service shares."""

from __future__ import annotations

from datetime import datetime, timedelta

from escalation.schemas import codec
from escalation.schemas.silence import Silence, SilenceRecord
from escalation.schemas.surge import Control, SurgeControl
from escalation.services.common.controls import ControlsReader
from escalation.services.common.settings import Settings
from escalation.services.intake.silence_view import SilenceView

T0 = datetime.fromisoformat("2026-11-25T12:00:00+00:00")


def record(ident: str, active: bool, at: datetime, ends: datetime) -> SilenceRecord:
    silence = Silence(id=ident, matchers=["product=x"], starts_at=T0, ends_at=ends)
    return SilenceRecord(id=ident, active=active, at=at, silence=silence)


def test_the_latest_record_wins_and_a_replayed_older_one_changes_nothing() -> None:
    view = SilenceView()
    made = record("sil_a", True, T0, T0 + timedelta(hours=2))
    ended = record("sil_a", False, T0 + timedelta(minutes=5), T0 + timedelta(minutes=5))
    view.apply(made)
    view.apply(ended)
    view.apply(made)  # read again after intake applied its own write first
    assert view.get("sil_a") == ended
    assert view.listed(T0 + timedelta(minutes=1)) == []
    assert view.listed(T0 + timedelta(minutes=1), expired=True) == [ended]


def test_silences_in_force_or_to_come_are_listed_soonest_ending_first() -> None:
    view = SilenceView()
    late = record("sil_b", True, T0, T0 + timedelta(hours=3))
    soon = record("sil_c", True, T0, T0 + timedelta(hours=1))
    over = record("sil_d", True, T0, T0 + timedelta(minutes=30))
    for one in (late, soon, over):
        view.apply(one)
    assert view.listed(T0 + timedelta(minutes=45)) == [soon, late]


def test_an_expiry_made_at_the_moment_of_creation_is_not_undone_by_reading_again() -> None:
    view = SilenceView()
    made = record("sil_a", True, T0, T0 + timedelta(hours=2))
    ended = record("sil_a", False, T0, T0 + timedelta(hours=1))
    view.apply(ended)
    view.apply(made)
    assert view.get("sil_a") == ended


def test_the_reader_feeds_the_view_skipping_surges_and_bad_records() -> None:
    view = SilenceView()
    reader = view.reader(Settings())
    assert isinstance(reader, ControlsReader) and reader.forget_closed_after is None
    made = record("sil_a", True, T0, T0 + timedelta(hours=2))
    surge = Control(
        id="surge-1",
        kind="surge",
        active=True,
        at=T0,
        surge=SurgeControl(rule="r", by="product", value="WH-50", opened_at=T0),
    )
    for value in (codec.encode(made), codec.encode(surge), b"{broken", None):
        reader._apply(value)
    reader._apply(codec.dumps({"id": "x", "kind": "silence"}))
    assert view.get("sil_a") == made and view.get("surge-1") is None
    assert view.listed(T0, expired=True) == [made]


def test_the_silences_are_ready_once_the_shared_reader_caught_up() -> None:
    view = SilenceView()
    reader = view.reader(Settings())
    assert not view.ready and reader.ready() == "silences not yet read to the end"
    view.controls.caught_up = True  # as the reader sets it at the topic's end
    assert view.ready and reader.ready() is None
