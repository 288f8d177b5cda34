"""Build the page targets the pager delivers to from the policy and the environment.

Which targets are usable, and why the others are not, is decided by
``escalation.policy.targets.check_targets``: the same function ``policy check`` reports
from, so a file that checks clean is one the pager accepts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from escalation.policy.model import Policy
from escalation.policy.targets import Deliverable, check_targets

from .base import Target
from .email import EmailTarget
from .pagerduty import PagerDutyTarget
from .slack import SlackTarget
from .webhook import WebhookTarget

BUILDERS: dict[str, Callable[[Deliverable], Target]] = {
    "webhook": lambda t: WebhookTarget(t.id, t.url, t.secret, t.spec),
    "pagerduty": lambda t: PagerDutyTarget(
        t.id, t.url, t.secret, getattr(t.spec, "severity", "critical"), t.spec
    ),
    "slack": lambda t: SlackTarget(t.id, t.url, t.spec),
    "email": lambda t: EmailTarget(t.id, t.url, t.secret, t.spec),
}
"""One builder per type in ``policy.targets.DELIVERED`` (a unit test holds them equal)."""


def build_targets(
    policy: Policy, environ: Mapping[str, str]
) -> tuple[dict[str, Target], list[str]]:
    """The usable targets by id, and every problem of the others ('path: message')."""
    usable, problems = check_targets(policy, environ)
    return {t.id: BUILDERS[t.type](t) for t in usable}, problems
