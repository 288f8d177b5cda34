"""What a topic record carries besides its value: keys, headers, and examples of both.

Described here for the AsyncAPI document (schemas/asyncapi.py); the services write them
in their own modules (intake's writer, the escalator's effects, services/common/dlq.py).
"""

from __future__ import annotations

from typing import Any

from escalation.services.common import topics as t

from .cloudevents import CONTACT_TYPE, SPECVERSION


def _text(description: str, **extra: Any) -> dict[str, Any]:
    return {"type": "string", "description": description, **extra}


def event_id_header(value: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["event-id"],
        "properties": {"event-id": _text(f"{value}: what readers dedup by")},
    }


def binary_headers(event_type: str) -> dict[str, Any]:
    """CloudEvents' Kafka protocol binding, binary mode, for a contact."""
    return {
        "type": "object",
        "required": ["ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time"],
        "properties": {
            "ce_specversion": _text("CloudEvents version", const=SPECVERSION),
            "ce_id": _text("-> event_id", minLength=1, maxLength=128),
            "ce_source": _text("-> source", minLength=1, maxLength=64),
            "ce_type": _text("the contact event type", const=event_type),
            "ce_time": _text("-> occurred_at (RFC 3339 with an offset)", format="date-time"),
            "content-type": _text("datacontenttype: absent or a JSON type"),
        },
    }


DLQ_HEADERS: dict[str, Any] = {
    "type": "object",
    "description": "the original record's headers, plus these",
    "required": [
        "error",
        "error-type",
        "source-topic",
        "source-partition",
        "source-offset",
        "dead-lettered-at",
    ],
    "properties": {
        "error": _text("what was wrong, up to 4,000 characters", maxLength=4000),
        "error-type": _text(
            "decode (not UTF-8 JSON), schema (breaks the schema), bug (the reader raised "
            "on a valid record), delivery (pages.dlq.v1: a target could not take the page)",
            enum=["decode", "schema", "bug", "delivery"],
        ),
        "failed-target": _text("delivery only: the target that could not take the page"),
        "source-topic": _text("where the record was read"),
        "source-partition": _text("its partition", pattern="^[0-9]+$"),
        "source-offset": _text("its offset", pattern="^[0-9]+$"),
        "dead-lettered-at": _text("milliseconds since the Unix epoch", pattern="^[0-9]+$"),
    },
}

CHANGELOG_KEYS: dict[str, dict[str, Any]] = {
    t.ROUTER_CHANGELOG: _text("a/<customer id>/<issue id>: one assignment per issue"),
    t.changelog_of(t.ESCALATOR_APP, t.ISSUES_TABLE): _text("<customer id>/<issue id>"),
    t.changelog_of(t.ESCALATOR_APP, t.TIMELINES_TABLE): _text("<customer id>/<issue id>"),
    t.changelog_of(t.PAGER_APP, t.DELIVERED_TABLE): _text("<page id>/<target id>"),
    t.changelog_of(t.SURGE_APP, t.PRODUCTS_TABLE): _text("<rule>/<product or category>"),
}

CONTACT = {
    "event_id": "crm-7781-1",
    "occurred_at": "2026-11-24T09:15:00-05:00",
    "source": "crm",
    "channel": "phone",
    "customer": {"id": "C-1042", "tier": "standard", "timezone": "America/New_York"},
    "issue_key": "ticket-88",
    "category": "hvac.repair",
    "product": "AC-3000",
    "summary": "AC failed again after repair",
}
ENVELOPED = ("event_id", "occurred_at", "source")

EXAMPLES: dict[str, dict[str, Any]] = {
    "Contact": {
        "name": "repeat-contact",
        "headers": {"event-id": CONTACT["event_id"]},
        "payload": CONTACT,
    },
    "ContactCloudEvent": {
        "name": "binary-mode",
        "headers": {
            "ce_specversion": SPECVERSION,
            "ce_id": CONTACT["event_id"],
            "ce_source": CONTACT["source"],
            "ce_type": CONTACT_TYPE,
            "ce_time": CONTACT["occurred_at"],
            "content-type": "application/json",
        },
        "payload": {k: v for k, v in CONTACT.items() if k not in ENVELOPED},
    },
}
