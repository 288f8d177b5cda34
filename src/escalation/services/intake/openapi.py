"""Intake's OpenAPI operations: contacts, commands, a page's signed links, the queries.

The checks each operation runs, and so the problems it can answer, are service.py's,
commands.py's and linked.py's; docs/contract.md tells them in words.
"""

from __future__ import annotations

from typing import Any

from escalation.schemas import CommandBody, ContactEvent, cloudevents
from escalation.schemas.cloudevents import ContactCloudEvent
from escalation.schemas.http import CommandAccepted, ContactsAccepted
from escalation.schemas.records import CONTACT
from escalation.services.common.openapi import BEARER, ApiDocument, json_content, problems, ref
from escalation.services.common.openapi_queries import ESCALATION_ID, describe_queries

from .openapi_silences import describe_silences

DESCRIPTION = (
    "The front door: contact events in, commands on escalations, a page's signed links, "
    "and the escalation queries. Every error is an RFC 9457 problem document; the "
    "contract in full is docs/contract.md."
)
CONTACT_EXAMPLE = {**CONTACT, "urgency": "normal"}
ENVELOPED = {"event_id": "id", "occurred_at": "time", "source": "source"}
CLOUDEVENT_EXAMPLE = {
    "specversion": cloudevents.SPECVERSION,
    "type": cloudevents.CONTACT_TYPE,
    **{attribute: CONTACT_EXAMPLE[field] for field, attribute in ENVELOPED.items()},
    "datacontenttype": "application/json",
    "data": {k: v for k, v in CONTACT_EXAMPLE.items() if k not in ENVELOPED},
}
BATCH_LIMIT = 1000
LINK_ACTIONS = ("ack", "resolve")
COMMAND_EXAMPLES = {
    "ack": {"by": "chen", "note": "on site by 15:00", "eta": "2026-11-24T15:00:00Z"},
    "resolve": {"by": "chen", "cause": "defect"},
    "reopen": {"note": "the customer called back"},
    "reassign": {"to": "amara"},
}
LINK_TOKEN = {
    "name": "token",
    "in": "query",
    "required": True,
    "description": "the link's signed token: l1.<level>.<expiry>.<target>.<signature>",
    "schema": {"type": "string"},
}
HTML_PAGE = {"text/html": {"schema": {"type": "string"}}}
REFUSED = {401: ["unauthenticated", "invalid-token"]}


def describe(doc: ApiDocument) -> None:
    doc.description = DESCRIPTION
    doc.security_schemes["bearer"] = BEARER
    _contacts(doc)
    describe_queries(doc, proxied=True)
    for action in COMMAND_EXAMPLES:
        _command(doc, action)
    for action in LINK_ACTIONS:
        _link_page(doc, action)
    describe_silences(doc)


def _contacts(doc: ApiDocument) -> None:
    one_or_batch = {
        "oneOf": [
            ref(ContactEvent),
            {"type": "array", "items": ref(ContactEvent), "minItems": 1, "maxItems": BATCH_LIMIT},
        ]
    }
    batch = {"type": "array", "items": ref(ContactCloudEvent), "maxItems": BATCH_LIMIT}
    content: dict[str, Any] = {
        "application/json": {"schema": one_or_batch, "example": CONTACT_EXAMPLE},
        cloudevents.STRUCTURED: {"schema": ref(ContactCloudEvent), "example": CLOUDEVENT_EXAMPLE},
        cloudevents.BATCH: {"schema": batch, "example": [CLOUDEVENT_EXAMPLE]},
    }
    doc.add(
        "POST",
        "/v1/contacts",
        {
            "operationId": "postContacts",
            "summary": "One contact event or a batch; 202 once the broker acknowledged each",
            "description": "A contact event, or a JSON array of up to 1,000. CloudEvents 1.0 "
            "in structured mode is accepted too (id -> event_id, time -> occurred_at, "
            "source -> source, data -> the other fields). Nothing of a bad batch is written.",
            "tags": ["contacts"],
            "security": [{"bearer": ["contacts"]}],
            "requestBody": {"required": True, "content": content},
            "responses": {
                "202": {
                    "description": "every event written, or known already",
                    "content": json_content(
                        ref(ContactsAccepted), {"accepted": ["crm-7781-1"], "duplicates": []}
                    ),
                },
                **problems(
                    {
                        **REFUSED,
                        400: ["malformed-json", "disconnected"],
                        403: ["insufficient-scope", "wrong-source"],
                        413: ["body-too-large", "batch-too-large", "event-too-large"],
                        415: ["unsupported-media-type"],
                        422: ["schema-violation", "occurred-at-outside-window"],
                        429: ["rate-limited"],
                        503: ["broker-unavailable"],
                    }
                ),
            },
        },
        (ContactEvent, ContactCloudEvent),
    )


def _command(doc: ApiDocument, action: str) -> None:
    content: dict[str, Any] = {
        "application/json": {"schema": ref(CommandBody), "example": COMMAND_EXAMPLES[action]}
    }
    accepted: dict[str, Any] = json_content(
        ref(CommandAccepted),
        {
            "command_id": "cmd_4f1c2a9be03d7e55a1b2c3d4",
            "escalation_id": ESCALATION_ID["example"],
            "action": action,
        },
    )
    forbidden = ["insufficient-scope", "invalid-link"]
    security: list[dict[str, list[str]]] = [{"bearer": ["escalations"]}]
    if action in LINK_ACTIONS:
        content["application/x-www-form-urlencoded"] = {
            "schema": {
                "type": "object",
                "required": ["token"],
                "properties": {"token": {"type": "string", "description": "the link's token"}},
            }
        }
        accepted.update(HTML_PAGE)  # a browser's form post is answered with a page
        forbidden += ["expired-link", "cross-site-request"]
        security.append({})  # a signed link's form is its own credential
    doc.add(
        "POST",
        f"/v1/escalations/{{escalation_id}}/{action}",
        {
            "operationId": f"{action}Escalation",
            "summary": f"{action.capitalize()} an escalation: the command is written, "
            "the escalator applies it",
            "tags": ["escalations"],
            "security": security,
            "parameters": [ESCALATION_ID],
            "requestBody": {"required": False, "content": content},
            "responses": {
                "202": {"description": "on escalation.commands.v1", "content": accepted},
                **problems(
                    {
                        **REFUSED,
                        400: ["malformed-json", "malformed-form", "disconnected"],
                        403: forbidden,
                        404: ["unknown-escalation"],
                        413: ["body-too-large"],
                        415: ["unsupported-media-type"],
                        422: ["schema-violation"],
                        503: ["broker-unavailable"],
                    }
                ),
            },
        },
        (CommandBody,),
    )


def _link_page(doc: ApiDocument, action: str) -> None:
    doc.add(
        "GET",
        f"/v1/escalations/{{escalation_id}}/{action}",
        {
            "operationId": f"{action}LinkPage",
            "summary": f"A page's signed {action} link: a confirm page; changes nothing",
            "tags": ["links"],
            "parameters": [ESCALATION_ID, LINK_TOKEN],
            "responses": {
                "200": {"description": "the confirm page, with one button", "content": HTML_PAGE},
                "400": {"description": "malformed query", "content": HTML_PAGE},
                "403": {
                    "description": "an altered, expired or misdirected link",
                    "content": HTML_PAGE,
                },
                "404": {"description": "not an escalation id", "content": HTML_PAGE},
            },
        },
    )
