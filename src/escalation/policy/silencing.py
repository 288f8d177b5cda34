"""The policy file's silences and maintenance windows: in force at a moment, and checked.

``PolicySilences`` turns one loaded policy's ``silences:`` and ``maintenance:`` into the
silences in force at a moment, to join those made through the API. The checks here run
when the file loads (``load.py``) and in ``policy check``. Pure: moments are arguments.

The escalator asks ``active`` for every input it decides, and a cron window's occurrence
costs a few hundred microseconds to find; so the answer is kept with the span it holds
for (until the next start or end of any silence or occurrence, an hour at most) and
given again for any moment within it. A moment outside (later, or a clock set back)
asks afresh.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from escalation.schemas.silence import Silence

from .maintenance import SETTLED_REACH, cron_error, maintenance_silence, settled_until
from .model import LoadedPolicy, Policy
from .silences import file_silence, in_force


class PolicySilences:
    def __init__(self, loaded: LoadedPolicy) -> None:
        policy = loaded.policy
        self.zone = ZoneInfo(policy.timezone)
        self.silences = [file_silence(entry) for entry in policy.silences]
        self.windows = list(policy.maintenance)
        self._kept: tuple[datetime, datetime, list[Silence]] | None = None

    def active(self, now: datetime) -> list[Silence]:
        """The file's silences and the maintenance occurrences in force at ``now``."""
        kept = self._kept
        if kept is None or not kept[0] <= now < kept[1]:
            kept = self._kept = (now, self._settled_until(now), self._active(now))
        return list(kept[2])

    def _active(self, now: datetime) -> list[Silence]:
        found = [s for s in self.silences if in_force(s, now)]
        for window in self.windows:
            silence = maintenance_silence(window, now, self.zone)
            if silence is not None:
                found.append(silence)
        return found

    def _settled_until(self, now: datetime) -> datetime:
        """When the answer at ``now`` may change: a silence starts or ends, or a window's
        occurrence does (``maintenance.settled_until``)."""
        moments = [settled_until(window, now, self.zone) for window in self.windows]
        for silence in self.silences:
            moments += [m for m in (silence.starts_at, silence.ends_at) if m > now]
        return min(moments, default=now + SETTLED_REACH)


def silencing_errors(policy: Policy) -> list[str]:
    """Duplicate ids, unknown zones and bad cron expressions, each with its path."""
    errors: list[str] = []
    seen: dict[str, str] = {}
    named = [("silences", s.id) for s in policy.silences]
    named += [("maintenance", w.id) for w in policy.maintenance]
    for i, (kind, ident) in enumerate(named):
        where = f"{kind}[{i if kind == 'silences' else i - len(policy.silences)}]"
        if ident in seen:
            errors.append(f"{where}: id {ident!r} is already used by {seen[ident]}")
        else:
            seen[ident] = where
    for i, window in enumerate(policy.maintenance):
        if window.timezone is not None:
            try:
                ZoneInfo(window.timezone)
            except (ZoneInfoNotFoundError, ValueError):
                errors.append(f"maintenance[{i}].timezone: unknown time zone {window.timezone!r}")
        if window.cron is not None and (problem := cron_error(window.cron)) is not None:
            errors.append(f"maintenance[{i}].cron: {problem}")
        elif window.cron is None and not window.days:
            errors.append(f"maintenance[{i}].days: name at least one day")
    return errors


def silencing_warnings(policy: Policy, now: datetime) -> list[str]:
    """File silences that have ended: they do nothing and may be removed."""
    return [
        f"silences[{i}]: ended {entry.ends_at.isoformat()}; it silences nothing"
        for i, entry in enumerate(policy.silences)
        if entry.ends_at <= now
    ]
