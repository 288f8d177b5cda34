"""The escalation queries' operations, shared by intake (with a token) and the escalator.

The escalator answers ``GET /v1/escalations...`` from its state on its internal port;
intake serves the same paths behind the ``escalations`` scope and proxies to it. One
description serves both documents, so the two cannot disagree about the answer.
"""

from __future__ import annotations

from typing import Any

from escalation.schemas.timeline import EscalationList, EscalationView

from .openapi import ApiDocument, json_content, problems, ref

ESCALATION_ID = {
    "name": "escalation_id",
    "in": "path",
    "required": True,
    "description": "e1.<base64url customer id>.<24 hex issue digest>.<sequence>",
    "schema": {"type": "string", "pattern": r"^e1\.[A-Za-z0-9_-]+\.[0-9a-f]{24}\.[0-9]+$"},
    "example": "e1.Qy0xMDQy.bd152f77a69fbc0ed2ac2bce.1",
}
VIEW_EXAMPLE = {
    "escalation_id": "e1.Qy0xMDQy.bd152f77a69fbc0ed2ac2bce.1",
    "customer_id": "C-1042",
    "issue_id": "bd152f77a69fbc0ed2ac2bce",
    "issue_key": "ticket-88",
    "category": "hvac.repair",
    "status": "open",
    "level": 2,
    "owner": "chen",
    "team": "service-engineers",
    "opened_at": "2026-11-24T14:00:00Z",
    "updated_at": "2026-11-24T14:30:00Z",
    "contacts": ["crm-1", "crm-2", "crm-3"],
    "deadlines": {"next_step": "2026-11-24T15:00:00Z"},
    "timeline": [
        {
            "id": "opened:crm-3",
            "type": "opened",
            "at": "2026-11-24T14:00:00Z",
            "level": 1,
            "reason": "repeat.contacts: 3 contacts within 72h",
        }
    ],
    "timeline_dropped": 0,
}


def describe_queries(doc: ApiDocument, *, proxied: bool) -> None:
    """``GET /v1/escalations/{id}`` and ``GET /v1/escalations?customer_id=``.

    ``proxied``: intake's, which checks a token and may not reach the escalator.
    """
    refused: dict[int, list[str]] = {}
    security: dict[str, Any] = {}
    unavailable = ["not-ready"]
    if proxied:
        refused = {401: ["unauthenticated", "invalid-token"], 403: ["insufficient-scope"]}
        security = {"security": [{"bearer": ["escalations"]}]}
        unavailable.append("escalator-unavailable")
    listed = {k: v for k, v in VIEW_EXAMPLE.items() if k not in ("timeline", "timeline_dropped")}
    doc.add(
        "GET",
        "/v1/escalations/{escalation_id}",
        {
            "operationId": "getEscalation",
            "summary": "One escalation: status, level, owner, deadlines and timeline",
            "tags": ["escalations"],
            **security,
            "parameters": [ESCALATION_ID],
            "responses": {
                "200": {
                    "description": "the escalation, from the escalator's state",
                    "content": json_content(ref(EscalationView), VIEW_EXAMPLE),
                },
                **problems({**refused, 404: ["unknown-escalation"], 503: unavailable}),
            },
        },
        (EscalationView,),
    )
    doc.add(
        "GET",
        "/v1/escalations",
        {
            "operationId": "listEscalations",
            "summary": "The current escalation of each of a customer's issues, newest first",
            "tags": ["escalations"],
            **security,
            "parameters": [
                {
                    "name": "customer_id",
                    "in": "query",
                    "required": True,
                    "schema": {"type": "string", "minLength": 1},
                    "example": "C-1042",
                }
            ],
            "responses": {
                "200": {
                    "description": "the customer's escalations (without timelines)",
                    "content": json_content(
                        ref(EscalationList), {"customer_id": "C-1042", "escalations": [listed]}
                    ),
                },
                **problems({**refused, 422: ["schema-violation"], 503: unavailable}),
            },
        },
        (EscalationList,),
    )
