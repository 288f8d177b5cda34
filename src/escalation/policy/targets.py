"""Which page targets the pager can deliver to, checked against an environment.

One function answers for the pager, which builds only the targets it returns, and for
``escalation policy check``, which reports every problem it finds: a file that checks
clean in an environment is one the pager accepts in that environment. The environment
is a mapping passed in (the pager's ``os.environ``, the embedded stack's, a test's
dict), so the answer depends on nothing else and this module stays pure.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from .model import Policy, Target

DELIVERED = ("webhook",)
"""Target types the pager delivers today; the policy model already names more."""
SECRET_PREFIX = "whsec_"
_VAR = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)(?::-([^}]*))?\}")


@dataclass(frozen=True)
class Deliverable:
    """A target the pager can deliver to: its URL expanded, its secret read."""

    id: str
    type: str
    url: str
    secret: str


def secret_key(secret: str) -> bytes:
    """The HMAC key of a Standard Webhooks secret (``whsec_`` + base64); ValueError if none."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError(f"webhook secrets start with {SECRET_PREFIX!r}")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except binascii.Error as exc:
        raise ValueError(f"webhook secret is not valid base64 after {SECRET_PREFIX!r}") from exc
    if not key:
        raise ValueError(f"webhook secret has no key after {SECRET_PREFIX!r}")
    return key


def expand(text: str, environ: Mapping[str, str]) -> tuple[str, list[str]]:
    """Expand ``${VAR}`` and ``${VAR:-default}``; also return the unset names without default."""
    unset: list[str] = []

    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in environ:
            return environ[name]
        if default is not None:
            return default
        unset.append(name)
        return match.group(0)

    return _VAR.sub(replace, text), unset


def check_targets(
    policy: Policy, environ: Mapping[str, str]
) -> tuple[list[Deliverable], list[str]]:
    """The targets the pager can deliver to, and every problem of the others, by path."""
    deliverable: list[Deliverable] = []
    problems: list[str] = []
    for i, spec in enumerate(policy.targets):
        target, found = _check(f"targets[{i}]", spec, environ)
        problems += found
        if target is not None:
            deliverable.append(target)
    return deliverable, problems


def _check(
    where: str, spec: Target, environ: Mapping[str, str]
) -> tuple[Deliverable | None, list[str]]:
    if spec.type not in DELIVERED:
        return None, [
            f"{where}.type: target {spec.id!r} has type {spec.type!r}, which the pager does "
            f"not deliver yet (use {' or '.join(DELIVERED)})"
        ]
    url, unset = expand(spec.url, environ)
    problems = [
        f"{where}.url: target {spec.id!r} uses ${{{name}}}, which is not set "
        f"(set it, or give a default: ${{{name}:-...}})"
        for name in unset
    ]
    parts = urlsplit(url)
    if not unset and (parts.scheme not in ("http", "https") or not parts.netloc):
        problems.append(f"{where}.url: target {spec.id!r} needs an http:// or https:// URL")
    if spec.secret is None:
        problems.append(
            f"{where}: webhook target {spec.id!r} needs secret: {{env: NAME}}, "
            f"a variable holding a {SECRET_PREFIX} secret"
        )
        return None, problems
    secret, problem = _secret(spec.id, spec.secret.env, environ)
    if problem:
        problems.append(f"{where}.secret.env: {problem}")
    if problems:
        return None, problems
    return Deliverable(spec.id, spec.type, url, secret), []


def _secret(target: str, name: str, environ: Mapping[str, str]) -> tuple[str, str | None]:
    """The secret in ``name``, or why there is none (never the value itself)."""
    secret = environ.get(name)
    where = f"target {target!r} reads its secret from {name}"
    if secret is None:
        return "", f"{where}, which is not set"
    if not secret:
        return "", f"{where}, which is empty"
    try:
        secret_key(secret)
    except ValueError as exc:
        return "", f"{where}, which is not usable: {exc}"
    return secret, None
