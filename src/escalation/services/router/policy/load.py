"""Load and validate a policy file whole: every error, each with its path in the file."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from .model import Policy


class PolicyError(Exception):
    """A policy that cannot be used; ``errors`` holds every problem as 'path: message'."""

    def __init__(self, source: str, errors: list[str]) -> None:
        super().__init__(f"{source}: {len(errors)} error(s)\n" + "\n".join(errors))
        self.source = source
        self.errors = errors


@dataclass(frozen=True)
class LoadedPolicy:
    policy: Policy
    version: str
    """Content hash of the file: stamped on every routed event."""
    source: str


def _path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(root)"


def _cross_references(policy: Policy) -> list[str]:
    errors: list[str] = []
    teams = {t.id for t in policy.teams}
    targets = {t.id for t in policy.targets}
    for kind, items in (
        ("owners", policy.owners),
        ("teams", policy.teams),
        ("targets", policy.targets),
        ("routes", policy.routes),
    ):
        seen: set[str] = set()
        for i, item in enumerate(items):
            key = item.name if kind == "routes" else item.id
            if key in seen:
                errors.append(
                    f"{kind}[{i}]: duplicate {'name' if kind == 'routes' else 'id'} {key!r}"
                )
            seen.add(key)
    for i, owner in enumerate(policy.owners):
        errors += [f"owners[{i}].teams: unknown team {t!r}" for t in owner.teams if t not in teams]
        errors += [
            f"owners[{i}].targets: unknown target {t!r}" for t in owner.targets if t not in targets
        ]
    for i, team in enumerate(policy.teams):
        errors += [
            f"teams[{i}].targets: unknown target {t!r}" for t in team.targets if t not in targets
        ]
        if not any(team.id in o.teams for o in policy.owners):
            errors.append(f"teams[{i}]: team {team.id!r} has no owners")
    for i, route in enumerate(policy.routes):
        if route.team not in teams:
            errors.append(f"routes[{i}].team: unknown team {route.team!r}")
        errors += [
            f"routes[{i}].targets: unknown target {t!r}" for t in route.targets if t not in targets
        ]
    last = policy.routes[-1]
    if not last.match.is_catch_all or last.continue_:
        errors.append(
            f"routes[{len(policy.routes) - 1}]: the last route must be a catch-all default "
            "(no match conditions, no continue)"
        )
    return errors


def parse_policy(text: str, source: str = "<policy>") -> LoadedPolicy:
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
    version = hashlib.sha256(text.encode()).hexdigest()[:12]
    return LoadedPolicy(policy=policy, version=version, source=source)


def load_policy(path: Path | str) -> LoadedPolicy:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise PolicyError(str(path), [f"(file): cannot read: {exc.strerror}"]) from exc
    return parse_policy(text, str(path))
