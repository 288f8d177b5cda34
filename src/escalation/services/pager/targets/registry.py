"""Build the usable page targets from the policy, collecting what makes one unusable."""

from __future__ import annotations

import os

from escalation.policy.model import Policy

from ..signing import SignatureError, secret_key
from .base import Target, TargetConfigError, expand_env
from .webhook import WebhookTarget


def build_targets(policy: Policy) -> tuple[dict[str, Target], list[str]]:
    targets: dict[str, Target] = {}
    problems: list[str] = []
    for spec in policy.targets:
        try:
            url = expand_env(spec.url)
            if spec.type != "webhook":
                raise TargetConfigError(f"target type {spec.type!r} is not supported yet")
            if spec.secret is None:
                raise TargetConfigError("webhook targets need secret: {env: NAME}")
            secret = os.environ.get(spec.secret.env)
            if not secret:
                raise TargetConfigError(f"environment variable {spec.secret.env} is not set")
            secret_key(secret)
            targets[spec.id] = WebhookTarget(spec.id, url, secret)
        except (TargetConfigError, SignatureError) as exc:
            problems.append(f"target {spec.id}: {exc}")
    return targets, problems
