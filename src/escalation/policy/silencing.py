"""The policy file's silences and maintenance windows: in force at a moment, and checked.

``PolicySilences`` turns one loaded policy's ``silences:`` and ``maintenance:`` into the
silences in force at a moment, to join those made through the API. The checks here run
when the file loads (``load.py``) and in ``policy check``. Pure: moments are arguments.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from escalation.schemas.silence import Silence

from .maintenance import cron_error, maintenance_silence
from .model import LoadedPolicy, Policy
from .silences import file_silence, in_force


class PolicySilences:
    def __init__(self, loaded: LoadedPolicy) -> None:
        policy = loaded.policy
        self.zone = ZoneInfo(policy.timezone)
        self.silences = [file_silence(entry) for entry in policy.silences]
        self.windows = list(policy.maintenance)

    def active(self, now: datetime) -> list[Silence]:
        """The file's silences and the maintenance occurrences in force at ``now``."""
        found = [s for s in self.silences if in_force(s, now)]
        for window in self.windows:
            silence = maintenance_silence(window, now, self.zone)
            if silence is not None:
                found.append(silence)
        return found


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
