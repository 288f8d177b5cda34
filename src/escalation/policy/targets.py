"""Which page targets the pager can deliver to, checked against an environment.

One function answers for the pager, which builds only the targets it returns, and for
``escalation policy check``, which reports every problem it finds: a file that checks
clean in an environment is one the pager accepts in that environment. The environment
is a mapping passed in (the pager's ``os.environ``, the embedded stack's, a test's
dict), so the answer depends on nothing else and this module stays pure. What depends
on the file alone (templates, fallbacks) is checked when the file loads
(``file_errors``), so the router refuses such a file too.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from . import templates
from .model import EmailTarget, PagerDutyTarget, Policy, Target, WebhookTarget
from .outbound import OutboundRules

DELIVERED = ("webhook", "pagerduty", "slack", "email")
"""Target types the pager delivers: every type the policy accepts."""
SECRET_PREFIX = "whsec_"
_VAR = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)(?::-([^}]*))?\}")
_ROUTING_KEY = re.compile(r"[A-Za-z0-9]{32}")


@dataclass(frozen=True)
class Deliverable:
    """A target the pager can deliver to: its URL (or SMTP host) expanded, its secrets read."""

    id: str
    type: str
    url: str
    secret: str = ""
    """webhook: the whsec_ key; pagerduty: the routing key; email: the SMTP password."""
    spec: Target | None = field(default=None, compare=False)


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


def expand(
    text: str, environ: Mapping[str, str], rules: OutboundRules | None = None
) -> tuple[str, list[str]]:
    """Expand ``${VAR}`` and ``${VAR:-default}``; also return the unset names without default.

    With ``rules``, a name without an allowed prefix is never read: it counts as unset
    (``check_targets`` says why).
    """
    unset: list[str] = []

    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in environ and (rules is None or rules.expandable(name)):
            return environ[name]
        if default is not None and (rules is None or rules.expandable(name)):
            return default
        unset.append(name)
        return match.group(0)

    return _VAR.sub(replace, text), unset


def check_targets(
    policy: Policy, environ: Mapping[str, str]
) -> tuple[list[Deliverable], list[str]]:
    """The targets the pager can deliver to, and every problem of the others, by path."""
    rules = OutboundRules.from_environ(environ)
    deliverable: list[Deliverable] = []
    problems: list[str] = []
    for i, spec in enumerate(policy.targets):
        target, found = _check(f"targets[{i}]", spec, environ, rules)
        problems += found
        if target is not None:
            deliverable.append(target)
    return deliverable, problems


def file_errors(policy: Policy) -> list[str]:
    """Problems of the targets that no environment fixes: templates and fallbacks."""
    ids = {t.id for t in policy.targets}
    errors = []
    for i, spec in enumerate(policy.targets):
        for name, problem in templates.check(spec.type, spec.templates):
            errors.append(f"targets[{i}].templates.{name}: {problem}")
        if spec.fallback is not None and spec.fallback not in ids:
            errors.append(f"targets[{i}].fallback: unknown target {spec.fallback!r}")
        elif spec.fallback == spec.id:
            errors.append(f"targets[{i}].fallback: a target cannot be its own fallback")
    return errors


def _check(
    where: str, spec: Target, environ: Mapping[str, str], rules: OutboundRules
) -> tuple[Deliverable | None, list[str]]:
    if isinstance(spec, EmailTarget):
        return _check_email(where, spec, environ, rules)
    url, problems = _url(where, spec.id, spec.url, environ, rules)
    secret = ""
    if isinstance(spec, WebhookTarget):
        if spec.secret is None:
            problems.append(
                f"{where}: webhook target {spec.id!r} needs secret: {{env: NAME}}, "
                f"a variable holding a {SECRET_PREFIX} secret"
            )
            return None, problems
        secret, problem = _secret(spec.id, spec.secret.env, environ)
        if problem:
            problems.append(f"{where}.secret.env: {problem}")
    elif isinstance(spec, PagerDutyTarget):
        secret, problem = _routing_key(spec.id, spec.routing_key.env, environ)
        if problem:
            problems.append(f"{where}.routing_key.env: {problem}")
    if problems:
        return None, problems
    return Deliverable(spec.id, spec.type, url, secret, spec), []


def _url(
    where: str, target: str, text: str, environ: Mapping[str, str], rules: OutboundRules
) -> tuple[str, list[str]]:
    url, unset = expand(text, environ, rules)
    problems = [_unset(f"{where}.url", target, name, rules) for name in unset]
    parts = urlsplit(url)
    if not unset and (parts.scheme not in ("http", "https") or not parts.hostname):
        problems.append(f"{where}.url: target {target!r} needs an http:// or https:// URL")
    elif not unset and (refusal := rules.host_refusal(parts.hostname or "")):
        problems.append(
            f"{where}.url: target {target!r} may not be paged: {refusal} ({rules.advice()})"
        )
    return url, problems


def _unset(where: str, target: str, name: str, rules: OutboundRules) -> str:
    if not rules.expandable(name):
        return (
            f"{where}: target {target!r} uses ${{{name}}}, which is not expanded: only "
            f"variables starting with {' or '.join(rules.prefixes)} are "
            "(ESCALATION_PAGER_EXPAND_PREFIXES)"
        )
    return (
        f"{where}: target {target!r} uses ${{{name}}}, which is not set "
        f"(set it, or give a default: ${{{name}:-...}})"
    )


def _check_email(
    where: str, spec: EmailTarget, environ: Mapping[str, str], rules: OutboundRules
) -> tuple[Deliverable | None, list[str]]:
    host, unset = expand(spec.host, environ, rules)
    problems = [_unset(f"{where}.host", spec.id, name, rules) for name in unset]
    if not unset and (refusal := rules.host_refusal(host)):
        problems.append(
            f"{where}.host: target {spec.id!r} may not be paged: {refusal} ({rules.advice()})"
        )
    local = host in ("localhost", "127.0.0.1", "::1") or host.startswith("127.")
    if not spec.starttls and not local:
        problems.append(
            f"{where}.starttls: target {spec.id!r} would send pages (and their ack links) "
            "in clear: STARTTLS may be off only for a loopback SMTP server"
        )
    password = ""
    if spec.password is not None:
        password = environ.get(spec.password.env, "")
        if not password:
            problems.append(
                f"{where}.password.env: target {spec.id!r} reads its password from "
                f"{spec.password.env}, which is not set or empty"
            )
        if spec.username is None:
            problems.append(f"{where}.username: target {spec.id!r} has a password but no username")
    if problems:
        return None, problems
    return Deliverable(spec.id, spec.type, host, password, spec), []


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


def _routing_key(target: str, name: str, environ: Mapping[str, str]) -> tuple[str, str | None]:
    key = environ.get(name)
    where = f"target {target!r} reads its routing key from {name}"
    if not key:
        return "", f"{where}, which is not set or empty"
    if not _ROUTING_KEY.fullmatch(key):
        return "", f"{where}, which is not an Events API v2 routing key (32 letters or digits)"
    return key, None
