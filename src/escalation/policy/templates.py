"""Page templates: Jinja2 in a sandbox, checked against sample pages when the policy loads.

A template is written once and rendered at 3 a.m., when nobody can fix it. So every
template is compiled and rendered when the policy loads, against a sample page with
every field set and one with every optional field empty, with undefined variables an
error (``StrictUndefined``): a misspelt variable, a filter applied to a missing
summary, or a syntax error is a policy error with its path, and ``policy check``, the
router and the pager all refuse the file. The environment is Jinja2's immutable sandbox,
so a template cannot reach Python internals or change the page.

The variables a template sees are one plain mapping, made here for the check and for
the pager alike (docs/policy.md#templates lists them).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import cache
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from escalation.schemas.page import WEBHOOK_EVENT_TYPES, PageRequest

NAMES: dict[str, tuple[str, ...]] = {
    "webhook": (),
    "pagerduty": ("summary",),
    "slack": ("text", "title", "body"),
    "email": ("subject", "text", "html"),
}
"""The templates each target type renders; a webhook's body is the contract, not a template."""

DEFAULTS: dict[str, str] = {
    "pagerduty.summary": "[{{ page.customer.tier }}] {{ page.customer.id }}: {{ page.reason }}"
    " (owner {{ page.owner }})",
    "slack.text": "{{ page.type }} {{ page.customer.id }}: {{ page.reason }}",
    "slack.title": "{{ page.type }} level {{ page.level }}: {{ page.customer.id }}",
    "slack.body": "*{{ page.reason }}*\n{{ page.summary or 'No summary.' }}",
    "email.subject": "[{{ page.type }}] {{ page.customer.id }} ({{ page.customer.tier }}): "
    "{{ page.reason }}",
    "email.text": (
        "{{ page.type }}, level {{ page.level }}\n\n"
        "Who:  {{ page.owner }} (team {{ page.team }})"
        "{% if page.notified %}; paging {{ page.notified | join(', ') }}{% endif %}\n"
        "What: {{ page.customer.id }} ({{ page.customer.tier }}), "
        "{{ page.issue_key or page.category }} {{ page.product or '' }}\n"
        "      {{ page.summary or 'No summary.' }}\n"
        "Why:  {{ page.reason }}\n"
        "{% for reason in page.routing_reasons %}      {{ reason }}\n{% endfor %}"
        "Contacts: {{ page.contacts | join(', ') }}\n\n"
        "Acknowledge: {{ links.ack }}\nResolve:     {{ links.resolve }}\n"
    ),
    "email.html": (
        "<h2>{{ page.type }}, level {{ page.level }}: {{ page.customer.id }}</h2>"
        "<p><b>Who:</b> {{ page.owner }} (team {{ page.team }})"
        "{% if page.notified %}; paging {{ page.notified | join(', ') }}{% endif %}</p>"
        "<p><b>What:</b> {{ page.customer.id }} ({{ page.customer.tier }}), "
        "{{ page.issue_key or page.category }} {{ page.product or '' }}<br>"
        "{{ page.summary or 'No summary.' }}</p>"
        "<p><b>Why:</b> {{ page.reason }}</p>"
        "{% if page.routing_reasons %}<ul>{% for reason in page.routing_reasons %}"
        "<li>{{ reason }}</li>{% endfor %}</ul>{% endif %}"
        "<p><b>Contacts:</b> {{ page.contacts | join(', ') }}</p>"
        '<p><a href="{{ links.ack }}">Acknowledge</a> &middot; '
        '<a href="{{ links.resolve }}">Resolve</a></p>'
    ),
}


def slack_escape(value: Any) -> Any:
    """Slack's three control characters, so a customer's text cannot ping ``<!channel>``."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@cache
def environment(kind: str) -> ImmutableSandboxedEnvironment:
    """The sandbox for one target type: HTML autoescaped, Slack's characters escaped."""
    finalize: Callable[[Any], Any] | None = slack_escape if kind == "slack" else None
    return ImmutableSandboxedEnvironment(
        undefined=StrictUndefined,
        autoescape=kind == "email.html",
        finalize=finalize,
        keep_trailing_newline=True,
    )


def context(page: PageRequest, ack_url: str, resolve_url: str, target: str, kind: str) -> dict:
    """Every variable a template sees: plain strings, numbers, lists and mappings."""
    return {
        "page": {
            "type": WEBHOOK_EVENT_TYPES[page.action],
            "action": page.action,
            "page_id": page.page_id,
            "escalation_id": page.escalation_id,
            "level": page.level,
            "reason": page.reason,
            "customer": {"id": page.customer_id, "tier": page.customer_tier},
            "issue_key": page.issue_key,
            "category": page.category,
            "product": page.product,
            "summary": page.summary,
            "owner": page.owner,
            "team": page.team,
            "contacts": list(page.contacts),
            "created_at": page.created_at.isoformat(),
            "route": page.route,
            "routing_reasons": list(page.routing_reasons or []),
            "notified": list(page.notified or []),
        },
        "links": {"ack": ack_url, "resolve": resolve_url},
        "target": {"id": target, "type": kind},
    }


def sample_pages() -> list[PageRequest]:
    """One page with every field set, one with every optional field empty."""
    escalation = "e1.Qy0xMDQy.bd152f77a69fbc0ed2ac2bce.1"
    full = PageRequest(
        page_id="msg_e619b8eb7f448c387feb23ab",
        escalation_id=escalation,
        dedup_key=escalation,
        level=2,
        reason="repeat.contacts: 3 contacts within 72h",
        customer_id="C-1042",
        customer_tier="vip",
        issue_key="ticket-88",
        category="hvac.repair",
        product="AC-3000",
        owner="chen",
        team="service-engineers",
        summary="AC failed again after repair <!channel> & more",
        contacts=["crm-1", "crm-2", "crm-3"],
        targets=["sample"],
        created_at=datetime(2026, 11, 24, 14, 0, tzinfo=UTC),
        route="equipment-repair",
        routing_reasons=["route equipment-repair: matched", "chen: least loaded"],
        notified=["chen"],
    )
    bare = PageRequest(
        page_id="msg_0000000000000000000000aa",
        action="resolve",
        escalation_id=escalation,
        dedup_key=escalation,
        level=0,
        reason="resolved by unknown",
        customer_id="C-1",
        customer_tier="standard",
        category="other",
        owner="ana",
        team="front-line",
        created_at=datetime(2026, 11, 24, 14, 0, tzinfo=UTC),
    )
    return [full, bare]


def compile_template(kind: str, name: str, source: str) -> Any:
    return environment(f"{kind}.{name}" if kind == "email" else kind).from_string(source)


def check(kind: str, templates: Mapping[str, str]) -> list[tuple[str, str]]:
    """(template name, problem) for each template that is unknown, invalid or fails."""
    problems: list[tuple[str, str]] = []
    allowed = NAMES[kind]
    for name, source in templates.items():
        if name not in allowed:
            known = ", ".join(allowed) or "none: the body is the contract's"
            problems.append((name, f"unknown template for a {kind} target (known: {known})"))
            continue
        try:
            template = compile_template(kind, name, source)
        except TemplateError as exc:
            line = f"line {exc.lineno}: " if getattr(exc, "lineno", None) else ""
            problems.append((name, f"invalid template: {line}{exc}"))
            continue
        for page in sample_pages():
            values = context(page, "https://intake.example/ack", "https://x/r", "sample", kind)
            try:
                template.render(values)
            except Exception as exc:  # noqa: BLE001 - any failure of a render is reported
                problems.append((name, f"fails on a sample page ({page.action}): {exc}"))
                break
    return problems
