"""What a page target is: something that turns a page into one HTTP request."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

import httpx

from escalation.schemas import PageRequest

_VAR = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)(?::-([^}]*))?\}")


class TargetConfigError(ValueError):
    pass


def expand_env(text: str, environ: dict[str, str] | None = None) -> str:
    """Expand ``${VAR}`` and ``${VAR:-default}``; an unset VAR without default is an error."""
    env = os.environ if environ is None else environ

    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        raise TargetConfigError(f"environment variable {name} is not set")

    return _VAR.sub(replace, text)


@dataclass(frozen=True)
class Links:
    """Where a receiver can act on an escalation."""

    base_url: str

    def ack(self, escalation_id: str) -> str:
        return f"{self.base_url}/v1/escalations/{escalation_id}/ack"

    def resolve(self, escalation_id: str) -> str:
        return f"{self.base_url}/v1/escalations/{escalation_id}/resolve"


class Target:
    id: str
    kind: str

    def accepts(self, action: str) -> bool:
        """Whether this target takes pages of this action (trigger, acknowledge, resolve)."""
        return True

    def build(self, page: PageRequest, links: Links, now: int) -> httpx.Request:
        """The signed request for this page at time ``now`` (Unix seconds)."""
        raise NotImplementedError
