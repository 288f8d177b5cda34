"""Intake's silence view: the latest record of each id, whatever order records come in."""

from __future__ import annotations

from datetime import datetime, timedelta

from escalation.schemas import codec
from escalation.schemas.silence import Silence, SilenceRecord
from escalation.services.intake.silence_view import SilenceView, silence_of

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


def test_other_kinds_of_control_are_skipped_and_bad_records_do_not_stop_the_reader() -> None:
    made = record("sil_a", True, T0, T0 + timedelta(hours=2))
    assert silence_of(codec.encode(made)) == made
    surge = {"id": "surge-1", "kind": "surge", "active": True, "at": T0.isoformat()}
    assert silence_of(codec.dumps(surge)) is None
    assert silence_of(b"{broken") is None
    assert silence_of(codec.dumps({"id": "x", "kind": "silence"})) is None
    assert silence_of(None) is None
