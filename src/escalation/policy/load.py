"""Load and validate a policy file whole: every error, each with its path in the file."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import ValidationError

from .escalation import customer_hours_errors, escalation_errors, escalation_warnings
from .hours import HolidayCalendar
from .ical import load_ical_overrides
from .match import REGEX_FIELDS
from .model import TARGET_TYPES, LoadedPolicy, Override, Policy, PolicyError, Route
from .schedule import coverage_gaps
from .silencing import silencing_errors, silencing_warnings
from .surges import surge_errors
from .targets import file_errors as target_errors


def _path(loc: tuple[Any, ...]) -> str:
    out = ""
    for i, part in enumerate(loc):
        if isinstance(part, int):
            out += f"[{part}]"
        elif i == 2 and loc[0] == "targets" and part in TARGET_TYPES:
            continue  # the union's tag: the file says it as `type`, already in the path
        else:
            out += f".{part}" if out else str(part)
    return out or "(root)"


def _unique(policy: Policy) -> list[str]:
    errors: list[str] = []
    groups = (
        ("owners", policy.owners, "id"),
        ("teams", policy.teams, "id"),
        ("schedules", policy.schedules, "id"),
        ("targets", policy.targets, "id"),
        ("routes", policy.routes, "name"),
    )
    for kind, items, attr in groups:
        seen: set[str] = set()
        for i, item in enumerate(items):
            key = getattr(item, attr)
            if key in seen:
                errors.append(f"{kind}[{i}]: duplicate {attr} {key!r}")
            seen.add(key)
    return errors


def _zone_error(where: str, zone: str | None) -> list[str]:
    if zone is None:
        return []
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        return [f"{where}: unknown time zone {zone!r}"]
    return []


def _refs(where: str, kind: str, names: list[str], known: set[str]) -> list[str]:
    return [f"{where}: unknown {kind} {n!r}" for n in names if n not in known]


def _cross_references(policy: Policy) -> list[str]:
    errors = _unique(policy)
    owners = {o.id for o in policy.owners}
    teams = {t.id for t in policy.teams}
    schedules = {s.id for s in policy.schedules}
    targets = {t.id for t in policy.targets}
    errors += _zone_error("timezone", policy.timezone)
    for i, owner in enumerate(policy.owners):
        errors += _refs(f"owners[{i}].teams", "team", owner.teams, teams)
        errors += _refs(f"owners[{i}].targets", "target", owner.targets, targets)
        errors += _zone_error(f"owners[{i}].timezone", owner.timezone)
    for i, team in enumerate(policy.teams):
        errors += _refs(f"teams[{i}].targets", "target", team.targets, targets)
        errors += _refs(
            f"teams[{i}].schedule", "schedule", [team.schedule] if team.schedule else [], schedules
        )
        if not any(team.id in o.teams for o in policy.owners):
            errors.append(f"teams[{i}]: team {team.id!r} has no owners")
    for i, schedule in enumerate(policy.schedules):
        errors += _zone_error(f"schedules[{i}].timezone", schedule.timezone)
        for j, layer in enumerate(schedule.layers):
            errors += _refs(f"schedules[{i}].layers[{j}].members", "owner", layer.members, owners)
        for j, override in enumerate(schedule.overrides):
            errors += _refs(
                f"schedules[{i}].overrides[{j}].owner", "owner", [override.owner], owners
            )
        if not schedule.layers and not schedule.overrides and not schedule.ical:
            errors.append(f"schedules[{i}]: a schedule needs layers, overrides or ical")
    for i, route in enumerate(policy.routes):
        errors += _route_errors(f"routes[{i}]", route, teams, schedules, owners, targets)
    last = policy.routes[-1]
    if not last.match.is_catch_all or last.continue_:
        errors.append(
            f"routes[{len(policy.routes) - 1}]: the last route must be a catch-all default "
            "(no match conditions, no continue)"
        )
    errors += escalation_errors(policy) + customer_hours_errors(policy)
    errors += surge_errors(policy)
    errors += target_errors(policy)
    errors += silencing_errors(policy)
    errors += [f"holidays: {p}" for p in HolidayCalendar(policy.holidays).check()]
    return errors


def _route_errors(
    where: str,
    route: Route,
    teams: set[str],
    schedules: set[str],
    owners: set[str],
    targets: set[str],
) -> list[str]:
    errors = []
    if route.team is not None and route.team not in teams:
        errors.append(f"{where}.team: unknown team {route.team!r}")
    if route.schedule is not None and route.schedule not in schedules:
        errors.append(f"{where}.schedule: unknown schedule {route.schedule!r}")
    errors += _refs(f"{where}.targets", "target", route.targets, targets)
    if route.fallback is not None:
        if route.fallback.owner is not None:
            errors += _refs(f"{where}.fallback.owner", "owner", [route.fallback.owner], owners)
        if route.fallback.team is not None:
            errors += _refs(f"{where}.fallback.team", "team", [route.fallback.team], teams)
    for name, expression in (route.match.regex or {}).items():
        if name not in REGEX_FIELDS and not name.startswith("attributes."):
            errors.append(
                f"{where}.match.regex.{name}: unknown field (use one of "
                f"{', '.join(REGEX_FIELDS)} or attributes.<name>)"
            )
        try:
            re.compile(expression)
        except re.error as exc:
            errors.append(f"{where}.match.regex.{name}: invalid regular expression: {exc}")
    return errors


def coverage_warnings(policy: Policy, now: datetime, horizon_days: int = 14) -> list[str]:
    """Schedules that leave nobody on call in the next ``horizon_days``: warnings, not errors."""
    warnings = []
    zone = ZoneInfo(policy.timezone)
    for i, schedule in enumerate(policy.schedules):
        if schedule.ical:
            continue  # its coverage depends on the calendar file's events
        gaps = coverage_gaps(schedule, now, now + timedelta(days=horizon_days), zone)
        if gaps:
            start, end = gaps[0]
            warnings.append(
                f"schedules[{i}]: nobody on call for {len(gaps)} period(s) in the next "
                f"{horizon_days} days, first {start.isoformat()} to {end.isoformat()}"
            )
    return warnings


def parse_policy(
    text: str,
    source: str = "<policy>",
    base_dir: Path | None = None,
    now: datetime | None = None,
) -> LoadedPolicy:
    """Validate a policy text whole; ``base_dir`` resolves relative iCalendar paths."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(root)"
        raise PolicyError(source, [f"{where}: invalid YAML: {exc}"]) from exc
    if not isinstance(data, dict):
        raise PolicyError(source, ["(root): a policy is a mapping with 'version: 1'"])
    try:
        policy = Policy.model_validate(data)
    except ValidationError as exc:
        errors = [f"{_path(e['loc'])}: {e['msg']}" for e in exc.errors(include_url=False)]
        raise PolicyError(source, errors) from exc
    errors = _cross_references(policy)
    if errors:
        raise PolicyError(source, errors)
    now = now or datetime.now(UTC)
    overrides, warnings, errors = _ical_overrides(policy, base_dir or Path.cwd(), now)
    if errors:
        raise PolicyError(source, errors)
    version = hashlib.sha256(text.encode()).hexdigest()[:12]
    return LoadedPolicy(
        policy=policy,
        version=version,
        source=source,
        warnings=warnings
        + escalation_warnings(policy)
        + coverage_warnings(policy, now)
        + silencing_warnings(policy, now),
        ical_overrides=overrides,
    )


def _ical_overrides(
    policy: Policy, base_dir: Path, now: datetime
) -> tuple[dict[str, list[Override]], list[str], list[str]]:
    """Overrides from each schedule's iCalendar file, over the next ~13 months."""
    owners = {o.id for o in policy.owners}
    found: dict[str, list[Override]] = {}
    warnings: list[str] = []
    errors: list[str] = []
    for i, schedule in enumerate(policy.schedules):
        if not schedule.ical:
            continue
        path = base_dir / schedule.ical
        zone = ZoneInfo(schedule.timezone or policy.timezone)
        try:
            overrides, problems = load_ical_overrides(
                path, owners, now - timedelta(days=1), now + timedelta(days=400), zone
            )
        except (OSError, ValueError) as exc:
            errors.append(f"schedules[{i}].ical: cannot use {schedule.ical!r}: {exc}")
            continue
        found[schedule.id] = overrides
        warnings += [f"schedules[{i}].ical: {problem}" for problem in problems]
    return found, warnings, errors


def load_policy(path: Path | str) -> LoadedPolicy:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise PolicyError(str(path), [f"(file): cannot read: {exc.strerror}"]) from exc
    return parse_policy(text, str(path), base_dir=path.parent)
