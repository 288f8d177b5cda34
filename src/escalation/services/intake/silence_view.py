"""Intake's view of the silences on ``escalation.controls.v1``, for the silences API.

Intake reads the controls topic with the same reader as the escalator's workers
(``services/common/controls.py``: the whole topic, outside any consumer group, the
latest record of each id wins, ready once every partition was read to the Fetch's high
watermark), so ``GET /v1/silences`` lists what they hold back pages for. This module
only shows the silences among the controls as the API's records; surges share the topic
and are not shown. Intake keeps expired silences (``?expired=true`` lists them), so its
reader forgets nothing.

A silence intake has just written is applied to the view at once as well, so a client
that creates a silence and lists them straight after sees it, before the reader has
read it back; reading it back changes nothing.
"""

from __future__ import annotations

from datetime import datetime

from escalation.schemas.silence import SilenceRecord
from escalation.schemas.surge import Control
from escalation.services.common.controls import ControlsReader, ControlsView
from escalation.services.common.settings import Settings


class SilenceView:
    """The latest record of every silence id, over the controls view; pure."""

    def __init__(self, controls: ControlsView | None = None) -> None:
        self.controls = controls if controls is not None else ControlsView()

    @property
    def ready(self) -> bool:
        """Every silence written before intake started has been read."""
        return self.controls.caught_up

    def apply(self, record: SilenceRecord) -> None:
        """Keep the later of two records of one id (a replayed older one changes nothing)."""
        self.controls.apply(control_of(record))

    def get(self, silence_id: str) -> SilenceRecord | None:
        control = self.controls.get(silence_id)
        return record_of(control) if control is not None else None

    def listed(self, now: datetime, expired: bool = False) -> list[SilenceRecord]:
        """Silences in force or still to come, soonest ending first; ``expired`` adds the rest."""
        records = [record_of(c) for c in self.controls.of_kind("silence")]
        found = [
            r
            for r in records
            if r is not None and (expired or (r.active and r.silence.ends_at > now))
        ]
        return sorted(found, key=lambda r: (r.silence.ends_at, r.id))

    def reader(self, settings: Settings) -> ControlsReader:
        """The reader that keeps this view up to date (started and stopped by intake)."""
        return ControlsReader(settings, self.controls, forget_closed_after=None, what="silences")


def control_of(record: SilenceRecord) -> Control:
    """A silence record as the controls broadcast holds it (the same fields)."""
    return Control(
        id=record.id,
        kind="silence",
        active=record.active,
        at=record.at,
        silence=record.silence,
        expired_by=record.expired_by,
    )


def record_of(control: Control) -> SilenceRecord | None:
    """The API's record of a silence control; None for a surge (or a silence without one)."""
    if control.kind != "silence" or control.silence is None:
        return None
    return SilenceRecord(
        id=control.id,
        active=control.active,
        at=control.at,
        silence=control.silence,
        expired_by=control.expired_by,
    )
